/*
 * Constant folding and dead-node removal.
 *
 * Folding evaluates, with the reference interpreter, every node whose
 * present inputs are all constant; its outputs become constants and the node
 * is marked dead.  Removal then drops every node none of whose outputs is
 * consumed by a live node or is a graph output, back to front so whole dead
 * chains go in one sweep.
 */
#include "passes.h"

#include "interp.h"

Status pass_fold_constants(Graph *g)
{
	for (int i = 0; i < g->nnodes; i++) {
		Node *n = &g->nodes[i];
		Status st;

		if ((n->flags & NODE_DEAD) || !node_inputs_const(g, n))
			continue;
		if (!node_outputs_const(g, n)) {
			st = interp_eval_const(g, n);
			if (st != ST_OK)
				return st;
		}
		n->flags |= NODE_DEAD;
	}
	return ST_OK;
}

static bool node_used(const char *used, const Node *n)
{
	for (int k = 0; k < n->nout; k++)
		if (n->out[k] >= 0 && used[n->out[k]])
			return true;
	return false;
}

Status pass_remove_dead(Graph *g)
{
	char *used = arena_alloc(&g->arena, (size_t)g->ntensors + 1);

	if (!used)
		return graph_oom(g);
	for (int i = 0; i < g->noutputs; i++)
		used[g->outputs[i]] = 1;
	for (int i = g->nnodes - 1; i >= 0; i--) {
		Node *n = &g->nodes[i];

		if (n->flags & NODE_DEAD)
			continue;
		if (!node_used(used, n)) {
			n->flags |= NODE_DEAD;
			continue;
		}
		for (int k = 0; k < n->nin; k++)
			if (n->in[k] >= 0)
				used[n->in[k]] = 1;
	}
	return ST_OK;
}
