/*
 * Model loading and output writing shared by the subcommands (options are
 * parsed by options.c).
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "passes.h"

int cli_fail(Cli *cli, Status st)
{
	diag_print(&cli->diag, stderr);
	if (st == ST_OK)
		st = diag_worst(&cli->diag);
	return status_exit_code(st == ST_OK ? ST_INTERNAL : st);
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
