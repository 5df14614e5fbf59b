/*
 * The compiler, as a flat list: what nnac does to a model, in order.  The
 * stage names are those `nnac compile --print-after` and `--stop-after`
 * take; which stages run for one compilation is pass_stage_runs's to say
 * (passes/pipeline.h).
 */
#include "pipeline.h"

#include <string.h>

#include "df_apply.h"
#include "op.h"

typedef struct Stage {
	const char *name;
	StageKind kind;
	Status (*run)(Pipeline *pl);
} Stage;

static Status infer(Pipeline *pl) { return pass_infer_shapes(pl->g, false); }
static Status fold_constants(Pipeline *pl) { return pass_fold_constants(pl->g); }
static Status remove_dead(Pipeline *pl) { return pass_remove_dead(pl->g); }
static Status fold_batchnorm(Pipeline *pl) { return pass_fold_batchnorm(pl->g); }
static Status fuse_activations(Pipeline *pl) { return pass_fuse_activations(pl->g); }
static Status lower(Pipeline *pl) { return pass_lower(pl->g, pl->loops, &pl->lower); }
static Status codegen(Pipeline *pl) { return pl->codegen(pl); }

static Status map(Pipeline *pl)
{
	return pass_dataflow(pl->g, pl->loops, pl->cache, pl->df, pl->metric, pl->opt.verify_each,
	                     &pl->stats, &pl->mapped, pl->loops->diag);
}

static const Stage stages[] = {
	{"infer-shapes",     STAGE_GRAPH_PASS, infer},            /* passes/shape.c */
	{"fold-constants",   STAGE_GRAPH_PASS, fold_constants},   /* passes/fold.c */
	{"remove-dead",      STAGE_GRAPH_PASS, remove_dead},      /* passes/fold.c */
	{"fold-batchnorm",   STAGE_GRAPH_PASS, fold_batchnorm},   /* passes/bnfold.c */
	{"fuse-activations", STAGE_GRAPH_PASS, fuse_activations}, /* passes/fuse.c */
	{"remove-dead",      STAGE_GRAPH_PASS, remove_dead},
	{"lower",            STAGE_LOWER,      lower},            /* passes/lower.c */
	{"map",              STAGE_MAP,        map},              /* passes/df_pass.c */
	{"codegen",          STAGE_CODEGEN,    codegen},          /* backends/<target> */
};

int pass_stage_count(void) { return (int)ARRAY_LEN(stages); }
const char *pass_stage_name(int i) { return stages[i].name; }
StageKind pass_stage_kind(int i) { return stages[i].kind; }

int pass_stage_instance(int i, int *of)
{
	int k = 0;

	*of = 0;
	for (int j = 0; j < (int)ARRAY_LEN(stages); j++) {
		if (strcmp(stages[j].name, stages[i].name) != 0)
			continue;
		++*of;
		k += j <= i;
	}
	return k;
}

/* The graph passes: the stages before lower. */
int pass_count(void)
{
	int n = 0;

	while (n < (int)ARRAY_LEN(stages) && stages[n].kind == STAGE_GRAPH_PASS)
		n++;
	return n;
}

const char *pass_name(int i) { return stages[i].name; }

bool pass_stage_runs(const Pipeline *pl, int i)
{
	switch (stages[i].kind) {
	case STAGE_GRAPH_PASS:
		return i == 0 || pl->opt.optimize;
	case STAGE_LOWER:
		return pl->loops != NULL;
	case STAGE_MAP:
		return pl->loops != NULL && pl->cache != NULL;
	case STAGE_CODEGEN:
		return pl->codegen != NULL;
	}
	nnac_unreachable();
}

/* The verifier of the IR stage i left. */
static Status verify(Pipeline *pl, int i)
{
	Status st;

	switch (stages[i].kind) {
	case STAGE_GRAPH_PASS:
		if (pl->opt.verify_each && (st = graph_verify(pl->g, true)) != ST_OK)
			return graph_error(pl->g, st, "the graph verifier failed after pass '%s'", stages[i].name);
		return ST_OK;
	case STAGE_LOWER:
	case STAGE_MAP:
		if ((st = loop_verify(pl->loops)) != ST_OK)
			return loop_error_at(pl->loops, 0, 0, st, "the loop-IR verifier failed after stage '%s'",
			                     stages[i].name);
		return ST_OK;
	case STAGE_CODEGEN:
		return ST_OK;
	}
	nnac_unreachable();
}

Status pass_run(Pipeline *pl)
{
	int last = (int)ARRAY_LEN(stages);

	if (pl->opt.stop_after > 0 && pl->opt.stop_after < last)
		last = pl->opt.stop_after;
	for (int i = 0; i < last; i++) {
		if (!pass_stage_runs(pl, i))
			continue;
		TRY(stages[i].run(pl));
		TRY(verify(pl, i));
		if (pl->after)
			TRY(pl->after(pl, i));
	}
	return ST_OK;
}

/* The graph passes alone, for the commands and tests that stop at the graph. */
Status pass_pipeline(Graph *g, const PipelineOptions *opt)
{
	Pipeline pl = {.g = g, .opt = *opt};

	return pass_run(&pl);
}
