/*
 * Test of the TPU simulator (runtime/tpu_sim.h).  Programs are built here
 * as TpuInsn arrays, not assembled.
 *
 * Functional checks, against scalar references written here from the
 * semantics in docs/tpu.md:
 *   - int8 matrix_multiply of random shapes over several tiles (FIFO
 *     look-ahead, overwrite then accumulate), exact int32 accumulators,
 *     including wrap-around past 2^31;
 *   - convolution addressing (3x3 taps over a padded image, strides 1, 2);
 *   - activate: every function, no/max/avg pooling with random geometry,
 *     strided output rows, requantization, parameter slots and their
 *     defaults past cols;
 *   - bf16: matrix_multiply bit for bit against the whole-array definition
 *     (also with inf inputs), activate to bf16;
 *   - DMA: partial rows are zero filled in, only len elements go out;
 *   - every error: ST_INVALID naming the instruction, no crash, and the
 *     simulator still runs the next program; every allocation failure:
 *     ST_NOMEM (or NULL), no leak; random instruction streams with
 *     random (often huge) fields end ST_OK or ST_INVALID.
 * Timing checks: exact event times of small programs (shift, systolic
 * latency, FIFO, raw/input/war, sync); the counters always partition the
 * cycles.  Validations against the TPU paper (Jouppi et al., ISCA 2017) on
 * tpu-v1 parameters: 256 x 256 at 700 MHz, 34e9 B/s weight DRAM, a FIFO of
 * 4 tiles, 96 Ki unified-buffer rows, 4096 accumulator rows, and a host
 * link of 14e9 B/s (PCIe Gen3 x16, effective):
 *   1. a matrix_multiply of B vectors occupies the matrix unit B cycles;
 *   2. 600 x 600 weights at batch 8 are weight-DRAM bound: 9 tiles of 64
 *      KiB in about 17.3 us (4 tiles of 256 KiB in about 30.8 us on a
 *      512 x 512 array);
 *   3. an MLP0-shaped network (5 x 2000 x 2000, batch 200) reaches about 12
 *      of 92 TOPS, mostly waiting for weights;
 *   4. a CNN0-shaped network (3x3 convs of 256 channels on 56 x 56, batch 8)
 *      keeps the array busy most of the time;
 *   5. the roofline of a 2048 x 2048 layer bends at about 1350 MACs per
 *      weight byte (34e9 B/s against 256*256*700e6 MAC/s).
 *
 * Ends with "tpu-sim: P passed, F failed"; exit status 1 on a failure.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "test_rng.h"
#include "test_util.h"
#include "tpu_sim.h"

static void check_u64(uint64_t got, uint64_t want, const char *what)
{
	check(got == want, "%s: got %" PRIu64 ", want %" PRIu64, what, got, want);
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p) {
		fprintf(stderr, "tpu-sim: out of memory\n");
		exit(2);
	}
	return p;
}

/* ---- programs ---- */

typedef struct Prog {
	TpuInsn *v;
	size_t n, cap;
} Prog;

static void emit(Prog *p, TpuInsn in)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 64;
		p->v = realloc(p->v, p->cap * sizeof *p->v);
		if (!p->v) {
			fprintf(stderr, "tpu-sim: out of memory\n");
			exit(2);
		}
	}
	p->v[p->n++] = in;
}

static void p_cfg(Prog *p, TpuReg reg, uint32_t value)
{
	emit(p, (TpuInsn){ .op = TPU_SET_CONFIG, .reg = reg, .value = value });
}

static void p_rh(Prog *p, uint32_t host, uint32_t ub, uint32_t count, uint32_t len)
{
	emit(p, (TpuInsn){ .op = TPU_READ_HOST, .host_addr = host, .ub_row = ub, .count = count,
		.len = len });
}

static void p_wh(Prog *p, uint32_t host, uint32_t ub, uint32_t count, uint32_t len)
{
	emit(p, (TpuInsn){ .op = TPU_WRITE_HOST, .host_addr = host, .ub_row = ub, .count = count,
		.len = len });
}

static void p_rw(Prog *p, uint32_t dram, uint32_t rows, uint32_t cols)
{
	emit(p, (TpuInsn){ .op = TPU_READ_WEIGHTS, .dram_addr = dram, .rows = rows, .cols = cols });
}

static void p_rp(Prog *p, uint32_t dram, uint32_t cols, uint32_t slot)
{
	emit(p, (TpuInsn){ .op = TPU_READ_WEIGHTS, .flags = TPU_RW_PARAM, .dram_addr = dram,
		.rows = 1, .cols = cols, .slot = slot });
}

static void p_mm(Prog *p, uint32_t flags, uint32_t ub, uint32_t acc, uint32_t count)
{
	emit(p, (TpuInsn){ .op = TPU_MATMUL, .flags = flags, .ub_row = ub, .acc_row = acc,
		.count = count });
}

static void p_act(Prog *p, uint32_t flags, uint32_t ub, uint32_t acc, uint32_t count,
                  TpuFunc func, TpuPool pool, uint32_t slot)
{
	emit(p, (TpuInsn){ .op = TPU_ACTIVATE, .flags = flags, .ub_row = ub, .acc_row = acc,
		.count = count, .func = func, .pool = pool, .slot = slot });
}

static void p_sync(Prog *p, uint32_t mask)
{
	emit(p, (TpuInsn){ .op = TPU_SYNC, .mask = mask });
}

static void p_halt(Prog *p)
{
	emit(p, (TpuInsn){ .op = TPU_HALT });
}

/* The weight tiles a program's switches use, in order. */
typedef struct Tiles {
	uint32_t *addr, *rows, *cols;
	int n, cap;
} Tiles;

static void tile_add(Tiles *t, uint32_t addr, uint32_t rows, uint32_t cols)
{
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 64;
		t->addr = realloc(t->addr, (size_t)t->cap * sizeof *t->addr);
		t->rows = realloc(t->rows, (size_t)t->cap * sizeof *t->rows);
		t->cols = realloc(t->cols, (size_t)t->cap * sizeof *t->cols);
		if (!t->addr || !t->rows || !t->cols)
			exit(2);
	}
	t->addr[t->n] = addr;
	t->rows[t->n] = rows;
	t->cols[t->n++] = cols;
}

static void tiles_free(Tiles *t)
{
	free(t->addr);
	free(t->rows);
	free(t->cols);
}

/* body with read_weights put in: the first `ahead` tiles at the start, then
 * tile j + ahead right after the switch that pops tile j. */
static Prog with_weights(const Prog *body, const Tiles *t, int ahead)
{
	Prog out = { 0 };
	int next = 0, used = 0;

	for (; next < ahead && next < t->n; next++)
		p_rw(&out, t->addr[next], t->rows[next], t->cols[next]);
	for (size_t i = 0; i < body->n; i++) {
		emit(&out, body->v[i]);
		if (body->v[i].op == TPU_MATMUL && (body->v[i].flags & TPU_MM_SWITCH)) {
			used++;
			if (next < t->n && next < used + ahead) {
				p_rw(&out, t->addr[next], t->rows[next], t->cols[next]);
				next++;
			}
		}
	}
	return out;
}

/* ---- machines ---- */

static TpuConfig small_cfg(int h, int w)
{
	TpuConfig c = {
		.height = h, .width = w, .ub_rows = 512, .acc_rows = 512, .fifo_depth = 4,
		.param_slots = 4, .clock_hz = 700e6, .dram_bytes_per_s = 34e9,
		.host_bytes_per_s = 14e9, .precision = TPU_INT8,
	};
	return c;
}

static TpuConfig tpu_v1(void)
{
	TpuConfig c = {
		.height = 256, .width = 256, .ub_rows = 24 << 20 >> 8, .acc_rows = 4096,
		.fifo_depth = 4, .param_slots = 256, .clock_hz = 700e6, .dram_bytes_per_s = 34e9,
		.host_bytes_per_s = 14e9, .precision = TPU_INT8,
	};
	return c;
}

typedef struct Run {
	TpuSim *s;
	Diag d;
	Status st;
	TpuTraceRec *tr;
	size_t ntr;
} Run;

static Run run_prog(const TpuConfig *cfg, const Prog *p, uint8_t *host, uint64_t hb,
                    const uint8_t *w, uint64_t wb, bool functional)
{
	Run r = { 0 };

	diag_init(&r.d);
	r.s = tpu_sim_new(cfg, host, hb, w, wb);
	if (!r.s) {
		fprintf(stderr, "tpu-sim: out of memory\n");
		exit(2);
	}
	tpu_sim_set_functional(r.s, functional);
	r.st = tpu_sim_run(r.s, p->v, p->n, &r.tr, &r.ntr, &r.d);
	if (r.st)
		diag_print(&r.d, stdout);
	return r;
}

static void run_free(Run *r)
{
	tpu_sim_free(r->s);
	diag_free(&r->d);
	nnac_free(r->tr);
}

/* The trace record of instruction idx. */
static const TpuTraceRec *rec_of(const Run *r, uint32_t idx)
{
	for (size_t i = 0; i < r->ntr; i++)
		if (r->tr[i].index == idx)
			return &r->tr[i];
	return NULL;
}

static void check_partition(const TpuCounters *c, const char *what)
{
	uint64_t sum = c->array_active + c->weight_stall + c->weight_shift + c->raw_stall +
		c->input_stall + c->non_matrix;
	check(sum == c->cycles, "%s: the cycle categories sum to %" PRIu64 ", not %" PRIu64,
		what, sum, c->cycles);
}

/* ---- int8 helpers ---- */

static int8_t rand_i8(Rng *r)
{
	int64_t k = rng_range(r, 0, 9);
	if (k == 0)
		return 0;
	if (k == 1)
		return rng_range(r, 0, 1) ? 127 : -128;
	return (int8_t)rng_range(r, -128, 127);
}

/* Weight tiles of a C x K matrix w (row-major) into dram, tile (ti, tk) at
 * ((tk * nti) + ti) * h * w bytes; returns the bytes used. */
static size_t put_tiles_i8(uint8_t *dram, const int8_t *wm, int C, int K, int h, int w)
{
	int nti = (C + h - 1) / h, ntk = (K + w - 1) / w;

	for (int tk = 0; tk < ntk; tk++)
		for (int ti = 0; ti < nti; ti++) {
			uint8_t *t = dram + ((size_t)tk * nti + ti) * h * w;
			for (int c = 0; c < h && ti * h + c < C; c++)
				for (int k = 0; k < w && tk * w + k < K; k++)
					t[c * w + k] = (uint8_t)wm[(ti * h + c) * K + tk * w + k];
		}
	return (size_t)nti * ntk * h * w;
}

/* ---- functional: int8 matrix_multiply ---- */

