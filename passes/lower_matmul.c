/*
 * Lowering of the matrix products: Gemm, MatMul, MatMulInteger and
 * QLinearMatMul.
 *
 * Each is one canonical kernel: an init nest (zero, or Gemm's C), one
 * perfectly nested compute nest with the output loops outside and the
 * reduction k innermost,
 *
 *     for m, n { for k { mac Y[m, n] += A[m, k] * B[k, n] } }
 *
 * and epilogue nests over the whole output.  MatMul follows numpy.matmul
 * as ir/interp/matmul.c does: batch loops b0, b1 ... over the broadcast
 * batch shape (an operand's batch dimension of size 1 is read at 0), and a
 * 1-D A or B loses its m or n loop.
 *
 * Arithmetic matches the graph interpreter:
 *   - float products accumulate into the output when it is f32 or f64;
 *     float16 and bfloat16 MatMul multiplies f32 copies of its factors into
 *     an f32 temporary (plain_matmul says why), other products into an f64
 *     temporary, rounded once at the end;
 *   - Gemm computes in double whatever the element type: integer Gemm reads
 *     its operands into f64 temporaries and sums, scales and adds C in the
 *     interpreter's order, so the final conversion truncates the same
 *     double;
 *   - integer MatMul wraps: i32 and i64 accumulate in place, u32 and u64 in
 *     an i64 temporary (the verifier's integer accumulators) whose low bits
 *     the final conversion keeps;
 *   - the quantized products subtract their zero points into i32
 *     temporaries (broadcast per tensor, per row of A or per column of B as
 *     the interpreter's views do) and accumulate exactly in i32;
 *   - QLinearMatMul's multiplier a_scale * b_scale / y_scale is formed as
 *     the interpreter forms it (in f32 when a_scale is f32, else in
 *     double), at compile time for constant scales, then
 *     y = saturate(round_even(acc * mult + y_zero_point)): the zero point is
 *     added before rounding, so unless it is a constant zero the product
 *     and the sum go through an f64 scalar and a `quantize` by 1.0.
 */
#include "lower.h"

#include <string.h>

#include "interp/matmul.h"

/* Building blocks. */

static Status check_sizes(LowerCx *cx, const Node *n)
{
	for (int i = 0; i < n->nin; i++)
		if (n->in[i] >= 0 && !lower_all_positive(&cx->g->tensors[n->in[i]].v))
			return node_error(cx->g, n, ST_UNSUPPORTED, "empty tensors have no loop nest");
	if (!lower_all_positive(&node_out(cx->g, n, 0)->v))
		return node_error(cx->g, n, ST_UNSUPPORTED, "empty tensors have no loop nest");
	return ST_OK;
}

/* Gemm */

/* A Gemm operand in double: itself when float, else an f64 copy. */
static int gemm_operand(LowerCx *cx, int b, const char *name, const char *const *names)
{
	LoopBuf x;
	int t;

	if (b < 0 || dtype_is_float(cx->p->bufs[b].dt))
		return b;
	x = cx->p->bufs[b];
	t = lower_temp(cx, name, DT_F64, x.rank, x.dims);
	if (t >= 0)
		lower_convert_all(cx, t, names, b);
	return t;
}

/* acc = beta * C (or C), broadcast: the init nest of a Gemm with alpha 1. */
static void gemm_init_c(LowerCx *cx, int acc, int c, double beta)
{
	static const char *const mn[] = {"m", "n"};
	int vars[2], in = lower_buf_nest(cx, acc, mn, vars);
	LoopArg d = lower_ref(cx, acc, vars), s = lower_bcast_ref(cx, c, 2, vars);

	if (beta != 1.0)
		lower_apply(cx, in, OP_Mul, 3, (LoopArg[]){d, s, loop_lit_float(beta)});
	else if (cx->p->bufs[c].dt == cx->p->bufs[acc].dt)
		lower_emit(cx, in, LN_COPY, 2, (LoopArg[]){d, s});
	else
		lower_apply(cx, in, OP_Cast, 2, (LoopArg[]){d, s});
}

