/*
 * Lowering of the data-movement ops: Reshape, Flatten, Squeeze, Unsqueeze,
 * Identity and Dropout (views), Transpose, Concat, Split, Slice, Pad,
 * Gather and Resize/Upsample (copy nests).
 *
 * A reshaping op makes its output a view of its input when the driver lets
 * it (lower_view); otherwise (the output is a graph output with its own
 * buffer) it copies through a view of the input that has the output's
 * shape, so the copy's indices stay plain loop variables.
 *
 * Everything else is a `copy` over the output whose source index along each
 * axis is a function of that axis' output coordinate alone: o + offset for
 * Concat and Split, start + step*o for Slice, a table for Pad's edge,
 * reflect and wrap modes, for Gather with constant indices and for Resize.
 * A table becomes loop-IR indices through runs: the output range splits
 * into pieces on which the table is floor((a*o + b) / c), an affine map
 * when c is 1 (see fit_runs), and the copy is repeated for every
 * combination of one piece per axis.  Loops stay rectangular, so every
 * access is provably in bounds.  Integers and halves move bit for bit.
 * The planning (axes, permutation, slice, pad tables, Resize's plan and
 * taps) is the graph interpreter's own (ir/interp/movement.h, resize.h).
 *
 * Resize's linear and cubic modes are separable: one pass per resized axis
 * accumulates tap weights (a const buffer per axis) times the gathered
 * elements into f64 temporaries, and the last pass stores into the output
 * with one rounding, as the graph interpreter computes in double.
 */
#include "checked.h"
#include "lower.h"

#include <math.h>
#include <string.h>

#include "interp/movement.h"
#include "interp/resize.h"
#include "interp/window.h"

/* Output coordinates [start, start + len) read source floor((a*o + b) / c). */
typedef struct Run {
	int64_t start, len;
	int64_t a, b, c;
} Run;

/* The runs of one axis. */
typedef struct Axis {
	Run *run;
	int nrun;
} Axis;

/* The largest divisor fit_form tries. */
enum { MAX_DIVISOR = 64 };

/* A program buffer "BASE_view" that views base's memory with another shape. */
static int view_of(LowerCx *cx, int base, int rank, const int64_t *dims)
{
	DType dt = cx->p->bufs[base].dt;
	int level = cx->p->bufs[base].level;
	const char *name = arena_printf(&cx->p->arena, "%s_view", cx->p->bufs[base].name);
	int b = name ? loop_add_buf(cx->p, loop_unique_name(cx->p, name), dt, rank, dims, level, -1)
	             : -1;

	if (b >= 0)
		cx->p->bufs[b].view_of = base;
	return b;
}

LoopArg lower_typed_lit(DType dt, double x)
{
	unsigned char bytes[8] = {0};
	Value v = {dt, 0, {0}, bytes};

	val_set_f64(&v, 0, x);
	if (dtype_is_float(dt))
		return loop_lit_float(val_get_f64(&v, 0));
	return loop_lit_int(val_get_i64(&v, 0));
}

/* Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout. */

/* Dropout's optional mask is all true at inference (X's type before opset 10). */
static void dropout_mask(LowerCx *cx, const Node *n)
{
	int m = lower_out(cx, n, 1), vars[MAX_RANK], in;
	int64_t dims[MAX_RANK];
	int rank;

	if (m < 0)
		return;
	rank = lower_buf_shape(cx, m, dims);
	if (win_prod(dims, rank) == 0)
		return;
	in = lower_elem_nest(cx, rank, dims, NULL, vars);
	lower_emit2(cx, in, LN_FILL, lower_ref(cx, m, vars), lower_typed_lit(cx->p->bufs[m].dt, 1.0));
}

/* Whether Dropout is the identity whatever the run-time values: training
 * mode off, or on with a constant ratio (shape inference allows only 0). */
static bool dropout_is_identity(const Graph *g, const Node *n)
{
	const Value *mode = has_input(n, 2) ? &g->tensors[n->in[2]].v : NULL;

	if (!mode)
		return true;
	if (!mode->data)
		return false;
	return !val_get_i64(mode, 0) || (has_input(n, 1) && g->tensors[n->in[1]].v.data);
}

