/*
 * The 8- and 4-bit floating types (minifloat.h).  Decoding follows each
 * format's fields; encoding finds the nearest of the type's non-negative
 * finite codes, whose values rise with the code, by binary search.
 */
#include "minifloat.h"

#include <math.h>

typedef struct Format {
	int ebits, mbits, bias;
	uint8_t max;          /* code of the largest finite value */
	bool inf;             /* e5m2: all-ones exponent, zero mantissa */
	bool fnuz;            /* 0x80 is the only NaN; no negative zero */
} Format;

static const Format *format_of(DType dt)
{
	static const Format e4m3fn = {4, 3, 7, 0x7e, false, false};
	static const Format e4m3fnuz = {4, 3, 8, 0x7f, false, true};
	static const Format e5m2 = {5, 2, 15, 0x7b, true, false};
	static const Format e5m2fnuz = {5, 2, 16, 0x7f, false, true};
	static const Format e2m1 = {2, 1, 1, 0x07, false, false};

	switch (dt) {
	case DT_F8E4M3FN: return &e4m3fn;
	case DT_F8E4M3FNUZ: return &e4m3fnuz;
	case DT_F8E5M2: return &e5m2;
	case DT_F8E5M2FNUZ: return &e5m2fnuz;
	case DT_F4E2M1: return &e2m1;
	default: return NULL;
	}
}

bool minifloat_is(DType dt) { return format_of(dt) != NULL || dt == DT_F8E8M0; }

/* The value of a non-negative code (sign bit clear) of format f. */
static double magnitude(const Format *f, unsigned code)
{
	unsigned e = code >> f->mbits, m = code & ((1u << f->mbits) - 1);
	double frac = (double)m / (double)(1u << f->mbits);

	if (e == 0)
		return ldexp(frac, 1 - f->bias);
	return ldexp(1 + frac, (int)e - f->bias);
}

static uint8_t sign_bit(const Format *f) { return (uint8_t)(1u << (f->ebits + f->mbits)); }

static uint8_t nan_code(const Format *f)
{
	if (f->fnuz)
		return 0x80;
	return f->inf ? 0x7f : (uint8_t)(sign_bit(f) - 1);
}

double minifloat_decode(DType dt, uint8_t code)
{
	const Format *f = format_of(dt);
	unsigned mag;
	double v;

	if (dt == DT_F8E8M0)
		return code == 0xff ? NAN : ldexp(1.0, (int)code - 127);
	mag = code & (sign_bit(f) - 1u);
	if (f->fnuz && code == 0x80)
		return NAN;
	if (!f->fnuz && f->ebits == 4 && mag == 0x7f)
		return NAN;
	if (f->inf && (mag >> f->mbits) == (1u << f->ebits) - 1)
		return (mag & ((1u << f->mbits) - 1)) ? NAN : (code & sign_bit(f) ? -INFINITY : INFINITY);
	v = magnitude(f, mag);
	return code & sign_bit(f) ? -v : v;
}

/*
 * The code of |x| rounded to nearest, ties to the even code, among codes
 * 0..f->max and one past it (the overflow, whose value is one step above
 * the largest); *over tells the caller it won.
 */
static unsigned nearest(const Format *f, double a, bool *over)
{
	unsigned lo = 0, hi = f->max;
	double top = 2 * magnitude(f, f->max) - magnitude(f, f->max - 1u), below, above;

	*over = false;
	if (a >= top) {
		*over = true;
		return f->max + 1u;
	}
	if (a >= magnitude(f, f->max)) {
		below = magnitude(f, f->max);
		if (a - below < top - a || (a - below == top - a && !(f->max & 1u)))
			return f->max;
		*over = true;
		return f->max + 1u;
	}
	while (hi - lo > 1) {    /* magnitude(lo) <= a < magnitude(hi) */
		unsigned mid = (lo + hi) / 2;
		if (magnitude(f, mid) <= a)
			lo = mid;
		else
			hi = mid;
	}
	below = magnitude(f, lo);
	above = magnitude(f, hi);
	if (a - below < above - a || (a - below == above - a && !(lo & 1u)))
		return lo;
	return hi;
}

uint8_t minifloat_encode(DType dt, double x, bool saturate)
{
	const Format *f = format_of(dt);
	uint8_t sign;
	unsigned code;
	bool over;

	if (dt == DT_F8E8M0)
		return minifloat_encode_e8m0(x, MF_ROUND_UP, saturate);
	if (isnan(x))    /* e2m1 has no NaN: ONNX makes it -0 */
		return f->ebits == 2 ? sign_bit(f) : nan_code(f);
	sign = signbit(x) ? sign_bit(f) : 0;
	code = nearest(f, fabs(x), &over);
	if (over) {
		if (saturate || f->ebits == 2)
			code = f->max;
		else if (f->inf)
			code = 0x7c;
		else
			return nan_code(f);
	}
	if (f->fnuz && code == 0)
		return 0;    /* no negative zero: 0x80 is NaN */
	return (uint8_t)(sign | code);
}

uint8_t minifloat_encode_e8m0(double x, MfRound mode, bool saturate)
{
	int e;
	double m;

	if (isnan(x) || x < 0 || (isinf(x) && !saturate))
		return 0xff;
	if (isinf(x) || x >= 0x1p127)
		return saturate || x == 0x1p127 ? 0xfe : 0xff;
	if (x <= 0x1p-127)
		return 0;
	m = frexp(x, &e);    /* x = m * 2^e, 0.5 <= m < 1: 2^(e-1) <= x < 2^e */
	e -= 1;
	if (m != 0.5) {
		if (mode == MF_ROUND_UP || (mode == MF_ROUND_NEAREST && m * 2 >= 1.5))
			e += 1;
	}
	if (e > 127)
		return saturate ? 0xfe : 0xff;
	return (uint8_t)(e + 127);
}
