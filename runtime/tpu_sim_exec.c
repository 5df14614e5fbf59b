/*
 * The TPU simulator's functional half: what each checked instruction does
 * to the host memory, the unified buffer, the weight FIFO, the parameter
 * slots and the accumulators.  Every address was checked before (tpu_sim.c)
 * and every tile's padding is known to be zero.
 *
 * int8 mode is exact: products and sums in int32, wrapping modulo 2^32 (kept
 * in uint32_t, so an overflow is defined).  bf16 mode works in binary32: an
 * accumulator row starts from its old value (TPU_MM_ACC) or +0 and adds
 * x[c] * W[c][k] for c ascending over the whole array height, one rounding
 * per addition (a bf16 product is exact in binary32, so contraction into
 * fma cannot change it).
 *
 * Only the tile's used extent (rows x cols) is multiplied.  Padding is zero,
 * so in int8 mode the rest adds nothing.  In bf16 mode the rest adds
 * products x * (+0): a signed zero when x is finite, which changes no
 * accumulator (an accumulator is never -0: it starts at +0, and in
 * round-to-nearest x + y is -0 only when both are -0; NaN and inf stay
 * as they are), but NaN when x is infinite or NaN, so a vector holding
 * such a value is multiplied by the whole array.  Either way the result is
 * the whole array's, bit for bit.
 *
 * activate works in binary32 throughout: v = acc + bias, r = v * acc_scale,
 * a = func(r), pooled (max keeps the first of equal or unordered values, avg
 * sums in window order and divides by KH*KW), then a / out_scale is rounded
 * to the output: int8 by nearbyintf (ties to even) plus the zero point,
 * clamped to -128..127, NaN counting as 0; bf16 to nearest even.  relu of
 * NaN or -0 is +0.
 */
#include <math.h>
#include <string.h>

#include "tpu_sim_int.h"

static size_t ub_stride(const TpuSim *s)
{
	return (size_t)s->cfg.width * 2;
}

static uint8_t *ub_row(const TpuSim *s, uint64_t row)
{
	return s->ub + (size_t)row * ub_stride(s);
}

static float f32_from_bits(uint32_t u)
{
	float f;
	memcpy(&f, &u, sizeof f);
	return f;
}

static uint32_t f32_bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	return u;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static float bf16_at(const uint8_t *p)
{
	return f32_from_bits(((uint32_t)p[0] | (uint32_t)p[1] << 8) << 16);
}

static uint16_t bf16_round(float f)
{
	uint32_t u = f32_bits(f);

	if ((u & 0x7fffffffu) > 0x7f800000u)
		return (uint16_t)(u >> 16 | 0x40);
	u += 0x7fffu + (u >> 16 & 1);
	return (uint16_t)(u >> 16);
}

static int32_t i32_from_u32(uint32_t u)
{
	return u <= INT32_MAX ? (int32_t)u : -(int32_t)(~u) - 1;
}

/* ---- host memory ---- */

static void exec_read_host(TpuSim *s, const TpuInsn *in)
{
	size_t es = (size_t)sim_esize(s), n = in->len * es;
	size_t rowbytes = (size_t)s->cfg.width * es;

	for (uint32_t r = 0; r < in->count; r++) {
		uint8_t *dst = ub_row(s, (uint64_t)in->ub_row + r);
		memcpy(dst, s->host + in->host_addr + (size_t)r * n, n);
		memset(dst + n, 0, rowbytes - n);
	}
}

static void exec_write_host(TpuSim *s, const TpuInsn *in)
{
	size_t n = in->len * (size_t)sim_esize(s);

	for (uint32_t r = 0; r < in->count; r++)
		memcpy(s->host + in->host_addr + (size_t)r * n, ub_row(s, (uint64_t)in->ub_row + r),
			n);
}

/* ---- weight DRAM ---- */

static void exec_read_params(TpuSim *s, const TpuInsn *in)
{
	SimParam *p = s->param + (size_t)in->slot * (size_t)s->cfg.width;

	for (int k = 0; k < s->cfg.width; k++) {
		const uint8_t *e = s->wdram + in->dram_addr + (size_t)k * TPU_PARAM_BYTES;
		if ((uint32_t)k >= in->cols) {
			p[k] = (SimParam){ 0, 1.0f, 1.0f, 0 };
			continue;
		}
		p[k].bias = le32(e);
		p[k].acc_scale = f32_from_bits(le32(e + 4));
		p[k].out_scale = f32_from_bits(le32(e + 8));
		p[k].zp = i32_from_u32(le32(e + 12));
	}
}

static void exec_read_tile(TpuSim *s, const TpuInsn *in)
{
	const TpuConfig *c = &s->cfg;
	SimTile *t = &s->fifo[(s->fifo_head + s->fifo_count) % c->fifo_depth];
	size_t n = (size_t)c->height * (size_t)c->width;
	const uint8_t *src = s->wdram + in->dram_addr;

	if (sim_esize(s) == 1) {
		memcpy(t->data, src, n);
		return;
	}
	float *w = t->data;
	for (size_t i = 0; i < n; i++)
		w[i] = bf16_at(src + 2 * i);
}

