/*
 * Reference kernels for the matrix products: Gemm, MatMul, MatMulInteger
 * and QLinearMatMul.
 *
 * MatMul and the two integer forms follow numpy.matmul: a 1-D A is a row
 * vector and a 1-D B a column vector (the added dimension is dropped from
 * the result), and the leading "batch" dimensions broadcast.  Every product
 * goes through one batched loop over [M,K] x [K,N] slices in i-k-j order,
 * so the innermost loop streams along rows of B and Y.
 *
 * Floating-point products accumulate in double and round once on store.
 * Integer products (MatMul on integer types, MatMulInteger, QLinearMatMul's
 * accumulator) are exact in 64 bits, wrapping like the element type.
 * QLinearMatMul rescales as the ONNX reference does: the combined f32
 * multiplier a_scale * b_scale / y_scale is computed in f32, applied in
 * double, rounded half to even and saturated.
 *
 * Zero points and scales of A are per tensor (one element) or per row: a
 * vector of M, or an N-D tensor broadcastable to A such as [D1,D2,M,1]; those
 * of B are per tensor or per column ([N] or [D1,D2,1,N]).
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "checked.h"
#include "matmul.h"

/* The shapes of one (batched) product [M,K] x [K,N]. */
typedef struct MatDims {
	int64_t m, k, n;
	Value ab, bb, yb;         /* batch shapes of A, B and Y, type only */
	int rank;                 /* Y's rank and dims */
	int64_t dims[MAX_RANK];
} MatDims;

/* numpy.matmul shapes; false when A and B do not multiply. */
static bool matmul_dims(const Value *a, const Value *b, MatDims *d)
{
	int ra = a->rank, rb = b->rank;
	int64_t kb;

	memset(d, 0, sizeof(*d));
	if (ra < 1 || rb < 1)
		return false;
	d->m = ra >= 2 ? a->dims[ra - 2] : 1;
	d->k = a->dims[ra - 1];
	d->n = rb >= 2 ? b->dims[rb - 1] : 1;
	kb = rb >= 2 ? b->dims[rb - 2] : b->dims[0];
	if (kb != d->k && kb >= 0 && d->k >= 0)
		return false;
	val_set_type(&d->ab, a->dt, ra > 2 ? ra - 2 : 0, a->dims);
	val_set_type(&d->bb, b->dt, rb > 2 ? rb - 2 : 0, b->dims);
	if (!bcast_shape(&d->ab, &d->bb, &d->yb))
		return false;
	d->rank = d->yb.rank;
	memcpy(d->dims, d->yb.dims, sizeof(d->dims));
	if (ra >= 2)
		d->dims[d->rank++] = d->m;
	if (rb >= 2)
		d->dims[d->rank++] = d->n;
	return true;
}

static Status matmul_dims_check(Graph *g, const Node *n, int ia, int ib, MatDims *d)
{
	const Value *a = &node_in(g, n, ia)->v, *b = &node_in(g, n, ib)->v;
	char sa[64], sb[64];

	if (matmul_dims(a, b, d))
		return ST_OK;
	return node_error(g, n, ST_INVALID, "cannot multiply %s by %s",
	                  val_type_str(a, sa, sizeof(sa)), val_type_str(b, sb, sizeof(sb)));
}

/* For each batch of Y, the batch index of A and of B. */
static bool batch_offsets(Arena *a, const MatDims *d, int64_t **ao, int64_t **bo)
{
	size_t size = (size_t)val_numel(&d->yb) * sizeof(int64_t);

	*ao = arena_alloc(a, size);
	*bo = arena_alloc(a, size);
	if (!*ao || !*bo)
		return false;
	bcast_offsets(&d->yb, &d->ab, *ao);
	bcast_offsets(&d->yb, &d->bb, *bo);
	return true;
}

/* Y[M][N] += A[M][K] B[K][N]. */
static void mm_f64(const double *a, const double *b, double *y, int64_t m, int64_t k, int64_t n)
{
	for (int64_t i = 0; i < m; i++) {
		double *yr = y + i * n;

		for (int64_t p = 0; p < k; p++) {
			const double *br = b + p * n;
			double av = a[i * k + p];

			for (int64_t j = 0; j < n; j++)
				yr[j] += av * br[j];
		}
	}
}