static void test_mm_int8_case(Rng *rng, int trial)
{
	int h = (int)rng_range(rng, 1, 12), w = (int)rng_range(rng, h, 16);
	int B = (int)rng_range(rng, 1, 20), C = (int)rng_range(rng, 1, 3 * h);
	int K = (int)rng_range(rng, 1, 3 * w), nti = (C + h - 1) / h, ntk = (K + w - 1) / w;
	int ahead = (int)rng_range(rng, 1, 4);
	TpuConfig cfg = small_cfg(h, w);
	int8_t *x = xcalloc((size_t)B * C, 1), *wm = xcalloc((size_t)C * K, 1);
	uint8_t *host = xcalloc((size_t)B * C, 1), *dram = xcalloc((size_t)nti * ntk * h * w, 1);
	Prog body = { 0 }, prog;
	Tiles t = { 0 };
	size_t off = 0;
	int bad = 0;

	for (int i = 0; i < B * C; i++)
		x[i] = rand_i8(rng);
	for (int i = 0; i < C * K; i++)
		wm[i] = rand_i8(rng);
	put_tiles_i8(dram, wm, C, K, h, w);
	for (int ti = 0; ti < nti; ti++) {
		int len = C - ti * h < h ? C - ti * h : h;
		for (int b = 0; b < B; b++)
			for (int c = 0; c < len; c++)
				host[off + (size_t)b * len + c] = (uint8_t)x[b * C + ti * h + c];
		p_rh(&body, (uint32_t)off, (uint32_t)(ti * B), (uint32_t)B, (uint32_t)len);
		off += (size_t)B * len;
	}
	for (int tk = 0; tk < ntk; tk++)
		for (int ti = 0; ti < nti; ti++) {
			int rows = C - ti * h < h ? C - ti * h : h, cols = K - tk * w < w ? K - tk * w : w;
			tile_add(&t, (uint32_t)(((size_t)tk * nti + ti) * h * w), (uint32_t)rows,
				(uint32_t)cols);
			p_mm(&body, TPU_MM_SWITCH | (ti ? TPU_MM_ACC : 0), (uint32_t)(ti * B),
				(uint32_t)(tk * B), (uint32_t)B);
		}
	p_halt(&body);
	prog = with_weights(&body, &t, ahead);
	Run r = run_prog(&cfg, &prog, host, (uint64_t)B * C, dram, (uint64_t)nti * ntk * h * w,
		true);
	check(r.st == ST_OK, "mm int8 #%d: run failed", trial);
	for (int tk = 0; tk < ntk && r.st == ST_OK; tk++)
		for (int b = 0; b < B; b++)
			for (int k = 0; k < w; k++) {
				int32_t want = 0;
				for (int c = 0; k + tk * w < K && c < C; c++)
					want += x[b * C + c] * wm[c * K + tk * w + k];
				uint32_t got = tpu_sim_acc_word(r.s, (uint64_t)tk * B + b, k);
				bad += got != (uint32_t)want;
			}
	check(bad == 0, "mm int8 #%d (%dx%d array, B %d, C %d, K %d): %d accumulators differ",
		trial, h, w, B, C, K, bad);
	check_u64(tpu_sim_counters(r.s)->useful_macs, (uint64_t)B * C * K, "mm int8 useful MACs");
	run_free(&r);
	free(body.v);
	free(prog.v);
	tiles_free(&t);
	free(x);
	free(wm);
	free(host);
	free(dram);
}

/* int32 accumulation wraps modulo 2^32: 2049 accumulations of
 * 64 * (-128) * (-128) = 2^20 each reach 2^31 + 2^20. */
static void test_mm_wrap(void)
{
	TpuConfig cfg = small_cfg(64, 64);
	uint8_t host[64], dram[64 * 64];
	Prog p = { 0 };

	memset(host, 0x80, sizeof host);
	memset(dram, 0, sizeof dram);
	for (int c = 0; c < 64; c++)
		dram[c * 64] = 0x80;
	p_rh(&p, 0, 0, 1, 64);
	p_rw(&p, 0, 64, 1);
	p_mm(&p, TPU_MM_SWITCH, 0, 0, 1);
	for (int i = 0; i < 2048; i++)
		p_mm(&p, TPU_MM_ACC, 0, 0, 1);
	p_act(&p, 0, 1, 0, 1, TPU_FUNC_IDENTITY, TPU_POOL_NONE, 0);
	p_wh(&p, 0, 1, 1, 2);
	p_halt(&p);
	Run r = run_prog(&cfg, &p, host, sizeof host, dram, sizeof dram, true);
	check(r.st == ST_OK, "mm wrap: run failed");
	check_u64(tpu_sim_acc_word(r.s, 0, 0), 0x80100000u, "mm wrap: accumulator bits");
	check_u64(tpu_sim_acc_word(r.s, 0, 1), 0, "mm wrap: padding column");
	check(host[0] == 0x80 && host[1] == 0, "mm wrap: activate of -2^31 + 2^20 gives %d, %d",
		(int8_t)host[0], (int8_t)host[1]);
	run_free(&r);
	free(p.v);
}

/* ---- functional: convolution addressing ---- */

static void test_conv_case(Rng *rng, int trial)
{
	int h = (int)rng_range(rng, 1, 8), w = (int)rng_range(rng, h, 8);
	int C = (int)rng_range(rng, 1, h), K = (int)rng_range(rng, 1, w);
	int H = (int)rng_range(rng, 1, 6), W = (int)rng_range(rng, 1, 7);
	int s = (int)rng_range(rng, 1, 2), Ho = (H - 1) / s + 1, Wo = (W - 1) / s + 1;
	int Wp = W + 2, npix = (H + 2) * Wp;
	TpuConfig cfg = small_cfg(h, w);
	uint8_t *host = xcalloc((size_t)npix * C, 1), *dram = xcalloc((size_t)9 * h * w, 1);
	int8_t *wt = xcalloc((size_t)9 * C * K, 1);
	Prog p = { 0 };
	int bad = 0;

	for (int y = 1; y <= H; y++)
		for (int xx = 1; xx <= W; xx++)
			for (int c = 0; c < C; c++)
				host[(y * Wp + xx) * C + c] = (uint8_t)rand_i8(rng);
	for (int i = 0; i < 9 * C * K; i++)
		wt[i] = rand_i8(rng);
	for (int tap = 0; tap < 9; tap++)
		for (int c = 0; c < C; c++)
			for (int k = 0; k < K; k++)
				dram[(size_t)tap * h * w + c * w + k] = (uint8_t)wt[(tap * C + c) * K + k];
	p_rh(&p, 0, 10, (uint32_t)npix, (uint32_t)C);
	p_cfg(&p, TPU_REG_MM_ROW_W, (uint32_t)Wo);
	p_cfg(&p, TPU_REG_MM_STEP_X, (uint32_t)s);
	p_cfg(&p, TPU_REG_MM_STEP_Y, (uint32_t)(s * Wp));
	for (int tap = 0; tap < 9; tap++) {
		p_rw(&p, (uint32_t)(tap * h * w), (uint32_t)C, (uint32_t)K);
		p_mm(&p, TPU_MM_CONV | TPU_MM_SWITCH | (tap ? TPU_MM_ACC : 0),
			(uint32_t)(10 + (tap / 3) * Wp + tap % 3), 5, (uint32_t)(Ho * Wo));
	}
	p_halt(&p);
	Run r = run_prog(&cfg, &p, host, (uint64_t)npix * C, dram, (uint64_t)9 * h * w, true);
	check(r.st == ST_OK, "conv #%d: run failed", trial);
	for (int oy = 0; oy < Ho && r.st == ST_OK; oy++)
		for (int ox = 0; ox < Wo; ox++)
			for (int k = 0; k < w; k++) {
				int32_t want = 0;
				for (int tap = 0; k < K && tap < 9; tap++)
					for (int c = 0; c < C; c++) {
						int y = oy * s + tap / 3, xx = ox * s + tap % 3;
						want += (int8_t)host[(y * Wp + xx) * C + c] *
							wt[(tap * C + c) * K + k];
					}
				bad += tpu_sim_acc_word(r.s, (uint64_t)(5 + oy * Wo + ox), k) !=
					(uint32_t)want;
			}
	check(bad == 0, "conv #%d (%dx%d image, stride %d, C %d, K %d): %d accumulators differ",
		trial, H, W, s, C, K, bad);
	run_free(&r);
	free(p.v);
	free(host);
	free(dram);
	free(wt);
}

/* ---- functional: activate ---- */

typedef struct RefParam {
	uint32_t bias;
	float acc_scale, out_scale;
	int32_t zp;
} RefParam;

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t fbits(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	return u;
}

static float bitsf(uint32_t u)
{
	float f;
	memcpy(&f, &u, 4);
	return f;
}

static void put_param(uint8_t *p, const RefParam *e)
{
	put_le32(p, e->bias);
	put_le32(p + 4, fbits(e->acc_scale));
	put_le32(p + 8, fbits(e->out_scale));
	put_le32(p + 12, (uint32_t)e->zp);
}

