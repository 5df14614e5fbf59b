/*
 * Reference kernels of the ops indexed by run-time tensors:
 * GatherElements, GatherND, ScatterElements (and its older name Scatter),
 * ScatterND and OneHot.
 *
 * Indices are int32 or int64, negative ones count from the end of their
 * axis; an index outside its axis is an error at run time (ST_INVALID
 * naming the node), never a read or write outside the tensor.  The
 * scatters copy the data, then apply the updates in index order with
 * their `reduction`: none (the last write wins), add, mul, max or min,
 * in double for floats and in 64 bits (wrapping) for integers.
 * Elements move bit for bit otherwise.
 */
#include <math.h>
#include <string.h>

#include "op.h"

#define DTM_INDEX (DTM(I32) | DTM(I64))

typedef enum ScatRed { SR_NONE, SR_ADD, SR_MUL, SR_MAX, SR_MIN } ScatRed;

static const Value *in_val(Graph *g, const Node *n, int i)
{
	const Tensor *t = node_in(g, n, i);

	return t ? &t->v : NULL;
}

static Status check_axis(Graph *g, const Node *n, int rank, int64_t *axis)
{
	int64_t def = n->op == OP_OneHot ? -1 : 0;

	*axis = attr_i(n, "axis", def);
	if (!norm_axis(axis, rank))
		return node_error(g, n, ST_INVALID, "axis %lld is out of range for rank %d",
		                  (long long)attr_i(n, "axis", def), rank);
	return ST_OK;
}

/* Index i of indices normalized against a dimension of size dim. */
static Status index_at(EvalCtx *cx, const Node *n, const Value *ind, int64_t i, int64_t dim,
                       int64_t *k)
{
	*k = val_get_i64(ind, i);
	if (*k < -dim || *k >= dim)
		return node_error(cx->g, n, ST_INVALID, "index %lld is out of range for a dimension "
		                  "of size %lld", (long long)*k, (long long)dim);
	if (*k < 0)
		*k += dim;
	return ST_OK;
}

static void copy_elem(Value *dst, int64_t i, const Value *src, int64_t j)
{
	size_t es = (size_t)dtype_size(dst->dt);

	memcpy((char *)dst->data + (size_t)i * es, (const char *)src->data + (size_t)j * es, es);
}

/* The flat offset into v of the multi-index idx (v's rank). */
static int64_t flat(const Value *v, const int64_t *idx)
{
	int64_t off = 0;

	for (int d = 0; d < v->rank; d++)
		off = off * v->dims[d] + idx[d];
	return off;
}

/* idx to the next row-major position over dims[0..rank). */
static void next_index(int64_t *idx, const int64_t *dims, int rank)
{
	for (int d = rank - 1; d >= 0; d--) {
		if (++idx[d] < dims[d])
			return;
		idx[d] = 0;
	}
}

/* dst[i] (red)= src[j]. */
static void combine(ScatRed r, Value *dst, int64_t i, const Value *src, int64_t j)
{
	if (r == SR_NONE) {
		copy_elem(dst, i, src, j);
	} else if (dtype_is_float(dst->dt)) {
		double a = val_get_f64(dst, i), b = val_get_f64(src, j);

		val_set_f64(dst, i, r == SR_ADD ? a + b : r == SR_MUL ? a * b
		                    : r == SR_MAX ? (isnan(a) || a > b ? a : b) : (isnan(a) || a < b ? a : b));
	} else {
		int64_t a = val_get_i64(dst, i), b = val_get_i64(src, j);
		bool uns = !dtype_is_signed(dst->dt), gt = uns ? (uint64_t)a > (uint64_t)b : a > b;

		val_set_i64(dst, i, r == SR_ADD ? (int64_t)((uint64_t)a + (uint64_t)b)
		                    : r == SR_MUL ? (int64_t)((uint64_t)a * (uint64_t)b)
		                    : r == SR_MAX ? (gt ? a : b) : (gt ? b : a));
	}
}

