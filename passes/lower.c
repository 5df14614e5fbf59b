/*
 * Lowering driver: graph IR to loop IR.
 *
 * Buffers first: graph inputs (LB_INPUT) in graph order, then graph outputs
 * (LB_OUTPUT) in graph order, so that loop_input_buf(i) and
 * loop_output_buf(i) line up with the graph's own lists.  Then every live
 * node in topological order gets a kernel named after it, filled by its
 * op's LowerFn (table below).  A LowerFn that makes only views leaves its
 * kernel empty, and the driver drops it.
 *
 * Fusion plans a chain before lowering its head: while the head's single
 * consumer is an elementwise op or a row op (Softmax, LogSoftmax,
 * LayerNormalization, RMSNormalization) whose output has the same type and
 * shape and whose other inputs are computed before the head's kernel runs
 * (constants, graph inputs, outputs of nodes already lowered: an attention
 * mask), the consumer joins the chain (a binary op may take the chained
 * tensor as either operand: Add(bias, y)).  All tensors of the chain share
 * the buffer of the last one, so the consumers compute in place in the
 * head's kernel; pass_merge_nests then joins their consecutive elementwise
 * nests into one, and pass_fuse_rows runs what remains row by row where
 * it may (attention scores: scale, mask, max, exp, sum, normalize).
 *
 * A graph output that is a graph input, a constant, or listed twice gets
 * its own buffer and a final copy kernel.
 */
#include "lower.h"
#include "tile.h"

#include <math.h>
#include <string.h>