/* Y[M][N] += A[M][K] B[K][N], wrapping modulo 2^64. */
static void mm_i64(const int64_t *a, const int64_t *b, uint64_t *y, int64_t m, int64_t k,
                   int64_t n)
{
	for (int64_t i = 0; i < m; i++) {
		uint64_t *yr = y + i * n;

		for (int64_t p = 0; p < k; p++) {
			const int64_t *br = b + p * n;
			uint64_t av = (uint64_t)a[i * k + p];

			for (int64_t j = 0; j < n; j++)
				yr[j] += av * (uint64_t)br[j];
		}
	}
}

/* Y = A @ B over all batches, in double; y is zeroed, numel(Y) long. */
static bool batched_f64(Arena *ar, const MatDims *d, const double *a, const double *b, double *y)
{
	int64_t mk = d->m * d->k, kn = d->k * d->n, mn = d->m * d->n;
	int64_t *ao, *bo;

	if (!batch_offsets(ar, d, &ao, &bo))
		return false;
	for (int64_t t = 0; t < val_numel(&d->yb); t++)
		mm_f64(a + ao[t] * mk, b + bo[t] * kn, y + t * mn, d->m, d->k, d->n);
	return true;
}

static bool batched_i64(Arena *ar, const MatDims *d, const int64_t *a, const int64_t *b,
                        uint64_t *y)
{
	int64_t mk = d->m * d->k, kn = d->k * d->n, mn = d->m * d->n;
	int64_t *ao, *bo;

	if (!batch_offsets(ar, d, &ao, &bo))
		return false;
	for (int64_t t = 0; t < val_numel(&d->yb); t++)
		mm_i64(a + ao[t] * mk, b + bo[t] * kn, y + t * mn, d->m, d->k, d->n);
	return true;
}

static int64_t matmul_macs_of(Graph *g, const Node *n, int ia, int ib)
{
	MatDims d;

	if (!matmul_dims(&node_in(g, n, ia)->v, &node_in(g, n, ib)->v, &d))
		return 0;
	return ck_mul_sat(ck_mul_sat(ck_mul_sat(val_numel(&d.yb), d.m), d.k), d.n);
}

/* MatMul */

#define DTM_MATMUL (DTM_FLOAT | DTM(I32) | DTM(I64) | DTM(U32) | DTM(U64))

static Status matmul_infer(Graph *g, Node *n)
{
	Status st;
	MatDims d;
	DType dt;

	if ((st = infer_nin(g, n, 2, 2)) || (st = infer_dtype(g, n, 0, DTM_MATMUL)) ||
	    (st = infer_dtype(g, n, 1, DTM_MATMUL)))
		return st;
	dt = node_in(g, n, 0)->v.dt;
	if (node_in(g, n, 1)->v.dt != dt)
		return node_error(g, n, ST_INVALID, "A is %s but B is %s", dtype_name(dt),
		                  dtype_name(node_in(g, n, 1)->v.dt));
	if ((st = matmul_dims_check(g, n, 0, 1, &d)))
		return st;
	infer_out(g, n, 0, dt, d.rank, d.dims);
	return ST_OK;
}

static Status matmul_eval_int(EvalCtx *cx, const Node *n, const Value *a, const Value *b,
                              Value *y, const MatDims *d)
{
	int64_t *x = val_to_i64(cx->scratch, a), *w = val_to_i64(cx->scratch, b);
	uint64_t *acc = arena_alloc(cx->scratch, (size_t)val_numel(y) * sizeof(*acc));

	if (!x || !w || !acc || !batched_i64(cx->scratch, d, x, w, acc))
		return eval_oom(cx, n);
	for (int64_t i = 0; i < val_numel(y); i++)
		val_set_i64(y, i, (int64_t)acc[i]);
	return ST_OK;
}

static Status matmul_eval(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out)
{
	double *x, *w, *acc;
	MatDims d;

	if (!matmul_dims(in[0], in[1], &d))
		nnac_unreachable();
	if (dtype_is_int(out[0]->dt))
		return matmul_eval_int(cx, n, in[0], in[1], out[0], &d);
	x = val_to_f64(cx->scratch, in[0]);
	w = val_to_f64(cx->scratch, in[1]);
	acc = arena_alloc(cx->scratch, (size_t)val_numel(out[0]) * sizeof(*acc));
	if (!x || !w || !acc || !batched_f64(cx->scratch, &d, x, w, acc))
		return eval_oom(cx, n);
	val_from_f64(out[0], acc);
	return ST_OK;
}

