/*
 * The cpu target (target.h): the lowered loop IR compiled with LLVM into a
 * shared object (cpu_codegen.h) and put in a bundle (cpu_bundle.h) that the
 * runtime library runs.  With --arch, the arch names the machine the
 * convolution and matrix kernels block for (its vector width, registers,
 * L1 and L2); without it the host's features decide.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_bundle.h"
#include "target.h"

/* LLVM's O2: the contraction kernels are explicit vector code already,
 * and O3 took ResNet-50-sized models 70% longer to compile for no
 * measured gain in speed. */
enum { CPU_OPT_LEVEL = 2 };

enum { OPT_CPU };

static const TargetOption options[] = {
	[OPT_CPU] = {"--cpu", "NAME", "the CPU to generate code for, as LLVM names it (default: the host's)"},
	{NULL, NULL, NULL},
};

/* The size in bytes of the first of the named levels of a, or 0. */
static int64_t level_bytes(const Arch *a, const char *const *names)
{
	for (; *names; names++) {
		int i = arch_level_find(a, *names);

		if (i >= 0 && a->levels[i].size > 0)
			return a->levels[i].size;
	}
	return 0;
}

/* An arch with `isa cpu` and a vector width: its register file (level
 * regs) and caches (l1d or l1, l2) into co. */
static Status arch_options(const Arch *a, CpuOptions *co, Diag *d)
{
	static const char *const regs[] = {"regs", NULL}, *const l1[] = {"l1d", "l1", NULL},
	                         *const l2[] = {"l2", NULL};

	if (a->isa != ARCH_ISA_CPU || a->vector_bits <= 0)
		return diag_add(d, ST_INVALID, "%s: arch '%s' is not a cpu (isa %s%s): --target cpu needs an "
		                "arch with `isa cpu` and a `vector` width, such as host", a->path, a->name,
		                arch_isa_name(a->isa), a->isa == ARCH_ISA_CPU ? ", no vector width" : "");
	co->vector_bits = (int)a->vector_bits;
	co->vregs = (int)(level_bytes(a, regs) / (a->vector_bits / 8));
	co->l1_bytes = level_bytes(a, l1);
	co->l2_bytes = level_bytes(a, l2);
	return ST_OK;
}

static Status prepare(TargetJob *job)
{
	CpuOptions *co = arena_alloc(job->arena, sizeof(*co));

	if (!co)
		return diag_add(job->diag, ST_NOMEM, "out of memory");
	*co = (CpuOptions){NULL, job->opt[OPT_CPU], CPU_OPT_LEVEL, 0, 0, 0, 0, 0};
	job->state = co;
	return job->arch ? arch_options(job->arch, co, job->diag) : ST_OK;
}

static Status compile(TargetJob *job)
{
	const CpuOptions *co = job->state;
	uint8_t *so = NULL;
	size_t so_len = 0;
	Status st = cpu_compile(job->loops, co, &so, &so_len, job->diag);

	if (st == ST_OK)
		st = target_meta(job, "cpu", co->cpu ? co->cpu : "host");
	if (st == ST_OK)
		st = cpu_bundle_add(job->loops, so, so_len, job->bundle, job->diag);
	if (st == ST_OK)
		fprintf(stderr, "compile: %d kernels, %zu bytes of machine code (shared object)\n",
		        job->loops->nkernels, so_len);
	free(so);
	return st;
}

const Target target_cpu = {
	.name = "cpu",
	.description = "native code for the host through LLVM: a shared object the runtime library runs",
	.stage = TARGET_LOOPS,
	.maps = false,
	.takes_samples = false,
	.options = options,
	.default_arch = NULL,
	.prepare = prepare,
	.compile = compile,
};
