/*
 * The command line by the tables: commands.def (the subcommands) and
 * options.def (every option, with the commands that take it).  An option a
 * command does not take is refused naming both; compile passes the options
 * of targets (backends/target.h) through by name.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "passes.h"
#include "target.h"

typedef enum OptKind {
	OK_FLAG, OK_STR, OK_STRS, OK_COUNT, OK_BYTES, OK_STEPS, OK_FORMAT, OK_INPUT, OK_SHAPE, OK_ALIAS_OUTPUT
} OptKind;

typedef struct CliOption {
	const char *name;
	const char *value;     /* NULL: a flag */
	OptKind kind;
	int lo, hi;            /* COUNT */
	unsigned cmds;         /* CMD(x) | ... */
	const char *help;
	size_t field;          /* offsetof(Cli, id) */
	size_t count;          /* STRS: offsetof(Cli, nid) */
} CliOption;

/* The offset of STRS options' counts; 0 for the other kinds. */
#define COUNT_OF_FLAG(id) 0
#define COUNT_OF_STR(id) 0
#define COUNT_OF_STRS(id) offsetof(Cli, n##id)
#define COUNT_OF_COUNT(id) 0
#define COUNT_OF_BYTES(id) 0
#define COUNT_OF_STEPS(id) 0
#define COUNT_OF_FORMAT(id) 0
#define COUNT_OF_INPUT(id) 0
#define COUNT_OF_SHAPE(id) 0
#define COUNT_OF_ALIAS_OUTPUT(id) 0

