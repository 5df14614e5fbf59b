/*
 * nnac compile: the compiler's outline.
 *
 *     import          frontend/onnx                  model.onnx -> graph IR
 *     graph passes    passes/pipeline.c              shapes, folding, fusion
 *     lowering        passes/lower.c                 graph IR -> loop IR      (loop targets)
 *     mapping         passes/df_pass.c               loops laid over the arch (when the target maps)
 *     code generation backends/<target> (target.h)   -> bundle sections
 *     bundle          runtime/bundle.c               M.nnb, whole or not at all
 *
 * Without --target, the lowered (and, with --arch, mapped) loop IR is
 * printed (--emit=loops), to standard output or to -o FILE.  With --target
 * NAME, the target of backends/targets.def consumes the graph or the loop
 * IR as its table entry says and the bundle goes to -o FILE.nnb.  The
 * driver names no target: a target's own options are passed through by
 * name, and one the target does not take is refused.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "df_apply.h"
#include "loop.h"
#include "passes.h"
#include "samples.h"
#include "target.h"

typedef struct Printed {
	const LoopProgram *p;
	unsigned flags;
} Printed;

static Status print_program(FILE *f, const void *cx)
{
	const Printed *pr = cx;

	loop_print(pr->p, f, pr->flags);
	return ST_OK;
}

/* The dataflow pass; says on stderr what it did. */
static Status map_program(Cli *cli, const Graph *g, LoopProgram *p, const CliTarget *tg)
{
	DfCache cache;
	DfStats stats = {0};
	int mapped = 0;
	Status st;

	df_cache_init(&cache, &tg->t);
	st = pass_dataflow(g, p, &cache, tg->df, tg->metric, cli->verify_each, &stats, &mapped,
	                   &cli->diag);
	df_cache_free(&cache);
	if (st == ST_OK)
		fprintf(stderr, "compile: %d kernels mapped onto %s (metric %s), %lld mappings "
		        "evaluated\n", mapped, tg->arch.name, df_metric_name(tg->metric),
		        (long long)stats.evaluated);
	return st;
}

/* Lowering, then mapping when tg is given; the loop-IR verifier after each. */
static Status lower(Cli *cli, Graph *g, LoopProgram *p, bool fuse, const CliTarget *tg)
{
	LowerOptions lo = {fuse};
	Status st = pass_lower(g, p, &lo);

	if (st == ST_OK)
		st = loop_verify(p);
	if (st == ST_OK && tg)
		st = map_program(cli, g, p, tg);
	if (st == ST_OK && tg)
		st = loop_verify(p);
	return st;
}

/* ---- without a target: the loop IR's text ---- */

static int compile_loops(Cli *cli)
{
	CliTarget tg;
	LoopProgram p;
	Graph g;
	Status st;
	int rc = 0;

	if (cli->calibrate || cli->ntopts) {
		fprintf(stderr, "nnac compile: %s needs --target\n", cli->calibrate ? "--calibrate" : cli->topts[0].name);
		return EXIT_USAGE;
	}
	if (cli->emit && strcmp(cli->emit, "loops") != 0) {
		fprintf(stderr, "nnac compile: --emit '%s': expected loops\n", cli->emit);
		return EXIT_USAGE;
	}
	graph_init(&g, &cli->diag, cli->model);
	loop_init(&p, &cli->diag, cli->model);
	if (cli->arch)
		rc = cli_target_load(cli, &g.arena, "compile", &tg);
	else if (cli->dataflow || cli->metric)
		rc = (fprintf(stderr, "nnac compile: --dataflow and --metric need --arch\n"), EXIT_USAGE);
	if (rc == 0)
		rc = cli_load(cli, &g, true);
	if (rc == 0) {
		st = lower(cli, &g, &p, !cli->no_fuse, cli->arch ? &tg : NULL);
		if (st == ST_OK)
			st = cli_write_output(cli, print_program,
			                      &(Printed){&p, cli->no_data ? LOOP_PRINT_NO_DATA : 0});
		rc = st == ST_OK ? 0 : cli_fail(cli, st);
	}
	loop_free(&p);
	graph_free(&g);
	return rc;
}

