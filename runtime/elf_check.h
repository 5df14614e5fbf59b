/*
 * Inspecting a cpu shared object before anything loads it (docs/bundle.md,
 * "Trust: running a bundle runs native code").  dlopen runs an object's
 * initialisers, IFUNC resolvers and relocations before the caller sees a
 * handle, so the checks that decide whether its code may run at all are
 * made here, on its bytes, by reading the ELF structures the dynamic loader
 * reads (program headers, the dynamic segment, the dynamic symbols and
 * relocations) and the section headers.  Every offset and size is checked
 * against the buffer, in 64-bit arithmetic that cannot wrap.
 *
 * Refused: anything but ELF64 little-endian ET_DYN for this host's machine
 * (x86-64 or aarch64); code that runs at load or unload (DT_INIT,
 * DT_INIT_ARRAY, DT_PREINIT_ARRAY, DT_FINI, DT_FINI_ARRAY, sections
 * .init/.fini/.init_array/.fini_array/.preinit_array/.ctors/.dtors, IFUNC
 * symbols and IRELATIVE relocations); library search paths, filters, audit
 * libraries and text relocations; thread-local storage; an executable
 * stack; a DT_NEEDED or an import outside runtime/cpu_imports.def; a
 * relocation of another type than the plain ones a linker makes for
 * position-independent code, or one that writes outside the object's
 * writable segments; a missing nnac_main; a missing or different ABI tag
 * (the 4-byte constant nnac_abi_tag, read from the file).
 */
#ifndef NNAC_ELF_CHECK_H
#define NNAC_ELF_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "diag.h"

/* What an accepted object holds. */
typedef struct ElfFacts {
	uint32_t abi;        /* the value of nnac_abi_tag: NNAC_CPU_ABI */
	int nimports;        /* undefined dynamic symbols, each allowed */
	int nneeded;         /* DT_NEEDED entries, each allowed */
	int nrelocs;         /* dynamic relocations, each checked */
} ElfFacts;

/* Inspects so[0..len); what names it in the one diagnostic of a refusal
 * ("m.nnb: section program_cpu 'cpu': shared object").  facts may be NULL. */
Status elf_check_cpu(const char *what, const uint8_t *so, size_t len, ElfFacts *facts, Diag *d);

#endif
