/*
 * Window geometry shared by the convolution and pooling kernels (conv.c,
 * pool.c).  Spatial dimensions follow the batch and channel dimensions.
 */
#ifndef NNAC_WINDOW_H
#define NNAC_WINDOW_H

#include "op.h"

enum { MAX_SP = MAX_RANK - 2 };

typedef enum AutoPad { PAD_NOTSET, PAD_SAME_UPPER, PAD_SAME_LOWER, PAD_VALID } AutoPad;

/* Integer division rounding toward -infinity / +infinity; b != 0. */
int64_t win_floor_div(int64_t a, int64_t b);
int64_t win_ceil_div(int64_t a, int64_t b);
/* Product of d[0 .. count). */
int64_t win_prod(const int64_t *d, int count);
/* Advances a row-major multi-index over lim; wraps to all zeros at the end. */
void win_next_index(int64_t *idx, const int64_t *lim, int rank);
/*
 * List attribute `name` of exactly `count` values, each at least min, into
 * dst; every slot gets def when the attribute is absent or empty.
 */
Status win_read_list(Graph *g, const Node *n, const char *name, int count,
                     int64_t def, int64_t min, int64_t *dst);
/* The auto_pad attribute (default NOTSET). */
Status win_read_auto_pad(Graph *g, const Node *n, AutoPad *ap);

#endif
