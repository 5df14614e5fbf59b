/*
 * The graph verifier: the structural invariants every pass must keep.
 *   - tensor and node indices are in range;
 *   - every live node's present inputs are graph inputs, constants, or
 *     outputs of an earlier live node (topological order);
 *   - every tensor has at most one live producer, and it is recorded;
 *   - graph outputs are produced or constant;
 *   - with typed: every tensor a live node touches has a type with known
 *     dimensions, and a fused activation is an OPF_ACT op.
 * A violation is a bug in nnac, reported as ST_INTERNAL.
 */
#include "graph.h"

static Status fail(Graph *g, const Node *n, const char *what, const char *tname)
{
	return node_error(g, n, ST_INTERNAL, "verifier: %s '%s'", what, tname);
}

static bool available(const Graph *g, const char *defined, int t)
{
	return defined[t] || g->tensors[t].v.data || (g->tensors[t].flags & TENSOR_INPUT);
}

static Status check_node(Graph *g, const Node *n, char *defined, bool typed)
{
	for (int k = 0; k < n->nin; k++) {
		int t = n->in[k];
		if (t < -1 || t >= g->ntensors)
			return node_error(g, n, ST_INTERNAL, "verifier: input %d index %d out of range", k, t);
		if (t >= 0 && !available(g, defined, t))
			return fail(g, n, "uses a tensor before it is defined:", g->tensors[t].name);
		if (t >= 0 && typed && !val_known(&g->tensors[t].v))
			return fail(g, n, "untyped input", g->tensors[t].name);
	}
	for (int k = 0; k < n->nout; k++) {
		int t = n->out[k];
		if (t < -1 || t >= g->ntensors)
			return node_error(g, n, ST_INTERNAL, "verifier: output %d index %d out of range", k, t);
		if (t < 0)
			continue;
		if (defined[t])
			return fail(g, n, "second producer of", g->tensors[t].name);
		if (g->tensors[t].producer != node_index(g, n))
			return fail(g, n, "producer not recorded for", g->tensors[t].name);
		if (typed && !val_known(&g->tensors[t].v))
			return fail(g, n, "untyped output", g->tensors[t].name);
		defined[t] = 1;
	}
	if (n->fused_act != OP_COUNT && !(op_flags(n->fused_act) & OPF_ACT))
		return node_error(g, n, ST_INTERNAL, "verifier: fused op is not an activation");
	return ST_OK;
}

Status graph_verify(Graph *g, bool typed)
{
	Arena tmp;
	char *defined;
	Status st = ST_OK;

	arena_init(&tmp);
	defined = arena_alloc(&tmp, (size_t)g->ntensors + 1);
	if (!defined)
		return graph_oom(g);
	for (int i = 0; i < g->nnodes && st == ST_OK; i++)
		if (!(g->nodes[i].flags & NODE_DEAD))
			st = check_node(g, &g->nodes[i], defined, typed);
	for (int i = 0; i < g->noutputs && st == ST_OK; i++) {
		int t = g->outputs[i];
		if (t < 0 || t >= g->ntensors)
			st = graph_error(g, ST_INTERNAL, "verifier: graph output index %d out of range", t);
		else if (!available(g, defined, t))
			st = graph_error(g, ST_INTERNAL, "verifier: graph output '%s' is not produced",
			                 g->tensors[t].name);
	}
	arena_free(&tmp);
	return st;
}
