/*
 * The CPU backend's inline transcendental functions: exp, erf and tanh
 * built from multiply-adds, selects and bit casts, so that a loop applying
 * them vectorizes (a call to libm's exp, erff or tanhf per element does
 * not, and was most of a transformer's time: GELU's erf and Softmax's exp).
 *
 * exp(x), in x's own type (f32 or f64):
 *   x is clamped to [lo, hi], beyond which the result is 0 or +inf anyway;
 *   k = round(x / ln 2) by adding 1.5 * 2^m (m the mantissa bits), whose
 *   low bits are then k; r = x - k ln 2 in two steps (Cody and Waite), so
 *   |r| <= ln 2 / 2; exp(r) by its Taylor series to r^7 (f32) or r^13
 *   (f64), whose remainder is below 6e-9 and 7e-18 relative; times 2^k as
 *   2^(k/2) * 2^(k - k/2), two normal powers, so that results near the
 *   range's ends (subnormal or just below overflow) scale right.  NaN is
 *   returned as it came.  Within 2 ulp of the exact value.
 *
 * erf(x) for f32 x, in f32:
 *   |x| < 1:  x c_0 + x^3 (c_1 + c_2 x^2 + ... + c_10 x^18), the Taylor
 *             series (c_n = 2/sqrt(pi) (-1)^n / (n! (2n + 1)); remainder
 *             < 2e-9), c_0 split into two floats and x c_0 added to the
 *             rest with one rounding (fused multiply-adds);
 *   else:     sign(x) (1 - exp(-x^2) g(t)), t = (min(|x|, 4) - 2.5) / 1.5,
 *             g the fit of erfc(x) exp(x^2) in erfc_fit below
 *             (scripts/fit_erfc.py 12: 7.6e-9 relative); past 4 the result
 *             rounds to +-1.
 *   Within 1.5 ulp (1.09 measured).
 * tanh(x) for f32 x, in double: sign(x) (1 - 2 / (exp(2|x|) + 1)), or
 *   x - x^3/3 + 2x^5/15 for |x| < 1e-4 where that form cancels: within
 *   f32's half ulp before the one rounding to f32.
 * Doubles keep libm's erf and tanh (cpu_emit.c).
 */
#include <math.h>
#include <stdbool.h>

#include "cpu_int.h"

/* erfc(x) exp(x^2) on [1, 4] in t = (x - 2.5) / 1.5, highest power first. */
static const double erfc_fit[] = {
	1.3819088977684901e-05,
	-3.6928723565346924e-05,
	5.4947248300593791e-05,
	-0.00014394859791053396,
	0.0004145080977333086,
	-0.0010171177742871818,
	0.0024017016955331688,
	-0.0055673329095372913,
	0.012489703671451021,
	-0.027005725289737846,
	0.056110472584287113,
	-0.11152100469538215,
	0.21080636427594104,
};

enum { EXP_TERMS_F32 = 7, EXP_TERMS_F64 = 13, ERF_TERMS = 10 };

/* M_LN2 and M_PI are not in C11. */
static const double ln2 = 0.693147180559945309417232121458176568;
static const double two_over_sqrt_pi = 1.12837916709551257389615890312154517;

static LLVMValueRef cfp(LLVMTypeRef t, double v) { return LLVMConstReal(t, v); }

static LLVMValueRef fma3(CpuEmit *e, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c)
{
	return cpu_emit_fintrinsic(e, "llvm.fmuladd", (LLVMValueRef[]){a, b, c}, 3);
}

/* sign(x) * v, for v >= 0. */
static LLVMValueRef with_sign(CpuEmit *e, LLVMValueRef v, LLVMValueRef x)
{
	return cpu_emit_fintrinsic(e, "llvm.copysign", (LLVMValueRef[]){v, x}, 2);
}

/* c[0] t^(n-1) + ... + c[n-1] by Horner's rule. */
static LLVMValueRef horner(CpuEmit *e, LLVMValueRef t, const double *c, int n)
{
	LLVMTypeRef ft = LLVMTypeOf(t);
	LLVMValueRef p = cfp(ft, c[0]);

	for (int k = 1; k < n; k++)
		p = fma3(e, p, t, cfp(ft, c[k]));
	return p;
}

/* 2^k of integer k in float type ft, k within its normal exponents. */
static LLVMValueRef pow2(CpuEmit *e, LLVMValueRef k, LLVMTypeRef ft, LLVMTypeRef it, int mant, int bias)
{
	LLVMValueRef biased = LLVMBuildAdd(e->b, k, LLVMConstInt(it, (unsigned long long)bias, 0), "");

	return LLVMBuildBitCast(e->b, LLVMBuildShl(e->b, biased, LLVMConstInt(it, (unsigned)mant, 0), ""),
	                        ft, "");
}

