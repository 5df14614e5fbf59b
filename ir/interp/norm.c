/*
 * Reference kernels for normalization, softmax and reductions:
 * BatchNormalization (inference, and training mode from opset 14),
 * InstanceNormalization,
 * LayerNormalization, RMSNormalization, Softmax, LogSoftmax, the
 * reductions (ReduceSum ... ReduceSumSquare), ArgMax and ArgMin.
 *
 * Floating-point work runs in double and rounds once on store.  Integer
 * reductions run in 64 bits (unsigned arithmetic, so sums wrap the way the
 * element type does) and are exact.  Softmax subtracts the maximum before
 * exponentiating so that large inputs do not overflow.
 *
 * Per-opset differences handled here: BatchNormalization's `spatial` and
 * `is_test` (before opset 9 and 7), Softmax's 2-D coercion before opset 13,
 * and the reduction axes moving from an attribute to an input (opset 13 for
 * ReduceSum, 18 for ReduceMean and ReduceMax).
 */
#include <float.h>
#include <math.h>
#include <stdint.h>

#include "norm.h"

/* Product of dims[from..to); 1 when empty, DIM_UNKNOWN if any is unknown. */
static int64_t dims_prod(const Value *v, int from, int to)
{
	int64_t p = 1;

	for (int i = from; i < to; i++) {
		if (v->dims[i] < 0)
			return DIM_UNKNOWN;
		p *= v->dims[i];
	}
	return p;
}

/* Two dimensions agree unless both are known and differ. */
static bool dim_eq(int64_t a, int64_t b)
{
	return a < 0 || b < 0 || a == b;
}

static Status check_float_inputs(Graph *g, const Node *n, int count)
{
	for (int i = 0; i < count; i++) {
		Status st = infer_dtype(g, n, i, DTM_FLOAT);
		if (st != ST_OK)
			return st;
	}
	return ST_OK;
}

/*
 * BatchNormalization, inference form:
 *   Y = (X - mean) / sqrt(var + epsilon) * scale + B
 * X is [N, C, D1..Dn] (or [N], one channel).  The parameters are per
 * channel, or per element of [C, D1..Dn] when spatial=0 (opsets 1 to 8).
 */

static bool bn_spatial(const Graph *g, const Node *n)
{
	return g->opset >= 9 || attr_i(n, "spatial", 1) != 0;
}

/* Training mode (opset 14 on): Y from the batch's own statistics, and
 * the running mean and variance updated with momentum. */
static bool bn_training(const Graph *g, const Node *n)
{
	return g->opset >= 14 && attr_i(n, "training_mode", 0) != 0;
}

/*
 * From opset 14 training mode has the outputs running_mean and
 * running_var; the five training outputs of the older opsets (with
 * saved_mean and saved_var, whose meaning changed between versions) are
 * not computed.
 */
static Status bn_check_mode(Graph *g, const Node *n)
{
	bool training = bn_training(g, n);

	for (int i = 1; i < n->nout; i++) {
		if (n->out[i] < 0 || (training && i < 3))
			continue;
		if (training)
			return node_error(g, n, ST_INVALID, "BatchNormalization-%lld has 3 outputs, "
			                  "not %d", (long long)g->opset, n->nout);
		if (g->opset >= 14)
			return node_error(g, n, ST_UNSUPPORTED, "output %d is present but training_mode "
			                  "is 0; nnac computes the running statistics only in training mode", i);
		return node_error(g, n, ST_UNSUPPORTED, "training-mode output %d of opset %lld is not "
		                  "supported (training mode only from opset 14)", i, (long long)g->opset);
	}
	if (g->opset >= 9 && attr_find(n, "spatial"))
		return node_error(g, n, ST_INVALID, "attribute 'spatial' was removed in opset 9");
	if (g->opset >= 7 && attr_find(n, "is_test"))
		return node_error(g, n, ST_INVALID, "attribute 'is_test' was removed in opset 7");
	return ST_OK;
}

static Status bn_check_param(Graph *g, const Node *n, int i, const Value *x, bool spatial)
{
	static const char *names[] = {"X", "scale", "B", "mean", "var"};
	const Value *p = &node_in(g, n, i)->v;
	int want = spatial ? 1 : x->rank - 1;
	bool ok = p->rank == want;

	if (spatial)
		ok = ok && dim_eq(p->dims[0], x->rank >= 2 ? x->dims[1] : 1);
	for (int d = 0; ok && !spatial && d < want; d++)
		ok = dim_eq(p->dims[d], x->dims[d + 1]);
	if (ok)
		return ST_OK;
	return node_error(g, n, ST_INVALID, "input '%s' must have shape %s (X's dims after N)",
	                  names[i], spatial ? "[C]" : "[C, D1, ...]");
}

