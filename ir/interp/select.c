/*
 * Reference kernels of the ops whose output shape depends on a value:
 * TopK (on k) and NonZero (on the data).  nnac compiles for static shapes,
 * so that value must be a constant at shape inference (a graph input the
 * caller binds counts: passes/specialize.c); a value computed at run time
 * is refused as unsupported.
 *
 * TopK orders elements by value, NaN above everything as NumPy sorts it,
 * equal values by lower index (the spec's tie rule); its output is always
 * sorted, which sorted=0 (order unspecified) allows.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "op.h"

static Status topk_axis(Graph *g, const Node *n, int rank, int64_t *axis)
{
	*axis = attr_i(n, "axis", -1);
	if (!norm_axis(axis, rank))
		return node_error(g, n, ST_INVALID, "axis %lld is out of range for rank %d",
		                  (long long)attr_i(n, "axis", -1), rank);
	return ST_OK;
}

/* k: the attribute before opset 10, the constant input K from then on. */
static Status topk_k(Graph *g, const Node *n, int64_t *k)
{
	const Tensor *t;

	if (g->opset < 10) {
		if (!attr_find(n, "k"))
			return node_error(g, n, ST_INVALID, "attribute 'k' is required before opset 10");
		*k = attr_i(n, "k", 0);
		return ST_OK;
	}
	if (attr_find(n, "k"))
		return node_error(g, n, ST_INVALID, "attribute 'k' became input K in opset 10");
	t = node_in(g, n, 1);
	if (!t)
		return node_error(g, n, ST_INVALID, "input K is required from opset 10");
	if (val_numel(&t->v) != 1 || t->v.rank > 1)
		return node_error(g, n, ST_INVALID, "K must hold a single value");
	if (!t->v.data)
		return node_error(g, n, ST_UNSUPPORTED, "K '%s' is computed at run time; nnac needs it "
		                  "to be a constant (the output shape depends on it)", t->name);
	*k = val_get_i64(&t->v, 0);
	return ST_OK;
}

static Status topk_infer(Graph *g, Node *n)
{
	const Value *x;
	int64_t axis, k = 0, dims[MAX_RANK];

	TRY(infer_nin(g, n, g->opset < 10 ? 1 : 2, g->opset < 10 ? 1 : 2));
	TRY(infer_dtype(g, n, 0, DTM_NUM));
	if (g->opset >= 10)
		TRY(infer_dtype(g, n, 1, DTM(I64)));
	if (g->opset < 11 && (attr_find(n, "largest") || attr_find(n, "sorted")))
		return node_error(g, n, ST_INVALID, "attributes 'largest' and 'sorted' came in opset 11");
	x = &node_in(g, n, 0)->v;
	TRY(topk_axis(g, n, x->rank, &axis));
	TRY(topk_k(g, n, &k));
	if (k < 0 || k > x->dims[axis])
		return node_error(g, n, ST_INVALID, "k = %lld is outside [0, %lld], the size of axis %lld",
		                  (long long)k, (long long)x->dims[axis], (long long)axis);
	memcpy(dims, x->dims, sizeof(dims));
	dims[axis] = k;
	infer_out(g, n, 0, x->dt, x->rank, dims);
	infer_out(g, n, 1, DT_I64, x->rank, dims);
	return ST_OK;
}

/* An element's sort key: signed order on key is the order of values. */
typedef struct TopKey {
	int64_t key;
	int64_t idx;
} TopKey;

/* A double's bits made to order as the value does: -0 as +0, any NaN
 * above +inf. */
static int64_t float_key(double v)
{
	uint64_t u;

	if (v == 0)
		v = 0;
	if (isnan(v))
		v = NAN;
	memcpy(&u, &v, sizeof(u));
	u = (u >> 63) ? ~u : u | (UINT64_C(1) << 63);
	return (int64_t)(u ^ (UINT64_C(1) << 63));
}

