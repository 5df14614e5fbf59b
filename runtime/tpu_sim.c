/*
 * The TPU simulator: the machine state, the run loop, the checks, and the
 * counters (tpu_sim.h).  tpu_sim_exec.c gives each instruction its effect,
 * tpu_sim_time.c its timing.
 *
 * The run loop takes the program in order.  Each instruction is checked
 * first: every address it touches (host bytes, weight DRAM bytes, unified
 * buffer rows, accumulator rows, parameter slots, FIFO occupancy) must be
 * in range, else the run stops with ST_INVALID naming the instruction, so
 * the execution code never sees a bad address.  Row arithmetic is done in
 * uint64_t with saturation, so no field value can wrap a check.
 *
 * Reset state: the unified buffer and the accumulators are zero; every
 * parameter slot holds the identity entry {bias 0, acc_scale 1, out_scale
 * 1, zero point 0}; the weight FIFO and the array are empty; precision is
 * cfg.precision and every other register is 0.  An activate with pooling
 * needs every POOL_* register it reads to be at least 1, a conv-addressed
 * matrix_multiply needs MM_ROW_W >= 1 and a geometry activate ACT_OUT_W >=
 * 1: a 0 there is an error, not a silent 1.
 *
 * The machine state lives as long as the TpuSim; the unified buffer and the
 * accumulators are only allocated on the first functional run.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "tpu_sim_int.h"

static const char *const stall_names[] = {
	[TPU_STALL_NONE] = "-",
	[TPU_STALL_WEIGHT] = "weight",
	[TPU_STALL_SHIFT] = "shift",
	[TPU_STALL_RAW] = "raw",
	[TPU_STALL_INPUT] = "input",
	[TPU_STALL_UNIT] = "unit",
	[TPU_STALL_FIFO] = "fifo",
	[TPU_STALL_SYNC] = "sync",
	[TPU_STALL_WAR] = "war",
};
_Static_assert(ARRAY_LEN(stall_names) == TPU_STALL_COUNT, "a stall without a name");

const char *tpu_stall_name(TpuStall st)
{
	return (unsigned)st < TPU_STALL_COUNT ? stall_names[st] : "?";
}

/* The op tables from tpu_isa.def, for messages and the timing model. */
const char *sim_op_name(TpuOp op)
{
	switch ((int)op) {
#define TPU_OP(id, code, mn, unit, syn) case code: return mn;
#include "tpu_isa.def"
	}
	return NULL;
}

TpuUnit sim_op_unit(TpuOp op)
{
	switch ((int)op) {
#define TPU_OP(id, code, mn, unit, syn) case code: return TPU_UNIT_##unit;
#include "tpu_isa.def"
	}
	return TPU_UNIT_NONE;
}

static const char *const reg_names[] = {
#define TPU_REG(id, code, name, syn) [code] = name,
#include "tpu_isa.def"
};
_Static_assert(ARRAY_LEN(reg_names) == TPU_REG_COUNT, "register codes are not dense");

int sim_esize(const TpuSim *s)
{
	return s->reg[TPU_REG_PRECISION] == TPU_BF16 ? 2 : 1;
}

/* ---- saturating row arithmetic ---- */

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t sat_mul(uint64_t a, uint64_t b)
{
	return a != 0 && b > UINT64_MAX / a ? UINT64_MAX : a * b;
}

/* max over i < count (count >= 1, w >= 1) of (i / w) * sy + (i % w) * sx */
static uint64_t geom_max(uint64_t count, uint64_t w, uint64_t sy, uint64_t sx)
{
	uint64_t q = (count - 1) / w, last = (count - 1) % w;
	uint64_t m = sat_add(sat_mul(q, sy), sat_mul(last, sx));
	uint64_t full = q > 0 ? sat_add(sat_mul(q - 1, sy), sat_mul(w - 1, sx)) : 0;

	return m > full ? m : full;
}

static SimRange range(uint64_t lo, uint64_t span)
{
	SimRange r = { true, lo, sat_add(lo, span) };
	return r;
}

/* ---- diagnostics ---- */

