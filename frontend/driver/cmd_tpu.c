/*
 * tpu bundles in the driver:
 *
 *   nnac run M.nnb --input NAME=FILE... [--output-dir DIR]
 *   nnac trace M.nnb [--input ...] [--format text|chrome] [--summary] [-o FILE]
 *
 * run and trace load the bundle's model again (the host steps run its
 * nodes) and execute the program on the simulator.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "passes.h"
#include "tpu_bundle.h"
#include "tpu_exec.h"
#include "tpu_trace.h"

/* ---- run and trace ---- */

/* A bundle loaded and run: what run and trace share. */
typedef struct Loaded {
	Nnb *b;
	Graph g;
	TpuPlan p;
	ShapeBinding shapes[MAX_BINDINGS];
	char *meta_copy;
	Arena a;             /* inputs and outputs */
	TpuExec x;
	Value *out;          /* one per graph output */
} Loaded;

/* The input=NAME=DIMS lines of the META section as shape bindings. */
static Status bindings(Cli *cli, Loaded *l, OnnxOptions *oo)
{
	const NnbSection *m = nnb_find(l->b, NNB_META, NULL);
	char *line, *save;

	oo->shapes = l->shapes;
	oo->nshapes = 0;
	l->meta_copy = m ? malloc(m->size + 1) : NULL;
	if (!m)
		return ST_OK;
	if (!l->meta_copy)
		return diag_add(&cli->diag, ST_NOMEM, "out of memory");
	memcpy(l->meta_copy, m->data, m->size);
	l->meta_copy[m->size] = 0;
	for (line = strtok_r(l->meta_copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "input=", 6) != 0 || oo->nshapes == MAX_BINDINGS)
			continue;
		if (!onnx_parse_shape_binding(line + 6, &l->shapes[oo->nshapes], &cli->diag))
			return diag_add(&cli->diag, ST_INVALID, "%s: bad input line in the meta section", cli->model);
		oo->nshapes++;
	}
	return ST_OK;
}

static Status load_bundle(Cli *cli, Loaded *l)
{
	const NnbSection *model;
	const char *target;
	OnnxOptions oo;
	Status st = nnb_open(cli->model, &l->b, &cli->diag);

	if (st)
		return st;
	target = nnb_meta(l->b, "target");
	if (!target || strcmp(target, "tpu") != 0)
		return diag_add(&cli->diag, ST_UNSUPPORTED, "%s: bundle for target '%s'; this nnac runs tpu bundles",
		                cli->model, target ? target : "(none)");
	model = nnb_find(l->b, NNB_MODEL, NULL);
	if (!model)
		return diag_add(&cli->diag, ST_INVALID, "%s: the bundle carries no model section", cli->model);
	if ((st = bindings(cli, l, &oo)))
		return st;
	st = onnx_import_mem(&l->g, cli->model, model->data, model->size, &oo);
	if (st == ST_OK && cli_optimize(cli, &l->g, true) != 0)
		st = diag_worst(&cli->diag) ? diag_worst(&cli->diag) : ST_INVALID;
	if (st == ST_OK)
		st = tpu_bundle_read(l->b, &l->g, &l->p, &cli->diag);
	return st;
}

static void unload(Loaded *l)
{
	tpu_exec_free(&l->x);
	arena_free(&l->a);
	tpu_plan_free(&l->p);
	graph_free(&l->g);
	if (l->b)
		nnb_close(l->b);
	free(l->meta_copy);
}

/* Loads, binds the inputs and runs on the simulator; unload(l) after,
 * whatever the result. */
static Status run_sim(Cli *cli, Loaded *l, bool want_trace, bool random_ok)
{
	Graph *g = &l->g;
	Port *ins, *outs;
	Value *in;
	Status st;

	memset(l, 0, sizeof(*l));
	arena_init(&l->a);
	graph_init(&l->g, &cli->diag, cli->model);
	tpu_plan_init(&l->p);
	l->x.want_trace = want_trace;
	if ((st = load_bundle(cli, l)))
		return st;
	ins = cli_graph_ports(g, &l->a, g->inputs, g->ninputs);
	outs = cli_graph_ports(g, &l->a, g->outputs, g->noutputs);
	in = arena_alloc(&l->a, (size_t)(g->ninputs + 1) * sizeof(Value));
	l->out = arena_alloc(&l->a, (size_t)(g->noutputs + 1) * sizeof(Value));
	if (!ins || !outs || !in || !l->out)
		return graph_oom(g);
	if (random_ok && cli->ninputs == 0)
		fprintf(stderr, "trace: no --input given; running on seeded random inputs\n");
	if ((st = cli_bind_inputs(cli, ins, g->ninputs, &l->a, in, random_ok)))
		return st;
	st = tpu_exec_run(&l->x, &l->p, g, TPU_ENGINE_SIM, in, l->out, &l->a);
	if (st == ST_OK)
		st = cli_write_outputs(cli, outs, g->noutputs, l->out);
	return st;
}

int cmd_run_bundle(Cli *cli)
{
	Loaded l;
	Status st = run_sim(cli, &l, false, false);

	if (st == ST_OK) {
		for (int k = 0; k < l.g.noutputs; k++)
			cli_summarize(l.g.tensors[l.g.outputs[k]].name, &l.out[k]);
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