static const LowerFn lower_fns[OP_COUNT] = {
	[OP_Conv] = lower_conv,
	[OP_ConvInteger] = lower_conv,
	[OP_QLinearConv] = lower_conv,
	[OP_ConvTranspose] = lower_conv_transpose,
	[OP_Gemm] = lower_gemm,
	[OP_MatMul] = lower_matmul,
	[OP_MatMulInteger] = lower_matmul,
	[OP_QLinearMatMul] = lower_matmul,
	[OP_Einsum] = lower_einsum,
	[OP_QuantizeLinear] = lower_quantize,
	[OP_DequantizeLinear] = lower_dequantize,
	[OP_MaxPool] = lower_pool,
	[OP_AveragePool] = lower_pool,
	[OP_GlobalAveragePool] = lower_pool,
	[OP_GlobalMaxPool] = lower_pool,
	[OP_LRN] = lower_lrn,
	[OP_BatchNormalization] = lower_batchnorm,
	[OP_InstanceNormalization] = lower_instancenorm,
	[OP_Softmax] = lower_softmax,
	[OP_LogSoftmax] = lower_softmax,
	[OP_ReduceMean] = lower_reduce,
	[OP_ReduceMax] = lower_reduce,
	[OP_ReduceSum] = lower_reduce,
	[OP_Relu] = lower_unary,
	[OP_LeakyRelu] = lower_unary,
	[OP_Sigmoid] = lower_unary,
	[OP_Tanh] = lower_unary,
	[OP_HardSigmoid] = lower_unary,
	[OP_HardSwish] = lower_unary,
	[OP_Clip] = lower_unary,
	[OP_Elu] = lower_unary,
	[OP_Selu] = lower_unary,
	[OP_Softplus] = lower_unary,
	[OP_Softsign] = lower_unary,
	[OP_Exp] = lower_unary,
	[OP_Log] = lower_unary,
	[OP_Sqrt] = lower_unary,
	[OP_Neg] = lower_unary,
	[OP_Abs] = lower_unary,
	[OP_Reciprocal] = lower_unary,
	[OP_Floor] = lower_unary,
	[OP_Ceil] = lower_unary,
	[OP_Erf] = lower_unary,
	[OP_Not] = lower_unary,
	[OP_IsNaN] = lower_unary,
	[OP_IsInf] = lower_unary,
	[OP_Sign] = lower_unary,
	[OP_Round] = lower_unary,
	[OP_Sin] = lower_unary,
	[OP_Cos] = lower_unary,
	[OP_Tan] = lower_unary,
	[OP_Asin] = lower_unary,
	[OP_Acos] = lower_unary,
	[OP_Atan] = lower_unary,
	[OP_Sinh] = lower_unary,
	[OP_Cosh] = lower_unary,
	[OP_Asinh] = lower_unary,
	[OP_Acosh] = lower_unary,
	[OP_Atanh] = lower_unary,
	[OP_Gelu] = lower_unary,
	[OP_Mish] = lower_unary,
	[OP_ThresholdedRelu] = lower_unary,
	[OP_Celu] = lower_unary,
	[OP_Shrink] = lower_unary,
	[OP_Cast] = lower_unary,
	[OP_Add] = lower_binary,
	[OP_Sub] = lower_binary,
	[OP_Mul] = lower_binary,
	[OP_Div] = lower_binary,
	[OP_Pow] = lower_binary,
	[OP_PRelu] = lower_binary,
	[OP_Sum] = lower_binary,
	[OP_Max] = lower_binary,
	[OP_Min] = lower_binary,
	[OP_Mean] = lower_binary,
	[OP_Equal] = lower_binary,
	[OP_Less] = lower_binary,
	[OP_Greater] = lower_binary,
	[OP_LessOrEqual] = lower_binary,
	[OP_GreaterOrEqual] = lower_binary,
	[OP_And] = lower_binary,
	[OP_Or] = lower_binary,
	[OP_Xor] = lower_binary,
	[OP_Where] = lower_binary,
	[OP_Mod] = lower_binary,
	[OP_BitShift] = lower_binary,
	[OP_Reshape] = lower_reshape,
	[OP_Flatten] = lower_reshape,
	[OP_Squeeze] = lower_reshape,
	[OP_Unsqueeze] = lower_reshape,
	[OP_Identity] = lower_reshape,
	[OP_Dropout] = lower_reshape,
	[OP_Transpose] = lower_transpose,
	[OP_Concat] = lower_concat,
	[OP_Split] = lower_split,
	[OP_Slice] = lower_slice,
	[OP_Pad] = lower_pad,
	[OP_Gather] = lower_gather,
	[OP_Resize] = lower_resize,
	[OP_Upsample] = lower_resize,
	[OP_RNN] = lower_rnn,
	[OP_GRU] = lower_rnn,
	[OP_LSTM] = lower_rnn,
	/* issue 15 */
	[OP_LayerNormalization] = lower_layernorm,
	[OP_RMSNormalization] = lower_layernorm,
	[OP_CastLike] = lower_unary,
	[OP_Expand] = lower_expand,
	[OP_Trilu] = lower_trilu,
	[OP_CumSum] = lower_cumsum,
	[OP_ReduceMin] = lower_reduce,
	[OP_ReduceProd] = lower_reduce,
	[OP_ReduceL1] = lower_reduce,
	[OP_ReduceL2] = lower_reduce,
	[OP_ReduceLogSum] = lower_reduce,
	[OP_ReduceLogSumExp] = lower_reduce,
	[OP_ReduceSumSquare] = lower_reduce,
	[OP_ArgMax] = lower_argext,
	[OP_ArgMin] = lower_argext,
	[OP_Tile] = lower_tile,
	[OP_EyeLike] = lower_eyelike,
	[OP_DepthToSpace] = lower_space,
	[OP_SpaceToDepth] = lower_space,
	[OP_GatherElements] = lower_elements,
	[OP_GatherND] = lower_nd,
	[OP_ScatterElements] = lower_elements,
	[OP_Scatter] = lower_elements,
	[OP_ScatterND] = lower_nd,
	[OP_RotaryEmbedding] = lower_rope,
	[OP_OneHot] = lower_indexed,
	/* issue 15: bitwise, normalization and signal ops */
	[OP_BitwiseAnd] = lower_binary,
	[OP_BitwiseOr] = lower_binary,
	[OP_BitwiseXor] = lower_binary,
	[OP_BitwiseNot] = lower_unary,
	[OP_Swish] = lower_unary,
	[OP_CumProd] = lower_cumsum,
	[OP_LpPool] = lower_pool,
	/* issue 15: transformer ops */
	[OP_Attention] = lower_attention,
};

/* Buffers. */

static const char *tensor_name(LowerCx *cx, int t)
{
	return cx->g->tensors[t].name;
}

