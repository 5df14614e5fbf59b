/*
 * The TPU plan: a model cut into the layers the TPU runs (matrix layers: a
 * convolution or matrix product with its bias, activation function and
 * pooling) and the steps the host CPU runs (every other node), over the
 * activation tensors they exchange, quantized.
 *
 * The tpu target builds it (backends/tpu/tpu.h: tpu_select from an
 * optimized graph, tpu_emit placing its tensors and turning its matrix
 * layers into instructions); the executor (runtime/tpu_exec.c) runs it, the program on
 * the simulator or the matrix layers on the integer reference, and the host
 * steps, lowered to loop IR at compile time, on the loop interpreter.
 *
 * Image layout.  An activation tensor is seen as nimg images of c channels
 * by h x w pixels: [N,C,H,W] is N images, a matrix [M,C] is one image of
 * 1 x M pixels (so M rows stream through the array at once).  It is stored
 * as rows of one pixel's channels, channel block by channel block (a block
 * is the array height), images inside, each image padded by pt/pl/pb/pr
 * zero pixels around (the padding its consumer convolutions need):
 *
 *     row(cb, n, y, x) = cb * nimg*hp*wp + n * hp*wp + (y+pt) * wp + (x+pl)
 *
 * In the unified buffer a row is one buffer row; in host memory the rows of
 * block cb are packed at len(cb) elements (the channels in the block).
 *
 * The graph tensor's own data (what host steps read and write, and the
 * executor's quantized forms) keeps the graph's order: [N][C][H][W] for an
 * image, but [M][C] for a matrix, whose pixel x holds elements x*C ..
 * x*C + C-1 (channels_last).  tpu_elem maps the image view to it.
 */
#ifndef NNAC_TPU_PLAN_H
#define NNAC_TPU_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "graph.h"
#include "loop.h"
#include "tpu_isa.h"

typedef enum TpuLoc {
	TPU_LOC_NONE,        /* touched by the host only (kept as f32) */
	TPU_LOC_HOST,        /* in host memory, image layout */
	TPU_LOC_UB           /* resident in the unified buffer for its segment */
} TpuLoc;

typedef struct TpuTensor {
	int gt;                     /* graph tensor (compile time only; -1 in a plan read back) */
	const char *name;           /* the graph tensor's name */
	Value type;                 /* its element type and shape (no data): the f32 form */
	int64_t nimg, c, h, w;      /* image view */
	bool channels_last;         /* graph data [N][H][W][C] (a matrix [M,C]), else [N][C][H][W] */
	int64_t pt, pl, pb, pr;     /* padding kept around each image */
	float scale;                /* int8: real = scale * q; bf16: 1 */
	TpuLoc loc;
	uint64_t host_addr;         /* HOST: byte address of row 0 */
	int64_t ub_row;             /* UB: first row */
	bool matrix;                /* read or written by a matrix layer */
} TpuTensor;

typedef enum TpuLayerKind { TPU_LAYER_MATRIX, TPU_LAYER_HOST } TpuLayerKind;

typedef struct TpuLayer {
	TpuLayerKind kind;
	const char *name;           /* the first node's name */
	int segment;                /* index into TpuPlan.seg */
	/* matrix layers */
	int in, out;                /* TpuTensor indices */
	int64_t k, c, r, s;         /* output channels, input channels, kernel */
	int64_t sh, sw, dh, dw;     /* strides, dilations */
	int64_t pt, pl;             /* the convolution's own padding (top, left) */
	int64_t oh, ow;             /* convolution output size */
	TpuFunc func;
	TpuPool pool;
	int64_t pkh, pkw, psy, psx; /* pooling window and strides (1 without pooling) */
	int64_t ph, pw;             /* pooled (final) output size */
	bool identity;              /* weights: one per channel (pooling or activation alone) */
	void *wq;                   /* [k][c][r][s]: int8, or bf16 bits */
	float *wscale;              /* [k] per-channel weight scale (int8) */
	int32_t *bias_q;            /* [k] int8: bias / (in scale * wscale) */
	float *bias_f;              /* [k] bf16: bias */
	/* host layers */
	int *nodes, nnodes;         /* graph nodes, in order (compile time only) */
	LoopProgram *host;          /* the nodes lowered: inputs and outputs are
	                               the tensors of ins and outs, by name */
	int *ins, nins;             /* TpuTensor indices read */
	int *outs, nouts;           /* TpuTensor indices written */
} TpuLayer;

/* A run of the program between two host steps, or one host step. */
typedef struct TpuSegment {
	bool host;                  /* a host step: layer `layer` */
	int layer;
	uint32_t first, count;      /* instructions, ending with halt */
	int *ins, nins;             /* HOST tensors it reads (formatted before) */
	int *outs, nouts;           /* HOST tensors it writes (read back after) */
} TpuSegment;

typedef struct TpuPlan {
	Arena arena;                /* everything below */
	TpuConfig cfg;
	int precision;              /* TPU_INT8 or TPU_BF16 */
	TpuTensor *t;
	int nt;
	TpuLayer *l;
	int nl;
	TpuSegment *seg;
	int nseg;
	int *graph_in, *graph_out;  /* TpuTensor of each graph input / output */
	int ngraph_in, ngraph_out;
	TpuInsn *prog;
	uint32_t nprog;
	uint8_t *wdram;             /* weight DRAM image */
	uint64_t wdram_bytes;
	uint64_t host_bytes;        /* host memory the program addresses */
} TpuPlan;

/* Element bytes of the mode. */
static inline int tpu_esize(int precision) { return precision == TPU_BF16 ? 2 : 1; }

/* The image view of graph value v (nimg, c, h, w, channels_last); the
 * rest of t untouched. */
void tpu_image_view(TpuTensor *t, const Value *v);
/* Index in the graph tensor's data of channel c of pixel (y, x) of image n. */
int64_t tpu_elem(const TpuTensor *t, int64_t n, int64_t c, int64_t y, int64_t x);

/* Rows of one padded image, and of one channel block. */
int64_t tpu_image_rows(const TpuTensor *t);
int64_t tpu_blocks(const TpuTensor *t, int height);
/* Elements per row of channel block cb (the channels in it). */
int64_t tpu_block_len(const TpuTensor *t, int height, int64_t cb);
/* Row index of (cb, n, y, x) (y, x unpadded coordinates). */
int64_t tpu_row(const TpuTensor *t, int64_t cb, int64_t n, int64_t y, int64_t x);
/* Host bytes of row `row` of block cb, relative to host_addr. */
uint64_t tpu_host_offset(const TpuTensor *t, int height, int esize, int64_t cb, int64_t row);
uint64_t tpu_host_bytes(const TpuTensor *t, int esize);

void tpu_plan_init(TpuPlan *p);
void tpu_plan_free(TpuPlan *p);

#endif
