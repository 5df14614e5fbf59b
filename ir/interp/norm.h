/*
 * The planning of the normalizations and reductions of norm.c that the
 * loop lowering (passes/lower_norm.c) shares with the reference kernels.
 */
#ifndef NNAC_NORM_H
#define NNAC_NORM_H

#include "op.h"

/* LayerNormalization's and RMSNormalization's first normalized axis,
 * normalized over rank dimensions. */
Status norm_layer_axis(Graph *g, const Node *n, int rank, int64_t *axis);

#endif
