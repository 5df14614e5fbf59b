/*
 * Comparing a computed tensor with an expected one, as every test and the
 * conformance driver do.  Floats pass when |got - want| <= atol + rtol *
 * |want| element by element (NaN matches NaN, infinities match exactly);
 * integers and bools must be equal.
 */
#ifndef NNAC_COMPARE_H
#define NNAC_COMPARE_H

#include "value.h"

typedef struct CompareResult {
	bool ok;
	double max_abs_err;
	int64_t first_bad;   /* index of the first mismatch, -1 if none */
	char why[256];       /* reason for a type or shape mismatch */
} CompareResult;

/* The ONNX backend-test tolerances. */
#define CMP_RTOL 1e-3
#define CMP_ATOL 1e-7

CompareResult compare_values(const Value *got, const Value *want, double rtol, double atol);

/*
 * The loop IR against the graph interpreter.  The graph interpreter sums in
 * double and rounds once; the loop IR rounds at every store into a float
 * buffer, so an accumulation of K terms carries an error proportional to
 * the size of the terms, not of the result.  The absolute part of the
 * tolerance therefore scales with the largest magnitude of the reference
 * tensor: |got - want| <= CMP_RTOL * |want| + CMP_LOOP_ATOL_REL * max|want|.
 */
#define CMP_LOOP_ATOL_REL 1e-5
CompareResult compare_loop_values(const Value *got, const Value *want);

#endif
