/*
 * Reference kernels of the ops that make or rearrange tensors by index
 * arithmetic: Expand, Tile, Range, Size, EyeLike, Trilu, CumSum, CumProd,
 * DepthToSpace and SpaceToDepth.
 *
 * Every output size computed from attributes or constant inputs (Tile's
 * repeats, Range's count, Expand's shape) is checked arithmetic and is
 * compared with the memory budget before anything is allocated.  Range
 * and Size depend only on constants and static shapes, so their outputs
 * are constants as soon as they are inferred (as Shape's are): no backend
 * ever computes them.  The planning the loop lowering shares (Trilu's
 * offset, CumSum's axis, the block geometry of DepthToSpace and
 * SpaceToDepth) is declared in generate.h.
 */
#include <math.h>
#include <string.h>

#include "checked.h"
#include "generate.h"

static const Value *in_val(Graph *g, const Node *n, int i)
{
	const Tensor *t = node_in(g, n, i);

	return t ? &t->v : NULL;
}

/* "output 'y' of type T is larger than the budget", before any allocation. */
static Status check_size(Graph *g, const Node *n, const Value *v)
{
	char type[160], budget[BUDGET_STR];

	if (val_size_ok(v))
		return ST_OK;
	return node_error(g, n, ST_UNSUPPORTED, "output of type %s is larger than %s",
	                  val_type_str(v, type, sizeof(type)), budget_memory_str(budget));
}

/* Sets output 0 to (dt, rank, dims) after checking its size. */
static Status sized_out(Graph *g, const Node *n, DType dt, int rank, const int64_t *dims)
{
	Value v;

	val_set_type(&v, dt, rank, dims);
	TRY(check_size(g, n, &v));
	infer_out(g, n, 0, dt, rank, dims);
	return ST_OK;
}

/* Zeroed data for output 0's tensor in the graph arena (a constant). */
static Status const_out(Graph *g, const Node *n, Value **v)
{
	Tensor *t = node_out(g, n, 0);
	int64_t bytes;

	*v = NULL;
	if (!t)
		return ST_OK;
	bytes = val_bytes(&t->v);
	t->v.data = arena_alloc(&g->arena, (size_t)(bytes > 0 ? bytes : 1));
	if (!t->v.data)
		return graph_oom(g);
	memset(t->v.data, 0, (size_t)(bytes > 0 ? bytes : 1));
	*v = &t->v;
	return ST_OK;
}

/* For every element of out (row-major), the offset of the element of x
 * whose index is out's taken modulo x's dims (x of out's rank). */
static void modulo_copy(const Value *x, Value *out)
{
	int64_t idx[MAX_RANK] = {0}, xs[MAX_RANK], numel = val_numel(out);
	size_t es = (size_t)dtype_size(x->dt);

	val_strides(x, xs);
	for (int64_t k = 0; k < numel; k++) {
		int64_t off = 0;

		for (int d = 0; d < out->rank; d++)
			off += (idx[d] % x->dims[d]) * xs[d];
		memcpy((char *)out->data + (size_t)k * es, (const char *)x->data + (size_t)off * es, es);
		for (int d = out->rank - 1; d >= 0; d--) {
			if (++idx[d] < out->dims[d])
				break;
			idx[d] = 0;
		}
	}
}

/*
 * Expand: X broadcast (NumPy rules, both ways) with the constant shape.
 */

Status gen_expand_shape(Graph *g, const Node *n, Value *y)
{
	const Value *x = in_val(g, n, 0);
	int64_t *shape, dims[MAX_RANK];
	int count, rank;

	TRY(infer_const_ints(g, n, 1, &shape, &count));
	if (count > MAX_RANK)
		return node_error(g, n, ST_UNSUPPORTED, "shape has %d dimensions, nnac allows %d",
		                  count, MAX_RANK);
	rank = count > x->rank ? count : x->rank;
	for (int d = 0; d < rank; d++) {
		int64_t a = d - (rank - x->rank) >= 0 ? x->dims[d - (rank - x->rank)] : 1;
		int64_t b = d - (rank - count) >= 0 ? shape[d - (rank - count)] : 1;

		if (b < 0)
			return node_error(g, n, ST_INVALID, "shape has the negative dimension %lld",
			                  (long long)b);
		if (a != b && a != 1 && b != 1)
			return node_error(g, n, ST_INVALID, "cannot broadcast dimension %lld of the input "
			                  "to %lld", (long long)a, (long long)b);
		dims[d] = a == 1 ? b : a;
	}
	val_set_type(y, x->dt, rank, dims);
	return ST_OK;
}

