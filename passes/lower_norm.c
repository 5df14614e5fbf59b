/*
 * Lowering of normalization, softmax and the reductions:
 * BatchNormalization (inference), InstanceNormalization,
 * LayerNormalization, RMSNormalization, Softmax, LogSoftmax, ReduceMean,
 * ReduceMax and ReduceSum.
 *
 * A reduction is a fill (or copy) of the accumulator, then one nest with
 * the kept dimensions outside and the reduced ones innermost holding a
 * `reduce` (or `mac`), then epilogue applies.  Statistics the graph
 * interpreter keeps in double (means, variances, softmax sums) live in f64
 * kernel temporaries, and `reduce` needs both sides of one type, so inputs
 * are first widened into an f64 temporary where a sum must be exact to
 * double precision.  Integer sums wrap as the graph's do; an integer mean
 * sums into a 64-bit temporary and divides with truncation.
 *
 * BatchNormalization is a per-channel y = x * m + s: with constant
 * parameters m = scale / sqrt(var + eps) and s = B - mean * m are computed
 * here in double into const buffers, otherwise by applies into f64
 * temporaries.  It works in place (the driver fuses it after a producer).
 */
#include "lower.h"

#include <math.h>
#include <string.h>

#include "interp/norm.h"
#include "interp/window.h"

/* Indices into an accumulator of the reduced shape: reduced dimensions
 * are 0 when kept, dropped otherwise. */
static LoopArg acc_ref(LowerCx *cx, int acc, int rank, const bool *red, bool keep, const int *vars)
{
	int idx[MAX_RANK], k = 0;

	for (int d = 0; d < rank; d++) {
		if (!red[d])
			idx[k++] = vars[d];
		else if (keep)
			idx[k++] = loop_const(cx->p, 0);
	}
	nnac_assert(k == cx->p->bufs[acc].rank);
	return lower_ref(cx, acc, idx);
}

/* The shape of a reduction's accumulator. */
static int acc_shape(int rank, const int64_t *dims, const bool *red, bool keep, int64_t *out)
{
	int k = 0;

	for (int d = 0; d < rank; d++)
		if (!red[d] || keep)
			out[k++] = red[d] ? 1 : dims[d];
	return k;
}

/* `apply dst = op(dst, b)` over the whole of buffer dst: b is buffer bbuf
 * indexed like dst, or the literal lit when bbuf < 0 (unused by unary ops). */
static void apply_all(LowerCx *cx, int dst, OpKind op, int bbuf, LoopArg lit)
{
	int64_t dims[MAX_RANK];
	int rank = lower_buf_shape(cx, dst, dims), vars[MAX_RANK];
	int in = lower_elem_nest(cx, rank, dims, NULL, vars);
	LoopArg d = lower_ref(cx, dst, vars);

	lower_apply_ab(cx, in, op, d, d, bbuf >= 0 ? lower_ref(cx, bbuf, vars) : lit);
}

/* acc[kept] op= x[all] over x's shape, reduced dimensions innermost. */
static void reduce_into(LowerCx *cx, LoopReduce op, int acc, int x, const bool *red, bool keep)
{
	int64_t dims[MAX_RANK];
	int rank = lower_buf_shape(cx, x, dims), vars[MAX_RANK];
	int in = lower_elem_nest(cx, rank, dims, red, vars);
	int s = lower_emit2(cx, in, LN_REDUCE, acc_ref(cx, acc, rank, red, keep, vars),
	                    lower_ref(cx, x, vars));

	if (s >= 0)
		cx->p->nodes[s].red = op;
}

/*
 * BatchNormalization.
 */

static bool bn_spatial(const Graph *g, const Node *n)
{
	return g->opset >= 9 || attr_i(n, "spatial", 1) != 0;
}

static bool bn_params_const(const Graph *g, const Node *n)
{
	for (int i = 1; i < 5; i++)
		if (!node_in((Graph *)g, n, i)->v.data)
			return false;
	return true;
}