static Status scatter_reduction(Graph *g, const Node *n, ScatRed *r)
{
	static const char *const names[] = {"none", "add", "mul", "max", "min"};
	const char *s = attr_s(n, "reduction", "none");

	for (int i = 0; i < (int)ARRAY_LEN(names); i++)
		if (strcmp(s, names[i]) == 0) {
			*r = (ScatRed)i;
			return ST_OK;
		}
	return node_error(g, n, ST_INVALID, "reduction '%s' is not none, add, mul, max or min", s);
}

/*
 * GatherElements: Y[i] = data[i with axis coordinate indices[i]].
 * ScatterElements: output = data, then output[i with axis coordinate
 * indices[i]] (red)= updates[i].
 */

static Status elements_infer(Graph *g, Node *n)
{
	bool scatter = n->op != OP_GatherElements;
	const Value *x, *ind;
	int64_t axis;
	ScatRed r;

	TRY(infer_nin(g, n, scatter ? 3 : 2, scatter ? 3 : 2));
	TRY(infer_dtype(g, n, 0, DTM_ALL));
	TRY(infer_dtype(g, n, 1, DTM_INDEX));
	x = in_val(g, n, 0);
	ind = in_val(g, n, 1);
	TRY(check_axis(g, n, x->rank, &axis));
	if (ind->rank != x->rank)
		return node_error(g, n, ST_INVALID, "indices have rank %d, data %d", ind->rank, x->rank);
	for (int d = 0; d < x->rank; d++)
		if (d != axis && ind->dims[d] > x->dims[d])
			return node_error(g, n, ST_INVALID, "indices' dimension %d (%lld) is larger than "
			                  "data's (%lld)", d, (long long)ind->dims[d], (long long)x->dims[d]);
	if (!scatter) {
		infer_out(g, n, 0, x->dt, ind->rank, ind->dims);
		return ST_OK;
	}
	TRY(scatter_reduction(g, n, &r));
	if (in_val(g, n, 2)->dt != x->dt || !val_same_shape(in_val(g, n, 2), ind))
		return node_error(g, n, ST_INVALID, "updates must have data's type and indices' shape");
	return infer_same(g, n);
}

static Status elements_eval(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out)
{
	bool scatter = n->op != OP_GatherElements;
	const Value *x = in[0], *ind = in[1];
	int64_t idx[MAX_RANK] = {0}, axis, count = val_numel(ind);
	ScatRed r = SR_NONE;

	TRY(check_axis(cx->g, n, x->rank, &axis));
	if (scatter) {
		TRY(scatter_reduction(cx->g, n, &r));
		memcpy(out[0]->data, x->data, (size_t)val_bytes(x));
	}
	for (int64_t i = 0; i < count; i++, next_index(idx, ind->dims, ind->rank)) {
		int64_t at[MAX_RANK], k;

		TRY(index_at(cx, n, ind, i, x->dims[axis], &k));
		memcpy(at, idx, sizeof(at));
		at[axis] = k;
		if (scatter)
			combine(r, out[0], flat(x, at), in[2], i);
		else
			copy_elem(out[0], i, x, flat(x, at));
	}
	return ST_OK;
}

const OpImpl op_impl_GatherElements = {elements_infer, elements_eval, NULL};
const OpImpl op_impl_ScatterElements = {elements_infer, elements_eval, NULL};
const OpImpl op_impl_Scatter = {elements_infer, elements_eval, NULL};

/*
 * GatherND and ScatterND: the last axis of indices (length q) addresses
 * data's axes batch_dims .. batch_dims+q-1; each index tuple selects a
 * slice of the remaining axes.  Y = indices.shape[:-1] + data.shape[b+q:].
 */

typedef struct NdPlan {
	int64_t batch;       /* batch_dims */
	int64_t q;           /* length of an index tuple */
	int64_t tuples;      /* index tuples in all */
	int64_t per_batch;   /* tuples per batch element */
	int64_t slice;       /* elements of one selected slice */
	int64_t batch_size;  /* elements of data per batch element */
} NdPlan;

