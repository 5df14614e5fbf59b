/*
 * nnac: the command-line driver.  Dispatches to one subcommand per verb of
 * commands.def; options are parsed by the table of options.def.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: nnac COMMAND [OPTIONS]\n\ncommands:\n");
	for (int i = 0; i < cli_ncommands; i++)
		fprintf(f, "  %-8s %s\n", cli_commands[i].name, cli_commands[i].synopsis);
	fprintf(f, "\n'nnac COMMAND --help' (or 'nnac help COMMAND') shows a command's options.\n"
	           "Exit status: 0 success, 1 no mapping fits a layer (map), 2 bad input or usage,\n"
	           "3 internal error.\n");
}

static bool is_help(const char *s)
{
	return strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0;
}

static bool wants_help(int argc, char **argv)
{
	for (int i = 0; i < argc; i++)
		if (is_help(argv[i]))
			return true;
	return false;
}

static const CliCommand *find_command(const char *name)
{
	for (int i = 0; i < cli_ncommands; i++)
		if (strcmp(name, cli_commands[i].name) == 0)
			return &cli_commands[i];
	return NULL;
}

/* nnac help [COMMAND] */
static int help(int argc, char **argv)
{
	const CliCommand *c = argc > 2 ? find_command(argv[2]) : NULL;

	if (argc > 2 && !c) {
		fprintf(stderr, "nnac help: unknown command '%s'\n", argv[2]);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (c)
		cli_help(stdout, c);
	else
		usage(stdout);
	return 0;
}

static int run(const CliCommand *c, int argc, char **argv)
{
	Cli cli = {0};
	int rc;

	diag_init(&cli.diag);
	cli.cmd = c->name;
	rc = cli_parse(&cli, c, argc, argv);
	if (rc == 0 && !cli.model && *c->operand) {
		fprintf(stderr, "nnac %s: no %s given\n(nnac %s --help lists its options)\n", c->name, c->operand,
		        c->name);
		rc = EXIT_USAGE;
	} else if (rc == 0) {
		budget_set_memory(cli.max_memory);
		budget_set_steps(cli.max_steps);
		rc = c->run(&cli);
	}
	diag_free(&cli.diag);
	return rc;
}

int main(int argc, char **argv)
{
	const CliCommand *c;

	if (argc < 2 || is_help(argv[1])) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("nnac %s\n", NNAC_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "help") == 0)
		return help(argc, argv);
	c = find_command(argv[1]);
	if (!c) {
		fprintf(stderr, "nnac: unknown command '%s'\n", argv[1]);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (wants_help(argc - 2, argv + 2)) {
		cli_help(stdout, c);
		return 0;
	}
	return run(c, argc - 2, argv + 2);
}
