/*
 * Option parsing and model loading shared by the subcommands.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "passes.h"
#include "target.h"

int cli_fail(Cli *cli, Status st)
{
	diag_print(&cli->diag, stderr);
	if (st == ST_OK)
		st = diag_worst(&cli->diag);
	return status_exit_code(st == ST_OK ? ST_INTERNAL : st);
}

static int usage_error(const CliCommand *cmd, const char *fmt, const char *arg)
{
	fprintf(stderr, "nnac %s: ", cmd->name);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nusage: nnac %s %s\n", cmd->name, cmd->usage);
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

static int parse_format(Cli *cli, const CliCommand *cmd, const char *arg)
{
	if (strcmp(arg, "text") == 0)
		cli->format = FMT_TEXT;
	else if (strcmp(arg, "csv") == 0)
		cli->format = FMT_CSV;
	else if (strcmp(arg, "json") == 0)
		cli->format = FMT_JSON;
	else if (strcmp(arg, "chrome") == 0 && strcmp(cmd->name, "trace") == 0)
		cli->format = FMT_CHROME;
	else
		return usage_error(cmd, strcmp(cmd->name, "trace") == 0 ? "--format '%s': expected text or chrome"
		                   : "--format '%s': expected text, csv or json", arg);
	return 0;
}

/* --threads N: run and bench of a cpu bundle (cmd_run refuses other models). */
static int parse_threads(Cli *cli, const CliCommand *cmd, const char *arg)
{
	char msg[128];
	char *end;
	long n = strtol(arg, &end, 10);

	if (strcmp(cmd->name, "run") != 0 && strcmp(cmd->name, "bench") != 0)
		return usage_error(cmd, "--threads applies to run and bench of a cpu bundle%s", "");
	if (*arg && !*end && n >= 1 && n <= MAX_THREADS) {
		cli->threads = (int)n;
		return 0;
	}
	snprintf(msg, sizeof(msg), "--threads '%.40s': expected a thread count from 1 to %d", arg, MAX_THREADS);
	return usage_error(cmd, "%s", msg);
}

/* "--opt=value" or "--opt value"; NULL if argv[*i] is not opt. */
static char *option_value(int argc, char **argv, int *i, const char *opt, bool *missing)
{
	size_t len = strlen(opt);

	*missing = false;
	if (strncmp(argv[*i], opt, len) != 0)
		return NULL;
	if (argv[*i][len] == '=')
		return argv[*i] + len + 1;
	if (argv[*i][len] != '\0')
		return NULL;
	if (*i + 1 >= argc) {
		*missing = true;
		return NULL;
	}
	return argv[++*i];
}

/* An option of some target (backends/targets.def), kept as given; compile
 * checks it against the target chosen. */
static int parse_target_option(Cli *cli, const CliCommand *cmd, int argc, char **argv, int *i)
{
	char *arg = argv[*i], *eq = strchr(arg, '=');
	bool takes_value;

	if (eq)
		*eq = '\0';
	if (!target_option_known(arg, &takes_value)) {
		if (eq)
			*eq = '=';
		return usage_error(cmd, "unknown option '%s'", arg);
	}
	if (cli->ntopts == MAX_BINDINGS)
		return usage_error(cmd, "too many target options%s", "");
	if (takes_value && !eq && *i + 1 >= argc)
		return usage_error(cmd, "option '%s' needs a value", arg);
	if (!takes_value && eq)
		return usage_error(cmd, "option '%s' takes no value", arg);
	cli->topts[cli->ntopts].name = arg;
	cli->topts[cli->ntopts].path = !takes_value ? "" : eq ? eq + 1 : argv[++*i];
	cli->ntopts++;
	return 0;
}