static Status nd_plan(Graph *g, const Node *n, const Value *x, const Value *ind, NdPlan *p)
{
	p->batch = n->op == OP_GatherND ? attr_i(n, "batch_dims", 0) : 0;
	if (ind->rank < 1)
		return node_error(g, n, ST_INVALID, "indices must have rank >= 1");
	p->q = ind->dims[ind->rank - 1];
	if (p->batch < 0 || p->batch >= ind->rank || p->batch >= x->rank)
		return node_error(g, n, ST_INVALID, "batch_dims %lld does not fit the ranks",
		                  (long long)p->batch);
	if (p->q < 1 || p->q > x->rank - p->batch)
		return node_error(g, n, ST_INVALID, "index tuples of length %lld do not fit data of rank %d",
		                  (long long)p->q, x->rank);
	for (int d = 0; d < p->batch; d++)
		if (ind->dims[d] != x->dims[d])
			return node_error(g, n, ST_INVALID, "batch dimension %d differs", d);
	p->tuples = val_numel(ind) / (p->q ? p->q : 1);
	p->slice = 1;
	for (int d = (int)(p->batch + p->q); d < x->rank; d++)
		p->slice *= x->dims[d];
	p->batch_size = 1;
	p->per_batch = p->tuples;
	for (int d = (int)p->batch; d < x->rank; d++)
		p->batch_size *= x->dims[d];
	for (int d = 0; d < p->batch; d++)
		p->per_batch /= x->dims[d] ? x->dims[d] : 1;
	return ST_OK;
}

/* The shape of GatherND's output (and of ScatterND's updates). */
static Status nd_out_shape(Graph *g, const Node *n, const Value *x, const Value *ind,
                           const NdPlan *p, int *rank, int64_t *dims)
{
	*rank = ind->rank - 1 + x->rank - (int)(p->batch + p->q);
	if (*rank > MAX_RANK)
		return node_error(g, n, ST_UNSUPPORTED, "output rank %d is above %d", *rank, MAX_RANK);
	for (int d = 0; d < ind->rank - 1; d++)
		dims[d] = ind->dims[d];
	for (int d = (int)(p->batch + p->q); d < x->rank; d++)
		dims[ind->rank - 1 + d - (p->batch + p->q)] = x->dims[d];
	return ST_OK;
}

static Status nd_infer(Graph *g, Node *n)
{
	bool scatter = n->op == OP_ScatterND;
	const Value *x, *ind;
	int64_t dims[2 * MAX_RANK];
	int rank;
	NdPlan p;
	ScatRed r;

	TRY(infer_nin(g, n, scatter ? 3 : 2, scatter ? 3 : 2));
	TRY(infer_dtype(g, n, 0, DTM_ALL));
	TRY(infer_dtype(g, n, 1, DTM(I64)));
	x = in_val(g, n, 0);
	ind = in_val(g, n, 1);
	TRY(nd_plan(g, n, x, ind, &p));
	TRY(nd_out_shape(g, n, x, ind, &p, &rank, dims));
	if (!scatter) {
		infer_out(g, n, 0, x->dt, rank, dims);
		return ST_OK;
	}
	TRY(scatter_reduction(g, n, &r));
	{
		Value u;

		val_set_type(&u, x->dt, rank, dims);
		if (in_val(g, n, 2)->dt != x->dt || !val_same_shape(in_val(g, n, 2), &u))
			return node_error(g, n, ST_INVALID, "updates must have data's type and shape "
			                  "indices.shape[:-1] + data.shape[q:]");
	}
	return infer_same(g, n);
}

/* The data offset of index tuple t (in batch element b). */
static Status nd_offset(EvalCtx *cx, const Node *n, const Value *x, const Value *ind,
                        const NdPlan *p, int64_t t, int64_t *off)
{
	int64_t b = t / (p->per_batch ? p->per_batch : 1), o = 0;

	for (int64_t j = 0; j < p->q; j++) {
		int64_t k, dim = x->dims[p->batch + j];

		TRY(index_at(cx, n, ind, t * p->q + j, dim, &k));
		o = o * dim + k;
	}
	*off = b * p->batch_size + o * p->slice;
	return ST_OK;
}