static Status expand_infer(Graph *g, Node *n)
{
	Value y;

	TRY(infer_nin(g, n, 2, 2));
	TRY(infer_dtype(g, n, 0, DTM_ALL));
	TRY(infer_dtype(g, n, 1, DTM(I64)));
	TRY(gen_expand_shape(g, n, &y));
	return sized_out(g, n, y.dt, y.rank, y.dims);
}

static Status expand_eval(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out)
{
	int64_t *offs = arena_alloc(cx->scratch, (size_t)(val_numel(out[0]) + 1) * sizeof(int64_t));
	size_t es = (size_t)dtype_size(in[0]->dt);

	if (!offs)
		return eval_oom(cx, n);
	bcast_offsets(out[0], in[0], offs);
	for (int64_t k = 0; k < val_numel(out[0]); k++)
		memcpy((char *)out[0]->data + (size_t)k * es, (const char *)in[0]->data + (size_t)offs[k] * es, es);
	return ST_OK;
}

const OpImpl op_impl_Expand = {expand_infer, expand_eval, NULL};

/*
 * Tile: Y[i] = X[i mod dims(X)], repeats a constant.
 */

static Status tile_infer(Graph *g, Node *n)
{
	const Value *x;
	int64_t *rep, dims[MAX_RANK];
	int count;

	TRY(infer_nin(g, n, 2, 2));
	TRY(infer_dtype(g, n, 0, DTM_ALL));
	TRY(infer_dtype(g, n, 1, DTM(I64)));
	TRY(infer_const_ints(g, n, 1, &rep, &count));
	x = in_val(g, n, 0);
	if (count != x->rank)
		return node_error(g, n, ST_INVALID, "repeats has %d elements for an input of rank %d",
		                  count, x->rank);
	for (int d = 0; d < x->rank; d++) {
		if (rep[d] < 0)
			return node_error(g, n, ST_INVALID, "repeat %lld is negative", (long long)rep[d]);
		if (!ck_mul(x->dims[d], rep[d], &dims[d]))
			return node_error(g, n, ST_UNSUPPORTED, "dimension %d times %lld repeats overflows",
			                  d, (long long)rep[d]);
	}
	return sized_out(g, n, x->dt, x->rank, dims);
}

static Status tile_eval(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out)
{
	(void)cx;
	(void)n;
	if (val_numel(out[0]) > 0)
		modulo_copy(in[0], out[0]);
	return ST_OK;
}

const OpImpl op_impl_Tile = {tile_infer, tile_eval, NULL};

/*
 * Range: start, start + delta, ... up to limit (excluded), from scalar
 * constants; count = max(ceil((limit - start) / delta), 0).
 */

#define DTM_RANGE (DTM_FLOAT | DTM(I16) | DTM(I32) | DTM(I64))

/* The count of an integer range, exact for any int64 bounds. */
static bool range_count_int(int64_t start, int64_t limit, int64_t delta, int64_t *count)
{
	uint64_t diff, step;

	*count = 0;
	if ((delta > 0 && limit <= start) || (delta < 0 && limit >= start))
		return true;
	diff = delta > 0 ? (uint64_t)limit - (uint64_t)start : (uint64_t)start - (uint64_t)limit;
	step = delta > 0 ? (uint64_t)delta : 0 - (uint64_t)delta;
	diff = diff / step + (diff % step != 0);
	if (diff > (uint64_t)VAL_MAX_BYTES)
		return false;
	*count = (int64_t)diff;
	return true;
}

