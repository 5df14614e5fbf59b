/*
 * The graph pipeline, as a flat list: what nnac does to a model, in order.
 */
#include "passes.h"

typedef struct Pass {
	const char *name;
	Status (*run)(Graph *g);
} Pass;

static Status infer(Graph *g) { return pass_infer_shapes(g, false); }

static const Pass passes[] = {
	{"infer-shapes", infer},
	{"fold-constants", pass_fold_constants},
	{"remove-dead", pass_remove_dead},
	{"fold-batchnorm", pass_fold_batchnorm},
	{"fuse-activations", pass_fuse_activations},
	{"remove-dead", pass_remove_dead},
};

int pass_count(void) { return (int)ARRAY_LEN(passes); }
const char *pass_name(int i) { return passes[i].name; }

Status pass_pipeline(Graph *g, const PipelineOptions *opt)
{
	int last = opt->optimize ? (int)ARRAY_LEN(passes) : 1;

	if (opt->stop_after > 0 && opt->stop_after < last)
		last = opt->stop_after;

	for (int i = 0; i < last; i++) {
		Status st = passes[i].run(g);
		if (st != ST_OK)
			return st;
		if (opt->verify_each && (st = graph_verify(g, true)) != ST_OK)
			return graph_error(g, st, "the graph verifier failed after pass '%s'", passes[i].name);
	}
	return ST_OK;
}
