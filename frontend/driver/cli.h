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

/* The commands of commands.def, as bits for the options' command masks. */
enum {
#define COMMAND(id, operand, syn) CMD_BIT_##id,
#include "commands.def"
#undef COMMAND
	CMD_COUNT
};
#define CMD(x) (1u << CMD_BIT_##x)

/* A Cli field per option of options.def, by its kind. */
#define CLI_FIELD_FLAG(id) bool id;
#define CLI_FIELD_STR(id) const char *id;
#define CLI_FIELD_STRS(id) const char *id[MAX_BINDINGS]; int n##id;
#define CLI_FIELD_COUNT(id) int id;
#define CLI_FIELD_BYTES(id) int64_t id;
#define CLI_FIELD_STEPS(id) int64_t id;
#define CLI_FIELD_FORMAT(id) Format id;
#define CLI_FIELD_INPUT(id)
#define CLI_FIELD_SHAPE(id)
#define CLI_FIELD_ALIAS_OUTPUT(id)

typedef struct Cli {
	const char *cmd;
	const char *model;
	ShapeBinding shapes[MAX_BINDINGS];  /* --shape */
	int nshapes;
	CliInput inputs[MAX_BINDINGS];      /* --input */
	int ninputs;
	CliInput topts[MAX_BINDINGS];       /* compile: the target's own options, as given */
	int ntopts;
#define OPTION(id, name, value, kind, lo, hi, cmds, help) CLI_FIELD_##kind(id)
#include "options.def"
#undef OPTION
	Diag diag;
} Cli;

typedef struct CliCommand {
	const char *name;
	int (*run)(Cli *cli);
	const char *operand;   /* what it takes besides options, "" for none */
	const char *synopsis;
	unsigned bit;          /* CMD(name) */
} CliCommand;

#define COMMAND(id, operand, syn) int cmd_##id(Cli *cli);
#include "commands.def"
#undef COMMAND
/* cmd_bundle.c: run of a bundle on its device */
int cmd_run_bundle(Cli *cli);

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

/* The command table (commands.def), for main.c. */
extern const CliCommand cli_commands[];
extern const int cli_ncommands;
/* Parses argv after the subcommand by the option table (options.c);
 * prints usage errors itself and returns the exit code, 0 on success. */
int cli_parse(Cli *cli, const CliCommand *cmd, int argc, char **argv);
/* `nnac CMD --help`: the synopsis, the usage and every option it takes. */
void cli_help(FILE *f, const CliCommand *cmd);
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
