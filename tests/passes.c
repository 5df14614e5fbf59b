/*
 * Each graph pass preserves the model's outputs.
 *
 * For every model given on the command line: bind symbolic dimensions to 1,
 * make seeded random inputs, and run the reference interpreter on the graph
 * after shape inference only (the reference).  Then, for every prefix of the
 * pass pipeline, import afresh, run the passes with the verifier after each,
 * interpret, and compare with the reference: |got - ref| <= RTOL * |ref| +
 * ATOL * max|ref| element-wise (passes reassociate float arithmetic, e.g.
 * BN folding scales weights before the convolution instead of after).
 * Models over HEAVY_MACS only check the whole pipeline, to keep the suite
 * fast.  Prints one line per check and "passes: P passed, F failed".
 *
 * With --loops it checks the lowering instead: the whole pipeline, then
 * lowering with fusion, the loop-IR verifier and the loop-IR interpreter,
 * compared with the graph interpreter on the same graph by
 * compare_loop_values; the last line reads "loop-models: P passed, F failed".
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <time.h>

#include "compare.h"
#include "interp.h"
#include "loop.h"
#include "onnx.h"
#include "passes.h"

#define RTOL 1e-3
#define ATOL 1e-5
#define HEAVY_MACS 2e9

static int passed, failed;

static void report(bool ok, const char *model, const char *what, const char *detail)
{
	printf("%s %s %s%s%s\n", ok ? "ok  " : "FAIL", model, what, *detail ? ": " : "", detail);
	if (ok)
		passed++;
	else
		failed++;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static double uniform(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (double)(rng_state >> 11) / 9007199254740992.0 * 2 - 1;
}

/* Bindings of every symbolic input dimension to 1. */
static int symbolic_bindings(const char *path, ShapeBinding *b, int max)
{
	Diag d;
	Graph g;
	int n = 0;

	diag_init(&d);
	graph_init(&g, &d, path);
	onnx_import(&g, path, NULL);
	for (int i = 0; i < g.ninputs && n < max; i++) {
		const Tensor *t = &g.tensors[g.inputs[i]];
		bool symbolic = false;
		for (int k = 0; k < t->v.rank; k++)
			symbolic |= t->v.dims[k] < 0;
		if (!symbolic)
			continue;
		b[n].name = strdup(t->name);
		b[n].rank = t->v.rank;
		for (int k = 0; k < t->v.rank; k++)
			b[n].dims[k] = t->v.dims[k] < 0 ? 1 : t->v.dims[k];
		n++;
	}
	graph_free(&g);
	diag_free(&d);
	return n;
}

typedef struct Model {
	const char *path;
	ShapeBinding shapes[8];
	int nshapes;
	Arena arena;
	Value *in, *ref;
	int nin, nout;
	int live_before;
} Model;

static int live_nodes(const Graph *g)
{
	int n = 0;
	for (int i = 0; i < g->nnodes; i++)
		n += !(g->nodes[i].flags & NODE_DEAD);
	return n;
}

static Status run_model(Model *m, int stop_after, bool optimize, Value *out, Arena *a, Diag *d,
                        int *live, double *macs)
{
	OnnxOptions oo = {m->shapes, m->nshapes};
	PipelineOptions po = {true, optimize, stop_after};
	Graph g;
	Status st;

	graph_init(&g, d, m->path);
	st = onnx_import(&g, m->path, &oo);
	if (st == ST_OK)
		st = pass_pipeline(&g, &po);
	if (st == ST_OK && macs) {
		*macs = 0;
		for (int i = 0; i < g.nnodes; i++)
			if (!(g.nodes[i].flags & NODE_DEAD) && op_impl(g.nodes[i].op)->macs)
				*macs += (double)op_impl(g.nodes[i].op)->macs(&g, &g.nodes[i]);
	}
	if (st == ST_OK && !m->in) {
		m->nin = g.ninputs;
		m->nout = g.noutputs;
		m->in = arena_alloc(&m->arena, (size_t)(g.ninputs + 1) * sizeof(Value));
		for (int i = 0; i < g.ninputs; i++) {
			m->in[i] = g.tensors[g.inputs[i]].v;
			val_alloc(&m->arena, &m->in[i]);
			for (int64_t k = 0; k < val_numel(&m->in[i]); k++)
				val_set_f64(&m->in[i], k, uniform());
		}
	}
	if (st == ST_OK)
		st = interp_run(&g, m->in, out, a);
	*live = live_nodes(&g);
	graph_free(&g);
	return st;
}

static bool close_to_ref(const Model *m, const Value *out, double *err)
{
	*err = 0;
	for (int k = 0; k < m->nout; k++) {
		int64_t n = val_numel(&m->ref[k]);
		double scale = 0;
		if (!val_same_shape(&out[k], &m->ref[k]) || out[k].dt != m->ref[k].dt)
			return false;
		for (int64_t i = 0; i < n; i++)
			scale = fmax(scale, fabs(val_get_f64(&m->ref[k], i)));
		for (int64_t i = 0; i < n; i++) {
			double r = val_get_f64(&m->ref[k], i), e = fabs(val_get_f64(&out[k], i) - r);
			*err = fmax(*err, e);
			if (!(e <= RTOL * fabs(r) + ATOL * fmax(scale, 1.0)))
				return false;
		}
	}
	return true;
}

