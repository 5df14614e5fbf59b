/*
 * Reference kernels for the elementwise ops: the unary activations and math
 * functions (Relu ... Erf, Sign, Round, the trigonometric and hyperbolic
 * functions, Gelu ... Shrink), the binary ops with NumPy broadcasting (Add,
 * Sub, Mul, Div, Pow, PRelu, Mod, BitShift, BitwiseAnd, BitwiseOr,
 * BitwiseXor; BitwiseNot is unary), the variadic ones (Sum, Max,
 * Min, Mean), the predicates, whose result is a bool (Equal ... Xor, Not,
 * IsNaN, IsInf), and Where, which broadcasts all three of its inputs.
 *
 * Both families are table driven: each op contributes one scalar function
 * per number kind, and a single loop per family applies it.  Floating-point
 * work runs in double and rounds once on store.  Integer element types take
 * the exact path (64-bit arithmetic done unsigned so it wraps the way the
 * element type does, then truncated to the element width on store) whenever
 * the op has one; integer Div truncates toward zero like C.  Bools take the
 * integer path too, and a predicate of integers compares them exactly.
 *
 * The loop IR's `apply` reuses the same scalar functions one element at a
 * time (ir/scalar.h, at the end of this file).
 *
 * Per-opset differences: before opset 7 the binary ops broadcast only when
 * `broadcast`=1, and then only B onto a contiguous run of A's dims starting
 * at `axis` (PRelu's slope likewise lines up with the channel axis); before
 * opset 8 the variadic ops need equal shapes; Clip's bounds are attributes
 * before opset 11 and optional scalar inputs from then on.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "loop.h"
#include "op.h"
#include "scalar.h"

typedef struct Params {
	double alpha, beta, gamma;  /* attributes, ONNX defaults filled in */
	bool has_lo, has_hi;        /* Clip bounds present */
	double lo, hi;              /* Clip bounds, float types */
	int64_t ilo, ihi;           /* Clip bounds, integer types */
	bool uns;                   /* element type is unsigned */
} Params;

typedef struct UnaryOp {
	unsigned types;             /* DTM_* accepted for X */
	double (*f)(double x, const Params *p);
	int64_t (*fi)(int64_t x, const Params *p);  /* exact integer form or NULL */
	double alpha, beta, gamma;  /* attribute defaults */
	bool pred;                  /* the result is a bool (IsNaN...) */
} UnaryOp;

typedef struct BinaryOp {
	unsigned types;             /* DTM_* accepted for the inputs */
	double (*f)(double a, double b);
	int64_t (*fi)(int64_t a, int64_t b, const Params *p);
	bool variadic;
	bool pred;                  /* the result is a bool (Equal...) */
	bool legacy;                /* before opset 7: `broadcast` and `axis` */
} BinaryOp;

/* Integers and bools take the exact integer path where an op has one. */
static bool int_like(DType dt)
{
	return dtype_is_int(dt) || dt == DT_BOOL;
}

static bool ilt(int64_t a, int64_t b, bool uns)
{
	return uns ? (uint64_t)a < (uint64_t)b : a < b;
}

/* NaN passes through, as np.clip and np.maximum let it. */
static double clamp(double x, double lo, double hi)
{
	return x < lo ? lo : x > hi ? hi : x;
}

/* Unary scalar functions. */

static double u_relu(double x, const Params *p) { (void)p; return x < 0 ? 0 : x; }
static double u_leaky(double x, const Params *p) { return x < 0 ? p->alpha * x : x; }
static double u_sigmoid(double x, const Params *p) { (void)p; return 1 / (1 + exp(-x)); }
static double u_tanh(double x, const Params *p) { (void)p; return tanh(x); }
static double u_exp(double x, const Params *p) { (void)p; return exp(x); }
static double u_log(double x, const Params *p) { (void)p; return log(x); }
static double u_sqrt(double x, const Params *p) { (void)p; return sqrt(x); }
static double u_neg(double x, const Params *p) { (void)p; return -x; }
static double u_abs(double x, const Params *p) { (void)p; return fabs(x); }
static double u_recip(double x, const Params *p) { (void)p; return 1 / x; }
static double u_floor(double x, const Params *p) { (void)p; return floor(x); }
static double u_ceil(double x, const Params *p) { (void)p; return ceil(x); }
static double u_erf(double x, const Params *p) { (void)p; return erf(x); }
static double u_softsign(double x, const Params *p) { (void)p; return x / (1 + fabs(x)); }
static double u_not(double x, const Params *p) { (void)p; return x == 0; }
static double u_sin(double x, const Params *p) { (void)p; return sin(x); }
static double u_cos(double x, const Params *p) { (void)p; return cos(x); }
static double u_tan(double x, const Params *p) { (void)p; return tan(x); }
static double u_asin(double x, const Params *p) { (void)p; return asin(x); }
static double u_acos(double x, const Params *p) { (void)p; return acos(x); }
static double u_atan(double x, const Params *p) { (void)p; return atan(x); }
static double u_sinh(double x, const Params *p) { (void)p; return sinh(x); }
static double u_cosh(double x, const Params *p) { (void)p; return cosh(x); }
static double u_asinh(double x, const Params *p) { (void)p; return asinh(x); }
static double u_acosh(double x, const Params *p) { (void)p; return acosh(x); }
static double u_atanh(double x, const Params *p) { (void)p; return atanh(x); }
static double u_round(double x, const Params *p) { (void)p; return nearbyint(x); }
static double u_sign(double x, const Params *p) { (void)p; return x > 0 ? 1 : x < 0 ? -1 : x; }
static double u_isnan(double x, const Params *p) { (void)p; return isnan(x); }

