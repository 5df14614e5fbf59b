/*
 * The fuzz target of the ONNX importer: LLVMFuzzerTestOneInput reads the
 * bytes as a model (onnx_import_mem), and when they import, runs the graph
 * passes with the graph verifier after each (shape inference, constant
 * folding, fusion), runs the reference interpreter on inputs of zeros and
 * lowers the graph into the loop IR, whose verifier runs too.  A step that refuses the model must say why: a failure with no
 * diagnostic aborts, as does anything the sanitizers catch, and libFuzzer
 * reports it as a crash.
 *
 * The budgets (base/budget.h) are 16 MiB and 10^6 steps, so that a model
 * claiming large tensors or work is refused as nnac refuses it under
 * --max-memory and --max-steps instead of driving the fuzzer out of
 * memory or time (one input takes well under a second even instrumented
 * on a loaded machine).  External data is looked for in a
 * folder that does not exist.
 *
 * Built two ways (CMakeLists.txt): nnac-onnxfuzz, the libFuzzer binary
 * (-DNNAC_FUZZ=ON, clang), and nnac-onnxfuzz-corpus, which runs it over
 * tests/fuzz/onnx_corpus/ from a plain main (tests/fuzz/fuzz_main.c) in
 * `make test`.  docs/reliability.md, "Fuzzing".
 */
#include <stdio.h>
#include <stdlib.h>

#include "interp.h"
#include "loop.h"
#include "onnx.h"
#include "passes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require_diagnostic(const Diag *d, Status st, const char *step)
{
	if (st != ST_OK && d->n == 0) {
		fprintf(stderr, "onnx fuzz: %s failed (%s) without a diagnostic\n", step, status_name(st));
		abort();
	}
}

/* The interpreter on inputs of zeros. */
static void interpret(Graph *g, Diag *d)
{
	Arena a;
	Value *in, *out;
	Status st = ST_OK;

	arena_init(&a);
	in = arena_alloc(&a, (size_t)(g->ninputs + 1) * sizeof(Value));
	out = arena_alloc(&a, (size_t)(g->noutputs + 1) * sizeof(Value));
	if (!in || !out)
		abort();
	for (int i = 0, bytes = 0; i < g->ninputs; i++) {
		in[i] = g->tensors[g->inputs[i]].v;
		bytes += (int)(val_bytes(&in[i]) >> 20);
		if (bytes > 16) {    /* the inputs together past the budget */
			arena_free(&a);
			return;
		}
		if (!val_alloc(&a, &in[i]))
			abort();
	}
	st = interp_run(g, in, out, &a);
	require_diagnostic(d, st, "the interpreter");
	arena_free(&a);
}

static void lower(Graph *g, Diag *d)
{
	LowerOptions lo = {.fuse = true};
	LoopProgram p;
	Status st;

	loop_init(&p, d, "fuzz.onnx");
	st = pass_lower(g, &p, &lo);
	if (st == ST_OK)
		st = loop_verify(&p);
	require_diagnostic(d, st, "lowering");
	loop_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	PipelineOptions po = {.verify_each = true, .optimize = true};
	Diag d;
	Graph g;
	Status st;

	budget_set_memory((int64_t)16 << 20);
	budget_set_steps(1000000);
	diag_init(&d);
	graph_init(&g, &d, "fuzz.onnx");
	st = onnx_import_mem(&g, "no-such-folder/fuzz.onnx", data, size, NULL);
	require_diagnostic(&d, st, "import");
	if (st == ST_OK) {
		st = pass_pipeline(&g, &po);
		require_diagnostic(&d, st, "the graph passes");
	}
	if (st == ST_OK) {
		interpret(&g, &d);
		lower(&g, &d);
	}
	graph_free(&g);
	diag_free(&d);
	return 0;
}