static bool range_count_float(double start, double limit, double delta, int64_t *count)
{
	double c = ceil((limit - start) / delta);

	*count = 0;
	if (!(c > 0))
		return true;   /* empty, or NaN */
	if (!(c <= (double)VAL_MAX_BYTES))
		return false;
	*count = (int64_t)c;
	return true;
}

static Status range_scalar(Graph *g, const Node *n, int i)
{
	const Value *v = in_val(g, n, i), *s = in_val(g, n, 0);

	if (v->dt != s->dt)
		return node_error(g, n, ST_INVALID, "input %d is %s, input 0 is %s", i,
		                  dtype_name(v->dt), dtype_name(s->dt));
	if (val_numel(v) != 1)
		return node_error(g, n, ST_INVALID, "input %d must be a scalar", i);
	if (!v->data)
		return node_error(g, n, ST_UNSUPPORTED, "input %d '%s' is computed at run time; "
		                  "nnac needs Range's bounds to be constants (its output shape "
		                  "depends on them)", i, node_in(g, n, i)->name);
	return ST_OK;
}

static void range_fill(const Value *const *in, Value *y)
{
	int64_t count = val_numel(y);

	if (dtype_is_float(y->dt)) {
		double s = val_get_f64(in[0], 0), d = val_get_f64(in[2], 0);

		for (int64_t i = 0; i < count; i++)
			val_set_f64(y, i, s + (double)i * d);
		return;
	}
	for (int64_t i = 0; i < count; i++)
		val_set_i64(y, i, (int64_t)((uint64_t)val_get_i64(in[0], 0) +
		                            (uint64_t)i * (uint64_t)val_get_i64(in[2], 0)));
}

static Status range_infer(Graph *g, Node *n)
{
	const Value *in[3];
	int64_t count;
	bool ok;
	Value *y;

	TRY(infer_nin(g, n, 3, 3));
	TRY(infer_dtype(g, n, 0, DTM_RANGE));
	for (int i = 0; i < 3; i++) {
		TRY(range_scalar(g, n, i));
		in[i] = in_val(g, n, i);
	}
	if (dtype_is_float(in[0]->dt)) {
		if (val_get_f64(in[2], 0) == 0)
			return node_error(g, n, ST_INVALID, "delta is 0");
		ok = range_count_float(val_get_f64(in[0], 0), val_get_f64(in[1], 0), val_get_f64(in[2], 0), &count);
	} else {
		if (val_get_i64(in[2], 0) == 0)
			return node_error(g, n, ST_INVALID, "delta is 0");
		ok = range_count_int(val_get_i64(in[0], 0), val_get_i64(in[1], 0), val_get_i64(in[2], 0), &count);
	}
	if (!ok)
		return node_error(g, n, ST_UNSUPPORTED, "the range has more than %lld elements",
		                  (long long)VAL_MAX_BYTES);
	TRY(sized_out(g, n, in[0]->dt, 1, &count));
	TRY(const_out(g, n, &y));
	if (y)
		range_fill(in, y);
	return ST_OK;
}

static Status range_eval(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out)
{
	(void)cx;
	(void)n;
	range_fill(in, out[0]);
	return ST_OK;
}

const OpImpl op_impl_Range = {range_infer, range_eval, NULL};

/*
 * Size: the element count of X, an int64 scalar known from the static shape.
 */

static Status size_infer(Graph *g, Node *n)
{
	Value *y;

	TRY(infer_nin(g, n, 1, 1));
	TRY(infer_dtype(g, n, 0, DTM_ALL));
	infer_out(g, n, 0, DT_I64, 0, NULL);
	TRY(const_out(g, n, &y));
	if (y)
		*(int64_t *)y->data = val_numel(in_val(g, n, 0));
	return ST_OK;
}

static Status size_eval(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out)
{
	(void)cx;
	(void)n;
	*(int64_t *)out[0]->data = val_numel(in[0]);
	return ST_OK;
}

const OpImpl op_impl_Size = {size_infer, size_eval, NULL};

