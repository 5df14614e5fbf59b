/*
 * Lowering of pooling: MaxPool, AveragePool, LpPool, GlobalAveragePool,
 * GlobalMaxPool, and LRN (a window across channels).
 *
 * A windowed pool reads a padded copy of X (a kernel temporary made with
 * `copy ... pad v`, skipped when no window reaches outside X) so that the
 * compute nest's accesses are always in bounds:
 *
 *   fill Y = init                                  (init nest)
 *   for n, c, output positions, window taps:       (compute nest)
 *       reduce max|sum Y[n, c, o] <- Xp[n, c, stride*o + dil*tap]
 *   apply Y = Div(Y, count)                        (AveragePool epilogue)
 *
 * The padding value never wins a max (-inf, or the type's lowest integer)
 * and adds nothing to a sum.  The window geometry (auto_pad, ceil_mode) is
 * the graph interpreter's (ir/interp/pool.c): with ceil_mode the last
 * window may reach past the padded input, and those taps count as absent.
 * AveragePool divides by the number of taps that count (inside X, or inside
 * the explicit padding with count_include_pad); that number is separable
 * per axis, and when it varies near the borders it is a compile-time const
 * buffer over the output positions.  Sums of f16/bf16 inputs accumulate in
 * an f64 temporary.  LpPool sums |Xp|^p (an f64 copy of the padded input
 * raised by applies; padding is 0 and adds nothing) and takes the p-th
 * root in its epilogue.
 */
#include "lower.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "interp/window.h"

static const char *const sp_names[3][3] = {{"x"}, {"y", "x"}, {"z", "y", "x"}};
static const char *const tap_names[3][3] = {{"kx"}, {"ky", "kx"}, {"kz", "ky", "kx"}};
static const char *const sp_generic[MAX_SP] = {"s0", "s1", "s2", "s3", "s4", "s5"};
static const char *const tap_generic[MAX_SP] = {"k0", "k1", "k2", "k3", "k4", "k5"};

static const char *sp_name(int nsp, int i)
{
	return nsp <= 3 ? sp_names[nsp - 1][i] : sp_generic[i];
}

static const char *tap_name(int nsp, int i)
{
	return nsp <= 3 ? tap_names[nsp - 1][i] : tap_generic[i];
}

/* Loops n, c, then the spatial dims (names of X's layout) over dims. */
static int plane_nest(LowerCx *cx, int rank, const int64_t *dims, int *vars)
{
	int parent = lower_loop(cx, -1, "n", 0, dims[0], &vars[0]);

	if (rank > 1)
		parent = lower_loop(cx, parent, "c", 0, dims[1], &vars[1]);
	for (int d = 2; d < rank; d++)
		parent = lower_loop(cx, parent, sp_name(rank - 2, d - 2), 0, dims[d], &vars[d]);
	return parent;
}

static void fill_all(LowerCx *cx, int b, LoopArg lit)
{
	int64_t dims[MAX_RANK];
	int rank = lower_buf_shape(cx, b, dims), vars[MAX_RANK];
	int in = plane_nest(cx, rank, dims, vars);

	lower_emit2(cx, in, LN_FILL, lower_ref(cx, b, vars), lit);
}

/* An f64 temporary holding buffer x widened (apply Cast). */
static int widen(LowerCx *cx, int x)
{
	int64_t dims[MAX_RANK];
	int rank = lower_buf_shape(cx, x, dims), vars[MAX_RANK];
	int t = lower_temp(cx, "pool_x", DT_F64, rank, dims);
	int in = plane_nest(cx, rank, dims, vars);

	lower_apply_ab(cx, in, OP_Cast, lower_ref(cx, t, vars), lower_ref(cx, x, vars),
	               loop_lit_int(0));
	return t;
}

/*
 * Windows: the geometry is the graph interpreter's (win_pool_geom).
 */

/* The padded extent the windows of dim i touch. */
static int64_t reach(const Pool *pm, int i)
{
	return (pm->out[i] - 1) * pm->stride[i] + win_pool_extent(pm, i);
}

