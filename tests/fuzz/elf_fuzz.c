/*
 * The fuzz target of the ELF inspection of cpu shared objects
 * (runtime/elf_check.h), which reads the program of a bundle from a
 * stranger before anything loads it: LLVMFuzzerTestOneInput inspects the
 * bytes as a shared object.  A refusal must give exactly one diagnostic;
 * an accepted object must carry this nnac's ABI tag.  Nothing is ever
 * loaded.  Anything else aborts, which libFuzzer reports as a crash.
 *
 * Built two ways (CMakeLists.txt): nnac-elffuzz (-DNNAC_FUZZ=ON, clang)
 * and nnac-elffuzz-corpus over tests/fuzz/elf_corpus/ (the objects of the
 * cpu target for lenet5, mlp and lstm_cell) in `make test`.
 * docs/reliability.md, "Fuzzing".
 */
#include <stdio.h>
#include <stdlib.h>

#include "cpu_abi.h"
#include "elf_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ElfFacts facts;
	Diag d;

	diag_init(&d);
	if (elf_check_cpu("fuzz.so", data, size, &facts, &d) != ST_OK) {
		if (d.n != 1) {
			fprintf(stderr, "elf fuzz: a refused object gave %d diagnostics, not 1\n", d.n);
			abort();
		}
	} else if (d.n != 0 || facts.abi != NNAC_CPU_ABI) {
		fprintf(stderr, "elf fuzz: an accepted object has ABI %u or diagnostics\n", facts.abi);
		abort();
	}
	diag_free(&d);
	return 0;
}