/* m and s as const buffers of type dt (f64 for narrow X types). */
static Status bn_const(LowerCx *cx, const Node *n, DType dt, int *m, int *s)
{
	const Value *v[5];
	int64_t count, dims[MAX_RANK];
	double eps = attr_f(n, "epsilon", 1e-5);
	Value mv, sv;
	int rank;

	for (int i = 1; i < 5; i++)
		v[i] = &node_in(cx->g, n, i)->v;
	count = val_numel(v[1]);
	rank = v[1]->rank;
	memcpy(dims, v[1]->dims, sizeof(dims));
	val_set_type(&mv, dt, rank, dims);
	val_set_type(&sv, dt, rank, dims);
	if (!val_alloc(&cx->p->arena, &mv) || !val_alloc(&cx->p->arena, &sv))
		return diag_add(cx->p->diag, ST_NOMEM, "%s: out of memory", cx->p->path);
	for (int64_t k = 0; k < count; k++) {
		double mk = val_get_f64(v[1], k) / sqrt(val_get_f64(v[4], k) + eps);

		val_set_f64(&mv, k, mk);
		val_set_f64(&sv, k, val_get_f64(v[2], k) - val_get_f64(v[3], k) * mk);
	}
	*m = lower_const(cx, arena_printf(&cx->p->arena, "%s_mul", n->name), dt, rank, dims, mv.data);
	*s = lower_const(cx, arena_printf(&cx->p->arena, "%s_add", n->name), dt, rank, dims, sv.data);
	return loop_oom(cx->p);
}

/* m and s computed from run-time parameters into f64 temporaries. */
static void bn_computed(LowerCx *cx, const Node *n, int *m, int *s)
{
	int p[5], vars[MAX_RANK], in;
	int64_t dims[MAX_RANK];
	int rank;

	for (int i = 1; i < 5; i++)
		p[i] = lower_buf(cx, n->in[i]);
	rank = lower_buf_shape(cx, p[1], dims);
	*m = lower_temp(cx, "bn_mul", DT_F64, rank, dims);
	*s = lower_temp(cx, "bn_add", DT_F64, rank, dims);
	in = lower_elem_nest(cx, rank, dims, NULL, vars);
	lower_apply_ab(cx, in, OP_Add, lower_ref(cx, *m, vars), lower_ref(cx, p[4], vars),
	               loop_lit_float(attr_f(n, "epsilon", 1e-5)));
	apply_all(cx, *m, OP_Sqrt, -1, loop_lit_int(0));
	in = lower_elem_nest(cx, rank, dims, NULL, vars);
	lower_apply_ab(cx, in, OP_Div, lower_ref(cx, *m, vars), lower_ref(cx, p[1], vars),
	               lower_ref(cx, *m, vars));
	in = lower_elem_nest(cx, rank, dims, NULL, vars);
	lower_apply_ab(cx, in, OP_Mul, lower_ref(cx, *s, vars), lower_ref(cx, p[3], vars),
	               lower_ref(cx, *m, vars));
	in = lower_elem_nest(cx, rank, dims, NULL, vars);
	lower_apply_ab(cx, in, OP_Sub, lower_ref(cx, *s, vars), lower_ref(cx, p[2], vars),
	               lower_ref(cx, *s, vars));
}

/* A parameter's indices: the channel, or every dimension after N when
 * spatial is 0; a rank-1 X has one channel. */
static LoopArg bn_param_ref(LowerCx *cx, int pbuf, int rank, bool spatial, const int *vars)
{
	int idx[MAX_RANK];

	if (spatial)
		idx[0] = rank >= 2 ? vars[1] : loop_const(cx->p, 0);
	else
		for (int d = 1; d < rank; d++)
			idx[d - 1] = vars[d];
	return lower_ref(cx, pbuf, idx);
}

