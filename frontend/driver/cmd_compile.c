/*
 * nnac compile: imports a model, runs the graph passes, lowers it to the
 * loop IR and writes the program in its textual form (--emit=loops), to
 * standard output or to -o FILE.
 *
 * The file appears whole or not at all: it is written next to its final
 * name and renamed into place only when everything succeeded.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "loop.h"
#include "passes.h"

static Status write_program(Cli *cli, const LoopProgram *p, unsigned flags)
{
	char tmp[4096];
	FILE *f;
	bool ok;

	if (!cli->output) {
		loop_print(p, stdout, flags);
		return fflush(stdout) == 0 ? ST_OK : diag_add(&cli->diag, ST_IO, "<stdout>: write failed");
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp%ld", cli->output, (long)getpid());
	f = fopen(tmp, "w");
	if (!f)
		return diag_add(&cli->diag, ST_IO, "%s: cannot write", cli->output);
	loop_print(p, f, flags);
	ok = !ferror(f);
	ok &= fclose(f) == 0;
	if (ok && rename(tmp, cli->output) == 0)
		return ST_OK;
	remove(tmp);
	return diag_add(&cli->diag, ST_IO, "%s: cannot write", cli->output);
}

static Status lower_and_write(Cli *cli, Graph *g)
{
	LowerOptions lo = {!cli->no_fuse};
	LoopProgram p;
	Status st;

	loop_init(&p, &cli->diag, cli->model);
	st = pass_lower(g, &p, &lo);
	if (st == ST_OK)
		st = loop_verify(&p);
	if (st == ST_OK)
		st = write_program(cli, &p, cli->no_data ? LOOP_PRINT_NO_DATA : 0);
	loop_free(&p);
	return st;
}

int cmd_compile(Cli *cli)
{
	Graph g;
	Status st;
	int rc;

	if (cli->emit && strcmp(cli->emit, "loops") != 0) {
		fprintf(stderr, "nnac compile: --emit '%s': expected loops\n", cli->emit);
		return EXIT_USAGE;
	}
	graph_init(&g, &cli->diag, cli->model);
	rc = cli_load(cli, &g, true);
	if (rc == 0) {
		st = lower_and_write(cli, &g);
		rc = st == ST_OK ? 0 : cli_fail(cli, st);
	}
	graph_free(&g);
	return rc;
}