Status lower_reshape(LowerCx *cx, const Node *n)
{
	int x = lower_buf(cx, n->in[0]), y, v;
	int64_t dims[MAX_RANK];
	int rank;

	if (n->op == OP_Dropout && !dropout_is_identity(cx->g, n))
		return node_error(cx->g, n, ST_UNSUPPORTED, "training_mode or ratio is computed at "
		                  "run time; the loop IR lowers Dropout only as the identity");
	if (n->op == OP_Dropout)
		dropout_mask(cx, n);
	if (lower_view(cx, n, 0, x, 0))
		return loop_oom(cx->p);
	y = lower_out(cx, n, 0);
	rank = lower_buf_shape(cx, y, dims);
	if (y == x || win_prod(dims, rank) == 0)
		return loop_oom(cx->p);
	v = view_of(cx, x, rank, dims);
	if (v >= 0)
		lower_copy_elems(cx, y, v);
	return loop_oom(cx->p);
}

/* Transpose: Y[i0, ..] = X[.., i_k at axis perm[k], ..]. */

Status lower_transpose(LowerCx *cx, const Node *n)
{
	int x = lower_buf(cx, n->in[0]), y = lower_out(cx, n, 0);
	int perm[MAX_RANK], vars[MAX_RANK], idx[MAX_RANK], in;
	int64_t dims[MAX_RANK];
	int rank = lower_buf_shape(cx, y, dims);

	TRY(move_transpose_perm(cx->g, n, rank, perm));
	if (win_prod(dims, rank) == 0)
		return ST_OK;
	in = lower_elem_nest(cx, rank, dims, NULL, vars);
	for (int i = 0; i < rank; i++)
		idx[perm[i]] = vars[i];
	lower_emit2(cx, in, LN_COPY, lower_ref(cx, y, vars), lower_ref(cx, x, idx));
	return loop_oom(cx->p);
}

/* Concat: input k lands at its running offset along the axis. */

Status lower_concat(LowerCx *cx, const Node *n)
{
	int y = lower_out(cx, n, 0), vars[MAX_RANK], idx[MAX_RANK];
	int64_t dims[MAX_RANK], axis, off = 0;
	int rank = lower_buf_shape(cx, y, dims);

	TRY(move_concat_axis(cx->g, n, rank, &axis));
	for (int k = 0; k < n->nin; k++) {
		int x = lower_buf(cx, n->in[k]), in;
		int64_t xd[MAX_RANK];

		lower_buf_shape(cx, x, xd);
		if (win_prod(xd, rank) > 0) {
			in = lower_elem_nest(cx, rank, xd, NULL, vars);
			memcpy(idx, vars, sizeof(idx));
			idx[axis] = loop_add_const(cx->p, vars[axis], off);
			lower_emit2(cx, in, LN_COPY, lower_ref(cx, y, idx), lower_ref(cx, x, vars));
		}
		off += xd[axis];
	}
	return loop_oom(cx->p);
}

/* Split: output i is the slab [off_i, off_i + size_i) along the axis; a
 * view when the slab is contiguous (nothing but 1s before the axis). */

