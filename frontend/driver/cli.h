/*
 * The nnac command-line driver: shared option parsing and model loading.
 * Each subcommand lives in cmd_<name>.c and returns the process exit code
 * (0 success, 1 no mapping fits a layer (map), 2 bad input or usage,
 * 3 internal error).
 */
#ifndef NNAC_CLI_H
#define NNAC_CLI_H

#include <stdio.h>

#include "arch_lang.h"
#include "dataflow.h"
#include "graph.h"
#include "onnx.h"

enum { EXIT_NO_MAPPING = 1, EXIT_USAGE = 2, EXIT_INTERNAL = 3, MAX_BINDINGS = 64, MAX_THREADS = 256 };

typedef enum Format { FMT_TEXT, FMT_CSV, FMT_JSON, FMT_CHROME } Format;

typedef struct CliInput {
	const char *name;
	const char *path;
} CliInput;

typedef struct Cli {
	const char *cmd;
	const char *model;
	ShapeBinding shapes[MAX_BINDINGS];
	int nshapes;
	CliInput inputs[MAX_BINDINGS];
	int ninputs;
	const char *output_dir;
	Format format;
	bool verify_each;
	bool no_optimize;
	const char *emit;      /* compile: what to write ("loops") */
	const char *output;    /* compile, map: -o FILE, or NULL for stdout */
	bool no_fuse;          /* compile: one kernel per layer, no fusion */
	bool no_data;          /* compile: leave the data blocks out */
	bool loops;            /* ops: list the loop IR's statements instead */
	const char *arch;      /* map: --arch, a preset name or FILE.arch */
	const char *dataflow;  /* map: --dataflow ws|os|rs|nlr|auto, NULL auto */
	const char *metric;    /* map: --metric energy|cycles|edp, NULL default */
	const char *target;    /* compile: --target NAME (backends/targets.def), NULL: loops */
	const char *calibrate; /* compile: --calibrate DIR of sample inputs */
	CliInput topts[MAX_BINDINGS]; /* compile: the target's own options, as given */
	int ntopts;
	const char *print_after[MAX_BINDINGS]; /* compile: --print-after STAGE[,N]|all, as given */
	int nprint_after;
	const char *stop_after; /* compile: --stop-after STAGE[,N], as given */
	bool summary;          /* trace: --summary, the counter table only */
	int runs;              /* bench: --runs N */
	int threads;           /* run, bench of a cpu bundle: --threads N, 0 if not given */
	Diag diag;
} Cli;

typedef struct CliCommand {
	const char *name;
	int (*run)(Cli *cli);
	const char *synopsis;
	const char *usage;     /* options, for --help */
} CliCommand;

int cmd_inspect(Cli *cli);
int cmd_run(Cli *cli);
int cmd_check(Cli *cli);
int cmd_print(Cli *cli);
int cmd_ops(Cli *cli);
int cmd_compile(Cli *cli);
int cmd_map(Cli *cli);
int cmd_trace(Cli *cli);
int cmd_targets(Cli *cli);
/* cmd_tpu.c: run of a tpu bundle */
int cmd_run_bundle(Cli *cli);
/* cmd_cpu.c: run of a cpu bundle, bench */
int cmd_run_cpu(Cli *cli);
int cmd_bench(Cli *cli);

/* Shared by run and the bundle commands (cmd_run.c). */
typedef struct Port {
	const char *name;    /* graph tensor name (or buffer name) */
	Value type;          /* dtype and shape, no data */
} Port;
Port *cli_graph_ports(Graph *g, Arena *a, const int *tensors, int n);
/* Fills in[] in port order from the --input options; missing inputs are an
 * error, or random when random_ok. */
Status cli_bind_inputs(Cli *cli, const Port *ports, int n, Arena *a, Value *in, bool random_ok);
/* All outputs or none into --output-dir (nothing without it). */
Status cli_write_outputs(Cli *cli, const Port *ports, int n, const Value *out);
/* One line per output: shape, range, top-5 of a classifier. */
void cli_summarize(const char *name, const Value *v);

/* A target for the dataflow mapper, from --arch, --dataflow and --metric
 * (frontend/driver/target.c). */
typedef struct CliTarget {
	Arch arch;
	DfTarget t;
	int df;              /* an ArchDataflow, or -1: every one the arch has */
	DfMetric metric;
	bool metric_default; /* no --metric: energy when known, else cycles */
} CliTarget;

/* Loads the target into ct (the arch's data in ar); prints what is wrong
 * (cmd names the subcommand) and returns the exit code, 0 on success. */
int cli_target_load(Cli *cli, Arena *ar, const char *cmd, CliTarget *ct);

/* Parses argv after the subcommand; prints usage errors itself. */
int cli_parse(Cli *cli, const CliCommand *cmd, int argc, char **argv);
/* The two halves of cli_load. */
int cli_import(Cli *cli, Graph *g);
int cli_optimize(Cli *cli, Graph *g, bool optimize);
/* Imports and runs the graph pipeline; prints diagnostics on failure and
 * returns the exit code (0 on success). */
int cli_load(Cli *cli, Graph *g, bool optimize);
/* Writes through write(f, cx) to -o FILE, whole or not at all (a file next
 * to it renamed into place only when everything succeeded), or to standard
 * output without -o. */
typedef Status (*CliWriter)(FILE *f, const void *cx);
Status cli_write_output(Cli *cli, CliWriter write, const void *cx);
/* Prints the diagnostics and maps a status to an exit code. */
int cli_fail(Cli *cli, Status st);

#endif