/* The buffer the windows read: x itself, or a padded copy (value pad). */
static int padded_input(LowerCx *cx, int x, const Pool *pm, LoopArg pad)
{
	int64_t dims[MAX_RANK];
	int rank = lower_buf_shape(cx, x, dims), vars[MAX_RANK], idx[MAX_RANK], in, xp;
	bool need = false;

	for (int i = 0; i < pm->nsp; i++) {
		need |= pm->pad0[i] > 0 || reach(pm, i) > pm->in[i];
		dims[2 + i] = reach(pm, i);
	}
	if (!need)
		return x;
	xp = lower_temp(cx, "Xp", cx->p->bufs[x].dt, rank, dims);
	in = plane_nest(cx, rank, dims, vars);
	memcpy(idx, vars, sizeof(idx));
	for (int i = 0; i < pm->nsp; i++)
		idx[2 + i] = loop_add_const(cx->p, vars[2 + i], -pm->pad0[i]);
	lower_copy_pad(cx, in, lower_ref(cx, xp, vars), lower_ref(cx, x, idx), pad);
	return xp;
}

/* Loops n, c and the output positions over dims (Y's shape), vars their
 * variables, then the window taps innermost; idx gets the padded input's
 * index [n, c, stride*o + dil*tap].  Returns the innermost loop. */
static int window_loops(LowerCx *cx, const Pool *pm, int rank, const int64_t *dims, int *vars,
                        int *idx)
{
	int tap[MAX_SP], in = plane_nest(cx, rank, dims, vars);

	for (int i = 0; i < pm->nsp; i++)
		in = lower_loop(cx, in, tap_name(pm->nsp, i), 0, pm->k[i], &tap[i]);
	idx[0] = vars[0];
	idx[1] = vars[1];
	for (int i = 0; i < pm->nsp; i++) {
		int o = pm->stride[i] == 1 ? vars[2 + i] : loop_mul(cx->p, pm->stride[i], vars[2 + i]);
		int t = pm->dil[i] == 1 ? tap[i] : loop_mul(cx->p, pm->dil[i], tap[i]);

		idx[2 + i] = loop_add(cx->p, o, t);
	}
	return in;
}

/* acc[n, c, o] op= xp[n, c, stride*o + dil*tap], taps innermost. */
static void window_nest(LowerCx *cx, const Pool *pm, LoopReduce op, int acc, int xp)
{
	int64_t dims[MAX_RANK];
	int rank = lower_buf_shape(cx, acc, dims), vars[MAX_RANK], idx[MAX_RANK];
	int in = window_loops(cx, pm, rank, dims, vars, idx);
	int s = lower_emit2(cx, in, LN_REDUCE, lower_ref(cx, acc, vars), lower_ref(cx, xp, idx));

	if (s >= 0)
		cx->p->nodes[s].red = op;
}

/* Taps of window o along dim i that count toward the average. */
static int64_t axis_count(const Pool *pm, int i, int64_t o, bool include_pad)
{
	int64_t count = 0;

	for (int64_t t = 0; t < pm->k[i]; t++) {
		int64_t pos = o * pm->stride[i] + t * pm->dil[i] - pm->pad0[i];

		count += include_pad ? pos < pm->in[i] + pm->pad1[i] : pos >= 0 && pos < pm->in[i];
	}
	return count;
}

/*
 * The divisor of every output position: a literal when it is the same
 * everywhere, else a const f32 buffer over the output's spatial dims.
 */
static LoopArg avg_divisor(LowerCx *cx, const Node *n, const Pool *pm, const int *vars)
{
	bool include = attr_i(n, "count_include_pad", 0) == 1, same = true;
	int64_t total = win_prod(pm->out, pm->nsp), oidx[MAX_SP] = {0}, first = 0;
	float *cnt = arena_alloc(&cx->p->arena, (size_t)total * sizeof(float));
	int b;

	if (!cnt)
		return loop_lit_float(1.0);
	for (int64_t j = 0; j < total; j++, win_next_index(oidx, pm->out, pm->nsp)) {
		int64_t c = 1;

		for (int i = 0; i < pm->nsp; i++)
			c *= axis_count(pm, i, oidx[i], include);
		cnt[j] = (float)c;
		first = j == 0 ? c : first;
		same &= c == first;
	}
	if (same)
		return loop_lit_float((double)first);
	b = lower_const(cx, arena_printf(&cx->p->arena, "%s_count", n->name), DT_F32, pm->nsp,
	                pm->out, cnt);
	return lower_ref(cx, b, vars + 2);
}

