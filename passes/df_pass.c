/*
 * The dataflow pass: every kernel of a lowered program that computes a
 * convolution or matrix product is mapped onto a target (df_map_layer) and
 * its compute nest tiled accordingly (df_apply).  A kernel knows the graph
 * node(s) it computes by its `layer` string ("conv1", or "conv1+relu1"
 * after fusion); the first node is the one the mapper takes.
 */
#include "df_apply.h"

#include <string.h>

#include "op.h"

Status df_kernel_problem(const Graph *g, const LoopProgram *p, int k, DfProblem *pb,
                         bool *found, Diag *d)
{
	const char *layer = p->kernels[k].layer;

	*found = false;
	for (int i = 0; layer && i < g->nnodes; i++) {
		const Node *n = &g->nodes[i];
		size_t len = strlen(n->name);

		if ((n->flags & NODE_DEAD) || strncmp(layer, n->name, len) != 0 ||
		    (layer[len] != 0 && layer[len] != '+'))
			continue;
		if (!df_is_layer_op(n))
			return ST_OK;
		*found = true;
		return df_problem_from_node(pb, g, n, d);
	}
	return ST_OK;
}

Status pass_dataflow(const Graph *g, LoopProgram *p, DfCache *cache, int df, DfMetric metric,
                     bool verify_each, DfStats *stats, int *mapped, Diag *d)
{
	*mapped = 0;
	for (int k = 0; k < p->nkernels; k++) {
		DfProblem pb;
		DfResult r;
		bool found;
		Status st;

		TRY(df_kernel_problem(g, p, k, &pb, &found, d));
		if (!found)
			continue;
		TRY(df_map_layer_cached(cache, &pb, df, metric, DF_SEARCH_PRUNED, &r, stats, d));
		TRY(df_apply(p, k, cache->t, &pb, &r.map, d));
		(*mapped)++;
		if (verify_each && (st = loop_verify(p)) != ST_OK)
			return loop_error_at(p, 0, 0, st, "the loop-IR verifier failed after mapping kernel '%s'",
			                     p->kernels[k].name);
	}
	return ST_OK;
}