Status lower_batchnorm(LowerCx *cx, const Node *n)
{
	int x = lower_buf(cx, n->in[0]), y = lower_out(cx, n, 0), m = -1, s = -1, mid, vars[MAX_RANK], in;
	int64_t dims[MAX_RANK];
	int rank = lower_buf_shape(cx, x, dims);
	bool spatial = bn_spatial(cx->g, n);
	DType dt = cx->p->bufs[x].dt;

	if (win_prod(dims, rank) == 0)
		return ST_OK;
	if (bn_params_const(cx->g, n))
		TRY(bn_const(cx, n, lower_narrow_float(dt) ? DT_F64 : dt, &m, &s));
	else
		bn_computed(cx, n, &m, &s);
	mid = lower_narrow_float(dt) ? lower_temp(cx, "bn_x", DT_F64, rank, dims) : y;
	in = lower_elem_nest(cx, rank, dims, NULL, vars);
	lower_apply_ab(cx, in, OP_Mul, lower_ref(cx, mid, vars), lower_ref(cx, x, vars),
	               bn_param_ref(cx, m, rank, spatial, vars));
	in = lower_elem_nest(cx, rank, dims, NULL, vars);
	lower_apply_ab(cx, in, OP_Add, lower_ref(cx, y, vars), lower_ref(cx, mid, vars),
	               bn_param_ref(cx, s, rank, spatial, vars));
	return loop_oom(cx->p);
}

/*
 * InstanceNormalization: per (n, c) plane, in f64 temporaries
 *   D = X - mean,  A = scale / sqrt(mean(D^2) + eps),  Y = D * A + B.
 */
Status lower_instancenorm(LowerCx *cx, const Node *n)
{
	int x = lower_buf(cx, n->in[0]), y = lower_out(cx, n, 0);
	int sc = lower_buf(cx, n->in[1]), bias = lower_buf(cx, n->in[2]);
	int64_t dims[MAX_RANK], pd[2], len;
	int rank = lower_buf_shape(cx, x, dims), vars[MAX_RANK], in, d, mean, var;
	bool red[MAX_RANK] = {false};
	LoopArg ch;

	if (win_prod(dims, rank) == 0)
		return ST_OK;
	for (int i = 2; i < rank; i++)
		red[i] = true;
	len = win_prod(dims + 2, rank - 2);
	pd[0] = dims[0];
	pd[1] = dims[1];
	d = lower_temp(cx, "in_x", DT_F64, rank, dims);
	lower_cast_elems(cx, d, x);
	mean = lower_temp(cx, "in_mean", DT_F64, 2, pd);
	var = lower_temp(cx, "in_scale", DT_F64, 2, pd);
	lower_fill_elems(cx, mean, loop_lit_float(0.0));
	reduce_into(cx, LR_SUM, mean, d, red, false);
	apply_all(cx, mean, OP_Div, -1, loop_lit_float((double)len));
	in = lower_elem_nest(cx, rank, dims, NULL, vars);
	lower_apply_ab(cx, in, OP_Sub, lower_ref(cx, d, vars), lower_ref(cx, d, vars),
	               acc_ref(cx, mean, rank, red, false, vars));
	lower_fill_elems(cx, var, loop_lit_float(0.0));
	in = lower_elem_nest(cx, rank, dims, red, vars);
	lower_emit(cx, in, LN_MAC, 3, (LoopArg[]){acc_ref(cx, var, rank, red, false, vars),
	           lower_ref(cx, d, vars), lower_ref(cx, d, vars)});
	apply_all(cx, var, OP_Div, -1, loop_lit_float((double)len));
	apply_all(cx, var, OP_Add, -1, loop_lit_float(attr_f(n, "epsilon", 1e-5)));
	apply_all(cx, var, OP_Sqrt, -1, loop_lit_int(0));
	in = lower_elem_nest(cx, 2, pd, NULL, vars);
	lower_apply_ab(cx, in, OP_Div, lower_ref(cx, var, vars), lower_ref(cx, sc, vars + 1),
	               lower_ref(cx, var, vars));
	in = lower_elem_nest(cx, rank, dims, NULL, vars);
	lower_apply_ab(cx, in, OP_Mul, lower_ref(cx, d, vars), lower_ref(cx, d, vars),
	               acc_ref(cx, var, rank, red, false, vars));
	in = lower_elem_nest(cx, rank, dims, NULL, vars);
	ch = lower_ref(cx, bias, vars + 1);
	lower_apply_ab(cx, in, OP_Add, lower_ref(cx, y, vars), lower_ref(cx, d, vars), ch);
	return loop_oom(cx->p);
}

/*
 * LayerNormalization and RMSNormalization over the axes from axis on, in
 * f64 temporaries as the graph interpreter computes (S the statistics'
 * shape, X's with the normalized axes 1):
 *   D = X (- mean),  Q = sqrt(mean(D^2) + eps),  Y = D / Q * Scale (+ B);
 * the optional outputs are Mean = mean and InvStdDev = 1 / Q.
 */