static float ref_func(TpuFunc f, float r)
{
	switch (f) {
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
	return NAN;
}

static float ref_act(uint32_t acc, const RefParam *p, TpuFunc f, bool bf16)
{
	float r;
	if (bf16) {
		r = (bitsf(acc) + bitsf(p->bias)) * p->acc_scale;
	} else {
		int64_t v = (int64_t)(int32_t)acc + (int32_t)p->bias;
		v = (int64_t)(int32_t)(uint32_t)v;
		r = (float)v * p->acc_scale;
	}
	return ref_func(f, r);
}

static int8_t ref_quant(float a, const RefParam *p)
{
	float q = nearbyintf(a / p->out_scale);
	double v = isnan(q) ? p->zp : (double)q + p->zp;
	return (int8_t)(v > 127 ? 127 : v < -128 ? -128 : v);
}

static uint16_t ref_bf16(float f)
{
	uint32_t u = fbits(f);
	if (isnan(f))
		return (uint16_t)(u >> 16 | 0x40);
	uint32_t lsb = (u >> 16) & 1;
	return (uint16_t)((u + 0x7fff + lsb) >> 16);
}

typedef struct PoolGeom {
	TpuPool pool;
	int kh, kw, sy, sx, in_w, in_h, out_w, out_h;
} PoolGeom;

static PoolGeom rand_geom(Rng *rng, TpuPool pool)
{
	PoolGeom g = { .pool = pool, .kh = 1, .kw = 1, .sy = 1, .sx = 1 };

	g.in_w = (int)rng_range(rng, 3, 6);
	g.in_h = (int)rng_range(rng, 3, 5);
	if (pool != TPU_POOL_NONE) {
		g.kh = (int)rng_range(rng, 1, 3);
		g.kw = (int)rng_range(rng, 1, 3);
		g.sy = (int)rng_range(rng, 1, 2);
		g.sx = (int)rng_range(rng, 1, 2);
	}
	g.out_w = (g.in_w - g.kw) / g.sx + 1;
	g.out_h = (g.in_h - g.kh) / g.sy + 1;
	if (pool == TPU_POOL_NONE) {
		g.out_w = g.in_w;
		g.out_h = g.in_h;
	}
	return g;
}

/* The activated value of output (oy, ox), column k, from the simulator's
 * accumulators starting at row acc0. */
static float ref_out(const TpuSim *s, uint32_t acc0, const PoolGeom *g, int oy, int ox, int k,
                     const RefParam *p, TpuFunc f, bool bf16)
{
	float m = 0.0f, sum = 0.0f;

	if (g->pool == TPU_POOL_NONE)
		return ref_act(tpu_sim_acc_word(s, acc0 + (uint64_t)(oy * g->out_w + ox), k), p, f,
			bf16);
	for (int dy = 0; dy < g->kh; dy++)
		for (int dx = 0; dx < g->kw; dx++) {
			uint64_t row = acc0 + (uint64_t)((oy * g->sy + dy) * g->in_w + ox * g->sx + dx);
			float a = ref_act(tpu_sim_acc_word(s, row, k), p, f, bf16);
			if (dy == 0 && dx == 0)
				m = sum = a;
			else {
				m = a > m ? a : m;
				sum += a;
			}
		}
	return g->pool == TPU_POOL_MAX ? m : sum / (float)(g->kh * g->kw);
}

/* Random accumulators from a random int8 matmul (or bf16), then one
 * activate of random parameters, function, pooling and output geometry;
 * the written-out rows are compared with ref_out, the gaps between output
 * lines must stay as they were (zero). */
static void test_activate_case(Rng *rng, int trial, TpuFunc f, TpuPool pool, bool bf16)
{
	int w = (int)rng_range(rng, 2, 8), h = (int)rng_range(rng, 1, w), es = bf16 ? 2 : 1;
	PoolGeom g = rand_geom(rng, pool);
	int nacc = g.in_w * g.in_h, cols = (int)rng_range(rng, 1, w), gap = (int)rng_range(rng, 0, 2);
	int count = g.out_w * g.out_h, span = (g.out_h - 1) * (g.out_w + gap) + g.out_w;
	bool geom = gap > 0 || rng_range(rng, 0, 1);
	uint32_t slot = (uint32_t)rng_range(rng, 0, 3), acc0 = 3, out0 = 100;
	TpuConfig cfg = small_cfg(h, w);
	size_t hb = (size_t)nacc * h * es, ob = (size_t)span * w * es;
	size_t tile = (size_t)h * w * es, pbytes = (size_t)cols * 16;
	uint8_t *host = xcalloc(hb + ob, 1), *dram = xcalloc(tile + pbytes, 1);
	RefParam *pr = xcalloc((size_t)w, sizeof *pr);
	Prog p = { 0 };
	int bad = 0;

	cfg.precision = bf16 ? TPU_BF16 : TPU_INT8;
	for (size_t i = 0; i < (size_t)nacc * h; i++) {
		if (bf16) {
			uint16_t b = (uint16_t)(fbits((float)rng_range(rng, -64, 64) / 16.0f) >> 16);
			host[2 * i] = (uint8_t)b;
			host[2 * i + 1] = (uint8_t)(b >> 8);
		} else {
			host[i] = (uint8_t)rand_i8(rng);
		}
	}
	for (int c = 0; c < h; c++)
		for (int k = 0; k < w; k++) {
			if (bf16) {
				uint16_t b = (uint16_t)(fbits((float)rng_range(rng, -32, 32) / 8.0f) >> 16);
				dram[(c * w + k) * 2] = (uint8_t)b;
				dram[(c * w + k) * 2 + 1] = (uint8_t)(b >> 8);
			} else {
				dram[c * w + k] = (uint8_t)rand_i8(rng);
			}
		}
	for (int k = 0; k < w; k++) {
		RefParam e = { 0, 1.0f, 1.0f, 0 };
		if (k < cols) {
			e.bias = bf16 ? fbits((float)rng_range(rng, -100, 100) / 4.0f)
			              : (uint32_t)(int32_t)rng_range(rng, -3000, 3000);
			e.acc_scale = (float)rng_range(rng, 1, 400) / 1000.0f;
			e.out_scale = (float)rng_range(rng, 10, 900) / 1000.0f;
			e.zp = (int32_t)rng_range(rng, -20, 20);
			put_param(dram + tile + (size_t)k * 16, &e);
		}
		pr[k] = e;
	}
	p_rh(&p, 0, 0, (uint32_t)nacc, (uint32_t)h);
	p_rw(&p, 0, (uint32_t)h, (uint32_t)w);
	p_rp(&p, (uint32_t)tile, (uint32_t)cols, slot);
	p_mm(&p, TPU_MM_SWITCH, 0, acc0, (uint32_t)nacc);
	p_cfg(&p, TPU_REG_POOL_KH, (uint32_t)g.kh);
	p_cfg(&p, TPU_REG_POOL_KW, (uint32_t)g.kw);
	p_cfg(&p, TPU_REG_POOL_SY, (uint32_t)g.sy);
	p_cfg(&p, TPU_REG_POOL_SX, (uint32_t)g.sx);
	p_cfg(&p, TPU_REG_POOL_IN_W, (uint32_t)g.in_w);
	p_cfg(&p, TPU_REG_POOL_OUT_W, (uint32_t)g.out_w);
	p_cfg(&p, TPU_REG_ACT_OUT_W, (uint32_t)g.out_w);
	p_cfg(&p, TPU_REG_ACT_OUT_STEP_Y, (uint32_t)(g.out_w + gap));
	p_act(&p, geom ? TPU_ACT_GEOM : 0, out0, acc0, (uint32_t)count, f, pool, slot);
	p_wh(&p, (uint32_t)hb, out0, (uint32_t)span, (uint32_t)w);
	p_halt(&p);
	Run r = run_prog(&cfg, &p, host, hb + ob, dram, tile + pbytes, true);
	check(r.st == ST_OK, "activate #%d: run failed", trial);
	for (int row = 0; row < span && r.st == ST_OK; row++) {
		int line = geom ? row / (g.out_w + gap) : row / g.out_w;
		int ox = geom ? row % (g.out_w + gap) : row % g.out_w;
		const uint8_t *got = host + hb + (size_t)row * w * es;
		for (int k = 0; k < w; k++) {
			if (ox >= g.out_w) {
				bad += got[k * es] != 0 || got[k * es + es - 1] != 0;
				continue;
			}
			float a = ref_out(r.s, acc0, &g, line, ox, k, &pr[k], f, bf16);
			if (bf16) {
				uint16_t want = ref_bf16(a / pr[k].out_scale);
				bad += (got[2 * k] | got[2 * k + 1] << 8) != want;
			} else {
				bad += (int8_t)got[k] != ref_quant(a, &pr[k]);
			}
		}
	}
	check(bad == 0, "activate #%d (%s, func %d, pool %d, %dx%d k %dx%d s %dx%d, gap %d): "
		"%d outputs differ", trial, bf16 ? "bf16" : "int8", f, pool, g.in_h, g.in_w, g.kh,
		g.kw, g.sy, g.sx, gap, bad);
	run_free(&r);
	free(p.v);
	free(host);
	free(dram);
	free(pr);
}

/* Known values: the parameter defaults past cols, requantization with a
 * zero point, clamping, and ties to even. */
static void test_activate_known(void)
{
	TpuConfig cfg = small_cfg(1, 4);
	uint8_t host[4 + 4] = { 0 }, dram[4 + 16] = { 0 };
	RefParam e = { (uint32_t)-1, 0.5f, 1.0f, 3 };
	Prog p = { 0 };

	/* x = 5; weights 1, -1, 127, 1: acc 5, -5, 635, 5 */
	host[0] = 5;
	dram[0] = 1;
	dram[1] = 0xff;
	dram[2] = 127;
	dram[3] = 1;
	put_param(dram + 4, &e);
	p_rh(&p, 0, 0, 1, 1);
	p_rw(&p, 0, 1, 4);
	p_rp(&p, 4, 1, 2);
	p_mm(&p, TPU_MM_SWITCH, 0, 0, 1);
	p_act(&p, 0, 1, 0, 1, TPU_FUNC_IDENTITY, TPU_POOL_NONE, 2);
	p_wh(&p, 4, 1, 1, 4);
	p_halt(&p);
	Run r = run_prog(&cfg, &p, host, sizeof host, dram, sizeof dram, true);
	check(r.st == ST_OK, "activate known: run failed");
	/* column 0: (5 - 1) * 0.5 = 2, + 3 = 5; columns 1..3 are defaults */
	check((int8_t)host[4] == 5 && (int8_t)host[5] == -5 && (int8_t)host[6] == 127 &&
	      (int8_t)host[7] == 5, "activate known: got %d %d %d %d, want 5 -5 127 5",
	      (int8_t)host[4], (int8_t)host[5], (int8_t)host[6], (int8_t)host[7]);
	run_free(&r);
	free(p.v);

	/* ties to even: acc 5 * 0.5 = 2.5 -> 2; acc 3 * 0.5 = 1.5 -> 2 */
	RefParam half = { 0, 0.5f, 1.0f, 0 };
	uint8_t h2[1 + 2] = { 1, 0, 0 }, d2[2 + 32] = { 5, 3 };
	TpuConfig c2 = small_cfg(1, 2);
	Prog q = { 0 };
	put_param(d2 + 2, &half);
	put_param(d2 + 18, &half);
	p_rh(&q, 0, 0, 1, 1);
	p_rw(&q, 0, 1, 2);
	p_rp(&q, 2, 2, 0);
	p_mm(&q, TPU_MM_SWITCH, 0, 0, 1);
	p_act(&q, 0, 1, 0, 1, TPU_FUNC_IDENTITY, TPU_POOL_NONE, 0);
	p_wh(&q, 1, 1, 1, 2);
	p_halt(&q);
	r = run_prog(&c2, &q, h2, sizeof h2, d2, sizeof d2, true);
	check(r.st == ST_OK && h2[1] == 2 && h2[2] == 2, "activate ties: got %d %d, want 2 2",
		(int8_t)h2[1], (int8_t)h2[2]);
	run_free(&r);
	free(q.v);
}

/* ---- functional: bf16 ---- */

static uint16_t rand_bf16(Rng *rng)
{
	int64_t k = rng_range(rng, 0, 9);
	if (k == 0)
		return 0;
	if (k == 1)
		return 0x8000;
	return (uint16_t)(fbits((float)rng_range(rng, -1000, 1000) / 37.0f) >> 16);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static float bf16f(const uint8_t *p)
{
	return bitsf((uint32_t)(p[0] | p[1] << 8) << 16);
}

/* bf16 matmul over two input tiles (overwrite, then accumulate) against
 * the whole-array definition.  The input vectors are full, so the padding
 * rows of a partial tile multiply real values by +0; with_inf puts an
 * infinity in one vector, which the zero padding turns into NaNs. */
static void test_mm_bf16_case(Rng *rng, int trial, bool with_inf)
{
	int w = (int)rng_range(rng, 2, 10), h = (int)rng_range(rng, 2, w);
	int B = (int)rng_range(rng, 1, 6), r0 = (int)rng_range(rng, 1, h);
	int r1 = (int)rng_range(rng, 1, h), cols = (int)rng_range(rng, 1, w);
	TpuConfig cfg = small_cfg(h, w);
	size_t tile = (size_t)h * w * 2;
	uint8_t *host = xcalloc((size_t)2 * B * h * 2, 1), *dram = xcalloc(2 * tile, 1);
	Prog p = { 0 };
	int bad = 0, rows[2] = { r0, r1 };

	cfg.precision = TPU_BF16;
	for (int t = 0; t < 2; t++) {
		for (int b = 0; b < B; b++)
			for (int c = 0; c < h; c++)
				put16(host + (((size_t)t * B + b) * h + c) * 2, rand_bf16(rng));
		for (int c = 0; c < rows[t]; c++)
			for (int k = 0; k < cols; k++)
				put16(dram + t * tile + ((size_t)c * w + k) * 2, rand_bf16(rng));
	}
	if (with_inf)
		put16(host + (size_t)(rng_range(rng, 0, 2 * B - 1) * h + rng_range(rng, 0, h - 1)) * 2,
			rng_range(rng, 0, 1) ? 0xff80 : 0x7f80);
	for (int t = 0; t < 2; t++) {
		p_rh(&p, (uint32_t)(t * B * h * 2), (uint32_t)(t * B), (uint32_t)B, (uint32_t)h);
		p_rw(&p, (uint32_t)(t * tile), (uint32_t)rows[t], (uint32_t)cols);
		p_mm(&p, TPU_MM_SWITCH | (t ? TPU_MM_ACC : 0), (uint32_t)(t * B), 0, (uint32_t)B);
	}
	p_halt(&p);
	Run r = run_prog(&cfg, &p, host, (uint64_t)2 * B * h * 2, dram, 2 * tile, true);
	check(r.st == ST_OK, "mm bf16 #%d: run failed", trial);
	for (int b = 0; b < B && r.st == ST_OK; b++)
		for (int k = 0; k < w; k++) {
			float acc = 0.0f;
			for (int t = 0; t < 2; t++)
				for (int c = 0; c < h; c++) {
					float x = bf16f(host + (((size_t)t * B + b) * h + c) * 2);
					acc += x * bf16f(dram + t * tile + ((size_t)c * w + k) * 2);
				}
			bad += tpu_sim_acc_word(r.s, (uint64_t)b, k) != fbits(acc);
		}
	check(bad == 0, "mm bf16 #%d (%dx%d, B %d, rows %d %d, cols %d%s): %d accumulators differ",
		trial, h, w, B, r0, r1, cols, with_inf ? ", inf" : "", bad);
	run_free(&r);
	free(p.v);
	free(host);
	free(dram);
}

/* set_config precision switches the mode inside a program. */
static void test_precision_switch(void)
{
	TpuConfig cfg = small_cfg(2, 2);
	uint8_t host[4 + 4] = { 0 }, dram[8] = { 0 };
	Prog p = { 0 };

	put16(host, 0x4040);          /* 3.0 */
	put16(host + 2, 0xbf80);      /* -1.0 */
	put16(dram, 0x4000);          /* W[0][0] = 2 */
	put16(dram + 6, 0x3f00);      /* W[1][1] = 0.5 */
	p_cfg(&p, TPU_REG_PRECISION, TPU_BF16);
	p_rh(&p, 0, 0, 1, 2);
	p_rw(&p, 0, 2, 2);
	p_mm(&p, TPU_MM_SWITCH, 0, 0, 1);
	p_act(&p, 0, 1, 0, 1, TPU_FUNC_RELU, TPU_POOL_NONE, 0);
	p_wh(&p, 4, 1, 1, 2);
	p_halt(&p);
	Run r = run_prog(&cfg, &p, host, sizeof host, dram, sizeof dram, true);
	check(r.st == ST_OK && bf16f(host + 4) == 6.0f && fbits(bf16f(host + 6)) == 0,
		"precision switch: got %g %g, want 6 0", bf16f(host + 4), bf16f(host + 6));
	check_u64(tpu_sim_acc_word(r.s, 0, 1), fbits(-0.5f), "precision switch: acc[1]");
	run_free(&r);
	free(p.v);
}

/* ---- functional: DMA ---- */

static void test_dma(void)
{
	TpuConfig cfg = small_cfg(4, 4);
	uint8_t host[32];
	Prog p = { 0 };

	for (int i = 0; i < 32; i++)
		host[i] = (uint8_t)(i + 1);
	p_rh(&p, 0, 0, 2, 4);     /* rows 0, 1 = 1 2 3 4 / 5 6 7 8 */
	p_rh(&p, 8, 1, 1, 2);     /* row 1 = 9 10 0 0 */
	p_wh(&p, 16, 0, 2, 3);    /* host 16.. = 1 2 3 9 10 0 */
	p_halt(&p);
	Run r = run_prog(&cfg, &p, host, sizeof host, NULL, 0, true);
	static const uint8_t want[8] = { 1, 2, 3, 9, 10, 0, 23, 24 };
	check(r.st == ST_OK && memcmp(host + 16, want, 8) == 0,
		"dma int8: host 16.. = %d %d %d %d %d %d %d %d", host[16], host[17], host[18],
		host[19], host[20], host[21], host[22], host[23]);
	check_u64(tpu_sim_counters(r.s)->host_bytes, 8 + 2 + 6, "dma host bytes");
	run_free(&r);

	/* bf16 rows are two bytes an element */
	cfg.precision = TPU_BF16;
	for (int i = 0; i < 32; i++)
		host[i] = (uint8_t)(i + 1);
	p.n = 0;
	p_rh(&p, 0, 0, 1, 4);
	p_rh(&p, 8, 0, 1, 1);     /* row 0 = (9 10) 0 0 0 */
	p_wh(&p, 16, 0, 1, 3);
	p_halt(&p);
	r = run_prog(&cfg, &p, host, sizeof host, NULL, 0, true);
	static const uint8_t want2[8] = { 9, 10, 0, 0, 0, 0, 23, 24 };
	check(r.st == ST_OK && memcmp(host + 16, want2, 8) == 0, "dma bf16: host 16.. wrong");
	run_free(&r);
	free(p.v);
}

/* ---- errors ---- */

typedef struct BadCase {
	const char *name;
	TpuInsn insn[4];     /* up to 4 before halt; op 0 (nop) pads */
	int n;
	const char *want;    /* a substring of the message */
} BadCase;

#define I(...) { __VA_ARGS__ }
#define RH(h, u, c, l) I(.op = TPU_READ_HOST, .host_addr = h, .ub_row = u, .count = c, .len = l)
#define WH(h, u, c, l) I(.op = TPU_WRITE_HOST, .host_addr = h, .ub_row = u, .count = c, .len = l)
#define RW(a, r, c) I(.op = TPU_READ_WEIGHTS, .dram_addr = a, .rows = r, .cols = c)
#define RP(a, c, s) I(.op = TPU_READ_WEIGHTS, .flags = TPU_RW_PARAM, .dram_addr = a, .rows = 1, \
                      .cols = c, .slot = s)
#define MM(f, u, a, c) I(.op = TPU_MATMUL, .flags = f, .ub_row = u, .acc_row = a, .count = c)
#define ACT(f, u, a, c, fn, pl, s) I(.op = TPU_ACTIVATE, .flags = f, .ub_row = u, .acc_row = a, \
                      .count = c, .func = fn, .pool = pl, .slot = s)
