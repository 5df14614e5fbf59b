/*
 * nnac compile: the compiler's outline.
 *
 *     import          frontend/onnx                  model.onnx -> graph IR
 *     graph passes    passes/pipeline.c              shapes, folding, fusion
 *     lower           passes/lower.c                 graph IR -> loop IR      (loop targets)
 *     map             passes/df_pass.c               loops laid over the arch (when the target maps)
 *     codegen         backends/<target> (target.h)   -> bundle sections
 *     bundle          runtime/bundle.c               M.nnb, whole or not at all
 *
 * The stages after import are one table (passes/pipeline.c), which names
 * them.  Without --target, the lowered (and, with --arch, mapped) loop IR
 * is printed (--emit=loops), to standard output or to -o FILE.  With
 * --target NAME, the target of backends/targets.def consumes the graph or
 * the loop IR as its table entry says and the bundle goes to -o FILE.nnb.
 * The driver names no target: a target's own options are passed through by
 * name, and one the target does not take is refused.
 *
 * --print-after STAGE prints the IR a stage left on standard error, after a
 * line "# after STAGE", so that it never mixes with the compile's output.
 * --stop-after STAGE ends the compile after it and writes that IR as the
 * output: to -o or standard output without --target; to standard output
 * with --target, whose bundle is not written.  Naming a stage this compile
 * does not run is a usage error that says why.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "df_apply.h"
#include "loop.h"
#include "pipeline.h"
#include "samples.h"
#include "target.h"

enum { MAX_STAGES = 64 };   /* the stage masks are uint64_t */

/* One compilation: what the command line asked and the pipeline it runs. */
typedef struct Compile {
	Cli *cli;
	const Target *t;         /* --target, or NULL: the loop IR's text */
	TargetJob job;           /* with t */
	CliTarget tg;
	bool mapping;            /* tg was loaded from --arch: map onto it */
	DfCache cache;
	Graph g;
	LoopProgram p;
	Pipeline pl;
	uint64_t print;          /* --print-after: a bit per stage */
	int stop;                /* --stop-after: the stage, or -1 */
	int shown;               /* the stage whose IR write_stage writes */
} Compile;

/* ---- the stages --print-after and --stop-after name ---- */

/* "remove-dead,2" for a name the table repeats, else the name. */
static const char *stage_label(int i, char *buf, size_t size)
{
	int of, k = pass_stage_instance(i, &of);

	if (of == 1)
		return pass_stage_name(i);
	snprintf(buf, size, "%s,%d", pass_stage_name(i), k);
	return buf;
}

/* The stages spec names: STAGE, STAGE,N (the N-th stage of that name) or,
 * when all_ok, all.  A plain name the table repeats names each such stage,
 * or only the first when first is set. */
static int stage_mask(const char *opt, const char *spec, bool all_ok, bool first, uint64_t *mask)
{
	const char *comma = strchr(spec, ',');
	size_t len = comma ? (size_t)(comma - spec) : strlen(spec);
	char list[512];
	size_t n = 0;
	long k = 0;
	char *end;

	*mask = 0;
	if (all_ok && strcmp(spec, "all") == 0) {
		*mask = pass_stage_count() == MAX_STAGES ? ~0ull : (1ull << pass_stage_count()) - 1;
		return 0;
	}
	if (comma && (!isdigit((unsigned char)comma[1]) || (k = strtol(comma + 1, &end, 10)) < 1 || *end))
		k = -1;
	for (int i = 0; k >= 0 && i < pass_stage_count(); i++) {
		int of, nth = pass_stage_instance(i, &of);
		const char *name = pass_stage_name(i);
		if (strlen(name) == len && strncmp(spec, name, len) == 0 && (k ? nth == k : !first || nth == 1))
			*mask |= 1ull << i;
	}
	if (*mask)
		return 0;
	for (int i = 0; i < pass_stage_count() && n < sizeof(list); i++)
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", i ? " -> " : "", pass_stage_name(i));
	fprintf(stderr, "nnac compile: %s '%s': no such stage (the stages, in order: %s; NAME,N is the "
	        "N-th of a repeated name%s)\n", opt, spec, list, all_ok ? "; all: every stage" : "");
	return EXIT_USAGE;
}

