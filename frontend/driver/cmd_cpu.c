/*
 * The cpu target in the driver:
 *
 *   nnac compile MODEL.onnx --target cpu [--arch host|FILE.arch] [--cpu NAME] -o M.nnb
 *   nnac run M.nnb --input NAME=FILE... [--output-dir DIR] [--threads N]
 *   nnac bench M.nnb [--runs N] [--threads N]
 *
 * compile lowers the optimized graph to the loop IR, compiles it with LLVM
 * (backends/cpu) into a shared object and writes the bundle; --arch names
 * the machine the convolution and matrix kernels block for (its vector
 * width, registers, L1 and L2), else the host's features decide; run and bench
 * go through the runtime library (runtime/nnac_rt.h), as a user's program
 * would, on --threads threads (default 1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cpu_bundle.h"
#include "arch_lang.h"
#include "cpu_codegen.h"
#include "loop.h"
#include "nnac_rt.h"
#include "passes.h"

/* LLVM's O2: the contraction kernels are explicit vector code already,
 * and O3 took ResNet-50-sized models 70% longer to compile for no
 * measured gain in speed. */
enum { DEFAULT_RUNS = 20, CPU_OPT_LEVEL = 2 };

/* The size in bytes of the first of the named levels of a, or 0. */
static int64_t level_bytes(const Arch *a, const char *const *names)
{
	for (; *names; names++) {
		int i = arch_level_find(a, *names);

		if (i >= 0 && a->levels[i].size > 0)
			return a->levels[i].size;
	}
	return 0;
}

/* --arch for the cpu target: an arch with `isa cpu`; its vector width, its
 * register file (level regs) and caches (l1d or l1, l2) into co. */
static int arch_options(Cli *cli, Arena *ar, CpuOptions *co)
{
	static const char *const regs[] = {"regs", NULL}, *const l1[] = {"l1d", "l1", NULL},
	                         *const l2[] = {"l2", NULL};
	Arch a;

	if (cli->dataflow || cli->metric) {
		fprintf(stderr, "nnac compile: --dataflow and --metric choose mappings for the dataflow mapper, "
		                "not for --target cpu\n");
		return EXIT_USAGE;
	}
	if (arch_load(&a, ar, &cli->diag, cli->arch) != ST_OK)
		return cli_fail(cli, ST_INVALID);
	if (a.isa != ARCH_ISA_CPU || a.vector_bits <= 0) {
		fprintf(stderr, "%s: arch '%s' is not a cpu (isa %s%s): --target cpu needs an arch with "
		        "`isa cpu` and a `vector` width, such as host\n", a.path, a.name, arch_isa_name(a.isa),
		        a.isa == ARCH_ISA_CPU ? ", no vector width" : "");
		return EXIT_USAGE;
	}
	co->vector_bits = (int)a.vector_bits;
	co->vregs = (int)(level_bytes(&a, regs) / (a.vector_bits / 8));
	co->l1_bytes = level_bytes(&a, l1);
	co->l2_bytes = level_bytes(&a, l2);
	return 0;
}

int cmd_compile_cpu(Cli *cli)
{
	LowerOptions lo = {true};
	CpuOptions co = {NULL, cli->cpu, CPU_OPT_LEVEL, 0, 0, 0, 0, 0};
	LoopProgram p;
	Graph g;
	uint8_t *so = NULL;
	size_t so_len = 0;
	Status st;
	int rc;

	if (!cli->output) {
		fprintf(stderr, "nnac compile: --target cpu writes a bundle: give -o FILE.nnb\n");
		return EXIT_USAGE;
	}
	graph_init(&g, &cli->diag, cli->model);
	loop_init(&p, &cli->diag, cli->model);
	rc = cli->arch ? arch_options(cli, &g.arena, &co) : 0;
	if (rc == 0)
		rc = cli_load(cli, &g, true);
	if (rc == 0) {
		st = pass_lower(&g, &p, &lo);
		if (st == ST_OK)
			st = loop_verify(&p);
		if (st == ST_OK)
			st = cpu_compile(&p, &co, &so, &so_len, &cli->diag);
		if (st == ST_OK) {
			const char *meta[] = {"target=cpu", cli->cpu ? cli->cpu : "cpu=host", NULL};
			char cpu[256], arch[256];
			if (cli->cpu) {
				snprintf(cpu, sizeof(cpu), "cpu=%s", cli->cpu);
				meta[1] = cpu;
			}
			if (cli->arch) {
				snprintf(arch, sizeof(arch), "arch=%s", cli->arch);
				meta[2] = arch;
			}
			st = cpu_bundle_write(&p, so, so_len, meta, cli->arch ? 3 : 2, cli->output, &cli->diag);
		}
		if (st == ST_OK)
			fprintf(stderr, "compile: %d kernels, %zu bytes of machine code (shared object)\n",
			        p.nkernels, so_len);
		rc = st == ST_OK ? 0 : cli_fail(cli, st);
	}
	free(so);
	loop_free(&p);
	graph_free(&g);
	return rc;
}

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