#define CFG(r, v) I(.op = TPU_SET_CONFIG, .reg = r, .value = v)

/* On small_cfg(4, 8): 512 rows each, 4 slots, FIFO 4; host 64 bytes,
 * weight DRAM 64 bytes (one tile of 4 x 8, the last row nonzero). */
static const BadCase bad_cases[] = {
	{ "unknown opcode", { I(.op = (TpuOp)0x7f) }, 1, "instruction 0: unknown opcode 0x7f" },
	{ "unknown register", { CFG(99, 1) }, 1, "instruction 0 (set_config): unknown register 99" },
	{ "bad precision", { CFG(TPU_REG_PRECISION, 2) }, 1, "precision 2" },
	{ "read len 0", { RH(0, 0, 1, 0) }, 1, "(read_host_memory): len 0 is not in 1..8" },
	{ "read len > width", { RH(0, 0, 1, 9) }, 1, "len 9 is not in 1..8" },
	{ "read count 0", { RH(0, 0, 0, 4) }, 1, "count is 0" },
	{ "read ub past", { RH(0, 510, 4, 1) }, 1, "unified-buffer rows 510..513 past the 512 rows" },
	{ "read host past", { RH(60, 0, 1, 8) }, 1, "host memory bytes 60..67 past the 64 bytes" },
	{ "read host wraps", { RH(0xffffffffu, 0, 1, 8) }, 1,
	  "host memory bytes 4294967295..4294967302 past the 64 bytes" },
	{ "write host past", { WH(0, 0, 9, 8) }, 1, "(write_host_memory): host memory bytes 0..71" },
	{ "weights rows 0", { RW(0, 0, 8) }, 1, "rows 0 is not in 1..4" },
	{ "weights rows > height", { RW(0, 5, 8) }, 1, "rows 5 is not in 1..4" },
	{ "weights cols > width", { RW(0, 4, 9) }, 1, "cols 9 is not in 1..8" },
	{ "weights dram past", { RW(40, 4, 8) }, 1, "weight DRAM bytes 40..71 past the 64 bytes" },
	{ "weights padding", { RW(0, 3, 8) }, 1, "padding is not zero at row 3, column 0" },
	{ "weights flags", { I(.op = TPU_READ_WEIGHTS, .flags = 0x10, .rows = 4, .cols = 8) }, 1,
	  "unknown flags 0x10" },
	{ "fifo full", { RW(0, 4, 8), RW(0, 4, 8), RW(0, 4, 8), RW(0, 4, 8) }, 4, "" },
	{ "param slot", { RP(0, 1, 4) }, 1, "parameter slot 4 past the 4 slots" },
	{ "param dram past", { RP(0, 5, 0) }, 1, "weight DRAM bytes 0..79 past the 64 bytes" },
	{ "param rows", { I(.op = TPU_READ_WEIGHTS, .flags = TPU_RW_PARAM, .rows = 2, .cols = 1) }, 1,
	  "rows 2 for parameters" },
	{ "switch, empty fifo", { MM(TPU_MM_SWITCH, 0, 0, 1) }, 1, "switch with an empty weight FIFO" },
	{ "no tile", { MM(0, 0, 0, 1) }, 1, "(matrix_multiply): no weight tile in the array" },
	{ "matmul count 0", { RW(0, 4, 8), MM(TPU_MM_SWITCH, 0, 0, 0) }, 2, "instruction 1 "
	  "(matrix_multiply): count is 0" },
	{ "matmul acc past", { RW(0, 4, 8), MM(TPU_MM_SWITCH, 0, 400, 200) }, 2,
	  "instruction 1 (matrix_multiply): accumulator rows 400..599 past the 512 rows" },
	{ "matmul ub past", { RW(0, 4, 8), MM(TPU_MM_SWITCH, 500, 0, 13) }, 2,
	  "unified-buffer rows 500..512 past the 512 rows" },
	{ "matmul flags", { RW(0, 4, 8), MM(0x40, 0, 0, 1) }, 2, "unknown flags 0x40" },
	{ "conv row_w 0", { RW(0, 4, 8), MM(TPU_MM_SWITCH | TPU_MM_CONV, 0, 0, 4) }, 2,
	  "conv addressing with mm_row_w 0" },
	{ "conv past", { CFG(TPU_REG_MM_ROW_W, 4), CFG(TPU_REG_MM_STEP_Y, 100), RW(0, 4, 8),
	  MM(TPU_MM_SWITCH | TPU_MM_CONV, 0, 0, 28) }, 4, "unified-buffer rows 0..600 past" },
	{ "conv huge steps", { CFG(TPU_REG_MM_ROW_W, 1), CFG(TPU_REG_MM_STEP_Y, 0xffffffffu),
	  RW(0, 4, 8), MM(TPU_MM_SWITCH | TPU_MM_CONV, 0xffffffffu, 0, 0xffffff) }, 4,
	  "past the 512 rows" },
	{ "precision mismatch", { RW(0, 4, 8), CFG(TPU_REG_PRECISION, 1), MM(TPU_MM_SWITCH, 0, 0, 1) },
	  3, "read in int8 mode, multiplied in bf16" },
	{ "act func", { ACT(0, 0, 0, 1, 9, 0, 0) }, 1, "(activate): unknown activation function 9" },
	{ "act pool", { ACT(0, 0, 0, 1, 0, 5, 0) }, 1, "unknown pooling mode 5" },
	{ "act slot", { ACT(0, 0, 0, 1, 0, 0, 4) }, 1, "parameter slot 4 past the 4 slots" },
	{ "act count 0", { ACT(0, 0, 0, 0, 0, 0, 0) }, 1, "count is 0" },
	{ "act flags", { ACT(0x8, 0, 0, 1, 0, 0, 0) }, 1, "unknown flags 0x8" },
	{ "act pool reg 0", { ACT(0, 0, 0, 1, 0, TPU_POOL_MAX, 0) }, 1, "pooling with pool_kh 0" },
	{ "act acc past", { ACT(0, 0, 500, 13, 0, 0, 0) }, 1, "accumulator rows 500..512" },
	{ "act ub past", { ACT(0, 511, 0, 2, 0, 0, 0) }, 1, "unified-buffer rows 511..512" },
	{ "act geom 0", { ACT(TPU_ACT_GEOM, 0, 0, 2, 0, 0, 0) }, 1, "geometry with act_out_w 0" },
	{ "act geom past", { CFG(TPU_REG_ACT_OUT_W, 2), CFG(TPU_REG_ACT_OUT_STEP_Y, 600),
	  ACT(TPU_ACT_GEOM, 0, 0, 4, 0, 0, 0) }, 3, "unified-buffer rows 0..601 past" },
	{ "pool window past", { CFG(TPU_REG_POOL_KH, 3), CFG(TPU_REG_POOL_KW, 3),
	  CFG(TPU_REG_POOL_IN_W, 300), ACT(0, 0, 0, 1, 0, TPU_POOL_AVG, 0) }, 4, "pool_sy 0" },
	{ "sync mask", { I(.op = TPU_SYNC, .mask = 0x10) }, 1, "(sync): mask 0x10 has bits past 0xf" },
};