/*
 * MaxPool's Indices: the flat index of each window's first maximal tap,
 * row-major (column-major within a plane with storage_order 1).  No
 * statement compares, so the test is arithmetic on f64 scalars in the
 * window nest:
 *     e = min((clip(y) - clip(x)) / 5e-324, 1)
 * is 0 where the tap equals the window's max and 1 elsewhere (infinities
 * are clipped to +-DBL_MAX first, so inf - inf never happens), and the key
 *     K[tap] + e * isz
 * is minimized over the window, K the tap's row-major offset in its plane,
 * isz (the plane size) for a padding tap.  Real taps come in increasing
 * offset order, so the smallest key is the graph's first maximal tap; a
 * window of padding only gets isz, which the final `mod isz` turns into 0
 * as the graph does.  A NaN in a window gives another index than the
 * graph's (which takes the first NaN).
 */

/* K over the padded plane: row-major offset of a real position, isz for
 * padding. */
static int tap_keys(LowerCx *cx, const Node *n, const Pool *pm, const int64_t *pdims)
{
	int64_t total = win_prod(pdims, pm->nsp), q[MAX_SP] = {0};
	int64_t isz = win_prod(pm->in, pm->nsp);
	double *k = arena_alloc(&cx->p->arena, (size_t)total * sizeof(double));

	if (!k)
		return -1;
	for (int64_t j = 0; j < total; j++, win_next_index(q, pdims, pm->nsp)) {
		int64_t off = 0;
		bool real = true;

		for (int i = 0; i < pm->nsp; i++) {
			int64_t pos = q[i] - pm->pad0[i];

			real &= pos >= 0 && pos < pm->in[i];
			off = off * pm->in[i] + pos;
		}
		k[j] = (double)(real ? off : isz);
	}
	return lower_const(cx, arena_printf(&cx->p->arena, "%s_keys", n->name), DT_F64, pm->nsp,
	                   pdims, k);
}

/* A (buffer or literal) operand: whole-shape buffer b, or lit when b < 0. */
static LoopArg full_ref(LowerCx *cx, int b, double lit, const int *vars)
{
	return b >= 0 ? lower_ref(cx, b, vars) : loop_lit_float(lit);
}

/* dst = op(a, b) over the output shape dims (rank); a and b as full_ref. */
static void out_apply(LowerCx *cx, int rank, const int64_t *dims, OpKind op, int dst, int a,
                      double la, int b, double lb)
{
	int vars[MAX_RANK], in = plane_nest(cx, rank, dims, vars);

	lower_apply_ab(cx, in, op, lower_ref(cx, dst, vars), full_ref(cx, a, la, vars),
	               full_ref(cx, b, lb, vars));
}

/* r = r mod m (r >= 0) with t a temporary of r's shape. */
static void out_mod(LowerCx *cx, int rank, const int64_t *dims, int r, int t, double m)
{
	out_apply(cx, rank, dims, OP_Div, t, r, 0, -1, m);
	out_apply(cx, rank, dims, OP_Floor, t, t, 0, -1, 0);
	out_apply(cx, rank, dims, OP_Mul, t, t, 0, -1, m);
	out_apply(cx, rank, dims, OP_Sub, r, r, 0, t, 0);
}

/*
 * r (a row-major plane offset) to the column-major one, in place: digit d
 * is floor(r / rs) mod in[d] with rs the row-major stride of d, and it
 * weighs cs, the column-major stride, in the result.
 */
static void to_col_major(LowerCx *cx, const Pool *pm, int rank, const int64_t *dims, int r)
{
	int t = lower_temp(cx, "am_digit", DT_F64, rank, dims);
	int u = lower_temp(cx, "am_tmp", DT_F64, rank, dims);
	int col = lower_temp(cx, "am_col", DT_F64, rank, dims), vars[MAX_RANK], in;

	fill_all(cx, col, loop_lit_float(0.0));
	for (int d = 0; d < pm->nsp; d++) {
		double rs = (double)win_prod(pm->in + d + 1, pm->nsp - d - 1);
		double cs = (double)win_prod(pm->in, d);

		out_apply(cx, rank, dims, OP_Div, t, r, 0, -1, rs);
		out_apply(cx, rank, dims, OP_Floor, t, t, 0, -1, 0);
		out_mod(cx, rank, dims, t, u, (double)pm->in[d]);
		out_apply(cx, rank, dims, OP_Mul, t, t, 0, -1, cs);
		out_apply(cx, rank, dims, OP_Add, col, col, 0, t, 0);
	}
	in = plane_nest(cx, rank, dims, vars);
	lower_emit2(cx, in, LN_COPY, lower_ref(cx, r, vars), lower_ref(cx, col, vars));
}

