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

#include <float.h>
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

/* The steps InstanceNormalization and LayerNormalization share, over the
 * f64 copy d of the input (shape dims) and accumulators reduced over red
 * (kept as size-1 dimensions when keep), len elements to each:
 *   center: mean = sum d / len,  d -= mean
 *   root_mean_square: acc = sqrt(sum d^2 / len + eps), the squares summed
 *     by a mac, or (sq >= 0) written into the temporary sq and reduced,
 *     which row fusion (passes/tile_rows.c) can run row by row with the
 *     rest, where a mac stays in a nest of its own */
static void center(LowerCx *cx, int mean, int d, int rank, const int64_t *dims, const bool *red, bool keep,
                   int64_t len)
{
	int vars[MAX_RANK], in;

	lower_fill_elems(cx, mean, loop_lit_float(0.0));
	reduce_into(cx, LR_SUM, mean, d, red, keep);
	apply_all(cx, mean, OP_Div, -1, loop_lit_float((double)len));
	in = lower_elem_nest(cx, rank, dims, NULL, vars);
	lower_apply_ab(cx, in, OP_Sub, lower_ref(cx, d, vars), lower_ref(cx, d, vars),
	               acc_ref(cx, mean, rank, red, keep, vars));
}

static void root_mean_square(LowerCx *cx, int acc, int d, int sq, int rank, const int64_t *dims,
                             const bool *red, bool keep, int64_t len, double eps)
{
	int vars[MAX_RANK], in;

	lower_fill_elems(cx, acc, loop_lit_float(0.0));
	if (sq >= 0) {
		in = lower_elem_nest(cx, rank, dims, NULL, vars);
		lower_apply_ab(cx, in, OP_Mul, lower_ref(cx, sq, vars), lower_ref(cx, d, vars), lower_ref(cx, d, vars));
		reduce_into(cx, LR_SUM, acc, sq, red, keep);
	} else {
		in = lower_elem_nest(cx, rank, dims, red, vars);
		lower_emit(cx, in, LN_MAC, 3, (LoopArg[]){acc_ref(cx, acc, rank, red, keep, vars),
		           lower_ref(cx, d, vars), lower_ref(cx, d, vars)});
	}
	apply_all(cx, acc, OP_Div, -1, loop_lit_float((double)len));
	apply_all(cx, acc, OP_Add, -1, loop_lit_float(eps));
	apply_all(cx, acc, OP_Sqrt, -1, loop_lit_int(0));
}

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

	if (cx->g->opset >= 14 && attr_i(n, "training_mode", 0) != 0)
		return node_error(cx->g, n, ST_UNSUPPORTED, "training_mode=1 (statistics of the batch) "
		                  "has no loop lowering");
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
	center(cx, mean, d, rank, dims, red, false, len);
	root_mean_square(cx, var, d, -1, rank, dims, red, false, len, attr_f(n, "epsilon", 1e-5));
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
 *   D = X (- mean),  R = 1 / sqrt(mean(D^2) + eps),  Y = D * R * Scale (+ B)
 * (one division a row; in double, within an ulp of D / sqrt(...) before
 * the rounding to Y's type); the optional outputs are Mean = mean and
 * InvStdDev = R.  Row fusion runs it row by row.
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
		center(cx, mean, d, rank, dims, red, true, len);
	}
	q = lower_temp(cx, "ln_q", DT_F64, rank, sd);
	root_mean_square(cx, q, d, lower_temp(cx, "ln_sq", DT_F64, rank, dims), rank, dims, red, true, len,
	                 attr_f(n, "epsilon", 1e-5));
	apply_all(cx, q, OP_Reciprocal, -1, loop_lit_int(0));
	ln_stat_out(cx, n, 1, mean, OP_Cast);
	ln_stat_out(cx, n, 2, q, OP_Cast);
	in = lower_elem_nest(cx, rank, dims, NULL, vars);
	lower_apply_ab(cx, in, OP_Mul, lower_ref(cx, d, vars), lower_ref(cx, d, vars),
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
 *   Softmax Y = E * (1 / S),  LogSoftmax Y = X - (M + log S).
 * S sums in f64.  E is f32 unless X is f64: the graph interpreter computes
 * it in double, but an f32 exp of the f32 difference X - M (exact when X
 * and M are close, where E matters) is within two ulp of f32, and it costs
 * a third of a double's.  Softmax multiplies by the reciprocal, one
 * division a row instead of one an element (in double, within an ulp of
 * E / S before the rounding to Y's type).
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
	e = lower_temp(cx, "sm_exp", dt == DT_F64 ? DT_F64 : DT_F32, rank, dims);
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
	} else {
		apply_all(cx, sum, OP_Reciprocal, -1, loop_lit_int(0));
	}
	in = lower_elem_nest(cx, rank, dims, NULL, vars);
	lower_apply_ab(cx, in, n->op == OP_LogSoftmax ? OP_Sub : OP_Mul, lower_ref(cx, y, vars),
	               lower_ref(cx, n->op == OP_LogSoftmax ? x : e, vars),
	               acc_ref(cx, sum, rank, red, false, vars));
	return loop_oom(cx->p);
}

