/*
 * The layers the dataflow mapper takes, read from graph nodes: the
 * convolutions (Conv, ConvInteger, QLinearConv) over one or two spatial
 * dimensions and the matrix products (Gemm, MatMul, MatMulInteger,
 * QLinearMatMul), as the eight dimensions of df_dim.def.
 *
 * The mapper needs the output size, the kernel, the strides and the
 * dilations; padding shows only through P and Q, which come from the
 * convolution geometry the interpreter and the lowering share
 * (win_conv_geom).  A 1-D convolution is a 2-D one of height 1 (P = R = 1,
 * row stride and dilation 1).
 *
 * A matrix product Y[M][Nc] = A[M][Kd] * B[Kd][Nc] is the convolution with
 * N = M (rows of the left operand), C = Kd (the reduction), K = Nc and
 * P = Q = R = S = 1.  MatMul's batch dimensions become G (the weights
 * differ per batch entry) unless B has none or they are all 1: then B is
 * shared by every batch entry, as a fully connected layer over a sequence
 * is, and the batch dimensions join the rows N so that the mapper sees the
 * weight reuse.
 *
 * Diagnostics go to the caller's Diag in the graph's "FILE: node 'NAME'
 * (OP): ..." form: the helpers below work on a shallow copy of the graph
 * whose diag is the caller's.  Neither they nor win_conv_geom write the
 * graph or allocate from its arena, so the copy is only a view.
 */
#include <string.h>

#include "dataflow.h"
#include "interp/window.h"
#include "op.h"

/* Where a layer op keeps its data and weight operands. */
typedef struct DfLayerOp {
	OpKind op;
	bool conv;           /* a convolution; else a matrix product */
	int x, w;            /* input indices of X (A) and W (B) */
} DfLayerOp;

static const DfLayerOp layer_ops[] = {
	{OP_Conv, true, 0, 1},
	{OP_ConvInteger, true, 0, 1},
	{OP_QLinearConv, true, 0, 3},
	{OP_Gemm, false, 0, 1},
	{OP_MatMul, false, 0, 1},
	{OP_MatMulInteger, false, 0, 1},
	{OP_QLinearMatMul, false, 0, 3},
};

static const DfLayerOp *layer_op(OpKind op)
{
	for (size_t i = 0; i < ARRAY_LEN(layer_ops); i++)
		if (layer_ops[i].op == op)
			return &layer_ops[i];
	return NULL;
}

static bool all_positive(const Value *v)
{
	for (int i = 0; i < v->rank; i++)
		if (v->dims[i] <= 0)
			return false;
	return true;
}

/* Input i's type when present with every dimension known and positive;
 * else a diagnostic. */
static Status known_input(Graph *g, const Node *n, int i, const Value **v)
{
	const Tensor *t = node_in(g, n, i);

	if (!t)
		return node_error(g, n, ST_UNSUPPORTED, "input %d is absent", i);
	if (t->v.dt == DT_UNDEF || !val_known(&t->v))
		return node_error(g, n, ST_UNSUPPORTED, "the shape of input '%s' is not known", t->name);
	if (!all_positive(&t->v))
		return node_error(g, n, ST_UNSUPPORTED, "input '%s' is empty: no layer to map", t->name);
	*v = &t->v;
	return ST_OK;
}

static void problem_clear(DfProblem *pb, const Node *n)
{
	memset(pb, 0, sizeof(*pb));
	pb->name = *n->name ? n->name : n->op_type;
	pb->op = n->op_type;
	for (int d = 0; d < DF_NDIMS; d++)
		pb->dim[d] = 1;
	for (int i = 0; i < 2; i++)
		pb->stride[i] = pb->dilation[i] = 1;
}

static Status conv_problem(DfProblem *pb, Graph *g, const Node *n, const DfLayerOp *lo)
{
	const Value *x, *w;
	ConvGeom gm;
	int last;

	TRY(known_input(g, n, lo->x, &x));
	TRY(known_input(g, n, lo->w, &w));
	TRY(win_conv_geom(g, n, x, w, &gm));
	if (gm.nsp > 2)
		return node_error(g, n, ST_UNSUPPORTED,
		                  "%d spatial dimensions: the mapper takes 1 or 2", gm.nsp);
	if (gm.out[0] <= 0 || gm.out[gm.nsp - 1] <= 0)
		return node_error(g, n, ST_UNSUPPORTED, "the output is empty: no layer to map");
	last = gm.nsp - 1;
	pb->dim[DF_N] = gm.batch;
	pb->dim[DF_G] = gm.group;
	pb->dim[DF_K] = gm.cout / gm.group;
	pb->dim[DF_C] = gm.cin / gm.group;
	pb->dim[DF_Q] = gm.out[last];
	pb->dim[DF_S] = gm.k[last];
	pb->stride[1] = gm.stride[last];
	pb->dilation[1] = gm.dil[last];
	if (gm.nsp == 2) {
		pb->dim[DF_P] = gm.out[0];
		pb->dim[DF_R] = gm.k[0];
		pb->stride[0] = gm.stride[0];
		pb->dilation[0] = gm.dil[0];
	}
	return ST_OK;
}