static void test_errors(void)
{
	TpuConfig cfg = small_cfg(4, 8);
	uint8_t host[64] = { 0 }, dram[64] = { 0 };
	TpuSim *s = tpu_sim_new(&cfg, host, sizeof host, dram, sizeof dram);

	memset(dram + 24, 1, 8);  /* row 3 of the tile */
	for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
		const BadCase *b = &bad_cases[i];
		TpuInsn prog[6];
		Diag d;
		int n = b->n;
		memcpy(prog, b->insn, (size_t)n * sizeof *prog);
		if (strcmp(b->name, "fifo full") == 0)
			prog[n++] = (TpuInsn)RW(0, 4, 8);
		prog[n++] = (TpuInsn)I(.op = TPU_HALT);
		diag_init(&d);
		static TpuTraceRec dummy;
		TpuTraceRec *tr = &dummy;
		size_t ntr = 99;
		Status st = tpu_sim_run(s, prog, (size_t)n, &tr, &ntr, &d);
		const char *msg = d.n ? d.msg[0].text : "";
		const char *want = *b->want ? b->want : "the weight FIFO is full (4 tiles)";
		check(st == ST_INVALID && d.n == 1 && strstr(msg, want) != NULL,
			"error %s: got status %d, \"%s\", want \"%s\"", b->name, st, msg, want);
		check(tr == NULL && ntr == 0, "error %s: a trace came back", b->name);
		diag_free(&d);
	}
	/* the pool case: all registers set, but the window leaves the accumulators */
	{
		TpuInsn prog[] = { CFG(TPU_REG_POOL_KH, 3), CFG(TPU_REG_POOL_KW, 3),
			CFG(TPU_REG_POOL_SY, 1), CFG(TPU_REG_POOL_SX, 1), CFG(TPU_REG_POOL_IN_W, 300),
			CFG(TPU_REG_POOL_OUT_W, 1), ACT(0, 0, 0, 1, 0, TPU_POOL_AVG, 0),
			I(.op = TPU_HALT) };
		Diag d;
		diag_init(&d);
		Status st = tpu_sim_run(s, prog, 8, NULL, NULL, &d);
		check(st == ST_INVALID && d.n == 1 &&
		      strstr(d.msg[0].text, "instruction 6 (activate): accumulator rows 0..602 past") != NULL,
		      "error pool window: %s", d.n ? d.msg[0].text : "(none)");
		diag_free(&d);
	}
	/* no halt, empty program */
	{
		TpuInsn prog[] = { I(.op = TPU_NOP), I(.op = TPU_NOP) };
		Diag d;
		diag_init(&d);
		Status st = tpu_sim_run(s, prog, 2, NULL, NULL, &d);
		check(st == ST_INVALID && d.n == 1 &&
		      strstr(d.msg[0].text, "instruction 1 (nop): the program ends without halt"),
		      "error no halt: %s", d.n ? d.msg[0].text : "(none)");
		st = tpu_sim_run(s, prog, 0, NULL, NULL, &d);
		check(st == ST_INVALID && d.n == 2 && strstr(d.msg[1].text, "empty"),
			"error empty program");
		diag_free(&d);
	}
	/* after all that, the same simulator runs a good program */
	{
		TpuInsn prog[] = { RH(0, 0, 1, 8), I(.op = TPU_HALT) };
		Diag d;
		diag_init(&d);
		check(tpu_sim_run(s, prog, 2, NULL, NULL, &d) == ST_OK && d.n == 0,
			"error: the simulator does not recover");
		diag_free(&d);
	}
	tpu_sim_free(s);

	/* unusable configurations and missing memories */
	static const struct { const char *name; TpuConfig c; const char *want; } cfgs[] = {
		{ "height > width", { 8, 4, 512, 512, 4, 4, 700e6, 34e9, 14e9, 0 }, "height exceeds" },
		{ "fifo 0", { 4, 4, 512, 512, 0, 4, 700e6, 34e9, 14e9, 0 }, "fifo_depth" },
		{ "slots 0", { 4, 4, 512, 512, 4, 0, 700e6, 34e9, 14e9, 0 }, "param_slots" },
		{ "no clock", { 4, 4, 512, 512, 4, 4, 0, 34e9, 14e9, 0 }, "clock" },
		{ "precision", { 4, 4, 512, 512, 4, 4, 700e6, 34e9, 14e9, 7 }, "precision" },
		{ "ub 0", { 4, 4, 0, 512, 4, 4, 700e6, 34e9, 14e9, 0 }, "ub_rows" },
	};
	for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++) {
		TpuInsn prog[] = { I(.op = TPU_HALT) };
		Diag d;
		diag_init(&d);
		s = tpu_sim_new(&cfgs[i].c, NULL, 0, NULL, 0);
		Status st = tpu_sim_run(s, prog, 1, NULL, NULL, &d);
		check(st == ST_INVALID && d.n == 1 && strstr(d.msg[0].text, cfgs[i].want),
			"config %s: %s", cfgs[i].name, d.n ? d.msg[0].text : "(accepted)");
		tpu_sim_free(s);
		diag_free(&d);
	}
	{
		TpuInsn prog[] = { I(.op = TPU_HALT) };
		Diag d;
		diag_init(&d);
		s = tpu_sim_new(&cfg, NULL, 64, NULL, 0);
		check(tpu_sim_run(s, prog, 1, NULL, NULL, &d) == ST_INVALID,
			"a functional run without host memory");
		tpu_sim_set_functional(s, false);
		check(tpu_sim_run(s, prog, 1, NULL, NULL, &d) == ST_OK,
			"a timing run without host memory");
		tpu_sim_free(s);
		diag_free(&d);
	}
}

/* ---- random programs ---- */

static uint32_t rand_field(Rng *rng, uint32_t small)
{
	switch (rng_range(rng, 0, 79)) {
	case 0:
		return 0xffffffffu;
	case 1:
		return (uint32_t)rng_next(rng);
	case 2:
		return 0;
	default:
		return (uint32_t)rng_range(rng, 0, small);
	}
}