static const CliOption options[] = {
#define OPTION(id, name, value, kind, lo, hi, cmds, help) \
	{name, value, OK_##kind, lo, hi, cmds, help, offsetof(Cli, id), COUNT_OF_##kind(id)},
#include "options.def"
#undef OPTION
};

const CliCommand cli_commands[] = {
#define COMMAND(id, operand, syn) {#id, cmd_##id, operand, syn, CMD(id)},
#include "commands.def"
#undef COMMAND
};
const int cli_ncommands = (int)ARRAY_LEN(cli_commands);
_Static_assert(ARRAY_LEN(cli_commands) == CMD_COUNT, "one entry per command of commands.def");

static int usage_error(const CliCommand *cmd, const char *fmt, const char *arg)
{
	fprintf(stderr, "nnac %s: ", cmd->name);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n(nnac %s --help lists its options)\n", cmd->name);
	return EXIT_USAGE;
}

static int parse_input(Cli *cli, const CliCommand *cmd, char *arg)
{
	char *eq = strchr(arg, '=');

	if (!eq || eq == arg || !eq[1])
		return usage_error(cmd, "--input '%s': expected NAME=FILE.npy or NAME=FILE.pb", arg);
	if (cli->ninputs == MAX_BINDINGS)
		return usage_error(cmd, "too many --input options%s", "");
	*eq = '\0';
	cli->inputs[cli->ninputs].name = arg;
	cli->inputs[cli->ninputs].path = eq + 1;
	cli->ninputs++;
	return 0;
}

static int parse_shape(Cli *cli, const CliCommand *cmd, char *arg)
{
	if (cli->nshapes == MAX_BINDINGS)
		return usage_error(cmd, "too many --shape options%s", "");
	if (!onnx_parse_shape_binding(arg, &cli->shapes[cli->nshapes], &cli->diag))
		return cli_fail(cli, ST_INVALID);
	cli->nshapes++;
	return 0;
}

static int parse_format(Format *f, const CliCommand *cmd, const char *arg)
{
	bool trace = cmd->bit == CMD(trace);

	if (strcmp(arg, "text") == 0)
		*f = FMT_TEXT;
	else if (strcmp(arg, "csv") == 0 && !trace)
		*f = FMT_CSV;
	else if (strcmp(arg, "json") == 0 && !trace)
		*f = FMT_JSON;
	else if (strcmp(arg, "chrome") == 0 && trace)
		*f = FMT_CHROME;
	else
		return usage_error(cmd, trace ? "--format '%s': expected text or chrome"
		                               : "--format '%s': expected text, csv or json", arg);
	return 0;
}

static int parse_count(int *n, const CliCommand *cmd, const CliOption *o, const char *arg)
{
	char msg[160];
	char *end;
	long v = strtol(arg, &end, 10);

	if (*arg && !*end && v >= o->lo && v <= o->hi) {
		*n = (int)v;
		return 0;
	}
	snprintf(msg, sizeof(msg), "%s '%.40s': expected a count from %d to %d", o->name, arg, o->lo, o->hi);
	return usage_error(cmd, "%s", msg);
}

static int parse_bytes(int64_t *n, const CliCommand *cmd, const CliOption *o, const char *arg)
{
	char msg[160];

	if (budget_parse_bytes(arg, n))
		return 0;
	snprintf(msg, sizeof(msg), "%s '%.40s': expected a size in bytes, with an optional K, M, G or T "
	         "(at most 1T)", o->name, arg);
	return usage_error(cmd, "%s", msg);
}

static int parse_steps(int64_t *n, const CliCommand *cmd, const CliOption *o, const char *arg)
{
	char msg[160];
	char *end;
	long long v;

	errno = 0;
	v = strtoll(arg, &end, 10);
	if (*arg >= '0' && *arg <= '9' && !*end && !errno && v > 0) {
		*n = v;
		return 0;
	}
	snprintf(msg, sizeof(msg), "%s '%.40s': expected a positive count", o->name, arg);
	return usage_error(cmd, "%s", msg);
}

/* Option o's value v into cli. */
static int set_option(Cli *cli, const CliCommand *cmd, const CliOption *o, char *v)
{
	char *field = (char *)cli + o->field;

	switch (o->kind) {
	case OK_FLAG:
		*(bool *)field = true;
		return 0;
	case OK_STR:
	case OK_ALIAS_OUTPUT:
		*(const char **)field = v;
		return 0;
	case OK_STRS: {
		int *n = (int *)((char *)cli + o->count);
		if (*n == MAX_BINDINGS)
			return usage_error(cmd, "too many %s options", o->name);
		((const char **)field)[(*n)++] = v;
		return 0;
	}
	case OK_COUNT:
		return parse_count((int *)field, cmd, o, v);
	case OK_BYTES:
		return parse_bytes((int64_t *)field, cmd, o, v);
	case OK_STEPS:
		return parse_steps((int64_t *)field, cmd, o, v);
	case OK_FORMAT:
		return parse_format((Format *)field, cmd, v);
	case OK_INPUT:
		return parse_input(cli, cmd, v);
	case OK_SHAPE:
		return parse_shape(cli, cmd, v);
	}
	nnac_unreachable();
}

static const CliOption *find_option(const char *name)
{
	for (size_t i = 0; i < ARRAY_LEN(options); i++)
		if (strcmp(options[i].name, name) == 0)
			return &options[i];
	return NULL;
}

/* An option of some target, kept as given; compile checks it against the
 * target chosen. */
static int target_option(Cli *cli, const CliCommand *cmd, const char *name, char *v, bool has_eq, int argc,
                         char **argv, int *i)
{
	bool takes_value;

	if (!target_option_known(name, &takes_value))
		return usage_error(cmd, "unknown option '%s'", name);
	if (cli->ntopts == MAX_BINDINGS)
		return usage_error(cmd, "too many target options%s", "");
	if (takes_value && !has_eq && *i + 1 >= argc)
		return usage_error(cmd, "option '%s' needs a value", name);
	if (!takes_value && has_eq)
		return usage_error(cmd, "option '%s' takes no value", name);
	cli->topts[cli->ntopts].name = name;
	cli->topts[cli->ntopts].path = !takes_value ? "" : has_eq ? v : argv[++*i];
	cli->ntopts++;
	return 0;
}

/* argv[*i], an option: "--name=value", "--name value" or a flag. */
static int parse_option(Cli *cli, const CliCommand *cmd, int argc, char **argv, int *i)
{
	char *arg = argv[*i], *eq = arg[1] == '-' ? strchr(arg, '=') : NULL, *v = eq ? eq + 1 : NULL;
	const CliOption *o;

	if (eq)
		*eq = '\0';
	o = find_option(arg);
	if (!o && cmd->bit == CMD(compile) && arg[1] == '-')
		return target_option(cli, cmd, arg, v, eq != NULL, argc, argv, i);
	if (!o)
		return usage_error(cmd, "unknown option '%s'", arg);
	if (!(o->cmds & cmd->bit)) {
		fprintf(stderr, "nnac %s: %s does not apply to %s\n", cmd->name, o->name, cmd->name);
		return EXIT_USAGE;
	}
	if (!o->value && eq)
		return usage_error(cmd, "option '%s' takes no value", arg);
	if (o->value && !eq) {
		if (*i + 1 >= argc)
			return usage_error(cmd, "option '%s' needs a value", arg);
		v = argv[++*i];
	}
	return set_option(cli, cmd, o, v);
}

int cli_parse(Cli *cli, const CliCommand *cmd, int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		int rc;

		if (argv[i][0] == '-' && argv[i][1])
			rc = parse_option(cli, cmd, argc, argv, &i);
		else if (cli->model || !*cmd->operand)
			rc = usage_error(cmd, "unexpected argument '%s'", argv[i]);
		else
			rc = (cli->model = argv[i], 0);
		if (rc)
			return rc;
	}
	return 0;
}

void cli_help(FILE *f, const CliCommand *cmd)
{
	fprintf(f, "nnac %s: %s\nusage: nnac %s%s%s%s\n", cmd->name, cmd->synopsis, cmd->name,
	        *cmd->operand ? " " : "", cmd->operand, cmd->bit == CMD(targets) ? "" : " [OPTIONS]");
	bool any = false;

	for (size_t i = 0; i < ARRAY_LEN(options); i++) {
		const CliOption *o = &options[i];
		char head[64];

		if (!(o->cmds & cmd->bit))
			continue;
		if (!any)
			fprintf(f, "\noptions:\n");
		any = true;
		snprintf(head, sizeof(head), "%s%s%s", o->name, o->value ? " " : "", o->value ? o->value : "");
		fprintf(f, "  %-28s %s\n", head, o->help);
	}
	if (cmd->bit == CMD(compile))
		fprintf(f, "\nEach target takes options of its own: `nnac targets` lists them.\n");
}