static int64_t matmul_macs(Graph *g, const Node *n)
{
	return matmul_macs_of(g, n, 0, 1);
}

/* Gemm: Y = alpha * A' B' + beta * C, A' = transA ? A^T : A. */

static bool gemm_c_legacy_exact(const Graph *g, const Node *n)
{
	return g->opset < 7 && !attr_i(n, "broadcast", 0);
}

static Status gemm_c_check(Graph *g, const Node *n, const int64_t *mn)
{
	const Tensor *c = node_in(g, n, 2);
	Value y = c->v, cb;
	char buf[64];

	val_set_type(&y, c->v.dt, 2, mn);
	cb = y;
	if (gemm_c_legacy_exact(g, n) ? val_same_shape(&c->v, &y)
	                              : bcast_shape(&y, &c->v, &cb) && val_same_shape(&cb, &y))
		return ST_OK;
	return node_error(g, n, ST_INVALID, "C is %s, which does not broadcast to [%lld,%lld]",
	                  val_type_str(&c->v, buf, sizeof(buf)), (long long)mn[0],
	                  (long long)mn[1]);
}

/* Validates A and B and yields the output dims [M, N] and K. */
static Status gemm_dims(Graph *g, const Node *n, int64_t *mn, int64_t *k)
{
	const Value *a = &node_in(g, n, 0)->v, *b = &node_in(g, n, 1)->v;
	bool ta = attr_i(n, "transA", 0), tb = attr_i(n, "transB", 0);
	char sa[64], sb[64];

	if (a->rank != 2 || b->rank != 2)
		return node_error(g, n, ST_INVALID, "A %s and B %s must be matrices",
		                  val_type_str(a, sa, sizeof(sa)), val_type_str(b, sb, sizeof(sb)));
	mn[0] = a->dims[ta ? 1 : 0];
	mn[1] = b->dims[tb ? 0 : 1];
	*k = a->dims[ta ? 0 : 1];
	if (b->dims[tb ? 1 : 0] != *k)
		return node_error(g, n, ST_INVALID, "cannot multiply %s%s by %s%s",
		                  val_type_str(a, sa, sizeof(sa)), ta ? "^T" : "",
		                  val_type_str(b, sb, sizeof(sb)), tb ? "^T" : "");
	return ST_OK;
}

static Status gemm_infer(Graph *g, Node *n)
{
	Status st = infer_nin(g, n, g->opset >= 11 ? 2 : 3, 3);
	int64_t mn[2], k;
	DType dt;

	if (st != ST_OK)
		return st;
	if (g->opset >= 7 && attr_find(n, "broadcast"))
		return node_error(g, n, ST_INVALID, "attribute 'broadcast' was removed in opset 7");
	for (int i = 0; i < 3; i++)
		if ((st = infer_dtype(g, n, i, DTM_MATMUL)))
			return st;
	dt = node_in(g, n, 0)->v.dt;
	for (int i = 1; i < 3; i++)
		if (node_in(g, n, i) && node_in(g, n, i)->v.dt != dt)
			return node_error(g, n, ST_INVALID, "input %d is %s but A is %s", i,
			                  dtype_name(node_in(g, n, i)->v.dt), dtype_name(dt));
	if ((st = gemm_dims(g, n, mn, &k)))
		return st;
	if (node_in(g, n, 2) && (st = gemm_c_check(g, n, mn)))
		return st;
	infer_out(g, n, 0, dt, 2, mn);
	return ST_OK;
}

/* A matrix as row-major [rows][cols] doubles, transposing if asked. */
static double *gemm_operand(Arena *ar, const Value *v, bool trans)
{
	double *x = val_to_f64(ar, v), *t;
	int64_t r = v->dims[0], c = v->dims[1];

	if (!x || !trans)
		return x;
	t = arena_alloc(ar, (size_t)(r * c) * sizeof(*t));
	if (!t)
		return NULL;
	for (int64_t i = 0; i < r; i++)
		for (int64_t j = 0; j < c; j++)
			t[j * r + i] = x[i * c + j];
	return t;
}

