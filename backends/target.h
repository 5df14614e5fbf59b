/*
 * The target interface: what every backend gives the compiler, looked up
 * by name in the table of targets.def.  `nnac compile MODEL --target NAME`
 * runs one pipeline (target_compile, target.c):
 *
 *     graph passes -> [lowering -> mapping] -> the target's compile -> bundle
 *
 * A target that consumes the graph (TARGET_GRAPH) gets the optimized graph;
 * one that consumes loops (TARGET_LOOPS) gets the lowered program, mapped
 * onto its arch's dataflows when the target maps and the arch declares
 * any.  The target adds its sections to the bundle (and META lines); the
 * pipeline writes it, whole or not at all.
 *
 * A target's own options (--precision, --cpu, ...) are declared in its
 * option list; the driver parses them generically and refuses an option
 * the chosen target does not list.
 */
#ifndef NNAC_TARGET_H
#define NNAC_TARGET_H

#include <stdbool.h>

#include "arch.h"
#include "bundle.h"
#include "graph.h"
#include "loop.h"

typedef enum TargetStage {
	TARGET_GRAPH,        /* consumes the optimized graph */
	TARGET_LOOPS,        /* consumes the lowered (and mapped) loop IR */
} TargetStage;

typedef struct TargetOption {
	const char *name;    /* "--precision" */
	const char *value;   /* what the value looks like ("int8|bf16"); NULL: a flag */
	const char *help;    /* one line, with the default */
} TargetOption;

enum { TARGET_MAX_OPTIONS = 8, TARGET_MAX_META = 16 };

/* One compilation, as the pipeline hands it to a target. */
typedef struct TargetJob {
	const char *model;       /* the model file (messages, META) */
	Graph *g;                /* the optimized graph */
	LoopProgram *loops;      /* TARGET_LOOPS: the verified program; else NULL */
	const Arch *arch;        /* --arch, else the target's default; NULL: none */
	const char *opt[TARGET_MAX_OPTIONS]; /* the target's options by index: the
	                                        value given ("" for a flag), or NULL */
	const Value *samples;    /* --calibrate: nsamples x g->ninputs inputs; NULL: none */
	int nsamples;
	NnbWriter *bundle;       /* compile adds its sections here */
	const char *meta[TARGET_MAX_META]; /* "key=value" lines compile adds to META */
	int nmeta;
	void *state;             /* the target's, from prepare to compile (in arena) */
	Arena *arena;            /* lives as long as the job */
	Diag *diag;
} TargetJob;

typedef struct Target {
	const char *name;
	const char *description;     /* one line, for `nnac targets` */
	TargetStage stage;
	bool maps;                   /* TARGET_LOOPS: map onto the arch's dataflows */
	bool takes_samples;          /* uses --calibrate DIR */
	const TargetOption *options; /* ends with an entry whose name is NULL */
	/* The preset to use without --arch (it may depend on the options), or
	 * NULL: none. */
	const char *(*default_arch)(const TargetJob *job);
	/* The arch adapter and option check, before any work on the model:
	 * refuses an arch the target cannot use (naming it) and bad option
	 * values; may keep what it derived in job->state. */
	Status (*prepare)(TargetJob *job);
	/* Code generation: fills job->bundle. */
	Status (*compile)(TargetJob *job);
} Target;

/* Every target of targets.def, in table order. */
int target_count(void);
const Target *target_at(int i);
/* The target of that name, or NULL. */
const Target *target_find(const char *name);
/* The index of option `name` in t's options, or -1. */
int target_option_find(const Target *t, const char *name);
/* Whether any target takes option `name`; *takes_value tells whether it
 * has a value (for parsing before the target is known). */
bool target_option_known(const char *name, bool *takes_value);
/* "cpu, tpu": the names, for messages. */
void target_names(char *buf, size_t size);
/* A line of META in job's arena ("key=value"); ST_NOMEM or too many lines
 * go to job->diag. */
Status target_meta(TargetJob *job, const char *key, const char *value);

#endif