static Status fail(Diag *d, size_t idx, TpuOp op, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static Status fail(Diag *d, size_t idx, TpuOp op, const char *fmt, ...)
{
	char buf[256];
	const char *name = sim_op_name(op);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	return diag_add(d, ST_INVALID, "instruction %zu (%s): %s", idx, name ? name : "?", buf);
}

static Status check_rows(Diag *d, size_t idx, TpuOp op, const char *what, SimRange r,
                         uint64_t limit)
{
	if (r.hi < limit)
		return ST_OK;
	return fail(d, idx, op, "%s rows %" PRIu64 "..%" PRIu64 " past the %" PRIu64 " rows",
		what, r.lo, r.hi, limit);
}

static Status check_bytes(Diag *d, size_t idx, TpuOp op, const char *what, uint64_t addr,
                          uint64_t n, uint64_t limit)
{
	uint64_t end = sat_add(addr, n);
	if (end <= limit)
		return ST_OK;
	return fail(d, idx, op, "%s bytes %" PRIu64 "..%" PRIu64 " past the %" PRIu64 " bytes",
		what, addr, end - 1, limit);
}

static Status check_count(Diag *d, size_t idx, const TpuInsn *in)
{
	return in->count ? ST_OK : fail(d, idx, in->op, "count is 0");
}

/* ---- per-opcode checks ---- */

static Status check_host(TpuSim *s, const TpuInsn *in, size_t idx, SimAccess *a, Diag *d)
{
	Status st;

	if (in->len < 1 || in->len > (uint32_t)s->cfg.width)
		return fail(d, idx, in->op, "len %" PRIu32 " is not in 1..%d", in->len, s->cfg.width);
	if ((st = check_count(d, idx, in)))
		return st;
	a->bytes = (uint64_t)in->count * in->len * (uint64_t)sim_esize(s);
	if (in->op == TPU_READ_HOST)
		a->ub_write = range(in->ub_row, in->count - 1);
	else
		a->ub_read = range(in->ub_row, in->count - 1);
	st = check_rows(d, idx, in->op, "unified-buffer",
		in->op == TPU_READ_HOST ? a->ub_write : a->ub_read, (uint64_t)s->cfg.ub_rows);
	if (st)
		return st;
	return check_bytes(d, idx, in->op, "host memory", in->host_addr, a->bytes, s->host_bytes);
}

/* A tile's elements outside its used rows x cols must be zero (all bits),
 * so that multiplying only the used extent is multiplying the tile. */
static Status check_padding(TpuSim *s, const TpuInsn *in, size_t idx, Diag *d)
{
	size_t es = (size_t)sim_esize(s), rowb = (size_t)s->cfg.width * es;
	const uint8_t *p = s->wdram + in->dram_addr;

	for (size_t r = 0; r < (size_t)s->cfg.height; r++) {
		size_t from = r < in->rows ? in->cols * es : 0;
		for (size_t b = from; b < rowb; b++)
			if (p[r * rowb + b])
				return fail(d, idx, in->op, "the tile's padding is not zero at row %zu, "
					"column %zu (used %" PRIu32 " x %" PRIu32 ")", r, b / es, in->rows,
					in->cols);
	}
	return ST_OK;
}

static Status check_weights(TpuSim *s, const TpuInsn *in, size_t idx, SimAccess *a, Diag *d)
{
	const TpuConfig *c = &s->cfg;
	Status st;

	if (in->cols < 1 || in->cols > (uint32_t)c->width)
		return fail(d, idx, in->op, "cols %" PRIu32 " is not in 1..%d", in->cols, c->width);
	if (in->flags & ~(uint32_t)TPU_RW_PARAM)
		return fail(d, idx, in->op, "unknown flags 0x%" PRIx32, in->flags);
	if (in->flags & TPU_RW_PARAM) {
		if (in->slot >= (uint32_t)c->param_slots)
			return fail(d, idx, in->op, "parameter slot %" PRIu32 " past the %d slots",
				in->slot, c->param_slots);
		if (in->rows > 1)
			return fail(d, idx, in->op, "rows %" PRIu32 " for parameters (want 1)", in->rows);
		a->bytes = (uint64_t)in->cols * TPU_PARAM_BYTES;
	} else {
		if (in->rows < 1 || in->rows > (uint32_t)c->height)
			return fail(d, idx, in->op, "rows %" PRIu32 " is not in 1..%d", in->rows,
				c->height);
		if (s->fifo_count == c->fifo_depth)
			return fail(d, idx, in->op, "the weight FIFO is full (%d tiles) and no earlier "
				"matrix_multiply pops one", c->fifo_depth);
		a->bytes = (uint64_t)c->height * (uint64_t)c->width * (uint64_t)sim_esize(s);
	}
	st = check_bytes(d, idx, in->op, "weight DRAM", in->dram_addr, a->bytes, s->wdram_bytes);
	if (st || !s->functional || (in->flags & TPU_RW_PARAM))
		return st;
	return check_padding(s, in, idx, d);
}

static Status check_tile(TpuSim *s, const TpuInsn *in, size_t idx, Diag *d)
{
	const SimTile *t = &s->array;
	int prec = (int)s->reg[TPU_REG_PRECISION];

	if (in->flags & TPU_MM_SWITCH) {
		if (s->fifo_count == 0)
			return fail(d, idx, in->op, "switch with an empty weight FIFO");
		t = &s->fifo[s->fifo_head];
	} else if (!s->array_loaded) {
		return fail(d, idx, in->op, "no weight tile in the array");
	}
	if (t->precision != prec)
		return fail(d, idx, in->op, "the weight tile was read in %s mode, multiplied in %s",
			t->precision == TPU_BF16 ? "bf16" : "int8", prec == TPU_BF16 ? "bf16" : "int8");
	return ST_OK;
}

static Status check_matmul(TpuSim *s, const TpuInsn *in, size_t idx, SimAccess *a, Diag *d)
{
	const uint32_t *r = s->reg;
	uint64_t span = in->count - 1;
	Status st;

	if (in->flags & ~(uint32_t)(TPU_MM_ACC | TPU_MM_SWITCH | TPU_MM_CONV))
		return fail(d, idx, in->op, "unknown flags 0x%" PRIx32, in->flags);
	if ((st = check_count(d, idx, in)) || (st = check_tile(s, in, idx, d)))
		return st;
	if (in->flags & TPU_MM_CONV) {
		if (r[TPU_REG_MM_ROW_W] == 0)
			return fail(d, idx, in->op, "conv addressing with mm_row_w 0");
		span = geom_max(in->count, r[TPU_REG_MM_ROW_W], r[TPU_REG_MM_STEP_Y],
			r[TPU_REG_MM_STEP_X]);
	}
	a->ub_read = range(in->ub_row, span);
	a->acc_write = range(in->acc_row, in->count - 1);
	a->busy = in->count;
	if ((st = check_rows(d, idx, in->op, "unified-buffer", a->ub_read,
			(uint64_t)s->cfg.ub_rows)))
		return st;
	return check_rows(d, idx, in->op, "accumulator", a->acc_write, (uint64_t)s->cfg.acc_rows);
}

/* Pooling reads every POOL_* register; each must be at least 1. */
static Status check_pool_regs(TpuSim *s, const TpuInsn *in, size_t idx, Diag *d)
{
	static const TpuReg regs[] = { TPU_REG_POOL_KH, TPU_REG_POOL_KW, TPU_REG_POOL_SY,
		TPU_REG_POOL_SX, TPU_REG_POOL_IN_W, TPU_REG_POOL_OUT_W };

	for (size_t i = 0; i < ARRAY_LEN(regs); i++)
		if (s->reg[regs[i]] == 0)
			return fail(d, idx, in->op, "pooling with %s 0", reg_names[regs[i]]);
	return ST_OK;
}

static Status check_activate(TpuSim *s, const TpuInsn *in, size_t idx, SimAccess *a, Diag *d)
{
	const uint32_t *r = s->reg;
	uint64_t span = in->count - 1, out = in->count - 1;
	Status st;

	if (in->flags & ~(uint32_t)TPU_ACT_GEOM)
		return fail(d, idx, in->op, "unknown flags 0x%" PRIx32, in->flags);
	if (in->func >= TPU_FUNC_COUNT)
		return fail(d, idx, in->op, "unknown activation function %" PRIu32, in->func);
	if (in->pool >= TPU_POOL_COUNT)
		return fail(d, idx, in->op, "unknown pooling mode %" PRIu32, in->pool);
	if (in->slot >= (uint32_t)s->cfg.param_slots)
		return fail(d, idx, in->op, "parameter slot %" PRIu32 " past the %d slots", in->slot,
			s->cfg.param_slots);
	if ((st = check_count(d, idx, in)))
		return st;
	a->busy = in->count;
	if (in->pool != TPU_POOL_NONE) {
		if ((st = check_pool_regs(s, in, idx, d)))
			return st;
		span = sat_add(geom_max(in->count, r[TPU_REG_POOL_OUT_W],
				sat_mul(r[TPU_REG_POOL_SY], r[TPU_REG_POOL_IN_W]), r[TPU_REG_POOL_SX]),
			sat_add(sat_mul(r[TPU_REG_POOL_KH] - 1, r[TPU_REG_POOL_IN_W]),
				r[TPU_REG_POOL_KW] - 1));
		a->busy = sat_mul(in->count, sat_mul(r[TPU_REG_POOL_KH], r[TPU_REG_POOL_KW]));
	}
	if (in->flags & TPU_ACT_GEOM) {
		if (r[TPU_REG_ACT_OUT_W] == 0)
			return fail(d, idx, in->op, "geometry with act_out_w 0");
		out = geom_max(in->count, r[TPU_REG_ACT_OUT_W], r[TPU_REG_ACT_OUT_STEP_Y], 1);
	}
	a->acc_read = range(in->acc_row, span);
	a->ub_write = range(in->ub_row, out);
	if ((st = check_rows(d, idx, in->op, "accumulator", a->acc_read,
			(uint64_t)s->cfg.acc_rows)))
		return st;
	return check_rows(d, idx, in->op, "unified-buffer", a->ub_write, (uint64_t)s->cfg.ub_rows);
}

static Status check_config(const TpuInsn *in, size_t idx, Diag *d)
{
	if (in->reg >= TPU_REG_COUNT)
		return fail(d, idx, in->op, "unknown register %" PRIu32, in->reg);
	if (in->reg == TPU_REG_PRECISION && in->value > TPU_BF16)
		return fail(d, idx, in->op, "precision %" PRIu32 " is neither 0 (int8) nor 1 (bf16)",
			in->value);
	return ST_OK;
}

static Status sim_check(TpuSim *s, const TpuInsn *in, size_t idx, SimAccess *a, Diag *d)
{
	memset(a, 0, sizeof *a);
	switch (in->op) {
	case TPU_NOP:
	case TPU_HALT:
		return ST_OK;
	case TPU_SYNC:
		if (in->mask & ~0xfu)
			return fail(d, idx, in->op, "mask 0x%" PRIx32 " has bits past 0xf", in->mask);
		return ST_OK;
	case TPU_SET_CONFIG:
		return check_config(in, idx, d);
	case TPU_READ_HOST:
	case TPU_WRITE_HOST:
		return check_host(s, in, idx, a, d);
	case TPU_READ_WEIGHTS:
		return check_weights(s, in, idx, a, d);
	case TPU_MATMUL:
		return check_matmul(s, in, idx, a, d);
	case TPU_ACTIVATE:
		return check_activate(s, in, idx, a, d);
	}
	return diag_add(d, ST_INVALID, "instruction %zu: unknown opcode 0x%02x", idx,
		(unsigned)in->op);
}

/* ---- machine state ---- */

TpuSim *tpu_sim_new(const TpuConfig *cfg, uint8_t *host, uint64_t host_bytes,
                    const uint8_t *wdram, uint64_t wdram_bytes)
{
	TpuSim *s = nnac_malloc(sizeof *s);

	if (!s)
		return NULL;
	memset(s, 0, sizeof *s);
	s->cfg = *cfg;
	s->host = host;
	s->host_bytes = host_bytes;
	s->wdram = wdram;
	s->wdram_bytes = wdram_bytes;
	s->functional = true;
	return s;
}

static void free_tiles(TpuSim *s)
{
	if (s->fifo)
		for (int i = 0; i < s->cfg.fifo_depth; i++)
			nnac_free(s->fifo[i].data);
	nnac_free(s->fifo);
	nnac_free(s->array.data);
}

void tpu_sim_free(TpuSim *s)
{
	if (!s)
		return;
	free_tiles(s);
	nnac_free(s->ub);
	nnac_free(s->acc);
	nnac_free(s->param);
	nnac_free(s->xbuf);
	nnac_free(s->wbuf);
	nnac_free(s->ibuf);
	nnac_free(s->t.fifo_free);
	nnac_free(s->t.param_ready);
	nnac_free(s->t.param_read);
	nnac_free(s->t.board);
	nnac_free(s);
}

void tpu_sim_set_functional(TpuSim *s, bool on)
{
	s->functional = on;
}

const TpuCounters *tpu_sim_counters(const TpuSim *s)
{
	return &s->ctr;
}

uint32_t tpu_sim_acc_word(const TpuSim *s, uint64_t row, int col)
{
	if (!s->acc || row >= (uint64_t)s->cfg.acc_rows || col < 0 || col >= s->cfg.width)
		return 0;
	return s->acc[(size_t)row * (size_t)s->cfg.width + (size_t)col].u;
}

static bool positive(double x)
{
	return x > 0 && isfinite(x);
}

static Status check_cfg(const TpuConfig *c, Diag *d)
{
	const char *bad = NULL;

	if (c->height < 1 || c->height > 65535 || c->width < 1 || c->width > 65535)
		bad = "the array must be 1..65535 on each side";
	else if (c->height > c->width)
		bad = "the array's height exceeds its width (a unified-buffer row feeds the inputs)";
	else if (c->ub_rows < 1 || (uint64_t)c->ub_rows > SIZE_MAX / 2 / (uint64_t)c->width)
		bad = "ub_rows is not positive or too large";
	else if (c->acc_rows < 1 || (uint64_t)c->acc_rows > SIZE_MAX / 4 / (uint64_t)c->width)
		bad = "acc_rows is not positive or too large";
	else if (c->fifo_depth < 1 || c->fifo_depth > 1024)
		bad = "fifo_depth is not in 1..1024";
	else if (c->param_slots < 1 || c->param_slots > 256)
		bad = "param_slots is not in 1..256";
	else if (!positive(c->clock_hz) || !positive(c->dram_bytes_per_s) ||
		 !positive(c->host_bytes_per_s))
		bad = "clock and bandwidths must be positive";
	else if (c->precision != TPU_INT8 && c->precision != TPU_BF16)
		bad = "precision is neither int8 nor bf16";
	return bad ? diag_add(d, ST_INVALID, "tpu config: %s", bad) : ST_OK;
}

static void *alloc_array(size_t n, size_t elem)
{
	return n > SIZE_MAX / elem ? NULL : nnac_malloc(n * elem);
}

/* The buffers every run needs; the memories only for functional runs.  A
 * buffer is allocated once, on the first run that needs it; after a
 * failure the next run tries again for those still missing. */
static Status alloc_state(TpuSim *s, Diag *d)
{
	const TpuConfig *c = &s->cfg;
	size_t tile = (size_t)c->height * (size_t)c->width * sizeof(float);
	size_t w = (size_t)c->width, slots = (size_t)c->param_slots;

	if (!s->fifo && (s->fifo = alloc_array((size_t)c->fifo_depth, sizeof *s->fifo)))
		memset(s->fifo, 0, (size_t)c->fifo_depth * sizeof *s->fifo);
	if (!s->fifo)
		goto nomem;
	for (int i = 0; i < c->fifo_depth; i++)
		if (!s->fifo[i].data && !(s->fifo[i].data = nnac_malloc(tile)))
			goto nomem;
	if (!s->array.data)
		s->array.data = nnac_malloc(tile);
	if (!s->param)
		s->param = alloc_array(slots * w, sizeof *s->param);
	if (!s->xbuf)
		s->xbuf = alloc_array((size_t)c->height, sizeof *s->xbuf);
	if (!s->wbuf)
		s->wbuf = alloc_array(w, sizeof *s->wbuf);
	if (!s->ibuf)
		s->ibuf = alloc_array(w, sizeof *s->ibuf);
	if (!s->t.fifo_free)
		s->t.fifo_free = alloc_array((size_t)c->fifo_depth, sizeof *s->t.fifo_free);
	if (!s->t.param_ready)
		s->t.param_ready = alloc_array(slots, sizeof *s->t.param_ready);
	if (!s->t.param_read)
		s->t.param_read = alloc_array(slots, sizeof *s->t.param_read);
	if (!s->array.data || !s->param || !s->xbuf || !s->wbuf || !s->ibuf || !s->t.fifo_free ||
	    !s->t.param_ready || !s->t.param_read)
		goto nomem;
	if (s->functional && !s->ub)
		s->ub = alloc_array((size_t)c->ub_rows, w * 2);
	if (s->functional && !s->acc)
		s->acc = alloc_array((size_t)c->acc_rows, w * sizeof *s->acc);
	if (s->functional && (!s->ub || !s->acc))
		goto nomem;
	return ST_OK;
nomem:
	return diag_add(d, ST_NOMEM, "tpu sim: out of memory for the machine state");
}

static void reset(TpuSim *s)
{
	const TpuConfig *c = &s->cfg;
	size_t nparam = (size_t)c->param_slots * (size_t)c->width;

	memset(s->reg, 0, sizeof s->reg);
	s->reg[TPU_REG_PRECISION] = (uint32_t)c->precision;
	if (s->functional) {
		memset(s->ub, 0, (size_t)c->ub_rows * (size_t)c->width * 2);
		memset(s->acc, 0, (size_t)c->acc_rows * (size_t)c->width * sizeof *s->acc);
	}
	for (size_t i = 0; i < nparam; i++)
		s->param[i] = (SimParam){ 0, 1.0f, 1.0f, 0 };
	s->fifo_head = s->fifo_count = 0;
	s->array_loaded = false;
	memset(&s->ctr, 0, sizeof s->ctr);
	sim_time_reset(s);
}

/* The switch of a matrix_multiply: the FIFO's head tile goes into the
 * array; the buffers trade places so that no tile is copied. */
static void fifo_pop(TpuSim *s)
{
	SimTile *head = &s->fifo[s->fifo_head];
	void *old = s->array.data;

	s->array = *head;
	head->data = old;
	s->popped_slot = s->fifo_head;
	s->fifo_head = (s->fifo_head + 1) % s->cfg.fifo_depth;
	s->fifo_count--;
	s->array_loaded = true;
}

/* The state changes every run makes, functional or not. */
static void apply(TpuSim *s, const TpuInsn *in, const SimAccess *a)
{
	switch (in->op) {
	case TPU_SET_CONFIG:
		s->reg[in->reg] = in->value;
		break;
	case TPU_READ_WEIGHTS:
		s->ctr.weight_bytes += a->bytes;
		if (!(in->flags & TPU_RW_PARAM)) {
			SimTile *t = &s->fifo[(s->fifo_head + s->fifo_count) % s->cfg.fifo_depth];
			t->rows = (int)in->rows;
			t->cols = (int)in->cols;
			t->precision = (int)s->reg[TPU_REG_PRECISION];
			s->fifo_count++;
		}
		break;
	case TPU_READ_HOST:
	case TPU_WRITE_HOST:
		s->ctr.host_bytes += a->bytes;
		break;
	case TPU_MATMUL:
		s->ctr.useful_macs += (uint64_t)in->count * (uint64_t)s->array.rows *
			(uint64_t)s->array.cols;
		break;
	case TPU_NOP:
	case TPU_HALT:
	case TPU_SYNC:
	case TPU_ACTIVATE:
		break;
	}
}

static Status push_trace(TpuTraceRec **trace, size_t *n, size_t *cap, const TpuTraceRec *r)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 256;
		TpuTraceRec *t = nnac_realloc(*trace, ncap * sizeof *t);
		if (!t)
			return ST_NOMEM;
		*trace = t;
		*cap = ncap;
	}
	(*trace)[(*n)++] = *r;
	return ST_OK;
}