/* IsInf: alpha is detect_negative, beta detect_positive. */
static double u_isinf(double x, const Params *p)
{
	return isinf(x) && (x < 0 ? p->alpha != 0 : p->beta != 0);
}

static double u_hardsigmoid(double x, const Params *p)
{
	return clamp(p->alpha * x + p->beta, 0, 1);
}

static double u_hardswish(double x, const Params *p)
{
	(void)p;
	return x * clamp(x / 6 + 0.5, 0, 1);
}

static double u_elu(double x, const Params *p)
{
	return x < 0 ? p->alpha * expm1(x) : x;
}

static double u_selu(double x, const Params *p)
{
	return p->gamma * (x <= 0 ? p->alpha * expm1(x) : x);
}

/* log(1 + e^x) without overflowing e^x for large x. */
static double u_softplus(double x, const Params *p)
{
	(void)p;
	return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
}

#define SQRT1_2 0.707106781186547524400844362104849039
#define SQRT_2_PI 0.797884560802865355879892119868763737

/* alpha 0: x * Phi(x) exactly (erf); 1: the tanh approximation. */
static double u_gelu(double x, const Params *p)
{
	if (p->alpha != 0)
		return 0.5 * x * (1 + tanh(SQRT_2_PI * (x + 0.044715 * x * x * x)));
	return 0.5 * x * (1 + erf(x * SQRT1_2));
}

static double u_mish(double x, const Params *p) { return x * tanh(u_softplus(x, p)); }
static double u_swish(double x, const Params *p) { return x / (1 + exp(-p->alpha * x)); }
static double u_thresholded(double x, const Params *p) { return x > p->alpha ? x : 0; }

/* max(0, x) + min(0, alpha * expm1(x / alpha)): one of the two is 0 for
 * alpha > 0, and NaN passes through. */
static double u_celu(double x, const Params *p)
{
	return x > 0 ? x : p->alpha * expm1(x / p->alpha);
}

/* alpha is lambd, beta bias. */
static double u_shrink(double x, const Params *p)
{
	return x < -p->alpha ? x + p->beta : x > p->alpha ? x - p->beta : 0;
}

static double u_clip(double x, const Params *p)
{
	if (p->has_lo && x < p->lo)
		x = p->lo;
	if (p->has_hi && x > p->hi)
		x = p->hi;
	return x;
}

static int64_t i_relu(int64_t x, const Params *p) { return !p->uns && x < 0 ? 0 : x; }
static int64_t i_not(int64_t x, const Params *p) { (void)p; return x == 0; }
static int64_t i_sign(int64_t x, const Params *p) { return p->uns ? x != 0 : (x > 0) - (x < 0); }
static int64_t i_neg(int64_t x, const Params *p) { (void)p; return (int64_t)(0 - (uint64_t)x); }
/* The store truncates to the element width, so ~ on 64 bits is exact for
 * every integer type, signed or not. */
static int64_t i_bnot(int64_t x, const Params *p) { (void)p; return (int64_t)~(uint64_t)x; }

static int64_t i_abs(int64_t x, const Params *p)
{
	return !p->uns && x < 0 ? (int64_t)(0 - (uint64_t)x) : x;
}

static int64_t i_clip(int64_t x, const Params *p)
{
	if (p->has_lo && ilt(x, p->ilo, p->uns))
		x = p->ilo;
	if (p->has_hi && ilt(p->ihi, x, p->uns))
		x = p->ihi;
	return x;
}

#define SELU_ALPHA 1.67326319217681884765625
#define SELU_GAMMA 1.05070102214813232421875