Status lower_split(LowerCx *cx, const Node *n)
{
	int x = lower_buf(cx, n->in[0]), vars[MAX_RANK], idx[MAX_RANK];
	int64_t dims[MAX_RANK], axis, off = 0, *sizes, inner;
	int rank = lower_buf_shape(cx, x, dims);

	TRY(move_split_axis(cx->g, n, rank, &axis));
	sizes = arena_alloc(&cx->p->arena, (size_t)n->nout * sizeof(int64_t) + 1);
	if (!sizes)
		return diag_add(cx->p->diag, ST_NOMEM, "%s: out of memory", cx->p->path);
	TRY(move_split_sizes(cx->g, n, NULL, NULL, dims[axis], sizes));
	inner = win_prod(dims + axis + 1, rank - (int)axis - 1);
	for (int i = 0; i < n->nout; off += sizes[i++]) {
		int64_t yd[MAX_RANK];
		int y, in;

		if (n->out[i] < 0)
			continue;
		if (win_prod(dims, (int)axis) == 1 && lower_view(cx, n, i, x, off * inner))
			continue;
		y = lower_out(cx, n, i);
		lower_buf_shape(cx, y, yd);
		if (win_prod(yd, rank) == 0)
			continue;
		in = lower_elem_nest(cx, rank, yd, NULL, vars);
		memcpy(idx, vars, sizeof(idx));
		idx[axis] = loop_add_const(cx->p, vars[axis], off);
		lower_emit2(cx, in, LN_COPY, lower_ref(cx, y, vars), lower_ref(cx, x, idx));
	}
	return loop_oom(cx->p);
}

/*
 * Runs: copies whose source index along each axis is one Run of a table.
 */

static int run_index(LowerCx *cx, int var, const Run *r)
{
	int e;

	if (r->a == 0)
		return loop_const(cx->p, win_floor_div(r->b, r->c));
	e = r->a == 1 ? var : loop_mul(cx->p, r->a, var);
	e = loop_add_const(cx->p, e, r->b);
	return r->c == 1 ? e : loop_div(cx->p, e, r->c);
}

/* Whether floor((a*o + b) / c) == t[o] for o in [s, e). */
static bool run_fits(const int64_t *t, int64_t s, int64_t e, int64_t a, int64_t b, int64_t c)
{
	for (int64_t o = s; o < e; o++)
		if (win_floor_div(a * o + b, c) != t[o])
			return false;
	return true;
}

/*
 * A form floor((a*o + b) / c) for t over [s, e) with the smallest c up to
 * max_c: for a given c and a, b must lie in the intersection of
 * [c*t[o] - a*o, c*t[o] + c - 1 - a*o] over o.
 */
static bool fit_form(const int64_t *t, int64_t s, int64_t e, int64_t max_c, Run *r)
{
	double slope = e - s > 1 ? ((double)t[e - 1] - (double)t[s]) / (double)(e - 1 - s) : 0;

	for (int64_t c = 1; c <= max_c; c++) {
		int64_t a0;

		if (!(fabs(slope * (double)c) < 0x1p62))
			break;    /* a slope this steep fits no run */
		a0 = (int64_t)floor(slope * (double)c);

		for (int64_t a = a0 - 1; a <= a0 + 1; a++) {
			int64_t lo = INT64_MIN, hi = INT64_MAX;

			for (int64_t o = s; o < e && lo <= hi; o++) {
				int64_t l, ao, h;

				if (!ck_mul(c, t[o], &l) || !ck_mul(a, o, &ao) || ao == INT64_MIN ||
				    !ck_add(l, -ao, &l) || !ck_add(l, c - 1, &h)) {
					lo = 1, hi = 0;    /* indices this large fit no run */
					break;
				}
				lo = l > lo ? l : lo;
				hi = h < hi ? h : hi;
			}
			if (lo <= hi && run_fits(t, s, e, a, lo, c)) {
				*r = (Run){s, e - s, a, lo, c};
				return true;
			}
		}
	}
	return false;
}

/* The longest prefix of t[s..count) that one affine map covers. */
static Run affine_run(const int64_t *t, int64_t s, int64_t count)
{
	/* in wrapping arithmetic: a table of absurd indices (a hostile
	 * model's) makes runs the loop verifier then refuses, never overflow */
	uint64_t slope = s + 1 < count ? (uint64_t)t[s + 1] - (uint64_t)t[s] : 0;
	int64_t e = s + 1;

	while (e < count && (uint64_t)t[e] == (uint64_t)t[s] + slope * (uint64_t)(e - s))
		e++;
	return (Run){s, e - s, (int64_t)slope, (int64_t)((uint64_t)t[s] - slope * (uint64_t)s), 1};
}