static Status bn_infer(Graph *g, Node *n)
{
	Status st = infer_nin(g, n, 5, 5);
	const Value *x;
	bool spatial = bn_spatial(g, n);

	if (st == ST_OK)
		st = check_float_inputs(g, n, 5);
	if (st == ST_OK)
		st = bn_check_mode(g, n);
	if (st != ST_OK)
		return st;
	x = &node_in(g, n, 0)->v;
	if (x->rank < 1)
		return node_error(g, n, ST_INVALID, "X must have rank >= 1");
	if (!spatial && x->rank < 2)
		return node_error(g, n, ST_INVALID, "spatial=0 needs X of rank >= 2");
	if (attr_f(n, "epsilon", 1e-5) < 0)
		return node_error(g, n, ST_INVALID, "epsilon is negative");
	for (int i = 1; i < 5; i++) {
		st = bn_check_param(g, n, i, x, spatial);
		if (st != ST_OK)
			return st;
	}
	for (int i = 1; i < 3; i++)
		infer_out(g, n, i, node_in(g, n, 2 + i)->v.dt, 1, node_in(g, n, 2 + i)->v.dims);
	return infer_same(g, n);
}

/*
 * Replaces the mean and variance parameters p[3], p[4] by the batch's own
 * (population) statistics per channel, and stores the running statistics
 * momentum * input + (1 - momentum) * batch into out[1] and out[2].
 */
static void bn_batch_stats(const Node *n, const double *x, int64_t total, int64_t c,
                           int64_t inner, double **p, Value *const *out)
{
	double mom = attr_f(n, "momentum", 0.9);
	int64_t count = c > 0 ? total / c : 0;

	for (int64_t k = 0; k < c; k++) {
		double mean = 0, var = 0;

		for (int64_t i = 0; i < total; i++)
			if ((i / inner) % c == k)
				mean += x[i];
		mean /= (double)count;
		for (int64_t i = 0; i < total; i++)
			if ((i / inner) % c == k)
				var += (x[i] - mean) * (x[i] - mean);
		var /= (double)count;
		if (n->nout > 1 && out[1])
			val_set_f64(out[1], k, p[3][k] * mom + mean * (1 - mom));
		if (n->nout > 2 && out[2])
			val_set_f64(out[2], k, p[4][k] * mom + var * (1 - mom));
		p[3][k] = mean;
		p[4][k] = var;
	}
}

static Status bn_eval(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out)
{
	const Value *x = in[0];
	bool spatial = bn_spatial(cx->g, n);
	int64_t c = x->rank >= 2 ? x->dims[1] : 1;
	int64_t inner = dims_prod(x, 2, x->rank);
	int64_t nparam = spatial ? c : c * inner, stride = spatial ? inner : 1;
	double eps = attr_f(n, "epsilon", 1e-5);
	double *y = val_to_f64(cx->scratch, x), *p[5];
	int64_t total = val_numel(x);

	for (int i = 1; i < 5; i++) {
		p[i] = val_to_f64(cx->scratch, in[i]);
		if (!p[i])
			return eval_oom(cx, n);
	}
	if (!y)
		return eval_oom(cx, n);
	if (bn_training(cx->g, n))
		bn_batch_stats(n, y, total, c, inner, p, out);
	for (int64_t i = 0; i < total; i++) {
		int64_t k = (i / stride) % nparam;
		y[i] = (y[i] - p[3][k]) / sqrt(p[4][k] + eps) * p[1][k] + p[2][k];
	}
	val_from_f64(out[0], y);
	return ST_OK;
}

const OpImpl op_impl_BatchNormalization = { bn_infer, bn_eval, NULL };

/*
 * InstanceNormalization: every (n, c) plane of X [N, C, D1..Dn] is
 * normalized by its own mean and (population) variance, then scaled and
 * shifted per channel.
 */

static Status in_infer(Graph *g, Node *n)
{
	Status st = infer_nin(g, n, 3, 3);
	const Value *x, *s, *b;

	if (st == ST_OK)
		st = check_float_inputs(g, n, 3);
	if (st != ST_OK)
		return st;
	x = &node_in(g, n, 0)->v;
	s = &node_in(g, n, 1)->v;
	b = &node_in(g, n, 2)->v;
	if (x->rank < 2)
		return node_error(g, n, ST_INVALID, "input must have rank >= 2, not %d", x->rank);
	if (s->rank != 1 || !dim_eq(s->dims[0], x->dims[1]))
		return node_error(g, n, ST_INVALID, "scale must have shape [C]");
	if (b->rank != 1 || !dim_eq(b->dims[0], x->dims[1]))
		return node_error(g, n, ST_INVALID, "B must have shape [C]");
	if (attr_f(n, "epsilon", 1e-5) < 0)
		return node_error(g, n, ST_INVALID, "epsilon is negative");
	return infer_same(g, n);
}