static const UnaryOp unary_ops[OP_COUNT] = {
	[OP_Relu] = {DTM_FLOAT | DTM_SINT, u_relu, i_relu, 0, 0, 0},
	[OP_LeakyRelu] = {DTM_FLOAT, u_leaky, NULL, 0.01, 0, 0},
	[OP_Sigmoid] = {DTM_FLOAT, u_sigmoid, NULL, 0, 0, 0},
	[OP_Tanh] = {DTM_FLOAT, u_tanh, NULL, 0, 0, 0},
	[OP_HardSigmoid] = {DTM_FLOAT, u_hardsigmoid, NULL, 0.2, 0.5, 0},
	[OP_HardSwish] = {DTM_FLOAT, u_hardswish, NULL, 0, 0, 0},
	[OP_Clip] = {DTM_NUM, u_clip, i_clip, 0, 0, 0},
	[OP_Elu] = {DTM_FLOAT, u_elu, NULL, 1.0, 0, 0},
	[OP_Selu] = {DTM_FLOAT, u_selu, NULL, SELU_ALPHA, 0, SELU_GAMMA},
	[OP_Softplus] = {DTM_FLOAT, u_softplus, NULL, 0, 0, 0},
	[OP_Softsign] = {DTM_FLOAT, u_softsign, NULL, 0, 0, 0},
	[OP_Exp] = {DTM_FLOAT, u_exp, NULL, 0, 0, 0},
	[OP_Log] = {DTM_FLOAT, u_log, NULL, 0, 0, 0},
	[OP_Sqrt] = {DTM_FLOAT, u_sqrt, NULL, 0, 0, 0},
	[OP_Neg] = {DTM_FLOAT | DTM_SINT, u_neg, i_neg, 0, 0, 0},
	[OP_Abs] = {DTM_NUM, u_abs, i_abs, 0, 0, 0},
	[OP_Reciprocal] = {DTM_FLOAT, u_recip, NULL, 0, 0, 0},
	[OP_Floor] = {DTM_FLOAT, u_floor, NULL, 0, 0, 0},
	[OP_Ceil] = {DTM_FLOAT, u_ceil, NULL, 0, 0, 0},
	[OP_Erf] = {DTM_NUM, u_erf, NULL, 0, 0, 0},
	[OP_Not] = {DTM(BOOL), u_not, i_not, 0, 0, 0, true},
	[OP_IsNaN] = {DTM_FLOAT, u_isnan, NULL, 0, 0, 0, true},
	[OP_IsInf] = {DTM_FLOAT, u_isinf, NULL, 1, 1, 0, true},
	[OP_Sign] = {DTM_NUM, u_sign, i_sign, 0, 0, 0},
	[OP_Round] = {DTM_FLOAT, u_round, NULL, 0, 0, 0},
	[OP_Sin] = {DTM_FLOAT, u_sin, NULL, 0, 0, 0},
	[OP_Cos] = {DTM_FLOAT, u_cos, NULL, 0, 0, 0},
	[OP_Tan] = {DTM_FLOAT, u_tan, NULL, 0, 0, 0},
	[OP_Asin] = {DTM_FLOAT, u_asin, NULL, 0, 0, 0},
	[OP_Acos] = {DTM_FLOAT, u_acos, NULL, 0, 0, 0},
	[OP_Atan] = {DTM_FLOAT, u_atan, NULL, 0, 0, 0},
	[OP_Sinh] = {DTM_FLOAT, u_sinh, NULL, 0, 0, 0},
	[OP_Cosh] = {DTM_FLOAT, u_cosh, NULL, 0, 0, 0},
	[OP_Asinh] = {DTM_FLOAT, u_asinh, NULL, 0, 0, 0},
	[OP_Acosh] = {DTM_FLOAT, u_acosh, NULL, 0, 0, 0},
	[OP_Atanh] = {DTM_FLOAT, u_atanh, NULL, 0, 0, 0},
	[OP_Gelu] = {DTM_FLOAT, u_gelu, NULL, 0, 0, 0},
	[OP_Mish] = {DTM_FLOAT, u_mish, NULL, 0, 0, 0},
	[OP_ThresholdedRelu] = {DTM_FLOAT, u_thresholded, NULL, 1.0, 0, 0},
	[OP_Celu] = {DTM_FLOAT, u_celu, NULL, 1.0, 0, 0},
	[OP_Shrink] = {DTM_FLOAT, u_shrink, NULL, 0.5, 0, 0},
	[OP_Swish] = {DTM_FLOAT, u_swish, NULL, 1.0, 0, 0},
	[OP_BitwiseNot] = {DTM_INT, NULL, i_bnot, 0, 0, 0},
};

/* Clip bounds: attributes before opset 11 (float only), inputs after. */
static void clip_bounds(int64_t opset, const Node *n, const Value *const *in, Params *p)
{
	if (opset < 11) {
		p->has_lo = p->has_hi = true;
		p->lo = attr_f(n, "min", -FLT_MAX);
		p->hi = attr_f(n, "max", FLT_MAX);
		return;
	}
	if (n->nin > 1 && in[1]) {
		p->has_lo = true;
		p->lo = val_get_f64(in[1], 0);
		p->ilo = val_get_i64(in[1], 0);
	}
	if (n->nin > 2 && in[2]) {
		p->has_hi = true;
		p->hi = val_get_f64(in[2], 0);
		p->ihi = val_get_i64(in[2], 0);
	}
}

static void unary_params(int64_t opset, const Node *n, const Value *const *in, Params *p)
{
	memset(p, 0, sizeof(*p));
	scalar_node_attrs(n, n->op, &p->alpha, &p->beta, &p->gamma);
	p->uns = !dtype_is_signed(in[0]->dt);
	if (n->op == OP_Clip)
		clip_bounds(opset, n, in, p);
}

/* X's type and shape, or its shape with bool elements for a predicate. */
static Status infer_result(Graph *g, Node *n, bool pred)
{
	const Tensor *x = node_in(g, n, 0);

	if (!pred)
		return infer_same(g, n);
	infer_out(g, n, 0, DT_BOOL, x->v.rank, x->v.dims);
	return ST_OK;
}

static Status unary_infer(Graph *g, Node *n)
{
	const char *approx = attr_s(n, "approximate", "none");
	Status st = infer_nin(g, n, 1, 1);

	if (st == ST_OK)
		st = infer_dtype(g, n, 0, unary_ops[n->op].types);
	if (st == ST_OK && n->op == OP_Gelu && strcmp(approx, "none") != 0 &&
	    strcmp(approx, "tanh") != 0)
		return node_error(g, n, ST_INVALID, "approximate is '%s', not none or tanh", approx);
	return st == ST_OK ? infer_result(g, n, unary_ops[n->op].pred) : st;
}