/*
 * EyeLike: a 2-D tensor of X's shape with ones on the diagonal k, in the
 * type `dtype` (X's type when absent).
 */

Status gen_eyelike_type(Graph *g, const Node *n, DType *dt)
{
	const Attr *a = attr_find(n, "dtype");

	*dt = in_val(g, n, 0)->dt;
	if (!a)
		return ST_OK;
	*dt = dtype_from_onnx((int)a->i);
	if (*dt == DT_UNDEF)
		return infer_bad_attr(g, n, "dtype", "element type not supported");
	return ST_OK;
}

static Status eyelike_infer(Graph *g, Node *n)
{
	const Value *x;
	DType dt;

	TRY(infer_nin(g, n, 1, 1));
	TRY(infer_dtype(g, n, 0, DTM_ALL));
	x = in_val(g, n, 0);
	if (x->rank != 2)
		return node_error(g, n, ST_INVALID, "input must have rank 2, not %d", x->rank);
	TRY(gen_eyelike_type(g, n, &dt));
	infer_out(g, n, 0, dt, 2, x->dims);
	return ST_OK;
}

static Status eyelike_eval(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out)
{
	int64_t k = attr_i(n, "k", 0), rows = out[0]->dims[0], cols = out[0]->dims[1];

	(void)cx;
	(void)in;
	for (int64_t i = 0; i < rows; i++)
		if (k > -cols && k < cols && i + k >= 0 && i + k < cols)
			val_set_i64(out[0], i * cols + i + k, 1);
	return ST_OK;
}

const OpImpl op_impl_EyeLike = {eyelike_infer, eyelike_eval, NULL};

/*
 * Trilu: the upper (j - i >= k) or lower (j - i <= k) triangle of every
 * matrix of the last two axes, zeros elsewhere.
 */

Status gen_trilu_k(Graph *g, const Node *n, const Value *const *in, int64_t *k)
{
	const Value *kv = in ? (n->nin > 1 ? in[1] : NULL) : in_val(g, n, 1);

	*k = 0;
	if (!has_input(n, 1))
		return ST_OK;
	if (!in && !kv->data)
		return ST_OK;   /* known at run time */
	if (val_numel(kv) != 1)
		return node_error(g, n, ST_INVALID, "k must be a scalar");
	*k = val_get_i64(kv, 0);
	return ST_OK;
}

bool gen_trilu_keep(const Node *n, int64_t i, int64_t j, int64_t k)
{
	bool upper = attr_i(n, "upper", 1) != 0;

	return upper ? j - i >= k : j - i <= k;
}

static Status trilu_infer(Graph *g, Node *n)
{
	int64_t k;

	TRY(infer_nin(g, n, 1, 2));
	TRY(infer_dtype(g, n, 0, DTM_ALL));
	TRY(infer_dtype(g, n, 1, DTM(I64)));
	if (in_val(g, n, 0)->rank < 2)
		return node_error(g, n, ST_INVALID, "input must have rank >= 2");
	TRY(gen_trilu_k(g, n, NULL, &k));
	return infer_same(g, n);
}

static Status trilu_eval(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out)
{
	const Value *x = in[0];
	int64_t rows = x->dims[x->rank - 2], cols = x->dims[x->rank - 1], k, numel = val_numel(x);
	size_t es = (size_t)dtype_size(x->dt);

	TRY(gen_trilu_k(cx->g, n, in, &k));
	for (int64_t e = 0; e < numel; e++) {
		int64_t j = e % cols, i = (e / cols) % rows;

		if (gen_trilu_keep(n, i, j, k))
			memcpy((char *)out[0]->data + (size_t)e * es, (const char *)x->data + (size_t)e * es, es);
	}
	return ST_OK;
}

const OpImpl op_impl_Trilu = {trilu_infer, trilu_eval, NULL};

/*
 * CumSum and CumProd: running sums (products) along one axis (an input),
 * optionally exclusive (the element itself left out) and reversed.  Floats
 * accumulate in double and round once per output; integers wrap in 64 bits.
 */

