/*
 * TPU code generation: places the plan's tensors (host memory, or resident
 * in the unified buffer), lays the weight tiles and activation parameters
 * out in weight DRAM, and emits each segment's instructions.
 *
 * A matrix layer runs weight stationary, output-channel block by block.
 * Its output is computed in bands of whole output lines that fit half the
 * accumulators, the two halves alternating so that the array fills one
 * while activate drains the other.  For every band and output block, each
 * (input block, kernel row, kernel column) weight tile is switched into the
 * array and one matrix_multiply with convolution addressing streams the
 * band's input pixels through it (no im2col copy); activate then applies
 * bias, scale, function and pooling and writes the unified buffer.
 *
 * An input in host memory is read band by band into one of two unified-
 * buffer windows, the next band's read issued before the current band's
 * arithmetic so the DMA overlaps it; an output in host memory is written
 * back from a window after each band.  A tensor that stays within one
 * segment between matrix layers is resident in the unified buffer when it
 * fits; every other one lives in host memory (a model too big for the chip
 * spills through the host).
 *
 * Read_weights for tile t+D (D the FIFO depth) is placed after the
 * matrix_multiply that consumes tile t, so weight DRAM runs ahead of the
 * array by the whole FIFO.
 */
#include <stdlib.h>
#include <string.h>

#include "tpu.h"

/* An instruction before scheduling: matrix_multiply with switch carries
 * the DRAM address of its tile, the weight loads are placed later. */
typedef struct Op {
	TpuInsn in;
	int64_t tile;        /* matrix_multiply with switch: DRAM address; else -1 */
	int tile_rows, tile_cols;
} Op;

typedef struct Emit {
	Graph *g;
	TpuPlan *p;
	Op *ops;
	size_t nops, cap;
	uint32_t reg[TPU_REG_COUNT];
	bool reg_known[TPU_REG_COUNT];
	int64_t ub_free;     /* first unified-buffer row not resident */
	int slot;            /* next activation parameter slot */
	int acc_half;        /* which half of the accumulators the next band uses */
	int out_win;         /* which output window the next band uses */
	bool windows_failed; /* a layer's windows did not fit the free unified buffer */
	uint8_t *wd;         /* weight DRAM image */
	uint64_t wd_bytes, wd_cap;
} Emit;

static Status oom(Emit *e) { return graph_oom(e->g); }

static Status push(Emit *e, const TpuInsn *in, int64_t tile, int rows, int cols)
{
	if (e->nops == e->cap) {
		size_t cap = e->cap ? 2 * e->cap : 1024;
		Op *n = nnac_realloc(e->ops, cap * sizeof(*n));
		if (!n)
			return oom(e);
		e->ops = n;
		e->cap = cap;
	}
	e->ops[e->nops++] = (Op){*in, tile, rows, cols};
	return ST_OK;
}

static Status emit(Emit *e, const TpuInsn *in) { return push(e, in, -1, 0, 0); }

static Status set_reg(Emit *e, TpuReg r, uint32_t v)
{
	if (e->reg_known[r] && e->reg[r] == v)
		return ST_OK;
	e->reg[r] = v;
	e->reg_known[r] = true;
	return emit(e, &(TpuInsn){.op = TPU_SET_CONFIG, .reg = r, .value = v});
}

/* Appends n bytes to weight DRAM at a 64-byte boundary; returns the address
 * or -1 when out of memory or past the 32-bit address space. */
static int64_t wd_alloc(Emit *e, uint64_t n)
{
	uint64_t at = (e->wd_bytes + 63) & ~(uint64_t)63;

	if (at + n > UINT32_MAX)
		return -1;
	if (at + n > e->wd_cap) {
		uint64_t cap = e->wd_cap ? e->wd_cap : 1 << 20;
		while (cap < at + n)
			cap *= 2;
		uint8_t *w = nnac_realloc(e->wd, cap);
		if (!w)
			return -1;
		memset(w + e->wd_cap, 0, cap - e->wd_cap);
		e->wd = w;
		e->wd_cap = cap;
	}
	e->wd_bytes = at + n;
	return (int64_t)at;
}