static TpuInsn rand_insn(Rng *rng)
{
	static const TpuOp ops[] = { TPU_NOP, TPU_SYNC, TPU_SET_CONFIG, TPU_SET_CONFIG,
		TPU_READ_HOST, TPU_WRITE_HOST, TPU_READ_WEIGHTS, TPU_READ_WEIGHTS, TPU_MATMUL,
		TPU_MATMUL, TPU_MATMUL, TPU_ACTIVATE, TPU_ACTIVATE, (TpuOp)0x55 };
	TpuInsn in = { .op = ops[rng_range(rng, 0, sizeof ops / sizeof ops[0] - 1)] };

	in.mask = rand_field(rng, 15);
	in.reg = rand_field(rng, TPU_REG_COUNT);
	in.value = rand_field(rng, 6);
	in.host_addr = rand_field(rng, 64);
	in.dram_addr = rand_field(rng, 64);
	in.ub_row = rand_field(rng, 40);
	in.acc_row = rand_field(rng, 40);
	in.count = rand_field(rng, 12);
	in.len = rand_field(rng, 8);
	in.rows = rand_field(rng, 6);
	in.cols = rand_field(rng, 8);
	in.slot = rand_field(rng, 4);
	in.func = rand_field(rng, TPU_FUNC_COUNT);
	in.pool = rand_field(rng, TPU_POOL_COUNT);
	in.flags = (uint32_t)rng_range(rng, 0, in.op == TPU_MATMUL ? 7 : 1);
	if (rng_range(rng, 0, 49) == 0)
		in.flags = (uint32_t)rng_range(rng, 0, 255);
	if (in.op == TPU_SET_CONFIG && in.reg == TPU_REG_PRECISION)
		in.value = (uint32_t)rng_range(rng, 0, 2);
	return in;
}

/* Random instruction streams on a small machine: every run ends ST_OK or
 * ST_INVALID, never a crash (the sanitizer build makes this strict), and a
 * run that ends has counters that partition its cycles. */
static void test_random_programs(Rng *rng)
{
	TpuConfig cfg = small_cfg(4, 8);
	uint8_t host[256], dram[256];
	int ok = 0, invalid = 0, other = 0, bad_partition = 0;

	cfg.ub_rows = cfg.acc_rows = 48;
	for (int i = 0; i < 256; i++) {
		host[i] = (uint8_t)rng_next(rng);
		dram[i] = rng_range(rng, 0, 7) ? 0 : (uint8_t)rng_next(rng);
	}
	for (int trial = 0; trial < 3000; trial++) {
		TpuInsn prog[24];
		int n = (int)rng_range(rng, 1, 12);
		Diag d;
		for (int i = 0; i < n; i++)
			prog[i] = rand_insn(rng);
		if (rng_range(rng, 0, 1)) {   /* mostly a tile in place */
			prog[0] = (TpuInsn)RH(0, 0, 8, 4);
			prog[n > 1] = (TpuInsn)RW(0, 4, 8);
		}
		if (rng_range(rng, 0, 9))
			prog[n++] = (TpuInsn){ .op = TPU_HALT };
		diag_init(&d);
		cfg.precision = (int)rng_range(rng, 0, 1);
		TpuSim *s = tpu_sim_new(&cfg, host, sizeof host, dram, sizeof dram);
		tpu_sim_set_functional(s, rng_range(rng, 0, 3) != 0);
		Status st = tpu_sim_run(s, prog, (size_t)n, NULL, NULL, &d);
		if (st == ST_OK) {
			const TpuCounters *c = tpu_sim_counters(s);
			ok++;
			bad_partition += c->array_active + c->weight_stall + c->weight_shift +
				c->raw_stall + c->input_stall + c->non_matrix != c->cycles;
		}
		invalid += st == ST_INVALID && d.n == 1;
		other += st != ST_OK && (st != ST_INVALID || d.n != 1);
		tpu_sim_free(s);
		diag_free(&d);
	}
	printf("random programs: %d ran, %d refused\n", ok, invalid);
	check(other == 0 && bad_partition == 0 && ok > 100 && invalid > 100,
		"random programs: %d ok, %d invalid, %d other, %d bad partitions", ok, invalid, other,
		bad_partition);
}

/* ---- allocation failures ---- */

/* The Nth allocation fails, for every N until the run succeeds: each
 * failure is NULL from tpu_sim_new or ST_NOMEM from the run, never a crash
 * or a leak; the scoreboard grows past its first 64 entries. */
static void test_alloc_failures(void)
{
	TpuConfig cfg = small_cfg(4, 8);
	uint8_t host[64] = { 0 };
	Prog p = { 0 };
	int n, nomem = 0, other = 0;

	for (int i = 0; i < 100; i++)
		p_rh(&p, 0, (uint32_t)i, 1, 8);
	p_halt(&p);
	for (n = 0; n < 100; n++) {
		Diag d;
		diag_init(&d);
		test_alloc_fail_from(n + 1);
		TpuSim *s = tpu_sim_new(&cfg, host, sizeof host, NULL, 0);
		Status st = s ? tpu_sim_run(s, p.v, p.n, NULL, NULL, &d) : ST_NOMEM;
		tpu_sim_free(s);
		test_alloc_restore();
		diag_free(&d);
		if (st == ST_OK)
			break;
		nomem += st == ST_NOMEM;
		other += st != ST_NOMEM;
	}
	check(n < 100 && nomem == n && other == 0 && n > 10,
		"allocation failures: %d runs out of memory, %d other failures before success at %d",
		nomem, other, n);
	free(p.v);
}

/* ---- timing: exact events ---- */

/* One tile, then matmuls of several B on it: each occupies the matrix unit
 * exactly B cycles; results complete B + 510 cycles after the start. */
static void test_time_batch(void)
{
	static const uint32_t bs[] = { 1, 8, 200, 256, 1000, 4096 };
	TpuConfig cfg = tpu_v1();
	Prog p = { 0 };
	uint64_t sum = 0;

	p_rw(&p, 0, 256, 256);
	for (size_t i = 0; i < 6; i++) {
		p_mm(&p, i == 0 ? TPU_MM_SWITCH : 0, 0, 0, bs[i]);
		sum += bs[i];
	}
	p_halt(&p);
	Run r = run_prog(&cfg, &p, NULL, 0, NULL, 65536, false);
	check(r.st == ST_OK && r.ntr == 8, "batch: run failed");
	if (r.st != ST_OK) {
		run_free(&r);
		free(p.v);
		return;
	}
	const TpuTraceRec *rw = rec_of(&r, 0), *mm0 = rec_of(&r, 1);
	/* 65536 bytes at 34e9 B/s and 700 MHz: 1349.27 -> 1350 cycles */
	check_u64(rw->issue, 3, "batch: first issue cycle");
	check_u64(rw->done - rw->start, 1350, "batch: tile transfer cycles");
	check_u64(mm0->start, rw->done + 256, "batch: first matmul after the shift");
	check(mm0->stall == TPU_STALL_WEIGHT, "batch: first matmul stall %s, want weight",
		tpu_stall_name(mm0->stall));
	for (size_t i = 0; i < 6; i++) {
		const TpuTraceRec *m = rec_of(&r, (uint32_t)(1 + i));
		check_u64(m->done - m->start, bs[i] + 256 + 256 - 2, "batch: systolic latency");
		if (i + 1 < 6)
			check_u64(rec_of(&r, (uint32_t)(2 + i))->start - m->start, bs[i],
				"batch: matrix unit cycles of a matmul of B vectors");
	}
	const TpuCounters *c = tpu_sim_counters(r.s);
	check_u64(c->array_active, sum, "batch: array active");
	check_u64(c->cycles, rec_of(&r, 6)->done, "batch: cycles end with the last results");
	check_u64(c->useful_macs, sum * 65536, "batch: useful MACs");
	check_u64(c->unused_macs, 0, "batch: unused MACs");
	check_u64(c->weight_stall, mm0->start, "batch: weight stall before the first matmul");
	check_partition(c, "batch");
	run_free(&r);
	free(p.v);
}

/* A FIFO of 4: the fifth read_weights waits in the issue stage until the
 * first tile has shifted into the array; the shift of a tile waits for the
 * previous tile's matmul to start; a partial tile counts only its used
 * MACs. */
static void test_time_fifo(void)
{
	TpuConfig cfg = tpu_v1();
	Prog p = { 0 };

	for (int i = 0; i < 4; i++)
		p_rw(&p, 0, 256, 256);
	p_mm(&p, TPU_MM_SWITCH, 0, 0, 4000);   /* 4 */
	p_rw(&p, 0, 100, 50);                  /* 5 */
	p_mm(&p, TPU_MM_SWITCH, 0, 0, 10);     /* 6 */
	p_mm(&p, TPU_MM_SWITCH, 0, 0, 10);     /* 7 */
	p_mm(&p, TPU_MM_SWITCH, 0, 0, 10);     /* 8 */
	p_mm(&p, TPU_MM_SWITCH, 0, 0, 10);     /* 9: the partial tile */
	p_halt(&p);
	Run r = run_prog(&cfg, &p, NULL, 0, NULL, 65536, false);
	check(r.st == ST_OK, "fifo: run failed");
	if (r.st != ST_OK) {
		run_free(&r);
		free(p.v);
		return;
	}
	const TpuTraceRec *m4 = rec_of(&r, 4), *rw5 = rec_of(&r, 5), *m6 = rec_of(&r, 6);
	const TpuTraceRec *m7 = rec_of(&r, 7), *m9 = rec_of(&r, 9);
	/* the issue stage waits until tile 0 has shifted in (matmul 4 starts);
	 * the transfer then queues behind tile 3's */
	check_u64(m6->issue, m4->start + 1, "fifo: issue resumes after tile 0's shift");
	check_u64(rw5->start, rec_of(&r, 3)->done, "fifo: fifth tile behind the fourth");
	check(rw5->stall == TPU_STALL_UNIT, "fifo: stall %s, want unit", tpu_stall_name(rw5->stall));
	/* tile 1 arrived long before: its shift starts with matmul 4 */
	check_u64(m6->start, m4->start + 4000, "fifo: matmul 6 follows matmul 4");
	check(m6->stall == TPU_STALL_UNIT, "fifo: matmul 6 stall %s, want unit",
		tpu_stall_name(m6->stall));
	check_u64(m7->start, m6->start + 256, "fifo: matmul 7 waits for its shift");
	check(m7->stall == TPU_STALL_SHIFT, "fifo: matmul 7 stall %s, want shift",
		tpu_stall_name(m7->stall));
	check(m9->stall == TPU_STALL_WEIGHT, "fifo: matmul 9 stall %s, want weight",
		tpu_stall_name(m9->stall));
	check_u64(m9->start, rw5->done + 256, "fifo: matmul 9 after its tile and shift");
	const TpuCounters *c = tpu_sim_counters(r.s);
	check_u64(c->useful_macs, 4030ull * 65536 + 10ull * 100 * 50, "fifo: useful MACs");
	check_u64(c->weight_shift, 2 * 246, "fifo: weight shift cycles (matmuls 7, 8)");
	check_partition(c, "fifo");
	run_free(&r);
	free(p.v);
}

/* Data dependences: input (a matmul reading rows being read from the
 * host), raw (activate after matmul, matmul after activate), war (host
 * rows overwriting rows a matmul still reads), sync. */