/* Normalizes x[0..len) in place to zero mean and unit variance. */
static void normalize_plane(double *x, int64_t len, double eps)
{
	double mean = 0, var = 0;

	for (int64_t i = 0; i < len; i++)
		mean += x[i];
	mean /= (double)len;
	for (int64_t i = 0; i < len; i++)
		var += (x[i] - mean) * (x[i] - mean);
	var /= (double)len;
	for (int64_t i = 0; i < len; i++)
		x[i] = (x[i] - mean) / sqrt(var + eps);
}

static Status in_eval(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out)
{
	const Value *x = in[0];
	int64_t c = x->dims[1], inner = dims_prod(x, 2, x->rank);
	int64_t planes = x->dims[0] * c;
	double eps = attr_f(n, "epsilon", 1e-5);
	double *y = val_to_f64(cx->scratch, x);
	double *s = val_to_f64(cx->scratch, in[1]);
	double *b = val_to_f64(cx->scratch, in[2]);

	if (!y || !s || !b)
		return eval_oom(cx, n);
	for (int64_t p = 0; p < planes && inner > 0; p++) {
		double *plane = y + p * inner;

		normalize_plane(plane, inner, eps);
		for (int64_t i = 0; i < inner; i++)
			plane[i] = plane[i] * s[p % c] + b[p % c];
	}
	val_from_f64(out[0], y);
	return ST_OK;
}

const OpImpl op_impl_InstanceNormalization = { in_infer, in_eval, NULL };

/*
 * LayerNormalization and RMSNormalization over the axes from `axis` on
 * (default -1): each row of X seen as [outer, inner] is normalized by its
 * mean and (population) variance, or by its root mean square, then
 * multiplied by Scale and (LayerNormalization) shifted by B, both
 * broadcast to the normalized shape X[axis:].  LayerNormalization's
 * optional outputs Mean and InvStdDev have X's shape with the normalized
 * axes 1, in the type stash_type names.  Statistics run in double.
 */

Status norm_layer_axis(Graph *g, const Node *n, int rank, int64_t *axis)
{
	*axis = attr_i(n, "axis", -1);
	if (!norm_axis(axis, rank))
		return node_error(g, n, ST_INVALID, "axis %lld is out of range for rank %d",
		                  (long long)attr_i(n, "axis", -1), rank);
	return ST_OK;
}

/* Input i broadcasts (one way) to X's dims from axis on. */
static Status ln_check_param(Graph *g, const Node *n, int i, const Value *x, int64_t axis)
{
	const Tensor *t = node_in(g, n, i);
	const Value *p;

	if (!t)
		return ST_OK;
	p = &t->v;
	if (p->dt != x->dt)
		return node_error(g, n, ST_INVALID, "input '%s' is %s but X is %s", t->name,
		                  dtype_name(p->dt), dtype_name(x->dt));
	if (p->rank > x->rank - axis)
		return node_error(g, n, ST_INVALID, "input '%s' has rank %d, more than the %d "
		                  "normalized axes", t->name, p->rank, (int)(x->rank - axis));
	for (int d = 0; d < p->rank; d++) {
		int64_t want = x->dims[x->rank - p->rank + d];

		if (p->dims[d] != 1 && p->dims[d] != want)
			return node_error(g, n, ST_INVALID, "input '%s' does not broadcast to the "
			                  "normalized shape", t->name);
	}
	return ST_OK;
}

/* The type of Mean and InvStdDev: stash_type (default float). */
static Status ln_stash_type(Graph *g, const Node *n, DType *dt)
{
	int64_t code = attr_i(n, "stash_type", 1);

	*dt = dtype_from_onnx((int)code);
	if (*dt == DT_UNDEF || !dtype_is_float(*dt))
		return infer_bad_attr(g, n, "stash_type", "not a floating-point type nnac supports");
	return ST_OK;
}

static Status ln_infer(Graph *g, Node *n)
{
	bool rms = n->op == OP_RMSNormalization;
	int64_t axis, dims[MAX_RANK];
	const Value *x;
	DType st_dt;

	TRY(infer_nin(g, n, 2, rms ? 2 : 3));
	TRY(check_float_inputs(g, n, n->nin));
	x = &node_in(g, n, 0)->v;
	TRY(norm_layer_axis(g, n, x->rank, &axis));
	TRY(ln_stash_type(g, n, &st_dt));
	for (int i = 1; i < n->nin; i++)
		TRY(ln_check_param(g, n, i, x, axis));
	if (attr_f(n, "epsilon", 1e-5) < 0)
		return node_error(g, n, ST_INVALID, "epsilon is negative");
	for (int d = 0; d < x->rank; d++)
		dims[d] = d < axis ? x->dims[d] : 1;
	infer_out(g, n, 1, st_dt, x->rank, dims);
	infer_out(g, n, 2, st_dt, x->rank, dims);
	return infer_same(g, n);
}

/* Input i as double, broadcast over the inner normalized elements; NULL
 * when absent (out of memory sets *oom). */
