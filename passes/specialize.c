/*
 * Input specialization.  nnac compiles for static shapes, so a graph input
 * that feeds a shape operand (Reshape's shape, Slice's starts, a reduction's
 * axes...) must have a known value.  When the caller knows the input values
 * (nnac run, the conformance driver), small integer inputs are bound as
 * constants before shape inference; larger or floating inputs stay inputs.
 * The interpreter then runs on the same values, so results do not change.
 * A small floating (or bool) input is bound only when its value reaches,
 * directly or through other nodes, an operand that sets an output shape
 * whatever its type: Range's bounds, OneHot's depth, Resize's and
 * Upsample's scales (the output is floor(scale * input)), and the data
 * that decide the length of an output: NonZero's and Unique's X, every
 * input of NonMaxSuppression, Compress's condition; and the operands that
 * decide how control flow is inlined: If's condition, Loop's trip count
 * and condition, Scan's sequence lengths.  Resize's roi sets no shape and
 * stays an input: the interpreter reads it at run time.
 */
#include "passes.h"

#include <string.h>

enum { SPECIALIZE_LIMIT = 64 };   /* elements */

/* Whether operand k of n sets n's output shape whatever its type (or,
 * for control flow, which nodes shape inference inlines). */
static bool shape_operand(const Graph *g, const Node *n, int k)
{
	/* Resize keeps scales in input 2 from opset 11, in input 1 before */
	int scales = n->op == OP_Resize && g->opset >= 11 ? 2 : 1;
	bool any = n->op == OP_Range || n->op == OP_NonZero || n->op == OP_Unique ||
	           n->op == OP_NonMaxSuppression;

	return any || ((n->op == OP_OneHot || n->op == OP_Compress) && k == 1) ||
	       ((n->op == OP_Resize || n->op == OP_Upsample) && k == scales) ||
	       ((n->op == OP_If || n->op == OP_Scan) && k == 0) || (n->op == OP_Loop && k < 2);
}

/* Marks in feeds[] every tensor whose value reaches such an operand of a
 * live node, through any nodes in between (a window length cast to float,
 * a trip count computed from Range's bounds): one walk from the last node
 * to the first, since a node comes after the nodes it reads from. */
static void mark_shape_feeds(const Graph *g, bool *feeds)
{
	for (int i = g->nnodes - 1; i >= 0; i--) {
		const Node *n = &g->nodes[i];
		bool all = false;

		if (n->flags & NODE_DEAD)
			continue;
		for (int k = 0; k < n->nout; k++)
			all |= n->out[k] >= 0 && feeds[n->out[k]];
		for (int k = 0; k < n->nin; k++)
			if (n->in[k] >= 0 && (all || shape_operand(g, n, k)))
				feeds[n->in[k]] = true;
	}
}

Status pass_specialize_inputs(Graph *g, const Value *inputs)
{
	bool *feeds = arena_alloc(&g->arena, (size_t)g->ntensors + 1);

	if (!feeds)
		return graph_oom(g);
	mark_shape_feeds(g, feeds);
	for (int i = 0; i < g->ninputs; i++) {
		Tensor *t = &g->tensors[g->inputs[i]];
		const Value *v = &inputs[i];

		if (val_numel(v) > SPECIALIZE_LIMIT)
			continue;
		if (!dtype_is_int(v->dt) && !feeds[g->inputs[i]])
			continue;
		if (v->dt != t->v.dt || !val_same_shape(v, &t->v))
			continue;   /* interp_run reports the mismatch */
		t->v.data = arena_alloc(&g->arena, (size_t)val_bytes(v));
		if (!t->v.data)
			return graph_oom(g);
		memcpy(t->v.data, v->data, (size_t)val_bytes(v));
	}
	return ST_OK;
}
