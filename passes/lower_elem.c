/*
 * Lowering of the elementwise ops: the unary activations and math functions
 * (Relu ... Erf, Clip, Cast, Not, IsNaN, IsInf), the binary ops with
 * broadcasting (Add, Sub, Mul, Div, Pow, PRelu, the comparisons, And, Or,
 * Xor), Where (three operands, all broadcast), the variadic ones (Sum,
 * Max, Min, Mean), and the activation the graph fusion pass recorded on a
 * layer.
 *
 * Each becomes one nest over the output with one `apply` per element, whose
 * scalar semantics are the graph interpreter's own (ir/scalar.h): floats
 * compute in double and round once on store, integers take the exact path.
 * Operands are read through broadcasting references (a dimension of size 1
 * indexed by 0); before opset 7 the binary ops broadcast B onto the run of
 * A's dimensions that starts at `axis`, as ir/interp/elementwise.c does.
 *
 * Every lowering here works in place (input buffer == output buffer), as
 * the driver's fusion needs: an element is read before it is written, and
 * a variadic op's accumulation starts from the output itself when the
 * first input shares its buffer.
 */
#include "lower.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "interp/window.h"
#include "scalar.h"

#define LN2 0.693147180559945309417232121458176568

typedef struct ApplyAttrs {
	double alpha, beta, gamma;
} ApplyAttrs;

/* `apply dst = op(args...)` under parent, with attributes at. */
static int emit_apply(LowerCx *cx, int parent, OpKind op, LoopArg dst, const LoopArg *args,
                      int nargs, const ApplyAttrs *at)
{
	LoopArg all[LOOP_MAX_ARGS];
	int s;

	all[0] = dst;
	memcpy(all + 1, args, (size_t)nargs * sizeof(*args));
	s = lower_apply(cx, parent, op, nargs + 1, all);
	if (s >= 0) {
		cx->p->nodes[s].alpha = at->alpha;
		cx->p->nodes[s].beta = at->beta;
		cx->p->nodes[s].gamma = at->gamma;
	}
	return s;
}

/* The lowest and highest values of an integer (or bool) type, as int64
 * bit patterns (UINT64_MAX is -1: unsigned types compare unsigned). */
static void int_range(DType dt, int64_t *lo, int64_t *hi)
{
	int bits = 8 * dtype_size(dt);

	if (dt == DT_BOOL) {
		*lo = 0;
		*hi = 1;
	} else if (dtype_is_signed(dt)) {
		*lo = bits == 64 ? INT64_MIN : -((int64_t)1 << (bits - 1));
		*hi = bits == 64 ? INT64_MAX : ((int64_t)1 << (bits - 1)) - 1;
	} else {
		*lo = 0;
		*hi = bits == 64 ? -1 : ((int64_t)1 << bits) - 1;
	}
}

/* Attributes of op `op` as node a writes them, ONNX defaults else. */
static ApplyAttrs node_attrs(const Node *a, OpKind op)
{
	ApplyAttrs at;

	scalar_node_attrs(a, op, &at.alpha, &at.beta, &at.gamma);
	return at;
}

/* A one-element constant as a literal of X's kind. */
static LoopArg const_lit(const Value *v, DType x_dt)
{
	if (dtype_is_float(x_dt))
		return loop_lit_float(val_get_f64(v, 0));
	return loop_lit_int(val_get_i64(v, 0));
}

/*
 * Clip's bounds: attributes before opset 11 (float only); optional scalar
 * inputs from then on, a literal when constant, a reference otherwise.  An
 * absent bound is the type's extreme, so Clip stays a 3-operand apply.
 * *none: no bound at all (the node is the identity).
 */
static void clip_bounds(LowerCx *cx, const Node *a, DType dt, LoopArg *b, bool *none)
{
	int64_t ilo, ihi;

	*none = false;
	if (cx->g->opset < 11) {
		b[0] = loop_lit_float(attr_f(a, "min", -FLT_MAX));
		b[1] = loop_lit_float(attr_f(a, "max", FLT_MAX));
		return;
	}
	*none = !has_input(a, 1) && !has_input(a, 2);
	if (dtype_is_float(dt)) {
		b[0] = loop_lit_float(-INFINITY);
		b[1] = loop_lit_float(INFINITY);
	} else {
		int_range(dt, &ilo, &ihi);
		b[0] = loop_lit_int(ilo);
		b[1] = loop_lit_int(ihi);
	}
	for (int i = 1; i <= 2; i++) {
		const Tensor *t = node_in(cx->g, a, i);

		if (!t)
			continue;
		b[i - 1] = t->v.data ? const_lit(&t->v, dt)
		                     : lower_first_ref(cx, lower_buf(cx, a->in[i]));
	}
}