/* A Clip bound input: X's element type, one element. */
static Status clip_bound_check(Graph *g, const Node *n, int i)
{
	const Tensor *x = node_in(g, n, 0), *b = node_in(g, n, i);
	char buf[64];

	if (!b)
		return ST_OK;
	if (b->v.dt != x->v.dt)
		return node_error(g, n, ST_INVALID, "input '%s' is %s but X is %s",
		                  b->name, dtype_name(b->v.dt), dtype_name(x->v.dt));
	if (val_known(&b->v) && val_numel(&b->v) != 1)
		return node_error(g, n, ST_INVALID, "bound '%s' is %s, not a scalar",
		                  b->name, val_type_str(&b->v, buf, sizeof(buf)));
	return ST_OK;
}

static Status clip_infer(Graph *g, Node *n)
{
	Status st;

	if (g->opset < 11) {
		if ((st = infer_nin(g, n, 1, 1)) || (st = infer_dtype(g, n, 0, DTM_FLOAT)))
			return st;
		return infer_same(g, n);
	}
	if (attr_find(n, "min") || attr_find(n, "max"))
		return node_error(g, n, ST_INVALID,
		                  "attributes 'min' and 'max' became inputs in opset 11");
	if ((st = infer_nin(g, n, 1, 3)) || (st = infer_dtype(g, n, 0, DTM_NUM)))
		return st;
	if ((st = clip_bound_check(g, n, 1)) || (st = clip_bound_check(g, n, 2)))
		return st;
	return infer_same(g, n);
}

static Status unary_eval(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out)
{
	const UnaryOp *u = &unary_ops[n->op];
	int64_t len = val_numel(in[0]);
	Params p;
	double *x;

	nnac_assert(u->f || u->fi);
	unary_params(cx->g->opset, n, in, &p);
	if (u->fi && (int_like(in[0]->dt) || !u->f)) {
		for (int64_t i = 0; i < len; i++)
			val_set_i64(out[0], i, u->fi(val_get_i64(in[0], i), &p));
		return ST_OK;
	}
	x = val_to_f64(cx->scratch, in[0]);
	if (!x)
		return eval_oom(cx, n);
	for (int64_t i = 0; i < len; i++)
		x[i] = u->f(x[i], &p);
	val_from_f64(out[0], x);
	return ST_OK;
}

/* Binary scalar functions. */

static double b_add(double a, double b) { return a + b; }
static double b_sub(double a, double b) { return a - b; }
static double b_mul(double a, double b) { return a * b; }
static double b_div(double a, double b) { return a / b; }
static double b_pow(double a, double b) { return pow(a, b); }
static double b_prelu(double x, double s) { return x < 0 ? s * x : x; }

static double b_max(double a, double b)
{
	return isnan(a) || a > b ? a : b;
}

static double b_min(double a, double b)
{
	return isnan(a) || a < b ? a : b;
}

static double b_eq(double a, double b) { return a == b; }
static double b_lt(double a, double b) { return a < b; }
static double b_gt(double a, double b) { return a > b; }
static double b_le(double a, double b) { return a <= b; }
static double b_ge(double a, double b) { return a >= b; }
static double b_and(double a, double b) { return a != 0 && b != 0; }
static double b_or(double a, double b) { return a != 0 || b != 0; }
static double b_xor(double a, double b) { return (a != 0) != (b != 0); }

static double b_fmod(double a, double b) { return fmod(a, b); }

static int64_t wrap(uint64_t x) { return (int64_t)x; }

static int64_t i_add(int64_t a, int64_t b, const Params *p) { (void)p; return wrap((uint64_t)a + (uint64_t)b); }
static int64_t i_sub(int64_t a, int64_t b, const Params *p) { (void)p; return wrap((uint64_t)a - (uint64_t)b); }
static int64_t i_mul(int64_t a, int64_t b, const Params *p) { (void)p; return wrap((uint64_t)a * (uint64_t)b); }
static int64_t i_max(int64_t a, int64_t b, const Params *p) { return ilt(a, b, p->uns) ? b : a; }
static int64_t i_min(int64_t a, int64_t b, const Params *p) { return ilt(b, a, p->uns) ? b : a; }
static int64_t i_eq(int64_t a, int64_t b, const Params *p) { (void)p; return a == b; }
static int64_t i_lt(int64_t a, int64_t b, const Params *p) { return ilt(a, b, p->uns); }
static int64_t i_gt(int64_t a, int64_t b, const Params *p) { return ilt(b, a, p->uns); }
static int64_t i_le(int64_t a, int64_t b, const Params *p) { return !ilt(b, a, p->uns); }
static int64_t i_ge(int64_t a, int64_t b, const Params *p) { return !ilt(a, b, p->uns); }
static int64_t i_and(int64_t a, int64_t b, const Params *p) { (void)p; return a != 0 && b != 0; }
static int64_t i_or(int64_t a, int64_t b, const Params *p) { (void)p; return a != 0 || b != 0; }
static int64_t i_xor(int64_t a, int64_t b, const Params *p) { (void)p; return (a != 0) != (b != 0); }
static int64_t i_band(int64_t a, int64_t b, const Params *p) { (void)p; return a & b; }
static int64_t i_bor(int64_t a, int64_t b, const Params *p) { (void)p; return a | b; }
static int64_t i_bxor(int64_t a, int64_t b, const Params *p) { (void)p; return a ^ b; }

static int64_t i_prelu(int64_t x, int64_t s, const Params *p)
{
	return !p->uns && x < 0 ? i_mul(s, x, p) : x;
}

/* Truncates toward zero; x / 0 gives 0 rather than trapping. */
static int64_t i_div(int64_t a, int64_t b, const Params *p)
{
	if (b == 0)
		return 0;
	if (p->uns)
		return wrap((uint64_t)a / (uint64_t)b);
	if (b == -1)
		return wrap(0 - (uint64_t)a);
	return a / b;
}

