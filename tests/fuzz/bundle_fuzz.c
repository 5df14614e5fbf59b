/*
 * The fuzz target of the bundle reader (runtime/bundle.h):
 * LLVMFuzzerTestOneInput opens the bytes as a bundle and, when they open,
 * walks every section and decodes every TENSORS table.  The same bytes are
 * then opened a second time with the header's file size, every section's
 * SHA-256 and the checksum made right (nnb_reseal), so that mutations reach
 * the structural checks behind the checksum and the digests.
 * A refused input must give exactly one diagnostic; an opened bundle's
 * sections must lie inside the file, 64-byte aligned, and be found again by
 * kind and name.  Anything else aborts, which libFuzzer reports as a crash.
 *
 * Built two ways (CMakeLists.txt): nnac-bundlefuzz, the libFuzzer binary
 * (-DNNAC_FUZZ=ON, clang), and nnac-bundlefuzz-corpus, which runs it on
 * every file of tests/fuzz/bundle_corpus/ from a plain main
 * (tests/fuzz/fuzz_main.c) in `make test`.  docs/bundle.md, "Fuzzing".
 */
#include "bundle.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *why)
{
	fprintf(stderr, "bundle fuzz: %s\n", why);
	abort();
}

static void walk(const Nnb *b, size_t size)
{
	for (int i = 0; i < nnb_count(b); i++) {
		const NnbSection *s = nnb_section(b, i);
		NnbTensor *t;
		int n;
		Diag d;

		if (s->offset % NNB_ALIGN || (uintptr_t)s->data % NNB_ALIGN || s->offset > size ||
		    s->size > size - s->offset)
			fail("an opened section lies outside the file or is misaligned");
		if (nnb_find(b, s->kind, s->name) != s)
			fail("a section is not found by its kind and name");
		if (s->kind != NNB_TENSORS)
			continue;
		diag_init(&d);
		if (nnb_tensors_load(b, s->name, &t, &n, &d) != ST_OK && d.n != 1)
			fail("a refused tensor table gave other than one diagnostic");
		for (int k = 0; t && k < n; k++)
			if (!t[k].name[0] || t[k].rank > NNB_MAX_RANK)
				fail("a decoded tensor has no name or too high a rank");
		nnac_free(t);
		diag_free(&d);
	}
	nnb_meta(b, "target");
}

static void open_once(const uint8_t *data, size_t size)
{
	Diag d;
	Nnb *b;

	diag_init(&d);
	if (nnb_open_mem("fuzz.nnb", data, size, &b, &d) == ST_OK) {
		walk(b, size);
		nnb_close(b);
	} else if (d.n != 1 || b) {
		fail("a refused bundle gave other than one diagnostic");
	}
	diag_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *c;

	open_once(data, size);
	if (size < NNB_HEADER_SIZE)
		return 0;
	if (!(c = malloc(size)))
		abort();
	memcpy(c, data, size);
	nnb_reseal(c, size);
	open_once(c, size);
	free(c);
	return 0;
}
