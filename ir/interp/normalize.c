/*
 * Reference kernels of the normalizations of issue 15's bitwise,
 * normalization and signal group: Hardmax, LpNormalization,
 * MeanVarianceNormalization and GroupNormalization.
 *
 * Everything runs in double and rounds once on store, so stash_type
 * (GroupNormalization's precision of the statistics) is met or exceeded.
 * Hardmax shares Softmax's axis rules (norm_softmax_geom, norm.h).
 */
#include <math.h>
#include <string.h>

#include "norm.h"

static const Value *in_val(Graph *g, const Node *n, int i)
{
	const Tensor *t = node_in(g, n, i);

	return t ? &t->v : NULL;
}

/*
 * Hardmax: 1 at the first largest element of each row along axis (NaN
 * counts as largest, as NumPy's argmax has it), 0 elsewhere.
 */

static Status hardmax_infer(Graph *g, Node *n)
{
	SoftmaxGeom sg;

	TRY(infer_nin(g, n, 1, 1));
	TRY(infer_dtype(g, n, 0, DTM_FLOAT));
	if (!norm_softmax_geom(g, n, in_val(g, n, 0), &sg))
		return node_error(g, n, ST_INVALID, "axis %lld is out of range for rank %d",
		                  (long long)attr_i(n, "axis", g->opset < 13 ? 1 : -1),
		                  in_val(g, n, 0)->rank);
	return infer_same(g, n);
}

static Status hardmax_eval(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out)
{
	SoftmaxGeom sg;

	norm_softmax_geom(cx->g, n, in[0], &sg);
	for (int64_t o = 0; o < sg.outer; o++)
		for (int64_t s = 0; s < sg.inner; s++) {
			int64_t base = o * sg.len * sg.inner + s, best = -1;
			double bv = 0;

			for (int64_t k = 0; k < sg.len; k++) {
				double v = val_get_f64(in[0], base + k * sg.inner);

				if (best < 0 || v > bv || (isnan(v) && !isnan(bv))) {
					best = k;
					bv = v;
				}
			}
			if (best >= 0)
				val_set_f64(out[0], base + best * sg.inner, 1);
		}
	return ST_OK;
}

const OpImpl op_impl_Hardmax = {hardmax_infer, hardmax_eval, NULL};

/*
 * LpNormalization: X divided by its L1 or L2 norm along axis (default -1);
 * a row whose norm is 0 gives zeros.
 */

static Status lpnorm_infer(Graph *g, Node *n)
{
	int64_t axis = attr_i(n, "axis", -1), p = attr_i(n, "p", 2);

	TRY(infer_nin(g, n, 1, 1));
	TRY(infer_dtype(g, n, 0, DTM_FLOAT));
	if (!norm_axis(&axis, in_val(g, n, 0)->rank))
		return node_error(g, n, ST_INVALID, "axis %lld is out of range for rank %d",
		                  (long long)attr_i(n, "axis", -1), in_val(g, n, 0)->rank);
	if (p != 1 && p != 2)
		return node_error(g, n, ST_INVALID, "p is %lld; the operator defines only 1 and 2",
		                  (long long)p);
	return infer_same(g, n);
}

static Status lpnorm_eval(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out)
{
	const Value *x = in[0];
	int64_t axis = attr_i(n, "axis", -1), outer, inner, len;
	bool l1 = attr_i(n, "p", 2) == 1;

	(void)cx;
	norm_axis(&axis, x->rank);
	len = x->dims[axis];
	val_split_at(x, axis, &outer, &inner);
	for (int64_t o = 0; o < outer; o++)
		for (int64_t s = 0; s < inner; s++) {
			int64_t base = o * len * inner + s;
			double norm = 0;

			for (int64_t k = 0; k < len; k++) {
				double v = val_get_f64(x, base + k * inner);

				norm += l1 ? fabs(v) : v * v;
			}
			norm = l1 ? norm : sqrt(norm);
			for (int64_t k = 0; k < len && norm != 0; k++)
				val_set_f64(out[0], base + k * inner, val_get_f64(x, base + k * inner) / norm);
		}
	return ST_OK;
}

const OpImpl op_impl_LpNormalization = {lpnorm_infer, lpnorm_eval, NULL};