/* Why this compile does not run stage i (buf may hold the answer); NULL
 * when it does. */
static const char *why_not(const Compile *c, int i, char *buf, size_t size)
{
	const Target *t = c->t;

	if (pass_stage_runs(&c->pl, i)) {
		if (c->stop < 0 || i <= c->stop)
			return NULL;
		snprintf(buf, size, "it comes after --stop-after %s", c->cli->stop_after);
		return buf;
	}
	switch (pass_stage_kind(i)) {
	case STAGE_GRAPH_PASS:
		return "--no-optimize runs only infer-shapes";
	case STAGE_LOWER:
	case STAGE_MAP:
		if (!t)
			return "the dataflow mapper runs only with --arch";
		if (t->stage == TARGET_GRAPH)
			snprintf(buf, size, "--target %s compiles the optimized graph, not the loop IR", t->name);
		else if (!t->maps)
			snprintf(buf, size, "--target %s does not map its loops onto an arch's dataflows", t->name);
		else
			snprintf(buf, size, "--target %s maps only onto an arch given with --arch", t->name);
		return buf;
	case STAGE_CODEGEN:
		return "code generation runs only with --target";
	}
	nnac_unreachable();
}

/* The stages of mask that run up to the stop; an error naming why when
 * there is none and every_one (else the stages that do not run drop out). */
static int runnable(const Compile *c, const char *opt, const char *spec, bool every_one, uint64_t *mask)
{
	char why[256];
	int first = -1;

	for (int i = 0; i < pass_stage_count(); i++) {
		if (!(*mask >> i & 1))
			continue;
		if (first < 0)
			first = i;
		if (why_not(c, i, why, sizeof(why)))
			*mask &= ~(1ull << i);
	}
	if (*mask || !every_one)
		return 0;
	fprintf(stderr, "nnac compile: %s %s: this compile does not run '%s': %s\n", opt, spec,
	        pass_stage_name(first), why_not(c, first, why, sizeof(why)));
	return EXIT_USAGE;
}

/* --stop-after and --print-after, once the pipeline is set up. */
static int choose_stages(Compile *c)
{
	Cli *cli = c->cli;
	uint64_t mask;
	int rc;

	nnac_assert(pass_stage_count() <= MAX_STAGES);
	if (cli->stop_after) {
		if ((rc = stage_mask("--stop-after", cli->stop_after, false, true, &mask)) ||
		    (rc = runnable(c, "--stop-after", cli->stop_after, true, &mask)))
			return rc;
		for (c->stop = 0; !(mask >> c->stop & 1); c->stop++)
			;
		c->pl.opt.stop_after = c->stop + 1;
	}
	for (int k = 0; k < cli->nprint_after; k++) {
		const char *spec = cli->print_after[k];
		if ((rc = stage_mask("--print-after", spec, true, false, &mask)) ||
		    (rc = runnable(c, "--print-after", spec, strcmp(spec, "all") != 0, &mask)))
			return rc;
		c->print |= mask;
	}
	if (c->stop >= 0 && !c->t && cli->emit && pass_stage_kind(c->stop) == STAGE_GRAPH_PASS) {
		fprintf(stderr, "nnac compile: --emit=loops: --stop-after %s stops before the loop IR is made\n",
		        cli->stop_after);
		return EXIT_USAGE;
	}
	return 0;
}

/* ---- what a stage left, as text ---- */

/* The bundle codegen filled, one line per section, without writing it. */
static Status print_sections(FILE *f, const Compile *c)
{
	uint8_t *bytes;
	size_t size;
	Nnb *b = NULL;
	Status st = nnb_write_mem(c->job.bundle, &bytes, &size, c->job.diag);

	if (st == ST_OK)
		st = nnb_open_mem(c->cli->model, bytes, size, &b, c->job.diag);
	nnac_free(bytes);
	for (int i = 0; st == ST_OK && i < nnb_count(b); i++) {
		const NnbSection *s = nnb_section(b, i);
		fprintf(f, "section %-12s %-24s %12llu bytes\n", nnb_kind_name(s->kind), *s->name ? s->name : "-",
		        (unsigned long long)s->size);
	}
	if (b)
		nnb_close(b);
	return st;
}