/*
 * Splits table t[0..count) into runs: one floor-division form for the whole
 * table when one fits; else constant runs at both ends (clamped edges) and
 * the middle as one form, or as maximal affine runs.  Runs live in the
 * program's arena.
 */
static bool fit_runs(LowerCx *cx, const int64_t *t, int64_t count, Axis *ax)
{
	Run *r = arena_alloc(&cx->p->arena, (size_t)(count + 2) * sizeof(Run));
	int64_t s = 0, e = count;
	int n = 0;

	if (!r)
		return false;
	ax->run = r;
	if (fit_form(t, 0, count, MAX_DIVISOR, &r[0])) {
		ax->nrun = 1;
		return true;
	}
	while (s + 1 < e && t[s + 1] == t[0])
		s++;
	while (e - 1 > s && t[e - 2] == t[count - 1])
		e--;
	if (s > 0)
		r[n++] = (Run){0, s, 0, t[0], 1};
	if (fit_form(t, s, e, MAX_DIVISOR, &r[n])) {
		n++;
	} else {
		for (int64_t o = s; o < e; o += r[n++].len)
			r[n] = affine_run(t, o, e);
	}
	if (e < count)
		r[n++] = (Run){e, count - e, 0, t[count - 1], 1};
	ax->nrun = n;
	return true;
}

/* An axis of the one run r. */
static bool single_run(LowerCx *cx, Run r, Axis *ax)
{
	ax->run = arena_alloc(&cx->p->arena, sizeof(Run));
	if (!ax->run)
		return false;
	ax->run[0] = r;
	ax->nrun = 1;
	return true;
}

/* One run covering the identity map of an axis of size dim. */
static bool identity_axis(LowerCx *cx, int64_t dim, Axis *ax)
{
	return single_run(cx, (Run){0, dim, 1, 0, 1}, ax);
}

/* Loops over the chosen run of every axis (an extent-1 run is a constant);
 * returns the innermost parent and the output and source indices. */
static int run_nest(LowerCx *cx, int rank, const Axis *ax, const int *pick, int *oidx, int *sidx)
{
	int parent = -1;

	for (int d = 0; d < rank; d++) {
		const Run *r = &ax[d].run[pick[d]];
		int64_t first = win_floor_div(r->a * r->start + r->b, r->c);
		int v;

		if (r->len == 1)
			v = loop_const(cx->p, r->start);
		else
			parent = lower_loop(cx, parent, lower_dim_name(d), r->start, r->len, &v);
		oidx[d] = v;
		sidx[d] = r->len == 1 ? loop_const(cx->p, first) : run_index(cx, v, r);
	}
	return parent;
}

/* Advances pick over every combination of runs; false after the last. */
static bool next_pick(int rank, const Axis *ax, int *pick)
{
	for (int d = rank - 1; d >= 0; d--) {
		if (++pick[d] < ax[d].nrun)
			return true;
		pick[d] = 0;
	}
	return false;
}

/* y[o] = x[src(o)] for every combination of one run per axis. */
static void copy_runs(LowerCx *cx, int y, int x, int rank, const Axis *ax)
{
	int pick[MAX_RANK] = {0};

	do {
		int oidx[MAX_RANK], sidx[MAX_RANK];
		int in = run_nest(cx, rank, ax, pick, oidx, sidx);

		lower_emit2(cx, in, LN_COPY, lower_ref(cx, y, oidx), lower_ref(cx, x, sidx));
	} while (next_pick(rank, ax, pick));
}

/* Slice: Y[i] = X[start + step*i] per axis, steps of either sign. */

Status lower_slice(LowerCx *cx, const Node *n)
{
	int x = lower_buf(cx, n->in[0]), y = lower_out(cx, n, 0), rank = cx->p->bufs[y].rank;
	Axis ax[MAX_RANK];
	SlicePlan sp;

	TRY(move_slice_plan(cx->g, n, NULL, NULL, &node_in(cx->g, n, 0)->v, &sp));
	if (loop_buf_numel(&cx->p->bufs[y]) == 0)
		return ST_OK;
	for (int d = 0; d < rank; d++) {
		nnac_assert(sp.len[d] == cx->p->bufs[y].dims[d]);
		if (!single_run(cx, (Run){0, sp.len[d], sp.step[d], sp.start[d], 1}, &ax[d]))
			return loop_oom(cx->p);
	}
	copy_runs(cx, y, x, rank, ax);
	return loop_oom(cx->p);
}