/*
 * The remainder with the divisor's sign (alpha, fmod, 0) or the dividend's
 * (fmod 1, C's %); x mod 0 gives 0, as x / 0 does.
 */
static int64_t i_mod(int64_t a, int64_t b, const Params *p)
{
	int64_t r;

	if (b == 0)
		return 0;
	if (p->uns)
		return wrap((uint64_t)a % (uint64_t)b);
	if (b == -1)
		return 0;
	r = a % b;
	if (p->alpha == 0 && r != 0 && (r < 0) != (b < 0))
		r += b;
	return r;
}

/* X << Y (alpha 0) or X >> Y (alpha 1, RIGHT) on unsigned values; a shift
 * by 64 or more gives 0. */
static int64_t i_shift(int64_t a, int64_t b, const Params *p)
{
	uint64_t n = (uint64_t)b;

	if (n >= 64)
		return 0;
	return wrap(p->alpha != 0 ? (uint64_t)a >> n : (uint64_t)a << n);
}

/* Square-and-multiply, wrapping; a negative exponent truncates 1 / a^-b. */
static int64_t i_pow(int64_t a, int64_t b, const Params *p)
{
	uint64_t r = 1, base = (uint64_t)a;

	(void)p;
	if (b < 0)
		return a == 1 ? 1 : a == -1 ? ((b & 1) ? -1 : 1) : 0;
	for (uint64_t e = (uint64_t)b; e; e >>= 1) {
		if (e & 1)
			r *= base;
		base *= base;
	}
	return wrap(r);
}

#define DTM_PRELU (DTM_FLOAT | DTM(I32) | DTM(I64) | DTM(U32) | DTM(U64))

static const BinaryOp binary_ops[OP_COUNT] = {
	[OP_Add] = {DTM_NUM, b_add, i_add, false, false, true},
	[OP_Sub] = {DTM_NUM, b_sub, i_sub, false, false, true},
	[OP_Mul] = {DTM_NUM, b_mul, i_mul, false, false, true},
	[OP_Div] = {DTM_NUM, b_div, i_div, false, false, true},
	[OP_Pow] = {DTM_NUM, b_pow, i_pow, false, false, true},
	[OP_PRelu] = {DTM_PRELU, b_prelu, i_prelu, false, false, false},
	[OP_Sum] = {DTM_FLOAT, b_add, i_add, true, false, false},
	[OP_Max] = {DTM_NUM, b_max, i_max, true, false, false},
	[OP_Min] = {DTM_NUM, b_min, i_min, true, false, false},
	[OP_Mean] = {DTM_FLOAT, b_add, i_add, true, false, false},
	[OP_Equal] = {DTM_ALL, b_eq, i_eq, false, true, true},
	[OP_Less] = {DTM_NUM, b_lt, i_lt, false, true, true},
	[OP_Greater] = {DTM_NUM, b_gt, i_gt, false, true, true},
	[OP_LessOrEqual] = {DTM_NUM, b_le, i_le, false, true, false},
	[OP_GreaterOrEqual] = {DTM_NUM, b_ge, i_ge, false, true, false},
	[OP_And] = {DTM(BOOL), b_and, i_and, false, true, true},
	[OP_Or] = {DTM(BOOL), b_or, i_or, false, true, true},
	[OP_Xor] = {DTM(BOOL), b_xor, i_xor, false, true, true},
	[OP_Mod] = {DTM_NUM, b_fmod, i_mod, false, false, false},
	[OP_BitShift] = {DTM_UINT, NULL, i_shift, false, false, false},
	[OP_BitwiseAnd] = {DTM_INT, NULL, i_band, false, false, false},
	[OP_BitwiseOr] = {DTM_INT, NULL, i_bor, false, false, false},
	[OP_BitwiseXor] = {DTM_INT, NULL, i_bxor, false, false, false},
};

static bool has_legacy_attrs(OpKind op)
{
	return binary_ops[op].legacy;
}

/*
 * Opset < 7 broadcasting of B onto A: B's dims line up with A's from axis
 * on, each equal or 1.  The view pads B with 1s to A's rank so the NumPy
 * loop applies unchanged; a one-element B is a scalar whatever its shape.
 */
static bool legacy_view(const Value *a, const Value *b, int64_t axis, Value *view)
{
	*view = *b;
	if (val_numel(b) == 1) {
		view->rank = 0;
		return true;
	}
	if (axis < 0)
		axis += a->rank;
	if (axis < 0 || axis + b->rank > a->rank)
		return false;
	view->rank = a->rank;
	for (int i = 0; i < a->rank; i++)
		view->dims[i] = 1;
	for (int j = 0; j < b->rank; j++) {
		if (b->dims[j] != a->dims[axis + j] && b->dims[j] != 1)
			return false;
		view->dims[axis + j] = b->dims[j];
	}
	return true;
}

/*
 * Input k as the broadcast loop sees it.  Legacy broadcasting applies to
 * input 1 of the binary ops before opset 7; PRelu-6's slope is per channel
 * (axis 1) when it is a vector.  False: the legacy shapes do not line up.
 */
