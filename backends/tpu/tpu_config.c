/*
 * The TPU machine of an arch description: the array from pe_array, the
 * clock, weight DRAM bandwidth from the outermost level, the unified
 * buffer, accumulators and weight FIFO from the levels of those names (or,
 * for the unified buffer, the largest shared level that holds inputs).
 *
 * What a description does not give takes the TPU v1 paper's values
 * (Jouppi et al., ISCA 2017): 4 MiB of accumulators, a FIFO four tiles
 * deep, and the host link of PCIe Gen3 x16 at 14 GB/s effective.
 */
#include <string.h>

#include "tpu.h"

enum { DEFAULT_ACC_BYTES = 4 << 20, DEFAULT_FIFO_DEPTH = 4, PARAM_SLOTS = 256 };
static const double HOST_BYTES_PER_S = 14e9;

static const ArchLevel *level_named(const Arch *a, const char *name)
{
	int i = arch_level_find(a, name);
	return i < 0 ? NULL : &a->levels[i];
}

/* The unified buffer: the level so named, else the largest on-chip shared
 * level that may hold inputs. */
static const ArchLevel *unified_buffer(const Arch *a)
{
	const ArchLevel *best = level_named(a, "unified_buffer");
	for (int i = 1; !best && i < a->nlevels; i++) {
		const ArchLevel *l = &a->levels[i];
		if (l->scope == ARCH_SHARED && (l->holds & (1u << ARCH_INPUTS)) && l->size > 0 &&
		    l->size != ARCH_UNBOUNDED)
			best = l;
	}
	return best;
}

Status tpu_config_from_arch(const Arch *a, const char *path, TpuConfig *cfg, Diag *d)
{
	const ArchLevel *ub = unified_buffer(a), *acc = level_named(a, "accumulators");
	const ArchLevel *fifo = level_named(a, "weight_fifo");
	int esize = tpu_esize(cfg->precision);

	if (a->isa != ARCH_ISA_TPU)
		return diag_add(d, ST_UNSUPPORTED, "%s: arch '%s' has isa %s; --target tpu needs isa tpu",
		                path, a->name, arch_isa_name(a->isa));
	if (a->pe_rows != a->pe_cols)
		return diag_add(d, ST_UNSUPPORTED,
		                "%s: arch '%s': the TPU code generator needs a square array, not %lldx%lld",
		                path, a->name, (long long)a->pe_rows, (long long)a->pe_cols);
	if (!ub)
		return diag_add(d, ST_UNSUPPORTED, "%s: arch '%s' has no unified buffer (a shared level "
		                "holding inputs)", path, a->name);
	if (a->levels[0].read_bw <= 0 || a->clock_hz <= 0)
		return diag_add(d, ST_UNSUPPORTED, "%s: arch '%s' gives no DRAM bandwidth or clock",
		                path, a->name);
	cfg->height = (int)a->pe_rows;
	cfg->width = (int)a->pe_cols;
	cfg->clock_hz = a->clock_hz;
	cfg->dram_bytes_per_s = a->levels[0].read_bw * a->clock_hz;
	cfg->host_bytes_per_s = HOST_BYTES_PER_S;
	cfg->ub_rows = ub->size / ((int64_t)cfg->width * esize);
	cfg->acc_rows = (acc ? acc->size : DEFAULT_ACC_BYTES) / ((int64_t)cfg->width * 4);
	cfg->fifo_depth = fifo ? (int)(fifo->size / ((int64_t)cfg->height * cfg->width * esize))
	                       : DEFAULT_FIFO_DEPTH;
	if (cfg->fifo_depth < 1)
		cfg->fifo_depth = 1;
	cfg->param_slots = PARAM_SLOTS;
	return ST_OK;
}