/* ---- matrix_multiply ---- */

static uint64_t mm_row(const TpuSim *s, const TpuInsn *in, uint32_t i)
{
	const uint32_t *r = s->reg;

	if (!(in->flags & TPU_MM_CONV))
		return (uint64_t)in->ub_row + i;
	return (uint64_t)in->ub_row + (uint64_t)(i / r[TPU_REG_MM_ROW_W]) * r[TPU_REG_MM_STEP_Y] +
		(uint64_t)(i % r[TPU_REG_MM_ROW_W]) * r[TPU_REG_MM_STEP_X];
}

/* t[k] += x[c] * W[c][k] for c < rows, k < cols, four weight rows at a
 * time.  int32 sums are exact in any order, and |t| < 2^31 for any height
 * up to 65535 (65535 * 128 * 128 < 2^31). */
static void dot_int8(int32_t *restrict t, const int8_t *restrict x, const int8_t *restrict W,
                     size_t w, int rows, int cols)
{
	int c = 0;

	for (; c + 4 <= rows; c += 4) {
		int32_t x0 = x[c], x1 = x[c + 1], x2 = x[c + 2], x3 = x[c + 3];
		const int8_t *w0 = W + (size_t)c * w, *w1 = w0 + w, *w2 = w1 + w, *w3 = w2 + w;
		if ((x0 | x1 | x2 | x3) == 0)
			continue;
		for (int k = 0; k < cols; k++)
			t[k] += x0 * w0[k] + x1 * w1[k] + x2 * w2[k] + x3 * w3[k];
	}
	for (; c < rows; c++) {
		int32_t xc = x[c];
		const int8_t *wr = W + (size_t)c * w;
		for (int k = 0; xc != 0 && k < cols; k++)
			t[k] += xc * wr[k];
	}
}

static void mm_int8(TpuSim *s, const TpuInsn *in)
{
	size_t w = (size_t)s->cfg.width;
	int cols = s->array.cols;
	int32_t *t = s->ibuf;

	for (uint32_t i = 0; i < in->count; i++) {
		const int8_t *x = (const int8_t *)ub_row(s, mm_row(s, in, i));
		SimAcc *acc = s->acc + ((size_t)in->acc_row + i) * w;
		memset(t, 0, (size_t)cols * sizeof *t);
		dot_int8(t, x, s->array.data, w, s->array.rows, cols);
		if (!(in->flags & TPU_MM_ACC))
			memset(acc, 0, w * sizeof *acc);
		for (int k = 0; k < cols; k++)
			acc[k].u += (uint32_t)t[k];
	}
}

/* a[k] += x[c] * W[c][k] for c ascending below rows, k < cols: four weight
 * rows at a time, each a[k] still adding them one by one in order. */
static void dot_bf16(float *restrict a, const float *restrict x, const float *restrict W,
                     size_t w, int rows, int cols)
{
	int c = 0;

	for (; c + 4 <= rows; c += 4) {
		float x0 = x[c], x1 = x[c + 1], x2 = x[c + 2], x3 = x[c + 3];
		const float *w0 = W + (size_t)c * w, *w1 = w0 + w, *w2 = w1 + w, *w3 = w2 + w;
		for (int k = 0; k < cols; k++) {
			float v = a[k];
			v += x0 * w0[k];
			v += x1 * w1[k];
			v += x2 * w2[k];
			v += x3 * w3[k];
			a[k] = v;
		}
	}
	for (; c < rows; c++) {
		const float *wr = W + (size_t)c * w;
		for (int k = 0; k < cols; k++)
			a[k] += x[c] * wr[k];
	}
}

static void mm_bf16(TpuSim *s, const TpuInsn *in)
{
	size_t w = (size_t)s->cfg.width;
	float *x = s->xbuf, *a = s->wbuf;

	for (uint32_t i = 0; i < in->count; i++) {
		const uint8_t *row = ub_row(s, mm_row(s, in, i));
		SimAcc *acc = s->acc + ((size_t)in->acc_row + i) * w;
		bool finite = true;
		for (int c = 0; c < s->cfg.height; c++) {
			x[c] = bf16_at(row + 2 * c);
			finite = finite && isfinite(x[c]);
		}
		for (size_t k = 0; k < w; k++)
			a[k] = (in->flags & TPU_MM_ACC) ? acc[k].f : 0.0f;
		if (finite)
			dot_bf16(a, x, s->array.data, w, s->array.rows, s->array.cols);
		else
			dot_bf16(a, x, s->array.data, w, s->cfg.height, s->cfg.width);
		for (size_t k = 0; k < w; k++)
			acc[k].f = a[k];
	}
}

/* ---- activate ---- */