/* The key statements of one tap, into scalar s: y and x are references. */
static void tap_key(LowerCx *cx, int in, int s, int t, LoopArg y, LoopArg x, LoopArg key,
                    double isz)
{
	int idx[1];
	LoopArg sv = lower_ref(cx, s, idx), tv = lower_ref(cx, t, idx);
	LoopArg lo = loop_lit_float(-DBL_MAX), hi = loop_lit_float(DBL_MAX);

	lower_apply(cx, in, OP_Clip, 4, (LoopArg[]){sv, y, lo, hi});
	lower_apply(cx, in, OP_Clip, 4, (LoopArg[]){tv, x, lo, hi});
	lower_apply_ab(cx, in, OP_Sub, sv, sv, tv);
	lower_apply_ab(cx, in, OP_Div, sv, sv, loop_lit_float(DBL_TRUE_MIN));
	lower_apply_ab(cx, in, OP_Min, sv, sv, loop_lit_float(1.0));
	lower_apply_ab(cx, in, OP_Mul, sv, sv, loop_lit_float(isz));
	lower_apply_ab(cx, in, OP_Add, sv, sv, key);
}

static Status lower_argmax(LowerCx *cx, const Node *n, const Pool *pm, int y, int xp)
{
	int64_t dims[MAX_RANK], pdims[MAX_RANK], pl[2], isz = win_prod(pm->in, pm->nsp);
	int rank = lower_buf_shape(cx, y, dims), vars[MAX_RANK], idx[MAX_RANK], kidx[MAX_SP];
	int ind = lower_out(cx, n, 1), keys, r, s, t, plane, in, red;
	double *base;

	lower_buf_shape(cx, xp, pdims);
	keys = tap_keys(cx, n, pm, pdims + 2);
	r = lower_temp(cx, "am_key", DT_F64, rank, dims);
	s = lower_temp(cx, "am_s", DT_F64, 0, NULL);
	t = lower_temp(cx, "am_t", DT_F64, 0, NULL);
	fill_all(cx, r, loop_lit_float(INFINITY));
	in = window_loops(cx, pm, rank, dims, vars, idx);
	for (int i = 0; i < pm->nsp; i++)
		kidx[i] = idx[2 + i];
	tap_key(cx, in, s, t, lower_ref(cx, y, vars), lower_ref(cx, xp, idx),
	        lower_ref(cx, keys, kidx), (double)isz);
	red = lower_emit2(cx, in, LN_REDUCE, lower_ref(cx, r, vars), lower_ref(cx, s, idx));
	if (red >= 0)
		cx->p->nodes[red].red = LR_MIN;
	t = lower_temp(cx, "am_tmp", DT_F64, rank, dims);
	out_mod(cx, rank, dims, r, t, (double)isz);
	if (attr_i(n, "storage_order", 0) == 1)
		to_col_major(cx, pm, rank, dims, r);
	pl[0] = dims[0];
	pl[1] = dims[1];
	base = arena_alloc(&cx->p->arena, (size_t)(pl[0] * pl[1]) * sizeof(double));
	if (!base)
		return loop_oom(cx->p);
	for (int64_t p = 0; p < pl[0] * pl[1]; p++)
		base[p] = (double)(p * isz);
	plane = lower_const(cx, arena_printf(&cx->p->arena, "%s_planes", n->name), DT_F64, 2, pl,
	                    base);
	in = plane_nest(cx, rank, dims, vars);
	lower_apply_ab(cx, in, OP_Add, lower_ref(cx, ind, vars), lower_ref(cx, r, vars),
	               lower_ref(cx, plane, vars));
	return loop_oom(cx->p);
}

