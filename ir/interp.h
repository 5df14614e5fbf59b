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

/*
 * interp_run with an observer: obs(cx, t, v) is called once for every graph
 * input t as it is bound and once for every output tensor t of a node right
 * after the node (and an activation fused into it) has computed it.  A node
 * with a fused activation is also observed before the activation, as the
 * activation node's input tensor.  v and its data are valid only during the
 * call.  obs == NULL is interp_run.
 */
typedef void (*InterpObserver)(void *cx, int tensor, const Value *v);
Status interp_run_observed(Graph *g, const Value *inputs, Value *outputs, Arena *out_arena,
                           InterpObserver obs, void *cx);

/* Evaluates live node n (its fused activation included), or an activation
 * node fused into a live node on its own, on vals, one Value per graph
 * tensor: reads its inputs' entries, sets its outputs' entries to fresh
 * data from values.  The host steps of accelerator programs run through
 * it. */
Status interp_eval_node(Graph *g, const Node *n, Value *vals, Arena *values);

/* Evaluates one node whose present inputs are all constant, storing each
 * output's data in the graph arena (constant folding). */
Status interp_eval_const(Graph *g, Node *n);

#endif