#define DTM_CUMSUM (DTM_FLOAT | DTM(I32) | DTM(I64) | DTM(U32) | DTM(U64))

Status gen_cumsum_axis(Graph *g, const Node *n, const Value *const *in, int rank, int64_t *axis)
{
	const Value *a = in ? in[1] : in_val(g, n, 1);

	*axis = 0;
	if (!in && !a->data)
		return ST_OK;   /* known at run time */
	if (val_numel(a) != 1)
		return node_error(g, n, ST_INVALID, "axis must be a scalar");
	*axis = val_get_i64(a, 0);
	if (!norm_axis(axis, rank))
		return node_error(g, n, ST_INVALID, "axis %lld is out of range for rank %d",
		                  (long long)val_get_i64(a, 0), rank);
	return ST_OK;
}

static Status cumsum_infer(Graph *g, Node *n)
{
	int64_t axis;

	TRY(infer_nin(g, n, 2, 2));
	TRY(infer_dtype(g, n, 0, DTM_CUMSUM));
	TRY(infer_dtype(g, n, 1, DTM(I32) | DTM(I64)));
	if (in_val(g, n, 0)->rank < 1)
		return node_error(g, n, ST_INVALID, "input must have rank >= 1");
	TRY(gen_cumsum_axis(g, n, NULL, in_val(g, n, 0)->rank, &axis));
	return infer_same(g, n);
}

/* The running sum or product of one run: len elements stride apart from
 * element first, visited backwards when rev. */
typedef struct CumRun {
	int64_t first, len, stride;
	bool prod, excl, rev, fl;
} CumRun;

static void cum_run(const CumRun *r, const Value *x, Value *y)
{
	double acc = r->prod ? 1 : 0;
	uint64_t iacc = r->prod ? 1 : 0;

	for (int64_t t = 0; t < r->len; t++) {
		int64_t e = r->first + (r->rev ? r->len - 1 - t : t) * r->stride;
		double v = r->fl ? val_get_f64(x, e) : 0;
		uint64_t iv = r->fl ? 0 : (uint64_t)val_get_i64(x, e);

		if (!r->excl) {
			acc = r->prod ? acc * v : acc + v;
			iacc = r->prod ? iacc * iv : iacc + iv;
		}
		if (r->fl)
			val_set_f64(y, e, acc);
		else
			val_set_i64(y, e, (int64_t)iacc);
		if (r->excl) {
			acc = r->prod ? acc * v : acc + v;
			iacc = r->prod ? iacc * iv : iacc + iv;
		}
	}
}

static Status cumsum_eval(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out)
{
	const Value *x = in[0];
	CumRun r = {
		.prod = n->op == OP_CumProd, .fl = dtype_is_float(x->dt),
		.excl = attr_i(n, "exclusive", 0) != 0, .rev = attr_i(n, "reverse", 0) != 0,
	};
	int64_t axis, inner, outer;

	TRY(gen_cumsum_axis(cx->g, n, in, x->rank, &axis));
	r.len = x->dims[axis];
	val_split_at(x, axis, &outer, &inner);
	r.stride = inner;
	for (int64_t o = 0; o < outer; o++)
		for (int64_t s = 0; s < inner; s++) {
			r.first = o * r.len * inner + s;
			cum_run(&r, x, out[0]);
		}
	return ST_OK;
}

const OpImpl op_impl_CumSum = {cumsum_infer, cumsum_eval, NULL};
const OpImpl op_impl_CumProd = {cumsum_infer, cumsum_eval, NULL};

/*
 * DepthToSpace and SpaceToDepth, seen in one 6-D iteration space
 * (n, c, h, i, w, j) over [N, Cs, Hd, b, Wd, b]: the space-side tensor
 * [N, Cs, Hd*b, Wd*b] at (n, c, h*b + i, w*b + j) is the depth-side
 * tensor [N, Cs*b*b, Hd, Wd] at (n, ci*i + cj*j + cc*c, h, w).
 */

