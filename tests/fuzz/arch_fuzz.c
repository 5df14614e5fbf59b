/*
 * The fuzz target of the architecture language (frontend/arch):
 * LLVMFuzzerTestOneInput parses the bytes as an .arch file, and when they
 * parse, prepares the mapper's view of the accelerator (df_target_init)
 * and maps one small convolution onto it with every dataflow it supports,
 * so that what a hostile description can reach (PE arrays, capacities,
 * bandwidths and energies at their extremes) goes through the cost model
 * and the search too.  A refusal must give exactly one diagnostic (the
 * parser) or at least one (the mapper); anything else aborts, which
 * libFuzzer reports as a crash.
 *
 * Built two ways (CMakeLists.txt): nnac-archfuzz (-DNNAC_FUZZ=ON, clang)
 * and nnac-archfuzz-corpus over tests/fuzz/arch_corpus/ in `make test`.
 * docs/reliability.md, "Fuzzing".
 */
#include <stdio.h>
#include <stdlib.h>

#include "arch_lang.h"
#include "dataflow.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *why)
{
	fprintf(stderr, "arch fuzz: %s\n", why);
	abort();
}

/* A 3x3 convolution of 4 channels into 8 over a 7x7 image: small, so that
 * the search stays fast under the fuzzer's instrumentation. */
static const DfProblem conv = {
	"conv", "Conv", {[DF_N] = 1, [DF_G] = 1, [DF_K] = 8, [DF_C] = 4, [DF_P] = 7, [DF_Q] = 7,
	                 [DF_R] = 3, [DF_S] = 3},
	{1, 1}, {1, 1},
};

static void map_conv(const Arch *a)
{
	DfTarget t;
	Diag d;

	diag_init(&d);
	if (df_target_init(&t, a, &d) != ST_OK) {
		if (d.n == 0)
			fail("df_target_init refused without a diagnostic");
		diag_free(&d);
		return;
	}
	for (int df = 0; df < ARCH_DF_COUNT; df++) {
		DfResult best;
		Status st;

		if (!arch_has_dataflow(a, (ArchDataflow)df))
			continue;
		st = df_map_layer(&t, &conv, df, DF_METRIC_CYCLES, DF_SEARCH_PRUNED, &best, NULL, &d);
		if (st != ST_OK && d.n == 0)
			fail("df_map_layer refused without a diagnostic");
	}
	diag_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Arena ar;
	Arch a;
	Diag d;
	Status st;

	arena_init(&ar);
	diag_init(&d);
	st = arch_parse(&a, &ar, &d, "fuzz.arch", (const char *)data, size);
	if (st != ST_OK && d.n != 1)
		fail("a refused description gave other than one diagnostic");
	if (st == ST_OK)
		map_conv(&a);
	diag_free(&d);
	arena_free(&ar);
	return 0;
}