static void test_time_deps(void)
{
	TpuConfig cfg = tpu_v1();
	Prog p = { 0 };

	p_rw(&p, 0, 256, 256);                                          /* 0 */
	p_rh(&p, 0, 0, 4096, 256);                                      /* 1 */
	p_mm(&p, TPU_MM_SWITCH, 4000, 0, 200);                          /* 2: rows 4000.. */
	p_act(&p, 0, 5000, 0, 200, TPU_FUNC_RELU, TPU_POOL_NONE, 0);    /* 3 */
	p_mm(&p, 0, 5100, 200, 300);                                    /* 4: reads 5100..5399 */
	p_rh(&p, 0, 5300, 10, 256);                                     /* 5: overwrites 5300.. */
	p_sync(&p, TPU_SYNC_MATRIX);                                    /* 6 */
	p_mm(&p, 0, 0, 600, 10);                                        /* 7 */
	p_halt(&p);                                                     /* 8 */
	Run r = run_prog(&cfg, &p, NULL, 1 << 20, NULL, 65536, false);
	check(r.st == ST_OK, "deps: run failed");
	if (r.st != ST_OK) {
		run_free(&r);
		free(p.v);
		return;
	}
	const TpuTraceRec *rh = rec_of(&r, 1), *m2 = rec_of(&r, 2), *a3 = rec_of(&r, 3);
	const TpuTraceRec *m4 = rec_of(&r, 4), *rh5 = rec_of(&r, 5), *s6 = rec_of(&r, 6);
	/* 1 MiB at 14e9 B/s, 700 MHz: 52428.8 -> 52429 cycles */
	check_u64(rh->done - rh->start, 52429, "deps: host transfer cycles");
	check_u64(m2->start, rh->done, "deps: matmul waits for its input rows");
	check(m2->stall == TPU_STALL_INPUT, "deps: stall %s, want input", tpu_stall_name(m2->stall));
	check_u64(a3->start, m2->done, "deps: activate waits for the results");
	check(a3->stall == TPU_STALL_RAW, "deps: activate stall %s", tpu_stall_name(a3->stall));
	check_u64(m4->start, a3->done, "deps: matmul waits for the activate's rows");
	check(m4->stall == TPU_STALL_RAW, "deps: matmul stall %s", tpu_stall_name(m4->stall));
	check_u64(rh5->start, m4->start + 300, "deps: host write waits for the matmul's reads");
	check(rh5->stall == TPU_STALL_WAR, "deps: read_host stall %s", tpu_stall_name(rh5->stall));
	check_u64(s6->start, m4->done, "deps: sync waits for the matrix unit's results");
	check(s6->stall == TPU_STALL_SYNC, "deps: sync stall %s", tpu_stall_name(s6->stall));
	check_u64(rec_of(&r, 7)->issue, s6->start + 1, "deps: issue after sync");
	const TpuCounters *c = tpu_sim_counters(r.s);
	check_u64(c->input_stall, m2->start, "deps: input stall counter");
	check_u64(c->raw_stall, m4->start - (m2->start + 200), "deps: raw stall counter");
	check_u64(c->cycles, rh5->done > rec_of(&r, 7)->done ? rh5->done : rec_of(&r, 7)->done,
		"deps: cycles");
	check_partition(c, "deps");
	run_free(&r);
	free(p.v);
}

/* Accumulating matmuls into the same rows flow back to back (the unit
 * orders its own writes); an activate with parameters waits for their
 * load; the activation unit takes count * KH * KW cycles with pooling. */
static void test_time_flow(void)
{
	TpuConfig cfg = tpu_v1();
	Prog p = { 0 };

	p_rw(&p, 0, 256, 256);                                         /* 0 */
	p_rw(&p, 0, 256, 256);                                         /* 1 */
	p_mm(&p, TPU_MM_SWITCH, 0, 0, 2000);                           /* 2 */
	p_mm(&p, TPU_MM_SWITCH | TPU_MM_ACC, 0, 0, 2000);              /* 3 */
	p_rp(&p, 0, 256, 7);                                           /* 4 */
	p_cfg(&p, TPU_REG_POOL_KH, 2);
	p_cfg(&p, TPU_REG_POOL_KW, 2);
	p_cfg(&p, TPU_REG_POOL_SY, 2);
	p_cfg(&p, TPU_REG_POOL_SX, 2);
	p_cfg(&p, TPU_REG_POOL_IN_W, 20);
	p_cfg(&p, TPU_REG_POOL_OUT_W, 10);                             /* 10 */
	p_act(&p, 0, 3000, 3000, 50, TPU_FUNC_RELU, TPU_POOL_MAX, 7);  /* 11 */
	p_halt(&p);
	Run r = run_prog(&cfg, &p, NULL, 0, NULL, 65536, false);
	check(r.st == ST_OK, "flow: run failed");
	if (r.st != ST_OK) {
		run_free(&r);
		free(p.v);
		return;
	}
	const TpuTraceRec *m2 = rec_of(&r, 2), *m3 = rec_of(&r, 3), *p4 = rec_of(&r, 4);
	const TpuTraceRec *a11 = rec_of(&r, 11);
	check_u64(m3->start, m2->start + 2000, "flow: accumulating matmul right behind");
	/* 256 entries of 16 bytes behind two tiles: 4096 bytes, 84.3 -> 85 cycles */
	check_u64(p4->done - p4->start, 85, "flow: parameter transfer cycles");
	check_u64(p4->start, rec_of(&r, 1)->done, "flow: parameters queue behind the tiles");
	check_u64(a11->start, p4->done, "flow: activate waits for its parameters");
	check(a11->stall == TPU_STALL_WEIGHT, "flow: activate stall %s", tpu_stall_name(a11->stall));
	check_u64(a11->done - a11->start, 200, "flow: pooled activate cycles");
	check_partition(tpu_sim_counters(r.s), "flow");
	run_free(&r);
	free(p.v);
}

/* ---- validations ---- */

typedef struct Fc {
	int C, K, B;
	uint32_t in_ub, out_ub;   /* input tile ti at in_ub + ti * B, output tile tk at out_ub + tk * B */
	uint32_t dram;            /* tile (ti, tk) at dram + (tk * nti + ti) * h * w */
	int chunk;                /* vectors per matmul (B split for the accumulators) */
} Fc;

/* A fully connected layer on cfg: for each output tile, each input tile's
 * weight tile is switched in once and multiplies every chunk of the batch;
 * the output tile is activated chunk by chunk.  Accumulators alternate
 * between two buffers of B rows when they fit. */
static void emit_fc(Prog *body, Tiles *t, const TpuConfig *cfg, const Fc *f)
{
	int h = cfg->height, w = cfg->width, nti = (f->C + h - 1) / h, ntk = (f->K + w - 1) / w;
	int nbuf = 2 * f->B <= cfg->acc_rows ? 2 : 1;

	for (int tk = 0; tk < ntk; tk++) {
		uint32_t acc = (uint32_t)((tk % nbuf) * f->B);
		for (int ti = 0; ti < nti; ti++) {
			int rows = f->C - ti * h < h ? f->C - ti * h : h;
			int cols = f->K - tk * w < w ? f->K - tk * w : w;
			tile_add(t, f->dram + (uint32_t)(((size_t)tk * nti + ti) * h * w), (uint32_t)rows,
				(uint32_t)cols);
			for (int b = 0; b < f->B; b += f->chunk) {
				int n = f->B - b < f->chunk ? f->B - b : f->chunk;
				p_mm(body, (b == 0 ? TPU_MM_SWITCH : 0) | (ti ? TPU_MM_ACC : 0),
					f->in_ub + (uint32_t)(ti * f->B + b), acc + (uint32_t)b, (uint32_t)n);
			}
		}
		for (int b = 0; b < f->B; b += f->chunk) {
			int n = f->B - b < f->chunk ? f->B - b : f->chunk;
			p_act(body, 0, f->out_ub + (uint32_t)(tk * f->B + b), acc + (uint32_t)b,
				(uint32_t)n, TPU_FUNC_RELU, TPU_POOL_NONE, 0);
		}
	}
}

static Run run_timing(const TpuConfig *cfg, const Prog *body, const Tiles *t, uint64_t host,
                      uint64_t dram)
{
	Prog prog = with_weights(body, t, cfg->fifo_depth);
	Run r = run_prog(cfg, &prog, NULL, host, NULL, dram, false);
	free(prog.v);
	return r;
}

/* An FC layer of C x K with its input read from and output written to the
 * host. */
static Run run_fc_host(const TpuConfig *cfg, int C, int K, int B)
{
	int h = cfg->height, w = cfg->width, nti = (C + h - 1) / h, ntk = (K + w - 1) / w;
	Fc f = { C, K, B, 0, (uint32_t)(nti * B), 0, B };
	Prog body = { 0 };
	Tiles t = { 0 };
	uint32_t off = 0;

	for (int ti = 0; ti < nti; ti++) {
		int len = C - ti * h < h ? C - ti * h : h;
		p_rh(&body, off, (uint32_t)(ti * B), (uint32_t)B, (uint32_t)len);
		off += (uint32_t)(B * len);
	}
	emit_fc(&body, &t, cfg, &f);
	for (int tk = 0; tk < ntk; tk++) {
		int len = K - tk * w < w ? K - tk * w : w;
		p_wh(&body, 0, f.out_ub + (uint32_t)(tk * B), (uint32_t)B, (uint32_t)len);
	}
	p_halt(&body);
	Run r = run_timing(cfg, &body, &t, (uint64_t)B * (C > K ? C : K),
		(uint64_t)nti * ntk * h * w);
	free(body.v);
	tiles_free(&t);
	return r;
}

static bool largest(uint64_t v, const TpuCounters *c)
{
	return v >= c->array_active && v >= c->weight_stall && v >= c->weight_shift &&
	       v >= c->raw_stall && v >= c->input_stall && v >= c->non_matrix;
}

/* 2. 600 x 600 weights at batch 8: bound by weight DRAM. */
static void test_val_600(int n, int tiles)
{
	TpuConfig cfg = tpu_v1();
	cfg.height = cfg.width = n;
	cfg.ub_rows = (24 << 20) / n;
	Run r = run_fc_host(&cfg, 600, 600, 8);
	const TpuCounters *c = tpu_sim_counters(r.s);
	double want = (double)tiles * n * n / 34e9;

	printf("600x600 weights, batch 8, %dx%d array: %.2f us (weight DRAM alone %.2f us)\n", n, n,
		c->seconds * 1e6, want * 1e6);
	tpu_counters_print(stdout, c);
	check(r.st == ST_OK, "600x600 on %d: run failed", n);
	check_u64(c->weight_bytes, (uint64_t)tiles * n * n, "600x600: weight bytes");
	check(fabs(c->seconds - want) <= 0.1 * want, "600x600 on %d: %.2f us, want %.2f us +-10%%",
		n, c->seconds * 1e6, want * 1e6);
	check(c->weight_stall > c->weight_shift && c->weight_stall > c->raw_stall &&
	      c->weight_stall > c->input_stall && largest(c->weight_stall, c),
	      "600x600 on %d: weight stall is not the largest", n);
	check_partition(c, "600x600");
	run_free(&r);
}