/* Gemm: A is [M][K] ([K][M] with transA), B [K][N] ([N][K] with transB). */
static Status gemm_problem(DfProblem *pb, Graph *g, const Node *n, const DfLayerOp *lo)
{
	const Value *a, *b;
	bool ta = attr_i(n, "transA", 0) != 0, tb = attr_i(n, "transB", 0) != 0;
	int64_t ka, kb;

	TRY(known_input(g, n, lo->x, &a));
	TRY(known_input(g, n, lo->w, &b));
	if (a->rank != 2 || b->rank != 2)
		return node_error(g, n, ST_UNSUPPORTED, "operands of rank %d and %d, expected 2 and 2",
		                  a->rank, b->rank);
	ka = a->dims[ta ? 0 : 1];
	kb = b->dims[tb ? 1 : 0];
	if (ka != kb)
		return node_error(g, n, ST_INVALID, "A has %lld columns, B has %lld rows",
		                  (long long)ka, (long long)kb);
	pb->dim[DF_N] = a->dims[ta ? 1 : 0];
	pb->dim[DF_C] = ka;
	pb->dim[DF_K] = b->dims[tb ? 0 : 1];
	return ST_OK;
}

/* Batch dimension i (counted from the one before the last two) of v: 1
 * past its rank. */
static int64_t batch_dim(const Value *v, int i)
{
	int at = v->rank - 3 - i;

	return at >= 0 ? v->dims[at] : 1;
}

/* The entries of A's and B's broadcast batch dimensions, and of B's own. */
static void batch_numel(const Value *a, const Value *b, int64_t *batch, int64_t *bbatch)
{
	int nb = (a->rank > b->rank ? a->rank : b->rank) - 2;

	*batch = *bbatch = 1;
	for (int i = 0; i < nb; i++) {
		int64_t da = batch_dim(a, i), db = batch_dim(b, i);
		*batch *= da > db ? da : db;
		*bbatch *= db;
	}
}

/* MatMul and its quantized forms, NumPy semantics: a 1-D A is one row, a
 * 1-D B one column; the batch dimensions broadcast (shape inference
 * checked that they do). */
static Status matmul_problem(DfProblem *pb, Graph *g, const Node *n, const DfLayerOp *lo)
{
	const Value *a, *b;
	int64_t rows, ka, kb, cols, batch, bbatch;

	TRY(known_input(g, n, lo->x, &a));
	TRY(known_input(g, n, lo->w, &b));
	if (a->rank == 0 || b->rank == 0)
		return node_error(g, n, ST_INVALID, "a scalar operand");
	rows = a->rank >= 2 ? a->dims[a->rank - 2] : 1;
	ka = a->dims[a->rank - 1];
	kb = b->rank >= 2 ? b->dims[b->rank - 2] : b->dims[0];
	cols = b->rank >= 2 ? b->dims[b->rank - 1] : 1;
	if (ka != kb)
		return node_error(g, n, ST_INVALID, "A has %lld columns, B has %lld rows",
		                  (long long)ka, (long long)kb);
	batch_numel(a, b, &batch, &bbatch);
	if (bbatch == 1) {
		pb->dim[DF_N] = batch * rows;
	} else {
		pb->dim[DF_N] = rows;
		pb->dim[DF_G] = batch;
	}
	pb->dim[DF_C] = ka;
	pb->dim[DF_K] = cols;
	return ST_OK;
}

bool df_is_layer_op(const Node *n)
{
	return layer_op(n->op) != NULL;
}

Status df_problem_from_node(DfProblem *pb, const Graph *g, const Node *n, Diag *d)
{
	const DfLayerOp *lo = layer_op(n->op);
	Graph view = *g;

	view.diag = d;
	problem_clear(pb, n);
	if (!lo)
		return node_error(&view, n, ST_UNSUPPORTED,
		                  "not a layer the mapper takes (Conv, Gemm, MatMul and their quantized forms)");
	if (lo->conv)
		return conv_problem(pb, &view, n, lo);
	if (n->op == OP_Gemm)
		return gemm_problem(pb, &view, n, lo);
	return matmul_problem(pb, &view, n, lo);
}