static int new_buf(LowerCx *cx, int t, unsigned flags)
{
	const Value *v = &cx->g->tensors[t].v;
	int b = loop_add_buf(cx->p, loop_unique_name(cx->p, tensor_name(cx, t)), v->dt, v->rank,
	                     v->dims, cx->dram, -1);

	if (b < 0)
		return -1;
	cx->p->bufs[b].flags = flags;
	if (flags & (LB_INPUT | LB_OUTPUT))
		cx->p->bufs[b].tensor = arena_strdup(&cx->p->arena, tensor_name(cx, t));
	if (flags & LB_CONST)
		cx->p->bufs[b].data = v->data;
	return b;
}

int lower_buf(LowerCx *cx, int t)
{
	if (t < 0)
		return -1;
	if (cx->tbuf[t] < 0)
		cx->tbuf[t] = new_buf(cx, t, cx->g->tensors[t].v.data ? LB_CONST : 0);
	return cx->tbuf[t];
}

int lower_out(LowerCx *cx, const Node *n, int i)
{
	return i < n->nout ? lower_buf(cx, n->out[i]) : -1;
}

bool lower_view(LowerCx *cx, const Node *n, int i, int base, int64_t offset)
{
	int t = n->out[i], b;

	if (cx->tbuf[t] >= 0 || base < 0)
		return false;
	b = new_buf(cx, t, 0);
	if (b < 0)
		return false;
	cx->p->bufs[b].view_of = base;
	cx->p->bufs[b].view_offset = offset;
	cx->tbuf[t] = b;
	return true;
}

int lower_temp(LowerCx *cx, const char *base, DType dt, int rank, const int64_t *dims)
{
	return loop_add_buf(cx->p, loop_unique_name(cx->p, base), dt, rank, dims, cx->dram,
	                    cx->kernel);
}

int lower_const(LowerCx *cx, const char *base, DType dt, int rank, const int64_t *dims, void *data)
{
	int b = loop_add_buf(cx->p, loop_unique_name(cx->p, base), dt, rank, dims, cx->dram, -1);

	if (b >= 0) {
		cx->p->bufs[b].flags = LB_CONST;
		cx->p->bufs[b].data = data;
	}
	return b;
}

/* Shapes and operands. */

int lower_buf_shape(LowerCx *cx, int b, int64_t *dims)
{
	const LoopBuf *lb = &cx->p->bufs[b];

	memcpy(dims, lb->dims, sizeof(lb->dims));
	return lb->rank;
}

bool lower_all_positive(const Value *v)
{
	for (int i = 0; i < v->rank; i++)
		if (v->dims[i] <= 0)
			return false;
	return true;
}

bool lower_absent_or_zero(LowerCx *cx, const Node *n, int i)
{
	const Value *v;

	if (!has_input(n, i))
		return true;
	v = &cx->g->tensors[n->in[i]].v;
	if (!v->data)
		return false;
	for (int64_t j = 0; j < val_numel(v); j++)
		if (val_get_i64(v, j) != 0)
			return false;
	return true;
}

bool lower_narrow_float(DType dt)
{
	return dt == DT_F16 || dt == DT_BF16;
}

bool lower_zero_point_temp(LowerCx *cx, const Node *n, int src, int zi, const char *name,
                           int *dst)
{
	LoopBuf b;

	if (lower_absent_or_zero(cx, n, zi) || src < 0)
		return false;
	b = cx->p->bufs[src];
	*dst = lower_temp(cx, name, DT_I32, b.rank, b.dims);
	return true;
}

/* Loop nests and statements. */

const char *lower_dim_name(int d)
{
	static const char *const names[MAX_RANK] = {"i0", "i1", "i2", "i3", "i4", "i5", "i6", "i7"};

	nnac_assert(d >= 0 && d < MAX_RANK);
	return names[d];
}

int lower_loop(LowerCx *cx, int parent, const char *name, int64_t start, int64_t extent,
               int *var)
{
	int f = loop_new_for(cx->p, name, start, extent, 1);

	loop_append_in(cx->p, cx->kernel, parent, f);
	*var = loop_var(cx->p, f);
	return f;
}

int lower_nest(LowerCx *cx, int parent, int rank, const int64_t *dims,
               const char *const *names, int *vars)
{
	for (int i = 0; i < rank; i++) {
		parent = lower_loop(cx, parent, names ? names[i] : lower_dim_name(i), 0, dims[i],
		                    &vars[i]);
		if (parent < 0)
			return -1;
	}
	return parent;
}

