/*
 * The dataflow mapper: how one layer's loops are laid over an accelerator's
 * processing elements and memory levels, and what that costs.
 *
 * A layer is a DfProblem: the eight dimensions of df_dim.def, strides and
 * dilations.  A mapping (DfMapping) gives, for every memory level of the
 * Arch, the trip count of a temporal loop over each dimension and the order
 * of those loops, plus the spatial factors laid over the PE array's rows and
 * columns.  The loop nest reads, outermost first:
 *
 *     levels above the fan-out (shared: DRAM, global buffer, ...)
 *     spatial loops over rows and columns (one PE each)
 *     levels below the fan-out (private to each PE: scratchpads)
 *     the MAC
 *
 * The fan-out sits just above the first per-PE level (after the last level
 * when there is none).  A level keeps the operands of its `keeps` mask; an
 * operand it does not keep bypasses it.  A level that keeps an operand holds
 * the operand's tile over all loops at that level and below.
 *
 * df_evaluate counts, analytically, the reads and writes of every operand
 * at every level (tile fills, multicast over the spatial loops an operand
 * does not use, partial sums spilled to and refilled from the parent, the
 * NoC deliveries to the PEs, the spatial reduction of partial sums), the
 * cycles (compute bound, each level's bandwidth bound, the array's fill and
 * drain) and the energy.  docs/dataflow.md gives every formula.
 *
 * df_map_layer searches the mappings of one dataflow family (WS, OS, RS,
 * NLR: which operands the PE levels keep, which dimensions may be spatial,
 * which loops must be innermost), or of all the target supports, for the
 * best under a metric.
 */
#ifndef NNAC_DATAFLOW_H
#define NNAC_DATAFLOW_H

#include <stdbool.h>
#include <stdint.h>

#include "arch.h"
#include "diag.h"
#include "graph.h"

enum { DF_BIT_W = 1u << ARCH_WEIGHTS, DF_BIT_I = 1u << ARCH_INPUTS, DF_BIT_O = 1u << ARCH_OUTPUTS };

typedef enum DfDim {
#define DIM(id, letter, ops, desc) DF_##id,
#include "df_dim.def"
#undef DIM
	DF_NDIMS
} DfDim;

enum {
	DF_MAX_LEVELS = 16,  /* memory levels of an Arch the mapper accepts */
	DF_ROWS = 0,         /* DfMapping.spatial[DF_ROWS]: over the PE rows */
	DF_COLS = 1,
};

typedef enum DfMetric {
	DF_METRIC_ENERGY,
	DF_METRIC_CYCLES,
	DF_METRIC_EDP,       /* energy * cycles */
} DfMetric;

/* One layer. */
typedef struct DfProblem {
	const char *name;    /* the node's name, for messages */
	const char *op;      /* its op type */
	int64_t dim[DF_NDIMS];
	int64_t stride[2];   /* rows, columns */
	int64_t dilation[2];
} DfProblem;

/* What the mapper uses of an Arch, precomputed (df_target_init). */
typedef struct DfTarget {
	const Arch *arch;
	int nlevels;
	int fanout;          /* index of the first per-PE level; nlevels when none */
	int64_t rows, cols;
	int value_bytes[DF_MAX_LEVELS][ARCH_NOPERANDS];   /* one value at a level */
	int64_t capacity[DF_MAX_LEVELS];   /* bytes of one instance; INT64_MAX unbounded;
	                                      0 a transfer level */
	int noc;             /* the transfer level carrying values to the PEs
	                        (the energy of a NoC delivery); -1 none */
	double mac_energy;
	bool energy_known;   /* every storage level and the MAC have an energy */
} DfTarget;

typedef struct DfMapping {
	ArchDataflow df;
	int64_t factor[DF_MAX_LEVELS][DF_NDIMS];  /* temporal trip counts; 1: no loop */
	uint8_t order[DF_MAX_LEVELS][DF_NDIMS];   /* a permutation of the dims,
	                                             outermost loop first */
	int64_t spatial[2][DF_NDIMS];             /* [DF_ROWS], [DF_COLS] */
	unsigned keeps[DF_MAX_LEVELS];            /* DF_BIT_* per level */
} DfMapping;

typedef struct DfLevelCost {
	double reads[ARCH_NOPERANDS];   /* values, summed over all instances */
	double writes[ARCH_NOPERANDS];
	int64_t tile[ARCH_NOPERANDS];   /* values one instance holds; 0 not kept */
	int64_t bytes;                  /* of one instance in use */
	double energy;
	double cycles;                  /* accesses / bandwidth; 0 bandwidth unknown */
} DfLevelCost;

typedef struct DfCost {
	int64_t macs;                   /* useful multiply-accumulates */
	double mac_energy;
	double energy;                  /* MACs and every level */
	double compute_cycles;          /* temporal iterations of the PE array */
	double fill_cycles;             /* systolic fill and drain of every fold */
	double cycles;                  /* compute + fill, or a bandwidth bound if longer */
	int64_t active_pes;             /* PEs the spatial loops occupy at their widest */
	double utilization;             /* useful MACs / (PEs * cycles) */
	DfLevelCost level[DF_MAX_LEVELS];
} DfCost;