/*
 * Pad: constant mode copies with `pad v`; edge, reflect and wrap read the
 * input index of every output coordinate from a table, as runs.
 */

/* The padding value as a literal, or a reference to a run-time scalar. */
static Status pad_value(LowerCx *cx, const Node *n, DType dt, LoopArg *v, bool *is_lit)
{
	const Tensor *t = node_in(cx->g, n, 2);

	*is_lit = true;
	if (cx->g->opset < 11) {
		*v = lower_typed_lit(dt, attr_f(n, "value", 0.0));
	} else if (!t || val_numel(&t->v) == 0) {
		*v = lower_typed_lit(dt, 0.0);
	} else if (t->v.data) {
		*v = dtype_is_float(dt) ? loop_lit_float(val_get_f64(&t->v, 0))
		                        : loop_lit_int(val_get_i64(&t->v, 0));
	} else {
		int b = lower_buf(cx, n->in[2]), idx[MAX_RANK];

		for (int i = 0; i < cx->p->bufs[b].rank; i++)
			idx[i] = loop_const(cx->p, 0);
		*v = lower_ref(cx, b, idx);
		*is_lit = false;
	}
	return loop_oom(cx->p);
}

/* The interior of a constant pad: Y[o] = X[o - begin] where that is inside
 * X, as one run per axis; false when some axis keeps nothing. */
static bool pad_interior(LowerCx *cx, const PadPlan *p, int rank, const int64_t *xd,
                         const int64_t *yd, Axis *ax)
{
	for (int d = 0; d < rank; d++) {
		int64_t lo = p->begin[d] > 0 ? p->begin[d] : 0;
		int64_t hi = p->begin[d] + xd[d] < yd[d] ? p->begin[d] + xd[d] : yd[d];

		if (hi <= lo || !single_run(cx, (Run){lo, hi - lo, 1, -p->begin[d], 1}, &ax[d]))
			return false;
	}
	return true;
}

/* Constant mode: Y[o] = X[o - begin], the value where that falls outside
 * X; a run-time value is copied everywhere first, then the interior. */
static Status pad_constant(LowerCx *cx, const Node *n, const PadPlan *p, int y, int x)
{
	int64_t yd[MAX_RANK], xd[MAX_RANK];
	int rank = lower_buf_shape(cx, y, yd), vars[MAX_RANK], idx[MAX_RANK], in;
	Axis ax[MAX_RANK];
	LoopArg v;
	bool lit;

	lower_buf_shape(cx, x, xd);
	TRY(pad_value(cx, n, cx->p->bufs[y].dt, &v, &lit));
	in = lower_elem_nest(cx, rank, yd, NULL, vars);
	if (!lit) {
		lower_emit2(cx, in, LN_COPY, lower_ref(cx, y, vars), v);
		if (pad_interior(cx, p, rank, xd, yd, ax))
			copy_runs(cx, y, x, rank, ax);
		return loop_oom(cx->p);
	}
	for (int d = 0; d < rank; d++)
		idx[d] = loop_add_const(cx->p, vars[d], -p->begin[d]);
	lower_copy_pad(cx, in, lower_ref(cx, y, vars), lower_ref(cx, x, idx), v);
	return loop_oom(cx->p);
}