/* The functional run needs the memories it reads and writes. */
static Status check_memories(const TpuSim *s, Diag *d)
{
	if (!s->functional)
		return ST_OK;
	if ((!s->host && s->host_bytes) || (!s->wdram && s->wdram_bytes))
		return diag_add(d, ST_INVALID, "tpu sim: a functional run without host memory "
			"or weight DRAM");
	return ST_OK;
}

static Status run_insn(TpuSim *s, const TpuInsn *in, size_t idx, TpuTraceRec *rec, Diag *d)
{
	SimAccess a;
	Status st = sim_check(s, in, idx, &a, d);

	if (st)
		return st;
	if (in->op == TPU_MATMUL && (in->flags & TPU_MM_SWITCH))
		fifo_pop(s);
	if ((st = sim_time_insn(s, in, &a, rec)))
		return diag_add(d, st, "tpu sim: out of memory for the scoreboard");
	rec->index = (uint32_t)idx;
	if (s->functional)
		sim_exec_insn(s, in);
	apply(s, in, &a);
	s->ctr.insns++;
	return ST_OK;
}

Status tpu_sim_run(TpuSim *s, const TpuInsn *prog, size_t n, TpuTraceRec **trace,
                   size_t *ntrace, Diag *d)
{
	TpuTraceRec rec;
	size_t cap = 0, nt = 0;
	TpuTraceRec *tr = NULL;
	Status st;

	if (trace) {
		*trace = NULL;
		*ntrace = 0;
	}
	if ((st = check_cfg(&s->cfg, d)) || (st = check_memories(s, d)) ||
	    (st = alloc_state(s, d)))
		return st;
	reset(s);
	for (size_t i = 0; i < n; i++) {
		if ((st = run_insn(s, &prog[i], i, &rec, d)))
			goto fail;
		if (trace && (st = push_trace(&tr, &nt, &cap, &rec))) {
			diag_add(d, st, "tpu sim: out of memory for the trace");
			goto fail;
		}
		if (prog[i].op == TPU_HALT) {
			sim_time_finish(s);
			if (trace) {
				*trace = tr;
				*ntrace = nt;
			}
			return ST_OK;
		}
	}
	st = n ? fail(d, n - 1, prog[n - 1].op, "the program ends without halt")
	       : diag_add(d, ST_INVALID, "tpu sim: the program is empty (no halt)");
fail:
	free(tr);
	if (trace) {
		*trace = NULL;
		*ntrace = 0;
	}
	return st;
}