/* Why a mapping does not fit: the level whose tiles need more bytes. */
typedef struct DfMiss {
	int level;           /* -1: the spatial loops exceed the array */
	int64_t need, have;
} DfMiss;

typedef struct DfStats {
	int64_t evaluated;   /* mappings costed */
	int64_t valid;       /* of which fitted */
} DfStats;

/* A layer's best mapping under one metric. */
typedef struct DfResult {
	DfMapping map;
	DfCost cost;
} DfResult;

typedef enum DfSearch {
	DF_SEARCH_PRUNED,    /* canonical loop orders, branch and bound */
	DF_SEARCH_EXHAUSTIVE,/* every order and tiling of the family's space */
} DfSearch;

const char *df_dim_letter(DfDim d);
/* DF_BIT_* of the operands indexed by d. */
unsigned df_dim_operands(DfDim d);
const char *df_metric_name(DfMetric m);
int df_metric_from_name(const char *s);

/* ST_OK, or ST_UNSUPPORTED naming the arch when it cannot be mapped to
 * (more than DF_MAX_LEVELS levels, no MAC). */
Status df_target_init(DfTarget *t, const Arch *a, Diag *d);

/* The layer of a Conv, ConvInteger, QLinearConv, Gemm, MatMul,
 * MatMulInteger or QLinearMatMul node whose shapes are known.
 * ST_UNSUPPORTED (with a diagnostic naming node and op) for any other node
 * or unknown shapes. */
Status df_problem_from_node(DfProblem *pb, const Graph *g, const Node *n, Diag *d);
/* Is n of an op df_problem_from_node takes (whatever its shapes)? */
bool df_is_layer_op(const Node *n);
/* n * g * k * c * p * q * r * s. */
int64_t df_problem_macs(const DfProblem *pb);
/* Input rows (or columns, axis 1) a tile of p outputs and r filter taps
 * reads: the window's span, or p * r when the windows leave gaps between
 * them (stride larger than the kernel). */
int64_t df_input_extent(const DfProblem *pb, int axis, int64_t p, int64_t r);

/* The trivial mapping: every loop at the outermost level (levels above keep
 * every operand they hold, PE levels those the family keeps); the start of
 * a search and of tests. */
void df_mapping_init(DfMapping *m, const DfTarget *t, const DfProblem *pb, ArchDataflow df);
/* Costs a mapping.  false (and *miss filled when not NULL) when a tile does
 * not fit its level or the spatial loops exceed the array. */
bool df_evaluate(const DfTarget *t, const DfProblem *pb, const DfMapping *m, DfCost *c,
                 DfMiss *miss);
/* Only the capacity part of df_evaluate: do the tiles fit (and the spatial
 * loops the array)?  The factors need not cover the layer yet. */
bool df_fits(const DfTarget *t, const DfProblem *pb, const DfMapping *m, DfMiss *miss);
double df_metric(const DfCost *c, DfMetric metric);
/* A lower bound of the metric of every mapping that completes m, whose
 * spatial factors and level keeps are set: the MACs, each MAC's access to
 * the innermost level keeping each operand (and the NoC when that level is
 * shared), every operand crossing DRAM once; for cycles the MACs over the
 * PEs.  The pruned search skips what cannot beat its best. */
double df_bound(const DfTarget *t, const DfProblem *pb, const DfMapping *m, DfMetric metric);

/* The best mapping of the layer within dataflow family df, or over every
 * dataflow the target supports when df < 0.  ST_UNSUPPORTED with a
 * diagnostic naming the layer, the level that is too small and by how many
 * bytes when no mapping fits; ST_UNSUPPORTED also when the target does not
 * support df.  stats may be NULL. */
Status df_map_layer(const DfTarget *t, const DfProblem *pb, int df, DfMetric metric,
                    DfSearch mode, DfResult *best, DfStats *stats, Diag *d);

/* Identical layers (ResNet repeats most of its own) map identically: a
 * cache of df_map_layer's results for one target, keyed by the layer's
 * dimensions, strides and dilations, the dataflow, metric and search.
 * Only successes are kept (a failure is searched again, so that its
 * diagnostic names the layer at hand). */
typedef struct DfCacheEntry DfCacheEntry;
typedef struct DfCache {
	const DfTarget *t;
	DfCacheEntry *e;
	int n, cap;
	int64_t hits;
} DfCache;

void df_cache_init(DfCache *c, const DfTarget *t);
void df_cache_free(DfCache *c);
/* df_map_layer through the cache (on c's target). */
Status df_map_layer_cached(DfCache *c, const DfProblem *pb, int df, DfMetric metric,
                           DfSearch mode, DfResult *best, DfStats *stats, Diag *d);

/* A one-line tiling, outermost level first, such as
 * "dram[K4 C2] gbuf[Q55] | rows R11 P1 cols P14 | spad_filter[C1 S11] spad_psum[K16]".
 * Writes at most size bytes (always terminated); returns the length it
 * wanted, as snprintf. */
int df_mapping_format(const DfTarget *t, const DfMapping *m, char *buf, size_t size);

#endif
