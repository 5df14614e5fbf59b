/*
 * The nnac command-line driver: shared option parsing and model loading.
 * Each subcommand lives in cmd_<name>.c and returns the process exit code
 * (0 success, 2 bad input or usage, 3 internal error).
 */
#ifndef NNAC_CLI_H
#define NNAC_CLI_H

#include "graph.h"
#include "onnx.h"

enum { EXIT_USAGE = 2, EXIT_INTERNAL = 3, MAX_BINDINGS = 64 };

typedef enum Format { FMT_TEXT, FMT_CSV, FMT_JSON } Format;

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
	const char *output;    /* compile: -o FILE, or NULL for stdout */
	bool no_fuse;          /* compile: one kernel per layer, no fusion */
	bool no_data;          /* compile: leave the data blocks out */
	bool loops;            /* ops: list the loop IR's statements instead */
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

/* Parses argv after the subcommand; prints usage errors itself. */
int cli_parse(Cli *cli, const CliCommand *cmd, int argc, char **argv);
/* The two halves of cli_load. */
int cli_import(Cli *cli, Graph *g);
int cli_optimize(Cli *cli, Graph *g, bool optimize);
/* Imports and runs the graph pipeline; prints diagnostics on failure and
 * returns the exit code (0 on success). */
int cli_load(Cli *cli, Graph *g, bool optimize);
/* Prints the diagnostics and maps a status to an exit code. */
int cli_fail(Cli *cli, Status st);

#endif
