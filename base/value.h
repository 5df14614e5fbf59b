/*
 * Element types and tensor values.
 *
 * A Value is a typed, shaped, dense row-major tensor: the static type of a
 * graph tensor (data == NULL) or a concrete tensor (constant, interpreter
 * value).  Shapes are static; a dimension the model leaves symbolic is
 * DIM_UNKNOWN until it is bound.
 *
 * Element access by index (val_get_f64 and friends) converts through double
 * or int64; it is meant for the reference interpreter, which values obvious
 * correctness over speed.
 */
#ifndef NNAC_VALUE_H
#define NNAC_VALUE_H

#include <stdbool.h>
#include <stdint.h>

#include "arena.h"
#include "budget.h"

typedef enum DType {
	DT_UNDEF = 0,
#define DTYPE(id, code, name, bytes, kind, bits, loops) DT_##id,
#include "dtype.def"
#undef DTYPE
	DT_COUNT
} DType;

enum { MAX_RANK = 8, DIM_UNKNOWN = -1 };

typedef struct Value {
	DType dt;
	int rank;
	int64_t dims[MAX_RANK];
	void *data;          /* numel * dtype_size bytes, row-major; NULL: type only */
} Value;

const char *dtype_name(DType dt);
int dtype_size(DType dt);          /* in memory */
int dtype_bits(DType dt);          /* in an ONNX file's raw data: 2, 4, 8 ... 64 */
bool dtype_in_loops(DType dt);     /* the loop IR and the targets handle it */
bool dtype_is_float(DType dt);
bool dtype_is_int(DType dt);     /* signed or unsigned integer, not bool */
bool dtype_is_signed(DType dt);
DType dtype_from_onnx(int code); /* DT_UNDEF when not supported */
int dtype_to_onnx(DType dt);
DType dtype_from_name(const char *name);
/* v rounded to floating type dt as arithmetic in dt would leave it (through
 * f32 for f16 and bf16); v itself for f64 and non-float types. */
double dtype_round(DType dt, double v);

float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);       /* round to nearest even */
uint16_t f64_to_f16(double x);      /* one rounding, to nearest even */
float bf16_to_f32(uint16_t h);
uint16_t f32_to_bf16(float f);      /* round to nearest even */

int64_t val_numel(const Value *v);  /* 1 for rank 0 */
int64_t val_bytes(const Value *v);
bool val_known(const Value *v);     /* every dimension known */
/* The largest tensor nnac accepts, in bytes (1 TiB): every shape read from
 * a file or inferred is checked against it, so that element counts and
 * byte sizes of accepted tensors never overflow. */
#define VAL_MAX_BYTES ((int64_t)1 << 40)
/* Whether every dimension is known and the tensor's bytes, computed with
 * checked arithmetic, are at most the memory budget (budget.h), itself at
 * most VAL_MAX_BYTES.  A refusal names the budget: budget_memory_str. */
bool val_size_ok(const Value *v);
void val_strides(const Value *v, int64_t *strides);  /* in elements */
bool val_same_shape(const Value *a, const Value *b);
/* Sets the type; leaves data alone. */
void val_set_type(Value *v, DType dt, int rank, const int64_t *dims);
/* Allocates zeroed data for a typed value; false when out of memory. */
bool val_alloc(Arena *a, Value *v);
/* "f32[1,3,224,224]" into buf. */
const char *val_type_str(const Value *v, char *buf, int size);

double val_get_f64(const Value *v, int64_t i);
int64_t val_get_i64(const Value *v, int64_t i);
/* Stores x with the conversion C and NumPy agree on: floats round to
 * nearest, integers truncate toward zero and saturate (the 4- and 2-bit
 * ones wrap, as ONNX's Cast does), NaN stores 0, bool stores x != 0; the
 * 8- and 4-bit floats round to nearest even and saturate (minifloat.h). */
void val_set_f64(Value *v, int64_t i, double x);
/* Integers wrap to the element width; floats convert; bool is i != 0. */
void val_set_i64(Value *v, int64_t i, int64_t x);
/* All elements as double / int64 in fresh arena memory (NULL: out of memory). */
double *val_to_f64(Arena *a, const Value *v);
int64_t *val_to_i64(Arena *a, const Value *v);
void val_from_f64(Value *v, const double *x);
void val_from_i64(Value *v, const int64_t *x);

/*
 * Multidirectional (NumPy) broadcasting.
 * bcast_shape: the broadcast shape of a and b into out (type only); false if
 * the shapes are incompatible.
 * bcast_offsets: for every element of out (row-major), the offset of the
 * corresponding element of in, which must broadcast to out.
 */
bool bcast_shape(const Value *a, const Value *b, Value *out);
void bcast_offsets(const Value *out, const Value *in, int64_t *offs);

/* The elements before and after axis: v is [outer, dims[axis], inner]. */
void val_split_at(const Value *v, int64_t axis, int64_t *outer, int64_t *inner);

/* Normalizes axis into [0, rank); false if out of range [-rank, rank). */
bool norm_axis(int64_t *axis, int rank);

#endif