/* ---- with a target: a bundle ---- */

/* The target's options from the command line into job->opt; one it does
 * not take is refused, naming those it does. */
static int target_options(Cli *cli, const Target *t, TargetJob *job)
{
	char list[256];
	size_t n = 0;

	for (int k = 0; k < cli->ntopts; k++) {
		int i = target_option_find(t, cli->topts[k].name);
		if (i >= 0) {
			job->opt[i] = cli->topts[k].path;
			continue;
		}
		list[0] = '\0';
		for (int j = 0; t->options && t->options[j].name && n < sizeof(list); j++)
			n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", j ? ", " : "", t->options[j].name);
		fprintf(stderr, "nnac compile: %s does not apply to --target %s (its options: %s)\n",
		        cli->topts[k].name, t->name, *list ? list : "none");
		return EXIT_USAGE;
	}
	if (cli->calibrate && !t->takes_samples) {
		fprintf(stderr, "nnac compile: --calibrate does not apply to --target %s\n", t->name);
		return EXIT_USAGE;
	}
	if ((cli->dataflow || cli->metric) && !t->maps) {
		fprintf(stderr, "nnac compile: --dataflow and --metric choose mappings for the dataflow "
		        "mapper, not for --target %s\n", t->name);
		return EXIT_USAGE;
	}
	return 0;
}

/* The arch (--arch, else the target's default) and the target's own
 * checks of it and of its options: everything that can be refused before
 * the model is read. */
static int prepare(Cli *cli, const Target *t, TargetJob *job, CliTarget *tg)
{
	const char *name = cli->arch ? cli->arch : t->default_arch ? t->default_arch(job) : NULL;
	Status st = ST_OK;
	int rc;

	if (cli->arch && t->maps) {
		if ((rc = cli_target_load(cli, job->arena, "compile", tg)))
			return rc;
		job->arch = &tg->arch;
	} else if (name) {
		st = arch_load(&tg->arch, job->arena, job->diag, name);
		job->arch = st == ST_OK ? &tg->arch : NULL;
	}
	if (st == ST_OK && t->prepare)
		st = t->prepare(job);
	return st == ST_OK ? 0 : cli_fail(cli, st);
}

static void meta_line(NnbBuf *m, const char *key, const char *value)
{
	nnb_put(m, key, strlen(key));
	nnb_put(m, "=", 1);
	nnb_put(m, value, strlen(value));
	nnb_put(m, "\n", 1);
}

/* The generic META lines, then the target's, as the last section. */
static Status add_meta(Cli *cli, const Target *t, TargetJob *job)
{
	const Graph *g = job->g;
	const char *s = strrchr(cli->model, '/');
	NnbBuf m = {0};

	meta_line(&m, "target", t->name);
	if (job->arch)
		meta_line(&m, "arch", job->arch->name);
	meta_line(&m, "model", s ? s + 1 : cli->model);
	for (int i = 0; i < g->ninputs; i++) {
		const Value *v = &g->tensors[g->inputs[i]].v;
		char dims[MAX_RANK * 21 + 1];
		size_t n = 0;

		dims[0] = '\0';
		for (int d = 0; d < v->rank; d++)
			n += (size_t)snprintf(dims + n, sizeof(dims) - n, "%s%lld", d ? "," : "", (long long)v->dims[d]);
		nnb_put(&m, "input=", 6);
		meta_line(&m, g->tensors[g->inputs[i]].name, dims);
	}
	for (int i = 0; i < job->nmeta; i++) {
		nnb_put(&m, job->meta[i], strlen(job->meta[i]));
		nnb_put(&m, "\n", 1);
	}
	Status st = m.oom ? diag_add(job->diag, ST_NOMEM, "out of memory")
	                  : nnb_add(job->bundle, NNB_META, NULL, m.b, m.n, job->diag);
	nnb_buf_free(&m);
	return st;
}