static bool operand(int64_t opset, const Node *n, const Value *a, const Value *b, int k,
                    Value *view)
{
	*view = *b;
	if (opset >= 7 || k != 1)
		return true;
	if (n->op == OP_PRelu) {
		int64_t axis = a->rank >= 2 && b->rank == 1 ? 1 : a->rank - b->rank;
		return legacy_view(a, b, axis, view);
	}
	if (has_legacy_attrs(n->op) && attr_i(n, "broadcast", 0))
		return legacy_view(a, b, attr_i(n, "axis", a->rank - b->rank), view);
	return true;
}

/* Whether the opset's rules need input k's shape to equal A's. */
static bool needs_same_shape(int64_t opset, const Node *n)
{
	if (binary_ops[n->op].variadic)
		return opset < 8;
	return opset < 7 && has_legacy_attrs(n->op) && !attr_i(n, "broadcast", 0);
}

static Status legacy_attr_check(Graph *g, const Node *n)
{
	if (g->opset < 7 || !has_legacy_attrs(n->op))
		return ST_OK;
	if (attr_find(n, "broadcast") || attr_find(n, "axis"))
		return node_error(g, n, ST_INVALID,
		                  "attributes 'broadcast' and 'axis' were removed in opset 7");
	return ST_OK;
}

static Status operand_check(Graph *g, const Node *n, int k, Value *y)
{
	const Tensor *a = node_in(g, n, 0), *b = node_in(g, n, k);
	char ba[64], bb[64];
	Value v;

	if (!b)
		return node_error(g, n, ST_INVALID, "input %d is missing", k);
	if (b->v.dt != a->v.dt && n->op != OP_Pow)
		return node_error(g, n, ST_INVALID, "input '%s' is %s but input '%s' is %s",
		                  b->name, dtype_name(b->v.dt), a->name, dtype_name(a->v.dt));
	val_type_str(&a->v, ba, sizeof(ba));
	val_type_str(&b->v, bb, sizeof(bb));
	if (needs_same_shape(g->opset, n) && !val_same_shape(&a->v, &b->v))
		return node_error(g, n, ST_INVALID, "shapes %s and %s differ and opset %lld "
		                  "does not broadcast here", ba, bb, (long long)g->opset);
	if (!operand(g->opset, n, &a->v, &b->v, k, &v) || !bcast_shape(y, &v, y))
		return node_error(g, n, ST_INVALID, "cannot broadcast %s with %s", ba, bb);
	return ST_OK;
}

/* Mod's fmod and BitShift's direction. */
static Status binary_attr_check(Graph *g, const Node *n)
{
	const char *dir = attr_s(n, "direction", NULL);

	if (n->op == OP_Mod && dtype_is_float(node_in(g, n, 0)->v.dt) && attr_i(n, "fmod", 0) != 1)
		return node_error(g, n, ST_INVALID, "fmod is %lld, but floats take fmod=1",
		                  (long long)attr_i(n, "fmod", 0));
	if (n->op == OP_BitShift && (!dir || (strcmp(dir, "LEFT") != 0 && strcmp(dir, "RIGHT") != 0)))
		return node_error(g, n, ST_INVALID, "direction is %s%s%s, not LEFT or RIGHT",
		                  dir ? "'" : "", dir ? dir : "missing", dir ? "'" : "");
	return ST_OK;
}

static Status binary_infer(Graph *g, Node *n)
{
	const BinaryOp *b = &binary_ops[n->op];
	Status st = infer_nin(g, n, b->variadic ? 1 : 2, b->variadic ? n->nin : 2);
	Value y;

	if (st != ST_OK || (st = legacy_attr_check(g, n)))
		return st;
	for (int k = 0; k < n->nin; k++)
		if ((st = infer_dtype(g, n, k, n->op == OP_Pow && k ? DTM_NUM : b->types)))
			return st;
	if ((st = binary_attr_check(g, n)))
		return st;
	y = node_in(g, n, 0)->v;
	for (int k = 1; k < n->nin; k++)
		if ((st = operand_check(g, n, k, &y)))
			return st;
	if (n->op == OP_PRelu && !val_same_shape(&y, &node_in(g, n, 0)->v))
		return node_error(g, n, ST_INVALID, "slope does not broadcast to the shape of X");
	infer_out(g, n, 0, b->pred ? DT_BOOL : y.dt, y.rank, y.dims);
	return ST_OK;
}

/* Whether the op runs exactly in integers: an integer (or bool) result
 * from integers (or bools). */
static bool exact_ints(const Node *n, const Value *const *in, const Value *y)
{
	if (!int_like(y->dt))
		return false;
	for (int k = 0; k < n->nin; k++)
		if (!int_like(in[k]->dt))
			return false;
	return true;
}

static Status fold_f64(EvalCtx *cx, const Node *n, const Value *const *in, Value *y,
                       int64_t *offs)
{
	const BinaryOp *b = &binary_ops[n->op];
	int64_t len = val_numel(y);
	double *acc = arena_alloc(cx->scratch, (size_t)len * sizeof(*acc));

	if (!acc)
		return eval_oom(cx, n);
	for (int k = 0; k < n->nin; k++) {
		Value v;
		double *x;

		operand(cx->g->opset, n, in[0], in[k], k, &v);
		if (!(x = val_to_f64(cx->scratch, &v)))
			return eval_oom(cx, n);
		bcast_offsets(y, &v, offs);
		for (int64_t i = 0; i < len; i++)
			acc[i] = k ? b->f(acc[i], x[offs[i]]) : x[offs[i]];
	}
	if (n->op == OP_Mean)
		for (int64_t i = 0; i < len; i++)
			acc[i] /= n->nin;
	val_from_f64(y, acc);
	return ST_OK;
}