int lower_buf_nest(LowerCx *cx, int b, const char *const *names, int *vars)
{
	int64_t dims[MAX_RANK];
	int rank = lower_buf_shape(cx, b, dims);

	return lower_nest(cx, -1, rank, dims, names, vars);
}

int lower_elem_nest(LowerCx *cx, int rank, const int64_t *dims, const bool *red, int *vars)
{
	int parent = -1;

	for (int pass = 0; pass < 2; pass++) {
		for (int d = 0; d < rank; d++) {
			if ((red && red[d]) != (pass == 1))
				continue;
			if (dims[d] == 1)
				vars[d] = loop_const(cx->p, 0);
			else
				parent = lower_loop(cx, parent, lower_dim_name(d), 0, dims[d],
				                    &vars[d]);
		}
	}
	return parent;
}

int lower_stmt(LowerCx *cx, int parent, LoopNodeKind kind)
{
	int s = loop_new_stmt(cx->p, kind);

	loop_append_in(cx->p, cx->kernel, parent, s);
	return s;
}

int lower_emit(LowerCx *cx, int parent, LoopNodeKind kind, int nargs, const LoopArg *args)
{
	int s = lower_stmt(cx, parent, kind);

	for (int i = 0; i < nargs; i++)
		loop_push_arg(cx->p, s, args[i]);
	return s;
}

int lower_emit2(LowerCx *cx, int parent, LoopNodeKind kind, LoopArg dst, LoopArg src)
{
	LoopArg args[2] = {dst, src};

	return lower_emit(cx, parent, kind, 2, args);
}

int lower_copy_pad(LowerCx *cx, int parent, LoopArg dst, LoopArg src, LoopArg pad)
{
	int s = lower_emit2(cx, parent, LN_COPY, dst, src);

	if (s >= 0) {
		cx->p->nodes[s].has_pad = true;
		cx->p->nodes[s].pad = pad.lit;
	}
	return s;
}

int lower_apply(LowerCx *cx, int parent, OpKind op, int nargs, const LoopArg *args)
{
	int s = lower_emit(cx, parent, LN_APPLY, nargs, args);

	if (s >= 0) {
		LoopNode *nd = &cx->p->nodes[s];

		nd->fn = op;
		loop_apply_defaults(op, &nd->alpha, &nd->beta, &nd->gamma);
	}
	return s;
}

int lower_apply_ab(LowerCx *cx, int parent, OpKind op, LoopArg dst, LoopArg a, LoopArg b)
{
	LoopArg args[3] = {dst, a, b};

	return lower_apply(cx, parent, op, loop_apply_arity(op) > 1 ? 3 : 2, args);
}

LoopArg lower_ref(LowerCx *cx, int buf, const int *idx)
{
	return loop_ref(buf, buf < 0 ? 0 : cx->p->bufs[buf].rank, idx);
}

LoopArg lower_first_ref(LowerCx *cx, int buf)
{
	int idx[MAX_RANK];

	for (int i = 0; i < cx->p->bufs[buf].rank; i++)
		idx[i] = loop_const(cx->p, 0);
	return lower_ref(cx, buf, idx);
}

LoopArg lower_zero_lit(DType dt)
{
	return dtype_is_float(dt) ? loop_lit_float(0.0) : loop_lit_int(0);
}

LoopArg lower_lowest_lit(DType dt)
{
	int bits = 8 * dtype_size(dt);

	if (dtype_is_float(dt))
		return loop_lit_float(-INFINITY);
	if (!dtype_is_signed(dt))
		return loop_lit_int(0);
	return loop_lit_int(bits == 64 ? INT64_MIN : -((int64_t)1 << (bits - 1)));
}

LoopArg lower_bcast_ref(LowerCx *cx, int buf, int out_rank, const int *vars)
{
	const LoopBuf *b = &cx->p->bufs[buf];
	int idx[MAX_RANK];

	nnac_assert(b->rank <= out_rank);
	for (int j = 0; j < b->rank; j++)
		idx[j] = b->dims[j] == 1 ? loop_const(cx->p, 0) : vars[out_rank - b->rank + j];
	return loop_ref(buf, b->rank, idx);
}

