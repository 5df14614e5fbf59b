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
 *
 * Resize's linear and cubic modes are separable: one pass per resized axis
 * accumulates tap weights (a const buffer per axis) times the gathered
 * elements into f64 temporaries, and the last pass stores into the output
 * with one rounding, as the graph interpreter computes in double.
 */
#include "lower.h"

#include <math.h>
#include <string.h>

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

/* An integer-list argument, from an attribute or a constant input. */
typedef struct Ints {
	const int64_t *v;
	int n;
	bool given;
} Ints;

/* The largest divisor fit_form tries. */
enum { MAX_DIVISOR = 64 };

static const char *const axis_names[MAX_RANK] = {"i0", "i1", "i2", "i3", "i4", "i5", "i6", "i7"};

static Status ints_input(LowerCx *cx, const Node *n, int i, Ints *arg)
{
	int64_t *v;
	int count;

	*arg = (Ints){NULL, 0, false};
	TRY(op_ints_arg(cx->g, n, NULL, NULL, i, &v, &count));
	*arg = (Ints){v, count, has_input(n, i)};
	return ST_OK;
}

static void ints_attr(const Node *n, const char *name, Ints *arg)
{
	arg->v = attr_ints(n, name, &arg->n);
	arg->given = attr_find(n, name) != NULL;
}

static int buf_shape(LowerCx *cx, int b, int64_t *dims)
{
	const LoopBuf *lb = &cx->p->bufs[b];

	memcpy(dims, lb->dims, sizeof(lb->dims));
	return lb->rank;
}

static const char *const nest_names[MAX_RANK] = {"i0", "i1", "i2", "i3", "i4", "i5", "i6", "i7"};

/* Loops i0, i1 ... over dims at the kernel's top level; a dimension of
 * size 1 gets index 0 and no loop.  vars[d] is dimension d's index;
 * returns the innermost loop (-1: none). */
static int elem_nest(LowerCx *cx, int rank, const int64_t *dims, int *vars)
{
	int parent = -1;

	for (int d = 0; d < rank; d++) {
		int f;

		if (dims[d] == 1) {
			vars[d] = loop_const(cx->p, 0);
			continue;
		}
		f = loop_new_for(cx->p, nest_names[d], 0, dims[d], 1);
		loop_append_in(cx->p, cx->kernel, parent, f);
		vars[d] = loop_var(cx->p, f);
		parent = f;
	}
	return parent;
}

/* dst = src element for element (same shape and type). */
static void copy_all(LowerCx *cx, int dst, int src)
{
	int64_t dims[MAX_RANK];
	int rank = cx->p->bufs[dst].rank, vars[MAX_RANK], in, s;

	memcpy(dims, cx->p->bufs[dst].dims, sizeof(dims));
	in = elem_nest(cx, rank, dims, vars);
	s = lower_stmt(cx, in, LN_COPY);
	loop_push_arg(cx->p, s, lower_ref(cx, dst, vars));
	loop_push_arg(cx->p, s, lower_ref(cx, src, vars));
}

static int64_t shape_numel(int rank, const int64_t *dims)
{
	int64_t n = 1;

	for (int i = 0; i < rank; i++)
		n *= dims[i];
	return n;
}

static int64_t prod(const int64_t *dims, int from, int to)
{
	int64_t p = 1;

	for (int i = from; i < to; i++)
		p *= dims[i];
	return p;
}

static int64_t clamp64(int64_t x, int64_t lo, int64_t hi)
{
	return x < lo ? lo : x > hi ? hi : x;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

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

static void emit_copy(LowerCx *cx, int parent, LoopArg dst, LoopArg src)
{
	int s = lower_stmt(cx, parent, LN_COPY);

	loop_push_arg(cx->p, s, dst);
	loop_push_arg(cx->p, s, src);
}

/* A literal holding x as stored into type dt (val_set_f64's conversion). */
static LoopArg typed_lit(DType dt, double x)
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
	int m = lower_out(cx, n, 1), vars[MAX_RANK], in, s;
	int64_t dims[MAX_RANK];
	int rank;

	if (m < 0)
		return;
	rank = buf_shape(cx, m, dims);
	if (shape_numel(rank, dims) == 0)
		return;
	in = elem_nest(cx, rank, dims, vars);
	s = lower_stmt(cx, in, LN_FILL);
	loop_push_arg(cx->p, s, lower_ref(cx, m, vars));
	loop_push_arg(cx->p, s, typed_lit(cx->p->bufs[m].dt, 1.0));
}