static Status fold_i64(EvalCtx *cx, const Node *n, const Value *const *in, Value *y,
                       int64_t *offs)
{
	const BinaryOp *b = &binary_ops[n->op];
	int64_t len = val_numel(y);
	int64_t *acc = arena_alloc(cx->scratch, (size_t)len * sizeof(*acc));
	Params p;

	memset(&p, 0, sizeof(p));
	scalar_node_attrs(n, n->op, &p.alpha, &p.beta, &p.gamma);
	p.uns = !dtype_is_signed(b->pred ? in[0]->dt : y->dt);
	if (!acc)
		return eval_oom(cx, n);
	for (int k = 0; k < n->nin; k++) {
		Value v;
		int64_t *x;

		operand(cx->g->opset, n, in[0], in[k], k, &v);
		if (!(x = val_to_i64(cx->scratch, &v)))
			return eval_oom(cx, n);
		bcast_offsets(y, &v, offs);
		for (int64_t i = 0; i < len; i++)
			acc[i] = k ? b->fi(acc[i], x[offs[i]], &p) : x[offs[i]];
	}
	val_from_i64(y, acc);
	return ST_OK;
}

static Status binary_eval(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out)
{
	int64_t *offs = arena_alloc(cx->scratch, (size_t)val_numel(out[0]) * sizeof(*offs));

	nnac_assert(binary_ops[n->op].f || binary_ops[n->op].fi);
	if (!offs)
		return eval_oom(cx, n);
	if (exact_ints(n, in, out[0]))
		return fold_i64(cx, n, in, out[0], offs);
	return fold_f64(cx, n, in, out[0], offs);
}

/* Where: C selects A (true) or B, all three broadcast. */

static Status where_infer(Graph *g, Node *n)
{
	const Tensor *c, *a, *b;
	char bc[64], ba[64], bb[64];
	Value y;
	Status st;

	if ((st = infer_nin(g, n, 3, 3)) || (st = infer_dtype(g, n, 0, DTM(BOOL))) ||
	    (st = infer_dtype(g, n, 1, DTM_ALL)) || (st = infer_dtype(g, n, 2, DTM_ALL)))
		return st;
	c = node_in(g, n, 0);
	a = node_in(g, n, 1);
	b = node_in(g, n, 2);
	if (a->v.dt != b->v.dt)
		return node_error(g, n, ST_INVALID, "input '%s' is %s but input '%s' is %s",
		                  a->name, dtype_name(a->v.dt), b->name, dtype_name(b->v.dt));
	y = a->v;
	if (!bcast_shape(&c->v, &y, &y) || !bcast_shape(&y, &b->v, &y))
		return node_error(g, n, ST_INVALID, "cannot broadcast %s, %s and %s",
		                  val_type_str(&c->v, bc, sizeof(bc)), val_type_str(&a->v, ba, sizeof(ba)),
		                  val_type_str(&b->v, bb, sizeof(bb)));
	infer_out(g, n, 0, a->v.dt, y.rank, y.dims);
	return ST_OK;
}

/* Copies the chosen element's bytes: exact for every element type. */
static Status where_eval(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out)
{
	int64_t len = val_numel(out[0]);
	size_t sz = (size_t)dtype_size(out[0]->dt);
	int64_t *offs[3];

	for (int k = 0; k < 3; k++) {
		if (!(offs[k] = arena_alloc(cx->scratch, (size_t)len * sizeof(int64_t))))
			return eval_oom(cx, n);
		bcast_offsets(out[0], in[k], offs[k]);
	}
	for (int64_t i = 0; i < len; i++) {
		int k = val_get_i64(in[0], offs[0][i]) ? 1 : 2;

		memcpy((char *)out[0]->data + (size_t)i * sz,
		       (const char *)in[k]->data + (size_t)offs[k][i] * sz, sz);
	}
	return ST_OK;
}

#define UNARY(id) const OpImpl op_impl_##id = {unary_infer, unary_eval, NULL};
#define BINARY(id) const OpImpl op_impl_##id = {binary_infer, binary_eval, NULL};

UNARY(Relu) UNARY(LeakyRelu) UNARY(Sigmoid) UNARY(Tanh) UNARY(HardSigmoid)
UNARY(HardSwish) UNARY(Elu) UNARY(Selu) UNARY(Softplus) UNARY(Softsign)
UNARY(Exp) UNARY(Log) UNARY(Sqrt) UNARY(Neg) UNARY(Abs) UNARY(Reciprocal)
UNARY(Floor) UNARY(Ceil) UNARY(Erf)
UNARY(Not) UNARY(IsNaN) UNARY(IsInf) UNARY(Sign) UNARY(Round)
UNARY(Sin) UNARY(Cos) UNARY(Tan) UNARY(Asin) UNARY(Acos) UNARY(Atan)
UNARY(Sinh) UNARY(Cosh) UNARY(Asinh) UNARY(Acosh) UNARY(Atanh)
UNARY(Gelu) UNARY(Mish) UNARY(ThresholdedRelu) UNARY(Celu) UNARY(Shrink)
UNARY(Swish) UNARY(BitwiseNot)
const OpImpl op_impl_Clip = {clip_infer, unary_eval, NULL};

