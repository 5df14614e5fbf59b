/*
 * Pooling over windows: MaxPool, AveragePool, LpPool, GlobalAveragePool,
 * GlobalMaxPool, and LRN (a window across channels).
 *
 * X is [N][C][spatial...] with any number of spatial dimensions; each
 * (n, c) plane is pooled on its own.  The window geometry (padding resolved
 * from auto_pad, output size with ceil_mode) comes from one function,
 * win_pool_geom() (declared in window.h), used by infer, eval and the loop
 * lowering (passes/lower_pool.c).
 *
 * With ceil_mode the last window may reach past the padded input: taps
 * there count as absent, and a window that would start inside the right
 * padding is dropped, as the ONNX specification and PyTorch do.  Padding
 * taps never win a max; for the average they count only with
 * count_include_pad, and only the explicit (or auto_pad) padding counts,
 * never the extra reach of ceil_mode.  For LpPool padding taps are zeros,
 * which add nothing to the sum of |x|^p.
 */
#include <math.h>
#include <string.h>

#include "checked.h"
#include "window.h"

/* Where a window tap lands. */
enum { TAP_PAD = -1, TAP_BEYOND = -2 };


/* An attribute that must be 0 or 1. */
static Status read_flag(Graph *g, const Node *n, const char *name, bool *flag)
{
	int64_t v = attr_i(n, name, 0);

	if (v != 0 && v != 1)
		return node_error(g, n, ST_INVALID, "'%s' is %lld, expected 0 or 1", name, (long long)v);
	*flag = v == 1;
	return ST_OK;
}

static Status window_attrs(Graph *g, const Node *n, Pool *pm)
{
	int64_t pads[2 * MAX_SP];
	int count;
	Status st;

	if (!attr_ints(n, "kernel_shape", &count) || count == 0)
		return node_error(g, n, ST_INVALID, "attribute 'kernel_shape' is required");
	if ((st = win_read_list(g, n, "kernel_shape", pm->nsp, 1, 1, pm->k)) ||
	    (st = win_read_list(g, n, "strides", pm->nsp, 1, 1, pm->stride)) ||
	    (st = win_read_list(g, n, "dilations", pm->nsp, 1, 1, pm->dil)) ||
	    (st = win_read_list(g, n, "pads", 2 * pm->nsp, 0, 0, pads)))
		return st;
	for (int i = 0; i < pm->nsp; i++) {
		pm->pad0[i] = pads[i];
		pm->pad1[i] = pads[pm->nsp + i];
	}
	return ST_OK;
}

int64_t win_pool_extent(const Pool *pm, int i)
{
	return (pm->k[i] - 1) * pm->dil[i] + 1;
}

/* Output size of spatial dim i. */
static Status pool_out(Graph *g, const Node *n, Pool *pm, int i, AutoPad ap, bool ceil_mode)
{
	int64_t in = pm->in[i], s = pm->stride[i], span;

	if (in < 0) {
		pm->out[i] = DIM_UNKNOWN;
		return ST_OK;
	}
	switch (ap) {
	case PAD_SAME_UPPER:
	case PAD_SAME_LOWER:
		pm->out[i] = win_ceil_div(in, s);
		span = (pm->out[i] - 1) * s + win_pool_extent(pm, i) - in;
		span = span > 0 ? span : 0;
		pm->pad0[i] = ap == PAD_SAME_UPPER ? span / 2 : span - span / 2;
		pm->pad1[i] = span - pm->pad0[i];
		return ST_OK;
	case PAD_VALID:
		pm->pad0[i] = pm->pad1[i] = 0;
		break;
	case PAD_NOTSET:
		break;
	}
	span = in + pm->pad0[i] + pm->pad1[i] - win_pool_extent(pm, i);
	if (span < 0)
		return node_error(g, n, ST_INVALID,
		                  "spatial dim %d: padded input size %lld is smaller than the window extent %lld",
		                  i, (long long)(in + pm->pad0[i] + pm->pad1[i]),
		                  (long long)win_pool_extent(pm, i));
	pm->out[i] = (ceil_mode ? win_ceil_div(span, s) : span / s) + 1;
	if (ceil_mode && (pm->out[i] - 1) * s >= in + pm->pad0[i])
		pm->out[i]--;
	return ST_OK;
}