/* Output i (Mean, InvStdDev) = src, or nothing when absent. */
static void ln_stat_out(LowerCx *cx, const Node *n, int i, int src, OpKind op)
{
	int o = i < n->nout ? lower_out(cx, n, i) : -1, vars[MAX_RANK], in;
	int64_t dims[MAX_RANK];
	int rank;

	if (o < 0)
		return;
	if (src < 0) {
		lower_fill_elems(cx, o, loop_lit_float(0.0));
		return;
	}
	rank = lower_buf_shape(cx, o, dims);
	in = lower_elem_nest(cx, rank, dims, NULL, vars);
	if (cx->p->bufs[o].dt == DT_BF16 || op != OP_Cast)
		lower_apply_ab(cx, in, op == OP_Cast ? OP_Mul : op, lower_ref(cx, o, vars),
		               op == OP_Cast ? lower_ref(cx, src, vars) : loop_lit_float(1.0),
		               op == OP_Cast ? loop_lit_float(1.0) : lower_ref(cx, src, vars));
	else
		lower_apply(cx, in, OP_Cast, 2, (LoopArg[]){lower_ref(cx, o, vars), lower_ref(cx, src, vars)});
}

Status lower_layernorm(LowerCx *cx, const Node *n)
{
	int x = lower_buf(cx, n->in[0]), y = lower_out(cx, n, 0), sc = lower_buf(cx, n->in[1]);
	int b = n->op == OP_LayerNormalization && has_input(n, 2) ? lower_buf(cx, n->in[2]) : -1;
	int64_t dims[MAX_RANK], sd[MAX_RANK], axis, len;
	int rank = lower_buf_shape(cx, x, dims), vars[MAX_RANK], in, d, mean = -1, q;
	bool rms = n->op == OP_RMSNormalization, red[MAX_RANK];

	TRY(norm_layer_axis(cx->g, n, rank, &axis));
	if (win_prod(dims, rank) == 0) {
		ln_stat_out(cx, n, 1, -1, OP_Cast);
		ln_stat_out(cx, n, 2, -1, OP_Cast);
		return loop_oom(cx->p);
	}
	for (int i = 0; i < rank; i++)
		red[i] = i >= axis;
	len = win_prod(dims + axis, rank - (int)axis);
	acc_shape(rank, dims, red, true, sd);
	d = lower_temp(cx, "ln_x", DT_F64, rank, dims);
	lower_cast_elems(cx, d, x);
	if (!rms) {
		mean = lower_temp(cx, "ln_mean", DT_F64, rank, sd);
		lower_fill_elems(cx, mean, loop_lit_float(0.0));
		reduce_into(cx, LR_SUM, mean, d, red, true);
		apply_all(cx, mean, OP_Div, -1, loop_lit_float((double)len));
		in = lower_elem_nest(cx, rank, dims, NULL, vars);
		lower_apply_ab(cx, in, OP_Sub, lower_ref(cx, d, vars), lower_ref(cx, d, vars),
		               acc_ref(cx, mean, rank, red, true, vars));
	}
	q = lower_temp(cx, "ln_q", DT_F64, rank, sd);
	lower_fill_elems(cx, q, loop_lit_float(0.0));
	in = lower_elem_nest(cx, rank, dims, red, vars);
	lower_emit(cx, in, LN_MAC, 3, (LoopArg[]){acc_ref(cx, q, rank, red, true, vars),
	           lower_ref(cx, d, vars), lower_ref(cx, d, vars)});
	apply_all(cx, q, OP_Div, -1, loop_lit_float((double)len));
	apply_all(cx, q, OP_Add, -1, loop_lit_float(attr_f(n, "epsilon", 1e-5)));
	apply_all(cx, q, OP_Sqrt, -1, loop_lit_int(0));
	ln_stat_out(cx, n, 1, mean, OP_Cast);
	ln_stat_out(cx, n, 2, q, OP_Div);
	in = lower_elem_nest(cx, rank, dims, NULL, vars);
	lower_apply_ab(cx, in, OP_Div, lower_ref(cx, d, vars), lower_ref(cx, d, vars),
	               acc_ref(cx, q, rank, red, true, vars));
	in = lower_elem_nest(cx, rank, dims, NULL, vars);
	lower_apply_ab(cx, in, OP_Mul, lower_ref(cx, b >= 0 ? d : y, vars), lower_ref(cx, d, vars),
	               lower_bcast_ref(cx, sc, rank, vars));
	if (b >= 0) {
		in = lower_elem_nest(cx, rank, dims, NULL, vars);
		lower_apply_ab(cx, in, OP_Add, lower_ref(cx, y, vars), lower_ref(cx, d, vars),
		               lower_bcast_ref(cx, b, rank, vars));
	}
	return loop_oom(cx->p);
}