/*
 * y = op(x) elementwise, op's attributes and bounds from node a (the op's
 * own node: the lowered one, or the activation fused into a layer).
 */
static Status emit_unary(LowerCx *cx, const Node *a, OpKind op, int y, int x)
{
	int64_t dims[MAX_RANK];
	int rank = lower_buf_shape(cx, y, dims), vars[MAX_RANK], in, nargs = 1;
	ApplyAttrs at = node_attrs(a, op);
	LoopArg args[3];
	bool none = false;

	if (win_prod(dims, rank) == 0)
		return ST_OK;
	if (op == OP_Clip) {
		clip_bounds(cx, a, cx->p->bufs[x].dt, args + 1, &none);
		nargs = 3;
	}
	if (none) {
		if (x != y)
			lower_copy_elems(cx, y, x);
		return loop_oom(cx->p);
	}
	in = lower_elem_nest(cx, rank, dims, NULL, vars);
	args[0] = lower_ref(cx, x, vars);
	emit_apply(cx, in, op, lower_ref(cx, y, vars), args, nargs, &at);
	return loop_oom(cx->p);
}

/* One step of a whole-buffer computation: dst = op(a, b), where a and b
 * are buffers of dst's shape (>= 0) or the literals la, lb (buffer -1). */
static void step(LowerCx *cx, int dst, OpKind op, int a, double la, int b, double lb)
{
	static const ApplyAttrs none = {0, 0, 0};
	int64_t dims[MAX_RANK];
	int rank = lower_buf_shape(cx, dst, dims), vars[MAX_RANK];
	int in = lower_elem_nest(cx, rank, dims, NULL, vars);
	LoopArg args[2];

	args[0] = a >= 0 ? lower_ref(cx, a, vars) : loop_lit_float(la);
	args[1] = b >= 0 ? lower_ref(cx, b, vars) : loop_lit_float(lb);
	emit_apply(cx, in, op, lower_ref(cx, dst, vars), args, loop_apply_arity(op), &none);
}

/*
 * Float to bfloat16 before opset 19: the graph keeps the top 16 bits of the
 * float (truncation toward zero to 8 significant bits), while a store
 * rounds to nearest even.  So the value is truncated first, exactly, in f64
 * temporaries:
 *     e = clamp(floor(log2 |x|), -126, 127),  u = 2^(e - 7)   (the bf16 ulp)
 *     y = floor(|x| / u) * u * min(max(x * 2^200, -1), 1)     (sign of x)
 * and the store of that bf16 value is exact.  log2 may be off for an exact
 * power of two, whose truncation is exact either way; infinities keep
 * their sign through the clamps.  A double input is first rounded to f32,
 * as the graph's conversion does.
 */
static void cast_bf16_truncate(LowerCx *cx, int y, int x)
{
	int64_t dims[MAX_RANK];
	int rank = lower_buf_shape(cx, y, dims), a, u, src = x;

	if (cx->p->bufs[x].dt == DT_F64) {
		src = lower_temp(cx, "cast_f32", DT_F32, rank, dims);
		step(cx, src, OP_Cast, x, 0, -1, 0);
	}
	a = lower_temp(cx, "cast_abs", DT_F64, rank, dims);
	u = lower_temp(cx, "cast_ulp", DT_F64, rank, dims);
	step(cx, a, OP_Abs, src, 0, -1, 0);
	step(cx, u, OP_Log, a, 0, -1, 0);
	step(cx, u, OP_Div, u, 0, -1, LN2);
	step(cx, u, OP_Floor, u, 0, -1, 0);
	step(cx, u, OP_Max, u, 0, -1, -126);
	step(cx, u, OP_Min, u, 0, -1, 127);
	step(cx, u, OP_Sub, u, 0, -1, 7);
	step(cx, u, OP_Pow, -1, 2.0, u, 0);
	step(cx, a, OP_Div, a, 0, u, 0);
	step(cx, a, OP_Floor, a, 0, -1, 0);
	step(cx, a, OP_Mul, a, 0, u, 0);
	step(cx, u, OP_Mul, src, 0, -1, 0x1p200);
	step(cx, u, OP_Max, u, 0, -1, -1.0);
	step(cx, u, OP_Min, u, 0, -1, 1.0);
	step(cx, y, OP_Mul, a, 0, u, 0);
}

