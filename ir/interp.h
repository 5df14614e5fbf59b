/*
 * The reference interpreter: executes a typed graph node by node with the
 * eval kernels of ir/interp/.  It is the numerical reference every pass
 * and backend is checked against.
 */
#ifndef NNAC_INTERP_H
#define NNAC_INTERP_H

#include "op.h"

/*
 * Runs g on inputs (one Value per g->inputs entry, in order; types must match
 * the graph's).  outputs receives one Value per g->outputs entry, with data
 * in out_arena.  Reports mismatched inputs through g->diag.
 */
Status interp_run(Graph *g, const Value *inputs, Value *outputs, Arena *out_arena);

/* Evaluates one node whose present inputs are all constant, storing each
 * output's data in the graph arena (constant folding). */
Status interp_eval_const(Graph *g, Node *n);

#endif
