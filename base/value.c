/*
 * Element types and tensor values: the dtype table, half-precision
 * conversions, element access and broadcasting.
 */
#include "value.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "checked.h"
#include "budget.h"
#include "minifloat.h"

#include "diag.h"

static const struct {
	const char *name;
	int onnx;
	int bytes;
	char kind;
	int bits;
	bool loops;
} dtypes[] = {
	[DT_UNDEF] = {"undef", 0, 0, '?', 0, false},
#define DTYPE(id, code, name, bytes, kind, bits, loops) [DT_##id] = {name, code, bytes, kind, bits, loops},
#include "dtype.def"
#undef DTYPE
};
_Static_assert(ARRAY_LEN(dtypes) == DT_COUNT, "dtype table");

const char *dtype_name(DType dt) { return dtypes[dt].name; }
int dtype_size(DType dt) { return dtypes[dt].bytes; }
int dtype_bits(DType dt) { return dtypes[dt].bits; }
bool dtype_in_loops(DType dt) { return dtypes[dt].loops; }
bool dtype_is_float(DType dt) { return dtypes[dt].kind == 'f'; }
bool dtype_is_int(DType dt) { return dtypes[dt].kind == 's' || dtypes[dt].kind == 'u'; }
bool dtype_is_signed(DType dt) { return dtypes[dt].kind == 's'; }
int dtype_to_onnx(DType dt) { return dtypes[dt].onnx; }

DType dtype_from_onnx(int code)
{
	for (int i = 1; i < DT_COUNT; i++)
		if (dtypes[i].onnx == code)
			return (DType)i;
	return DT_UNDEF;
}

DType dtype_from_name(const char *name)
{
	for (int i = 1; i < DT_COUNT; i++)
		if (strcmp(dtypes[i].name, name) == 0)
			return (DType)i;
	return DT_UNDEF;
}

static uint32_t f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

float f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h >> 15) << 31;
	uint32_t exp = (h >> 10) & 0x1f;
	uint32_t man = h & 0x3ff;

	if (exp == 0x1f)
		return bits_f32(sign | 0x7f800000u | (man << 13));
	if (exp == 0) {
		float m = ldexpf((float)man, -24);
		return sign ? -m : m;
	}
	return bits_f32(sign | ((exp + 112) << 23) | (man << 13));
}

uint16_t f32_to_f16(float f)
{
	uint32_t u = f32_bits(f);
	uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
	float a = fabsf(f);

	if (isnan(f))
		return sign | 0x7e00;
	if (a >= 65520.0f)
		return sign | 0x7c00;
	if (a < 6.103515625e-05f) {
		/* subnormal: units of 2^-24, rounded to nearest even */
		float q = a * 16777216.0f;
		return sign | (uint16_t)nearbyintf(q);
	}
	{
		uint32_t exp = ((u >> 23) & 0xff) - 112;
		uint32_t man = u & 0x7fffff;
		uint32_t h = (exp << 10) | (man >> 13);
		uint32_t rest = man & 0x1fff;

		if (rest > 0x1000 || (rest == 0x1000 && (h & 1)))
			h++;
		return sign | (uint16_t)h;
	}
}

/*
 * Double to half in one rounding (through float would round twice): start
 * from the float path's answer and take the nearest of it and its
 * neighbours, ties to even.
 */
uint16_t f64_to_f16(double x)
{
	uint16_t h = f32_to_f16((float)x), sign = h & 0x8000, best;
	double a = fabs(x);

	if (isnan(x) || a >= 65520.0)
		return h;
	best = h & 0x7fff;
	if (best > 0x7bff)
		best = 0x7bff;
	for (int d = -1; d <= 1; d += 2) {
		int m = (int)best + d;
		double e, eb;

		if (m < 0 || m > 0x7bff)
			continue;
		e = fabs(a - f16_to_f32((uint16_t)m));
		eb = fabs(a - f16_to_f32(best));
		if (e < eb || (e == eb && !(m & 1)))
			best = (uint16_t)m;
	}
	return sign | best;
}

float bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

uint16_t f32_to_bf16(float f)
{
	uint32_t u = f32_bits(f);

	if (isnan(f))
		return (uint16_t)((u >> 16) | 0x40);
	u += 0x7fff + ((u >> 16) & 1);
	return (uint16_t)(u >> 16);
}

int64_t val_numel(const Value *v)
{
	int64_t n = 1;

	for (int i = 0; i < v->rank; i++)
		n *= v->dims[i];
	return n;
}

int64_t val_bytes(const Value *v) { return val_numel(v) * dtype_size(v->dt); }