/*
 * Float to bfloat16 from opset 19 on rounds to nearest even, which is what
 * a store into bf16 does; an apply Cast into bf16 is refused by the
 * verifier (its meaning would depend on the opset), so the value is stored
 * through an exact multiplication by one, which keeps -0, infinities and
 * NaN.  A double input is first rounded to f32, as the graph's conversion
 * does.
 */
static void cast_bf16_round(LowerCx *cx, int y, int x)
{
	int64_t dims[MAX_RANK];
	int rank = lower_buf_shape(cx, y, dims), src = x;

	if (cx->p->bufs[x].dt == DT_F64) {
		src = lower_temp(cx, "cast_f32", DT_F32, rank, dims);
		step(cx, src, OP_Cast, x, 0, -1, 0);
	}
	step(cx, y, OP_Mul, src, 0, -1, 1.0);
}

/*
 * Cast: the conversion happens on store, as the graph's Cast does; float to
 * bfloat16 truncates before opset 19 (cast_bf16_truncate) and rounds from
 * then on (cast_bf16_round).
 */
static Status lower_cast(LowerCx *cx, const Node *n)
{
	int x = lower_buf(cx, n->in[0]), y = lower_out(cx, n, 0);
	DType from = cx->p->bufs[x].dt, to = cx->p->bufs[y].dt;
	int64_t dims[MAX_RANK];
	int rank = lower_buf_shape(cx, y, dims);

	if (win_prod(dims, rank) == 0)
		return ST_OK;
	if (from == to) {
		lower_copy_elems(cx, y, x);
		return loop_oom(cx->p);
	}
	if (to == DT_BF16 && dtype_is_float(from)) {
		if (cx->g->opset < 19)
			cast_bf16_truncate(cx, y, x);
		else
			cast_bf16_round(cx, y, x);
		return loop_oom(cx->p);
	}
	return emit_unary(cx, n, OP_Cast, y, x);
}

Status lower_unary(LowerCx *cx, const Node *n)
{
	if (n->op == OP_Cast || n->op == OP_CastLike)
		return lower_cast(cx, n);
	return emit_unary(cx, n, n->op, lower_out(cx, n, 0), lower_buf(cx, n->in[0]));
}

Status lower_fused_act(LowerCx *cx, const Node *n)
{
	int y = lower_out(cx, n, 0);

	return emit_unary(cx, &cx->g->nodes[n->fused_node], n->fused_act, y, y);
}

/* Binary ops, and Where. */

/*
 * Opset < 7 broadcasting of B (buffer b) onto A of rank a_rank: B's dims
 * line up with A's from axis on; a one-element B is a scalar whatever its
 * shape.
 */
static LoopArg legacy_ref(LowerCx *cx, int b, int a_rank, int64_t axis, const int *vars)
{
	const LoopBuf *lb = &cx->p->bufs[b];
	int idx[MAX_RANK], rank = lb->rank;
	bool scalar = loop_buf_numel(lb) == 1;
	bool one[MAX_RANK];

	if (axis < 0)
		axis += a_rank;
	for (int j = 0; j < rank; j++)
		one[j] = lb->dims[j] == 1;
	for (int j = 0; j < rank; j++)
		idx[j] = scalar || one[j] ? loop_const(cx->p, 0) : vars[axis + j];
	return lower_ref(cx, b, idx);
}

static bool same_dims(LowerCx *cx, int a, int b)
{
	const LoopBuf *x = &cx->p->bufs[a], *y = &cx->p->bufs[b];

	return x->rank == y->rank && memcmp(x->dims, y->dims, (size_t)x->rank * sizeof(int64_t)) == 0;
}

/* Input k of n as an operand of the output nest (rank out_rank, vars). */
static LoopArg operand_ref(LowerCx *cx, const Node *n, int k, int out_rank, const int *vars)
{
	int b = lower_buf(cx, n->in[k]);
	const LoopBuf *lb = &cx->p->bufs[b];

	if (cx->g->opset < 7 && k == 1) {
		if (n->op == OP_PRelu) {
			int64_t axis = out_rank >= 2 && lb->rank == 1 ? 1 : out_rank - lb->rank;
			return legacy_ref(cx, b, out_rank, axis, vars);
		}
		if (attr_i(n, "broadcast", 0))
			return legacy_ref(cx, b, out_rank, attr_i(n, "axis", out_rank - lb->rank), vars);
	}
	if (lb->rank == out_rank && same_dims(cx, b, lower_out(cx, n, 0)))
		return lower_ref(cx, b, vars);
	return lower_bcast_ref(cx, b, out_rank, vars);
}