/* LpPool: (sum over the window of |x|^p)^(1/p), accumulated in f64. */
static void lower_lp_pool(LowerCx *cx, const Node *n, const Pool *pm, int x, int y)
{
	double p = (double)attr_i(n, "p", 2);
	int64_t dims[MAX_RANK], pdims[MAX_RANK];
	int rank = lower_buf_shape(cx, y, dims), vars[MAX_RANK], in, xp, pw, acc;

	xp = padded_input(cx, x, pm, loop_lit_float(0.0));
	lower_buf_shape(cx, xp, pdims);
	pw = lower_temp(cx, "pool_pow", DT_F64, rank, pdims);
	in = plane_nest(cx, rank, pdims, vars);
	lower_apply_ab(cx, in, OP_Abs, lower_ref(cx, pw, vars), lower_ref(cx, xp, vars),
	               loop_lit_int(0));
	lower_apply_ab(cx, in, OP_Pow, lower_ref(cx, pw, vars), lower_ref(cx, pw, vars),
	               loop_lit_float(p));
	acc = lower_temp(cx, "pool_acc", DT_F64, rank, dims);
	fill_all(cx, acc, loop_lit_float(0.0));
	window_nest(cx, pm, LR_SUM, acc, pw);
	in = plane_nest(cx, rank, dims, vars);
	lower_apply_ab(cx, in, OP_Pow, lower_ref(cx, y, vars), lower_ref(cx, acc, vars),
	               loop_lit_float(1 / p));
}

static Status lower_window_pool(LowerCx *cx, const Node *n)
{
	int x = lower_buf(cx, n->in[0]), y = lower_out(cx, n, 0), xp, acc;
	DType dt = cx->p->bufs[x].dt;
	bool is_max = n->op == OP_MaxPool;
	Pool pm;

	TRY(win_pool_geom(cx->g, n, &node_in(cx->g, n, 0)->v, &pm));
	if (val_numel(&node_out(cx->g, n, 0)->v) == 0)
		return ST_OK;
	for (int i = 0; i < pm.nsp; i++)
		nnac_assert(pm.out[i] == cx->p->bufs[y].dims[2 + i]);
	if (n->op == OP_LpPool) {
		lower_lp_pool(cx, n, &pm, x, y);
		return loop_oom(cx->p);
	}
	xp = padded_input(cx, x, &pm, is_max ? lower_lowest_lit(dt) : loop_lit_float(0.0));
	if (is_max) {
		fill_all(cx, y, lower_lowest_lit(dt));
		window_nest(cx, &pm, LR_MAX, y, xp);
		if (n->nout > 1 && n->out[1] >= 0)
			TRY(lower_argmax(cx, n, &pm, y, xp));
	} else {
		int64_t dims[MAX_RANK];
		int rank = lower_buf_shape(cx, y, dims), vars[MAX_RANK], in;

		if (lower_narrow_float(dt))
			xp = widen(cx, xp);
		acc = lower_narrow_float(dt) ? lower_temp(cx, "pool_acc", DT_F64, rank, dims) : y;
		fill_all(cx, acc, loop_lit_float(0.0));
		window_nest(cx, &pm, LR_SUM, acc, xp);
		in = plane_nest(cx, rank, dims, vars);
		lower_apply_ab(cx, in, OP_Div, lower_ref(cx, y, vars), lower_ref(cx, acc, vars),
		               avg_divisor(cx, n, &pm, vars));
	}
	return loop_oom(cx->p);
}

