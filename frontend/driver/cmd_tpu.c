/*
 * tpu bundles in the driver:
 *
 *   nnac run M.nnb --input NAME=FILE... [--output-dir DIR]
 *   nnac trace M.nnb [--input ...] [--format text|chrome] [--summary] [-o FILE]
 *
 * run and trace read the plan (its host steps are loop programs) and
 * execute it on the simulator.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tpu_bundle.h"
#include "tpu_exec.h"
#include "tpu_trace.h"

/* ---- run and trace ---- */

/* A bundle loaded and run: what run and trace share. */
typedef struct Loaded {
	Nnb *b;
	TpuPlan p;
	Arena a;             /* inputs and outputs */
	TpuExec x;
	Value *out;          /* one per graph output */
	Port *outs;
} Loaded;

static Status load_bundle(Cli *cli, Loaded *l)
{
	const char *target;
	Status st = nnb_open(cli->model, &l->b, &cli->diag);

	if (st)
		return st;
	target = nnb_meta(l->b, "target");
	if (!target || strcmp(target, "tpu") != 0)
		return diag_add(&cli->diag, ST_UNSUPPORTED, "%s: bundle for target '%s'; this nnac runs tpu bundles",
		                cli->model, target ? target : "(none)");
	return tpu_bundle_read(l->b, &l->p, &cli->diag);
}

static void unload(Loaded *l)
{
	tpu_exec_free(&l->x);
	arena_free(&l->a);
	tpu_plan_free(&l->p);
	if (l->b)
		nnb_close(l->b);
}

/* The plan's graph inputs or outputs as ports. */
static Port *plan_ports(const TpuPlan *p, Arena *a, const int *t, int n)
{
	Port *ports = arena_alloc(a, (size_t)(n + 1) * sizeof(Port));

	for (int i = 0; ports && i < n; i++) {
		ports[i].name = p->t[t[i]].name;
		ports[i].type = p->t[t[i]].type;
	}
	return ports;
}

/* Loads, binds the inputs and runs on the simulator; unload(l) after,
 * whatever the result. */
static Status run_sim(Cli *cli, Loaded *l, bool want_trace, bool random_ok)
{
	const TpuPlan *p = &l->p;
	Port *ins;
	Value *in;
	Status st;

	memset(l, 0, sizeof(*l));
	arena_init(&l->a);
	tpu_plan_init(&l->p);
	l->x.want_trace = want_trace;
	if ((st = load_bundle(cli, l)))
		return st;
	ins = plan_ports(p, &l->a, p->graph_in, p->ngraph_in);
	l->outs = plan_ports(p, &l->a, p->graph_out, p->ngraph_out);
	in = arena_alloc(&l->a, (size_t)(p->ngraph_in + 1) * sizeof(Value));
	l->out = arena_alloc(&l->a, (size_t)(p->ngraph_out + 1) * sizeof(Value));
	if (!ins || !l->outs || !in || !l->out)
		return diag_add(&cli->diag, ST_NOMEM, "out of memory");
	if (random_ok && cli->ninputs == 0)
		fprintf(stderr, "trace: no --input given; running on seeded random inputs\n");
	if ((st = cli_bind_inputs(cli, ins, p->ngraph_in, &l->a, in, random_ok)))
		return st;
	st = tpu_exec_run(&l->x, p, TPU_ENGINE_SIM, in, l->out, &l->a, &cli->diag);
	if (st == ST_OK)
		st = cli_write_outputs(cli, l->outs, p->ngraph_out, l->out);
	return st;
}

int cmd_run_bundle(Cli *cli)
{
	Loaded l;
	Status st = run_sim(cli, &l, false, false);

	if (st == ST_OK) {
		for (int k = 0; k < l.p.ngraph_out; k++)
			cli_summarize(l.outs[k].name, &l.out[k]);
		tpu_counters_print(stdout, &l.x.counters);
	}
	unload(&l);
	return st == ST_OK ? 0 : cli_fail(cli, st);
}

typedef struct Traced {
	Cli *cli;
	const Loaded *l;
} Traced;

static Status write_trace(FILE *f, const void *cx)
{
	const Traced *t = cx;
	const Loaded *l = t->l;

	if (t->cli->summary) {
		tpu_counters_print(f, &l->x.counters);
		return ST_OK;
	}
	if (t->cli->format == FMT_CHROME)
		return tpu_trace_chrome(f, l->p.prog, l->x.trace, l->x.ntrace, l->p.cfg.clock_hz,
		                        &t->cli->diag);
	tpu_trace_text(f, l->p.prog, l->x.trace, l->x.ntrace);
	return ST_OK;
}

int cmd_trace(Cli *cli)
{
	Loaded l;
	Status st;

	if (cli->format != FMT_TEXT && cli->format != FMT_CHROME) {
		fprintf(stderr, "nnac trace: --format: expected text or chrome\n");
		return EXIT_USAGE;
	}
	st = run_sim(cli, &l, !cli->summary, true);
	if (st == ST_OK)
		st = cli_write_output(cli, write_trace, &(Traced){cli, &l});
	unload(&l);
	return st == ST_OK ? 0 : cli_fail(cli, st);
}
