/*
 * Scalar semantics of the elementwise ops, shared by the graph interpreter
 * (ir/interp/elementwise.c, where the functions live) and the loop IR's
 * `apply` statement (ir/loop_interp.c), so that each op is written once.
 *
 * The operands of an op are x[0 .. loop_apply_arity(op) - 1]: the input for
 * the unary ops, a and b for the binary ones, x, lo and hi for Clip, the
 * condition, a and b for Where.  A predicate (loop_apply_pred: Equal,
 * IsNaN...) gives 0 or 1, stored into a bool.  Cast is
 * the identity on the value: the conversion happens when the result is
 * stored into the destination's element type.
 */
#ifndef NNAC_SCALAR_H
#define NNAC_SCALAR_H

#include <stdbool.h>
#include <stdint.h>

#include "graph.h"

/* op(x...) in double, with the op's attributes alpha, beta, gamma;
 * only for an op with a float form (scalar_has_f64). */
double scalar_f64(OpKind op, double alpha, double beta, double gamma, const double *x);
/* Whether op has a float form: all but BitShift and the Bitwise ops, which
 * take only integers. */
bool scalar_has_f64(OpKind op);
/* Whether op has an exact integer form (scalar_i64 succeeds). */
bool scalar_has_i64(OpKind op);
/* op(x...) in 64-bit integers, wrapping, unsigned comparisons when uns
 * (loop_apply_unsigned); false when the op has no exact integer form.
 * Integers and bools take this path where it exists: a predicate's operands
 * are compared exactly, whatever their width. */
bool scalar_i64(OpKind op, double alpha, double beta, double gamma, bool uns, const int64_t *x,
                int64_t *y);
/*
 * The attributes alpha, beta, gamma that op takes from node n (the op's
 * own node, or the one fused into a layer): its ONNX attributes of those
 * names, except IsInf (alpha detect_negative, beta detect_positive), Mod
 * (alpha fmod), BitShift (alpha 1 for direction RIGHT, 0 for LEFT), Gelu
 * (alpha 1 for approximate tanh, 0 for none) and Shrink (alpha lambd, beta
 * bias); ONNX defaults for those absent (loop_apply_defaults).
 */
void scalar_node_attrs(const Node *n, OpKind op, double *alpha, double *beta, double *gamma);

#endif
