/*
 * Checked arithmetic for sizes: element counts, byte sizes, strides,
 * offsets and view fits computed from what a file says.  Each returns false
 * (and leaves *r unspecified) when the exact result does not fit; callers
 * turn that into an error naming the tensor.  Sizes nnac accepts at all are
 * bounded by VAL_MAX_BYTES (value.h), so arithmetic on accepted sizes
 * cannot overflow afterwards.
 */
#ifndef NNAC_CHECKED_H
#define NNAC_CHECKED_H

#include <stdbool.h>
#include <stdint.h>

static inline bool ck_add(int64_t a, int64_t b, int64_t *r) { return !__builtin_add_overflow(a, b, r); }
static inline bool ck_mul(int64_t a, int64_t b, int64_t *r) { return !__builtin_mul_overflow(a, b, r); }
static inline bool ck_addu(uint64_t a, uint64_t b, uint64_t *r) { return !__builtin_add_overflow(a, b, r); }
static inline bool ck_mulu(uint64_t a, uint64_t b, uint64_t *r) { return !__builtin_mul_overflow(a, b, r); }

/* a * b for counts of work (MACs, steps), a, b >= 0: INT64_MAX when the
 * product does not fit, so that a total stays an upper bound. */
static inline int64_t ck_mul_sat(int64_t a, int64_t b)
{
	int64_t r;
	return __builtin_mul_overflow(a, b, &r) ? INT64_MAX : r;
}

static inline int64_t ck_add_sat(int64_t a, int64_t b)
{
	int64_t r;
	return __builtin_add_overflow(a, b, &r) ? INT64_MAX : r;
}

/* The product of dims[0..rank), each of which must be >= 0; false on a
 * negative dimension or overflow. */
static inline bool ck_numel(const int64_t *dims, int rank, int64_t *n)
{
	*n = 1;
	for (int i = 0; i < rank; i++)
		if (dims[i] < 0 || !ck_mul(*n, dims[i], n))
			return false;
	return true;
}

#endif