/* acc = alpha * acc + beta * C (broadcast); C absent counts as zero. */
static bool gemm_epilogue(EvalCtx *cx, const Node *n, const Value *c, const Value *y, double *acc)
{
	double alpha = attr_f(n, "alpha", 1.0), beta = attr_f(n, "beta", 1.0);
	int64_t len = val_numel(y);
	int64_t *offs;
	double *cv;

	for (int64_t i = 0; i < len; i++)
		acc[i] *= alpha;
	if (!c || beta == 0)
		return true;
	offs = arena_alloc(cx->scratch, (size_t)len * sizeof(*offs));
	cv = val_to_f64(cx->scratch, c);
	if (!offs || !cv)
		return false;
	bcast_offsets(y, c, offs);
	for (int64_t i = 0; i < len; i++)
		acc[i] += beta * cv[offs[i]];
	return true;
}

static Status gemm_eval(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out)
{
	const Value *c = n->nin > 2 ? in[2] : NULL;
	double *a = gemm_operand(cx->scratch, in[0], attr_i(n, "transA", 0));
	double *b = gemm_operand(cx->scratch, in[1], attr_i(n, "transB", 0));
	double *acc = arena_alloc(cx->scratch, (size_t)val_numel(out[0]) * sizeof(*acc));
	int64_t m = out[0]->dims[0], nn = out[0]->dims[1];
	int64_t k = in[0]->dims[attr_i(n, "transA", 0) ? 0 : 1];

	if (!a || !b || !acc)
		return eval_oom(cx, n);
	mm_f64(a, b, acc, m, k, nn);
	if (!gemm_epilogue(cx, n, c, out[0], acc))
		return eval_oom(cx, n);
	val_from_f64(out[0], acc);
	return ST_OK;
}

static int64_t gemm_macs(Graph *g, const Node *n)
{
	const Value *a = &node_in(g, n, 0)->v;
	const Value *y = &node_out(g, n, 0)->v;

	if (a->rank != 2 || y->rank != 2)
		return 0;
	return ck_mul_sat(y->dims[0] * y->dims[1], a->dims[attr_i(n, "transA", 0) ? 0 : 1]);
}

/* Quantization parameters of the integer products. */

/*
 * A zero point or scale as a tensor that broadcasts onto its matrix: one
 * element is per tensor; a vector is per row of A ([M] becomes [M,1]) or per
 * column of B ([N] broadcasts as it is); higher ranks broadcast as NumPy
 * would, e.g. [D1,D2,M,1].
 */
static void qparam_view(const Value *q, bool rows, Value *view)
{
	*view = *q;
	if (val_numel(q) == 1) {
		view->rank = 0;
	} else if (rows && q->rank == 1) {
		view->rank = 2;
		view->dims[1] = 1;
	}
}

/* Input iq (absent is fine) fits matrix input ix: type dt and broadcast shape. */
static Status qparam_check(Graph *g, const Node *n, int iq, int ix, bool rows, unsigned types)
{
	const Tensor *q = node_in(g, n, iq), *x = node_in(g, n, ix);
	char sq[64], sx[64];
	Value v, b;
	Status st;

	if (!q)
		return ST_OK;
	if ((st = infer_dtype(g, n, iq, types)))
		return st;
	if (!(types & DTM_FLOAT) && q->v.dt != x->v.dt)
		return node_error(g, n, ST_INVALID, "zero point '%s' is %s but '%s' is %s", q->name,
		                  dtype_name(q->v.dt), x->name, dtype_name(x->v.dt));
	qparam_view(&q->v, rows, &v);
	b = x->v;
	if (v.rank <= x->v.rank && bcast_shape(&x->v, &v, &b) && val_same_shape(&b, &x->v))
		return ST_OK;
	return node_error(g, n, ST_INVALID, "'%s' %s is neither per tensor nor per %s of %s",
	                  q->name, val_type_str(&q->v, sq, sizeof(sq)), rows ? "row" : "column",
	                  val_type_str(&x->v, sx, sizeof(sx)));
}