/* ---- the counter table ---- */

static void print_cat(FILE *f, const char *name, uint64_t v, uint64_t cycles)
{
	fprintf(f, "  %-22s %14" PRIu64 "  %6.1f %%\n", name, v,
		cycles ? 100.0 * (double)v / (double)cycles : 0.0);
}

void tpu_counters_print(FILE *f, const TpuCounters *c)
{
	uint64_t slots = c->useful_macs + c->unused_macs;

	fprintf(f, "  %-22s %14" PRIu64 "  (%.2f us)\n", "cycles", c->cycles, c->seconds * 1e6);
	print_cat(f, "array active", c->array_active, c->cycles);
	print_cat(f, "weight stall", c->weight_stall, c->cycles);
	print_cat(f, "weight shift", c->weight_shift, c->cycles);
	print_cat(f, "raw stall", c->raw_stall, c->cycles);
	print_cat(f, "input stall", c->input_stall, c->cycles);
	print_cat(f, "non-matrix", c->non_matrix, c->cycles);
	fprintf(f, "  %-22s %14" PRIu64 "  %6.1f %% of the active array's MACs\n", "useful MACs",
		c->useful_macs, slots ? 100.0 * (double)c->useful_macs / (double)slots : 0.0);
	fprintf(f, "  %-22s %14" PRIu64 "\n", "unused MACs", c->unused_macs);
	fprintf(f, "  %-22s %14.2f  of %.2f peak (%.1f %%)\n", "TOPS", c->tops, c->peak_tops,
		c->peak_tops > 0 ? 100.0 * c->tops / c->peak_tops : 0.0);
	fprintf(f, "  %-22s %14" PRIu64 "\n", "instructions", c->insns);
	fprintf(f, "  %-22s %14" PRIu64 "\n", "weight DRAM bytes", c->weight_bytes);
	fprintf(f, "  %-22s %14" PRIu64 "\n", "host bytes", c->host_bytes);
}