static int parse_one(Cli *cli, const CliCommand *cmd, int argc, char **argv, int *i)
{
	bool missing;
	char *v;

	if ((v = option_value(argc, argv, i, "--shape", &missing))) {
		if (cli->nshapes == MAX_BINDINGS)
			return usage_error(cmd, "too many --shape options%s", "");
		if (!onnx_parse_shape_binding(v, &cli->shapes[cli->nshapes], &cli->diag))
			return cli_fail(cli, ST_INVALID);
		cli->nshapes++;
		return 0;
	}
	if (!missing && (v = option_value(argc, argv, i, "--input", &missing)))
		return parse_input(cli, cmd, v);
	if (!missing && (v = option_value(argc, argv, i, "--output-dir", &missing))) {
		cli->output_dir = v;
		return 0;
	}
	if (!missing && (v = option_value(argc, argv, i, "--format", &missing)))
		return parse_format(cli, cmd, v);
	if (!missing && (v = option_value(argc, argv, i, "--emit", &missing))) {
		cli->emit = v;
		return 0;
	}
	if (!missing && (v = option_value(argc, argv, i, "-o", &missing))) {
		cli->output = v;
		return 0;
	}
	if (!missing && (v = option_value(argc, argv, i, "--output", &missing))) {
		cli->output = v;
		return 0;
	}
	if (!missing && (v = option_value(argc, argv, i, "--arch", &missing))) {
		cli->arch = v;
		return 0;
	}
	if (!missing && (v = option_value(argc, argv, i, "--dataflow", &missing))) {
		cli->dataflow = v;
		return 0;
	}
	if (!missing && (v = option_value(argc, argv, i, "--metric", &missing))) {
		cli->metric = v;
		return 0;
	}
	if (!missing && (v = option_value(argc, argv, i, "--target", &missing))) {
		cli->target = v;
		return 0;
	}
	if (!missing && (v = option_value(argc, argv, i, "--calibrate", &missing))) {
		cli->calibrate = v;
		return 0;
	}
	if (!missing && strcmp(cmd->name, "compile") == 0 &&
	    (v = option_value(argc, argv, i, "--print-after", &missing))) {
		if (cli->nprint_after == MAX_BINDINGS)
			return usage_error(cmd, "too many --print-after options%s", "");
		cli->print_after[cli->nprint_after++] = v;
		return 0;
	}
	if (!missing && strcmp(cmd->name, "compile") == 0 &&
	    (v = option_value(argc, argv, i, "--stop-after", &missing))) {
		cli->stop_after = v;
		return 0;
	}
	if (!missing && (v = option_value(argc, argv, i, "--runs", &missing))) {
		char *end;
		long n = strtol(v, &end, 10);
		if (*end || n < 1 || n > 1000000)
			return usage_error(cmd, "--runs '%s': expected a count from 1 to 1000000", v);
		cli->runs = (int)n;
		return 0;
	}
	if (!missing && (v = option_value(argc, argv, i, "--threads", &missing)))
		return parse_threads(cli, cmd, v);
	if (missing)
		return usage_error(cmd, "option '%s' needs a value", argv[*i]);
	if (strcmp(argv[*i], "--verify-each") == 0) {
		cli->verify_each = true;
		return 0;
	}
	if (strcmp(argv[*i], "--no-optimize") == 0) {
		cli->no_optimize = true;
		return 0;
	}
	if (strcmp(argv[*i], "--no-fuse") == 0) {
		cli->no_fuse = true;
		return 0;
	}
	if (strcmp(argv[*i], "--no-data") == 0) {
		cli->no_data = true;
		return 0;
	}
	if (strcmp(argv[*i], "--summary") == 0) {
		cli->summary = true;
		return 0;
	}
	if (strcmp(argv[*i], "--loops") == 0) {
		cli->loops = true;
		return 0;
	}
	if (strcmp(cmd->name, "compile") == 0 && argv[*i][0] == '-' && argv[*i][1] == '-')
		return parse_target_option(cli, cmd, argc, argv, i);
	if (argv[*i][0] == '-' && argv[*i][1])
		return usage_error(cmd, "unknown option '%s'", argv[*i]);
	if (cli->model)
		return usage_error(cmd, "unexpected argument '%s'", argv[*i]);
	cli->model = argv[*i];
	return 0;
}

int cli_parse(Cli *cli, const CliCommand *cmd, int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		int rc = parse_one(cli, cmd, argc, argv, &i);
		if (rc)
			return rc;
	}
	return 0;
}

int cli_import(Cli *cli, Graph *g)
{
	OnnxOptions oo = {cli->shapes, cli->nshapes};
	Status st = onnx_import(g, cli->model, &oo);

	return st == ST_OK ? 0 : cli_fail(cli, st);
}

int cli_optimize(Cli *cli, Graph *g, bool optimize)
{
	PipelineOptions po = {cli->verify_each, optimize && !cli->no_optimize, 0};
	Status st = pass_pipeline(g, &po);

	return st == ST_OK ? 0 : cli_fail(cli, st);
}

int cli_load(Cli *cli, Graph *g, bool optimize)
{
	int rc = cli_import(cli, g);

	return rc ? rc : cli_optimize(cli, g, optimize);
}

Status cli_write_output(Cli *cli, CliWriter write, const void *cx)
{
	const char *out = cli->output;
	char tmp[4096];
	FILE *f;
	Status st;
	bool ok;

	if (!out) {
		st = write(stdout, cx);
		if (st == ST_OK && fflush(stdout) != 0)
			st = diag_add(&cli->diag, ST_IO, "<stdout>: write failed");
		return st;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp%ld", out, (long)getpid());
	f = fopen(tmp, "w");
	if (!f)
		return diag_add(&cli->diag, ST_IO, "%s: cannot write", out);
	st = write(f, cx);
	ok = !ferror(f);
	ok &= fclose(f) == 0;
	if (st == ST_OK && ok && rename(tmp, out) == 0)
		return ST_OK;
	remove(tmp);
	return st != ST_OK ? st : diag_add(&cli->diag, ST_IO, "%s: cannot write", out);
}