Status win_pool_geom(Graph *g, const Node *n, const Value *x, Pool *pm)
{
	AutoPad ap = PAD_NOTSET;
	bool ceil_mode = false;
	int64_t taps;
	Status st;

	memset(pm, 0, sizeof(*pm));
	if (x->rank < 3)
		return node_error(g, n, ST_INVALID, "input 'X' has rank %d, expected at least 3",
		                  x->rank);
	pm->nsp = x->rank - 2;
	for (int i = 0; i < pm->nsp; i++)
		pm->in[i] = x->dims[2 + i];
	if ((st = window_attrs(g, n, pm)) || (st = win_read_auto_pad(g, n, &ap)) ||
	    (st = read_flag(g, n, "ceil_mode", &ceil_mode)))
		return st;
	for (int i = 0; i < pm->nsp; i++)
		if ((st = pool_out(g, n, pm, i, ap, ceil_mode)))
			return st;
	if (!ck_numel(pm->k, pm->nsp, &taps))
		return node_error(g, n, ST_UNSUPPORTED, "'kernel_shape' holds more than 2^63 taps");
	return ST_OK;
}

int64_t win_pool_steps(Graph *g, const Node *n)
{
	const Tensor *x = node_in(g, n, 0), *y = node_out(g, n, 0);
	Pool pm;
	int64_t taps;

	if (!x || !y || win_pool_geom(g, n, &x->v, &pm) != ST_OK || !ck_numel(pm.k, pm.nsp, &taps))
		return 0;
	return ck_mul_sat(val_numel(&y->v), taps);
}

/*
 * Where tap kidx of the window at output position oidx lands: the offset
 * in the input plane, TAP_PAD in the padding, TAP_BEYOND past it.
 */
static int64_t tap_offset(const Pool *pm, const int64_t *oidx, const int64_t *kidx)
{
	int64_t off = 0;
	bool pad = false;

	for (int d = 0; d < pm->nsp; d++) {
		int64_t i = oidx[d] * pm->stride[d] + kidx[d] * pm->dil[d] - pm->pad0[d];

		if (i >= pm->in[d] + pm->pad1[d])
			return TAP_BEYOND;
		if (i < 0 || i >= pm->in[d])
			pad = true;
		off = off * pm->in[d] + i;
	}
	return pad ? TAP_PAD : off;
}

/* The offset of the largest element of one window, or -1 if it is all padding. */
static int64_t window_argmax(const Pool *pm, const double *x, const int64_t *oidx)
{
	int64_t ksz = win_prod(pm->k, pm->nsp), best = -1;
	int64_t kidx[MAX_SP] = {0};

	for (int64_t t = 0; t < ksz; t++, win_next_index(kidx, pm->k, pm->nsp)) {
		int64_t off = tap_offset(pm, oidx, kidx);

		if (off >= 0 && (best < 0 || x[off] > x[best] || isnan(x[off])))
			best = off;
		if (best >= 0 && isnan(x[best]))
			break;
	}
	return best;
}

/* Row-major plane offset to column-major (storage_order 1) over the spatial dims. */
static int64_t col_major(const Pool *pm, int64_t off)
{
	int64_t col = 0;

	for (int d = pm->nsp - 1; d >= 0; d--) {
		col += off % pm->in[d] * win_prod(pm->in, d);
		off /= pm->in[d];
	}
	return col;
}