/* x - zero point as int64, the zero point broadcast onto x; zp may be NULL. */
static int64_t *sub_zero_point(Arena *ar, const Value *x, const Value *zp, bool rows)
{
	int64_t *v = val_to_i64(ar, x), *z, *offs;
	int64_t len = val_numel(x);
	Value view;

	if (!v || !zp)
		return v;
	qparam_view(zp, rows, &view);
	z = val_to_i64(ar, &view);
	offs = arena_alloc(ar, (size_t)len * sizeof(*offs));
	if (!z || !offs)
		return NULL;
	bcast_offsets(x, &view, offs);
	for (int64_t i = 0; i < len; i++)
		v[i] -= z[offs[i]];
	return v;
}

/* MatMulInteger: Y(i32) = (A - a_zero_point) @ (B - b_zero_point). */

static Status matmul_integer_infer(Graph *g, Node *n)
{
	unsigned q8 = DTM(U8) | DTM(I8);
	Status st;
	MatDims d;

	if ((st = infer_nin(g, n, 2, 4)) || (st = infer_dtype(g, n, 0, q8)) ||
	    (st = infer_dtype(g, n, 1, q8)))
		return st;
	if ((st = matmul_dims_check(g, n, 0, 1, &d)))
		return st;
	if ((st = qparam_check(g, n, 2, 0, true, q8)) || (st = qparam_check(g, n, 3, 1, false, q8)))
		return st;
	infer_out(g, n, 0, DT_I32, d.rank, d.dims);
	return ST_OK;
}

static const Value *opt_in(const Node *n, const Value *const *in, int i)
{
	return i < n->nin ? in[i] : NULL;
}

static Status matmul_integer_eval(EvalCtx *cx, const Node *n, const Value *const *in,
                                  Value *const *out)
{
	int64_t *a = sub_zero_point(cx->scratch, in[0], opt_in(n, in, 2), true);
	int64_t *b = sub_zero_point(cx->scratch, in[1], opt_in(n, in, 3), false);
	uint64_t *acc = arena_alloc(cx->scratch, (size_t)val_numel(out[0]) * sizeof(*acc));
	MatDims d;

	if (!matmul_dims(in[0], in[1], &d))
		nnac_unreachable();
	if (!a || !b || !acc || !batched_i64(cx->scratch, &d, a, b, acc))
		return eval_oom(cx, n);
	for (int64_t i = 0; i < val_numel(out[0]); i++)
		val_set_i64(out[0], i, (int64_t)acc[i]);
	return ST_OK;
}

static int64_t matmul_integer_macs(Graph *g, const Node *n)
{
	return matmul_macs_of(g, n, 0, 1);
}

/*
 * QLinearMatMul: inputs a, a_scale, a_zero_point, b, b_scale, b_zero_point,
 * y_scale, y_zero_point; Y = saturate(round((a - a_zp) @ (b - b_zp) * a_scale
 * * b_scale / y_scale) + y_zp).
 */

enum { QA, QA_SCALE, QA_ZP, QB, QB_SCALE, QB_ZP, QY_SCALE, QY_ZP };

static Status qlinear_y_check(Graph *g, const Node *n)
{
	const Tensor *s = node_in(g, n, QY_SCALE), *z = node_in(g, n, QY_ZP);
	Status st;

	if ((st = infer_dtype(g, n, QY_SCALE, DTM_FLOAT)) ||
	    (st = infer_dtype(g, n, QY_ZP, DTM(U8) | DTM(I8))))
		return st;
	if (val_numel(&s->v) != 1 || val_numel(&z->v) != 1)
		return node_error(g, n, ST_UNSUPPORTED,
		                  "y_scale and y_zero_point must be scalars (per-tensor output)");
	return ST_OK;
}

static Status qlinear_matmul_infer(Graph *g, Node *n)
{
	unsigned q8 = DTM(U8) | DTM(I8);
	Status st;
	MatDims d;

	if ((st = infer_nin(g, n, 8, 8)) || (st = infer_dtype(g, n, QA, q8)) ||
	    (st = infer_dtype(g, n, QB, q8)))
		return st;
	if ((st = matmul_dims_check(g, n, QA, QB, &d)))
		return st;
	if ((st = qparam_check(g, n, QA_SCALE, QA, true, DTM_FLOAT)) ||
	    (st = qparam_check(g, n, QA_ZP, QA, true, q8)) ||
	    (st = qparam_check(g, n, QB_SCALE, QB, false, DTM_FLOAT)) ||
	    (st = qparam_check(g, n, QB_ZP, QB, false, q8)) || (st = qlinear_y_check(g, n)))
		return st;
	infer_out(g, n, 0, node_in(g, n, QY_ZP)->v.dt, d.rank, d.dims);
	return ST_OK;
}