bool val_size_ok(const Value *v)
{
	int64_t n;

	return ck_numel(v->dims, v->rank, &n) && ck_mul(n, dtype_size(v->dt) > 0 ? dtype_size(v->dt) : 1, &n) &&
	       n <= budget_memory();
}

bool val_known(const Value *v)
{
	if (v->dt == DT_UNDEF)
		return false;
	for (int i = 0; i < v->rank; i++)
		if (v->dims[i] < 0)
			return false;
	return true;
}

void val_strides(const Value *v, int64_t *strides)
{
	int64_t s = 1;

	for (int i = v->rank - 1; i >= 0; i--) {
		strides[i] = s;
		s *= v->dims[i];
	}
}

bool val_same_shape(const Value *a, const Value *b)
{
	if (a->rank != b->rank)
		return false;
	for (int i = 0; i < a->rank; i++)
		if (a->dims[i] != b->dims[i])
			return false;
	return true;
}

void val_set_type(Value *v, DType dt, int rank, const int64_t *dims)
{
	nnac_assert(rank >= 0 && rank <= MAX_RANK);
	v->dt = dt;
	v->rank = rank;
	for (int i = 0; i < rank; i++)
		v->dims[i] = dims[i];
}

bool val_alloc(Arena *a, Value *v)
{
	v->data = arena_alloc(a, (size_t)val_bytes(v));
	return v->data != NULL;
}

const char *val_type_str(const Value *v, char *buf, int size)
{
	int n = snprintf(buf, (size_t)size, "%s[", dtype_name(v->dt));

	for (int i = 0; i < v->rank && n < size; i++) {
		if (v->dims[i] < 0)
			n += snprintf(buf + n, (size_t)(size - n), "%s?", i ? "," : "");
		else
			n += snprintf(buf + n, (size_t)(size - n), "%s%lld", i ? "," : "",
			              (long long)v->dims[i]);
	}
	if (n < size)
		snprintf(buf + n, (size_t)(size - n), "]");
	return buf;
}

double val_get_f64(const Value *v, int64_t i)
{
	const void *p = v->data;

	switch (v->dt) {
	case DT_F32: return ((const float *)p)[i];
	case DT_F64: return ((const double *)p)[i];
	case DT_F16: return f16_to_f32(((const uint16_t *)p)[i]);
	case DT_BF16: return bf16_to_f32(((const uint16_t *)p)[i]);
	case DT_U8: return ((const uint8_t *)p)[i];
	case DT_I8: return ((const int8_t *)p)[i];
	case DT_U16: return ((const uint16_t *)p)[i];
	case DT_I16: return ((const int16_t *)p)[i];
	case DT_I32: return ((const int32_t *)p)[i];
	case DT_I64: return (double)((const int64_t *)p)[i];
	case DT_U32: return ((const uint32_t *)p)[i];
	case DT_U64: return (double)((const uint64_t *)p)[i];
	case DT_BOOL: return ((const uint8_t *)p)[i] != 0;
	case DT_I4: case DT_I2: return ((const int8_t *)p)[i];
	case DT_U4: case DT_U2: return ((const uint8_t *)p)[i];
	case DT_F8E4M3FN: case DT_F8E4M3FNUZ: case DT_F8E5M2: case DT_F8E5M2FNUZ: case DT_F4E2M1:
	case DT_F8E8M0:
		return minifloat_decode(v->dt, ((const uint8_t *)p)[i]);
	case DT_UNDEF: case DT_COUNT: break;
	}
	nnac_unreachable();
}

int64_t val_get_i64(const Value *v, int64_t i)
{
	const void *p = v->data;

	switch (v->dt) {
	case DT_F32: case DT_F64: case DT_F16: case DT_BF16:
	case DT_F8E4M3FN: case DT_F8E4M3FNUZ: case DT_F8E5M2: case DT_F8E5M2FNUZ: case DT_F4E2M1:
	case DT_F8E8M0: {
		double x = val_get_f64(v, i);
		if (isnan(x))
			return 0;
		if (x >= 9.2233720368547758e18)
			return INT64_MAX;
		if (x <= -9.2233720368547758e18)
			return INT64_MIN;
		return (int64_t)x;
	}
	case DT_U8: return ((const uint8_t *)p)[i];
	case DT_I8: return ((const int8_t *)p)[i];
	case DT_U16: return ((const uint16_t *)p)[i];
	case DT_I16: return ((const int16_t *)p)[i];
	case DT_I32: return ((const int32_t *)p)[i];
	case DT_I64: return ((const int64_t *)p)[i];
	case DT_U32: return ((const uint32_t *)p)[i];
	case DT_U64: return (int64_t)((const uint64_t *)p)[i];
	case DT_BOOL: return ((const uint8_t *)p)[i] != 0;
	case DT_I4: case DT_I2: return ((const int8_t *)p)[i];
	case DT_U4: case DT_U2: return ((const uint8_t *)p)[i];
	case DT_UNDEF: case DT_COUNT: break;
	}
	nnac_unreachable();
}

