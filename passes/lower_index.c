/*
 * Lowering of the ops indexed by tensors known only at run time: Gather
 * with computed indices (every embedding lookup of token ids),
 * GatherElements, GatherND, ScatterElements (and Scatter, its older name)
 * and ScatterND.
 *
 * Each becomes one copy nest whose reference takes a loaded index
 * (docs/loopir.md, "Loaded indices") along the indexed axes: the loop IR
 * checks every loaded value when it runs, wrapping a negative one once
 * and stopping the run on one still outside its axis, as the graph
 * interpreter (ir/interp/scatter.c, movement.c) does.  A scatter copies
 * the data into the output first, then runs its updates in index order,
 * `copy` for reduction none (the last write wins) and `reduce` sum, prod,
 * max or min otherwise, which combine in the interpreter's order and
 * arithmetic.  Gather with constant indices keeps its affine runs
 * (lower_gather, passes/lower_move.c): faster and checked at compile time.
 * Constant index tables of the other ops are checked here, at compile time,
 * before they become loads.
 */
#include "lower.h"

#include <string.h>

#include "interp/movement.h"

/* Whether the product of dims[0..rank) is zero: nothing to copy. */
static bool empty(int rank, const int64_t *dims)
{
	for (int d = 0; d < rank; d++)
		if (dims[d] == 0)
			return true;
	return false;
}

/*
 * A constant index table t: element i indexes a dimension of size
 * dims[i % q]; an index outside [-dim, dim) is the model's error, found
 * now.  Computed indices are checked when they are loaded.
 */
static Status const_indices(LowerCx *cx, const Node *n, const Tensor *t, int64_t q,
                            const int64_t *dims)
{
	int64_t count = val_numel(&t->v);

	for (int64_t i = 0; t->v.data && i < count; i++) {
		int64_t k = val_get_i64(&t->v, i), dim = dims[i % q];

		if (k < -dim || k >= dim)
			return node_error(cx->g, n, ST_INVALID, "index %lld (element %lld of '%s') is out of "
			                  "range for a dimension of size %lld", (long long)k, (long long)i,
			                  t->name, (long long)dim);
	}
	return ST_OK;
}

/* The load ids[v[0], ..., v[rank-1]] of an index buffer. */
static int load_at(LowerCx *cx, int ids, const int *v)
{
	return loop_load(cx->p, ids, cx->p->bufs[ids].rank, v);
}

/*
 * Gather with computed indices: Y[a, j..., b] = X[a, I[j...], b], Y's
 * dimensions X's before the axis, then I's, then X's after it.
 */
Status lower_gather_loaded(LowerCx *cx, const Node *n)
{
	int x = lower_buf(cx, n->in[0]), ids = lower_buf(cx, n->in[1]), y = lower_out(cx, n, 0);
	int64_t xd[MAX_RANK], yd[MAX_RANK], axis;
	int rank = lower_buf_shape(cx, x, xd), yrank = lower_buf_shape(cx, y, yd);
	int m = cx->p->bufs[ids].rank, v[MAX_RANK], sidx[MAX_RANK], in;

	TRY(move_gather_axis(cx->g, n, rank, &axis));
	if (empty(yrank, yd))
		return ST_OK;
	in = lower_elem_nest(cx, yrank, yd, NULL, v);
	for (int d = 0; d < rank; d++)
		sidx[d] = d < axis ? v[d] : d == axis ? load_at(cx, ids, v + axis) : v[d + m - 1];
	lower_emit2(cx, in, LN_COPY, lower_ref(cx, y, v), lower_ref(cx, x, sidx));
	return loop_oom(cx->p);
}

/* Scatter reductions: none copies, the others reduce. */
static Status scatter_stmt(LowerCx *cx, const Node *n, LoopNodeKind *kind, LoopReduce *red)
{
	static const char *const names[] = {"add", "mul", "max", "min"};
	static const LoopReduce reds[] = {LR_SUM, LR_PROD, LR_MAX, LR_MIN};
	const char *s = attr_s(n, "reduction", "none");

	*kind = LN_COPY;
	*red = LR_SUM;
	if (strcmp(s, "none") == 0)
		return ST_OK;
	for (int i = 0; i < (int)ARRAY_LEN(names); i++)
		if (strcmp(s, names[i]) == 0) {
			*kind = LN_REDUCE;
			*red = reds[i];
			return ST_OK;
		}
	return node_error(cx->g, n, ST_INVALID, "reduction '%s' is not none, add, mul, max or min", s);
}

/* out[to] (red)= updates[from] under parent. */
static void scatter_emit(LowerCx *cx, int parent, LoopNodeKind kind, LoopReduce red, LoopArg to,
                         LoopArg from)
{
	int s = lower_emit2(cx, parent, kind, to, from);

	if (s >= 0 && kind == LN_REDUCE)
		cx->p->nodes[s].red = red;
}

