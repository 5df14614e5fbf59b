/*
 * Reference kernels of the losses: NegativeLogLikelihoodLoss and
 * SoftmaxCrossEntropyLoss (opsets 12 on).
 *
 * The input X is [N, C, D1..Dk] (k >= 0), the target T is [N, D1..Dk] of
 * int32 or int64 classes, the optional weight W is [C].  Seen as [N, C, D]
 * with D = D1 * ... * Dk, each position (n, d) loses
 *   l = -w * X[n, T[n, d], d],  w = W[T[n, d]] (1 without W),
 * and l = w = 0 where T[n, d] equals ignore_index (when that attribute is
 * given).  reduction: none keeps l with T's shape; sum adds the l; mean
 * (the default) divides that sum by the sum of the w, as the spec's
 * weighted mean does (NaN when every position is ignored).  A target
 * outside [0, C) that is not ignored is an error at run time.
 *
 * SoftmaxCrossEntropyLoss first takes X's log-softmax over axis 1 (after
 * subtracting the maximum, as Softmax does) and returns it as its
 * optional second output log_prob.  Work runs in double; each output
 * rounds once on store.
 */
#include <math.h>
#include <string.h>

#include "op.h"

typedef enum LossRed { LR_NONE, LR_SUM, LR_MEAN } LossRed;

static Status loss_reduction(Graph *g, const Node *n, LossRed *r)
{
	const char *s = attr_s(n, "reduction", "mean");

	if (strcmp(s, "none") == 0)
		*r = LR_NONE;
	else if (strcmp(s, "sum") == 0)
		*r = LR_SUM;
	else if (strcmp(s, "mean") == 0)
		*r = LR_MEAN;
	else
		return node_error(g, n, ST_INVALID, "reduction '%s' is not none, sum or mean", s);
	return ST_OK;
}

/* T is [N, D1..Dk] for X [N, C, D1..Dk]; W, when present, is X's type and [C]. */
static Status loss_check_shapes(Graph *g, const Node *n, const Value *x, const Value *t,
                                const Value *w)
{
	if (x->rank < 2)
		return node_error(g, n, ST_INVALID, "input '%s' has rank %d; it needs [N, C, ...]",
		                  node_in(g, n, 0)->name, x->rank);
	if (t->rank != x->rank - 1)
		return node_error(g, n, ST_INVALID, "target rank %d is not the input's rank %d less one",
		                  t->rank, x->rank);
	for (int d = 0; d < t->rank; d++)
		if (t->dims[d] != x->dims[d == 0 ? 0 : d + 1])
			return node_error(g, n, ST_INVALID, "target dimension %d is %lld, the input's "
			                  "[N, C, D...] needs %lld", d, (long long)t->dims[d],
			                  (long long)x->dims[d == 0 ? 0 : d + 1]);
	if (!w)
		return ST_OK;
	if (w->dt != x->dt)
		return node_error(g, n, ST_INVALID, "weight is %s, the input %s", dtype_name(w->dt),
		                  dtype_name(x->dt));
	if (w->rank != 1 || w->dims[0] != x->dims[1])
		return node_error(g, n, ST_INVALID, "weight must be [C] = [%lld]", (long long)x->dims[1]);
	return ST_OK;
}

static Status loss_infer(Graph *g, Node *n)
{
	const Tensor *w = node_in(g, n, 2);
	const Value *x, *t;
	LossRed r = LR_MEAN;

	TRY(infer_nin(g, n, 2, 3));
	TRY(infer_dtype(g, n, 0, DTM_FLOAT));
	TRY(infer_dtype(g, n, 1, DTM(I32) | DTM(I64)));
	TRY(loss_reduction(g, n, &r));
	x = &node_in(g, n, 0)->v;
	t = &node_in(g, n, 1)->v;
	TRY(loss_check_shapes(g, n, x, t, w ? &w->v : NULL));
	if (r == LR_NONE)
		infer_out(g, n, 0, x->dt, t->rank, t->dims);
	else
		infer_out(g, n, 0, x->dt, 0, NULL);
	infer_out(g, n, 1, x->dt, x->rank, x->dims);   /* SoftmaxCrossEntropyLoss' log_prob */
	return ST_OK;
}

/* X [N, C, D] replaced by its log-softmax over C. */
static void log_softmax(double *x, int64_t outer, int64_t c, int64_t inner)
{
	for (int64_t o = 0; o < outer; o++)
		for (int64_t s = 0; s < inner; s++) {
			double *row = x + o * c * inner + s, max = -INFINITY, sum = 0;

			for (int64_t k = 0; k < c; k++)
				max = fmax(max, row[k * inner]);
			for (int64_t k = 0; k < c; k++)
				sum += exp(row[k * inner] - max);
			for (int64_t k = 0; k < c; k++)
				row[k * inner] -= max + log(sum);
		}
}

static Status loss_eval(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out)
{
	const Value *x = in[0];
	int64_t N = x->dims[0], C = x->dims[1], D = 1;
	bool ignore = attr_find(n, "ignore_index") != NULL;
	int64_t ii = attr_i(n, "ignore_index", 0);
	double *v = val_to_f64(cx->scratch, x), *w = in[2] ? val_to_f64(cx->scratch, in[2]) : NULL;
	int64_t *t = val_to_i64(cx->scratch, in[1]);
	double sum = 0, wsum = 0;
	LossRed r = LR_MEAN;

	if (!v || !t || (in[2] && !w))
		return eval_oom(cx, n);
	TRY(loss_reduction(cx->g, n, &r));
	for (int d = 2; d < x->rank; d++)
		D *= x->dims[d];
	if (n->op == OP_SoftmaxCrossEntropyLoss) {
		log_softmax(v, N, C, D);
		if (out[1])
			val_from_f64(out[1], v);
	}
	for (int64_t i = 0; i < N * D; i++) {
		int64_t k = t[i], b = i / D, d = i % D;
		double wk, l;

		if (ignore && k == ii)
			continue;   /* l = w = 0; out[0] arrived zeroed */
		if (k < 0 || k >= C)
			return node_error(cx->g, n, ST_INVALID, "target %lld at position %lld is outside "
			                  "[0, %lld) and is not ignore_index", (long long)k, (long long)i,
			                  (long long)C);
		wk = w ? w[k] : 1;
		l = -wk * v[(b * C + k) * D + d];
		if (r == LR_NONE)
			val_set_f64(out[0], i, l);
		sum += l;
		wsum += wk;
	}
	if (r != LR_NONE)
		val_set_f64(out[0], 0, r == LR_MEAN ? sum / wsum : sum);
	return ST_OK;
}

const OpImpl op_impl_NegativeLogLikelihoodLoss = {loss_infer, loss_eval, NULL};
const OpImpl op_impl_SoftmaxCrossEntropyLoss = {loss_infer, loss_eval, NULL};
