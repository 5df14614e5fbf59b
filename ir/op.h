/*
 * The operator interface: what every op of ops.def implements.
 *
 * infer  Runs once per node during shape inference (passes/shape.c), in
 *        topological order.  Input tensors are typed (node_in(g, n, i)->v);
 *        constant inputs also carry data.  It validates attributes, input
 *        count, element types and shapes, reports problems with node_error()
 *        (ST_UNSUPPORTED for valid ONNX that nnac does not handle,
 *        ST_INVALID for a malformed model), and sets the type of every
 *        present output with infer_out().
 * eval   The reference interpreter's kernel.  Outputs arrive typed with
 *        zeroed data; absent optional inputs and outputs are NULL.  It may
 *        assume infer accepted the node.  Temporary memory comes from
 *        cx->scratch, which is reset after each node.
 * macs   Multiply-accumulates of one execution (for `nnac inspect`), or
 *        NULL when the op does none worth counting.
 *
 * Each op's OpImpl is defined in ir/interp/ as `const OpImpl op_impl_<Op>`.
 */
#ifndef NNAC_OP_H
#define NNAC_OP_H

#include "graph.h"

typedef struct EvalCtx {
	Arena *scratch;
	Graph *g;
} EvalCtx;

typedef struct OpImpl {
	Status (*infer)(Graph *g, Node *n);
	Status (*eval)(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out);
	int64_t (*macs)(Graph *g, const Node *n);
} OpImpl;

#define OP(id, mi, xi, mo, xo, fl, at, syn) extern const OpImpl op_impl_##id;
#include "ops.def"
#undef OP

const OpImpl *op_impl(OpKind op);

/* Returns from the enclosing function with x's status unless it is ST_OK. */
#define TRY(x) do { Status st_ = (x); if (st_ != ST_OK) return st_; } while (0)

/* Whether optional input i of n is present. */
static inline bool has_input(const Node *n, int i) { return i < n->nin && n->in[i] >= 0; }

/* "FILE: node 'NAME' (OP): out of memory", for eval kernels. */
Status eval_oom(EvalCtx *cx, const Node *n);

/*
 * An argument carried by input i (Slice's starts, Resize's scales...): the
 * constant during infer (in == NULL), the run-time value during eval (in
 * memory from a), so one planning function can serve both.  Absent or
 * empty: ST_OK with *vals = NULL and *count = 0.
 */
Status op_ints_arg(Graph *g, const Node *n, const Value *const *in, Arena *a, int i,
                   int64_t **vals, int *count);
Status op_floats_arg(Graph *g, const Node *n, const Value *const *in, Arena *a, int i,
                     double **vals, int *count);

/* Element-type sets for dtype checks. */
#define DTM(x) (1u << DT_##x)
#define DTM_FLOAT (DTM(F32) | DTM(F64) | DTM(F16) | DTM(BF16))
#define DTM_SINT (DTM(I8) | DTM(I16) | DTM(I32) | DTM(I64))
#define DTM_UINT (DTM(U8) | DTM(U16) | DTM(U32) | DTM(U64))
#define DTM_INT (DTM_SINT | DTM_UINT)
#define DTM_NUM (DTM_FLOAT | DTM_INT)
#define DTM_ALL (DTM_NUM | DTM(BOOL))
/* The low-bit types (dtype.def): Cast, quantization and moves take them. */
#define DTM_LOWBIT (DTM(F8E4M3FN) | DTM(F8E4M3FNUZ) | DTM(F8E5M2) | DTM(F8E5M2FNUZ) | DTM(U4) | DTM(I4) | \
                    DTM(F4E2M1) | DTM(F8E8M0) | DTM(U2) | DTM(I2))

/* ST_UNSUPPORTED naming the input unless its dtype is in mask. */
Status infer_dtype(Graph *g, const Node *n, int input, unsigned mask);
/* Input count within [lo, hi] counting present inputs up to the last. */
Status infer_nin(Graph *g, const Node *n, int lo, int hi);
/* Sets output i's type (no-op if the output is absent). */
void infer_out(Graph *g, const Node *n, int i, DType dt, int rank, const int64_t *dims);
/* Output 0 gets input 0's type: for shape-preserving elementwise ops. */
Status infer_same(Graph *g, Node *n);
/*
 * A constant integer input (e.g. Reshape's shape): its elements as int64 in
 * graph-arena memory.  Absent input: returns ST_OK with *vals = NULL.
 * Not constant: ST_UNSUPPORTED naming the input ("computed at run time").
 */
Status infer_const_ints(Graph *g, const Node *n, int input, int64_t **vals, int *count);
/* Same for a constant float input (scales, etc.). */
Status infer_const_floats(Graph *g, const Node *n, int input, double **vals, int *count);
/* ST_UNSUPPORTED for an attribute value nnac does not handle. */
Status infer_bad_attr(Graph *g, const Node *n, const char *attr, const char *why);

#endif