void lower_copy_all(LowerCx *cx, int parent, int dst, int src)
{
	const LoopBuf *b = &cx->p->bufs[dst];
	int64_t dims[MAX_RANK];
	int vars[MAX_RANK], rank = b->rank, in;

	if (loop_buf_numel(b) == 0)
		return;   /* an empty tensor: nothing to move */
	memcpy(dims, b->dims, sizeof(dims));
	in = lower_nest(cx, parent, rank, dims, NULL, vars);
	lower_emit2(cx, in, LN_COPY, lower_ref(cx, dst, vars), lower_ref(cx, src, vars));
}

void lower_convert_all(LowerCx *cx, int dst, const char *const *names, int src)
{
	int vars[MAX_RANK], in = lower_buf_nest(cx, dst, names, vars);
	LoopArg d = lower_ref(cx, dst, vars), s = lower_ref(cx, src, vars);

	if (cx->p->bufs[dst].dt == DT_BF16)
		lower_apply(cx, in, OP_Mul, 3, (LoopArg[]){d, s, loop_lit_float(1.0)});
	else
		lower_apply(cx, in, OP_Cast, 2, (LoopArg[]){d, s});
}

/* dst (kind) src over the whole of dst: src a buffer of its shape, or a
 * literal when src_buf < 0. */
static int whole_stmt(LowerCx *cx, LoopNodeKind kind, int dst, int src_buf, LoopArg lit)
{
	int64_t dims[MAX_RANK];
	int rank = lower_buf_shape(cx, dst, dims), vars[MAX_RANK];
	int in = lower_elem_nest(cx, rank, dims, NULL, vars);

	return lower_emit2(cx, in, kind, lower_ref(cx, dst, vars),
	                   src_buf >= 0 ? lower_ref(cx, src_buf, vars) : lit);
}

void lower_copy_elems(LowerCx *cx, int dst, int src)
{
	whole_stmt(cx, LN_COPY, dst, src, loop_lit_int(0));
}

void lower_cast_elems(LowerCx *cx, int dst, int src)
{
	int s = whole_stmt(cx, LN_APPLY, dst, src, loop_lit_int(0));

	if (s >= 0)
		cx->p->nodes[s].fn = OP_Cast;
}

void lower_fill_elems(LowerCx *cx, int dst, LoopArg lit)
{
	whole_stmt(cx, LN_FILL, dst, -1, lit);
}

/* Fusion planning. */

static bool is_elementwise(OpKind op)
{
	return (lower_fns[op] == lower_unary && op != OP_Cast) || lower_fns[op] == lower_binary ||
	       op == OP_BatchNormalization;
}

/* The node consuming tensor t, when there is exactly one use and it is by a
 * live node; -1 otherwise (a graph output counts as a use). */
static int sole_consumer(const Graph *g, int t)
{
	if (graph_uses(g, t) != 1)
		return -1;
	for (int i = 0; i < g->nnodes; i++) {
		const Node *c = &g->nodes[i];

		if (c->flags & NODE_DEAD)
			continue;
		for (int j = 0; j < c->nin; j++)
			if (c->in[j] == t)
				return i;
	}
	return -1;
}

/* The input position at which c may take the chained tensor: 0, or 1 for
 * the binary ops (and Where), whose lowering reads every operand of an
 * element before writing it.  PyTorch's exporter writes nn.Linear as
 * MatMul then Add(bias, y): the chain enters at 1. */
static int chain_pos(const Node *c, int t)
{
	if (c->nin >= 1 && c->in[0] == t)
		return 0;
	if (lower_fns[c->op] == lower_binary && c->nin >= 2 && c->in[1] == t)
		return 1;
	return -1;
}

/* The ops over rows (the last axes) that may end a chain: their lowering
 * reads all of a row of X before it writes that row of Y, so Y may be X's
 * buffer; row fusion (passes/tile_rows.c) then runs the chain's
 * elementwise nests and the op's passes row by row. */
static bool is_row_op(OpKind op)
{
	return op == OP_Softmax || op == OP_LogSoftmax || op == OP_LayerNormalization ||
	       op == OP_RMSNormalization;
}

/* Whether tensor u is computed before the chain's kernel runs: a constant,
 * a graph input, or the output of a node lowered already. */
