/*
 * The planning of the ops of generate.c that the loop lowering
 * (passes/lower_gen.c) shares with the reference kernels.  Arguments come
 * from constant inputs when in == NULL (shape inference, lowering; an
 * input computed at run time leaves the default), else from the run-time
 * values in[].
 */
#ifndef NNAC_GENERATE_H
#define NNAC_GENERATE_H

#include "op.h"

/* Expand's output type: X broadcast with the constant shape (input 1). */
Status gen_expand_shape(Graph *g, const Node *n, Value *y);
/* EyeLike's output element type: `dtype`, else X's. */
Status gen_eyelike_type(Graph *g, const Node *n, DType *dt);
/* Trilu's diagonal offset k (input 1, default 0). */
Status gen_trilu_k(Graph *g, const Node *n, const Value *const *in, int64_t *k);
/* Whether Trilu keeps element (i, j) of a matrix for offset k. */
bool gen_trilu_keep(const Node *n, int64_t i, int64_t j, int64_t k);
/* CumSum's and CumProd's normalized axis (input 1) over rank dimensions. */
Status gen_cumsum_axis(Graph *g, const Node *n, const Value *const *in, int rank, int64_t *axis);

/* DepthToSpace and SpaceToDepth in the iteration space (n, c, h, i, w, j)
 * over dims: the space-side element (n, c, h*b + i, w*b + j) is the
 * depth-side element (n, ci*i + cj*j + cc*c, h, w). */
typedef struct SpacePlan {
	int64_t dims[6];     /* [N, Cs, Hd, b, Wd, b] */
	int64_t b;           /* blocksize */
	int64_t ci, cj, cc;  /* depth-side channel coefficients */
	bool crd;            /* CRD mode (else DCR) */
} SpacePlan;
Status gen_space_plan(Graph *g, const Node *n, const Value *x, SpacePlan *p);

#endif