Status lower_pad(LowerCx *cx, const Node *n)
{
	int x = lower_buf(cx, n->in[0]), y = lower_out(cx, n, 0);
	int64_t xd[MAX_RANK], yd[MAX_RANK];
	int rank = lower_buf_shape(cx, x, xd);
	Axis ax[MAX_RANK];
	PadPlan p;

	TRY(move_pad_plan(cx->g, n, NULL, NULL, &node_in(cx->g, n, 0)->v, &p));
	lower_buf_shape(cx, y, yd);
	if (win_prod(yd, rank) == 0)
		return ST_OK;
	if (p.mode == PAD_CONSTANT)
		return pad_constant(cx, n, &p, y, x);
	for (int d = 0; d < rank; d++) {
		int64_t *t = move_pad_table(&cx->p->arena, &p, d, xd[d], yd[d]);

		if (!t || !fit_runs(cx, t, yd[d], &ax[d]))
			return loop_oom(cx->p);
	}
	copy_runs(cx, y, x, rank, ax);
	return loop_oom(cx->p);
}

/*
 * Gather with constant indices: Y, seen as X's shape with the axis
 * replaced by the flat index count, copies X's slab k_j for every j; the
 * index sequence becomes runs.  Computed indices become loaded indices
 * (lower_gather_loaded, passes/lower_index.c).
 */
Status lower_gather(LowerCx *cx, const Node *n)
{
	const Tensor *it = node_in(cx->g, n, 1);
	int x = lower_buf(cx, n->in[0]), y = lower_out(cx, n, 0), yv;
	int64_t xd[MAX_RANK], vd[MAX_RANK], axis, count, *t;
	int rank = lower_buf_shape(cx, x, xd);
	Axis ax[MAX_RANK];

	if (!it->v.data)
		return lower_gather_loaded(cx, n);
	TRY(move_gather_axis(cx->g, n, rank, &axis));
	count = val_numel(&it->v);
	memcpy(vd, xd, sizeof(vd));
	vd[axis] = count;
	if (win_prod(vd, rank) == 0)
		return ST_OK;
	t = arena_alloc(&cx->p->arena, (size_t)count * sizeof(int64_t));
	if (!t)
		return loop_oom(cx->p);
	for (int64_t j = 0; j < count; j++) {
		int64_t k = val_get_i64(&it->v, j);
		t[j] = k < 0 ? k + xd[axis] : k;
	}
	yv = cx->p->bufs[y].rank == rank && it->v.rank == 1 ? y
	     : view_of(cx, y, rank, vd);
	for (int d = 0; d < rank; d++) {
		bool ok = d == axis ? fit_runs(cx, t, count, &ax[d]) : identity_axis(cx, xd[d], &ax[d]);

		if (!ok)
			return loop_oom(cx->p);
	}
	if (yv >= 0)
		copy_runs(cx, yv, x, rank, ax);
	return loop_oom(cx->p);
}

/*
 * Resize and Upsample: the plan and the taps of ir/interp/resize.h, with
 * the scales or sizes constant.
 */

/* The taps of one axis: for output o, idx[o][k] (clamped) and w[o][k],
 * k < ntaps (more than MAX_TAPS with antialias); outside[o] marks a
 * coordinate outside the crop (extrapolation). */
typedef struct AxisTaps {
	int ntaps;
	int64_t *idx;
	double *w;
	bool *outside;
} AxisTaps;

/* Every coordinate inside the crop keeps the mode's ntaps taps, zero
 * weights included, so one mac nest per tap covers the axis. */
static bool axis_taps(LowerCx *cx, const ResizePlan *p, int d, AxisTaps *t)
{
	int64_t out = p->out[d];

	t->ntaps = p->ntaps[d];
	t->idx = arena_alloc(&cx->p->arena, (size_t)out * (size_t)t->ntaps * sizeof(int64_t));
	t->w = arena_alloc(&cx->p->arena, (size_t)out * (size_t)t->ntaps * sizeof(double));
	t->outside = arena_alloc(&cx->p->arena, (size_t)out * sizeof(bool));
	if (!t->idx || !t->w || !t->outside)
		return false;
	for (int64_t o = 0; o < out; o++)
		t->outside[o] = resize_taps(p, d, o, true, t->idx + o * t->ntaps,
		                            t->w + o * t->ntaps) == 0;
	return true;
}

/* Whether axis d maps every output coordinate o to input o: every tap
 * reads o or weighs nothing, and the weights on o sum to exactly 1. */