/* acc = alpha * acc + beta * C, in the graph interpreter's order, in one
 * epilogue nest; beta * C goes through an f64 scalar. */
static void gemm_epilogue(LowerCx *cx, int acc, int c, double alpha, double beta)
{
	static const char *const mn[] = {"m", "n"};
	int vars[2], in, t;
	LoopArg a;

	if (alpha == 1.0 && (c < 0 || beta == 0))
		return;
	in = lower_buf_nest(cx, acc, mn, vars);
	a = lower_ref(cx, acc, vars);
	if (alpha != 1.0)
		lower_apply(cx, in, OP_Mul, 3, (LoopArg[]){a, a, loop_lit_float(alpha)});
	if (c < 0 || beta == 0)
		return;
	if (beta == 1.0) {
		lower_apply(cx, in, OP_Add, 3, (LoopArg[]){a, a, lower_bcast_ref(cx, c, 2, vars)});
		return;
	}
	t = lower_temp(cx, "betaC", DT_F64, 0, NULL);
	lower_apply(cx, in, OP_Mul, 3, (LoopArg[]){lower_ref(cx, t, NULL),
	            lower_bcast_ref(cx, c, 2, vars), loop_lit_float(beta)});
	lower_apply(cx, in, OP_Add, 3, (LoopArg[]){a, a, lower_ref(cx, t, NULL)});
}

/* for m, n { for k { mac acc[m, n] += A'[m, k] * B'[k, n] } }. */
static void gemm_nest(LowerCx *cx, const Node *n, int acc, int a, int b)
{
	static const char *const names[] = {"m", "n", "k"};
	bool ta = attr_i(n, "transA", 0), tb = attr_i(n, "transB", 0);
	int64_t dims[3] = {cx->p->bufs[acc].dims[0], cx->p->bufs[acc].dims[1],
	                   node_in(cx->g, n, 0)->v.dims[ta ? 0 : 1]};
	int v[3], in = lower_nest(cx, -1, 3, dims, names, v);

	lower_emit(cx, in, LN_MAC, 3, (LoopArg[]){lower_ref(cx, acc, (int[]){v[0], v[1]}),
	           lower_ref(cx, a, ta ? (int[]){v[2], v[0]} : (int[]){v[0], v[2]}),
	           lower_ref(cx, b, tb ? (int[]){v[1], v[2]} : (int[]){v[2], v[1]})});
}

/*
 * Y = alpha * A' B' + beta * C.  With alpha 1 and float output, C (times
 * beta) initializes the accumulator, the canonical bias shape; otherwise
 * the accumulator starts at zero and the epilogue scales and adds C in the
 * interpreter's order (exact for integer types, which compute in double).
 */
Status lower_gemm(LowerCx *cx, const Node *n)
{
	static const char *const mn[] = {"m", "n"}, *const mk[] = {"m", "k"};
	static const char *const km[] = {"k", "m"}, *const kn[] = {"k", "n"}, *const nk[] = {"n", "k"};
	bool ta = attr_i(n, "transA", 0), tb = attr_i(n, "transB", 0);
	double alpha = attr_f(n, "alpha", 1.0), beta = attr_f(n, "beta", 1.0);
	int y, acc, a, b, c;
	bool graph_order;
	LoopBuf yb;

	TRY(check_sizes(cx, n));
	y = lower_out(cx, n, 0);
	a = gemm_operand(cx, lower_buf(cx, n->in[0]), "Af", ta ? km : mk);
	b = gemm_operand(cx, lower_buf(cx, n->in[1]), "Bf", tb ? nk : kn);
	c = has_input(n, 2) ? lower_buf(cx, n->in[2]) : -1;
	TRY(loop_oom(cx->p));
	yb = cx->p->bufs[y];
	acc = yb.dt == DT_F32 || yb.dt == DT_F64 ? y : lower_temp(cx, "acc", DT_F64, 2, yb.dims);
	TRY(loop_oom(cx->p));
	graph_order = !dtype_is_float(yb.dt) || alpha != 1.0 || c < 0 || beta == 0;
	if (graph_order) {
		int vars[2], in = lower_buf_nest(cx, acc, mn, vars);

		lower_emit2(cx, in, LN_FILL, lower_ref(cx, acc, vars), loop_lit_float(0.0));
	} else {
		gemm_init_c(cx, acc, c, beta);
	}
	gemm_nest(cx, n, acc, a, b);
	if (graph_order)
		gemm_epilogue(cx, acc, c, alpha, beta);
	if (acc != y)
		lower_convert_all(cx, y, mn, acc);
	return loop_oom(cx->p);
}