/* A scale broadcast onto every element of its matrix x. */
static double *expand_scale(Arena *ar, const Value *x, const Value *s, bool rows)
{
	int64_t len = val_numel(x);
	double *sv, *e = arena_alloc(ar, (size_t)len * sizeof(*e));
	int64_t *offs = arena_alloc(ar, (size_t)len * sizeof(*offs));
	Value view;

	qparam_view(s, rows, &view);
	sv = val_to_f64(ar, &view);
	if (!e || !offs || !sv)
		return NULL;
	bcast_offsets(x, &view, offs);
	for (int64_t i = 0; i < len; i++)
		e[i] = sv[offs[i]];
	return e;
}

double matmul_qlinear_multiplier(double as, double bs, double ys, DType dt)
{
	if (dt == DT_F32)
		return (float)((float)(as * bs) / (float)ys);
	return as * bs / ys;
}

typedef struct QScales {
	const double *a, *b;     /* scales expanded onto A and B */
	double y, yzp;
	DType dt;                /* element type of the scales */
} QScales;

/* Rescales batch t of the accumulator into Y. */
static void qlinear_store(const MatDims *d, const QScales *q, const uint64_t *acc, int64_t t,
                          int64_t ao, int64_t bo, Value *y)
{
	for (int64_t i = 0; i < d->m; i++) {
		for (int64_t j = 0; j < d->n; j++) {
			int64_t o = (t * d->m + i) * d->n + j;
			double as = d->k ? q->a[(ao * d->m + i) * d->k] : 0;
			double bs = d->k ? q->b[bo * d->k * d->n + j] : 0;
			double mult = matmul_qlinear_multiplier(as, bs, q->y, q->dt);

			val_set_f64(y, o, nearbyint((double)(int64_t)acc[o] * mult + q->yzp));
		}
	}
}

static Status qlinear_matmul_eval(EvalCtx *cx, const Node *n, const Value *const *in,
                                  Value *const *out)
{
	Arena *ar = cx->scratch;
	int64_t *a = sub_zero_point(ar, in[QA], in[QA_ZP], true);
	int64_t *b = sub_zero_point(ar, in[QB], in[QB_ZP], false);
	uint64_t *acc = arena_alloc(ar, (size_t)val_numel(out[0]) * sizeof(*acc));
	QScales q = {expand_scale(ar, in[QA], in[QA_SCALE], true),
	             expand_scale(ar, in[QB], in[QB_SCALE], false), val_get_f64(in[QY_SCALE], 0),
	             val_get_f64(in[QY_ZP], 0), in[QA_SCALE]->dt};
	int64_t *ao, *bo;
	MatDims d;

	if (!matmul_dims(in[QA], in[QB], &d))
		nnac_unreachable();
	if (!a || !b || !acc || !q.a || !q.b || !batched_i64(ar, &d, a, b, acc) ||
	    !batch_offsets(ar, &d, &ao, &bo))
		return eval_oom(cx, n);
	for (int64_t t = 0; t < val_numel(&d.yb); t++)
		qlinear_store(&d, &q, acc, t, ao[t], bo[t], out[0]);
	return ST_OK;
}

static int64_t qlinear_matmul_macs(Graph *g, const Node *n)
{
	return matmul_macs_of(g, n, QA, QB);
}

const OpImpl op_impl_Gemm = {gemm_infer, gemm_eval, gemm_macs};
const OpImpl op_impl_MatMul = {matmul_infer, matmul_eval, matmul_macs};
const OpImpl op_impl_MatMulInteger = {matmul_integer_infer, matmul_integer_eval,
                                      matmul_integer_macs};
const OpImpl op_impl_QLinearMatMul = {qlinear_matmul_infer, qlinear_matmul_eval,
                                      qlinear_matmul_macs};