static bool axis_is_identity(const ResizePlan *p, int d, const AxisTaps *t)
{
	if (p->out[d] != p->in[d])
		return false;
	for (int64_t o = 0; o < p->out[d]; o++) {
		double sum = 0;

		if (t->outside[o])
			return false;
		for (int k = 0; k < t->ntaps; k++) {
			double w = t->w[o * t->ntaps + k];

			if (t->idx[o * t->ntaps + k] == o)
				sum += w;
			else if (w != 0)
				return false;
		}
		if (sum != 1)
			return false;
	}
	return true;
}

/* Tap k's source table for axis d; coordinates outside the crop take the
 * nearest inside value (the extrapolation fill overwrites them). */
static int64_t *tap_table(LowerCx *cx, const ResizePlan *p, int d, const AxisTaps *t, int k)
{
	int64_t out = p->out[d], *tab = arena_alloc(&cx->p->arena, (size_t)out * sizeof(int64_t));
	int64_t last = -1;

	if (!tab)
		return NULL;
	for (int64_t o = 0; o < out && last < 0; o++)
		if (!t->outside[o])
			last = t->idx[o * t->ntaps + k];
	for (int64_t o = 0; o < out; o++) {
		if (!t->outside[o])
			last = t->idx[o * t->ntaps + k];
		tab[o] = last < 0 ? 0 : last;
	}
	return tab;
}

/* Y = extrapolation_value wherever some axis' coordinate is outside the crop. */
static void extrapolate(LowerCx *cx, const ResizePlan *p, int y, const AxisTaps *t)
{
	LoopArg v = lower_typed_lit(cx->p->bufs[y].dt, p->extrapolation);

	for (int d = 0; d < p->rank; d++) {
		for (int64_t o = 0; o < p->out[d];) {
			Axis ax[MAX_RANK];
			int oidx[MAX_RANK], sidx[MAX_RANK], pick[MAX_RANK] = {0}, in;
			int64_t e = o;

			if (!t[d].outside || !t[d].outside[o]) {
				o++;
				continue;
			}
			while (e < p->out[d] && t[d].outside[e])
				e++;
			for (int a = 0; a < p->rank; a++)
				if (!identity_axis(cx, p->out[a], &ax[a]))
					return;
			ax[d].run[0] = (Run){o, e - o, 1, 0, 1};
			in = run_nest(cx, p->rank, ax, pick, oidx, sidx);
			lower_emit2(cx, in, LN_FILL, lower_ref(cx, y, oidx), v);
			o = e;
		}
	}
}

/* Nearest: one copy per combination of runs of the axes' index tables. */
static Status resize_nearest(LowerCx *cx, const ResizePlan *p, int y, int x, const AxisTaps *t)
{
	Axis ax[MAX_RANK];

	for (int d = 0; d < p->rank; d++) {
		int64_t *tab = tap_table(cx, p, d, &t[d], 0);

		if (!tab || !fit_runs(cx, tab, p->out[d], &ax[d]))
			return loop_oom(cx->p);
	}
	copy_runs(cx, y, x, p->rank, ax);
	return loop_oom(cx->p);
}

/* The weights of axis d as a const f64 buffer [out][ntaps]. */
static int weight_buf(LowerCx *cx, const Node *n, const ResizePlan *p, int d, const AxisTaps *t)
{
	int64_t dims[2] = {p->out[d], t->ntaps};
	double *w = arena_alloc(&cx->p->arena, (size_t)(dims[0] * dims[1]) * sizeof(double));

	if (!w)
		return -1;
	for (int64_t o = 0; o < dims[0]; o++)
		for (int k = 0; k < t->ntaps; k++)
			w[o * t->ntaps + k] = t->outside[o] ? 0 : t->w[o * t->ntaps + k];
	return lower_const(cx, arena_printf(&cx->p->arena, "%s_w%d", n->name, d), DT_F64, 2, dims, w);
}