static Status pool_attrs_infer(Graph *g, Node *n, unsigned dtypes, Pool *pm)
{
	const Value *x;
	int64_t dims[MAX_RANK];
	Status st;

	if ((st = infer_nin(g, n, 1, 1)) || (st = infer_dtype(g, n, 0, dtypes)))
		return st;
	x = &node_in(g, n, 0)->v;
	if ((st = win_pool_geom(g, n, x, pm)))
		return st;
	dims[0] = x->dims[0];
	dims[1] = x->dims[1];
	for (int i = 0; i < pm->nsp; i++)
		dims[2 + i] = pm->out[i];
	infer_out(g, n, 0, x->dt, x->rank, dims);
	infer_out(g, n, 1, DT_I64, x->rank, dims);
	return ST_OK;
}

static Status max_pool_infer(Graph *g, Node *n)
{
	Pool pm;
	bool col;
	Status st = read_flag(g, n, "storage_order", &col);

	return st ? st : pool_attrs_infer(g, n, DTM_FLOAT | DTM(I8) | DTM(U8), &pm);
}

static Status avg_pool_infer(Graph *g, Node *n)
{
	Pool pm;
	bool include;
	Status st = read_flag(g, n, "count_include_pad", &include);

	return st ? st : pool_attrs_infer(g, n, DTM_FLOAT, &pm);
}

/* LpPool's p: an integer of at least 1 (the schema reads it as an integer,
 * as opset 2 on has it; opset 1's float form is refused at import). */
static Status lp_pool_infer(Graph *g, Node *n)
{
	Pool pm;
	int64_t p = attr_i(n, "p", 2);

	if (p < 1)
		return node_error(g, n, ST_INVALID, "p is %lld, expected at least 1", (long long)p);
	return pool_attrs_infer(g, n, DTM_FLOAT, &pm);
}

/* Pools every plane; window() fills y[o] (and idx[o] when idx != NULL).
 * arg is the op's parameter: storage_order (MaxPool), count_include_pad
 * (AveragePool) as 0 or 1, p (LpPool). */
typedef void WindowFn(const Pool *pm, const double *x, const int64_t *oidx, double arg,
                      double *y, int64_t *idx);

static Status pool_eval(EvalCtx *cx, const Node *n, const Value *xv, Value *yv, Value *iv,
                        WindowFn *window, double arg)
{
	Pool pm;
	Status st = win_pool_geom(cx->g, n, xv, &pm);
	int64_t isz, osz, planes, total;
	double *x, *y;
	int64_t *idx = NULL;

	if (st)
		return st;
	isz = win_prod(pm.in, pm.nsp);
	osz = win_prod(pm.out, pm.nsp);
	planes = xv->dims[0] * xv->dims[1];
	total = planes * osz;
	x = val_to_f64(cx->scratch, xv);
	y = arena_alloc(cx->scratch, (size_t)total * sizeof(double));
	if (iv)
		idx = arena_alloc(cx->scratch, (size_t)total * sizeof(int64_t));
	if (!x || !y || (iv && !idx))
		return graph_oom(cx->g);
	for (int64_t p = 0; p < planes; p++) {
		int64_t oidx[MAX_SP] = {0};

		for (int64_t o = 0; o < osz; o++, win_next_index(oidx, pm.out, pm.nsp)) {
			window(&pm, x + p * isz, oidx, arg, &y[p * osz + o], idx ? &idx[p * osz + o] : NULL);
			if (idx)
				idx[p * osz + o] += p * isz;
		}
	}
	val_from_f64(yv, y);
	if (idx)
		val_from_i64(iv, idx);
	return ST_OK;
}

/* col: storage_order is column-major (1). */
static void max_window(const Pool *pm, const double *x, const int64_t *oidx, double col,
                       double *y, int64_t *idx)
{
	int64_t best = window_argmax(pm, x, oidx);

	*y = best >= 0 ? x[best] : -INFINITY;
	if (idx)
		*idx = best < 0 ? 0 : col != 0 ? col_major(pm, best) : best;
}

