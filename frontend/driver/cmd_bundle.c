/*
 * Bundles in the driver, on whatever device their program names
 * (runtime/device.h):
 *
 *   nnac run M.nnb --input NAME=FILE... [--output-dir DIR] [--threads N]
 *   nnac run --verify-only M.nnb
 *   nnac trace M.nnb [--input ...] [--format text|chrome] [--summary] [-o FILE]
 *   nnac bench M.nnb [--input ...] [--runs N] [--threads N]
 *
 * run prints each output's summary and the device's counters (with
 * --verify-only it checks the bundle and loads no code); trace runs
 * once keeping the device's trace; bench times repeated runs (and, on a
 * simulator, reports the simulated time beside the host's).  The driver
 * names no device.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "device.h"

enum { DEFAULT_RUNS = 20 };

/* The device's ports as driver ports. */
static Port *ports(Arena *a, const DevicePort *p, int n)
{
	Port *out = arena_alloc(a, (size_t)(n + 1) * sizeof(Port));

	for (int i = 0; out && i < n; i++) {
		out[i].name = p[i].name;
		out[i].type = p[i].v;
		out[i].type.data = NULL;
	}
	return out;
}

/* Opens the bundle (with want_trace), gives it --threads threads and binds
 * the inputs from --input (random ones when random_ok and none given). */
static Status open_bound(Cli *cli, bool want_trace, bool random_ok, Arena *a, Device **dv)
{
	Port *in;
	Value *v;
	Status st = device_open(cli->model, want_trace, &cli->diag, dv);

	if (st == ST_OK && cli->threads)
		st = device_set_threads(*dv, cli->threads);
	if (st != ST_OK)
		return st;
	in = ports(a, (*dv)->in, (*dv)->nin);
	v = arena_alloc(a, (size_t)((*dv)->nin + 1) * sizeof(Value));
	if (!in || !v)
		return diag_add(&cli->diag, ST_NOMEM, "out of memory");
	if (random_ok && cli->ninputs == 0)
		fprintf(stderr, "%s: no --input given; running on seeded random inputs\n", cli->cmd);
	st = cli_bind_inputs(cli, in, (*dv)->nin, a, v, random_ok);
	for (int i = 0; i < (*dv)->nin && st == ST_OK; i++)
		memcpy((*dv)->in[i].v.data, v[i].data, (size_t)val_bytes(&v[i]));
	return st;
}

/* The outputs into --output-dir, and their summaries when print. */
static Status outputs(Cli *cli, Device *dv, Arena *a, bool print)
{
	Port *out = ports(a, dv->out, dv->nout);
	Value *v = arena_alloc(a, (size_t)(dv->nout + 1) * sizeof(Value));

	if (!out || !v)
		return diag_add(&cli->diag, ST_NOMEM, "out of memory");
	for (int i = 0; i < dv->nout; i++) {
		v[i] = dv->out[i].v;
		if (print)
			cli_summarize(out[i].name, &v[i]);
	}
	return cli_write_outputs(cli, out, dv->nout, v);
}

/* One line on what was checked, or the error. */
static int verify_only(Cli *cli)
{
	char line[DEVICE_VERIFIED_MAX + 128];
	Status st = device_verify(cli->model, line, &cli->diag);

	if (st != ST_OK)
		return cli_fail(cli, st);
	printf("%s\n", line);
	return 0;
}

int cmd_run_bundle(Cli *cli)
{
	Device *dv = NULL;
	Arena a;
	Status st;

	if (cli->verify_only)
		return verify_only(cli);
	arena_init(&a);
	st = open_bound(cli, false, false, &a, &dv);
	if (st == ST_OK)
		st = device_run(dv);
	if (st == ST_OK)
		st = outputs(cli, dv, &a, true);
	if (st == ST_OK && dv->ops->counters)
		dv->ops->counters(dv, stdout);
	device_close(dv);
	arena_free(&a);
	return st == ST_OK ? 0 : cli_fail(cli, st);
}

typedef struct Traced {
	const Device *dv;
	DeviceTrace how;
} Traced;

static Status write_trace(FILE *f, const void *cx)
{
	const Traced *t = cx;

	return t->dv->ops->trace(t->dv, f, t->how);
}

int cmd_trace(Cli *cli)
{
	Device *dv = NULL;
	DeviceTrace how = cli->summary ? DEV_TRACE_SUMMARY : cli->format == FMT_CHROME ? DEV_TRACE_CHROME
	                                                                               : DEV_TRACE_TEXT;
	Arena a;
	Status st;

	if (cli->format != FMT_TEXT && cli->format != FMT_CHROME) {
		fprintf(stderr, "nnac trace: --format: expected text or chrome\n");
		return EXIT_USAGE;
	}
	arena_init(&a);
	st = open_bound(cli, !cli->summary, true, &a, &dv);
	if (st == ST_OK && !dv->ops->trace)
		st = diag_add(&cli->diag, ST_UNSUPPORTED, "%s: the %s device keeps no trace", cli->model,
		              dv->ops->name);
	if (st == ST_OK)
		st = device_run(dv);
	if (st == ST_OK)
		st = outputs(cli, dv, &a, false);
	if (st == ST_OK)
		st = cli_write_output(cli, write_trace, &(Traced){dv, how});
	device_close(dv);
	arena_free(&a);
	return st == ST_OK ? 0 : cli_fail(cli, st);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* CPU time of the whole process, every thread's, in seconds. */
static double process_cpu_seconds(void)
{
	struct timespec t;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int cmd_bench(Cli *cli)
{
	int runs = cli->runs > 0 ? cli->runs : DEFAULT_RUNS;
	double *t = nnac_calloc((size_t)runs, sizeof(double)), cpu = 0;
	Device *dv = NULL;
	Arena a;
	Status st;

	arena_init(&a);
	st = t ? open_bound(cli, false, true, &a, &dv) : diag_add(&cli->diag, ST_NOMEM, "out of memory");
	if (st == ST_OK)
		st = device_run(dv);     /* warm up: page in the weights and the code */
	if (st == ST_OK)
		cpu = process_cpu_seconds();
	for (int i = 0; i < runs && st == ST_OK; i++) {
		st = device_run(dv);
		t[i] = dv->host_seconds;
	}
	if (st == ST_OK) {
		/* CPU time per run and thread beside the wall times: on a shared
		 * machine, wall time above it is time the threads waited */
		cpu = (process_cpu_seconds() - cpu) / runs / dv->threads;
		qsort(t, (size_t)runs, sizeof(double), cmp_double);
		printf("%s: %d runs on %s, %d thread%s, min %.3f ms, median %.3f ms, cpu %.3f ms per run and thread",
		       cli->model, runs, dv->ops->name, dv->threads, dv->threads == 1 ? "" : "s", t[0] * 1e3,
		       t[runs / 2] * 1e3, cpu * 1e3);
		if (dv->ops->simulated)
			printf(" of host time; simulated %.3f ms per run", dv->device_seconds * 1e3);
		printf("\n");
	}
	device_close(dv);
	arena_free(&a);
	nnac_free(t);
	return st == ST_OK ? 0 : cli_fail(cli, st);
}