/*
 * The reductions (ReduceSum ... ReduceSumSquare): norm.h's map,
 * combination and finish.  The axes are an attribute before the opset
 * that made them an input (13 for ReduceSum, 18 for the others).
 *   fill acc = identity;  reduce comb acc <- map(X)  (x^2: a mac);  finish
 * ReduceLogSumExp first reduces the row maxima M in X's type and maps
 * through E = exp(X - clamp(M)) in f64.
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

/* The accumulator type: the element type for max and min and for integer
 * sums and products (which wrap as the graph's do), 64 bits for integer
 * means (exact before the division), f64 where the graph interpreter
 * computes in double (a float's L1, L2, ...; an integer's L2, LogSum);
 * ReduceSum and ReduceMean keep f32 and f64 sums in their own type. */
static DType red_acc_type(OpKind op, DType dt)
{
	RedInfo r = norm_red_info(op);

	if (r.comb == RCOMB_MAX || r.comb == RCOMB_MIN)
		return dt;
	if (dtype_is_float(dt))
		return (op == OP_ReduceSum || op == OP_ReduceMean) && !lower_narrow_float(dt) ? dt : DT_F64;
	if (!norm_red_exact_int(op))
		return DT_F64;
	if (r.fin == RFIN_MEAN)
		return dtype_is_signed(dt) ? DT_I64 : DT_U64;
	return dt;
}

/* The identity of the combination in type dt. */
static LoopArg red_identity(RedComb c, DType dt)
{
	switch (c) {
	case RCOMB_SUM: return lower_zero_lit(dt);
	case RCOMB_PROD: return dtype_is_float(dt) ? loop_lit_float(1.0) : loop_lit_int(1);
	case RCOMB_MAX: return lower_lowest_lit(dt);
	case RCOMB_MIN: return dtype_is_float(dt) ? loop_lit_float(INFINITY)
	                                          : loop_lit_int(norm_int_highest(dt));
	}
	nnac_unreachable();
}