static bool ready(const Graph *g, int u, const bool *done)
{
	const Tensor *x = &g->tensors[u];

	return x->v.data || x->producer < 0 || done[x->producer];
}

/* Whether c may compute in place on tensor t inside t's producer's kernel. */
static bool fusable(const Graph *g, const Node *c, int t, const bool *done)
{
	const Value *x = &g->tensors[t].v, *y;
	int pos = chain_pos(c, t);

	if (!(is_elementwise(c->op) || (is_row_op(c->op) && pos == 0)) || c->nout < 1 || c->out[0] < 0 ||
	    pos < 0)
		return false;
	for (int i = 1; i < c->nout; i++)
		if (c->out[i] >= 0)
			return false;
	for (int i = 0; i < c->nin; i++)
		if (i != pos && (c->in[i] == t || (c->in[i] >= 0 && !ready(g, c->in[i], done))))
			return false;
	y = &g->tensors[c->out[0]].v;
	return y->dt == x->dt && val_same_shape(x, y);
}

/* The fused chain starting at node h: its nodes in order into chain[]. */
static int plan_chain(LowerCx *cx, int h, int *chain, int max, const bool *done)
{
	const Graph *g = cx->g;
	int n = 0, cur = h;

	chain[n++] = h;
	while (cx->opt->fuse && n < max) {
		const Node *a = &g->nodes[cur];
		int t, c;

		if (lower_fns[a->op] == lower_reshape || a->nout < 1 || a->out[0] < 0)
			break;
		for (int i = 1; i < a->nout; i++)
			if (a->out[i] >= 0)
				return n;
		t = a->out[0];
		c = sole_consumer(g, t);
		if (c < 0 || !fusable(g, &g->nodes[c], t, done))
			break;
		chain[n++] = cur = c;
	}
	return n;
}

/* All tensors of the chain get the buffer of the last one's output. */
static void share_chain_buffer(LowerCx *cx, const int *chain, int n)
{
	const Graph *g = cx->g;
	int last = g->nodes[chain[n - 1]].out[0];
	int b = lower_buf(cx, last);

	for (int i = 0; i < n - 1; i++)
		cx->tbuf[g->nodes[chain[i]].out[0]] = b;
}

static const char *chain_layer(LowerCx *cx, const int *chain, int n)
{
	const char *s = cx->g->nodes[chain[0]].name;

	for (int i = 1; i < n && s; i++)
		s = arena_printf(&cx->p->arena, "%s+%s", s, cx->g->nodes[chain[i]].name);
	return s;
}

static Status lower_node(LowerCx *cx, Node *n)
{
	LowerFn fn = n->op == OP_UNKNOWN ? NULL : lower_fns[n->op];

	if (!fn)
		return node_error(cx->g, n, ST_UNSUPPORTED, "no loop lowering for %s",
		                  n->op == OP_UNKNOWN ? n->op_type : op_name(n->op));
	TRY(fn(cx, n));
	if (n->fused_act != OP_COUNT)
		TRY(lower_fused_act(cx, n));
	return ST_OK;
}

/* Lowers the chain headed by node h into one kernel; marks them done. */
static Status lower_chain(LowerCx *cx, int h, bool *done)
{
	enum { MAX_CHAIN = 16 };
	int chain[MAX_CHAIN], n = plan_chain(cx, h, chain, MAX_CHAIN, done);
	LoopProgram *p = cx->p;

	if (n > 1)
		share_chain_buffer(cx, chain, n);
	cx->kernel = loop_add_kernel(p, loop_unique_name(p, cx->g->nodes[h].name),
	                             chain_layer(cx, chain, n));
	if (cx->kernel < 0)
		return loop_oom(p);
	for (int i = 0; i < n; i++) {
		TRY(lower_node(cx, &cx->g->nodes[chain[i]]));
		done[chain[i]] = true;
	}
	if (cx->opt->fuse && !p->oom) {
		TRY(pass_merge_nests(p, cx->kernel));
		TRY(pass_fuse_rows(p, cx->kernel));
	}
	if (p->kernels[cx->kernel].body < 0 && cx->kernel == p->nkernels - 1)
		p->nkernels--;
	return loop_oom(p);
}