/* 3. MLP0: five 2000 x 2000 layers, batch 200. */
static void test_val_mlp0(void)
{
	TpuConfig cfg = tpu_v1();
	int C = 2000, B = 200, nt = (C + 255) / 256;
	Prog body = { 0 };
	Tiles t = { 0 };
	uint32_t layer_bytes = (uint32_t)(nt * nt * 65536);

	for (int ti = 0; ti < nt; ti++) {
		int len = C - ti * 256 < 256 ? C - ti * 256 : 256;
		p_rh(&body, (uint32_t)(ti * B * 256), (uint32_t)(ti * B), (uint32_t)B, (uint32_t)len);
	}
	for (int l = 0; l < 5; l++) {
		uint32_t a = (uint32_t)((l % 2) * nt * B), o = (uint32_t)(((l + 1) % 2) * nt * B);
		Fc f = { C, C, B, a, o, (uint32_t)l * layer_bytes, B };
		emit_fc(&body, &t, &cfg, &f);
	}
	for (int tk = 0; tk < nt; tk++) {
		int len = C - tk * 256 < 256 ? C - tk * 256 : 256;
		p_wh(&body, (uint32_t)(tk * B * 256), (uint32_t)(nt * B + tk * B), (uint32_t)B,
			(uint32_t)len);
	}
	p_halt(&body);
	Run r = run_timing(&cfg, &body, &t, (uint64_t)nt * B * 256, 5ull * layer_bytes);
	const TpuCounters *c = tpu_sim_counters(r.s);

	printf("MLP0-shaped: 5 layers of 2000x2000 int8 weights, batch 200 (paper: ~12 of 92 TOPS)\n");
	tpu_counters_print(stdout, c);
	check(r.st == ST_OK, "mlp0: run failed");
	check_u64(c->useful_macs, 5ull * C * C * B, "mlp0: useful MACs");
	check(c->tops >= 8 && c->tops <= 16, "mlp0: %.2f TOPS, want 8..16", c->tops);
	check(fabs(c->peak_tops - 91.75) < 0.01, "mlp0: peak %.2f TOPS", c->peak_tops);
	check(largest(c->weight_stall + c->weight_shift, c), "mlp0: weight stall + shift is not "
		"the largest share");
	check_partition(c, "mlp0");
	run_free(&r);
	free(body.v);
	tiles_free(&t);
}

/* 4. CNN0-shaped: six 3x3 convolutions of 256 -> 256 channels on 56 x 56
 * feature maps, batch 8.  A map is kept padded (58 x 58 rows an image);
 * each image is done in two chunks of 28 output lines (1568 vectors), the
 * nine taps accumulating into one of two accumulator buffers while the
 * activation unit drains the other into the next map's interior. */
static void test_val_cnn0(void)
{
	enum { HW = 56, P = 58, IMG = P * P, N = 8, LINES = 28, CHUNK = LINES * HW, LAYERS = 6 };
	TpuConfig cfg = tpu_v1();
	Prog body = { 0 };
	Tiles t = { 0 };
	int nchunk = 0;

	p_cfg(&body, TPU_REG_MM_ROW_W, HW);
	p_cfg(&body, TPU_REG_MM_STEP_X, 1);
	p_cfg(&body, TPU_REG_MM_STEP_Y, P);
	p_cfg(&body, TPU_REG_ACT_OUT_W, HW);
	p_cfg(&body, TPU_REG_ACT_OUT_STEP_Y, P);
	for (int n = 0; n < N; n++)
		for (int y = 0; y < HW; y++)
			p_rh(&body, (uint32_t)((n * HW + y) * HW * 256), (uint32_t)(n * IMG + (y + 1) * P + 1),
				HW, 256);
	for (int l = 0; l < LAYERS; l++) {
		uint32_t in = (uint32_t)((l % 2) * N * IMG), out = (uint32_t)(((l + 1) % 2) * N * IMG);
		for (int n = 0; n < N; n++)
			for (int y0 = 0; y0 < HW; y0 += LINES, nchunk++) {
				uint32_t acc = (uint32_t)((nchunk % 2) * CHUNK);
				for (int tap = 0; tap < 9; tap++) {
					tile_add(&t, (uint32_t)((l * 9 + tap) * 65536), 256, 256);
					p_mm(&body, TPU_MM_CONV | TPU_MM_SWITCH | (tap ? TPU_MM_ACC : 0),
						in + (uint32_t)(n * IMG + (y0 + tap / 3) * P + tap % 3), acc, CHUNK);
				}
				p_act(&body, TPU_ACT_GEOM, out + (uint32_t)(n * IMG + (y0 + 1) * P + 1), acc,
					CHUNK, TPU_FUNC_RELU, TPU_POOL_NONE, 0);
			}
	}
	uint32_t last = (uint32_t)((LAYERS % 2) * N * IMG);
	for (int n = 0; n < N; n++)
		for (int y = 0; y < HW; y++)
			p_wh(&body, (uint32_t)((n * HW + y) * HW * 256),
				last + (uint32_t)(n * IMG + (y + 1) * P + 1), HW, 256);
	p_halt(&body);
	Run r = run_timing(&cfg, &body, &t, (uint64_t)N * HW * HW * 256, LAYERS * 9 * 65536);
	const TpuCounters *c = tpu_sim_counters(r.s);
	double active = c->cycles ? (double)c->array_active / (double)c->cycles : 0;

	printf("CNN0-shaped: %d 3x3 convs 256->256 on 56x56, batch 8 (paper: 78%% active, 86 TOPS)\n",
		LAYERS);
	tpu_counters_print(stdout, c);
	check(r.st == ST_OK, "cnn0: run failed");
	check_u64(c->useful_macs, (uint64_t)LAYERS * N * HW * HW * 9 * 256 * 256, "cnn0: useful MACs");
	check(active > 0.6, "cnn0: array active %.1f%%, want > 60%%", 100 * active);
	check_partition(c, "cnn0");
	run_free(&r);
	free(body.v);
	tiles_free(&t);
}

/* One 2048 x 2048 layer of batch B, inputs already in the unified buffer. */
static double roofline_point(int B, double *intensity)
{
	TpuConfig cfg = tpu_v1();
	Fc f = { 2048, 2048, B, 0, (uint32_t)(8 * B), 0, B < 2048 ? B : 2048 };
	Prog body = { 0 };
	Tiles t = { 0 };

	emit_fc(&body, &t, &cfg, &f);
	p_halt(&body);
	Run r = run_timing(&cfg, &body, &t, 0, 64ull * 65536);
	const TpuCounters *c = tpu_sim_counters(r.s);
	double tops = r.st == ST_OK ? c->tops : 0;

	check(r.st == ST_OK, "roofline B %d: run failed", B);
	check_partition(c, "roofline");
	*intensity = (double)c->useful_macs / (double)c->weight_bytes;
	run_free(&r);
	free(body.v);
	tiles_free(&t);
	return tops;
}

/* 5. The roofline: TOPS against MACs per weight byte. */
static void test_val_roofline(void)
{
	enum { NPTS = 7 + 32 };
	int bs[NPTS], n = 0;
	double tops[NPTS], inten[NPTS], plateau = 0, knee = 0;

	for (int b = 64; b <= 4096; b *= 2)
		bs[n++] = b;
	for (int b = 1056; b < 2048; b += 32)
		bs[n++] = b;
	for (int i = 0; i < n; i++)      /* sort: insertion */
		for (int j = i; j > 0 && bs[j - 1] > bs[j]; j--) {
			int x = bs[j];
			bs[j] = bs[j - 1];
			bs[j - 1] = x;
		}
	printf("roofline of a 2048x2048 int8 layer on tpu-v1 (ridge at 256*256*700e6 / 34e9 = %.0f)\n",
		256.0 * 256 * 700e6 / 34e9);
	printf("  %6s  %12s  %8s\n", "B", "MACs/byte", "TOPS");
	for (int i = 0; i < n; i++) {
		tops[i] = roofline_point(bs[i], &inten[i]);
		plateau = tops[i] > plateau ? tops[i] : plateau;
		printf("  %6d  %12.1f  %8.2f\n", bs[i], inten[i], tops[i]);
	}
	for (int i = 0; i < n && knee == 0; i++)
		if (tops[i] >= 0.95 * plateau)
			knee = inten[i];
	printf("  plateau %.2f TOPS; 95%% of it first at %.0f MACs per weight byte\n", plateau, knee);
	check(knee >= 1200 && knee <= 1500, "roofline: knee at %.0f MACs/byte, want 1350 +- 150",
		knee);
	for (int i = 0, prev = -1; i < n; i++) {
		if (bs[i] & (bs[i] - 1))
			continue;
		if (prev >= 0 && bs[i] <= 1024)
			check(tops[i] > 1.8 * tops[prev], "roofline: TOPS at B %d (%.2f) not about twice "
				"B %d's (%.2f) below the knee", bs[i], tops[i], bs[prev], tops[prev]);
		if (bs[i] >= 2048)
			check(tops[i] >= 0.95 * plateau, "roofline: B %d at %.2f TOPS is off the plateau",
				bs[i], tops[i]);
		prev = i;
	}
}

int main(void)
{
	Rng rng = rng_seed(20170624);

	for (int i = 0; i < 40; i++)
		test_mm_int8_case(&rng, i);
	test_mm_wrap();
	for (int i = 0; i < 30; i++)
		test_conv_case(&rng, i);
	for (int f = 0; f < TPU_FUNC_COUNT; f++)
		for (int pool = 0; pool < TPU_POOL_COUNT; pool++)
			for (int i = 0; i < 4; i++) {
				test_activate_case(&rng, i, (TpuFunc)f, (TpuPool)pool, false);
				test_activate_case(&rng, i, (TpuFunc)f, (TpuPool)pool, true);
			}
	test_activate_known();
	for (int i = 0; i < 30; i++)
		test_mm_bf16_case(&rng, i, i % 5 == 4);
	test_precision_switch();
	test_dma();
	test_errors();
	test_random_programs(&rng);
	test_alloc_failures();
	test_time_batch();
	test_time_fifo();
	test_time_deps();
	test_time_flow();
	test_val_600(256, 9);
	test_val_600(512, 4);
	test_val_mlp0();
	test_val_cnn0();
	test_val_roofline();
	return test_summary("tpu-sim");
}