Status lower_reshape(LowerCx *cx, const Node *n)
{
	int x = lower_buf(cx, n->in[0]), y, v;
	int64_t dims[MAX_RANK];
	int rank;

	if (n->op == OP_Dropout)
		dropout_mask(cx, n);
	if (lower_view(cx, n, 0, x, 0))
		return loop_oom(cx->p);
	y = lower_out(cx, n, 0);
	rank = buf_shape(cx, y, dims);
	if (y == x || shape_numel(rank, dims) == 0)
		return loop_oom(cx->p);
	v = view_of(cx, x, rank, dims);
	if (v >= 0)
		copy_all(cx, y, v);
	return loop_oom(cx->p);
}

/* Transpose: Y[i0, ..] = X[.., i_k at axis perm[k], ..]. */

static Status transpose_perm(LowerCx *cx, const Node *n, int rank, int *perm)
{
	int count;
	const int64_t *p = attr_ints(n, "perm", &count);

	if (!attr_find(n, "perm")) {
		for (int i = 0; i < rank; i++)
			perm[i] = rank - 1 - i;
		return ST_OK;
	}
	if (count != rank)
		return node_error(cx->g, n, ST_INVALID, "perm has %d entries for rank %d", count, rank);
	for (int i = 0; i < rank; i++)
		perm[i] = (int)p[i];
	return ST_OK;
}

Status lower_transpose(LowerCx *cx, const Node *n)
{
	int x = lower_buf(cx, n->in[0]), y = lower_out(cx, n, 0);
	int perm[MAX_RANK], vars[MAX_RANK], idx[MAX_RANK], in;
	int64_t dims[MAX_RANK];
	int rank = buf_shape(cx, y, dims);

	TRY(transpose_perm(cx, n, rank, perm));
	if (shape_numel(rank, dims) == 0)
		return ST_OK;
	in = elem_nest(cx, rank, dims, vars);
	for (int i = 0; i < rank; i++)
		idx[perm[i]] = vars[i];
	emit_copy(cx, in, lower_ref(cx, y, vars), lower_ref(cx, x, idx));
	return loop_oom(cx->p);
}

/* Concat: input k lands at its running offset along the axis. */

static Status concat_axis(LowerCx *cx, const Node *n, int rank, int64_t *axis)
{
	const Attr *a = attr_find(n, "axis");

	*axis = a ? a->i : 1;
	if (!norm_axis(axis, rank))
		return node_error(cx->g, n, ST_INVALID, "axis %lld is out of range for rank %d",
		                  (long long)*axis, rank);
	return ST_OK;
}

Status lower_concat(LowerCx *cx, const Node *n)
{
	int y = lower_out(cx, n, 0), vars[MAX_RANK], idx[MAX_RANK];
	int64_t dims[MAX_RANK], axis, off = 0;
	int rank = buf_shape(cx, y, dims);

	TRY(concat_axis(cx, n, rank, &axis));
	for (int k = 0; k < n->nin; k++) {
		int x = lower_buf(cx, n->in[k]), in;
		int64_t xd[MAX_RANK];

		buf_shape(cx, x, xd);
		if (shape_numel(rank, xd) > 0) {
			in = elem_nest(cx, rank, xd, vars);
			memcpy(idx, vars, sizeof(idx));
			idx[axis] = loop_add_const(cx->p, vars[axis], off);
			emit_copy(cx, in, lower_ref(cx, y, idx), lower_ref(cx, x, vars));
		}
		off += xd[axis];
	}
	return loop_oom(cx->p);
}

/* Split: output i is the slab [off_i, off_i + size_i) along the axis; a
 * view when the slab is contiguous (nothing but 1s before the axis). */

static void split_chunks(int64_t dim, int nout, bool ceil_parts, int64_t *sizes)
{
	int64_t chunk = ceil_parts ? (dim + nout - 1) / nout : dim / nout, left = dim;

	for (int i = 0; i < nout; i++) {
		sizes[i] = chunk < left ? chunk : left;
		left -= sizes[i];
	}
}

/* Sizes of the outputs along the axis (already validated by infer). */
static Status split_sizes(LowerCx *cx, const Node *n, int64_t dim, int64_t *sizes)
{
	Ints s;

	if (cx->g->opset >= 13 || has_input(n, 1))
		TRY(ints_input(cx, n, 1, &s));
	else
		ints_attr(n, "split", &s);
	if (s.given && s.n == n->nout) {
		memcpy(sizes, s.v, (size_t)s.n * sizeof(int64_t));
		return ST_OK;
	}
	split_chunks(dim, n->nout, attr_find(n, "num_outputs") != NULL, sizes);
	return ST_OK;
}