static int64_t sat(double x, double lo, double hi)
{
	if (isnan(x))
		return 0;
	if (x <= lo)
		return (int64_t)lo;
	if (x >= hi)
		return (int64_t)hi;
	return (int64_t)x;
}

void val_set_f64(Value *v, int64_t i, double x)
{
	void *p = v->data;

	switch (v->dt) {
	case DT_F32: ((float *)p)[i] = (float)x; return;
	case DT_F64: ((double *)p)[i] = x; return;
	case DT_F16: ((uint16_t *)p)[i] = f64_to_f16(x); return;
	case DT_BF16: ((uint16_t *)p)[i] = f32_to_bf16((float)x); return;
	case DT_U8: ((uint8_t *)p)[i] = (uint8_t)sat(x, 0, 255); return;
	case DT_I8: ((int8_t *)p)[i] = (int8_t)sat(x, -128, 127); return;
	case DT_U16: ((uint16_t *)p)[i] = (uint16_t)sat(x, 0, 65535); return;
	case DT_I16: ((int16_t *)p)[i] = (int16_t)sat(x, -32768, 32767); return;
	case DT_I32: ((int32_t *)p)[i] = (int32_t)sat(x, -2147483648.0, 2147483647.0); return;
	case DT_U32: ((uint32_t *)p)[i] = (uint32_t)sat(x, 0, 4294967295.0); return;
	case DT_I64:
		if (isnan(x))
			((int64_t *)p)[i] = 0;
		else if (x >= 9.2233720368547758e18)
			((int64_t *)p)[i] = INT64_MAX;
		else if (x <= -9.2233720368547758e18)
			((int64_t *)p)[i] = INT64_MIN;
		else
			((int64_t *)p)[i] = (int64_t)x;
		return;
	case DT_U64:
		((uint64_t *)p)[i] = isnan(x) || x <= 0 ? 0
		                   : x >= 1.8446744073709552e19 ? UINT64_MAX : (uint64_t)x;
		return;
	case DT_BOOL: ((uint8_t *)p)[i] = x != 0; return;
	case DT_I4: case DT_U4: case DT_I2: case DT_U2:
		/* truncated, then wrapped to the width, as ONNX's Cast does */
		val_set_i64(v, i, isnan(x) ? 0 : sat(x, -9.2233720368547758e18, 9.2233720368547748e18));
		return;
	case DT_F8E4M3FN: case DT_F8E4M3FNUZ: case DT_F8E5M2: case DT_F8E5M2FNUZ: case DT_F4E2M1:
	case DT_F8E8M0:
		((uint8_t *)p)[i] = minifloat_encode(v->dt, x, true);
		return;
	case DT_UNDEF: case DT_COUNT: break;
	}
	nnac_unreachable();
}

void val_set_i64(Value *v, int64_t i, int64_t x)
{
	void *p = v->data;

	switch (v->dt) {
	case DT_F32: case DT_F64: case DT_F16: case DT_BF16:
	case DT_F8E4M3FN: case DT_F8E4M3FNUZ: case DT_F8E5M2: case DT_F8E5M2FNUZ: case DT_F4E2M1:
	case DT_F8E8M0:
		val_set_f64(v, i, (double)x);
		return;
	case DT_I4: ((int8_t *)p)[i] = (int8_t)((int8_t)(((uint64_t)x & 0xf) ^ 8) - 8); return;
	case DT_U4: ((uint8_t *)p)[i] = (uint8_t)(x & 0xf); return;
	case DT_I2: ((int8_t *)p)[i] = (int8_t)((int8_t)(((uint64_t)x & 0x3) ^ 2) - 2); return;
	case DT_U2: ((uint8_t *)p)[i] = (uint8_t)(x & 0x3); return;
	case DT_U8: ((uint8_t *)p)[i] = (uint8_t)x; return;
	case DT_I8: ((int8_t *)p)[i] = (int8_t)x; return;
	case DT_U16: ((uint16_t *)p)[i] = (uint16_t)x; return;
	case DT_I16: ((int16_t *)p)[i] = (int16_t)x; return;
	case DT_I32: ((int32_t *)p)[i] = (int32_t)x; return;
	case DT_I64: ((int64_t *)p)[i] = x; return;
	case DT_U32: ((uint32_t *)p)[i] = (uint32_t)x; return;
	case DT_U64: ((uint64_t *)p)[i] = (uint64_t)x; return;
	case DT_BOOL: ((uint8_t *)p)[i] = x != 0; return;
	case DT_UNDEF: case DT_COUNT: break;
	}
	nnac_unreachable();
}