/* (sum of |x|^p over the window's taps)^(1/p); padding adds nothing. */
static void lp_window(const Pool *pm, const double *x, const int64_t *oidx, double p,
                      double *y, int64_t *idx)
{
	int64_t ksz = win_prod(pm->k, pm->nsp);
	int64_t kidx[MAX_SP] = {0};
	double sum = 0;

	(void)idx;
	for (int64_t t = 0; t < ksz; t++, win_next_index(kidx, pm->k, pm->nsp)) {
		int64_t off = tap_offset(pm, oidx, kidx);

		if (off >= 0)
			sum += pow(fabs(x[off]), p);
	}
	*y = pow(sum, 1 / p);
}

/* include: count_include_pad (1). */
static void avg_window(const Pool *pm, const double *x, const int64_t *oidx, double include,
                       double *y, int64_t *idx)
{
	int64_t ksz = win_prod(pm->k, pm->nsp), count = 0;
	int64_t kidx[MAX_SP] = {0};
	double sum = 0;

	(void)idx;
	for (int64_t t = 0; t < ksz; t++, win_next_index(kidx, pm->k, pm->nsp)) {
		int64_t off = tap_offset(pm, oidx, kidx);

		if (off >= 0) {
			sum += x[off];
			count++;
		} else if (off == TAP_PAD && include != 0) {
			count++;
		}
	}
	*y = count > 0 ? sum / (double)count : 0.0;
}

static Status max_pool_eval(EvalCtx *cx, const Node *n, const Value *const *in,
                            Value *const *out)
{
	return pool_eval(cx, n, in[0], out[0], n->nout > 1 ? out[1] : NULL, max_window, attr_i(n, "storage_order", 0) == 1);
}

static Status avg_pool_eval(EvalCtx *cx, const Node *n, const Value *const *in,
                            Value *const *out)
{
	return pool_eval(cx, n, in[0], out[0], NULL, avg_window, attr_i(n, "count_include_pad", 0) == 1);
}

static Status lp_pool_eval(EvalCtx *cx, const Node *n, const Value *const *in,
                           Value *const *out)
{
	return pool_eval(cx, n, in[0], out[0], NULL, lp_window, (double)attr_i(n, "p", 2));
}

static Status global_infer(Graph *g, Node *n)
{
	const Value *x;
	int64_t dims[MAX_RANK];
	Status st;

	if ((st = infer_nin(g, n, 1, 1)) || (st = infer_dtype(g, n, 0, DTM_FLOAT)))
		return st;
	x = &node_in(g, n, 0)->v;
	if (x->rank < 2)
		return node_error(g, n, ST_INVALID, "input 'X' has rank %d, expected at least 2",
		                  x->rank);
	for (int i = 0; i < x->rank; i++)
		dims[i] = i < 2 ? x->dims[i] : 1;
	infer_out(g, n, 0, x->dt, x->rank, dims);
	return ST_OK;
}

/* Reduces each (n, c) plane to one value: the mean, or the max if want_max. */
static Status global_eval(EvalCtx *cx, const Value *xv, Value *yv, bool want_max)
{
	int64_t planes = xv->dims[0] * xv->dims[1];
	int64_t isz = planes > 0 ? val_numel(xv) / planes : 0;
	double *x = val_to_f64(cx->scratch, xv);

	if (!x)
		return graph_oom(cx->g);
	for (int64_t p = 0; p < planes; p++) {
		const double *xp = x + p * isz;
		double acc = want_max ? -INFINITY : 0.0;

		for (int64_t i = 0; i < isz; i++)
			acc = want_max ? (xp[i] > acc || isnan(xp[i]) ? xp[i] : acc) : acc + xp[i];
		val_set_f64(yv, p, want_max || isz == 0 ? acc : acc / (double)isz);
	}
	return ST_OK;
}