/* MatMul and the quantized products: shapes. */

typedef struct MatShape {
	int ra, rb, ry;          /* ranks of A, B and Y */
	int nb;                  /* batch dims of Y */
	int64_t k;
	const char *ynames[MAX_RANK], *anames[MAX_RANK], *bnames[MAX_RANK];
} MatShape;

static const char *const batch_names[] = {"b0", "b1", "b2", "b3", "b4", "b5", "b6", "b7"};

/* numpy.matmul: Y is [batch..., m if A is 2-D+, n if B is 2-D+]. */
static void mat_shape(const Value *a, const Value *b, const Value *y, MatShape *s)
{
	memset(s, 0, sizeof(*s));
	s->ra = a->rank;
	s->rb = b->rank;
	s->ry = y->rank;
	s->nb = s->ry - (s->ra >= 2) - (s->rb >= 2);
	s->k = a->dims[s->ra - 1];
	for (int i = 0; i < s->nb; i++)
		s->ynames[i] = batch_names[i];
	if (s->ra >= 2)
		s->ynames[s->nb] = "m";
	if (s->rb >= 2)
		s->ynames[s->ry - 1] = "n";
	for (int i = 0; i < s->ra - 2; i++)
		s->anames[i] = batch_names[s->nb - (s->ra - 2) + i];
	for (int i = 0; i < s->rb - 2; i++)
		s->bnames[i] = batch_names[s->nb - (s->rb - 2) + i];
	if (s->ra >= 2)
		s->anames[s->ra - 2] = "m";
	s->anames[s->ra - 1] = "k";
	if (s->rb >= 2) {
		s->bnames[s->rb - 2] = "k";
		s->bnames[s->rb - 1] = "n";
	} else {
		s->bnames[0] = "k";
	}
}

/* The index of operand x (rank rx, A or B) at output variables yv and k. */
static void operand_index(LowerCx *cx, const MatShape *s, int x, bool is_a, const int *yv, int vk,
                          int *idx)
{
	const LoopBuf *b = &cx->p->bufs[x];
	int rx = b->rank;

	for (int i = 0; i < rx - 2; i++)
		idx[i] = b->dims[i] == 1 ? loop_const(cx->p, 0) : yv[s->nb - (rx - 2) + i];
	if (is_a) {
		if (rx >= 2)
			idx[rx - 2] = yv[s->nb];
		idx[rx - 1] = vk;
	} else if (rx >= 2) {
		idx[rx - 2] = vk;
		idx[rx - 1] = yv[s->ry - 1];
	} else {
		idx[0] = vk;
	}
}

/* init: acc = 0; compute: acc[y...] += a[...] * b[...] over k. */
static void product_nest(LowerCx *cx, const MatShape *s, int acc, int a, int b)
{
	int yv[MAX_RANK], ai[MAX_RANK], bi[MAX_RANK], vk, in;

	in = lower_buf_nest(cx, acc, s->ynames, yv);
	lower_emit2(cx, in, LN_FILL, lower_ref(cx, acc, yv), lower_zero_lit(cx->p->bufs[acc].dt));
	in = lower_buf_nest(cx, acc, s->ynames, yv);
	in = lower_nest(cx, in, 1, &s->k, (const char *const[]){"k"}, &vk);
	operand_index(cx, s, a, true, yv, vk, ai);
	operand_index(cx, s, b, false, yv, vk, bi);
	lower_emit(cx, in, LN_MAC, 3, (LoopArg[]){lower_ref(cx, acc, yv), lower_ref(cx, a, ai),
	           lower_ref(cx, b, bi)});
}