double *val_to_f64(Arena *a, const Value *v)
{
	int64_t n = val_numel(v);
	double *x = arena_alloc(a, (size_t)n * sizeof(double));

	if (!x)
		return NULL;
	if (v->dt == DT_F32) {
		const float *p = v->data;
		for (int64_t i = 0; i < n; i++)
			x[i] = p[i];
	} else {
		for (int64_t i = 0; i < n; i++)
			x[i] = val_get_f64(v, i);
	}
	return x;
}

int64_t *val_to_i64(Arena *a, const Value *v)
{
	int64_t n = val_numel(v);
	int64_t *x = arena_alloc(a, (size_t)n * sizeof(int64_t));

	if (!x)
		return NULL;
	for (int64_t i = 0; i < n; i++)
		x[i] = val_get_i64(v, i);
	return x;
}

void val_from_f64(Value *v, const double *x)
{
	int64_t n = val_numel(v);

	if (v->dt == DT_F32) {
		float *p = v->data;
		for (int64_t i = 0; i < n; i++)
			p[i] = (float)x[i];
		return;
	}
	for (int64_t i = 0; i < n; i++)
		val_set_f64(v, i, x[i]);
}

void val_from_i64(Value *v, const int64_t *x)
{
	int64_t n = val_numel(v);

	for (int64_t i = 0; i < n; i++)
		val_set_i64(v, i, x[i]);
}

bool bcast_shape(const Value *a, const Value *b, Value *out)
{
	int rank = a->rank > b->rank ? a->rank : b->rank;
	int64_t dims[MAX_RANK];

	for (int i = 0; i < rank; i++) {
		int ia = i - (rank - a->rank), ib = i - (rank - b->rank);
		int64_t da = ia >= 0 ? a->dims[ia] : 1;
		int64_t db = ib >= 0 ? b->dims[ib] : 1;

		if (da == db || db == 1)
			dims[i] = da;
		else if (da == 1)
			dims[i] = db;
		else
			return false;
	}
	val_set_type(out, out->dt, rank, dims);
	return true;
}

void bcast_offsets(const Value *out, const Value *in, int64_t *offs)
{
	int64_t istr[MAX_RANK] = {0}, idx[MAX_RANK] = {0};
	int64_t n = val_numel(out), off = 0;
	int shift = out->rank - in->rank;

	{
		int64_t s = 1;
		for (int i = in->rank - 1; i >= 0; i--) {
			istr[i + shift] = in->dims[i] == 1 ? 0 : s;
			s *= in->dims[i];
		}
		for (int i = 0; i < shift; i++)
			istr[i] = 0;
	}
	for (int64_t k = 0; k < n; k++) {
		offs[k] = off;
		for (int d = out->rank - 1; d >= 0; d--) {
			idx[d]++;
			off += istr[d];
			if (idx[d] < out->dims[d])
				break;
			off -= istr[d] * idx[d];
			idx[d] = 0;
		}
	}
}

void val_split_at(const Value *v, int64_t axis, int64_t *outer, int64_t *inner)
{
	*outer = *inner = 1;
	for (int d = 0; d < v->rank; d++) {
		if (d < axis)
			*outer *= v->dims[d];
		else if (d > axis)
			*inner *= v->dims[d];
	}
}

bool norm_axis(int64_t *axis, int rank)
{
	if (*axis < -rank || *axis >= rank)
		return false;
	if (*axis < 0)
		*axis += rank;
	return true;
}

/* A double rounded to floating type dt, as arithmetic in dt would leave it. */
double dtype_round(DType dt, double v)
{
	switch (dt) {
	case DT_F32: return (float)v;
	case DT_F16: return f16_to_f32(f32_to_f16((float)v));
	case DT_BF16: return bf16_to_f32(f32_to_bf16((float)v));
	case DT_F64: return v;
	case DT_F8E4M3FN: case DT_F8E4M3FNUZ: case DT_F8E5M2: case DT_F8E5M2FNUZ: case DT_F4E2M1:
	case DT_F8E8M0:
		return minifloat_decode(dt, minifloat_encode(dt, v, true));
	case DT_U8: case DT_I8: case DT_U16: case DT_I16: case DT_I32: case DT_I64:
	case DT_U32: case DT_U64: case DT_BOOL: case DT_U4: case DT_I4: case DT_U2: case DT_I2:
	case DT_UNDEF: case DT_COUNT:
		break;
	}
	return v;
}