/*
 * One separable pass along axis d: dst (cur's shape with dims[d] = out) =
 * sum over taps k of W[o, k] * cur[.., tap_k(o), ..], one mac nest per tap
 * and run of its table.
 */
static Status resize_pass(LowerCx *cx, const Node *n, const ResizePlan *p, int d,
                          const AxisTaps *t, int cur, int dst)
{
	int w = weight_buf(cx, n, p, d, t), rank = p->rank;
	int64_t dims[MAX_RANK];

	lower_buf_shape(cx, dst, dims);
	for (int k = 0; k < t->ntaps && w >= 0; k++) {
		int64_t *tab = tap_table(cx, p, d, t, k);
		Axis ax[MAX_RANK];
		int pick[MAX_RANK] = {0};

		for (int a = 0; a < rank; a++)
			if (!identity_axis(cx, dims[a], &ax[a]))
				return loop_oom(cx->p);
		if (!tab || !fit_runs(cx, tab, p->out[d], &ax[d]))
			return loop_oom(cx->p);
		do {
			int oidx[MAX_RANK], sidx[MAX_RANK], widx[2];
			int in = run_nest(cx, rank, ax, pick, oidx, sidx);

			for (int a = 0; a < rank; a++)
				if (a != d)
					sidx[a] = oidx[a];
			widx[0] = oidx[d];
			widx[1] = loop_const(cx->p, k);
			lower_emit(cx, in, LN_MAC, 3, (LoopArg[]){lower_ref(cx, dst, oidx),
			           lower_ref(cx, w, widx), lower_ref(cx, cur, sidx)});
		} while (next_pick(rank, ax, pick));
	}
	return loop_oom(cx->p);
}

/* Linear and cubic: separable passes through f64 temporaries (integer
 * inputs widened first), then one rounding into Y. */
static Status resize_separable(LowerCx *cx, const Node *n, const ResizePlan *p, int y, int x,
                               const AxisTaps *t)
{
	int64_t dims[MAX_RANK];
	int cur = x;

	lower_buf_shape(cx, x, dims);
	if (!dtype_is_float(cx->p->bufs[x].dt)) {
		cur = lower_temp(cx, "rs_x", DT_F64, p->rank, dims);
		lower_cast_elems(cx, cur, x);
	}
	for (int d = 0; d < p->rank; d++) {
		int dst;

		if (axis_is_identity(p, d, &t[d]))
			continue;
		dims[d] = p->out[d];
		dst = lower_temp(cx, "rs_t", DT_F64, p->rank, dims);
		lower_fill_elems(cx, dst, loop_lit_float(0.0));
		TRY(resize_pass(cx, n, p, d, &t[d], cur, dst));
		cur = dst;
	}
	if (cur == x)
		lower_copy_elems(cx, y, x);
	else
		lower_cast_elems(cx, y, cur);
	return loop_oom(cx->p);
}

Status lower_resize(LowerCx *cx, const Node *n)
{
	int x = lower_buf(cx, n->in[0]), y = lower_out(cx, n, 0);
	AxisTaps t[MAX_RANK];
	ResizePlan p;

	TRY(resize_plan(cx->g, n, NULL, NULL, &node_in(cx->g, n, 0)->v, &p));
	if (p.roi_at_run_time)
		return node_error(cx->g, n, ST_UNSUPPORTED, "input 1 'roi' is computed at run time; "
		                  "the loop IR needs tf_crop_and_resize's roi to be a constant");
	if (loop_buf_numel(&cx->p->bufs[y]) == 0)
		return ST_OK;
	for (int d = 0; d < p.rank; d++) {
		nnac_assert(p.out[d] == cx->p->bufs[y].dims[d]);
		if (!axis_taps(cx, &p, d, &t[d]))
			return loop_oom(cx->p);
	}
	if (p.mode == RZ_NEAREST)
		TRY(resize_nearest(cx, &p, y, x, t));
	else
		TRY(resize_separable(cx, n, &p, y, x, t));
	extrapolate(cx, &p, y, t);
	return loop_oom(cx->p);
}