static void put32(uint8_t *b, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t fbits(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	return u;
}

/* ---- placement ---- */

/* Padding each matrix layer needs around its input image. */
static void pad_inputs(TpuPlan *p)
{
	for (int i = 0; i < p->nl; i++) {
		TpuLayer *l = &p->l[i];
		TpuTensor *t;
		if (l->kind != TPU_LAYER_MATRIX)
			continue;
		t = &p->t[l->in];
		int64_t pb = (l->oh - 1) * l->sh + (l->r - 1) * l->dh + 1 - l->pt - t->h;
		int64_t pr = (l->ow - 1) * l->sw + (l->s - 1) * l->dw + 1 - l->pl - t->w;
		t->pt = l->pt > t->pt ? l->pt : t->pt;
		t->pl = l->pl > t->pl ? l->pl : t->pl;
		t->pb = pb > t->pb ? pb : t->pb;
		t->pr = pr > t->pr ? pr : t->pr;
	}
}

/* The segment that produces tensor ti with a matrix layer, -1 otherwise;
 * whether every reader is a matrix layer of that segment. */
static bool stays_in_segment(const TpuPlan *p, int ti, int *segment)
{
	int prod = -1;

	for (int i = 0; i < p->nl; i++)
		if (p->l[i].kind == TPU_LAYER_MATRIX && p->l[i].out == ti)
			prod = i;
	for (int i = 0; i < p->nl; i++) {
		const TpuLayer *l = &p->l[i];
		if (l->kind == TPU_LAYER_HOST)
			for (int j = 0; j < l->nins; j++)
				if (l->ins[j] == ti)
					return false;
	}
	if (prod < 0)
		return false;
	*segment = p->l[prod].segment;
	for (int i = 0; i < p->nl; i++)
		if (p->l[i].kind == TPU_LAYER_MATRIX && p->l[i].in == ti && p->l[i].segment != *segment)
			return false;
	return true;
}

static bool graph_output(const Emit *e, int ti)
{
	for (int i = 0; i < e->g->noutputs; i++)
		if (e->p->graph_out[i] == ti)
			return true;
	return false;
}

/* Resident tensors of segment sg, bump allocated from row 0. */
static void place_segment(Emit *e, int sg)
{
	TpuPlan *p = e->p;
	int64_t half = p->cfg.ub_rows / 2;

	e->ub_free = 0;
	for (int i = 0; i < p->nt; i++) {
		TpuTensor *t = &p->t[i];
		int in_seg;
		int64_t rows = tpu_blocks(t, p->cfg.height) * t->nimg * tpu_image_rows(t);
		if (t->loc != TPU_LOC_NONE || !t->matrix || graph_output(e, i) ||
		    !stays_in_segment(p, i, &in_seg) || in_seg != sg || e->ub_free + rows > half)
			continue;
		t->loc = TPU_LOC_UB;
		t->ub_row = e->ub_free;
		e->ub_free += rows;
	}
}

static Status place_host(Emit *e)
{
	TpuPlan *p = e->p;
	int es = tpu_esize(p->precision);

	for (int i = 0; i < p->nt; i++) {
		TpuTensor *t = &p->t[i];
		if (t->loc != TPU_LOC_NONE || !t->matrix)
			continue;
		t->loc = TPU_LOC_HOST;
		p->host_bytes = (p->host_bytes + 63) & ~(uint64_t)63;
		t->host_addr = p->host_bytes;
		p->host_bytes += tpu_host_bytes(t, es);
		if (p->host_bytes > UINT32_MAX)
			return graph_error(e->g, ST_UNSUPPORTED, "tensor '%s': host memory past 4 GiB, "
			                   "the reach of read_host_memory", e->g->tensors[t->gt].name);
	}
	return ST_OK;
}

/* ---- weights ---- */

/* Lays out tile (kb, cb, r, s) of layer l in weight DRAM: its address, or
 * TILE_ZERO when every weight of it is zero (the tile is then skipped), or
 * -1 past the address space. */
enum { TILE_ZERO = -2 };

static int64_t tile_dram(Emit *e, const TpuLayer *l, int64_t kb, int64_t cb, int64_t r, int64_t s,
                         bool keep_zero)
{
	const TpuConfig *c = &e->p->cfg;
	int es = tpu_esize(e->p->precision);
	int64_t at = wd_alloc(e, (uint64_t)c->height * c->width * es);
	bool zero = true;

	if (at < 0)
		return -1;
	for (int64_t ci = 0; ci < c->height && cb * c->height + ci < l->c; ci++) {
		for (int64_t ki = 0; ki < c->width && kb * c->width + ki < l->k; ki++) {
			int64_t idx = (((kb * c->width + ki) * l->c + cb * c->height + ci) * l->r + r) * l->s + s;
			uint8_t *dst = e->wd + at + (ci * c->width + ki) * es;
			uint16_t v = es == 1 ? (uint8_t)((int8_t *)l->wq)[idx] : ((uint16_t *)l->wq)[idx];
			dst[0] = (uint8_t)v;
			if (es == 2)
				dst[1] = (uint8_t)(v >> 8);
			zero &= v == 0;
		}
	}
	if (zero && !keep_zero) {
		e->wd_bytes = (uint64_t)at;     /* give the zero tile back */
		return TILE_ZERO;
	}
	return at;
}

/* Every tile of layer l, [kb][cb][r][s]; an output block whose tiles are
 * all zero keeps its last one, which still overwrites the accumulators. */
static Status lay_tiles(Emit *e, const TpuLayer *l, int64_t nkb, int64_t nblk, int64_t **tiles)
{
	int64_t per = nblk * l->r * l->s;
	int64_t *at = nnac_malloc((size_t)(nkb * per) * sizeof(int64_t));

	if (!at)
		return oom(e);
	for (int64_t kb = 0; kb < nkb; kb++) {
		bool any = false;
		for (int64_t i = 0; i < per; i++) {
			at[kb * per + i] = tile_dram(e, l, kb, i / (l->r * l->s), i / l->s % l->r, i % l->s,
			                             i == per - 1 && !any);
			if (at[kb * per + i] == -1) {
				nnac_free(at);
				return graph_error(e->g, ST_UNSUPPORTED, "layer '%s': weight DRAM past 4 GiB", l->name);
			}
			any |= at[kb * per + i] >= 0;
		}
	}
	*tiles = at;
	return ST_OK;
}

/* Activation parameters of output block kb into a slot; returns it. */
static Status load_params(Emit *e, const TpuLayer *l, int64_t kb, int *slot)
{
	TpuPlan *p = e->p;
	int w = p->cfg.width;
	int64_t cols = l->k - kb * w < w ? l->k - kb * w : w;
	int64_t at = wd_alloc(e, (uint64_t)cols * TPU_PARAM_BYTES);
	float sx = p->t[l->in].scale, sy = p->t[l->out].scale;

	if (at < 0)
		return graph_error(e->g, ST_UNSUPPORTED, "layer '%s': weight DRAM past 4 GiB", l->name);
	for (int64_t i = 0; i < cols; i++) {
		uint8_t *b = e->wd + at + i * TPU_PARAM_BYTES;
		int64_t k = kb * w + i;
		if (p->precision == TPU_BF16) {
			put32(b, fbits(l->bias_f[k]));
			put32(b + 4, fbits(1.0f));
			put32(b + 8, fbits(1.0f));
		} else {
			put32(b, (uint32_t)l->bias_q[k]);
			put32(b + 4, fbits(sx * l->wscale[k]));
			put32(b + 8, fbits(sy));
		}
		put32(b + 12, 0);
	}
	*slot = e->slot;
	e->slot = (e->slot + 1) % p->cfg.param_slots;
	return emit(e, &(TpuInsn){.op = TPU_READ_WEIGHTS, .flags = TPU_RW_PARAM, .dram_addr = (uint32_t)at,
	                          .rows = 1, .cols = (uint32_t)cols, .slot = (uint32_t)*slot});
}

/* ---- one matrix layer ---- */

typedef struct Band {
	int64_t n;           /* image */
	int64_t py, npy;     /* pooled output lines */
	int64_t cy, ncy;     /* convolution output lines */
	int64_t cx, ncx;     /* convolution output columns (a chunk of a long line) */
	int64_t iy, niy;     /* input lines read (unpadded coordinates, may be negative) */
} Band;

typedef struct Window {
	int64_t base[2];     /* the two unified-buffer windows */
	int64_t rows;        /* rows of one window */
	int64_t block_rows;  /* rows of one channel block in an input window */
} Window;

static void band_lines(const TpuLayer *l, Band *b)
{
	b->cy = b->py * l->psy;
	b->ncy = (b->npy - 1) * l->psy + l->pkh;
	b->iy = b->cy * l->sh - l->pt;
	b->niy = (b->ncy - 1) * l->sh + (l->r - 1) * l->dh + 1;
}

/* Reads input lines iy .. iy+niy of image n into window w (every block). */
static Status read_window(Emit *e, const TpuLayer *l, const Band *b, int64_t base, int64_t block_rows)
{
	TpuPlan *p = e->p;
	const TpuTensor *t = &p->t[l->in];
	int es = tpu_esize(p->precision);
	int64_t wp = t->w + t->pl + t->pr;

	for (int64_t cb = 0; cb < tpu_blocks(t, p->cfg.height); cb++) {
		int64_t row = tpu_row(t, cb, b->n, b->iy, -t->pl);
		TpuInsn in = {.op = TPU_READ_HOST, .ub_row = (uint32_t)(base + cb * block_rows),
		              .count = (uint32_t)(b->niy * wp), .len = (uint32_t)tpu_block_len(t, p->cfg.height, cb)};
		in.host_addr = (uint32_t)(t->host_addr + tpu_host_offset(t, p->cfg.height, es, cb, row));
		Status st = emit(e, &in);
		if (st)
			return st;
	}
	return ST_OK;
}

/* The unified-buffer row of input (cb, y, x) for band b. */
static int64_t input_row(const Emit *e, const TpuLayer *l, const Band *b, int64_t base,
                         int64_t block_rows, int64_t cb, int64_t y, int64_t x)
{
	const TpuTensor *t = &e->p->t[l->in];
	int64_t wp = t->w + t->pl + t->pr;

	if (t->loc == TPU_LOC_UB)
		return t->ub_row + tpu_row(t, cb, b->n, y, x);
	return base + cb * block_rows + (y - b->iy) * wp + x + t->pl;
}

static Status band_matmuls(Emit *e, const TpuLayer *l, const Band *b, int64_t base, int64_t block_rows,
                           int64_t kb, int64_t acc, const int64_t *tiles)
{
	TpuPlan *p = e->p;
	const TpuTensor *t = &p->t[l->in];
	int64_t wp = t->w + t->pl + t->pr, nblk = tpu_blocks(t, p->cfg.height);
	int cols = (int)(l->k - kb * p->cfg.width < p->cfg.width ? l->k - kb * p->cfg.width : p->cfg.width);
	bool first = true;
	Status st;

	if ((st = set_reg(e, TPU_REG_MM_ROW_W, (uint32_t)b->ncx)) ||
	    (st = set_reg(e, TPU_REG_MM_STEP_X, (uint32_t)l->sw)) ||
	    (st = set_reg(e, TPU_REG_MM_STEP_Y, (uint32_t)(l->sh * wp))))
		return st;
	for (int64_t cb = 0; cb < nblk; cb++) {
		for (int64_t r = 0; r < l->r; r++) {
			for (int64_t s = 0; s < l->s; s++) {
				int64_t at = tiles[((kb * nblk + cb) * l->r + r) * l->s + s];
				if (at < 0)
					continue;
				int64_t y = b->cy * l->sh - l->pt + r * l->dh, x = b->cx * l->sw - l->pl + s * l->dw;
				TpuInsn in = {.op = TPU_MATMUL, .flags = TPU_MM_SWITCH | TPU_MM_CONV | (first ? 0 : TPU_MM_ACC),
				              .ub_row = (uint32_t)input_row(e, l, b, base, block_rows, cb, y, x),
				              .acc_row = (uint32_t)acc, .count = (uint32_t)(b->ncy * b->ncx)};
				if ((st = push(e, &in, at, (int)tpu_block_len(t, p->cfg.height, cb), cols)))
					return st;
				first = false;
			}
		}
	}
	return ST_OK;
}

static Status band_activate(Emit *e, const TpuLayer *l, const Band *b, int64_t kb, int64_t acc,
                            int slot, int64_t out_base)
{
	TpuPlan *p = e->p;
	const TpuTensor *o = &p->t[l->out];
	int es = tpu_esize(p->precision);
	int64_t owp = o->w + o->pl + o->pr, count = b->npy * (l->pool ? l->pw : b->ncx);
	TpuInsn in = {.op = TPU_ACTIVATE, .acc_row = (uint32_t)acc, .count = (uint32_t)count,
	              .func = l->func, .pool = l->pool, .slot = (uint32_t)slot};
	Status st;

	if (l->pool != TPU_POOL_NONE &&
	    ((st = set_reg(e, TPU_REG_POOL_KH, (uint32_t)l->pkh)) || (st = set_reg(e, TPU_REG_POOL_KW, (uint32_t)l->pkw)) ||
	     (st = set_reg(e, TPU_REG_POOL_SY, (uint32_t)l->psy)) || (st = set_reg(e, TPU_REG_POOL_SX, (uint32_t)l->psx)) ||
	     (st = set_reg(e, TPU_REG_POOL_IN_W, (uint32_t)b->ncx)) || (st = set_reg(e, TPU_REG_POOL_OUT_W, (uint32_t)l->pw))))
		return st;
	int64_t line = l->pool ? l->pw : b->ncx;
	/* image coordinates of the first output: (py, cx) of image n, or pixel n of a flattened layer */
	int64_t oy = b->py, ox = b->cx;
	if (o->loc == TPU_LOC_UB) {
		in.ub_row = (uint32_t)(o->ub_row + tpu_row(o, kb, b->n, oy, ox));
		if (owp != line) {
			in.flags = TPU_ACT_GEOM;
			if ((st = set_reg(e, TPU_REG_ACT_OUT_W, (uint32_t)line)) ||
			    (st = set_reg(e, TPU_REG_ACT_OUT_STEP_Y, (uint32_t)owp)))
				return st;
		}
		return emit(e, &in);
	}
	in.ub_row = (uint32_t)out_base;
	if ((st = emit(e, &in)))
		return st;
	int64_t len = tpu_block_len(o, p->cfg.height, kb);
	bool whole = owp == line;
	for (int64_t y = 0; y < (whole ? 1 : b->npy); y++) {
		int64_t row = tpu_row(o, kb, b->n, oy + y, ox);
		TpuInsn w = {.op = TPU_WRITE_HOST, .ub_row = (uint32_t)(out_base + y * line),
		             .count = (uint32_t)(whole ? count : line), .len = (uint32_t)len};
		w.host_addr = (uint32_t)(o->host_addr + tpu_host_offset(o, p->cfg.height, es, kb, row));
		if ((st = emit(e, &w)))
			return st;
	}
	return ST_OK;
}

/* Pooled lines per band and columns per chunk that fit half the
 * accumulators; an error naming the layer when not even one line does. */
static Status band_size(Emit *e, const TpuLayer *l, int64_t *npy, int64_t *ncx)
{
	int64_t half = e->p->cfg.acc_rows / 2;

	*ncx = l->ow;
	if (l->pool == TPU_POOL_NONE && l->ow > half)
		*ncx = half;
	if (l->pkh * *ncx > half)
		return graph_error(e->g, ST_UNSUPPORTED, "layer '%s': one pooling window of output lines "
		                   "needs %lld accumulator rows; buffer 'accumulators' holds %lld per half",
		                   l->name, (long long)(l->pkh * *ncx), (long long)half);
	*npy = ((half / *ncx) - l->pkh) / l->psy + 1;
	if (*npy > l->ph)
		*npy = l->ph;
	return ST_OK;
}

static Status matrix_layer(Emit *e, const TpuLayer *l)
{
	TpuPlan *p = e->p;
	const TpuTensor *t = &p->t[l->in], *o = &p->t[l->out];
	int64_t npy = 1, ncx = 1, nkb = (l->k + p->cfg.width - 1) / p->cfg.width;
	int64_t wp = t->w + t->pl + t->pr, nblk = tpu_blocks(t, p->cfg.height);
	int64_t half = p->cfg.acc_rows / 2;
	Status st;
	Window in_w = {{0, 0}, 0, 0}, out_w = {{0, 0}, 0, 0};
	int *slots;

	if ((st = band_size(e, l, &npy, &ncx)))
		return st;
	/* fewer lines per band until the windows fit the free unified buffer */
	int64_t need;
	for (;;) {
		Band probe = {0, 0, npy, 0, 0, 0, ncx, 0, 0};
		band_lines(l, &probe);
		in_w.block_rows = t->loc == TPU_LOC_HOST ? probe.niy * wp : 0;
		in_w.rows = nblk * in_w.block_rows;
		out_w.rows = o->loc == TPU_LOC_HOST ? npy * (l->pool ? l->pw : ncx) : 0;
		need = 2 * in_w.rows + 2 * out_w.rows;
		if (npy == 1 || e->ub_free + need <= p->cfg.ub_rows)
			break;
		npy--;
	}
	int64_t *tiles = NULL;
	if ((st = lay_tiles(e, l, nkb, nblk, &tiles)))
		return st;
	if (e->ub_free + need > p->cfg.ub_rows) {
		nnac_free(tiles);
		e->windows_failed = true;
		return graph_error(e->g, ST_UNSUPPORTED, "layer '%s': its input and output windows need "
		                   "%lld rows of buffer 'unified_buffer'; %lld are free",
		                   l->name, (long long)need, (long long)(p->cfg.ub_rows - e->ub_free));
	}
	for (int i = 0; i < 2; i++) {
		in_w.base[i] = e->ub_free + i * in_w.rows;
		out_w.base[i] = e->ub_free + 2 * in_w.rows + i * out_w.rows;
	}
	slots = nnac_malloc((size_t)nkb * sizeof(int));
	if (!slots) {
		nnac_free(tiles);
		return oom(e);
	}
	if ((st = set_reg(e, TPU_REG_PRECISION, (uint32_t)p->precision)))
		goto out;
	for (int64_t kb = 0; kb < nkb && st == ST_OK; kb++)
		st = load_params(e, l, kb, &slots[kb]);
	int64_t nimg = t->nimg;
	int win = 0;
	/* the bands in order, the next one's input read ahead */
	Band prev = {-1, 0, 0, 0, 0, 0, 0, 0, 0};
	for (int64_t n = 0; n < nimg && st == ST_OK; n++) {
		for (int64_t py = 0; py < l->ph && st == ST_OK; py += npy) {
			for (int64_t cx = 0; cx < l->ow && st == ST_OK; cx += ncx) {
				Band b = {n, py, npy < l->ph - py ? npy : l->ph - py, 0, 0, cx,
				          ncx < l->ow - cx ? ncx : l->ow - cx, 0, 0};
				band_lines(l, &b);
				if (t->loc == TPU_LOC_HOST && (prev.n != b.n || prev.py != b.py)) {
					if (prev.n < 0 && (st = read_window(e, l, &b, in_w.base[win], in_w.block_rows)))
						break;
					/* read the band after this one into the other window */
					Band next = b;
					next.py += npy;
					next.cx = 0;
					if (next.py >= l->ph)
						next.n++, next.py = 0;
					if (next.n < nimg) {
						next.npy = npy < l->ph - next.py ? npy : l->ph - next.py;
						band_lines(l, &next);
						if ((st = read_window(e, l, &next, in_w.base[!win], in_w.block_rows)))
							break;
					}
				}
				for (int64_t kb = 0; kb < nkb && st == ST_OK; kb++) {
					int64_t acc = e->acc_half ? half : 0;
					e->acc_half ^= 1;
					st = band_matmuls(e, l, &b, in_w.base[win], in_w.block_rows, kb, acc, tiles);
					if (st == ST_OK)
						st = band_activate(e, l, &b, kb, acc, slots[kb], out_w.base[e->out_win]);
					e->out_win ^= 1;
				}
				prev = b;
			}
			if (t->loc == TPU_LOC_HOST)
				win ^= 1;
		}
	}
out:
	nnac_free(slots);
	nnac_free(tiles);
	return st;
}

/* ---- scheduling the weight loads ---- */

/* The read_weights of the next tile at or after ops[*next] (in use order),
 * appended at prog[*at]; *next moves past it.  Nothing when none is left. */
static void load_next(const Op *ops, size_t n, size_t *next, TpuInsn *prog, uint32_t *at)
{
	while (*next < n && ops[*next].tile < 0)
		(*next)++;
	if (*next == n)
		return;
	const Op *o = &ops[(*next)++];
	prog[(*at)++] = (TpuInsn){.op = TPU_READ_WEIGHTS, .dram_addr = (uint32_t)o->tile,
	                          .rows = (uint32_t)o->tile_rows, .cols = (uint32_t)o->tile_cols};
}

static Status schedule(Emit *e, size_t first)
{
	TpuPlan *p = e->p;
	size_t n = e->nops - first, ntile = 0, next = 0;
	const Op *ops = e->ops + first;
	TpuInsn *prog;

	for (size_t i = 0; i < n; i++)
		ntile += ops[i].tile >= 0;
	prog = arena_alloc(&p->arena, (p->nprog + n + ntile + 1) * sizeof(TpuInsn));
	if (!prog)
		return oom(e);
	if (p->nprog)
		memcpy(prog, p->prog, p->nprog * sizeof(TpuInsn));
	uint32_t at = p->nprog;
	/* the FIFO's depth of tiles up front, then one more after each use */
	for (int i = 0; i < p->cfg.fifo_depth; i++)
		load_next(ops, n, &next, prog, &at);
	for (size_t i = 0; i < n; i++) {
		prog[at++] = ops[i].in;
		if (ops[i].tile >= 0)
			load_next(ops, n, &next, prog, &at);
	}
	prog[at++] = (TpuInsn){.op = TPU_HALT};
	p->prog = prog;
	p->nprog = at;
	e->nops = first;
	return ST_OK;
}

/* ---- segments ---- */

static Status add_index(Arena *a, int **list, int *n, int v)
{
	for (int i = 0; i < *n; i++)
		if ((*list)[i] == v)
			return ST_OK;
	int *l = arena_alloc(a, (size_t)(*n + 1) * sizeof(int));
	if (!l)
		return ST_NOMEM;
	if (*n)
		memcpy(l, *list, (size_t)*n * sizeof(int));
	l[(*n)++] = v;
	*list = l;
	return ST_OK;
}

static Status emit_segment(Emit *e, int sg)
{
	TpuPlan *p = e->p;
	TpuSegment *seg = &p->seg[sg];
	Status st = ST_OK;

	memset(e->reg_known, 0, sizeof(e->reg_known));
	e->acc_half = 0;
	seg->first = p->nprog;
	for (int i = seg->layer; i < p->nl && p->l[i].segment == sg && st == ST_OK; i++) {
		const TpuLayer *l = &p->l[i];
		bool made_here = false;
		for (int j = 0; j < seg->nouts; j++)
			made_here |= seg->outs[j] == l->in;
		if (p->t[l->in].loc == TPU_LOC_HOST && !made_here &&
		    add_index(&p->arena, &seg->ins, &seg->nins, l->in))
			return oom(e);
		if (p->t[l->out].loc == TPU_LOC_HOST && add_index(&p->arena, &seg->outs, &seg->nouts, l->out))
			return oom(e);
		st = matrix_layer(e, l);
	}
	if (st == ST_OK)
		st = schedule(e, 0);
	seg->count = p->nprog - seg->first;
	return st;
}

/* Places and emits everything; resident false keeps every tensor in host
 * memory.  *windows reports a layer whose windows did not fit. */
static Status emit_all(Graph *g, TpuPlan *p, bool resident, bool *windows)
{
	Emit e;
	Status st = ST_OK;

	memset(&e, 0, sizeof(e));
	e.g = g;
	e.p = p;
	for (int i = 0; i < p->nt; i++)
		p->t[i].loc = TPU_LOC_NONE, p->t[i].host_addr = 0, p->t[i].ub_row = 0;
	for (int sg = 0; sg < p->nseg; sg++)
		p->seg[sg].nins = p->seg[sg].nouts = 0;
	p->host_bytes = 0;
	p->nprog = 0;
	p->prog = NULL;
	for (int sg = 0; sg < p->nseg && resident; sg++)
		if (!p->seg[sg].host)
			place_segment(&e, sg);
	st = place_host(&e);
	for (int sg = 0; sg < p->nseg && st == ST_OK; sg++) {
		if (p->seg[sg].host)
			continue;
		/* resident rows of this segment come first */
		e.ub_free = 0;
		for (int i = 0; i < p->nt; i++) {
			const TpuTensor *t = &p->t[i];
			int in_seg;
			if (t->loc == TPU_LOC_UB && stays_in_segment(p, i, &in_seg) && in_seg == sg) {
				int64_t end = t->ub_row + tpu_blocks(t, p->cfg.height) * t->nimg * tpu_image_rows(t);
				e.ub_free = end > e.ub_free ? end : e.ub_free;
			}
		}
		st = emit_segment(&e, sg);
	}
	*windows = e.windows_failed;
	if (st == ST_OK) {
		p->wdram = arena_alloc(&p->arena, e.wd_bytes + 1);
		if (!p->wdram)
			st = oom(&e);
		else if (e.wd_bytes)
			memcpy(p->wdram, e.wd, e.wd_bytes);
		p->wdram_bytes = e.wd_bytes;
	}
	nnac_free(e.ops);
	nnac_free(e.wd);
	return st;
}

/* Drops the diagnostics recorded after the first n. */
static void diag_truncate(Diag *d, int n)
{
	while (d->n > n)
		free(d->msg[--d->n].text);
}

Status tpu_emit(Graph *g, TpuPlan *p)
{
	int before = g->diag->n;
	bool windows;
	Status st;

	pad_inputs(p);
	st = emit_all(g, p, true, &windows);
	if (st == ST_UNSUPPORTED && windows) {
		/* resident tensors left a layer too little room: spill them all */
		diag_truncate(g->diag, before);
		st = emit_all(g, p, false, &windows);
	}
	return st;
}