Status gen_space_plan(Graph *g, const Node *n, const Value *x, SpacePlan *p)
{
	bool to_space = n->op == OP_DepthToSpace;
	const char *mode = attr_s(n, "mode", "DCR");
	int64_t b = attr_i(n, "blocksize", 0), bb;

	if (x->rank != 4)
		return node_error(g, n, ST_INVALID, "input must have rank 4, not %d", x->rank);
	if (b <= 0 || !ck_mul(b, b, &bb))
		return node_error(g, n, ST_INVALID, "blocksize %lld is not a positive size", (long long)b);
	if (strcmp(mode, "DCR") != 0 && (strcmp(mode, "CRD") != 0 || !to_space))
		return infer_bad_attr(g, n, "mode", "not DCR or (DepthToSpace) CRD");
	if (to_space ? x->dims[1] % bb != 0 : x->dims[2] % b != 0 || x->dims[3] % b != 0)
		return node_error(g, n, ST_INVALID, "blocksize %lld does not divide the input's %s",
		                  (long long)b, to_space ? "channels by its square" : "height and width");
	p->b = b;
	p->dims[0] = x->dims[0];
	p->dims[1] = to_space ? x->dims[1] / bb : x->dims[1];
	p->dims[2] = to_space ? x->dims[2] : x->dims[2] / b;
	p->dims[3] = b;
	p->dims[4] = to_space ? x->dims[3] : x->dims[3] / b;
	p->dims[5] = b;
	p->crd = strcmp(mode, "CRD") == 0;
	p->ci = p->crd ? b : b * p->dims[1];
	p->cj = p->crd ? 1 : p->dims[1];
	p->cc = p->crd ? bb : 1;
	return ST_OK;
}

static Status space_infer(Graph *g, Node *n)
{
	const Value *x;
	int64_t dims[4];
	SpacePlan p;

	TRY(infer_nin(g, n, 1, 1));
	TRY(infer_dtype(g, n, 0, DTM_ALL));
	x = in_val(g, n, 0);
	TRY(gen_space_plan(g, n, x, &p));
	dims[0] = p.dims[0];
	dims[1] = n->op == OP_DepthToSpace ? p.dims[1] : p.dims[1] * p.b * p.b;
	dims[2] = n->op == OP_DepthToSpace ? p.dims[2] * p.b : p.dims[2];
	dims[3] = n->op == OP_DepthToSpace ? p.dims[4] * p.b : p.dims[4];
	infer_out(g, n, 0, x->dt, 4, dims);
	return ST_OK;
}

static Status space_eval(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out)
{
	bool to_space = n->op == OP_DepthToSpace;
	const Value *sp = to_space ? out[0] : in[0], *dp = to_space ? in[0] : out[0];
	int64_t q[6] = {0}, count;
	size_t es = (size_t)dtype_size(in[0]->dt);
	SpacePlan p;

	TRY(gen_space_plan(cx->g, n, in[0], &p));
	count = val_numel(in[0]);
	for (int64_t k = 0; k < count; k++) {
		int64_t s[4] = {q[0], q[1], q[2] * p.b + q[3], q[4] * p.b + q[5]};
		int64_t d[4] = {q[0], p.ci * q[3] + p.cj * q[5] + p.cc * q[1], q[2], q[4]};
		int64_t so = ((s[0] * sp->dims[1] + s[1]) * sp->dims[2] + s[2]) * sp->dims[3] + s[3];
		int64_t doff = ((d[0] * dp->dims[1] + d[1]) * dp->dims[2] + d[2]) * dp->dims[3] + d[3];

		if (to_space)
			memcpy((char *)out[0]->data + (size_t)so * es, (const char *)in[0]->data + (size_t)doff * es, es);
		else
			memcpy((char *)out[0]->data + (size_t)doff * es, (const char *)in[0]->data + (size_t)so * es, es);
		for (int a = 5; a >= 0; a--) {
			if (++q[a] < p.dims[a])
				break;
			q[a] = 0;
		}
	}
	return ST_OK;
}

const OpImpl op_impl_DepthToSpace = {space_infer, space_eval, NULL};
const OpImpl op_impl_SpaceToDepth = {space_infer, space_eval, NULL};