static double *ln_param(EvalCtx *cx, const Value *x, int64_t axis, const Value *p, bool *oom)
{
	int64_t inner = dims_prod(x, (int)axis, x->rank);
	int64_t *offs = arena_alloc(cx->scratch, (size_t)(inner + 1) * sizeof *offs);
	double *v = p ? val_to_f64(cx->scratch, p) : NULL;
	double *r = arena_alloc(cx->scratch, (size_t)(inner + 1) * sizeof *r);
	Value shape;

	if (!p)
		return NULL;
	if (!offs || !v || !r) {
		*oom = true;
		return NULL;
	}
	val_set_type(&shape, x->dt, x->rank - (int)axis, x->dims + axis);
	bcast_offsets(&shape, p, offs);
	for (int64_t i = 0; i < inner; i++)
		r[i] = v[offs[i]];
	return r;
}

static Status ln_eval(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out)
{
	const Value *x = in[0];
	bool rms = n->op == OP_RMSNormalization, oom = false;
	double eps = attr_f(n, "epsilon", 1e-5);
	int64_t axis, inner, outer;
	double *y = val_to_f64(cx->scratch, x), *s, *b;

	TRY(norm_layer_axis(cx->g, n, x->rank, &axis));
	inner = dims_prod(x, (int)axis, x->rank);
	outer = dims_prod(x, 0, (int)axis);
	s = ln_param(cx, x, axis, in[1], &oom);
	b = rms ? NULL : ln_param(cx, x, axis, in[2], &oom);
	if (!y || !s || oom)
		return eval_oom(cx, n);
	for (int64_t o = 0; o < outer && inner > 0; o++) {
		double *row = y + o * inner, mean = 0, var = 0;

		for (int64_t i = 0; i < inner; i++)
			mean += rms ? row[i] * row[i] : row[i];
		mean /= (double)inner;
		for (int64_t i = 0; i < inner && !rms; i++)
			var += (row[i] - mean) * (row[i] - mean);
		var = rms ? mean : var / (double)inner;
		for (int64_t i = 0; i < inner; i++)
			row[i] = (rms ? row[i] : row[i] - mean) / sqrt(var + eps) * s[i] + (b ? b[i] : 0);
		if (!rms && out[1])
			val_set_f64(out[1], o, mean);
		if (!rms && out[2])
			val_set_f64(out[2], o, 1 / sqrt(var + eps));
	}
	val_from_f64(out[0], y);
	return ST_OK;
}

const OpImpl op_impl_LayerNormalization = { ln_infer, ln_eval, NULL };
const OpImpl op_impl_RMSNormalization = { ln_infer, ln_eval, NULL };

/*
 * Softmax and LogSoftmax.  The input is seen as [outer, len, inner] and
 * normalized along len.  Before opset 13 the input is coerced to 2-D at
 * `axis` (default 1): len is the whole trailing block and inner is 1.
 * From opset 13 len is the single dimension `axis` (default -1).
 */

bool norm_softmax_geom(const Graph *g, const Node *n, const Value *x, SoftmaxGeom *sg)
{
	bool coerce = g->opset < 13;
	int64_t axis = attr_i(n, "axis", coerce ? 1 : -1);

	if (!norm_axis(&axis, x->rank))
		return false;
	sg->outer = dims_prod(x, 0, (int)axis);
	sg->len = coerce ? dims_prod(x, (int)axis, x->rank) : x->dims[axis];
	sg->inner = coerce ? 1 : dims_prod(x, (int)axis + 1, x->rank);
	return true;
}

static Status softmax_infer(Graph *g, Node *n)
{
	Status st = infer_nin(g, n, 1, 1);
	SoftmaxGeom sg;

	if (st == ST_OK)
		st = infer_dtype(g, n, 0, DTM_FLOAT);
	if (st != ST_OK)
		return st;
	if (!norm_softmax_geom(g, n, &node_in(g, n, 0)->v, &sg))
		return node_error(g, n, ST_INVALID, "axis %lld is out of range for rank %d",
		                  (long long)attr_i(n, "axis", g->opset < 13 ? 1 : -1),
		                  node_in(g, n, 0)->v.rank);
	return infer_same(g, n);
}

/* One row x[0], x[stride], ... x[(len-1)*stride], normalized in place. */
static void softmax_row(double *x, int64_t len, int64_t stride, bool log_out)
{
	double max = -INFINITY, sum = 0;

	for (int64_t k = 0; k < len; k++)
		if (x[k * stride] > max)
			max = x[k * stride];
	for (int64_t k = 0; k < len; k++)
		sum += exp(x[k * stride] - max);
	for (int64_t k = 0; k < len; k++) {
		double d = x[k * stride] - max;
		x[k * stride] = log_out ? d - log(sum) : exp(d) / sum;
	}
}

static Status softmax_run(EvalCtx *cx, const Node *n, const Value *x, Value *y, bool log_out)
{
	SoftmaxGeom sg;
	double *v = val_to_f64(cx->scratch, x);

	if (!v)
		return eval_oom(cx, n);
	norm_softmax_geom(cx->g, n, x, &sg);
	for (int64_t o = 0; o < sg.outer; o++)
		for (int64_t s = 0; s < sg.inner; s++)
			softmax_row(v + o * sg.len * sg.inner + s, sg.len, sg.inner, log_out);
	val_from_f64(y, v);
	return ST_OK;
}