/* Tensor t, a float16 or bfloat16 factor, as f32: a constant converted
 * here into a const buffer, anything else by a cast nest into a
 * temporary; -1 when out of memory. */
static int f32_factor(LowerCx *cx, int t, const char *name)
{
	const Value *v = &cx->g->tensors[t].v;
	int b, w;

	if (v->data) {
		int64_t n = val_numel(v);
		float *f = arena_alloc(&cx->p->arena, (size_t)n * sizeof(float));

		if (!f) {
			cx->p->oom = true;
			return -1;
		}
		for (int64_t k = 0; k < n; k++)
			f[k] = (float)val_get_f64(v, k);
		return lower_const(cx, name, DT_F32, v->rank, v->dims, f);
	}
	b = lower_buf(cx, t);
	w = lower_temp(cx, name, DT_F32, v->rank, v->dims);
	if (b >= 0 && w >= 0)
		lower_cast_elems(cx, w, b);
	return w;
}

/* MatMul: floats and wrapping integers.  A float16 or bfloat16 product
 * multiplies f32 copies of its factors into an f32 accumulator, rounded
 * once into Y: the graph interpreter sums in double, but the products of
 * 11- or 8-bit significands are exact in f32 and the f32 sum's error stays
 * far below Y's half ulp; the f32 nest is what the cpu target runs as a
 * contraction kernel. */
static Status plain_matmul(LowerCx *cx, const Node *n, const MatShape *s)
{
	int y = lower_out(cx, n, 0), acc, a, b;
	LoopBuf yb = cx->p->bufs[y];
	bool narrow = lower_narrow_float(yb.dt);

	if (yb.dt == DT_F32 || yb.dt == DT_F64 || yb.dt == DT_I32 || yb.dt == DT_I64)
		acc = y;
	else
		acc = lower_temp(cx, "acc", narrow ? DT_F32 : dtype_is_float(yb.dt) ? DT_F64 : DT_I64, yb.rank,
		                 yb.dims);
	a = narrow ? f32_factor(cx, n->in[0], "a32") : lower_buf(cx, n->in[0]);
	b = narrow ? f32_factor(cx, n->in[1], "b32") : lower_buf(cx, n->in[1]);
	TRY(loop_oom(cx->p));
	product_nest(cx, s, acc, a, b);
	if (acc != y)
		lower_convert_all(cx, y, s->ynames, acc);
	return loop_oom(cx->p);
}

/* Quantization parameters. */

/*
 * Which dimension of an index space each dimension of a scale or zero point
 * q follows (-1: read at 0).  q broadcasts onto matrix x (rank rx) as
 * ir/interp/matmul.c's qparam_view says: one element is per tensor, a
 * vector of A's is per row ([M] read as [M,1]), anything else broadcasts
 * as NumPy would.  With to_y, the dimensions are mapped further onto the
 * output's (s): a batch dim to Y's, A's rows to m, B's columns to n, and
 * the reduction dim to -1 (the interpreter reads scales at k = 0).
 */
static void qparam_follow(const Value *q, bool is_a, const MatShape *s, bool to_y, int *follow)
{
	int rx = is_a ? s->ra : s->rb, rq = q->rank;

	for (int j = 0; j < rq; j++)
		follow[j] = -1;
	if (val_numel(q) == 1)
		return;
	for (int j = 0; j < rq; j++) {
		int d = is_a && rq == 1 && rx >= 2 ? rx - 2 : rx - rq + j;

		if (q->dims[j] == 1)
			continue;
		if (!to_y)
			follow[j] = d;
		else if (d < rx - 2)
			follow[j] = s->nb - (rx - 2) + d;
		else if (is_a && d == rx - 2)
			follow[j] = s->nb;
		else if (!is_a && d == rx - 1 && rx >= 2)
			follow[j] = s->ry - 1;
	}
}