/* Graph outputs: one buffer each; those that need a copy are returned in
 * copy[] (tensor index, -1 for none). */
static void make_outputs(LowerCx *cx, int *copy)
{
	const Graph *g = cx->g;

	for (int i = 0; i < g->noutputs; i++) {
		int t = g->outputs[i];
		int b = new_buf(cx, t, LB_OUTPUT);
		bool need_copy = cx->tbuf[t] >= 0 || g->tensors[t].v.data ||
		                 g->tensors[t].producer < 0;

		copy[i] = need_copy ? b : -1;
		if (!need_copy)
			cx->tbuf[t] = b;
	}
}

static Status copy_outputs(LowerCx *cx, const int *copy)
{
	const Graph *g = cx->g;

	for (int i = 0; i < g->noutputs; i++) {
		if (copy[i] < 0 || loop_buf_numel(&cx->p->bufs[copy[i]]) == 0)
			continue;
		cx->kernel = loop_add_kernel(cx->p, loop_unique_name(cx->p, "output"),
		                             tensor_name(cx, g->outputs[i]));
		lower_copy_all(cx, -1, copy[i], lower_buf(cx, g->outputs[i]));
	}
	return loop_oom(cx->p);
}

/* A tensor of a type the loop IR does not handle (the low-bit ones,
 * dtype.def) stops the lowering before it starts, naming the first. */
static Status check_types(Graph *g, Diag *d)
{
	for (int i = 0; i < g->ninputs + g->noutputs; i++) {
		const Tensor *t = &g->tensors[i < g->ninputs ? g->inputs[i] : g->outputs[i - g->ninputs]];

		if (!dtype_in_loops(t->v.dt))
			return diag_add(d, ST_UNSUPPORTED, "%s: graph %s '%s' has type %s, which the loop IR does not "
			                "handle yet (the graph interpreter runs it)", g->path,
			                i < g->ninputs ? "input" : "output", t->name, dtype_name(t->v.dt));
	}
	for (int i = 0; i < g->nnodes; i++) {
		const Node *n = &g->nodes[i];

		if (n->flags & NODE_DEAD)
			continue;
		for (int k = 0; k < n->nin + n->nout; k++) {
			int t = k < n->nin ? n->in[k] : n->out[k - n->nin];

			if (t >= 0 && !dtype_in_loops(g->tensors[t].v.dt))
				return diag_add(d, ST_UNSUPPORTED, "%s: node '%s' (%s): tensor '%s' has type %s, which "
				                "the loop IR does not handle yet (the graph interpreter runs it)", g->path,
				                n->name, op_name(n->op), g->tensors[t].name, dtype_name(g->tensors[t].v.dt));
		}
	}
	return ST_OK;
}

Status pass_lower(Graph *g, LoopProgram *p, const LowerOptions *opt)
{
	LowerCx cx = {g, p, NULL, 0, -1, opt};
	int *copy;
	bool *done;

	cx.tbuf = arena_alloc(&p->arena, (size_t)g->ntensors * sizeof(int));
	copy = arena_alloc(&p->arena, (size_t)(g->noutputs + 1) * sizeof(int));
	done = arena_alloc(&p->arena, (size_t)(g->nnodes + 1) * sizeof(bool));
	if (!cx.tbuf || !copy || !done)
		return diag_add(p->diag, ST_NOMEM, "%s: out of memory", g->path);
	TRY(check_types(g, p->diag));
	for (int t = 0; t < g->ntensors; t++)
		cx.tbuf[t] = -1;
	loop_default_levels(p);
	cx.dram = loop_find_level(p, "dram");
	for (int i = 0; i < g->ninputs; i++)
		cx.tbuf[g->inputs[i]] = new_buf(&cx, g->inputs[i], LB_INPUT);
	make_outputs(&cx, copy);
	TRY(loop_oom(p));
	for (int i = 0; i < g->nnodes; i++) {
		const Node *n = &g->nodes[i];

		/* A node whose outputs the graph passes computed (a Shape that is
		 * also a graph output) needs no kernel: its outputs are constants. */
		if ((n->flags & NODE_DEAD) || done[i] || node_outputs_const(g, n))
			continue;
		TRY(lower_chain(&cx, i, done));
	}
	return copy_outputs(&cx, copy);
}