static Status print_stage(FILE *f, Compile *c, int i)
{
	switch (pass_stage_kind(i)) {
	case STAGE_GRAPH_PASS:
		graph_print(&c->g, f);
		return ST_OK;
	case STAGE_LOWER:
	case STAGE_MAP:
		loop_print(&c->p, f, c->cli->no_data ? LOOP_PRINT_NO_DATA : 0);
		return ST_OK;
	case STAGE_CODEGEN:
		return print_sections(f, c);
	}
	nnac_unreachable();
}

static Status write_stage(FILE *f, const void *cx)
{
	Compile *c = (Compile *)cx;

	return print_stage(f, c, c->shown);
}

/* The pipeline's hook after each stage: the mapper's report, --print-after. */
static Status after_stage(Pipeline *pl, int i)
{
	Compile *c = pl->cx;
	char label[80];

	if (pass_stage_kind(i) == STAGE_MAP)
		fprintf(stderr, "compile: %d kernels mapped onto %s (metric %s), %lld mappings evaluated\n",
		        pl->mapped, c->tg.arch.name, df_metric_name(c->tg.metric), (long long)pl->stats.evaluated);
	if (!(c->print >> i & 1))
		return ST_OK;
	fprintf(stderr, "# after %s\n", stage_label(i, label, sizeof(label)));
	return print_stage(stderr, c, i);
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
 * the model is read.  A target that maps maps onto --arch. */
static int prepare(Compile *c)
{
	Cli *cli = c->cli;
	const Target *t = c->t;
	TargetJob *job = &c->job;
	const char *name = cli->arch ? cli->arch : t->default_arch ? t->default_arch(job) : NULL;
	Status st = ST_OK;
	int rc;

	if (cli->arch && t->maps) {
		if ((rc = cli_target_load(cli, job->arena, "compile", &c->tg)))
			return rc;
		job->arch = &c->tg.arch;
		c->mapping = true;
	} else if (name) {
		st = arch_load(&c->tg.arch, job->arena, job->diag, name);
		job->arch = st == ST_OK ? &c->tg.arch : NULL;
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
		char key[32];

		/* input.K=NAME=DIMS: keys appear once, a name may hold any byte but
		 * NUL and CR (the last '=' ends it) */
		snprintf(key, sizeof(key), "input.%d=", i);
		nnb_put(&m, key, strlen(key));
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

/* The codegen stage: the target's compile, with its samples, then the
 * generic META lines. */
static Status codegen(Pipeline *pl)
{
	Compile *c = pl->cx;
	TargetJob *job = &c->job;
	Value *samples = NULL;
	Status st = ST_OK;

	if (c->cli->calibrate)
		st = samples_load_dir(job->g, c->cli->calibrate, job->arena, &samples, &job->nsamples);
	job->samples = samples;
	job->loops = pl->loops;
	if (st == ST_OK)
		st = c->t->compile(job);
	if (st == ST_OK)
		st = add_meta(c->cli, c->t, job);
	return st;
}

static int setup_target(Compile *c)
{
	Cli *cli = c->cli;
	const Target *t = c->t;
	int rc;

	if (cli->emit) {
		fprintf(stderr, "nnac compile: --emit=loops prints the loop IR; --target %s writes a bundle\n",
		        t->name);
		return EXIT_USAGE;
	}
	if (!cli->output && !cli->stop_after) {
		fprintf(stderr, "nnac compile: --target %s writes a bundle: give -o FILE.nnb\n", t->name);
		return EXIT_USAGE;
	}
	c->job = (TargetJob){.model = cli->model, .g = &c->g, .arena = &c->g.arena, .diag = &cli->diag};
	c->job.bundle = nnb_writer_new();
	if (!c->job.bundle)
		return cli_fail(cli, diag_add(&cli->diag, ST_NOMEM, "out of memory"));
	if ((rc = target_options(cli, t, &c->job)) || (rc = prepare(c)))
		return rc;
	c->pl.loops = t->stage == TARGET_LOOPS ? &c->p : NULL;
	c->pl.lower.fuse = true;
	c->pl.codegen = codegen;
	return 0;
}

/* ---- without a target: the loop IR's text ---- */

static int setup_loops(Compile *c)
{
	Cli *cli = c->cli;
	int rc;

	if (cli->calibrate || cli->ntopts) {
		fprintf(stderr, "nnac compile: %s needs --target\n", cli->calibrate ? "--calibrate" : cli->topts[0].name);
		return EXIT_USAGE;
	}
	if (cli->emit && strcmp(cli->emit, "loops") != 0) {
		fprintf(stderr, "nnac compile: --emit '%s': expected loops\n", cli->emit);
		return EXIT_USAGE;
	}
	if (cli->arch) {
		if ((rc = cli_target_load(cli, &c->g.arena, "compile", &c->tg)))
			return rc;
		c->mapping = true;
	} else if (cli->dataflow || cli->metric) {
		fprintf(stderr, "nnac compile: --dataflow and --metric need --arch\n");
		return EXIT_USAGE;
	}
	c->pl.loops = &c->p;
	c->pl.lower.fuse = !cli->no_fuse;
	return 0;
}

/* ---- both ---- */

/* The stages, then the output: the bundle, or the IR of the last stage
 * run (the --stop-after stage).  With --target, -o names the bundle, which
 * a stopped compile does not write: its IR goes to standard output. */
static Status run(Compile *c)
{
	Status st;

	st = pass_run(&c->pl);
	if (st != ST_OK)
		return st;
	if (c->t && c->stop < 0)
		return nnb_write(c->job.bundle, c->cli->output, c->job.diag);
	c->shown = c->stop;
	for (int i = 0; c->stop < 0 && i < pass_stage_count(); i++)
		if (pass_stage_runs(&c->pl, i))
			c->shown = i;
	if (!c->t)
		return cli_write_output(c->cli, write_stage, c);
	st = print_stage(stdout, c, c->shown);
	if (st == ST_OK && fflush(stdout) != 0)
		st = diag_add(&c->cli->diag, ST_IO, "<stdout>: write failed");
	return st;
}

int cmd_compile(Cli *cli)
{
	Compile c = {.cli = cli, .stop = -1};
	char names[256];
	int rc;

	if (cli->target && !(c.t = target_find(cli->target))) {
		target_names(names, sizeof(names));
		fprintf(stderr, "nnac compile: --target '%s': no such target (targets: %s)\n", cli->target, names);
		return EXIT_USAGE;
	}
	graph_init(&c.g, &cli->diag, cli->model);
	loop_init(&c.p, &cli->diag, cli->model);
	c.pl = (Pipeline){.g = &c.g, .opt = {cli->verify_each, !cli->no_optimize, 0}, .after = after_stage, .cx = &c};
	rc = c.t ? setup_target(&c) : setup_loops(&c);
	if (rc == 0 && c.mapping) {
		df_cache_init(&c.cache, &c.tg.t);
		c.pl.cache = &c.cache;
		c.pl.df = c.tg.df;
		c.pl.metric = c.tg.metric;
	}
	if (rc == 0)
		rc = choose_stages(&c);
	if (rc == 0)
		rc = cli_import(cli, &c.g);
	if (rc == 0) {
		Status st = run(&c);
		rc = st == ST_OK ? 0 : cli_fail(cli, st);
	}
	if (c.pl.cache)
		df_cache_free(&c.cache);
	if (c.job.bundle)
		nnb_writer_free(c.job.bundle);
	loop_free(&c.p);
	graph_free(&c.g);
	return rc;
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
