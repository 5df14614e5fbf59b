/*
 * The compiler's stages, one table in order (passes/pipeline.c): the graph
 * passes, then `lower` (graph IR -> loop IR), `map` (the dataflow mapper
 * lays the loops over an accelerator) and `codegen` (a target's code
 * generation, which the caller supplies: passes see no target).  A name may
 * repeat (remove-dead runs twice); `nnac compile --print-after` and
 * `--stop-after` name stages from this table.
 *
 * pass_run runs the stages that apply to one compilation: the graph passes
 * always (only infer-shapes without opt.optimize), lower when the caller
 * gives a program to lower into, map when it also gives the mapper's cache,
 * codegen when it gives the code generator.  After every graph pass the
 * graph verifier runs under opt.verify_each; after lower and map the
 * loop-IR verifier always runs, and under opt.verify_each the mapper also
 * verifies the program after it lays each kernel's mapping.
 */
#ifndef NNAC_PIPELINE_H
#define NNAC_PIPELINE_H

#include "dataflow.h"
#include "loop.h"
#include "passes.h"

typedef enum StageKind {
	STAGE_GRAPH_PASS,    /* rewrites the graph IR */
	STAGE_LOWER,         /* makes the loop IR from the graph */
	STAGE_MAP,           /* lays the loop IR over an arch's dataflows */
	STAGE_CODEGEN,       /* the target's code generation: the bundle's sections */
} StageKind;

int pass_stage_count(void);
const char *pass_stage_name(int i);
StageKind pass_stage_kind(int i);
/* Which of the stages called like stage i it is (1-based); *of: how many
 * there are. */
int pass_stage_instance(int i, int *of);

typedef struct Pipeline Pipeline;
struct Pipeline {
	Graph *g;                 /* imported, not yet typed */
	PipelineOptions opt;      /* stop_after counts stages of this table */
	LoopProgram *loops;       /* lower: loop_init'ed, empty; NULL: no lowering */
	LowerOptions lower;
	DfCache *cache;           /* map: the target, with loops; NULL: no mapping */
	int df;                   /* map: an ArchDataflow, or -1: the best of all */
	DfMetric metric;
	DfStats stats;            /* map: the searches, summed */
	int mapped;               /* map: kernels mapped */
	/* codegen: the target's compile; NULL: no code generation. */
	Status (*codegen)(Pipeline *pl);
	/* Called after every stage that ran and passed its verifier; NULL: none. */
	Status (*after)(Pipeline *pl, int stage);
	void *cx;                 /* the caller's, for codegen and after */
};

/* Whether stage i runs for pl (before stop_after cuts the list). */
bool pass_stage_runs(const Pipeline *pl, int i);
/* Runs the stages that apply, in order, up to opt.stop_after. */
Status pass_run(Pipeline *pl);

#endif