/*
 * Statistics over a set of axes: every element of X belongs to the group
 * of the elements that share its coordinates on the other axes.
 */

typedef struct Groups {
	int64_t count;               /* number of groups */
	int64_t size;                /* elements per group */
	int64_t gstride[MAX_RANK];   /* group-index stride of each kept axis, 0 if reduced */
} Groups;

/* Groups of x over the axes marked in reduced[]. */
static void groups_over(const Value *x, const bool *reduced, Groups *gr)
{
	gr->count = 1;
	gr->size = 1;
	for (int d = x->rank - 1; d >= 0; d--) {
		gr->gstride[d] = reduced[d] ? 0 : gr->count;
		if (reduced[d])
			gr->size *= x->dims[d];
		else
			gr->count *= x->dims[d];
	}
}

/* The group of element e (row-major) of x. */
static int64_t group_of(const Value *x, const Groups *gr, int64_t e)
{
	int64_t gi = 0;

	for (int d = x->rank - 1; d >= 0; d--) {
		gi += (e % x->dims[d]) * gr->gstride[d];
		e /= x->dims[d];
	}
	return gi;
}

/* Each group's mean and population variance of x (in double, xs). */
static Status group_stats(EvalCtx *cx, const Node *n, const Value *x, const double *xs,
                          const Groups *gr, double **mean, double **var)
{
	int64_t numel = val_numel(x);

	*mean = arena_alloc(cx->scratch, (size_t)(gr->count + 1) * sizeof(double));
	*var = arena_alloc(cx->scratch, (size_t)(gr->count + 1) * sizeof(double));
	if (!*mean || !*var)
		return eval_oom(cx, n);
	memset(*mean, 0, (size_t)(gr->count + 1) * sizeof(double));
	memset(*var, 0, (size_t)(gr->count + 1) * sizeof(double));
	for (int64_t e = 0; e < numel; e++)
		(*mean)[group_of(x, gr, e)] += xs[e];
	for (int64_t k = 0; k < gr->count; k++)
		(*mean)[k] /= (double)gr->size;
	for (int64_t e = 0; e < numel; e++) {
		double d = xs[e] - (*mean)[group_of(x, gr, e)];

		(*var)[group_of(x, gr, e)] += d * d;
	}
	for (int64_t k = 0; k < gr->count; k++)
		(*var)[k] /= (double)gr->size;
	return ST_OK;
}

/*
 * MeanVarianceNormalization: (X - mean) / (std + 1e-9), the statistics
 * over `axes` (default [0, 2, 3]), as the operator's function body has it.
 */

#define MVN_EPS 1e-9

static Status mvn_axes(Graph *g, const Node *n, int rank, bool *reduced)
{
	static const int64_t def[] = {0, 2, 3};
	int count = 3;
	const int64_t *axes = attr_find(n, "axes") ? attr_ints(n, "axes", &count) : def;

	memset(reduced, 0, (size_t)MAX_RANK * sizeof(bool));
	for (int i = 0; i < count; i++) {
		int64_t a = axes[i];

		if (!norm_axis(&a, rank))
			return node_error(g, n, ST_INVALID, "axis %lld is out of range for rank %d",
			                  (long long)axes[i], rank);
		if (reduced[a])
			return node_error(g, n, ST_INVALID, "axis %lld appears twice", (long long)axes[i]);
		reduced[a] = true;
	}
	return ST_OK;
}

static Status mvn_infer(Graph *g, Node *n)
{
	bool reduced[MAX_RANK];

	TRY(infer_nin(g, n, 1, 1));
	TRY(infer_dtype(g, n, 0, DTM_FLOAT));
	TRY(mvn_axes(g, n, in_val(g, n, 0)->rank, reduced));
	return infer_same(g, n);
}

static Status mvn_eval(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out)
{
	const Value *x = in[0];
	bool reduced[MAX_RANK];
	double *xs = val_to_f64(cx->scratch, x), *mean, *var;
	int64_t numel = val_numel(x);
	Groups gr;

	if (!xs)
		return eval_oom(cx, n);
	TRY(mvn_axes(cx->g, n, x->rank, reduced));
	groups_over(x, reduced, &gr);
	if (numel == 0)
		return ST_OK;
	TRY(group_stats(cx, n, x, xs, &gr, &mean, &var));
	for (int64_t e = 0; e < numel; e++) {
		int64_t k = group_of(x, &gr, e);

		xs[e] = (xs[e] - mean[k]) / (sqrt(var[k]) + MVN_EPS);
	}
	val_from_f64(out[0], xs);
	return ST_OK;
}