/* GlobalAveragePool, GlobalMaxPool: every (n, c) plane to one value. */
static Status lower_global_pool(LowerCx *cx, const Node *n)
{
	int x = lower_buf(cx, n->in[0]), y = lower_out(cx, n, 0), acc, src = x;
	int64_t dims[MAX_RANK], yd[MAX_RANK];
	int rank = lower_buf_shape(cx, x, dims), vars[MAX_RANK], idx[MAX_RANK], in, s;
	bool is_max = n->op == OP_GlobalMaxPool;
	DType dt = cx->p->bufs[x].dt;

	lower_buf_shape(cx, y, yd);
	if (win_prod(yd, rank) == 0)
		return ST_OK;
	if (win_prod(dims, rank) == 0) {
		fill_all(cx, y, is_max ? lower_lowest_lit(dt) : loop_lit_float(0.0));
		return loop_oom(cx->p);
	}
	if (!is_max && lower_narrow_float(dt))
		src = widen(cx, x);
	acc = src == x ? y : lower_temp(cx, "pool_acc", DT_F64, rank, yd);
	fill_all(cx, acc, is_max ? lower_lowest_lit(dt) : loop_lit_float(0.0));
	in = plane_nest(cx, rank, dims, vars);
	memcpy(idx, vars, sizeof(idx));
	for (int d = 2; d < rank; d++)
		idx[d] = loop_const(cx->p, 0);
	s = lower_emit2(cx, in, LN_REDUCE, lower_ref(cx, acc, idx), lower_ref(cx, src, vars));
	if (s >= 0)
		cx->p->nodes[s].red = is_max ? LR_MAX : LR_SUM;
	if (!is_max) {
		in = plane_nest(cx, rank, yd, vars);
		lower_apply_ab(cx, in, OP_Div, lower_ref(cx, y, vars), lower_ref(cx, acc, vars),
		               loop_lit_float((double)win_prod(dims + 2, rank - 2)));
	}
	return loop_oom(cx->p);
}

Status lower_pool(LowerCx *cx, const Node *n)
{
	if (n->op == OP_GlobalAveragePool || n->op == OP_GlobalMaxPool)
		return lower_global_pool(cx, n);
	return lower_window_pool(cx, n);
}

/*
 * LRN: Y = X / (bias + alpha / size * S)^beta, S the sum of squares over
 * channels c - floor((size-1)/2) .. c + ceil((size-1)/2): a channel-padded
 * copy of X, squares accumulated into an f64 temporary by `mac`, then
 * applies.
 */
Status lower_lrn(LowerCx *cx, const Node *n)
{
	int x = lower_buf(cx, n->in[0]), y = lower_out(cx, n, 0), xp, sum, k, in;
	int64_t dims[MAX_RANK], pd[MAX_RANK], size = attr_i(n, "size", 1), before = (size - 1) / 2;
	int rank = lower_buf_shape(cx, x, dims), vars[MAX_RANK], idx[MAX_RANK];
	double alpha = attr_f(n, "alpha", 1e-4), beta = attr_f(n, "beta", 0.75);
	double bias = attr_f(n, "bias", 1.0);

	if (win_prod(dims, rank) == 0)
		return ST_OK;
	memcpy(pd, dims, sizeof(pd));
	pd[1] = dims[1] + size - 1;
	xp = lower_temp(cx, "Xp", cx->p->bufs[x].dt, rank, pd);
	sum = lower_temp(cx, "lrn_sum", DT_F64, rank, dims);
	in = plane_nest(cx, rank, pd, vars);
	memcpy(idx, vars, sizeof(idx));
	idx[1] = loop_add_const(cx->p, vars[1], -before);
	lower_copy_pad(cx, in, lower_ref(cx, xp, vars), lower_ref(cx, x, idx), loop_lit_float(0.0));
	fill_all(cx, sum, loop_lit_float(0.0));
	in = lower_loop(cx, plane_nest(cx, rank, dims, vars), "k", 0, size, &k);
	memcpy(idx, vars, sizeof(idx));
	idx[1] = loop_add(cx->p, vars[1], k);
	lower_emit(cx, in, LN_MAC, 3, (LoopArg[]){lower_ref(cx, sum, vars), lower_ref(cx, xp, idx),
	           lower_ref(cx, xp, idx)});
	in = plane_nest(cx, rank, dims, vars);
	lower_apply_ab(cx, in, OP_Mul, lower_ref(cx, sum, vars), lower_ref(cx, sum, vars),
	               loop_lit_float(alpha / (double)size));
	in = plane_nest(cx, rank, dims, vars);
	lower_apply_ab(cx, in, OP_Add, lower_ref(cx, sum, vars), lower_ref(cx, sum, vars),
	               loop_lit_float(bias));
	in = plane_nest(cx, rank, dims, vars);
	lower_apply_ab(cx, in, OP_Pow, lower_ref(cx, sum, vars), lower_ref(cx, sum, vars),
	               loop_lit_float(beta));
	in = plane_nest(cx, rank, dims, vars);
	lower_apply_ab(cx, in, OP_Div, lower_ref(cx, y, vars), lower_ref(cx, x, vars),
	               lower_ref(cx, sum, vars));
	return loop_oom(cx->p);
}