static Status global_avg_eval(EvalCtx *cx, const Node *n, const Value *const *in,
                              Value *const *out)
{
	(void)n;
	return global_eval(cx, in[0], out[0], false);
}

static Status global_max_eval(EvalCtx *cx, const Node *n, const Value *const *in,
                              Value *const *out)
{
	(void)n;
	return global_eval(cx, in[0], out[0], true);
}

static Status lrn_infer(Graph *g, Node *n)
{
	const Attr *size = attr_find(n, "size");
	Status st;

	if ((st = infer_nin(g, n, 1, 1)) || (st = infer_dtype(g, n, 0, DTM_FLOAT)))
		return st;
	if (!size)
		return node_error(g, n, ST_INVALID, "attribute 'size' is required");
	if (attr_i(n, "size", 0) < 1)
		return node_error(g, n, ST_INVALID, "size %lld is not positive",
		                  (long long)attr_i(n, "size", 0));
	if (node_in(g, n, 0)->v.rank < 2)
		return node_error(g, n, ST_INVALID, "input 'X' has rank %d, expected at least 2",
		                  node_in(g, n, 0)->v.rank);
	return infer_same(g, n);
}

typedef struct Lrn {
	int64_t chans, inner;        /* channels, elements per channel plane */
	int64_t before, after;       /* window reach below and above c */
	double alpha, beta, bias;
	int64_t size;
} Lrn;

/* One image: x and y are [chans][inner]. */
static void lrn_image(const Lrn *l, const double *x, double *y)
{
	for (int64_t c = 0; c < l->chans; c++) {
		int64_t lo = c - l->before < 0 ? 0 : c - l->before;
		int64_t hi = c + l->after >= l->chans ? l->chans - 1 : c + l->after;

		for (int64_t i = 0; i < l->inner; i++) {
			double sum = 0;

			for (int64_t k = lo; k <= hi; k++)
				sum += x[k * l->inner + i] * x[k * l->inner + i];
			y[c * l->inner + i] = x[c * l->inner + i] /
			                      pow(l->bias + l->alpha / (double)l->size * sum, l->beta);
		}
	}
}

/*
 * Y = X / (bias + alpha / size * S)^beta, where S sums the squares over the
 * channels c - floor((size-1)/2) .. c + ceil((size-1)/2).
 */
static Status lrn_eval(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out)
{
	const Value *xv = in[0];
	int64_t image = xv->dims[0] > 0 ? val_numel(xv) / xv->dims[0] : 0;
	Lrn l = {
		.chans = xv->dims[1], .size = attr_i(n, "size", 1),
		.alpha = attr_f(n, "alpha", 1e-4), .beta = attr_f(n, "beta", 0.75),
		.bias = attr_f(n, "bias", 1.0),
	};
	double *x = val_to_f64(cx->scratch, xv);
	double *y = arena_alloc(cx->scratch, (size_t)val_numel(xv) * sizeof(double));

	if (!x || !y)
		return graph_oom(cx->g);
	l.inner = l.chans > 0 ? image / l.chans : 0;
	l.before = (l.size - 1) / 2;
	l.after = l.size - 1 - l.before;
	for (int64_t b = 0; b < xv->dims[0]; b++)
		lrn_image(&l, x + b * image, y + b * image);
	val_from_f64(out[0], y);
	return ST_OK;
}

const OpImpl op_impl_MaxPool = { max_pool_infer, max_pool_eval, NULL };
const OpImpl op_impl_AveragePool = { avg_pool_infer, avg_pool_eval, NULL };
const OpImpl op_impl_LpPool = { lp_pool_infer, lp_pool_eval, NULL };
const OpImpl op_impl_GlobalAveragePool = { global_infer, global_avg_eval, NULL };
const OpImpl op_impl_GlobalMaxPool = { global_infer, global_max_eval, NULL };
const OpImpl op_impl_LRN = { lrn_infer, lrn_eval, NULL };
