/*
 * The fuzz target of the loop-IR parser: LLVMFuzzerTestOneInput parses the
 * bytes as a .loop file.  When they parse, the program is printed, the
 * printed text parsed again and printed again, and the two printings must
 * be equal (printing is canonical, so print(parse(print(p))) == print(p));
 * anything else aborts, which libFuzzer reports as a crash.
 *
 * Built two ways (CMakeLists.txt): nnac-loopfuzz, the libFuzzer binary
 * (-DNNAC_FUZZ=ON, clang, -fsanitize=fuzzer,address,undefined), and
 * nnac-loopfuzz-corpus, which runs the same function on every file of
 * tests/fuzz/loop_corpus/ from a plain main (tests/fuzz/fuzz_main.c) in
 * `make test`.
 */
#include "loop.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* print(p) in fresh malloc'd memory. */
static char *print_program(const LoopProgram *p)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);

	if (!f)
		abort();
	loop_print(p, f, 0);
	fclose(f);
	return s;
}

static void check_reprint(const char *once)
{
	Diag d;
	LoopProgram q;
	char *twice;

	diag_init(&d);
	loop_init(&q, &d, "reprint.loop");
	if (loop_parse(&q, "reprint.loop", once, strlen(once)) != ST_OK) {
		diag_print(&d, stderr);
		abort();
	}
	twice = print_program(&q);
	if (strcmp(once, twice) != 0) {
		fprintf(stderr, "printing is not canonical:\n%s\n----\n%s\n", once, twice);
		abort();
	}
	free(twice);
	loop_free(&q);
	diag_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Diag d;
	LoopProgram p;

	diag_init(&d);
	loop_init(&p, &d, "fuzz.loop");
	if (loop_parse(&p, "fuzz.loop", (const char *)data, size) == ST_OK) {
		char *once = print_program(&p);

		check_reprint(once);
		free(once);
	} else if (d.n != 1) {
		fprintf(stderr, "a refused input gave %d diagnostics, not 1\n", d.n);
		abort();
	}
	loop_free(&p);
	diag_free(&d);
	return 0;
}
