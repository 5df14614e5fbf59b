/*
 * Input specialization.  nnac compiles for static shapes, so a graph input
 * that feeds a shape operand (Reshape's shape, Slice's starts, a reduction's
 * axes...) must have a known value.  When the caller knows the input values
 * (nnac run, the conformance driver), small integer inputs are bound as
 * constants before shape inference; larger or floating inputs stay inputs.
 * The interpreter then runs on the same values, so results do not change.
 * A small floating input is bound only when it feeds an operand that sets
 * an output shape whatever its type: Range's bounds, OneHot's depth,
 * NonZero's data (its output's length is the count of nonzero elements),
 * Resize's and Upsample's scales (the output is floor(scale * input)).
 * Resize's roi sets no shape and stays an input: the interpreter reads it
 * at run time.
 */
#include "passes.h"

#include <string.h>

enum { SPECIALIZE_LIMIT = 64 };   /* elements */

/* Whether operand k of n sets n's output shape whatever its type. */
static bool shape_operand(const Graph *g, const Node *n, int k)
{
	/* Resize keeps scales in input 2 from opset 11, in input 1 before */
	int scales = n->op == OP_Resize && g->opset >= 11 ? 2 : 1;

	return n->op == OP_Range || n->op == OP_NonZero || (n->op == OP_OneHot && k == 1) ||
	       ((n->op == OP_Resize || n->op == OP_Upsample) && k == scales);
}

/* Whether tensor t is such an operand of a live node. */
static bool feeds_shape(const Graph *g, int t)
{
	for (int i = 0; i < g->nnodes; i++) {
		const Node *n = &g->nodes[i];

		for (int k = 0; !(n->flags & NODE_DEAD) && k < n->nin; k++)
			if (n->in[k] == t && shape_operand(g, n, k))
				return true;
	}
	return false;
}

Status pass_specialize_inputs(Graph *g, const Value *inputs)
{
	for (int i = 0; i < g->ninputs; i++) {
		Tensor *t = &g->tensors[g->inputs[i]];
		const Value *v = &inputs[i];

		if (val_numel(v) > SPECIALIZE_LIMIT)
			continue;
		if (!dtype_is_int(v->dt) && !feeds_shape(g, g->inputs[i]))
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