static Status softmax_eval(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out)
{
	return softmax_run(cx, n, in[0], out[0], false);
}

static Status logsoftmax_eval(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out)
{
	return softmax_run(cx, n, in[0], out[0], true);
}

const OpImpl op_impl_Softmax = { softmax_infer, softmax_eval, NULL };
const OpImpl op_impl_LogSoftmax = { softmax_infer, logsoftmax_eval, NULL };

/*
 * The reductions ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd,
 * ReduceL1, ReduceL2, ReduceLogSum, ReduceLogSumExp and ReduceSumSquare.
 * The axes are an attribute before the opset that made them an optional
 * second input (13 for ReduceSum, 18 for the others);
 * noop_with_empty_axes exists only in the input form.  Empty axes reduce
 * everything, unless noop_with_empty_axes makes the node an identity.
 *
 * Each is a map of the elements (|x|, x^2, exp(x - m)), a combination
 * (sum, max, min, product) and a finish (/count, sqrt, log, log + m), the
 * table below.  ReduceLogSumExp shifts by m, the row's maximum clamped to
 * finite values, so that large inputs do not overflow; an empty row gives
 * -inf.  Reducing an empty set gives the combination's identity: 0, 1,
 * the lowest (max) or highest (min) value of the type; NaN for a float
 * mean.  Integers take the exact path (64-bit arithmetic that wraps as
 * the type does) except for L2, LogSum and LogSumExp, which compute in
 * double and store truncated.
 */

typedef struct RedPlan {
	bool red[MAX_RANK];  /* dimension d is reduced */
	bool keep;           /* reduced dimensions stay as 1 */
} RedPlan;

static const struct {
	OpKind op;
	RedInfo info;
} red_table[] = {
	{OP_ReduceSum, {RMAP_NONE, RCOMB_SUM, RFIN_NONE}},
	{OP_ReduceMean, {RMAP_NONE, RCOMB_SUM, RFIN_MEAN}},
	{OP_ReduceMax, {RMAP_NONE, RCOMB_MAX, RFIN_NONE}},
	{OP_ReduceMin, {RMAP_NONE, RCOMB_MIN, RFIN_NONE}},
	{OP_ReduceProd, {RMAP_NONE, RCOMB_PROD, RFIN_NONE}},
	{OP_ReduceL1, {RMAP_ABS, RCOMB_SUM, RFIN_NONE}},
	{OP_ReduceL2, {RMAP_SQUARE, RCOMB_SUM, RFIN_SQRT}},
	{OP_ReduceLogSum, {RMAP_NONE, RCOMB_SUM, RFIN_LOG}},
	{OP_ReduceLogSumExp, {RMAP_EXP, RCOMB_SUM, RFIN_LOG}},
	{OP_ReduceSumSquare, {RMAP_SQUARE, RCOMB_SUM, RFIN_NONE}},
};

RedInfo norm_red_info(OpKind op)
{
	for (size_t i = 0; i < ARRAY_LEN(red_table); i++)
		if (red_table[i].op == op)
			return red_table[i].info;
	nnac_unreachable();
}

bool norm_red_exact_int(OpKind op)
{
	RedInfo r = norm_red_info(op);

	return r.fin == RFIN_NONE || r.fin == RFIN_MEAN;
}

static bool red_axes_are_input(const Graph *g, const Node *n)
{
	return g->opset >= (n->op == OP_ReduceSum ? 13 : 18);
}

/* Turns the axes as written into a plan for an input of rank `rank`. */
static Status red_plan(Graph *g, const Node *n, const int64_t *axes, int count, int rank,
                       RedPlan *p)
{
	bool noop = red_axes_are_input(g, n) && attr_i(n, "noop_with_empty_axes", 0) != 0;

	p->keep = attr_i(n, "keepdims", 1) != 0;
	for (int d = 0; d < rank; d++)
		p->red[d] = count == 0 && !noop;
	for (int i = 0; i < count; i++) {
		int64_t a = axes[i];

		if (!norm_axis(&a, rank))
			return node_error(g, n, ST_INVALID, "axis %lld is out of range for rank %d",
			                  (long long)axes[i], rank);
		if (p->red[a])
			return node_error(g, n, ST_INVALID, "axis %lld appears twice",
			                  (long long)axes[i]);
		p->red[a] = true;
	}
	return ST_OK;
}

static Status red_infer_axes(Graph *g, const Node *n, const int64_t **axes, int *count)
{
	int64_t *vals = NULL;
	Status st;

	if (!red_axes_are_input(g, n)) {
		*axes = attr_ints(n, "axes", count);
		return ST_OK;
	}
	if (attr_find(n, "axes"))
		return node_error(g, n, ST_INVALID, "attribute 'axes' is an input from opset %d on",
		                  n->op == OP_ReduceSum ? 13 : 18);
	st = infer_const_ints(g, n, 1, &vals, count);
	*axes = vals;
	return st;
}

