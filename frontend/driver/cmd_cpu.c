/*
 * cpu bundles in the driver:
 *
 *   nnac run M.nnb --input NAME=FILE... [--output-dir DIR] [--threads N]
 *   nnac bench M.nnb [--runs N] [--threads N]
 *
 * run and bench go through the runtime library (runtime/nnac_rt.h), as a
 * user's program would, on --threads threads (default 1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "nnac_rt.h"

enum { DEFAULT_RUNS = 20 };

/* The model's inputs as driver ports, and their values bound from --input. */
static Status bind(Cli *cli, NnacModel *m, Arena *a)
{
	int n = nnac_num_inputs(m);
	Port *ports = arena_alloc(a, (size_t)(n + 1) * sizeof(Port));
	Value *in = arena_alloc(a, (size_t)(n + 1) * sizeof(Value));
	Status st;

	if (!ports || !in)
		return diag_add(&cli->diag, ST_NOMEM, "out of memory");
	for (int i = 0; i < n; i++) {
		int64_t dims[MAX_RANK];
		int rank = nnac_input_shape(m, i, dims);
		ports[i].name = nnac_input_name(m, i);
		val_set_type(&ports[i].type, dtype_from_name(nnac_input_dtype(m, i)), rank, dims);
		ports[i].type.data = NULL;
	}
	st = cli_bind_inputs(cli, ports, n, a, in, false);
	for (int i = 0; i < n && st == ST_OK; i++)
		memcpy(nnac_input_data(m, i), in[i].data, nnac_input_bytes(m, i));
	return st;
}

static Status outputs(Cli *cli, NnacModel *m, Arena *a, bool print)
{
	int n = nnac_num_outputs(m);
	Port *ports = arena_alloc(a, (size_t)(n + 1) * sizeof(Port));
	Value *out = arena_alloc(a, (size_t)(n + 1) * sizeof(Value));

	if (!ports || !out)
		return diag_add(&cli->diag, ST_NOMEM, "out of memory");
	for (int i = 0; i < n; i++) {
		int64_t dims[MAX_RANK];
		int rank = nnac_output_shape(m, i, dims);
		ports[i].name = nnac_output_name(m, i);
		val_set_type(&ports[i].type, dtype_from_name(nnac_output_dtype(m, i)), rank, dims);
		out[i] = ports[i].type;
		out[i].data = (void *)nnac_output_data(m, i);
		if (print)
			cli_summarize(ports[i].name, &out[i]);
	}
	return cli_write_outputs(cli, ports, n, out);
}

/* Opens the bundle and gives it --threads threads. */
static int open_model(Cli *cli, NnacModel **m)
{
	char err[1024];

	if (nnac_open(cli->model, m, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return EXIT_USAGE;
	}
	if (cli->threads > 1 && nnac_set_threads(*m, cli->threads) != 0) {
		fprintf(stderr, "%s: %s\n", cli->model, nnac_error(*m));
		nnac_close(*m);
		return EXIT_INTERNAL;
	}
	return 0;
}

int cmd_run_cpu(Cli *cli)
{
	NnacModel *m;
	Arena a;
	Status st;
	int rc = open_model(cli, &m);

	if (rc)
		return rc;
	arena_init(&a);
	st = bind(cli, m, &a);
	if (st == ST_OK && nnac_run(m) != 0)
		st = diag_add(&cli->diag, ST_INTERNAL, "%s: %s", cli->model, nnac_error(m));
	if (st == ST_OK)
		st = outputs(cli, m, &a, true);
	if (st == ST_OK)
		printf("  run: %.3f ms\n", nnac_last_run_seconds(m) * 1e3);
	arena_free(&a);
	nnac_close(m);
	return st == ST_OK ? 0 : cli_fail(cli, st);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int cmd_bench(Cli *cli)
{
	NnacModel *m;
	int runs = cli->runs > 0 ? cli->runs : DEFAULT_RUNS;
	double *t = calloc((size_t)runs, sizeof(double));
	int rc = t ? open_model(cli, &m) : EXIT_INTERNAL;

	if (rc) {
		free(t);
		return rc;
	}
	nnac_run(m);     /* warm up: page in the weights and the code */
	for (int i = 0; i < runs; i++) {
		nnac_run(m);
		t[i] = nnac_last_run_seconds(m);
	}
	qsort(t, (size_t)runs, sizeof(double), cmp_double);
	printf("%s: %d runs, %d thread%s, min %.3f ms, median %.3f ms\n", cli->model, runs,
	       nnac_threads(m), nnac_threads(m) == 1 ? "" : "s", t[0] * 1e3, t[runs / 2] * 1e3);
	free(t);
	nnac_close(m);
	return 0;
}
