/*
 * Accelerator descriptions as data (arch.h): small queries and the names
 * of the dataflows, ISA families and operands.  Reading the text form is
 * the frontend's (frontend/arch).
 */
#include "arch.h"

#include <string.h>

static const char *const dataflow_names[] = {
#define DATAFLOW(id, name, syn) name,
#include "arch_dataflow.def"
#undef DATAFLOW
};

static const char *const isa_names[] = {
#define ISA(id, name, syn) name,
#include "arch_isa.def"
#undef ISA
};

int64_t arch_pes(const Arch *a)
{
	return a->pe_rows * a->pe_cols;
}

int arch_level_find(const Arch *a, const char *name)
{
	for (int i = 0; i < a->nlevels; i++)
		if (strcmp(a->levels[i].name, name) == 0)
			return i;
	return -1;
}

bool arch_has_dataflow(const Arch *a, ArchDataflow df)
{
	return (a->dataflows >> df) & 1u;
}

const char *arch_dataflow_name(ArchDataflow df)
{
	nnac_assert(df >= 0 && df < ARCH_DF_COUNT);
	return dataflow_names[df];
}

const char *arch_isa_name(ArchIsa isa)
{
	nnac_assert(isa >= 0 && isa < ARCH_ISA_COUNT);
	return isa_names[isa];
}

static const char *const operand_names[ARCH_NOPERANDS] = { "weights", "inputs", "outputs" };

const char *arch_operand_name(ArchOperand op)
{
	nnac_assert(op >= 0 && op < ARCH_NOPERANDS);
	return operand_names[op];
}

int arch_operand_from_name(const char *s)
{
	for (int i = 0; i < ARCH_NOPERANDS; i++)
		if (strcmp(operand_names[i], s) == 0)
			return i;
	return -1;
}

int arch_dataflow_from_name(const char *s)
{
	for (int i = 0; i < ARCH_DF_COUNT; i++)
		if (strcmp(dataflow_names[i], s) == 0)
			return i;
	return -1;
}

int arch_isa_from_name(const char *s)
{
	for (int i = 0; i < ARCH_ISA_COUNT; i++)
		if (strcmp(isa_names[i], s) == 0)
			return i;
	return -1;
}