static bool is_variadic(OpKind op)
{
	return op == OP_Sum || op == OP_Max || op == OP_Min || op == OP_Mean;
}

/* The two-operand op that folds one more input into a variadic result. */
static OpKind fold_op(OpKind op)
{
	return op == OP_Sum || op == OP_Mean ? OP_Add : op;
}

/*
 * Variadic Sum, Max, Min, Mean: y = x0 op x1 op ... in input order, then
 * Mean divides by the count.  When x0 shares y's buffer (fusion) the
 * accumulation starts from y itself.
 */
static void emit_variadic(LowerCx *cx, const Node *n, int y, int rank, const int64_t *dims)
{
	static const ApplyAttrs none = {0, 0, 0};
	OpKind op = fold_op(n->op);
	int vars[MAX_RANK], in, k = 1;
	LoopArg args[2];

	if (n->nin == 1 || lower_buf(cx, n->in[0]) == y) {
		if (lower_buf(cx, n->in[0]) != y) {
			in = lower_elem_nest(cx, rank, dims, NULL, vars);
			lower_emit2(cx, in, LN_COPY, lower_ref(cx, y, vars),
			            operand_ref(cx, n, 0, rank, vars));
		}
	} else {
		in = lower_elem_nest(cx, rank, dims, NULL, vars);
		args[0] = operand_ref(cx, n, 0, rank, vars);
		args[1] = operand_ref(cx, n, 1, rank, vars);
		emit_apply(cx, in, op, lower_ref(cx, y, vars), args, 2, &none);
		k = 2;
	}
	for (; k < n->nin; k++) {
		in = lower_elem_nest(cx, rank, dims, NULL, vars);
		args[0] = lower_ref(cx, y, vars);
		args[1] = operand_ref(cx, n, k, rank, vars);
		emit_apply(cx, in, op, lower_ref(cx, y, vars), args, 2, &none);
	}
	if (n->op == OP_Mean && n->nin > 1) {
		in = lower_elem_nest(cx, rank, dims, NULL, vars);
		args[0] = lower_ref(cx, y, vars);
		args[1] = loop_lit_float((double)n->nin);
		emit_apply(cx, in, OP_Div, lower_ref(cx, y, vars), args, 2, &none);
	}
}

/* Whether n is Pow of a float by a constant 2, lowered as x * x: the
 * square of a float is the value pow gives (exact in double for f32 and
 * narrower, correctly rounded for f64), without a call of libm's pow per
 * element (the square in RMSNorm as exporters write it). */
static bool pow_square(const LowerCx *cx, const Node *n)
{
	const Value *e = n->nin > 1 && n->in[1] >= 0 ? &cx->g->tensors[n->in[1]].v : NULL;

	return n->op == OP_Pow && e && e->data && val_numel(e) == 1 && val_get_f64(e, 0) == 2.0 &&
	       dtype_is_float(cx->g->tensors[n->in[0]].v.dt);
}

Status lower_binary(LowerCx *cx, const Node *n)
{
	ApplyAttrs at = node_attrs(n, n->op);
	int y = lower_out(cx, n, 0), vars[MAX_RANK], in, nargs = loop_apply_arity(n->op);
	int64_t dims[MAX_RANK];
	int rank = lower_buf_shape(cx, y, dims);
	LoopArg args[3];

	if (win_prod(dims, rank) == 0)
		return ST_OK;
	if (is_variadic(n->op)) {
		emit_variadic(cx, n, y, rank, dims);
		return loop_oom(cx->p);
	}
	in = lower_elem_nest(cx, rank, dims, NULL, vars);
	if (pow_square(cx, n)) {
		args[0] = args[1] = operand_ref(cx, n, 0, rank, vars);
		emit_apply(cx, in, OP_Mul, lower_ref(cx, y, vars), args, 2, &at);
		return loop_oom(cx->p);
	}
	for (int k = 0; k < nargs; k++)
		args[k] = operand_ref(cx, n, k, rank, vars);
	emit_apply(cx, in, n->op, lower_ref(cx, y, vars), args, nargs, &at);
	return loop_oom(cx->p);
}