/*
 * Softmax and LogSoftmax over the reduced dimensions: the one axis from
 * opset 13, everything from axis on before (the 2-D coercion).
 *   M = max X,  E = exp(X - M),  S = sum E,
 *   Softmax Y = E / S,  LogSoftmax Y = X - (M + log S).
 */
Status lower_softmax(LowerCx *cx, const Node *n)
{
	int x = lower_buf(cx, n->in[0]), y = lower_out(cx, n, 0), vars[MAX_RANK], in;
	int64_t dims[MAX_RANK], rd[MAX_RANK];
	int rank = lower_buf_shape(cx, x, dims), mx, e, sum;
	bool coerce = cx->g->opset < 13, red[MAX_RANK] = {false};
	int64_t axis = attr_i(n, "axis", coerce ? 1 : -1);
	DType dt = cx->p->bufs[x].dt;

	if (!norm_axis(&axis, rank))
		return node_error(cx->g, n, ST_INVALID, "axis %lld is out of range for rank %d",
		                  (long long)axis, rank);
	if (win_prod(dims, rank) == 0)
		return ST_OK;
	for (int d = (int)axis; d < (coerce ? rank : axis + 1); d++)
		red[d] = true;
	mx = lower_temp(cx, "sm_max", dt, acc_shape(rank, dims, red, false, rd), rd);
	e = lower_temp(cx, "sm_exp", DT_F64, rank, dims);
	sum = lower_temp(cx, "sm_sum", DT_F64, cx->p->bufs[mx].rank, rd);
	lower_fill_elems(cx, mx, lower_lowest_lit(dt));
	reduce_into(cx, LR_MAX, mx, x, red, false);
	in = lower_elem_nest(cx, rank, dims, NULL, vars);
	lower_apply_ab(cx, in, OP_Sub, lower_ref(cx, e, vars), lower_ref(cx, x, vars),
	               acc_ref(cx, mx, rank, red, false, vars));
	apply_all(cx, e, OP_Exp, -1, loop_lit_int(0));
	lower_fill_elems(cx, sum, loop_lit_float(0.0));
	reduce_into(cx, LR_SUM, sum, e, red, false);
	if (n->op == OP_LogSoftmax) {
		apply_all(cx, sum, OP_Log, -1, loop_lit_int(0));
		apply_all(cx, sum, OP_Add, mx, loop_lit_int(0));
	}
	in = lower_elem_nest(cx, rank, dims, NULL, vars);
	if (n->op == OP_LogSoftmax)
		lower_apply_ab(cx, in, OP_Sub, lower_ref(cx, y, vars), lower_ref(cx, x, vars),
		               acc_ref(cx, sum, rank, red, false, vars));
	else
		lower_apply_ab(cx, in, OP_Div, lower_ref(cx, y, vars), lower_ref(cx, e, vars),
		               acc_ref(cx, sum, rank, red, false, vars));
	return loop_oom(cx->p);
}

/*
 * ReduceSum, ReduceMean, ReduceMax.  The axes are an attribute before the
 * opset that made them an input (13 for ReduceSum, 18 for the others).
 */

static bool red_axes_are_input(const Graph *g, const Node *n)
{
	return g->opset >= (n->op == OP_ReduceSum ? 13 : 18);
}