static float act_func(uint32_t func, float r)
{
	switch ((TpuFunc)func) {
	case TPU_FUNC_IDENTITY:
		return r;
	case TPU_FUNC_RELU:
		return r > 0.0f ? r : 0.0f;
	case TPU_FUNC_SIGMOID:
		return 1.0f / (1.0f + expf(-r));
	case TPU_FUNC_TANH:
		return tanhf(r);
	case TPU_FUNC_COUNT:
		break;
	}
	return r;
}

static float act_value(const SimAcc *a, const SimParam *p, uint32_t func, bool bf16)
{
	float r;

	if (bf16)
		r = (a->f + f32_from_bits(p->bias)) * p->acc_scale;
	else
		r = (float)i32_from_u32(a->u + p->bias) * p->acc_scale;
	return act_func(func, r);
}

static uint8_t quant_int8(float a, const SimParam *p)
{
	float q = nearbyintf(a / p->out_scale);
	int64_t v;

	if (isnan(q))
		q = 0.0f;
	q = q > 1e12f ? 1e12f : q < -1e12f ? -1e12f : q;
	v = (int64_t)q + p->zp;
	v = v > 127 ? 127 : v < -128 ? -128 : v;
	return (uint8_t)(int8_t)v;
}

/* The activated values of output row i into out[0 .. width). */
static void act_row(TpuSim *s, const TpuInsn *in, uint32_t i, float *out)
{
	const uint32_t *r = s->reg;
	size_t w = (size_t)s->cfg.width;
	const SimParam *p = s->param + (size_t)in->slot * w;
	bool bf16 = sim_esize(s) == 2;

	if (in->pool == TPU_POOL_NONE) {
		const SimAcc *a = s->acc + ((size_t)in->acc_row + i) * w;
		for (size_t k = 0; k < w; k++)
			out[k] = act_value(&a[k], &p[k], in->func, bf16);
		return;
	}
	uint64_t oy = i / r[TPU_REG_POOL_OUT_W], ox = i % r[TPU_REG_POOL_OUT_W];
	for (uint32_t dy = 0; dy < r[TPU_REG_POOL_KH]; dy++) {
		for (uint32_t dx = 0; dx < r[TPU_REG_POOL_KW]; dx++) {
			uint64_t row = in->acc_row + (oy * r[TPU_REG_POOL_SY] + dy) * r[TPU_REG_POOL_IN_W] +
				ox * r[TPU_REG_POOL_SX] + dx;
			const SimAcc *a = s->acc + (size_t)row * w;
			bool first = dy == 0 && dx == 0;
			for (size_t k = 0; k < w; k++) {
				float v = act_value(&a[k], &p[k], in->func, bf16);
				if (first)
					out[k] = v;
				else if (in->pool == TPU_POOL_MAX)
					out[k] = v > out[k] ? v : out[k];
				else
					out[k] += v;
			}
		}
	}
	if (in->pool == TPU_POOL_AVG) {
		float n = (float)((uint64_t)r[TPU_REG_POOL_KH] * r[TPU_REG_POOL_KW]);
		for (size_t k = 0; k < w; k++)
			out[k] /= n;
	}
}

static void exec_activate(TpuSim *s, const TpuInsn *in)
{
	const uint32_t *r = s->reg;
	size_t w = (size_t)s->cfg.width;
	const SimParam *p = s->param + (size_t)in->slot * w;
	float *out = s->wbuf;

	for (uint32_t i = 0; i < in->count; i++) {
		uint64_t row = (uint64_t)in->ub_row + i;
		if (in->flags & TPU_ACT_GEOM)
			row = (uint64_t)in->ub_row + (uint64_t)(i / r[TPU_REG_ACT_OUT_W]) *
				r[TPU_REG_ACT_OUT_STEP_Y] + i % r[TPU_REG_ACT_OUT_W];
		act_row(s, in, i, out);
		uint8_t *dst = ub_row(s, row);
		for (size_t k = 0; k < w; k++) {
			if (sim_esize(s) == 1) {
				dst[k] = quant_int8(out[k], &p[k]);
				continue;
			}
			uint16_t b = bf16_round(out[k] / p[k].out_scale);
			dst[2 * k] = (uint8_t)b;
			dst[2 * k + 1] = (uint8_t)(b >> 8);
		}
	}
}

void sim_exec_insn(TpuSim *s, const TpuInsn *in)
{
	switch (in->op) {
	case TPU_NOP:
	case TPU_HALT:
	case TPU_SYNC:
	case TPU_SET_CONFIG:
		break;
	case TPU_READ_HOST:
		exec_read_host(s, in);
		break;
	case TPU_WRITE_HOST:
		exec_write_host(s, in);
		break;
	case TPU_READ_WEIGHTS:
		if (in->flags & TPU_RW_PARAM)
			exec_read_params(s, in);
		else
			exec_read_tile(s, in);
		break;
	case TPU_MATMUL:
		if (sim_esize(s) == 1)
			mm_int8(s, in);
		else
			mm_bf16(s, in);
		break;
	case TPU_ACTIVATE:
		exec_activate(s, in);
		break;
	}
}