const OpImpl op_impl_MeanVarianceNormalization = {mvn_infer, mvn_eval, NULL};

/*
 * GroupNormalization: X [N, C, D...] with its C channels split into
 * num_groups groups; each (n, group) is normalized by its own mean and
 * variance, then scaled and shifted.  scale and bias are per group in
 * opsets 18 to 20 and per channel from opset 21.
 */

static bool gn_per_channel(const Graph *g)
{
	return g->opset >= 21;
}

static Status gn_check_param(Graph *g, const Node *n, int i, int64_t want)
{
	const Value *p = in_val(g, n, i);

	if (p->rank == 1 && (p->dims[0] == want || p->dims[0] < 0 || want < 0))
		return ST_OK;
	return node_error(g, n, ST_INVALID, "input %d must have shape [%s] (%lld) in opset %lld",
	                  i, gn_per_channel(g) ? "C" : "num_groups", (long long)want,
	                  (long long)g->opset);
}

static Status gn_infer(Graph *g, Node *n)
{
	const Value *x;
	int64_t groups = attr_i(n, "num_groups", 0), stash = attr_i(n, "stash_type", 1);

	TRY(infer_nin(g, n, 3, 3));
	for (int i = 0; i < 3; i++)
		TRY(infer_dtype(g, n, i, DTM_FLOAT));
	x = in_val(g, n, 0);
	if (x->rank < 2)
		return node_error(g, n, ST_INVALID, "X must have rank >= 2, not %d", x->rank);
	if (!attr_find(n, "num_groups") || groups < 1)
		return node_error(g, n, ST_INVALID, "attribute 'num_groups' must be a positive integer");
	if (x->dims[1] >= 0 && x->dims[1] % groups != 0)
		return node_error(g, n, ST_INVALID, "num_groups %lld does not divide the %lld channels",
		                  (long long)groups, (long long)x->dims[1]);
	if (stash != 1 && stash != 11)
		return infer_bad_attr(g, n, "stash_type", "only float (1) and double (11) statistics "
		                      "are supported");
	if (attr_f(n, "epsilon", 1e-5) < 0)
		return node_error(g, n, ST_INVALID, "epsilon is negative");
	for (int i = 1; i < 3; i++)
		TRY(gn_check_param(g, n, i, gn_per_channel(g) ? x->dims[1] : groups));
	return infer_same(g, n);
}

static Status gn_eval(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out)
{
	const Value *x = in[0];
	int64_t groups = attr_i(n, "num_groups", 1), chans = x->dims[1];
	int64_t cpg = chans / groups, plane, numel = val_numel(x);
	double eps = attr_f(n, "epsilon", 1e-5);
	double *xs = val_to_f64(cx->scratch, x), *mean, *var;
	bool per_channel = gn_per_channel(cx->g);
	Value view;
	bool reduced[MAX_RANK] = {false, false, true, true};
	Groups gr;

	if (!xs)
		return eval_oom(cx, n);
	if (numel == 0)
		return ST_OK;
	/* View X as [N, groups, channels per group, rest] and reduce the last two. */
	plane = numel / (x->dims[0] * chans);
	{
		int64_t dims[4] = {x->dims[0], groups, cpg, plane};
		val_set_type(&view, x->dt, 4, dims);
	}
	groups_over(&view, reduced, &gr);
	TRY(group_stats(cx, n, &view, xs, &gr, &mean, &var));
	for (int64_t e = 0; e < numel; e++) {
		int64_t c = (e / plane) % chans, k = group_of(&view, &gr, e);
		int64_t pi = per_channel ? c : c / cpg;

		xs[e] = (xs[e] - mean[k]) / sqrt(var[k] + eps) * val_get_f64(in[1], pi) +
		        val_get_f64(in[2], pi);
	}
	val_from_f64(out[0], xs);
	return ST_OK;
}

const OpImpl op_impl_GroupNormalization = {gn_infer, gn_eval, NULL};