/* Element i of x as a key; ~ reverses the order for `largest`. */
static int64_t topk_key(const Value *x, int64_t i, bool largest)
{
	int64_t key;

	if (dtype_is_float(x->dt))
		key = float_key(val_get_f64(x, i));
	else if (x->dt == DT_U64)
		key = (int64_t)((uint64_t)val_get_i64(x, i) ^ (UINT64_C(1) << 63));
	else
		key = val_get_i64(x, i);
	return largest ? ~key : key;
}

static int topkey_cmp(const void *pa, const void *pb)
{
	const TopKey *a = pa, *b = pb;

	if (a->key != b->key)
		return a->key < b->key ? -1 : 1;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static Status topk_eval(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out)
{
	const Value *x = in[0];
	bool largest = attr_i(n, "largest", 1) != 0;
	size_t es = (size_t)dtype_size(x->dt);
	int64_t axis, len, k, inner = 1, outer = 1;
	TopKey *row;

	TRY(topk_axis(cx->g, n, x->rank, &axis));
	len = x->dims[axis];
	k = out[0]->dims[axis];
	for (int d = 0; d < x->rank; d++) {
		if (d < axis)
			outer *= x->dims[d];
		else if (d > axis)
			inner *= x->dims[d];
	}
	row = arena_alloc(cx->scratch, (size_t)len * sizeof(*row));
	if (!row)
		return eval_oom(cx, n);
	for (int64_t o = 0; o < outer; o++)
		for (int64_t s = 0; s < inner; s++) {
			for (int64_t j = 0; j < len; j++) {
				row[j].key = topk_key(x, (o * len + j) * inner + s, largest);
				row[j].idx = j;
			}
			qsort(row, (size_t)len, sizeof(*row), topkey_cmp);
			for (int64_t j = 0; j < k; j++) {
				int64_t dst = (o * k + j) * inner + s, src = (o * len + row[j].idx) * inner + s;

				memcpy((char *)out[0]->data + (size_t)dst * es,
				       (const char *)x->data + (size_t)src * es, es);
				((int64_t *)out[1]->data)[dst] = row[j].idx;
			}
		}
	return ST_OK;
}

const OpImpl op_impl_TopK = {topk_infer, topk_eval, NULL};

/*
 * NonZero: Y[d, j] = coordinate d of the j-th nonzero element of X in
 * row-major order; Y is [rank, count] ([0, count] for a scalar, as the
 * reference does).  NaN counts as nonzero.
 */

static int64_t nonzero_count(const Value *x)
{
	int64_t count = 0;

	for (int64_t i = 0; i < val_numel(x); i++)
		count += val_get_f64(x, i) != 0;
	return count;
}

static Status nonzero_infer(Graph *g, Node *n)
{
	const Tensor *t;
	int64_t dims[2];

	TRY(infer_nin(g, n, 1, 1));
	TRY(infer_dtype(g, n, 0, DTM_ALL));
	t = node_in(g, n, 0);
	if (!t->v.data)
		return node_error(g, n, ST_UNSUPPORTED, "output shape depends on the input's values; "
		                  "nnac needs '%s' to be a constant", t->name);
	dims[0] = t->v.rank;
	dims[1] = nonzero_count(&t->v);
	infer_out(g, n, 0, DT_I64, 2, dims);
	return ST_OK;
}

static Status nonzero_eval(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out)
{
	const Value *x = in[0];
	int64_t count = out[0]->dims[1], j = 0, strides[MAX_RANK];
	int64_t *y = out[0]->data;

	if (nonzero_count(x) != count)
		return node_error(cx->g, n, ST_INVALID, "input has %lld nonzero elements, not the %lld "
		                  "of the constant the output shape was computed from",
		                  (long long)nonzero_count(x), (long long)count);
	val_strides(x, strides);
	for (int64_t i = 0; i < val_numel(x); i++) {
		if (val_get_f64(x, i) == 0)
			continue;
		for (int d = 0; d < x->rank; d++)
			y[d * count + j] = i / strides[d] % x->dims[d];
		j++;
	}
	return ST_OK;
}

const OpImpl op_impl_NonZero = {nonzero_infer, nonzero_eval, NULL};