/* red[d] for every reduced dimension; *noop when the node is an identity. */
static Status red_plan(LowerCx *cx, const Node *n, int rank, bool *red, bool *noop)
{
	const int64_t *axes;
	int64_t *vals = NULL;
	int count = 0;

	if (red_axes_are_input(cx->g, n)) {
		TRY(op_ints_arg(cx->g, n, NULL, NULL, 1, &vals, &count));
		axes = vals;
		*noop = count == 0 && attr_i(n, "noop_with_empty_axes", 0) != 0;
	} else {
		axes = attr_ints(n, "axes", &count);
		*noop = false;
	}
	for (int d = 0; d < rank; d++)
		red[d] = count == 0 && !*noop;
	for (int i = 0; i < count; i++) {
		int64_t a = axes[i];

		if (!norm_axis(&a, rank))
			return node_error(cx->g, n, ST_INVALID, "axis %lld is out of range for rank %d",
			                  (long long)axes[i], rank);
		red[a] = true;
	}
	return ST_OK;
}

/* The accumulator type of a sum or mean: the element type itself for
 * f32/f64 and for integer sums (which wrap as the graph's do), f64 for
 * f16/bf16, 64 bits for integer means (exact before the division). */
static DType red_acc_type(OpKind op, DType dt)
{
	if (dtype_is_float(dt))
		return lower_narrow_float(dt) ? DT_F64 : dt;
	if (op == OP_ReduceMean)
		return dtype_is_signed(dt) ? DT_I64 : DT_U64;
	return dt;
}

/* The value of a reduction over nothing: 0, NaN (float mean), lowest (max). */
static LoopArg empty_value(OpKind op, DType dt)
{
	if (op == OP_ReduceMax)
		return lower_lowest_lit(dt);
	if (op == OP_ReduceMean && dtype_is_float(dt))
		return loop_lit_float(NAN);
	return lower_zero_lit(dt);
}

/* x as the reduce statement reads it: widened to the accumulator's type. */
static int red_source(LowerCx *cx, int x, DType acc_dt)
{
	int64_t dims[MAX_RANK];
	int rank, t;

	if (cx->p->bufs[x].dt == acc_dt)
		return x;
	rank = lower_buf_shape(cx, x, dims);
	t = lower_temp(cx, "red_x", acc_dt, rank, dims);
	lower_cast_elems(cx, t, x);
	return t;
}

Status lower_reduce(LowerCx *cx, const Node *n)
{
	int x = lower_buf(cx, n->in[0]), y = lower_out(cx, n, 0), acc, src;
	int64_t dims[MAX_RANK], yd[MAX_RANK], count = 1;
	int rank = lower_buf_shape(cx, x, dims), yrank = lower_buf_shape(cx, y, yd);
	bool red[MAX_RANK], noop, keep = attr_i(n, "keepdims", 1) != 0;
	DType dt = cx->p->bufs[x].dt, at;

	TRY(red_plan(cx, n, rank, red, &noop));
	if (win_prod(yd, yrank) == 0)
		return ST_OK;
	if (noop) {
		lower_copy_elems(cx, y, x);
		return loop_oom(cx->p);
	}
	if (win_prod(dims, rank) == 0) {
		lower_fill_elems(cx, y, empty_value(n->op, dt));
		return loop_oom(cx->p);
	}
	for (int d = 0; d < rank; d++)
		count *= red[d] ? dims[d] : 1;
	at = n->op == OP_ReduceMax ? dt : red_acc_type(n->op, dt);
	acc = at == dt ? y : lower_temp(cx, "red_acc", at, yrank, yd);
	src = red_source(cx, x, at);
	lower_fill_elems(cx, acc,
	                 n->op == OP_ReduceMax ? lower_lowest_lit(dt) : lower_zero_lit(at));
	reduce_into(cx, n->op == OP_ReduceMax ? LR_MAX : LR_SUM, acc, src, red, keep);
	if (n->op == OP_ReduceMean) {
		int vars[MAX_RANK], in = lower_elem_nest(cx, yrank, yd, NULL, vars);
		LoopArg c = dtype_is_float(at) ? loop_lit_float((double)count) : loop_lit_int(count);

		lower_apply_ab(cx, in, OP_Div, lower_ref(cx, y, vars), lower_ref(cx, acc, vars), c);
	} else if (acc != y) {
		lower_cast_elems(cx, y, acc);
	}
	return loop_oom(cx->p);
}