static void check_prefix(Model *m, int stop_after, const char *label)
{
	Arena a;
	Diag d;
	Value out[64];
	char detail[512];
	double err = 0;
	int live = 0;
	Status st;

	arena_init(&a);
	diag_init(&d);
	st = run_model(m, stop_after, true, out, &a, &d, &live, NULL);
	if (st != ST_OK) {
		report(false, m->path, label, d.n ? d.msg[0].text : "failed");
	} else {
		bool ok = close_to_ref(m, out, &err);
		snprintf(detail, sizeof(detail), "%d live nodes (%d after inference), max abs err %.3g",
		         live, m->live_before, err);
		report(ok, m->path, label, detail);
	}
	diag_free(&d);
	arena_free(&a);
}

static void check_model(const char *path)
{
	Model m = {0};
	Diag d;
	double macs = 0;
	char label[128];
	Status st;

	m.path = path;
	m.nshapes = symbolic_bindings(path, m.shapes, 8);
	arena_init(&m.arena);
	diag_init(&d);
	m.ref = arena_alloc(&m.arena, 64 * sizeof(Value));
	st = run_model(&m, 0, false, m.ref, &m.arena, &d, &m.live_before, &macs);
	if (st != ST_OK || m.nout > 64) {
		report(false, path, "reference run", d.n ? d.msg[0].text : "too many outputs");
	} else if (macs > HEAVY_MACS) {
		check_prefix(&m, 0, "after the whole pipeline");
	} else {
		for (int k = 2; k <= pass_count(); k++) {
			snprintf(label, sizeof(label), "after pass %d '%s'", k, pass_name(k - 1));
			check_prefix(&m, k, label);
		}
	}
	for (int i = 0; i < m.nshapes; i++)
		free((char *)m.shapes[i].name);
	diag_free(&d);
	arena_free(&m.arena);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Lowers g and runs it; compares with the graph interpreter's ref. */
static void check_lowered(Model *m, Graph *g, const Value *ref, Arena *a)
{
	LowerOptions lo = {true};
	LoopProgram p;
	Value out[64];
	char detail[512] = "";
	double t0 = now(), err = 0;
	bool ok = true;
	Status st;

	loop_init(&p, g->diag, m->path);
	st = pass_lower(g, &p, &lo);
	if (st == ST_OK)
		st = loop_verify(&p);
	if (st == ST_OK)
		st = loop_run(&p, a, m->in, out);
	for (int k = 0; st == ST_OK && k < m->nout; k++) {
		CompareResult c = compare_loop_values(&out[k], &ref[k]);

		err = fmax(err, c.max_abs_err);
		if (!c.ok && ok)
			snprintf(detail, sizeof(detail), "output %d: %s", k, c.why);
		ok &= c.ok;
	}
	if (st != ST_OK)
		report(false, m->path, "loop IR", g->diag->n ? g->diag->msg[0].text : "failed");
	else {
		if (ok)
			snprintf(detail, sizeof(detail), "%d kernels, max abs err %.3g, %.2f s", p.nkernels,
			         err, now() - t0);
		report(ok, m->path, "loop IR", detail);
	}
	loop_free(&p);
}

static void check_model_loops(const char *path)
{
	Model m = {0};
	Arena a;
	Diag d;
	Value ref[64];
	Graph g;
	int live;
	Status st;

	m.path = path;
	m.nshapes = symbolic_bindings(path, m.shapes, 8);
	arena_init(&m.arena);
	arena_init(&a);
	diag_init(&d);
	st = run_model(&m, 0, true, ref, &a, &d, &live, NULL);
	if (st != ST_OK || m.nout > 64) {
		report(false, path, "reference run", d.n ? d.msg[0].text : "too many outputs");
	} else {
		OnnxOptions oo = {m.shapes, m.nshapes};
		PipelineOptions po = {true, true, 0};

		graph_init(&g, &d, path);
		st = onnx_import(&g, path, &oo);
		if (st == ST_OK)
			st = pass_pipeline(&g, &po);
		if (st == ST_OK)
			check_lowered(&m, &g, ref, &a);
		else
			report(false, path, "import", d.n ? d.msg[0].text : "failed");
		graph_free(&g);
	}
	for (int i = 0; i < m.nshapes; i++)
		free((char *)m.shapes[i].name);
	diag_free(&d);
	arena_free(&a);
	arena_free(&m.arena);
}

int main(int argc, char **argv)
{
	bool loops = argc > 1 && strcmp(argv[1], "--loops") == 0;

	for (int i = 1 + loops; i < argc; i++)
		(loops ? check_model_loops : check_model)(argv[i]);
	printf("%s: %d passed, %d failed\n", loops ? "loop-models" : "passes", passed, failed);
	return failed != 0;
}