/* The element types of the ONNX schemas (ReduceMax and ReduceMin: int8
 * and uint8 from opset 12, bool from 20; accepted in every opset). */
static unsigned red_dtypes(OpKind op)
{
	unsigned common = DTM_FLOAT | DTM(I32) | DTM(I64) | DTM(U32) | DTM(U64);
	RedComb c = norm_red_info(op).comb;

	return c == RCOMB_MAX || c == RCOMB_MIN ? common | DTM(I8) | DTM(U8) | DTM(BOOL) : common;
}

static Status red_check(Graph *g, const Node *n)
{
	Status st = infer_nin(g, n, 1, red_axes_are_input(g, n) ? 2 : 1);

	if (st == ST_OK)
		st = infer_dtype(g, n, 0, red_dtypes(n->op));
	if (st == ST_OK && n->nin > 1 && n->in[1] >= 0)
		st = infer_dtype(g, n, 1, DTM(I64));
	return st;
}

static Status red_infer(Graph *g, Node *n)
{
	const int64_t *axes = NULL;
	int64_t dims[MAX_RANK];
	int count = 0, rank = 0;
	const Value *x;
	RedPlan p;
	Status st = red_check(g, n);

	if (st == ST_OK)
		st = red_infer_axes(g, n, &axes, &count);
	if (st != ST_OK)
		return st;
	x = &node_in(g, n, 0)->v;
	st = red_plan(g, n, axes, count, x->rank, &p);
	if (st != ST_OK)
		return st;
	for (int d = 0; d < x->rank; d++)
		if (!p.red[d] || p.keep)
			dims[rank++] = p.red[d] ? 1 : x->dims[d];
	infer_out(g, n, 0, x->dt, rank, dims);
	return ST_OK;
}

/*
 * For every element of x (row-major), the flat index of the output element
 * it reduces into.  Dropping kept size-1 dimensions leaves flat indices
 * unchanged, so the map serves keepdims=0 as well.
 */
static int64_t *red_map(Arena *a, const Value *x, const RedPlan *p)
{
	int64_t total = val_numel(x), idx[MAX_RANK] = {0}, ostr[MAX_RANK], s = 1, off = 0;
	int64_t *map = arena_alloc(a, (size_t)(total > 0 ? total : 1) * sizeof *map);

	if (!map)
		return NULL;
	for (int d = x->rank - 1; d >= 0; d--) {
		ostr[d] = p->red[d] ? 0 : s;
		s *= p->red[d] ? 1 : x->dims[d];
	}
	for (int64_t i = 0; i < total; i++) {
		map[i] = off;
		for (int d = x->rank - 1; d >= 0; d--) {
			off += ostr[d];
			if (++idx[d] < x->dims[d])
				break;
			off -= ostr[d] * idx[d];
			idx[d] = 0;
		}
	}
	return map;
}

static double fcomb(RedComb c, double a, double v)
{
	switch (c) {
	case RCOMB_SUM: return a + v;
	case RCOMB_PROD: return a * v;
	case RCOMB_MAX: return isnan(v) || v > a ? v : a;
	case RCOMB_MIN: return isnan(v) || v < a ? v : a;
	}
	nnac_unreachable();
}

static double fidentity(RedComb c)
{
	switch (c) {
	case RCOMB_SUM: return 0;
	case RCOMB_PROD: return 1;
	case RCOMB_MAX: return -INFINITY;
	case RCOMB_MIN: return INFINITY;
	}
	nnac_unreachable();
}

static double fmap(RedMap m, double v, double shift)
{
	switch (m) {
	case RMAP_NONE: return v;
	case RMAP_ABS: return fabs(v);
	case RMAP_SQUARE: return v * v;
	case RMAP_EXP: return exp(v - shift);
	}
	nnac_unreachable();
}

double norm_red_shift(double max)
{
	return max < -DBL_MAX ? -DBL_MAX : max > DBL_MAX ? DBL_MAX : max;
}

/* Per output element, the shift of ReduceLogSumExp: the clamped maximum. */
static double *red_shifts(EvalCtx *cx, const double *v, int64_t total, const int64_t *map,
                          int64_t nout)
{
	double *m = arena_alloc(cx->scratch, (size_t)(nout > 0 ? nout : 1) * sizeof *m);

	if (!m)
		return NULL;
	for (int64_t o = 0; o < nout; o++)
		m[o] = -INFINITY;
	for (int64_t i = 0; i < total; i++)
		m[map[i]] = fcomb(RCOMB_MAX, m[map[i]], v[i]);
	for (int64_t o = 0; o < nout; o++)
		m[o] = norm_red_shift(m[o]);
	return m;
}

