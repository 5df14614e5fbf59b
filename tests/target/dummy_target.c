/*
 * A target that exists only in the nnac-dummytarget build: it checks that a
 * folder and a table line are all a target needs.  It consumes the loop IR,
 * takes one option of its own, says on stderr what the pipeline gave it and
 * adds one section and one META line to the bundle.
 */
#include <stdio.h>
#include <string.h>

#include "target.h"

static const TargetOption options[] = {
	{"--greeting", "WORD", "a word to put in the bundle's META (default hello)"},
	{NULL, NULL, NULL},
};

static Status prepare(TargetJob *job)
{
	if (job->opt[0] && !*job->opt[0])
		return diag_add(job->diag, ST_INVALID, "nnac compile: --greeting: give a word");
	return ST_OK;
}

static Status compile(TargetJob *job)
{
	const char *word = job->opt[0] ? job->opt[0] : "hello";
	const char payload[] = "dummy";
	Status st;

	fprintf(stderr, "dummy: %d kernels, %d graph inputs, arch %s, greeting %s\n", job->loops->nkernels,
	        job->g->ninputs, job->arch ? job->arch->name : "none", word);
	st = target_meta(job, "greeting", word);
	if (st == ST_OK)
		st = nnb_add(job->bundle, NNB_PROGRAM_CUDA, "dummy", payload, sizeof(payload), job->diag);
	return st;
}

const Target target_dummy = {
	.name = "dummy",
	.description = "a test target: checks that a target is a folder and a table line",
	.stage = TARGET_LOOPS,
	.options = options,
	.prepare = prepare,
	.compile = compile,
};
