/*
 * The planning of the data-movement ops, shared by the reference kernels
 * (movement.c) and the loop-IR lowering (passes/lower_move.c): which axis,
 * which permutation, where a slice starts, how a pad maps output
 * coordinates to input ones.  Arguments that later opsets turned from
 * attributes into inputs come from constant inputs when in == NULL (shape
 * inference, lowering), else from the run-time values in[] (converted in
 * arena a).  Every function reports what is invalid.
 */
#ifndef NNAC_MOVEMENT_H
#define NNAC_MOVEMENT_H

#include "op.h"

/* Transpose's permutation of rank axes; the default reverses them. */
Status move_transpose_perm(Graph *g, const Node *n, int rank, int *perm);
/* The normalized axis of Concat, Split and Gather over rank dimensions. */
Status move_concat_axis(Graph *g, const Node *n, int rank, int64_t *axis);
Status move_split_axis(Graph *g, const Node *n, int rank, int64_t *axis);
Status move_gather_axis(Graph *g, const Node *n, int rank, int64_t *axis);
/* Sizes of Split's n->nout outputs along its axis of size dim. */
Status move_split_sizes(Graph *g, const Node *n, const Value *const *in, Arena *a, int64_t dim,
                        int64_t *sizes);

/* Where a slice starts, its step and how many elements it takes, per axis. */
typedef struct SlicePlan {
	int64_t start[MAX_RANK], step[MAX_RANK], len[MAX_RANK];
} SlicePlan;

/* The slice of input type x that node n takes. */
Status move_slice_plan(Graph *g, const Node *n, const Value *const *in, Arena *a, const Value *x,
                       SlicePlan *p);

enum { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE, PAD_WRAP };

/* Per axis: elements added before and after; negative ones crop. */
typedef struct PadPlan {
	int64_t begin[MAX_RANK], end[MAX_RANK];
	int mode;
} PadPlan;

/* The padding of input type x that node n asks for. */
Status move_pad_plan(Graph *g, const Node *n, const Value *const *in, Arena *a, const Value *x,
                     PadPlan *p);
/* For axis d (input size xdim, output size ydim): the input index of every
 * output coordinate, -1 where constant padding goes; in arena a, NULL when
 * out of memory. */
int64_t *move_pad_table(Arena *a, const PadPlan *p, int d, int64_t xdim, int64_t ydim);

#endif