/* Reference to parameter q (tensor t) following vars; a literal when it is
 * a constant single element. */
static LoopArg qparam_ref(LowerCx *cx, int t, const int *follow, const int *vars)
{
	const Value *v = &cx->g->tensors[t].v;
	int idx[MAX_RANK];

	if (val_numel(v) == 1 && v->data)
		return dtype_is_float(v->dt) ? loop_lit_float(val_get_f64(v, 0))
		                             : loop_lit_int(val_get_i64(v, 0));
	for (int j = 0; j < v->rank; j++)
		idx[j] = follow[j] < 0 ? loop_const(cx->p, 0) : vars[follow[j]];
	return lower_ref(cx, lower_buf(cx, t), idx);
}

/* Operand xi minus its zero point zi into an i32 temporary (x itself when
 * the zero point is absent or zero). */
static int minus_zero_point(LowerCx *cx, const Node *n, const MatShape *s, int xi, int zi,
                            bool is_a)
{
	int x = lower_buf(cx, n->in[xi]), follow[MAX_RANK], vars[MAX_RANK], t, in;

	if (!lower_zero_point_temp(cx, n, x, zi, is_a ? "Az" : "Bz", &t))
		return x;
	if (t < 0)
		return -1;
	qparam_follow(&cx->g->tensors[n->in[zi]].v, is_a, s, false, follow);
	in = lower_buf_nest(cx, t, is_a ? s->anames : s->bnames, vars);
	lower_apply(cx, in, OP_Sub, 3, (LoopArg[]){lower_ref(cx, t, vars), lower_ref(cx, x, vars),
	            qparam_ref(cx, n->in[zi], follow, vars)});
	return t;
}

/* MatMulInteger: Y(i32) = (A - a_zero_point) @ (B - b_zero_point). */
static Status matmul_integer(LowerCx *cx, const Node *n, const MatShape *s)
{
	int a = minus_zero_point(cx, n, s, 0, 2, true), b = minus_zero_point(cx, n, s, 1, 3, false);

	TRY(loop_oom(cx->p));
	product_nest(cx, s, lower_out(cx, n, 0), a, b);
	return loop_oom(cx->p);
}

/* QLinearMatMul */

enum { QA, QA_SCALE, QA_ZP, QB, QB_SCALE, QB_ZP, QY_SCALE, QY_ZP };

/* The multiplier's shape: Y's rank, 1 where neither scale varies. */
typedef struct QMult {
	int follow_a[MAX_RANK], follow_b[MAX_RANK];
	int64_t dims[MAX_RANK];
	DType dt;                /* f32 when a_scale is f32, else f64 */
	int buf;                 /* the multipliers, or -1 for the literal lit */
	double lit;
} QMult;

static void qmult_shape(LowerCx *cx, const Node *n, const MatShape *s, QMult *qm)
{
	const Value *as = &node_in(cx->g, n, QA_SCALE)->v, *bs = &node_in(cx->g, n, QB_SCALE)->v;
	const Value *y = &node_out(cx->g, n, 0)->v;

	qparam_follow(as, true, s, true, qm->follow_a);
	qparam_follow(bs, false, s, true, qm->follow_b);
	for (int d = 0; d < s->ry; d++)
		qm->dims[d] = 1;
	for (int j = 0; j < as->rank; j++)
		if (qm->follow_a[j] >= 0)
			qm->dims[qm->follow_a[j]] = y->dims[qm->follow_a[j]];
	for (int j = 0; j < bs->rank; j++)
		if (qm->follow_b[j] >= 0)
			qm->dims[qm->follow_b[j]] = y->dims[qm->follow_b[j]];
	qm->dt = as->dt == DT_F32 ? DT_F32 : DT_F64;
}

/* Row-major offset into q of the element that index space position pos
 * reaches through follow. */
static int64_t follow_offset(const Value *q, const int *follow, const int64_t *pos)
{
	int64_t strides[MAX_RANK], off = 0;

	val_strides(q, strides);
	for (int j = 0; j < q->rank; j++)
		if (follow[j] >= 0)
			off += pos[follow[j]] * strides[j];
	return off;
}