/* The value of a reduction over nothing, in the output type dt. */
static LoopArg empty_value(OpKind op, DType dt)
{
	RedInfo r = norm_red_info(op);
	double v;

	if (!dtype_is_float(dt) && norm_red_exact_int(op))
		return r.fin == RFIN_MEAN ? loop_lit_int(0) : red_identity(r.comb, dt);
	v = r.comb == RCOMB_PROD ? 1 : r.comb == RCOMB_MAX ? -INFINITY : r.comb == RCOMB_MIN ? INFINITY : 0;
	switch (r.fin) {
	case RFIN_NONE: break;
	case RFIN_MEAN: v = NAN; break;
	case RFIN_SQRT: v = sqrt(v); break;
	case RFIN_LOG: v = log(v) + (r.map == RMAP_EXP ? norm_red_shift(-INFINITY) : 0); break;
	}
	return lower_typed_lit(dt, v);
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

/* E = exp(X - clamp(max X)) in f64 for ReduceLogSumExp; *shift gets the
 * clamped maxima (the accumulator's shape). */
static int red_exp_source(LowerCx *cx, int x, const bool *red, bool keep, int *shift)
{
	int64_t dims[MAX_RANK], ad[MAX_RANK];
	int rank = lower_buf_shape(cx, x, dims), arank = acc_shape(rank, dims, red, keep, ad);
	int vars[MAX_RANK], in, mx, e;
	DType dt = cx->p->bufs[x].dt;

	mx = lower_temp(cx, "red_max", dt, arank, ad);
	*shift = lower_temp(cx, "red_shift", DT_F64, arank, ad);
	e = lower_temp(cx, "red_exp", DT_F64, rank, dims);
	lower_fill_elems(cx, mx, lower_lowest_lit(dt));
	reduce_into(cx, LR_MAX, mx, x, red, keep);
	in = lower_elem_nest(cx, arank, ad, NULL, vars);
	lower_apply(cx, in, OP_Clip, 4, (LoopArg[]){lower_ref(cx, *shift, vars), lower_ref(cx, mx, vars),
	            loop_lit_float(-DBL_MAX), loop_lit_float(DBL_MAX)});
	in = lower_elem_nest(cx, rank, dims, NULL, vars);
	lower_apply_ab(cx, in, OP_Sub, lower_ref(cx, e, vars), lower_ref(cx, x, vars),
	               acc_ref(cx, *shift, rank, red, keep, vars));
	apply_all(cx, e, OP_Exp, -1, loop_lit_int(0));
	return e;
}

/* acc comb= map(x) over x's shape; *shift for ReduceLogSumExp. */
static void red_combine(LowerCx *cx, OpKind op, int acc, int x, const bool *red, bool keep,
                        int *shift)
{
	static const LoopReduce comb[] = {[RCOMB_SUM] = LR_SUM, [RCOMB_MAX] = LR_MAX,
	                                  [RCOMB_MIN] = LR_MIN, [RCOMB_PROD] = LR_PROD};
	RedInfo r = norm_red_info(op);
	DType at = cx->p->bufs[acc].dt;
	int64_t dims[MAX_RANK];
	int rank = lower_buf_shape(cx, x, dims), vars[MAX_RANK], in, src = x;

	*shift = -1;
	if (r.map == RMAP_SQUARE) {
		in = lower_elem_nest(cx, rank, dims, red, vars);
		lower_emit(cx, in, LN_MAC, 3, (LoopArg[]){acc_ref(cx, acc, rank, red, keep, vars),
		           lower_ref(cx, x, vars), lower_ref(cx, x, vars)});
		return;
	}
	if (r.map == RMAP_EXP) {
		src = red_exp_source(cx, x, red, keep, shift);
	} else if (r.map == RMAP_ABS) {
		src = lower_temp(cx, "red_abs", at, rank, dims);
		in = lower_elem_nest(cx, rank, dims, NULL, vars);
		lower_apply_ab(cx, in, OP_Abs, lower_ref(cx, src, vars), lower_ref(cx, x, vars), loop_lit_int(0));
	} else {
		src = red_source(cx, x, at);
	}
	reduce_into(cx, comb[r.comb], acc, src, red, keep);
}

Status lower_reduce(LowerCx *cx, const Node *n)
{
	int x = lower_buf(cx, n->in[0]), y = lower_out(cx, n, 0), acc, shift;
	int64_t dims[MAX_RANK], yd[MAX_RANK], count = 1;
	int rank = lower_buf_shape(cx, x, dims), yrank = lower_buf_shape(cx, y, yd);
	bool red[MAX_RANK], noop, keep = attr_i(n, "keepdims", 1) != 0;
	DType dt = cx->p->bufs[x].dt, at = red_acc_type(n->op, dt);
	RedInfo r = norm_red_info(n->op);

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
	acc = at == dt ? y : lower_temp(cx, "red_acc", at, yrank, yd);
	lower_fill_elems(cx, acc, red_identity(r.comb, at));
	red_combine(cx, n->op, acc, x, red, keep, &shift);
	if (r.fin == RFIN_MEAN) {
		int vars[MAX_RANK], in = lower_elem_nest(cx, yrank, yd, NULL, vars);
		LoopArg c = dtype_is_float(at) ? loop_lit_float((double)count) : loop_lit_int(count);

		lower_apply_ab(cx, in, OP_Div, lower_ref(cx, y, vars), lower_ref(cx, acc, vars), c);
		return loop_oom(cx->p);
	}
	if (r.fin == RFIN_SQRT)
		apply_all(cx, acc, OP_Sqrt, -1, loop_lit_int(0));
	if (r.fin == RFIN_LOG)
		apply_all(cx, acc, OP_Log, -1, loop_lit_int(0));
	if (shift >= 0)
		apply_all(cx, acc, OP_Add, shift, loop_lit_int(0));
	if (acc != y)
		lower_convert_all(cx, y, NULL, acc);
	return loop_oom(cx->p);
}

/*
 * ArgMax and ArgMin along one axis, with the pooling lowering's keys:
 * M = the extreme along the axis; per element, in f64 scalars,
 *   key = min(|M - X| / DBL_TRUE_MIN, 1) * len + k
 * (k the position, or len-1 minus it for select_last_index), which is k
 * exactly where X attains M and at least len elsewhere; reduce min over
 * the axis gives the index.  Both sides are clamped to finite values
 * first so that infinities compare.  64-bit integers are refused: their
 * differences are not exact in double.  A NaN does not win as it does in
 * the graph interpreter.
 */
Status lower_argext(LowerCx *cx, const Node *n)
{
	int x = lower_buf(cx, n->in[0]), y = lower_out(cx, n, 0), vars[MAX_RANK], kidx[1], in;
	int64_t dims[MAX_RANK], yd[MAX_RANK], axis, len;
	int rank = lower_buf_shape(cx, x, dims), yrank = lower_buf_shape(cx, y, yd), m, key, s, t, keys;
	bool max = n->op == OP_ArgMax, last = attr_i(n, "select_last_index", 0) != 0;
	bool keep = attr_i(n, "keepdims", 1) != 0, red[MAX_RANK] = {false};
	DType dt = cx->p->bufs[x].dt;
	LoopArg lo = loop_lit_float(-DBL_MAX), hi = loop_lit_float(DBL_MAX), sv, tv;
	double *kv;

	TRY(norm_arg_axis(cx->g, n, rank, &axis));
	if (dt == DT_I64 || dt == DT_U64)
		return node_error(cx->g, n, ST_UNSUPPORTED, "%s of 64-bit integers: the loop IR's "
		                  "keys are not exact past 2^53", op_name(n->op));
	if (win_prod(yd, yrank) == 0)
		return ST_OK;
	red[axis] = true;
	len = dims[axis];
	kv = arena_alloc(&cx->p->arena, (size_t)len * sizeof(double));
	if (!kv)
		return loop_oom(cx->p);
	for (int64_t k = 0; k < len; k++)
		kv[k] = (double)(last ? len - 1 - k : k);
	keys = lower_const(cx, arena_printf(&cx->p->arena, "%s_keys", n->name), DT_F64, 1, &len, kv);
	m = lower_temp(cx, "am_ext", dt, yrank, yd);
	key = lower_temp(cx, "am_key", DT_F64, yrank, yd);
	s = lower_temp(cx, "am_s", DT_F64, 0, NULL);
	t = lower_temp(cx, "am_t", DT_F64, 0, NULL);
	lower_fill_elems(cx, m, max ? lower_lowest_lit(dt) : red_identity(RCOMB_MIN, dt));
	reduce_into(cx, max ? LR_MAX : LR_MIN, m, x, red, keep);
	lower_fill_elems(cx, key, loop_lit_float(INFINITY));
	in = lower_elem_nest(cx, rank, dims, red, vars);
	kidx[0] = vars[axis];
	sv = lower_ref(cx, s, kidx);
	tv = lower_ref(cx, t, kidx);
	lower_apply(cx, in, OP_Clip, 4, (LoopArg[]){max ? sv : tv, acc_ref(cx, m, rank, red, keep, vars), lo, hi});
	lower_apply(cx, in, OP_Clip, 4, (LoopArg[]){max ? tv : sv, lower_ref(cx, x, vars), lo, hi});
	lower_apply_ab(cx, in, OP_Sub, sv, sv, tv);
	lower_apply_ab(cx, in, OP_Div, sv, sv, loop_lit_float(DBL_TRUE_MIN));
	lower_apply_ab(cx, in, OP_Min, sv, sv, loop_lit_float(1.0));
	lower_apply_ab(cx, in, OP_Mul, sv, sv, loop_lit_float((double)len));
	lower_apply_ab(cx, in, OP_Add, sv, sv, lower_ref(cx, keys, kidx));
	s = lower_emit2(cx, in, LN_REDUCE, acc_ref(cx, key, rank, red, keep, vars), sv);
	if (s >= 0)
		cx->p->nodes[s].red = LR_MIN;
	in = lower_elem_nest(cx, yrank, yd, NULL, vars);
	if (last)
		lower_apply_ab(cx, in, OP_Sub, lower_ref(cx, y, vars), loop_lit_float((double)(len - 1)),
		               lower_ref(cx, key, vars));
	else
		lower_apply(cx, in, OP_Cast, 2, (LoopArg[]){lower_ref(cx, y, vars), lower_ref(cx, key, vars)});
	return loop_oom(cx->p);
}