Status lower_split(LowerCx *cx, const Node *n)
{
	int x = lower_buf(cx, n->in[0]), vars[MAX_RANK], idx[MAX_RANK];
	int64_t dims[MAX_RANK], axis = attr_i(n, "axis", 0), off = 0, *sizes, inner;
	int rank = buf_shape(cx, x, dims);

	if (!norm_axis(&axis, rank))
		return node_error(cx->g, n, ST_INVALID, "axis %lld is out of range for rank %d",
		                  (long long)axis, rank);
	sizes = arena_alloc(&cx->p->arena, (size_t)n->nout * sizeof(int64_t) + 1);
	if (!sizes)
		return diag_add(cx->p->diag, ST_NOMEM, "%s: out of memory", cx->p->path);
	TRY(split_sizes(cx, n, dims[axis], sizes));
	inner = prod(dims, (int)axis + 1, rank);
	for (int i = 0; i < n->nout; off += sizes[i++]) {
		int64_t yd[MAX_RANK];
		int y, in;

		if (n->out[i] < 0)
			continue;
		if (prod(dims, 0, (int)axis) == 1 && lower_view(cx, n, i, x, off * inner))
			continue;
		y = lower_out(cx, n, i);
		buf_shape(cx, y, yd);
		if (shape_numel(rank, yd) == 0)
			continue;
		in = elem_nest(cx, rank, yd, vars);
		memcpy(idx, vars, sizeof(idx));
		idx[axis] = loop_add_const(cx->p, vars[axis], off);
		emit_copy(cx, in, lower_ref(cx, y, vars), lower_ref(cx, x, idx));
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
		return loop_const(cx->p, floor_div(r->b, r->c));
	e = r->a == 1 ? var : loop_mul(cx->p, r->a, var);
	e = loop_add_const(cx->p, e, r->b);
	return r->c == 1 ? e : loop_div(cx->p, e, r->c);
}

/* Whether floor((a*o + b) / c) == t[o] for o in [s, e). */
static bool run_fits(const int64_t *t, int64_t s, int64_t e, int64_t a, int64_t b, int64_t c)
{
	for (int64_t o = s; o < e; o++)
		if (floor_div(a * o + b, c) != t[o])
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
	double slope = e - s > 1 ? (double)(t[e - 1] - t[s]) / (double)(e - 1 - s) : 0;

	for (int64_t c = 1; c <= max_c; c++) {
		int64_t a0 = (int64_t)floor(slope * (double)c);

		for (int64_t a = a0 - 1; a <= a0 + 1; a++) {
			int64_t lo = INT64_MIN, hi = INT64_MAX;

			for (int64_t o = s; o < e && lo <= hi; o++) {
				int64_t l = c * t[o] - a * o, h = l + c - 1;
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
	int64_t slope = s + 1 < count ? t[s + 1] - t[s] : 0, e = s + 1;

	while (e < count && t[e] == t[s] + slope * (e - s))
		e++;
	return (Run){s, e - s, slope, t[s] - slope * s, 1};
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

/* One run covering the identity map of an axis of size dim. */
static bool identity_axis(LowerCx *cx, int64_t dim, Axis *ax)
{
	ax->run = arena_alloc(&cx->p->arena, sizeof(Run));
	if (!ax->run)
		return false;
	ax->run[0] = (Run){0, dim, 1, 0, 1};
	ax->nrun = 1;
	return true;
}

/* Loops over the chosen run of every axis (an extent-1 run is a constant);
 * returns the innermost parent and the output and source indices. */
static int run_nest(LowerCx *cx, int rank, const Axis *ax, const int *pick, int *oidx, int *sidx)
{
	int parent = -1;

	for (int d = 0; d < rank; d++) {
		const Run *r = &ax[d].run[pick[d]];
		int v;

		if (r->len == 1) {
			v = loop_const(cx->p, r->start);
		} else {
			int f = loop_new_for(cx->p, axis_names[d], r->start, r->len, 1);

			loop_append_in(cx->p, cx->kernel, parent, f);
			v = loop_var(cx->p, f);
			parent = f;
		}
		oidx[d] = v;
		sidx[d] = r->len == 1 ? loop_const(cx->p, floor_div(r->a * r->start + r->b, r->c))
		                      : run_index(cx, v, r);
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

		emit_copy(cx, in, lower_ref(cx, y, oidx), lower_ref(cx, x, sidx));
	} while (next_pick(rank, ax, pick));
}

/* Slice: Y[i] = X[start + step*i] per axis, steps of either sign. */

static void slice_axis(int64_t dim, int64_t s, int64_t e, int64_t step, int64_t *start,
                       int64_t *len)
{
	int64_t mag;

	*start = 0;
	*len = 0;
	if (dim == 0)
		return;
	if (s < 0)
		s += dim;
	if (e < 0)
		e += dim;
	if (step > 0) {
		s = clamp64(s, 0, dim);
		e = clamp64(e, 0, dim);
		mag = step > dim ? dim : step;
		*len = e > s ? (e - s - 1) / mag + 1 : 0;
	} else {
		s = clamp64(s, 0, dim - 1);
		e = clamp64(e, -1, dim - 1);
		mag = step < -dim ? dim : -step;
		*len = s > e ? (s - e - 1) / mag + 1 : 0;
	}
	*start = s;
}

static Status slice_args(LowerCx *cx, const Node *n, Ints *args)
{
	if (cx->g->opset < 10) {
		ints_attr(n, "starts", &args[0]);
		ints_attr(n, "ends", &args[1]);
		ints_attr(n, "axes", &args[2]);
		args[3] = (Ints){NULL, 0, false};
		return ST_OK;
	}
	for (int i = 0; i < 4; i++)
		TRY(ints_input(cx, n, i + 1, &args[i]));
	return ST_OK;
}

Status lower_slice(LowerCx *cx, const Node *n)
{
	int x = lower_buf(cx, n->in[0]), y = lower_out(cx, n, 0);
	int64_t dims[MAX_RANK], yd[MAX_RANK];
	int rank = buf_shape(cx, x, dims);
	Axis ax[MAX_RANK];
	Ints arg[4];   /* starts, ends, axes, steps */

	TRY(slice_args(cx, n, arg));
	buf_shape(cx, y, yd);
	if (shape_numel(rank, yd) == 0)
		return ST_OK;
	for (int d = 0; d < rank; d++)
		if (!identity_axis(cx, dims[d], &ax[d]))
			return loop_oom(cx->p);
	for (int i = 0; i < arg[0].n; i++) {
		int64_t axis = arg[2].given ? arg[2].v[i] : i;
		int64_t step = arg[3].given ? arg[3].v[i] : 1, start, len;

		norm_axis(&axis, rank);
		slice_axis(dims[axis], arg[0].v[i], arg[1].v[i], step, &start, &len);
		ax[axis].run[0] = (Run){0, len, len > 1 ? step : 1, start, 1};
	}
	for (int d = 0; d < rank; d++)
		nnac_assert(ax[d].run[0].len == yd[d]);
	copy_runs(cx, y, x, rank, ax);
	return loop_oom(cx->p);
}

/*
 * Pad: constant mode copies with `pad v`; edge, reflect and wrap read the
 * input index of every output coordinate from a table, as runs.
 */

enum { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE, PAD_WRAP };

typedef struct PadPlan {
	int64_t begin[MAX_RANK], end[MAX_RANK];
	int mode;
} PadPlan;

static Status pad_plan(LowerCx *cx, const Node *n, int rank, PadPlan *p)
{
	static const char *const names[] = {"constant", "reflect", "edge", "wrap"};
	const char *mode = attr_s(n, "mode", "constant");
	Ints pads, axes = {NULL, 0, false};
	int naxes;

	p->mode = -1;
	for (int i = 0; i < (int)ARRAY_LEN(names); i++)
		if (strcmp(mode, names[i]) == 0)
			p->mode = i;
	if (p->mode < 0)
		return node_error(cx->g, n, ST_INVALID, "mode '%s' is not constant, reflect, edge or wrap",
		                  mode);
	if (cx->g->opset < 11) {
		ints_attr(n, "pads", &pads);
	} else {
		TRY(ints_input(cx, n, 1, &pads));
		TRY(ints_input(cx, n, 3, &axes));
	}
	naxes = axes.given ? axes.n : rank;
	if (pads.n != 2 * naxes)
		return node_error(cx->g, n, ST_INVALID, "pads has %d entries, expected %d", pads.n,
		                  2 * naxes);
	memset(p->begin, 0, sizeof(p->begin));
	memset(p->end, 0, sizeof(p->end));
	for (int i = 0; i < naxes; i++) {
		int64_t axis = axes.given ? axes.v[i] : i;

		norm_axis(&axis, rank);
		p->begin[axis] = pads.v[i];
		p->end[axis] = pads.v[i + naxes];
	}
	return ST_OK;
}

/* Input index for coordinate c of the kept range [lo, lo + size). */
static int64_t pad_source(int mode, int64_t c, int64_t lo, int64_t size)
{
	int64_t period;

	if (c >= 0 && c < size)
		return lo + c;
	switch (mode) {
	case PAD_CONSTANT:
		return -1;
	case PAD_EDGE:
		return lo + (c < 0 ? 0 : size - 1);
	case PAD_WRAP:
		return lo + ((c % size) + size) % size;
	case PAD_REFLECT:
		if (size == 1)
			return lo;
		period = 2 * (size - 1);
		c = ((c % period) + period) % period;
		return lo + (c < size ? c : period - c);
	}
	nnac_unreachable();
}

/* Axis d of a non-constant pad as runs of its source table. */
static bool pad_axis(LowerCx *cx, const PadPlan *p, int64_t xdim, int64_t ydim, Axis *ax)
{
	int64_t lo = p->begin[0] < 0 ? -p->begin[0] : 0;
	int64_t size = xdim - lo - (p->end[0] < 0 ? -p->end[0] : 0);
	int64_t shift = p->begin[0] > 0 ? p->begin[0] : 0;
	int64_t *t = arena_alloc(&cx->p->arena, (size_t)ydim * sizeof(int64_t));

	if (!t)
		return false;
	for (int64_t o = 0; o < ydim; o++)
		t[o] = pad_source(p->mode, o - shift, lo, size);
	return fit_runs(cx, t, ydim, ax);
}

/* The padding value as a literal, or a reference to a run-time scalar. */
static Status pad_value(LowerCx *cx, const Node *n, DType dt, LoopArg *v, bool *is_lit)
{
	const Tensor *t = node_in(cx->g, n, 2);

	*is_lit = true;
	if (cx->g->opset < 11) {
		*v = typed_lit(dt, attr_f(n, "value", 0.0));
	} else if (!t || val_numel(&t->v) == 0) {
		*v = typed_lit(dt, 0.0);
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

		if (hi <= lo || !identity_axis(cx, yd[d], &ax[d]))
			return false;
		ax[d].run[0] = (Run){lo, hi - lo, 1, -p->begin[d], 1};
	}
	return true;
}

/* Constant mode: Y[o] = X[o - begin], the value where that falls outside
 * X; a run-time value is copied everywhere first, then the interior. */
static Status pad_constant(LowerCx *cx, const Node *n, const PadPlan *p, int y, int x)
{
	int64_t yd[MAX_RANK], xd[MAX_RANK];
	int rank = buf_shape(cx, y, yd), vars[MAX_RANK], idx[MAX_RANK], in, s;
	Axis ax[MAX_RANK];
	LoopArg v;
	bool lit;

	buf_shape(cx, x, xd);
	TRY(pad_value(cx, n, cx->p->bufs[y].dt, &v, &lit));
	in = elem_nest(cx, rank, yd, vars);
	if (!lit) {
		emit_copy(cx, in, lower_ref(cx, y, vars), v);
		if (pad_interior(cx, p, rank, xd, yd, ax))
			copy_runs(cx, y, x, rank, ax);
		return loop_oom(cx->p);
	}
	for (int d = 0; d < rank; d++)
		idx[d] = loop_add_const(cx->p, vars[d], -p->begin[d]);
	s = lower_stmt(cx, in, LN_COPY);
	loop_push_arg(cx->p, s, lower_ref(cx, y, vars));
	loop_push_arg(cx->p, s, lower_ref(cx, x, idx));
	if (s >= 0) {
		cx->p->nodes[s].has_pad = true;
		cx->p->nodes[s].pad = v.lit;
	}
	return loop_oom(cx->p);
}

Status lower_pad(LowerCx *cx, const Node *n)
{
	int x = lower_buf(cx, n->in[0]), y = lower_out(cx, n, 0);
	int64_t xd[MAX_RANK], yd[MAX_RANK];
	int rank = buf_shape(cx, x, xd);
	Axis ax[MAX_RANK];
	PadPlan p;

	TRY(pad_plan(cx, n, rank, &p));
	buf_shape(cx, y, yd);
	if (shape_numel(rank, yd) == 0)
		return ST_OK;
	if (p.mode == PAD_CONSTANT)
		return pad_constant(cx, n, &p, y, x);
	for (int d = 0; d < rank; d++) {
		PadPlan one = {{p.begin[d]}, {p.end[d]}, p.mode};

		if (!pad_axis(cx, &one, xd[d], yd[d], &ax[d]))
			return loop_oom(cx->p);
	}
	copy_runs(cx, y, x, rank, ax);
	return loop_oom(cx->p);
}

/*
 * Gather with constant indices: Y, seen as X's shape with the axis
 * replaced by the flat index count, copies X's slab k_j for every j; the
 * index sequence becomes runs.
 */
Status lower_gather(LowerCx *cx, const Node *n)
{
	const Tensor *it = node_in(cx->g, n, 1);
	int x = lower_buf(cx, n->in[0]), y = lower_out(cx, n, 0), yv;
	int64_t xd[MAX_RANK], vd[MAX_RANK], axis = attr_i(n, "axis", 0), count, *t;
	int rank = buf_shape(cx, x, xd);
	Axis ax[MAX_RANK];

	if (!it->v.data)
		return node_error(cx->g, n, ST_UNSUPPORTED, "indices '%s' are computed at run time; "
		                  "the loop IR indexes with affine expressions only", it->name);
	norm_axis(&axis, rank);
	count = val_numel(&it->v);
	memcpy(vd, xd, sizeof(vd));
	vd[axis] = count;
	if (shape_numel(rank, vd) == 0)
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
 * Resize and Upsample: the plan (modes, coordinate transform, scales) as
 * ir/interp/resize.c computes it, with the scales or sizes constant.
 */

enum { RZ_NEAREST, RZ_LINEAR, RZ_CUBIC };

enum {
	CT_HALF_PIXEL, CT_HALF_PIXEL_SYMMETRIC, CT_PYTORCH_HALF_PIXEL, CT_ALIGN_CORNERS,
	CT_ASYMMETRIC, CT_TF_HALF_PIXEL_FOR_NEAREST, CT_TF_CROP_AND_RESIZE
};

enum { NM_ROUND_PREFER_FLOOR, NM_ROUND_PREFER_CEIL, NM_FLOOR, NM_CEIL, NM_SIMPLE };

enum { MAX_TAPS = 4 };

static const char *const mode_names[] = {"nearest", "linear", "cubic"};
static const char *const coord_names[] = {
	"half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners",
	"asymmetric", "tf_half_pixel_for_nearest", "tf_crop_and_resize"
};
static const char *const nearest_names[] = {
	"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"
};

typedef struct ResizePlan {
	int mode, coord, nearest;
	double cubic_a, extrapolation;
	bool exclude_outside;
	int rank;
	int64_t in[MAX_RANK], out[MAX_RANK];
	double scale[MAX_RANK];     /* output / input per axis */
	double length[MAX_RANK];    /* resized length the transforms use */
	double roi[2 * MAX_RANK];   /* tf_crop_and_resize: starts, then ends */
} ResizePlan;

/* The taps of one axis: for output o, idx[o][k] (clamped) and w[o][k];
 * outside[o] marks a coordinate outside the crop (extrapolation). */
typedef struct AxisTaps {
	int ntaps;
	int64_t *idx;
	double *w;
	bool *outside;
} AxisTaps;

static int pick_name(const char *s, const char *const *names, int count)
{
	for (int i = 0; i < count; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return 0;
}

static void resize_attrs(LowerCx *cx, const Node *n, ResizePlan *p)
{
	bool old = n->op == OP_Upsample || cx->g->opset < 11;
	const char *ct = attr_s(n, "coordinate_transformation_mode", "half_pixel");

	p->mode = pick_name(attr_s(n, "mode", "nearest"), mode_names, 3);
	p->coord = CT_ASYMMETRIC;
	p->nearest = NM_SIMPLE;
	p->cubic_a = attr_f(n, "cubic_coeff_a", -0.75);
	p->exclude_outside = attr_i(n, "exclude_outside", 0) != 0;
	p->extrapolation = attr_f(n, "extrapolation_value", 0.0);
	if (old)
		return;
	p->coord = strcmp(ct, "tf_half_pixel_for_nn") == 0 ? CT_TF_HALF_PIXEL_FOR_NEAREST
	           : pick_name(ct, coord_names, (int)ARRAY_LEN(coord_names));
	p->nearest = pick_name(attr_s(n, "nearest_mode", "round_prefer_floor"), nearest_names,
	                       (int)ARRAY_LEN(nearest_names));
}

static Status resize_plan(LowerCx *cx, const Node *n, int rank, const int64_t *xd, ResizePlan *p)
{
	double *scales = NULL, *roi = NULL;
	int64_t *sizes = NULL;
	int ns = 0, nz = 0, nr = 0;

	memset(p, 0, sizeof(*p));
	resize_attrs(cx, n, p);
	if (n->op == OP_Upsample && cx->g->opset < 9) {
		scales = (double *)attr_floats(n, "scales", &ns);
	} else if (n->op == OP_Upsample || cx->g->opset < 11) {
		TRY(op_floats_arg(cx->g, n, NULL, NULL, 1, &scales, &ns));
	} else {
		TRY(op_floats_arg(cx->g, n, NULL, NULL, 2, &scales, &ns));
		TRY(op_ints_arg(cx->g, n, NULL, NULL, 3, &sizes, &nz));
		TRY(op_floats_arg(cx->g, n, NULL, NULL, 1, &roi, &nr));
	}
	p->rank = rank;
	memcpy(p->in, xd, sizeof(p->in));
	for (int d = 0; d < rank; d++) {
		if (ns) {
			p->scale[d] = scales[d];
			p->length[d] = scales[d] * (double)xd[d];
			p->out[d] = (int64_t)floor(p->length[d]);
		} else {
			p->out[d] = sizes[d];
			p->length[d] = (double)sizes[d];
			p->scale[d] = xd[d] > 0 ? p->length[d] / (double)xd[d] : 1.0;
		}
	}
	for (int i = 0; i < nr && i < 2 * MAX_RANK && p->coord == CT_TF_CROP_AND_RESIZE; i++)
		p->roi[i] = roi[i];
	(void)nz;
	return ST_OK;
}

/* Output coordinate y of axis d in input coordinates. */
static double resize_coord(const ResizePlan *p, int d, double y)
{
	double s = p->scale[d], len = p->length[d], in = (double)p->in[d];
	double lo = p->roi[d], hi = p->roi[d + p->rank];

	switch (p->coord) {
	case CT_HALF_PIXEL:
		return (y + 0.5) / s - 0.5;
	case CT_HALF_PIXEL_SYMMETRIC:
		return in / 2 * (1 - (double)p->out[d] / len) + (y + 0.5) / s - 0.5;
	case CT_PYTORCH_HALF_PIXEL:
		return len > 1 ? (y + 0.5) / s - 0.5 : 0;
	case CT_ALIGN_CORNERS:
		return len == 1 ? 0 : y * (in - 1) / (len - 1);
	case CT_ASYMMETRIC:
		return y / s;
	case CT_TF_HALF_PIXEL_FOR_NEAREST:
		return (y + 0.5) / s;
	case CT_TF_CROP_AND_RESIZE:
		if (len == 1)
			return (hi - lo) * (in - 1) / 2 + lo * (in - 1);
		return y * (hi - lo) * (in - 1) / (len - 1) + lo * (in - 1);
	}
	nnac_unreachable();
}

static int64_t nearest_index(const ResizePlan *p, int d, double x)
{
	double f = floor(x), r = x - f;

	if (r == 0)
		return (int64_t)f;
	switch (p->nearest) {
	case NM_ROUND_PREFER_FLOOR: return (int64_t)(r <= 0.5 ? f : f + 1);
	case NM_ROUND_PREFER_CEIL: return (int64_t)(r < 0.5 ? f : f + 1);
	case NM_FLOOR: return (int64_t)f;
	case NM_CEIL: return (int64_t)f + 1;
	case NM_SIMPLE: return p->scale[d] < 1 ? (int64_t)f + 1 : (int64_t)trunc(x);
	}
	nnac_unreachable();
}

static double cubic_weight(double t, double A)
{
	t = fabs(t);
	if (t <= 1)
		return ((A + 2) * t - (A + 3)) * t * t + 1;
	if (t < 2)
		return ((A * t - 5 * A) * t + 8 * A) * t - 4 * A;
	return 0;
}

/* The taps of input coordinate x: indices before clamping and weights. */
static int kernel_taps(const ResizePlan *p, int d, double x, int64_t *idx, double *w)
{
	double f = floor(x), r = x - f;

	switch (p->mode) {
	case RZ_NEAREST:
		idx[0] = nearest_index(p, d, x);
		w[0] = 1;
		return 1;
	case RZ_LINEAR:
		idx[0] = (int64_t)f;
		idx[1] = (int64_t)f + 1;
		w[0] = 1 - r;
		w[1] = r;
		return 2;
	case RZ_CUBIC:
		for (int k = 0; k < 4; k++) {
			idx[k] = (int64_t)f - 1 + k;
			w[k] = cubic_weight(r + 1 - k, p->cubic_a);
		}
		return 4;
	}
	nnac_unreachable();
}

/* exclude_outside (weights renormalized) and edge clamping; zero weights
 * stay, so every output coordinate has the same number of taps. */
static void finish_taps(const ResizePlan *p, int d, int count, int64_t *idx, double *w)
{
	int64_t in = p->in[d];
	double sum = 0;

	for (int k = 0; k < count; k++) {
		if (p->exclude_outside && (idx[k] < 0 || idx[k] >= in))
			w[k] = 0;
		sum += w[k];
	}
	for (int k = 0; k < count; k++) {
		idx[k] = idx[k] < 0 ? 0 : idx[k] >= in ? in - 1 : idx[k];
		if (p->exclude_outside && sum != 0)
			w[k] /= sum;
	}
}

static bool axis_taps(LowerCx *cx, const ResizePlan *p, int d, AxisTaps *t)
{
	int64_t out = p->out[d];
	double in = (double)p->in[d];

	t->ntaps = p->mode == RZ_NEAREST ? 1 : p->mode == RZ_LINEAR ? 2 : 4;
	t->idx = arena_alloc(&cx->p->arena, (size_t)out * MAX_TAPS * sizeof(int64_t));
	t->w = arena_alloc(&cx->p->arena, (size_t)out * MAX_TAPS * sizeof(double));
	t->outside = arena_alloc(&cx->p->arena, (size_t)out * sizeof(bool));
	if (!t->idx || !t->w || !t->outside)
		return false;
	for (int64_t o = 0; o < out; o++) {
		int64_t *idx = t->idx + o * MAX_TAPS;
		double *w = t->w + o * MAX_TAPS, x = resize_coord(p, d, (double)o);

		t->outside[o] = p->coord == CT_TF_CROP_AND_RESIZE && (x < 0 || x > in - 1);
		x = x < -4 ? -4 : x > in + 4 ? in + 4 : x;
		finish_taps(p, d, kernel_taps(p, d, x, idx, w), idx, w);
	}
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
			double w = t->w[o * MAX_TAPS + k];

			if (t->idx[o * MAX_TAPS + k] == o)
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
	for (int64_t o = 0; o < out; o++) {
		tab[o] = t->idx[o * MAX_TAPS + k];
		if (!t->outside[o] && last < 0)
			last = tab[o];
	}
	for (int64_t o = 0; o < out; o++) {
		if (t->outside[o])
			tab[o] = last < 0 ? 0 : last;
		else
			last = tab[o];
	}
	return tab;
}

/* Y = extrapolation_value wherever some axis' coordinate is outside the crop. */
static void extrapolate(LowerCx *cx, const ResizePlan *p, int y, const AxisTaps *t)
{
	LoopArg v = typed_lit(cx->p->bufs[y].dt, p->extrapolation);

	for (int d = 0; d < p->rank; d++) {
		for (int64_t o = 0; o < p->out[d];) {
			Axis ax[MAX_RANK];
			int oidx[MAX_RANK], sidx[MAX_RANK], pick[MAX_RANK] = {0}, in, s;
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
			s = lower_stmt(cx, in, LN_FILL);
			loop_push_arg(cx->p, s, lower_ref(cx, y, oidx));
			loop_push_arg(cx->p, s, v);
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
			w[o * t->ntaps + k] = t->outside[o] ? 0 : t->w[o * MAX_TAPS + k];
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

	buf_shape(cx, dst, dims);
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
			int in = run_nest(cx, rank, ax, pick, oidx, sidx), s;

			for (int a = 0; a < rank; a++)
				if (a != d)
					sidx[a] = oidx[a];
			widx[0] = oidx[d];
			widx[1] = loop_const(cx->p, k);
			s = lower_stmt(cx, in, LN_MAC);
			loop_push_arg(cx->p, s, lower_ref(cx, dst, oidx));
			loop_push_arg(cx->p, s, lower_ref(cx, w, widx));
			loop_push_arg(cx->p, s, lower_ref(cx, cur, sidx));
		} while (next_pick(rank, ax, pick));
	}
	return loop_oom(cx->p);
}

static void apply_cast(LowerCx *cx, int dst, int src)
{
	int64_t dims[MAX_RANK];
	int rank = buf_shape(cx, dst, dims), vars[MAX_RANK];
	int in = elem_nest(cx, rank, dims, vars);
	int s = lower_stmt(cx, in, LN_APPLY);

	if (s >= 0)
		cx->p->nodes[s].fn = OP_Cast;
	loop_push_arg(cx->p, s, lower_ref(cx, dst, vars));
	loop_push_arg(cx->p, s, lower_ref(cx, src, vars));
}

static void fill_zero(LowerCx *cx, int b)
{
	int64_t dims[MAX_RANK];
	int rank = buf_shape(cx, b, dims), vars[MAX_RANK];
	int in = elem_nest(cx, rank, dims, vars);
	int s = lower_stmt(cx, in, LN_FILL);

	loop_push_arg(cx->p, s, lower_ref(cx, b, vars));
	loop_push_arg(cx->p, s, loop_lit_float(0.0));
}

/* Linear and cubic: separable passes through f64 temporaries (integer
 * inputs widened first), then one rounding into Y. */
static Status resize_separable(LowerCx *cx, const Node *n, const ResizePlan *p, int y, int x,
                               const AxisTaps *t)
{
	int64_t dims[MAX_RANK];
	int cur = x;

	buf_shape(cx, x, dims);
	if (!dtype_is_float(cx->p->bufs[x].dt)) {
		cur = lower_temp(cx, "rs_x", DT_F64, p->rank, dims);
		apply_cast(cx, cur, x);
	}
	for (int d = 0; d < p->rank; d++) {
		int dst;

		if (axis_is_identity(p, d, &t[d]))
			continue;
		dims[d] = p->out[d];
		dst = lower_temp(cx, "rs_t", DT_F64, p->rank, dims);
		fill_zero(cx, dst);
		TRY(resize_pass(cx, n, p, d, &t[d], cur, dst));
		cur = dst;
	}
	if (cur == x)
		copy_all(cx, y, x);
	else
		apply_cast(cx, y, cur);
	return loop_oom(cx->p);
}

Status lower_resize(LowerCx *cx, const Node *n)
{
	int x = lower_buf(cx, n->in[0]), y = lower_out(cx, n, 0);
	int64_t xd[MAX_RANK], yd[MAX_RANK];
	int rank = buf_shape(cx, x, xd);
	AxisTaps t[MAX_RANK];
	ResizePlan p;

	TRY(resize_plan(cx, n, rank, xd, &p));
	buf_shape(cx, y, yd);
	if (shape_numel(rank, yd) == 0)
		return ST_OK;
	for (int d = 0; d < rank; d++) {
		nnac_assert(p.out[d] == yd[d]);
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
