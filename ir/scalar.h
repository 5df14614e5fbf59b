/*
 * Scalar semantics of the elementwise ops, shared by the graph interpreter
 * (ir/interp/elementwise.c, where the functions live) and the loop IR's
 * `apply` statement (ir/loop_interp.c), so that each op is written once.
 *
 * The operands of an op are x[0 .. loop_apply_arity(op) - 1]: the input for
 * the unary ops, a and b for the binary ones, x, lo and hi for Clip.  Cast is
 * the identity on the value: the conversion happens when the result is
 * stored into the destination's element type.
 */
#ifndef NNAC_SCALAR_H
#define NNAC_SCALAR_H

#include <stdbool.h>
#include <stdint.h>

#include "graph.h"

/* op(x...) in double, with the op's attributes alpha, beta, gamma. */
double scalar_f64(OpKind op, double alpha, double beta, double gamma, const double *x);
/* Whether op has an exact integer form (scalar_i64 succeeds). */
bool scalar_has_i64(OpKind op);
/* op(x...) in 64-bit integers, wrapping, unsigned comparisons when uns;
 * false when the op has no exact integer form. */
bool scalar_i64(OpKind op, bool uns, const int64_t *x, int64_t *y);

#endif