static Status nd_eval(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out)
{
	bool scatter = n->op == OP_ScatterND;
	const Value *x = in[0], *ind = in[1];
	ScatRed r = SR_NONE;
	NdPlan p;

	TRY(nd_plan(cx->g, n, x, ind, &p));
	if (scatter) {
		TRY(scatter_reduction(cx->g, n, &r));
		memcpy(out[0]->data, x->data, (size_t)val_bytes(x));
	}
	for (int64_t t = 0; t < p.tuples; t++) {
		int64_t off;

		TRY(nd_offset(cx, n, x, ind, &p, t, &off));
		for (int64_t e = 0; e < p.slice; e++)
			if (scatter)
				combine(r, out[0], off + e, in[2], t * p.slice + e);
			else
				copy_elem(out[0], t * p.slice + e, x, off + e);
	}
	return ST_OK;
}

const OpImpl op_impl_GatherND = {nd_infer, nd_eval, NULL};
const OpImpl op_impl_ScatterND = {nd_infer, nd_eval, NULL};

/*
 * OneHot: Y = indices' shape with a new axis of size depth (a constant)
 * at `axis`; on where the coordinate along it equals the index (negative
 * indices count from depth), off elsewhere; values = [off, on].
 */

static Status onehot_depth(Graph *g, const Node *n, int64_t *depth)
{
	const Tensor *t = node_in(g, n, 1);
	double d;

	if (val_numel(&t->v) != 1)
		return node_error(g, n, ST_INVALID, "depth must be a scalar");
	if (!t->v.data)
		return node_error(g, n, ST_UNSUPPORTED, "depth '%s' is computed at run time; nnac "
		                  "needs it to be a constant (the output shape depends on it)", t->name);
	d = val_get_f64(&t->v, 0);
	if (!(d >= 1 && d <= (double)VAL_MAX_BYTES))
		return node_error(g, n, ST_INVALID, "depth %g is not a positive size", d);
	*depth = (int64_t)d;
	return ST_OK;
}

static Status onehot_infer(Graph *g, Node *n)
{
	const Value *ind;
	int64_t depth = 0, axis, dims[MAX_RANK];
	int rank;

	TRY(infer_nin(g, n, 3, 3));
	TRY(infer_dtype(g, n, 0, DTM_NUM));
	TRY(infer_dtype(g, n, 1, DTM_NUM));
	TRY(infer_dtype(g, n, 2, DTM_ALL));
	ind = in_val(g, n, 0);
	if (val_numel(in_val(g, n, 2)) != 2)
		return node_error(g, n, ST_INVALID, "values must hold two elements [off, on]");
	if (ind->rank + 1 > MAX_RANK)
		return node_error(g, n, ST_UNSUPPORTED, "output rank %d is above %d", ind->rank + 1, MAX_RANK);
	TRY(onehot_depth(g, n, &depth));
	rank = ind->rank + 1;
	TRY(check_axis(g, n, rank, &axis));
	for (int d = 0, k = 0; d < rank; d++)
		dims[d] = d == axis ? depth : ind->dims[k++];
	{
		Value y;
		char type[160], budget[BUDGET_STR];

		val_set_type(&y, in_val(g, n, 2)->dt, rank, dims);
		if (!val_size_ok(&y))
			return node_error(g, n, ST_UNSUPPORTED, "output of type %s is larger than %s",
			                  val_type_str(&y, type, sizeof(type)), budget_memory_str(budget));
	}
	infer_out(g, n, 0, in_val(g, n, 2)->dt, rank, dims);
	return ST_OK;
}

static Status onehot_eval(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out)
{
	const Value *y = out[0];
	int64_t axis, depth, inner, outer;

	TRY(check_axis(cx->g, n, y->rank, &axis));
	depth = y->dims[axis];
	val_split_at(y, axis, &outer, &inner);
	for (int64_t o = 0; o < outer; o++)
		for (int64_t s = 0; s < inner; s++) {
			double v = val_get_f64(in[0], o * inner + s);
			int64_t k = -1;

			if (v > -(double)depth - 1 && v < (double)depth) {
				k = (int64_t)v;
				k += k < 0 ? depth : 0;
			}

			for (int64_t j = 0; j < depth; j++)
				copy_elem(out[0], (o * depth + j) * inner + s, in[2], j == k ? 1 : 0);
		}
	return ST_OK;
}

const OpImpl op_impl_OneHot = {onehot_infer, onehot_eval, NULL};
