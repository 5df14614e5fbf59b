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

/* The live nodes reading each tensor: those of tensor t are
 * node[first[t] .. first[t + 1]). */
typedef struct Readers {
	int *first, *node;
	int *queue;          /* tensors to visit */
	bool *seen;
} Readers;

static bool readers_init(Graph *g, Readers *r)
{
	int edges = 0;

	for (int i = 0; i < g->nnodes; i++)
		edges += g->nodes[i].flags & NODE_DEAD ? 0 : g->nodes[i].nin;
	r->first = arena_alloc(&g->arena, (size_t)(g->ntensors + 2) * sizeof(int));
	r->node = arena_alloc(&g->arena, (size_t)(edges + 1) * sizeof(int));
	r->queue = arena_alloc(&g->arena, (size_t)(g->ntensors + 1) * sizeof(int));
	r->seen = arena_alloc(&g->arena, (size_t)g->ntensors + 1);
	if (!r->first || !r->node || !r->queue || !r->seen)
		return false;
	for (int i = 0; i < g->nnodes; i++)
		for (int k = 0; !(g->nodes[i].flags & NODE_DEAD) && k < g->nodes[i].nin; k++)
			if (g->nodes[i].in[k] >= 0)
				r->first[g->nodes[i].in[k] + 2]++;
	for (int t = 0; t < g->ntensors; t++)
		r->first[t + 2] += r->first[t + 1];
	for (int i = 0; i < g->nnodes; i++)
		for (int k = 0; !(g->nodes[i].flags & NODE_DEAD) && k < g->nodes[i].nin; k++)
			if (g->nodes[i].in[k] >= 0)
				r->node[r->first[g->nodes[i].in[k] + 1]++] = i;
	return true;
}

/* Whether tensor t's value reaches such an operand of a live node, through
 * any nodes in between (a window length cast to float, a trip count
 * computed from Range's bounds). */
static bool feeds_shape(const Graph *g, Readers *r, int t)
{
	int head = 0, tail = 0;

	memset(r->seen, 0, (size_t)g->ntensors);
	r->seen[t] = true;
	r->queue[tail++] = t;
	while (head < tail) {
		int u = r->queue[head++];
		for (int e = r->first[u]; e < r->first[u + 1]; e++) {
			const Node *n = &g->nodes[r->node[e]];
			for (int k = 0; k < n->nin; k++)
				if (n->in[k] == u && shape_operand(g, n, k))
					return true;
			for (int k = 0; k < n->nout; k++)
				if (n->out[k] >= 0 && !r->seen[n->out[k]]) {
					r->seen[n->out[k]] = true;
					r->queue[tail++] = n->out[k];
				}
		}
	}
	return false;
}

Status pass_specialize_inputs(Graph *g, const Value *inputs)
{
	Readers r;

	if (!readers_init(g, &r))
		return graph_oom(g);
	for (int i = 0; i < g->ninputs; i++) {
		Tensor *t = &g->tensors[g->inputs[i]];
		const Value *v = &inputs[i];

		if (val_numel(v) > SPECIALIZE_LIMIT)
			continue;
		if (!dtype_is_int(v->dt) && !feeds_shape(g, &r, g->inputs[i]))
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
