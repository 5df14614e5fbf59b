/*
 * Accelerator descriptions: what the mapper and the cost models know of a
 * target.
 *
 * An Arch is read from a small text file (docs/arch.md has the grammar):
 *
 *     arch eyeriss {
 *     	pe_array 12 x 14
 *     	clock 200 MHz
 *     	mac i16 -> i32 energy 1
 *     	level dram size unbounded word 64b bandwidth 8 B/cycle energy 200 shared
 *     	...
 *     }
 *
 * It holds the PE array, the clock, the MAC types, the memory hierarchy
 * from the largest level (DRAM) down to the registers, the network on chip,
 * the dataflows the hardware supports and the instruction-set family.
 * Every quantity is stored in one unit whatever the text wrote: bytes,
 * bits for word widths, Hz, bytes per cycle, normalized energy units.
 *
 * This header is the data, which every layer from the IR up may read;
 * the text form is read by the frontend (frontend/arch/arch_lang.h).
 * Everything an Arch points to lives in the caller's arena.
 */
#ifndef NNAC_ARCH_H
#define NNAC_ARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "diag.h"
#include "value.h"

typedef enum ArchDataflow {
#define DATAFLOW(id, name, syn) ARCH_DF_##id,
#include "arch_dataflow.def"
#undef DATAFLOW
	ARCH_DF_COUNT
} ArchDataflow;

typedef enum ArchIsa {
#define ISA(id, name, syn) ARCH_ISA_##id,
#include "arch_isa.def"
#undef ISA
	ARCH_ISA_COUNT
} ArchIsa;

/* The three operands of a layer, as a level's `holds` list names them. */
typedef enum ArchOperand {
	ARCH_WEIGHTS,
	ARCH_INPUTS,
	ARCH_OUTPUTS,        /* partial sums on their way to outputs included */
	ARCH_NOPERANDS
} ArchOperand;

enum { ARCH_HOLDS_ALL = (1u << ARCH_NOPERANDS) - 1 };

typedef enum ArchScope {
	ARCH_SHARED,         /* one copy (or `instances` banks) for the whole array */
	ARCH_PER_PE,         /* private: one copy in every PE */
} ArchScope;

enum {
	ARCH_UNBOUNDED = -1, /* ArchLevel.size of a level as large as needed (DRAM) */
	ARCH_MAX_MACS = 8,
};

typedef struct ArchLevel {
	const char *name;
	int64_t size;        /* bytes of one instance; ARCH_UNBOUNDED; 0: holds
	                        nothing (a transfer level such as the NoC) */
	int word_bits;       /* width of one access; 0 unknown */
	double read_bw;      /* bytes per cycle; 0 unknown */
	double write_bw;
	double energy;       /* per access, normalized units; 0 unknown */
	ArchScope scope;
	int64_t instances;   /* copies: per-PE levels default to the PE count,
	                        shared ones to 1 */
	unsigned holds;      /* bit (1u << ArchOperand) per operand it may keep;
	                        ARCH_HOLDS_ALL unless a `holds` list says */
	int line, col;       /* where the text declared it */
} ArchLevel;

typedef struct ArchMac {
	DType operand;       /* both multiplicands */
	DType acc;           /* the accumulator */
	double energy;       /* per MAC, normalized units; 0 unknown */
} ArchMac;

typedef struct ArchNoc {
	bool multicast;      /* one read feeds several PEs */
	int64_t links;       /* parallel links; 0 unknown */
	double words_per_cycle;   /* 0 unknown */
} ArchNoc;

typedef struct Arch {
	const char *name;
	const char *path;    /* the file (or "preset:NAME") it was read from */
	int64_t pe_rows, pe_cols;
	double clock_hz;
	int64_t vector_bits; /* SIMD width of one PE (CPUs); 0 none */
	ArchMac mac[ARCH_MAX_MACS];
	int nmacs;
	ArchLevel *levels;   /* [0] the largest (DRAM) ... [nlevels-1] the smallest */
	int nlevels;
	ArchNoc noc;
	unsigned dataflows;  /* bit (1u << ARCH_DF_x) per supported dataflow */
	ArchIsa isa;
} Arch;

int64_t arch_pes(const Arch *a);
/* The index of level `name`, or -1. */
int arch_level_find(const Arch *a, const char *name);
bool arch_has_dataflow(const Arch *a, ArchDataflow df);
const char *arch_dataflow_name(ArchDataflow df);
const char *arch_isa_name(ArchIsa isa);
/* "weights", "inputs", "outputs"; the operand named s, or -1. */
const char *arch_operand_name(ArchOperand op);
int arch_operand_from_name(const char *s);
/* The dataflow or ISA named s, or -1. */
int arch_dataflow_from_name(const char *s);
int arch_isa_from_name(const char *s);

#endif