/* Constant scales: the multiplier computed now, one per element of dims
 * (a literal when there is one). */
static bool qmult_const(LowerCx *cx, const Node *n, const MatShape *s, QMult *qm)
{
	const Value *as = &node_in(cx->g, n, QA_SCALE)->v, *bs = &node_in(cx->g, n, QB_SCALE)->v;
	double ys = val_get_f64(&node_in(cx->g, n, QY_SCALE)->v, 0);
	Value m;
	int64_t pos[MAX_RANK] = {0};

	memset(&m, 0, sizeof(m));
	val_set_type(&m, qm->dt, s->ry, qm->dims);
	if (!val_alloc(&cx->p->arena, &m))
		return false;
	for (int64_t i = 0; i < val_numel(&m); i++) {
		double a = val_get_f64(as, follow_offset(as, qm->follow_a, pos));
		double b = val_get_f64(bs, follow_offset(bs, qm->follow_b, pos));

		val_set_f64(&m, i, matmul_qlinear_multiplier(a, b, ys, as->dt));
		for (int d = s->ry - 1; d >= 0; d--) {
			if (++pos[d] < qm->dims[d])
				break;
			pos[d] = 0;
		}
	}
	qm->lit = val_get_f64(&m, 0);
	qm->buf = val_numel(&m) == 1 ? -1 : lower_const(cx, "mult", qm->dt, s->ry, qm->dims, m.data);
	return val_numel(&m) == 1 || qm->buf >= 0;
}

/* y_scale as the multiplier's type rounds it: an f32 copy when a_scale is f32
 * and y_scale is wider (the interpreter's (float)ys). */
static LoopArg y_scale_arg(LowerCx *cx, const Node *n, const QMult *qm)
{
	int t = n->in[QY_SCALE], none[MAX_RANK], f32;
	const Value *v = &cx->g->tensors[t].v;

	for (int j = 0; j < MAX_RANK; j++)
		none[j] = -1;
	if (qm->dt != DT_F32 || v->dt != DT_F64)
		return qparam_ref(cx, t, none, NULL);
	if (v->data)
		return loop_lit_float((float)val_get_f64(v, 0));
	f32 = lower_temp(cx, "yscale", DT_F32, 0, NULL);
	lower_apply(cx, -1, OP_Cast, 2, (LoopArg[]){lower_ref(cx, f32, NULL),
	            qparam_ref(cx, t, none, NULL)});
	return lower_ref(cx, f32, NULL);
}

/* Run-time scales: mult = a_scale * b_scale, then / y_scale, each rounded to
 * the multiplier's type as the interpreter rounds it. */
static bool qmult_computed(LowerCx *cx, const Node *n, const MatShape *s, QMult *qm)
{
	int m = lower_temp(cx, "mult", qm->dt, s->ry, qm->dims), vars[MAX_RANK], in;
	LoopArg ys = y_scale_arg(cx, n, qm);

	qm->buf = m;
	if (m < 0)
		return false;
	in = lower_buf_nest(cx, m, s->ynames, vars);
	lower_apply(cx, in, OP_Mul, 3, (LoopArg[]){lower_ref(cx, m, vars),
	            qparam_ref(cx, n->in[QA_SCALE], qm->follow_a, vars),
	            qparam_ref(cx, n->in[QB_SCALE], qm->follow_b, vars)});
	lower_apply(cx, in, OP_Div, 3, (LoopArg[]){lower_ref(cx, m, vars), lower_ref(cx, m, vars),
	            ys});
	return true;
}

/* The multiplier as an operand of an epilogue over Y indexed by vars: a
 * literal when it is one constant. */
static LoopArg qmult_arg(LowerCx *cx, const QMult *qm, const int *vars)
{
	const LoopBuf *b;
	int idx[MAX_RANK];

	if (qm->buf < 0)
		return loop_lit_float(qm->lit);
	b = &cx->p->bufs[qm->buf];
	for (int d = 0; d < b->rank; d++)
		idx[d] = b->dims[d] == 1 ? loop_const(cx->p, 0) : vars[d];
	return lower_ref(cx, qm->buf, idx);
}