LLVMValueRef cpu_math_exp(CpuEmit *e, LLVMValueRef x)
{
	bool f32 = LLVMTypeOf(x) == e->f32;
	LLVMTypeRef ft = f32 ? e->f32 : e->f64, it = f32 ? e->i32 : e->i64;
	int mant = f32 ? 23 : 52, bias = f32 ? 127 : 1023, nterms = f32 ? EXP_TERMS_F32 : EXP_TERMS_F64;
	double lo = f32 ? -104.0 : -746.0, hi = f32 ? 89.0 : 710.0;
	/* ln 2 = hi + lo, hi with enough trailing zeros that k * hi is exact */
	double ln2_hi = f32 ? 0.693359375 : 0.693147180369123816490;
	double ln2_lo = f32 ? -2.12194440e-4 : 1.90821492927058770002e-10;
	double magic = ldexp(1.5, mant), taylor[EXP_TERMS_F64 + 1];
	LLVMValueRef xc, kf, k, r, p, k1;

	xc = cpu_emit_fsel(e, LLVMRealOLT, x, cfp(ft, lo), cfp(ft, lo), x);
	xc = cpu_emit_fsel(e, LLVMRealOGT, xc, cfp(ft, hi), cfp(ft, hi), xc);
	kf = fma3(e, xc, cfp(ft, 1.0 / ln2), cfp(ft, magic));
	k = LLVMBuildSub(e->b, LLVMBuildBitCast(e->b, kf, it, ""),
	                 LLVMBuildBitCast(e->b, cfp(ft, magic), it, ""), "");
	kf = LLVMBuildFSub(e->b, kf, cfp(ft, magic), "");
	r = fma3(e, kf, cfp(ft, -ln2_hi), xc);
	r = fma3(e, kf, cfp(ft, -ln2_lo), r);
	taylor[nterms] = 1.0;
	for (int n = nterms - 1; n >= 0; n--)   /* highest power first: 1/nterms!, ..., 1/0! */
		taylor[n] = taylor[n + 1] / (nterms - n);
	p = horner(e, r, taylor, nterms + 1);
	k1 = LLVMBuildAShr(e->b, k, LLVMConstInt(it, 1, 0), "");
	p = LLVMBuildFMul(e->b, p, pow2(e, k1, ft, it, mant, bias), "");
	p = LLVMBuildFMul(e->b, p, pow2(e, LLVMBuildSub(e->b, k, k1, ""), ft, it, mant, bias), "");
	return cpu_emit_fsel(e, LLVMRealUNO, x, x, x, p);
}

LLVMValueRef cpu_math_erf(CpuEmit *e, LLVMValueRef x)
{
	LLVMTypeRef ft = e->f32;
	LLVMValueRef a = cpu_emit_fintrinsic(e, "llvm.fabs", &x, 1), t, small, big;
	double taylor[ERF_TERMS + 1], fact = 1.0;

	for (int n = 0; n <= ERF_TERMS; n++) {   /* highest power first */
		fact *= n > 0 ? n : 1;
		taylor[ERF_TERMS - n] = (n % 2 ? -two_over_sqrt_pi : two_over_sqrt_pi) / (fact * (2 * n + 1));
	}
	/* x c0 + x t (c1 + c2 t + ...), t = x^2, with c0 = hi + lo in two
	 * floats and the sum rounded once */
	t = LLVMBuildFMul(e->b, x, x, "");
	small = LLVMBuildFMul(e->b, LLVMBuildFMul(e->b, x, t, ""), horner(e, t, taylor, ERF_TERMS), "");
	small = fma3(e, x, cfp(ft, two_over_sqrt_pi - (float)two_over_sqrt_pi), small);
	small = fma3(e, x, cfp(ft, (float)two_over_sqrt_pi), small);
	a = cpu_emit_fsel(e, LLVMRealOGT, a, cfp(ft, 4.0), cfp(ft, 4.0), a);
	t = fma3(e, a, cfp(ft, 1.0 / 1.5), cfp(ft, -2.5 / 1.5));
	big = cpu_math_exp(e, LLVMBuildFNeg(e->b, LLVMBuildFMul(e->b, a, a, ""), ""));
	big = LLVMBuildFMul(e->b, big, horner(e, t, erfc_fit, (int)(sizeof erfc_fit / sizeof erfc_fit[0])), "");
	big = with_sign(e, LLVMBuildFSub(e->b, cfp(ft, 1.0), big, ""), x);
	return cpu_emit_fsel(e, LLVMRealOLT, a, cfp(ft, 1.0), small, big);
}

LLVMValueRef cpu_math_tanh(CpuEmit *e, LLVMValueRef x)
{
	LLVMTypeRef ft = e->f64;
	LLVMValueRef xd = LLVMBuildFPExt(e->b, x, ft, ""), a = cpu_emit_fintrinsic(e, "llvm.fabs", &xd, 1), t, small, big;
	static const double series[] = {2.0 / 15.0, -1.0 / 3.0, 1.0};

	t = LLVMBuildFMul(e->b, xd, xd, "");
	small = LLVMBuildFMul(e->b, xd, horner(e, t, series, 3), "");
	big = cpu_math_exp(e, LLVMBuildFAdd(e->b, a, a, ""));
	big = LLVMBuildFDiv(e->b, cfp(ft, 2.0), LLVMBuildFAdd(e->b, big, cfp(ft, 1.0), ""), "");
	big = with_sign(e, LLVMBuildFSub(e->b, cfp(ft, 1.0), big, ""), xd);
	return LLVMBuildFPTrunc(e->b, cpu_emit_fsel(e, LLVMRealOLT, a, cfp(ft, 1e-4), small, big), e->f32, "");
}
