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

/* A reduction as map, combination and finish (norm.c's table). */
typedef enum RedMap { RMAP_NONE, RMAP_ABS, RMAP_SQUARE, RMAP_EXP } RedMap;
typedef enum RedComb { RCOMB_SUM, RCOMB_MAX, RCOMB_MIN, RCOMB_PROD } RedComb;
typedef enum RedFin { RFIN_NONE, RFIN_MEAN, RFIN_SQRT, RFIN_LOG } RedFin;
typedef struct RedInfo {
	RedMap map;          /* applied to every element (EXP: exp(x - shift)) */
	RedComb comb;        /* how mapped elements combine */
	RedFin fin;          /* applied to the result (LOG: log(r) + shift) */
} RedInfo;

/* The reduction op (ReduceSum ... ReduceSumSquare) as map, comb, fin. */
RedInfo norm_red_info(OpKind op);
/* Whether integer inputs take the exact integer path (else double). */
bool norm_red_exact_int(OpKind op);
/* ReduceLogSumExp's shift from a row's maximum: clamped to finite. */
double norm_red_shift(double max);
/* The lowest and highest values of an integer or bool type, as int64
 * (u64's highest is -1, all bits set). */
int64_t norm_int_lowest(DType dt);
int64_t norm_int_highest(DType dt);

/* ArgMax's and ArgMin's normalized axis over rank dimensions. */
Status norm_arg_axis(Graph *g, const Node *n, int rank, int64_t *axis);

/* Softmax's view of X as [outer, len, inner], normalized along len: before
 * opset 13 X is coerced to 2-D at `axis` (default 1), len the whole
 * trailing block; from opset 13 len is dimension `axis` (default -1).
 * Softmax, LogSoftmax and Hardmax share it.  False: axis out of range. */
typedef struct SoftmaxGeom {
	int64_t outer, len, inner;
} SoftmaxGeom;
bool norm_softmax_geom(const Graph *g, const Node *n, const Value *x, SoftmaxGeom *sg);

#endif