/*
 * GatherElements: Y[i] = X[i with its axis coordinate I[i]].
 * ScatterElements, Scatter: Y = X, then Y[i with axis coordinate I[i]]
 * (red)= U[i] for every i of I in order.
 */
Status lower_elements(LowerCx *cx, const Node *n)
{
	bool scatter = n->op != OP_GatherElements;
	int x = lower_buf(cx, n->in[0]), ids = lower_buf(cx, n->in[1]), y = lower_out(cx, n, 0);
	int64_t xd[MAX_RANK], id[MAX_RANK], axis;
	int rank = lower_buf_shape(cx, x, xd), v[MAX_RANK], at[MAX_RANK], in;
	LoopNodeKind kind = LN_COPY;
	LoopReduce red = LR_SUM;

	lower_buf_shape(cx, ids, id);
	axis = attr_i(n, "axis", 0);
	if (!norm_axis(&axis, rank))
		return node_error(cx->g, n, ST_INVALID, "axis %lld is out of range for rank %d",
		                  (long long)attr_i(n, "axis", 0), rank);
	TRY(const_indices(cx, n, node_in(cx->g, n, 1), 1, &xd[axis]));
	if (scatter) {
		TRY(scatter_stmt(cx, n, &kind, &red));
		if (y != x)
			lower_copy_all(cx, -1, y, x);
	}
	if (empty(rank, id))
		return loop_oom(cx->p);
	in = lower_elem_nest(cx, rank, id, NULL, v);
	memcpy(at, v, sizeof(at));
	at[axis] = load_at(cx, ids, v);
	if (scatter)
		scatter_emit(cx, in, kind, red, lower_ref(cx, y, at), lower_ref(cx, lower_buf(cx, n->in[2]), v));
	else
		lower_emit2(cx, in, LN_COPY, lower_ref(cx, y, v), lower_ref(cx, x, at));
	return loop_oom(cx->p);
}

/*
 * GatherND: the last axis of I (length q) holds index tuples into X's axes
 * b .. b+q-1 (b = batch_dims); Y[j..., s...] = X[j[0..b), I[j..., 0..q), s...],
 * Y's dimensions I's but the last, then X's after b+q.
 * ScatterND (b = 0): Y = X, then Y[I[j..., 0..q), s...] (red)= U[j..., s...]
 * for every tuple j in order.
 */
Status lower_nd(LowerCx *cx, const Node *n)
{
	bool scatter = n->op == OP_ScatterND;
	int x = lower_buf(cx, n->in[0]), ids = lower_buf(cx, n->in[1]), y = lower_out(cx, n, 0);
	int u = scatter ? lower_buf(cx, n->in[2]) : y;
	int64_t xd[MAX_RANK], id[MAX_RANK], ud[MAX_RANK], b, q;
	int rank = lower_buf_shape(cx, x, xd), irank = lower_buf_shape(cx, ids, id);
	int urank = lower_buf_shape(cx, u, ud), v[MAX_RANK], tup[MAX_RANK], at[MAX_RANK], in;
	LoopNodeKind kind = LN_COPY;
	LoopReduce red = LR_SUM;

	b = scatter ? 0 : attr_i(n, "batch_dims", 0);
	q = irank >= 1 ? id[irank - 1] : 0;
	if (irank < 1 || b < 0 || b >= irank || q < 1 || b + q > rank)
		return node_error(cx->g, n, ST_INVALID, "index tuples of length %lld with batch_dims "
		                  "%lld do not fit data of rank %d", (long long)q, (long long)b, rank);
	TRY(const_indices(cx, n, node_in(cx->g, n, 1), q, xd + b));
	if (scatter) {
		TRY(scatter_stmt(cx, n, &kind, &red));
		if (y != x)
			lower_copy_all(cx, -1, y, x);
	}
	if (empty(urank, ud))
		return loop_oom(cx->p);
	in = lower_elem_nest(cx, urank, ud, NULL, v);
	memcpy(tup, v, sizeof(tup));
	for (int d = 0; d < rank; d++) {
		if (d < b) {
			at[d] = v[d];
		} else if (d < b + q) {
			tup[irank - 1] = loop_const(cx->p, d - b);
			at[d] = load_at(cx, ids, tup);
		} else {
			at[d] = v[irank - 1 + d - (b + q)];
		}
	}
	if (scatter)
		scatter_emit(cx, in, kind, red, lower_ref(cx, y, at), lower_ref(cx, u, v));
	else
		lower_emit2(cx, in, LN_COPY, lower_ref(cx, y, v), lower_ref(cx, x, at));
	return loop_oom(cx->p);
}