BINARY(Add) BINARY(Sub) BINARY(Mul) BINARY(Div) BINARY(Pow) BINARY(PRelu)
BINARY(Sum) BINARY(Max) BINARY(Min) BINARY(Mean)
BINARY(Equal) BINARY(Less) BINARY(Greater) BINARY(LessOrEqual) BINARY(GreaterOrEqual)
BINARY(And) BINARY(Or) BINARY(Xor) BINARY(Mod) BINARY(BitShift)
BINARY(BitwiseAnd) BINARY(BitwiseOr) BINARY(BitwiseXor)
const OpImpl op_impl_Where = {where_infer, where_eval, NULL};

/*
 * The same scalar functions for the loop IR's `apply` (ir/scalar.h): one
 * element at a time, Clip's bounds as operands 1 and 2, Where's condition
 * as operand 0, Cast the identity.  Sum and Mean are left out: their arity
 * varies and Mean divides.
 */

int loop_apply_arity(OpKind op)
{
	if ((unsigned)op >= OP_COUNT)
		return 0;
	if (op == OP_Cast)
		return 1;
	if (op == OP_Clip || op == OP_Where)
		return 3;
	if (unary_ops[op].f || unary_ops[op].fi)
		return 1;
	if ((binary_ops[op].f || binary_ops[op].fi) && op != OP_Sum && op != OP_Mean)
		return 2;
	return 0;
}

bool loop_apply_pred(OpKind op)
{
	return (unsigned)op < OP_COUNT && (unary_ops[op].pred || binary_ops[op].pred);
}

bool loop_apply_unsigned(OpKind op, DType dst, DType x0, DType x1)
{
	DType dt = dst;

	if (loop_apply_pred(op))
		dt = x0 != DT_UNDEF ? x0 : x1 != DT_UNDEF ? x1 : dst;
	else if (loop_apply_arity(op) != 2 && x0 != DT_UNDEF)
		dt = x0;
	return !dtype_is_signed(dt);
}

void loop_apply_defaults(OpKind op, double *alpha, double *beta, double *gamma)
{
	const UnaryOp *u = (unsigned)op < OP_COUNT ? &unary_ops[op] : NULL;

	*alpha = u ? u->alpha : 0;
	*beta = u ? u->beta : 0;
	*gamma = u ? u->gamma : 0;
}

void scalar_node_attrs(const Node *n, OpKind op, double *alpha, double *beta, double *gamma)
{
	loop_apply_defaults(op, alpha, beta, gamma);
	if (op == OP_IsInf) {
		*alpha = (double)(attr_i(n, "detect_negative", 1) != 0);
		*beta = (double)(attr_i(n, "detect_positive", 1) != 0);
		return;
	}
	if (op == OP_Mod) {
		*alpha = (double)(attr_i(n, "fmod", 0) != 0);
		return;
	}
	if (op == OP_BitShift) {
		*alpha = (double)(strcmp(attr_s(n, "direction", "LEFT"), "RIGHT") == 0);
		return;
	}
	if (op == OP_Gelu) {
		*alpha = (double)(strcmp(attr_s(n, "approximate", "none"), "tanh") == 0);
		return;
	}
	if (op == OP_Shrink) {
		*alpha = attr_f(n, "lambd", *alpha);
		*beta = attr_f(n, "bias", *beta);
		return;
	}
	*alpha = attr_f(n, "alpha", *alpha);
	*beta = attr_f(n, "beta", *beta);
	*gamma = attr_f(n, "gamma", *gamma);
}

static double where_f64(const double *x) { return x[0] != 0 ? x[1] : x[2]; }

bool scalar_has_f64(OpKind op)
{
	if (loop_apply_arity(op) == 0)
		return false;
	return op == OP_Cast || op == OP_Where || op == OP_Clip || unary_ops[op].f || binary_ops[op].f;
}

double scalar_f64(OpKind op, double alpha, double beta, double gamma, const double *x)
{
	Params p;

	nnac_assert(scalar_has_f64(op));
	if (op == OP_Cast)
		return x[0];
	if (op == OP_Where)
		return where_f64(x);
	if (binary_ops[op].f)
		return binary_ops[op].f(x[0], x[1]);
	memset(&p, 0, sizeof(p));
	p.alpha = alpha;
	p.beta = beta;
	p.gamma = gamma;
	if (op == OP_Clip) {
		p.has_lo = p.has_hi = true;
		p.lo = x[1];
		p.hi = x[2];
	}
	return unary_ops[op].f(x[0], &p);
}

bool scalar_has_i64(OpKind op)
{
	if (loop_apply_arity(op) == 0)
		return false;
	return op == OP_Cast || op == OP_Where || unary_ops[op].fi || binary_ops[op].fi;
}

bool scalar_i64(OpKind op, double alpha, double beta, double gamma, bool uns, const int64_t *x,
                int64_t *y)
{
	Params p;

	if (!scalar_has_i64(op))
		return false;
	memset(&p, 0, sizeof(p));
	p.alpha = alpha;
	p.beta = beta;
	p.gamma = gamma;
	p.uns = uns;
	if (op == OP_Cast)
		*y = x[0];
	else if (op == OP_Where)
		*y = x[0] ? x[1] : x[2];
	else if (binary_ops[op].fi)
		*y = binary_ops[op].fi(x[0], x[1], &p);
	else {
		if (op == OP_Clip) {
			p.has_lo = p.has_hi = true;
			p.ilo = x[1];
			p.ihi = x[2];
		}
		*y = unary_ops[op].fi(x[0], &p);
	}
	return true;
}