static Status red_float(EvalCtx *cx, const Node *n, const Value *x, const int64_t *map, Value *y)
{
	RedInfo r = norm_red_info(n->op);
	int64_t total = val_numel(x), nout = val_numel(y);
	int64_t count = nout > 0 ? total / nout : 0;
	double *v = val_to_f64(cx->scratch, x), *m = NULL;
	double *acc = arena_alloc(cx->scratch, (size_t)(nout > 0 ? nout : 1) * sizeof *acc);

	if (!v || !acc)
		return eval_oom(cx, n);
	if (r.map == RMAP_EXP && !(m = red_shifts(cx, v, total, map, nout)))
		return eval_oom(cx, n);
	for (int64_t o = 0; o < nout; o++)
		acc[o] = fidentity(r.comb);
	for (int64_t i = 0; i < total; i++)
		acc[map[i]] = fcomb(r.comb, acc[map[i]], fmap(r.map, v[i], m ? m[map[i]] : 0));
	for (int64_t o = 0; o < nout; o++) {
		switch (r.fin) {
		case RFIN_NONE: break;
		case RFIN_MEAN: acc[o] /= (double)count; break;
		case RFIN_SQRT: acc[o] = sqrt(acc[o]); break;
		case RFIN_LOG: acc[o] = log(acc[o]) + (m ? m[o] : 0); break;
		}
	}
	val_from_f64(y, acc);
	return ST_OK;
}

int64_t norm_int_lowest(DType dt)
{
	int bits = 8 * dtype_size(dt);

	if (!dtype_is_signed(dt))
		return 0;
	return bits == 64 ? INT64_MIN : -((int64_t)1 << (bits - 1));
}

int64_t norm_int_highest(DType dt)
{
	int bits = 8 * dtype_size(dt);

	if (dt == DT_BOOL)
		return 1;
	if (dtype_is_signed(dt))
		return bits == 64 ? INT64_MAX : ((int64_t)1 << (bits - 1)) - 1;
	return bits == 64 ? -1 : (int64_t)(((uint64_t)1 << bits) - 1);
}

/* a > b in the element type's own order. */
static bool int_greater(int64_t a, int64_t b, bool is_signed)
{
	return is_signed ? a > b : (uint64_t)a > (uint64_t)b;
}

static int64_t int_div(uint64_t sum, int64_t count, bool is_signed)
{
	if (count == 0)
		return 0;
	if (is_signed)
		return (int64_t)sum / count;
	return (int64_t)(sum / (uint64_t)count);
}

static int64_t icomb(RedComb c, int64_t a, int64_t v, bool sgn)
{
	switch (c) {
	case RCOMB_SUM: return (int64_t)((uint64_t)a + (uint64_t)v);
	case RCOMB_PROD: return (int64_t)((uint64_t)a * (uint64_t)v);
	case RCOMB_MAX: return int_greater(v, a, sgn) ? v : a;
	case RCOMB_MIN: return int_greater(a, v, sgn) ? v : a;
	}
	nnac_unreachable();
}

static int64_t imap(RedMap m, int64_t v, bool sgn)
{
	switch (m) {
	case RMAP_NONE: return v;
	case RMAP_ABS: return sgn && v < 0 ? (int64_t)(0 - (uint64_t)v) : v;
	case RMAP_SQUARE: return (int64_t)((uint64_t)v * (uint64_t)v);
	case RMAP_EXP: break;
	}
	nnac_unreachable();
}

static Status red_int(EvalCtx *cx, const Node *n, const Value *x, const int64_t *map, Value *y)
{
	RedInfo r = norm_red_info(n->op);
	int64_t total = val_numel(x), nout = val_numel(y);
	int64_t count = nout > 0 ? total / nout : 0;
	bool sgn = dtype_is_signed(x->dt);
	int64_t *acc = arena_alloc(cx->scratch, (size_t)(nout > 0 ? nout : 1) * sizeof *acc);
	int64_t init = r.comb == RCOMB_MAX ? norm_int_lowest(x->dt)
	               : r.comb == RCOMB_MIN ? norm_int_highest(x->dt) : r.comb == RCOMB_PROD;

	if (!acc)
		return eval_oom(cx, n);
	for (int64_t o = 0; o < nout; o++)
		acc[o] = init;
	for (int64_t i = 0; i < total; i++)
		acc[map[i]] = icomb(r.comb, acc[map[i]], imap(r.map, val_get_i64(x, i), sgn), sgn);
	for (int64_t o = 0; o < nout && r.fin == RFIN_MEAN; o++)
		acc[o] = int_div((uint64_t)acc[o], count, sgn);
	val_from_i64(y, acc);
	return ST_OK;
}

