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
 *   - epilogue nests (apply), each over the whole output; with fusion on,
 *     consecutive ones that touch each element only at its own iteration
 *     merge into one (pass_merge_nests, passes/tile_merge.c).
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

/* The rank of buffer b; its dimensions into dims[MAX_RANK]. */
int lower_buf_shape(LowerCx *cx, int b, int64_t *dims);
/* Whether every dimension of v is positive (loop nests need extents >= 1). */
bool lower_all_positive(const Value *v);
/* Whether optional input i of n is absent or a constant of zeros. */
bool lower_absent_or_zero(LowerCx *cx, const Node *n, int i);
/* f16 and bf16, whose arithmetic the graph interpreter does in double. */
bool lower_narrow_float(DType dt);
/*
 * For src minus the zero point in input zi of n: true, with *dst a new i32
 * kernel temporary `name` of src's shape (-1 when out of memory); false
 * when there is nothing to subtract (no zero point, zeros, or src < 0).
 */
bool lower_zero_point_temp(LowerCx *cx, const Node *n, int src, int zi, const char *name,
                           int *dst);

/* The name of the loop over dimension d: i0, i1, ... */
const char *lower_dim_name(int d);
/* Appends `for name in start..start+extent` under parent (a for node, or -1
 * for the kernel's top level); *var gets its variable.  Returns the loop. */
int lower_loop(LowerCx *cx, int parent, const char *name, int64_t start, int64_t extent,
               int *var);
/*
 * Appends under parent rank nested loops 0..dims[i], named names[i] (NULL
 * names: lower_dim_name), and stores in vars[i] an expression for loop i's
 * variable.  Returns the innermost for node, or parent when rank is 0.
 */
int lower_nest(LowerCx *cx, int parent, int rank, const int64_t *dims,
               const char *const *names, int *vars);
/* lower_nest at the kernel's top level over every element of buffer b. */
int lower_buf_nest(LowerCx *cx, int b, const char *const *names, int *vars);
/*
 * Loops i0, i1 ... over dims at the kernel's top level, the dimensions
 * where red[d] is false outside (in order) and the reduced ones inside; a
 * dimension of size 1 gets index 0 and no loop.  red may be NULL (nothing
 * reduced).  vars[d] is dimension d's index; returns the innermost loop,
 * -1 when there is none.
 */
int lower_elem_nest(LowerCx *cx, int rank, const int64_t *dims, const bool *red, int *vars);

/* A new statement of kind appended under parent. */
int lower_stmt(LowerCx *cx, int parent, LoopNodeKind kind);
/* A statement of kind under parent with arguments args[0 .. nargs). */
int lower_emit(LowerCx *cx, int parent, LoopNodeKind kind, int nargs, const LoopArg *args);
/* The same with two arguments: copy, fill, reduce. */
int lower_emit2(LowerCx *cx, int parent, LoopNodeKind kind, LoopArg dst, LoopArg src);
/* `copy dst = src pad LIT`: src may reach outside its buffer, where it
 * reads pad. */
int lower_copy_pad(LowerCx *cx, int parent, LoopArg dst, LoopArg src, LoopArg pad);
/* `apply` of op under parent: args[0] is the destination, then the
 * operands; the attributes are op's defaults. */
int lower_apply(LowerCx *cx, int parent, OpKind op, int nargs, const LoopArg *args);
/* `apply dst = op(a)` or `op(a, b)` by op's arity (b unused for one). */
int lower_apply_ab(LowerCx *cx, int parent, OpKind op, LoopArg dst, LoopArg a, LoopArg b);

/* Reference to buf indexed by idx (one per dimension of buf). */
LoopArg lower_ref(LowerCx *cx, int buf, const int *idx);
/* A literal holding x as stored into type dt (val_set_f64's conversion). */
LoopArg lower_typed_lit(DType dt, double x);
/* buf[0, ..., 0]: the one element of a scalar or per-tensor parameter. */
LoopArg lower_first_ref(LowerCx *cx, int buf);
/* 0 as a literal of dt's kind. */
LoopArg lower_zero_lit(DType dt);
/* The lowest value of dt: -inf for floats. */
LoopArg lower_lowest_lit(DType dt);
/* Reference to buf broadcast (NumPy rules) into an output of rank out_rank
 * indexed by vars: right-aligned, a dimension of size 1 indexed by 0. */
