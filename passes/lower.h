/*
 * Lowering from the graph IR to the loop IR: the interface between the
 * driver (passes/lower.c) and the per-op lowerings (passes/lower_*.c).
 *
 * The driver makes one program buffer in DRAM per graph tensor that needs
 * memory (inputs first, in graph order, then outputs in graph order, then
 * constants and intermediates as they are met), opens one kernel per layer
 * and calls the op's LowerFn, which appends canonical loop nests to it:
 *
 *   - an init nest (fill, or copy of the bias), then
 *   - a perfectly nested compute nest, output loops outside and reduction
 *     loops innermost, with one mac or reduce statement, then
 *   - epilogue nests (apply), each over the whole output.
 *
 * These are the shapes the tiling transforms and the dataflow pass expect.
 * Temporaries of a kernel (padded input copies, row maxima...) are kernel
 * buffers in DRAM.  A LowerFn reports what it cannot lower with node_error
 * and ST_UNSUPPORTED; the loop-conformance driver counts those cases as
 * unsupported.
 *
 * Fusion: the driver lowers a producer and its chain of elementwise
 * consumers (an activation, a bias Add, an unfolded BatchNormalization...)
 * into one kernel; all tensors of the chain share one buffer, so a
 * consumer's LowerFn sees lower_buf(in) == lower_out(out) and computes in
 * place.  Every elementwise LowerFn must therefore work in place.
 */
#ifndef NNAC_LOWER_H
#define NNAC_LOWER_H

#include "loop.h"
#include "op.h"
#include "passes.h"

typedef struct LowerCx {
	Graph *g;
	LoopProgram *p;
	int *tbuf;           /* graph tensor -> program buffer, -1 until made */
	int dram;            /* level of program buffers and temporaries */
	int kernel;          /* kernel being built */
	const LowerOptions *opt;
} LowerCx;

typedef Status (*LowerFn)(LowerCx *cx, const Node *n);

/* Buffer of tensor t: an existing one, or a const buffer borrowing the
 * graph's data, or a new intermediate in DRAM.  -1 when t is absent (t < 0). */
int lower_buf(LowerCx *cx, int t);
/* Buffer of output i of n (-1 when that output is absent). */
int lower_out(LowerCx *cx, const Node *n, int i);
/* Output i of n becomes a view of buffer base at an element offset; when
 * the output already has a buffer (a graph output), returns false and the
 * caller copies instead. */
bool lower_view(LowerCx *cx, const Node *n, int i, int base, int64_t offset);
/* A kernel-local temporary at level (cx->dram for now). */
int lower_temp(LowerCx *cx, const char *base, DType dt, int rank, const int64_t *dims);
/* A program const buffer holding data computed at compile time (rescaled
 * weights, folded parameters); data must live in the program's arena. */
int lower_const(LowerCx *cx, const char *base, DType dt, int rank, const int64_t *dims, void *data);

/*
 * Appends under parent (a for node, or -1 for the kernel's top level) rank
 * nested loops 0..dims[i], named names[i] (NULL names: i0, i1, ...), and
 * stores in vars[i] an expression for loop i's variable.  Returns the
 * innermost for node, or parent when rank is 0.
 */
int lower_nest(LowerCx *cx, int parent, int rank, const int64_t *dims,
               const char *const *names, int *vars);
/* A new statement of kind appended under parent. */
int lower_stmt(LowerCx *cx, int parent, LoopNodeKind kind);
/* Reference to buf indexed by idx (one per dimension of buf). */
LoopArg lower_ref(LowerCx *cx, int buf, const int *idx);
/* Reference to buf broadcast (NumPy rules) into an output of rank out_rank
 * indexed by vars: right-aligned, a dimension of size 1 indexed by 0. */
LoopArg lower_bcast_ref(LowerCx *cx, int buf, int out_rank, const int *vars);
/* Copies the whole of buffer src into dst (same shape and dtype) with one
 * nest under parent: for outputs that cannot be views.  Nothing for an
 * empty buffer. */
void lower_copy_all(LowerCx *cx, int parent, int dst, int src);

/* Per-op lowerings, each defined in one passes/lower_*.c file. */
/* lower_conv.c */
Status lower_conv(LowerCx *cx, const Node *n);            /* Conv, ConvInteger, QLinearConv */
Status lower_conv_transpose(LowerCx *cx, const Node *n);
/* lower_matmul.c */
Status lower_gemm(LowerCx *cx, const Node *n);
Status lower_matmul(LowerCx *cx, const Node *n);          /* MatMul, MatMulInteger, QLinearMatMul */
/* lower_quant.c */
Status lower_quantize(LowerCx *cx, const Node *n);        /* QuantizeLinear */
Status lower_dequantize(LowerCx *cx, const Node *n);      /* DequantizeLinear */
/* lower_pool.c */
Status lower_pool(LowerCx *cx, const Node *n);            /* MaxPool, AveragePool, Global* */
Status lower_lrn(LowerCx *cx, const Node *n);
/* lower_norm.c */
Status lower_batchnorm(LowerCx *cx, const Node *n);
Status lower_instancenorm(LowerCx *cx, const Node *n);
Status lower_softmax(LowerCx *cx, const Node *n);         /* Softmax, LogSoftmax */
Status lower_reduce(LowerCx *cx, const Node *n);          /* ReduceMean, ReduceMax, ReduceSum */
/* lower_elem.c */
Status lower_unary(LowerCx *cx, const Node *n);           /* activations, math, Cast */
Status lower_binary(LowerCx *cx, const Node *n);          /* Add ... PRelu, Sum/Max/Min/Mean */
/* The activation the graph's fusion pass recorded on n (n->fused_act),
 * applied in place on n's output 0 at the end of the current kernel. */
Status lower_fused_act(LowerCx *cx, const Node *n);
/* lower_move.c */
Status lower_reshape(LowerCx *cx, const Node *n);         /* Reshape, Flatten, (Un)Squeeze, Identity, Dropout */
Status lower_transpose(LowerCx *cx, const Node *n);
Status lower_concat(LowerCx *cx, const Node *n);
Status lower_split(LowerCx *cx, const Node *n);
Status lower_slice(LowerCx *cx, const Node *n);
Status lower_pad(LowerCx *cx, const Node *n);
Status lower_gather(LowerCx *cx, const Node *n);
Status lower_resize(LowerCx *cx, const Node *n);          /* Resize, Upsample */
/* lower_rnn.c */
Status lower_rnn(LowerCx *cx, const Node *n);             /* RNN, GRU, LSTM */

#endif