static Status red_eval_axes(EvalCtx *cx, const Node *n, const Value *const *in,
                            const int64_t **axes, int *count)
{
	if (!red_axes_are_input(cx->g, n)) {
		*axes = attr_ints(n, "axes", count);
		return ST_OK;
	}
	*axes = NULL;
	*count = 0;
	if (n->nin < 2 || !in[1])
		return ST_OK;
	*count = (int)val_numel(in[1]);
	*axes = val_to_i64(cx->scratch, in[1]);
	return *axes ? ST_OK : eval_oom(cx, n);
}

static Status red_eval(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out)
{
	const int64_t *axes;
	int64_t *map;
	int count;
	RedPlan p;
	Status st = red_eval_axes(cx, n, in, &axes, &count);

	if (st == ST_OK)
		st = red_plan(cx->g, n, axes, count, in[0]->rank, &p);
	if (st != ST_OK)
		return st;
	map = red_map(cx->scratch, in[0], &p);
	if (!map)
		return eval_oom(cx, n);
	if (dtype_is_float(in[0]->dt) || !norm_red_exact_int(n->op))
		return red_float(cx, n, in[0], map, out[0]);
	return red_int(cx, n, in[0], map, out[0]);
}

const OpImpl op_impl_ReduceSum = { red_infer, red_eval, NULL };
const OpImpl op_impl_ReduceMean = { red_infer, red_eval, NULL };
const OpImpl op_impl_ReduceMax = { red_infer, red_eval, NULL };
const OpImpl op_impl_ReduceMin = { red_infer, red_eval, NULL };
const OpImpl op_impl_ReduceProd = { red_infer, red_eval, NULL };
const OpImpl op_impl_ReduceL1 = { red_infer, red_eval, NULL };
const OpImpl op_impl_ReduceL2 = { red_infer, red_eval, NULL };
const OpImpl op_impl_ReduceLogSum = { red_infer, red_eval, NULL };
const OpImpl op_impl_ReduceLogSumExp = { red_infer, red_eval, NULL };
const OpImpl op_impl_ReduceSumSquare = { red_infer, red_eval, NULL };

/*
 * ArgMax and ArgMin: the int64 index of the largest (smallest) element
 * along `axis`, the first one, or the last with select_last_index (opset
 * 12 on); a NaN counts as larger (smaller) than anything, as NumPy's
 * argmax sees it.  The axis stays as 1 with keepdims (default 1).
 */

Status norm_arg_axis(Graph *g, const Node *n, int rank, int64_t *axis)
{
	*axis = attr_i(n, "axis", 0);
	if (!norm_axis(axis, rank))
		return node_error(g, n, ST_INVALID, "axis %lld is out of range for rank %d",
		                  (long long)attr_i(n, "axis", 0), rank);
	return ST_OK;
}

static Status arg_infer(Graph *g, Node *n)
{
	int64_t axis, dims[MAX_RANK];
	const Value *x;
	int rank = 0;

	TRY(infer_nin(g, n, 1, 1));
	TRY(infer_dtype(g, n, 0, DTM_NUM));
	if (g->opset < 12 && attr_find(n, "select_last_index"))
		return node_error(g, n, ST_INVALID, "attribute 'select_last_index' came in opset 12");
	x = &node_in(g, n, 0)->v;
	TRY(norm_arg_axis(g, n, x->rank, &axis));
	if (x->dims[axis] == 0)
		return node_error(g, n, ST_INVALID, "axis %lld is empty: no index to return",
		                  (long long)axis);
	for (int d = 0; d < x->rank; d++)
		if (d != axis || attr_i(n, "keepdims", 1) != 0)
			dims[rank++] = d == axis ? 1 : x->dims[d];
	infer_out(g, n, 0, DT_I64, rank, dims);
	return ST_OK;
}

/* Whether v replaces the best so far b (ArgMax when max; last: ties too). */
static bool arg_better(double v, double b, bool max, bool last)
{
	if (isnan(b))
		return last && isnan(v);
	if (isnan(v))
		return true;
	return max ? (v > b || (last && v == b)) : (v < b || (last && v == b));
}

static Status arg_eval(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out)
{
	const Value *x = in[0];
	bool max = n->op == OP_ArgMax, last = attr_i(n, "select_last_index", 0) != 0;
	int64_t axis, len, inner, outer;
	double *v = val_to_f64(cx->scratch, x);

	if (!v)
		return eval_oom(cx, n);
	TRY(norm_arg_axis(cx->g, n, x->rank, &axis));
	len = x->dims[axis];
	val_split_at(x, axis, &outer, &inner);
	for (int64_t o = 0; o < outer; o++)
		for (int64_t s = 0; s < inner; s++) {
			const double *row = v + o * len * inner + s;
			int64_t best = 0;

			for (int64_t k = 1; k < len; k++)
				if (arg_better(row[k * inner], row[best * inner], max, last))
					best = k;
			((int64_t *)out[0]->data)[o * inner + s] = best;
		}
	return ST_OK;
}

const OpImpl op_impl_ArgMax = { arg_infer, arg_eval, NULL };
const OpImpl op_impl_ArgMin = { arg_infer, arg_eval, NULL };