/*
 * y = saturate(round_even(acc * mult + y_zero_point)).  With a zero point
 * of constant 0 the sum is the product and `requantize` computes it; else
 * the product and sum go through f64 as the interpreter computes them.
 */
static void qlinear_store(LowerCx *cx, const Node *n, const MatShape *s, int y, int acc,
                          const QMult *qm)
{
	int vars[MAX_RANK], none[MAX_RANK], in, t, st;

	for (int j = 0; j < MAX_RANK; j++)
		none[j] = -1;
	if (lower_absent_or_zero(cx, n, QY_ZP)) {
		in = lower_buf_nest(cx, y, s->ynames, vars);
		st = lower_emit(cx, in, LN_REQUANTIZE, 4, (LoopArg[]){lower_ref(cx, y, vars),
		                lower_ref(cx, acc, vars), qmult_arg(cx, qm, vars),
		                loop_lit_int(0)});
		if (st >= 0)
			cx->p->nodes[st].round = LRND_EVEN;
		return;
	}
	t = lower_temp(cx, "scaled", DT_F64, 0, NULL);
	if (t < 0)
		return;
	in = lower_buf_nest(cx, y, s->ynames, vars);
	lower_apply(cx, in, OP_Mul, 3, (LoopArg[]){lower_ref(cx, t, NULL), lower_ref(cx, acc, vars),
	            qmult_arg(cx, qm, vars)});
	lower_apply(cx, in, OP_Add, 3, (LoopArg[]){lower_ref(cx, t, NULL), lower_ref(cx, t, NULL),
	            qparam_ref(cx, n->in[QY_ZP], none, vars)});
	st = lower_emit(cx, in, LN_QUANTIZE, 4, (LoopArg[]){lower_ref(cx, y, vars),
	                lower_ref(cx, t, NULL), loop_lit_float(1.0), loop_lit_int(0)});
	if (st >= 0)
		cx->p->nodes[st].round = LRND_EVEN;
}

static Status qlinear_matmul(LowerCx *cx, const Node *n, const MatShape *s)
{
	int a = minus_zero_point(cx, n, s, QA, QA_ZP, true);
	int b = minus_zero_point(cx, n, s, QB, QB_ZP, false);
	int y = lower_out(cx, n, 0), acc;
	bool ok;
	LoopBuf yb;
	bool consts = node_in(cx->g, n, QA_SCALE)->v.data && node_in(cx->g, n, QB_SCALE)->v.data &&
	              node_in(cx->g, n, QY_SCALE)->v.data;
	QMult qm;

	qmult_shape(cx, n, s, &qm);
	ok = consts ? qmult_const(cx, n, s, &qm) : qmult_computed(cx, n, s, &qm);
	TRY(loop_oom(cx->p));
	yb = cx->p->bufs[y];
	acc = lower_temp(cx, "acc", DT_I32, yb.rank, yb.dims);
	if (a < 0 || b < 0 || !ok || acc < 0)
		return diag_add(cx->p->diag, ST_NOMEM, "%s: out of memory", cx->p->path);
	product_nest(cx, s, acc, a, b);
	qlinear_store(cx, n, s, y, acc, &qm);
	return loop_oom(cx->p);
}

Status lower_matmul(LowerCx *cx, const Node *n)
{
	int ib = n->op == OP_QLinearMatMul ? QB : 1;
	MatShape s;

	TRY(check_sizes(cx, n));
	mat_shape(&node_in(cx->g, n, 0)->v, &node_in(cx->g, n, ib)->v, &node_out(cx->g, n, 0)->v, &s);
	if (n->op == OP_MatMul)
		return plain_matmul(cx, n, &s);
	if (n->op == OP_MatMulInteger)
		return matmul_integer(cx, n, &s);
	nnac_assert(n->op == OP_QLinearMatMul);
	return qlinear_matmul(cx, n, &s);
}
