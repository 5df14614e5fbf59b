/*
 * nnac compile: imports a model, runs the graph passes, lowers it to the
 * loop IR and writes the program in its textual form (--emit=loops), to
 * standard output or to -o FILE.  With --arch, every convolution and
 * matrix product is mapped onto that target first (the dataflow pass:
 * --dataflow, --metric as for nnac map) and its loops tiled accordingly.
 *
 * The file appears whole or not at all: it is written next to its final
 * name and renamed into place only when everything succeeded.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "df_apply.h"
#include "loop.h"
#include "passes.h"

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

/* The dataflow pass, when a target is given; says on stderr what it did. */
static Status map_program(Cli *cli, const Graph *g, LoopProgram *p, const CliTarget *tg)
{
	DfCache cache;
	DfStats stats = {0};
	int mapped = 0;
	Status st;

	if (!tg)
		return ST_OK;
	df_cache_init(&cache, &tg->t);
	st = pass_dataflow(g, p, &cache, tg->df, tg->metric, &stats, &mapped, &cli->diag);
	df_cache_free(&cache);
	if (st == ST_OK)
		fprintf(stderr, "compile: %d kernels mapped onto %s (metric %s), %lld mappings "
		        "evaluated\n", mapped, tg->arch.name, df_metric_name(tg->metric),
		        (long long)stats.evaluated);
	return st;
}

static Status lower_and_write(Cli *cli, Graph *g, const CliTarget *tg)
{
	LowerOptions lo = {!cli->no_fuse};
	LoopProgram p;
	Status st;

	loop_init(&p, &cli->diag, cli->model);
	st = pass_lower(g, &p, &lo);
	if (st == ST_OK)
		st = loop_verify(&p);
	if (st == ST_OK)
		st = map_program(cli, g, &p, tg);
	if (st == ST_OK)
		st = loop_verify(&p);
	if (st == ST_OK)
		st = cli_write_output(cli, print_program, &(Printed){&p, cli->no_data ? LOOP_PRINT_NO_DATA : 0});
	loop_free(&p);
	return st;
}

int cmd_compile(Cli *cli)
{
	CliTarget tg;
	Graph g;
	Status st;
	int rc = 0;

	if (cli->target && strcmp(cli->target, "tpu") == 0 && !cli->emit)
		return cmd_compile_tpu(cli);
	if (cli->target && strcmp(cli->target, "cpu") == 0 && !cli->emit)
		return cmd_compile_cpu(cli);
	if (cli->target) {
		fprintf(stderr, "nnac compile: --target '%s': expected tpu or cpu (without --emit)\n", cli->target);
		return EXIT_USAGE;
	}
	if (cli->cpu) {
		fprintf(stderr, "nnac compile: --cpu needs --target cpu\n");
		return EXIT_USAGE;
	}
	if (cli->precision || cli->calibrate || cli->calib_method) {
		fprintf(stderr, "nnac compile: --precision, --calibrate and --calib-method need --target tpu\n");
		return EXIT_USAGE;
	}
	if (cli->emit && strcmp(cli->emit, "loops") != 0) {
		fprintf(stderr, "nnac compile: --emit '%s': expected loops\n", cli->emit);
		return EXIT_USAGE;
	}
	graph_init(&g, &cli->diag, cli->model);
	if (cli->arch)
		rc = cli_target_load(cli, &g.arena, "compile", &tg);
	else if (cli->dataflow || cli->metric)
		rc = (fprintf(stderr, "nnac compile: --dataflow and --metric need --arch\n"), EXIT_USAGE);
	if (rc == 0)
		rc = cli_load(cli, &g, true);
	if (rc == 0) {
		st = lower_and_write(cli, &g, cli->arch ? &tg : NULL);
		rc = st == ST_OK ? 0 : cli_fail(cli, st);
	}
	graph_free(&g);
	return rc;
}