/* Graph passes, then lowering and mapping for a loop target, the
 * target's code generation and the bundle. */
static Status run_pipeline(Cli *cli, const Target *t, TargetJob *job, const CliTarget *tg)
{
	LoopProgram p;
	Value *samples = NULL;
	Status st = ST_OK;

	loop_init(&p, &cli->diag, cli->model);
	if (cli->calibrate)
		st = samples_load_dir(job->g, cli->calibrate, job->arena, &samples, &job->nsamples);
	job->samples = samples;
	if (st == ST_OK && t->stage == TARGET_LOOPS) {
		bool map = t->maps && job->arch && job->arch->dataflows;
		st = lower(cli, job->g, &p, true, map ? tg : NULL);
		job->loops = &p;
	}
	if (st == ST_OK)
		st = t->compile(job);
	if (st == ST_OK)
		st = add_meta(cli, t, job);
	if (st == ST_OK)
		st = nnb_write(job->bundle, cli->output, job->diag);
	loop_free(&p);
	return st;
}

static int compile_target(Cli *cli, const Target *t)
{
	TargetJob job = {0};
	CliTarget tg;
	Graph g;
	int rc;

	if (cli->emit) {
		fprintf(stderr, "nnac compile: --emit=loops prints the loop IR; --target %s writes a bundle\n",
		        t->name);
		return EXIT_USAGE;
	}
	if (!cli->output) {
		fprintf(stderr, "nnac compile: --target %s writes a bundle: give -o FILE.nnb\n", t->name);
		return EXIT_USAGE;
	}
	graph_init(&g, &cli->diag, cli->model);
	job = (TargetJob){.model = cli->model, .g = &g, .arena = &g.arena, .diag = &cli->diag};
	job.bundle = nnb_writer_new();
	rc = job.bundle ? target_options(cli, t, &job) : cli_fail(cli, diag_add(&cli->diag, ST_NOMEM, "out of memory"));
	if (rc == 0)
		rc = prepare(cli, t, &job, &tg);
	if (rc == 0)
		rc = cli_load(cli, &g, true);
	if (rc == 0) {
		Status st = run_pipeline(cli, t, &job, &tg);
		rc = st == ST_OK ? 0 : cli_fail(cli, st);
	}
	if (job.bundle)
		nnb_writer_free(job.bundle);
	graph_free(&g);
	return rc;
}

int cmd_compile(Cli *cli)
{
	const Target *t;
	char names[256];

	if (!cli->target)
		return compile_loops(cli);
	t = target_find(cli->target);
	if (t)
		return compile_target(cli, t);
	target_names(names, sizeof(names));
	fprintf(stderr, "nnac compile: --target '%s': no such target (targets: %s)\n", cli->target, names);
	return EXIT_USAGE;
}

/* nnac targets: the table, with each target's options. */
int cmd_targets(Cli *cli)
{
	(void)cli;
	for (int i = 0; i < target_count(); i++) {
		const Target *t = target_at(i);
		printf("%-8s %s\n", t->name, t->description);
		printf("         consumes: %s%s\n", t->stage == TARGET_GRAPH ? "the optimized graph" : "the loop IR",
		       t->maps ? ", mapped onto the arch's dataflows" : "");
		if (t->default_arch)
			printf("         --arch NAME|FILE.arch (default %s)\n", t->default_arch(&(TargetJob){0}));
		else
			printf("         --arch NAME|FILE.arch (default: none)\n");
		if (t->takes_samples)
			printf("         --calibrate DIR: sample inputs (.npy, .pb)\n");
		for (int k = 0; t->options && t->options[k].name; k++) {
			const TargetOption *o = &t->options[k];
			printf("         %s%s%s: %s\n", o->name, o->value ? " " : "", o->value ? o->value : "", o->help);
		}
	}
	return 0;
}
