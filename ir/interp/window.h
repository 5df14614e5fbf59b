/*
 * Window geometry shared by the convolution and pooling kernels (conv.c,
 * pool.c) and their loop lowerings (passes/lower_conv.c, lower_pool.c).
 * Spatial dimensions follow the batch and channel dimensions.
 */
#ifndef NNAC_WINDOW_H
#define NNAC_WINDOW_H

#include "op.h"

/* MAX_SP: spatial dimensions.  WIN_MAX_ATTR: the largest kernel size,
 * stride, dilation or pad nnac accepts (2^31 - 1), so that window
 * arithmetic on accepted tensors (at most 2^40 bytes) cannot overflow. */
enum { MAX_SP = MAX_RANK - 2, WIN_MAX_ATTR = 2147483647 };

typedef enum AutoPad { PAD_NOTSET, PAD_SAME_UPPER, PAD_SAME_LOWER, PAD_VALID } AutoPad;

/* Integer division rounding toward -infinity / +infinity; b != 0. */
int64_t win_floor_div(int64_t a, int64_t b);
int64_t win_ceil_div(int64_t a, int64_t b);
/* Product of d[0 .. count). */
int64_t win_prod(const int64_t *d, int count);
/* Advances a row-major multi-index over lim; wraps to all zeros at the end. */
void win_next_index(int64_t *idx, const int64_t *lim, int rank);
/*
 * List attribute `name` of exactly `count` values, each at least min and
 * at most WIN_MAX_ATTR, into dst; every slot gets def when the attribute is
 * absent or empty.
 */
Status win_read_list(Graph *g, const Node *n, const char *name, int count,
                     int64_t def, int64_t min, int64_t *dst);
/* The auto_pad attribute (default NOTSET). */
Status win_read_auto_pad(Graph *g, const Node *n, AutoPad *ap);

/* The window geometry of a convolution (conv.c). */
typedef struct ConvGeom {
	int nsp;                     /* spatial dimensions */
	bool transposed;             /* ConvTranspose: W is [C][M/group][k...] */
	int64_t batch, cin, cout;    /* N, C, M; DIM_UNKNOWN when not known */
	int64_t group;
	int64_t in[MAX_SP];          /* X spatial sizes */
	int64_t k[MAX_SP];           /* kernel spatial sizes */
	int64_t out[MAX_SP];         /* Y spatial sizes */
	int64_t stride[MAX_SP], dil[MAX_SP];
	int64_t pad0[MAX_SP];        /* padding before each dim */
	int64_t pad1[MAX_SP];        /* padding after each dim */
} ConvGeom;

/* The geometry of convolution node n for input types x and w: the window
 * attributes, the padding resolved from auto_pad, output_padding and
 * output_shape, the output sizes. */
Status win_conv_geom(Graph *g, const Node *n, const Value *x, const Value *w, ConvGeom *gm);
/* The span of the kernel taps along spatial dim i. */
int64_t win_conv_extent(const ConvGeom *gm, int i);

/* The window geometry of a pooling node (pool.c). */
typedef struct Pool {
	int nsp;                     /* spatial dimensions */
	int64_t in[MAX_SP];          /* X spatial sizes */
	int64_t k[MAX_SP];           /* window sizes */
	int64_t out[MAX_SP];         /* Y spatial sizes, DIM_UNKNOWN if not known */
	int64_t stride[MAX_SP], dil[MAX_SP];
	int64_t pad0[MAX_SP];        /* padding before each dim */
	int64_t pad1[MAX_SP];        /* padding after each dim */
} Pool;

/* The geometry of pooling node n for input type x: the window attributes,
 * the padding resolved from auto_pad, the output sizes with ceil_mode. */
Status win_pool_geom(Graph *g, const Node *n, const Value *x, Pool *pm);
/* The span of the taps of a window along spatial dim i. */
int64_t win_pool_extent(const Pool *pm, int i);
/* The window taps pooling node n (inferred) visits: outputs x taps,
 * saturating at INT64_MAX; 0 for a node of another op. */
int64_t win_pool_steps(Graph *g, const Node *n);

#endif
