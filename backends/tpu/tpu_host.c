/*
 * The host steps of a TPU plan as loop IR: each host layer's nodes are
 * taken out of the graph with the tensors they exchange with the rest of
 * the plan (graph_extract) and lowered (pass_lower), so that running the
 * plan needs neither the model nor the graph passes.  The bundle stores
 * each program as text in a host_loops section (runtime/tpu_bundle.c).
 */
#include <string.h>

#include "passes.h"
#include "tpu.h"

/* The graph tensors of TpuTensor indices t[0..n). */
static int *graph_tensors(TpuPlan *p, const int *t, int n)
{
	int *v = arena_alloc(&p->arena, (size_t)(n + 1) * sizeof(int));

	for (int i = 0; v && i < n; i++)
		v[i] = p->t[t[i]].gt;
	return v;
}

/* The constants' data into p's own arena: pass_lower lets them borrow the
 * graph's, and the extracted graph goes away. */
static bool own_constants(LoopProgram *p)
{
	for (int i = 0; i < p->nbufs; i++) {
		LoopBuf *b = &p->bufs[i];
		size_t n = (size_t)loop_buf_bytes(b);
		void *copy;

		if (!b->data)
			continue;
		if (!(copy = arena_alloc(&p->arena, n + 1)))
			return false;
		memcpy(copy, b->data, n);
		b->data = copy;
	}
	return true;
}

static Status lower_layer(Graph *g, TpuPlan *p, TpuLayer *l)
{
	LowerOptions lo = {true};
	int *ins = graph_tensors(p, l->ins, l->nins), *outs = graph_tensors(p, l->outs, l->nouts);
	Graph sub;
	Status st;

	l->host = arena_alloc(&p->arena, sizeof(LoopProgram));
	if (!ins || !outs || !l->host)
		return graph_oom(g);
	loop_init(l->host, g->diag, g->path);
	graph_init(&sub, g->diag, g->path);
	st = graph_extract(g, l->nodes, l->nnodes, ins, l->nins, outs, l->nouts, &sub);
	if (st == ST_OK)
		st = pass_lower(&sub, l->host, &lo);
	if (st == ST_OK && !own_constants(l->host))
		st = graph_oom(g);
	if (st == ST_OK)
		st = loop_verify(l->host);
	graph_free(&sub);
	return st;
}

Status tpu_lower_host(Graph *g, TpuPlan *p)
{
	Status st = ST_OK;

	for (int i = 0; i < p->nl && st == ST_OK; i++)
		if (p->l[i].kind == TPU_LAYER_HOST)
			st = lower_layer(g, p, &p->l[i]);
	return st;
}