LoopArg lower_bcast_ref(LowerCx *cx, int buf, int out_rank, const int *vars);
/* Copies the whole of buffer src into dst (same shape and dtype) with one
 * nest under parent: for outputs that cannot be views.  Nothing for an
 * empty buffer. */
void lower_copy_all(LowerCx *cx, int parent, int dst, int src);
/*
 * dst = src over the whole of dst (same shape) by one lower_buf_nest,
 * converting the element type.  Cast into bf16 is refused by the verifier
 * (its graph semantics depend on the opset); an f64 stored into bf16 by any
 * other statement rounds as the graph interpreter's stores do, so Mul by
 * 1.0 carries the conversion.
 */
void lower_convert_all(LowerCx *cx, int dst, const char *const *names, int src);
/* By one lower_elem_nest over the whole of dst (src of the same shape):
 * dst = src, dst = Cast(src) (converting the element type), dst = lit. */
void lower_copy_elems(LowerCx *cx, int dst, int src);
void lower_cast_elems(LowerCx *cx, int dst, int src);
void lower_fill_elems(LowerCx *cx, int dst, LoopArg lit);

/* Per-op lowerings, each defined in one passes/lower_*.c file. */
/* lower_conv.c */
Status lower_conv(LowerCx *cx, const Node *n);            /* Conv, ConvInteger, QLinearConv */
Status lower_conv_transpose(LowerCx *cx, const Node *n);
/* lower_matmul.c */
Status lower_gemm(LowerCx *cx, const Node *n);
Status lower_matmul(LowerCx *cx, const Node *n);          /* MatMul, MatMulInteger, QLinearMatMul */
/* lower_einsum.c */
Status lower_einsum(LowerCx *cx, const Node *n);
/* lower_quant.c */
Status lower_quantize(LowerCx *cx, const Node *n);        /* QuantizeLinear */
Status lower_dequantize(LowerCx *cx, const Node *n);      /* DequantizeLinear */
/* lower_pool.c */
Status lower_pool(LowerCx *cx, const Node *n);            /* MaxPool, AveragePool, LpPool, Global* */
Status lower_lrn(LowerCx *cx, const Node *n);
/* lower_norm.c */
Status lower_batchnorm(LowerCx *cx, const Node *n);
Status lower_instancenorm(LowerCx *cx, const Node *n);
Status lower_softmax(LowerCx *cx, const Node *n);         /* Softmax, LogSoftmax */
Status lower_layernorm(LowerCx *cx, const Node *n);       /* LayerNormalization, RMSNormalization */
Status lower_reduce(LowerCx *cx, const Node *n);          /* ReduceSum ... ReduceSumSquare */
Status lower_argext(LowerCx *cx, const Node *n);          /* ArgMax, ArgMin */
/* lower_elem.c */
Status lower_unary(LowerCx *cx, const Node *n);           /* activations, math, Cast */
Status lower_binary(LowerCx *cx, const Node *n);          /* Add ... PRelu, Equal ... Xor, Where, Sum/Max/Min/Mean */
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
Status lower_gather(LowerCx *cx, const Node *n);          /* constant indices, else lower_gather_loaded */
Status lower_resize(LowerCx *cx, const Node *n);          /* Resize, Upsample */
/* lower_gen.c */
Status lower_expand(LowerCx *cx, const Node *n);
Status lower_tile(LowerCx *cx, const Node *n);
Status lower_eyelike(LowerCx *cx, const Node *n);
Status lower_trilu(LowerCx *cx, const Node *n);
Status lower_cumsum(LowerCx *cx, const Node *n);         /* CumSum, CumProd */
Status lower_space(LowerCx *cx, const Node *n);           /* DepthToSpace, SpaceToDepth */
/* OneHot: refused (its indices are compared, not loaded) */
Status lower_indexed(LowerCx *cx, const Node *n);
/* lower_index.c: loaded indices */
Status lower_gather_loaded(LowerCx *cx, const Node *n);   /* Gather, computed indices */
Status lower_elements(LowerCx *cx, const Node *n);        /* GatherElements, ScatterElements, Scatter */
Status lower_nd(LowerCx *cx, const Node *n);              /* GatherND, ScatterND */
/* lower_rope.c: position ids are loaded indices */
Status lower_rope(LowerCx *cx, const Node *n);            /* RotaryEmbedding */
/* lower_rnn.c */
Status lower_rnn(LowerCx *cx, const Node *n);             /* RNN, GRU, LSTM */
/* lower_attn.c */
Status lower_attention(LowerCx *cx, const Node *n);

#endif
