/*
 * nnac: the command-line driver.  Dispatches to one subcommand per verb.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const CliCommand commands[] = {
	{"inspect", cmd_inspect, "per-layer table: shapes, parameters, MACs, operational intensity",
	 "MODEL.onnx [--shape NAME=D0,D1,...]... [--format text|csv|json] [--no-optimize]"},
	{"compile", cmd_compile, "compile a model for a target into a bundle, or print its loop IR",
	 "MODEL.onnx [--target NAME -o FILE.nnb [--arch NAME|FILE.arch] [--calibrate DIR] [the target's options: see nnac targets]] [--emit=loops] [-o FILE.loop] [--no-fuse] [--no-data] [--arch NAME|FILE.arch [--dataflow ws|os|rs|nlr|auto] [--metric energy|cycles|edp]] [--shape NAME=DIMS]... [--verify-each]"},
	{"targets", cmd_targets, "list the targets of compile --target, with their options", ""},
	{"run", cmd_run, "run a model on the reference interpreter, a .loop file on the loop-IR interpreter, or a bundle on its target",
	 "MODEL.onnx|FILE.loop|FILE.nnb [--input NAME=FILE(.npy|.pb)]... [--output-dir DIR] [--shape NAME=DIMS]... [--threads N (cpu bundle)]"},
	{"check", cmd_check, "list every node nnac cannot handle, and why",
	 "MODEL.onnx [--shape NAME=D0,D1,...]..."},
	{"print", cmd_print, "print the graph IR after the graph passes",
	 "MODEL.onnx [--shape NAME=DIMS]... [--no-optimize] [--verify-each]"},
	{"map", cmd_map, "map every conv and matmul layer onto an accelerator: dataflow, tiling, cycles, energy",
	 "MODEL.onnx --arch NAME|FILE.arch [--dataflow ws|os|rs|nlr|auto] [--metric energy|cycles|edp] [--format text|csv|json] [-o FILE] [--shape NAME=DIMS]..."},
	{"trace", cmd_trace, "run a bundle once and print its device's trace (tpu-sim: every instruction)",
	 "FILE.nnb [--input NAME=FILE(.npy|.pb)]... [--format text|chrome] [--summary] [-o FILE] [--threads N]"},
	{"bench", cmd_bench, "time a bundle on its device: min and median of repeated runs (and simulated time)",
	 "FILE.nnb [--input NAME=FILE(.npy|.pb)]... [--runs N] [--threads N]"},
	{"ops", cmd_ops, "list the supported operators (--loops: the loop IR's statements)", "[--loops]"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: nnac COMMAND [OPTIONS]\n\ncommands:\n");
	for (size_t i = 0; i < ARRAY_LEN(commands); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].synopsis);
	fprintf(f, "\n'nnac COMMAND --help' shows a command's options.\n"
	           "Exit status: 0 success, 1 no mapping fits a layer (map), 2 bad input or usage,\n"
	           "3 internal error.\n");
}

static bool wants_help(int argc, char **argv)
{
	for (int i = 0; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	return false;
}

int main(int argc, char **argv)
{
	Cli cli = {0};
	int rc;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	for (size_t i = 0; i < ARRAY_LEN(commands); i++) {
		const CliCommand *c = &commands[i];
		if (strcmp(argv[1], c->name) != 0)
			continue;
		if (wants_help(argc - 2, argv + 2)) {
			printf("nnac %s: %s\nusage: nnac %s%s%s\n", c->name, c->synopsis, c->name, *c->usage ? " " : "",
			       c->usage);
			return 0;
		}
		diag_init(&cli.diag);
		cli.cmd = c->name;
		rc = cli_parse(&cli, c, argc - 2, argv + 2);
		if (rc == 0 && !cli.model && c->run != cmd_ops && c->run != cmd_targets) {
			fprintf(stderr, "nnac %s: no model given\nusage: nnac %s %s\n", c->name, c->name, c->usage);
			rc = EXIT_USAGE;
		} else if (rc == 0) {
			rc = c->run(&cli);
		}
		diag_free(&cli.diag);
		return rc;
	}
	fprintf(stderr, "nnac: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
