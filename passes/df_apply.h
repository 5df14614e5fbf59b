/*
 * Applying a dataflow mapping (passes/dataflow.h) to the loop IR: the
 * compute nest of one convolution or matrix-product kernel is split,
 * reordered and marked so that its loops are those of the mapping, outermost
 * level first, the spatial loops at the fan-out, and each loop named for the
 * dimension and the level it belongs to (k_dram, c_gbuf, r_rows, q_cols,
 * s_spad_filter ...); then each operand's tile is staged (pass_hoist) into
 * a buffer at every level that keeps it, so that backends read the level
 * placement from the names, the `spatial` marks and the buffers' levels.
 * Results stay those of the unmapped program.  docs/dataflow.md ("Applying
 * a mapping to the loop IR") gives the rules.
 */
#ifndef NNAC_DF_APPLY_H
#define NNAC_DF_APPLY_H

#include "dataflow.h"
#include "loop.h"

/* The compute nest of a kernel: the perfect band of loops around its one
 * mac statement, and the loop that runs over each dimension (-1 where the
 * nest has none: the dimension is 1). */
typedef struct DfNest {
	int mac;
	int root;                    /* outermost loop of the band; -1 when none */
	int nloops;
	int loop[DF_NDIMS];
} DfNest;

/* What df_apply_info did.  A tile is one operand at one level that keeps
 * it in one piece (rules in passes/df_apply.c). */
typedef struct DfApplyInfo {
	int pieces;          /* bands the compute nest became: 1 + remainders peeled */
	int loops;           /* loops of those bands */
	int spatial;         /* of which spatial */
	bool sum_reordered;  /* some accumulator element now sums its terms in
	                        another order (floats may round differently) */
	int staged;          /* tiles staged into a buffer at their level */
	int refused;         /* tiles pass_hoist refused: left where they were */
	int skipped;         /* tiles no loop separates from the level above that
	                        holds the operand: the same tile, not staged again */
	int copy_loops;      /* loops of the copy-in and copy-out nests staging made */
	const char *refusal; /* the first refusal's message (in the program's
	                        arena), or NULL */
	/* The buffer of the first piece's tile of operand o (ARCH_*) at level
	 * l, -1 when not staged. */
	int tile_buf[DF_MAX_LEVELS][ARCH_NOPERANDS];
} DfApplyInfo;

/* Finds the compute nest of kernel and tells its loops apart by the indices
 * of the mac's operands (rules in passes/df_apply.c).  ST_UNSUPPORTED, with
 * a diagnostic naming the kernel (and loop), when the kernel has no single
 * mac in a perfect nest or a loop is no dimension of a layer. */
Status df_find_nest(LoopProgram *p, int kernel, DfNest *nest);

/*
 * Lays mapping m of layer pb on target t over kernel's compute nest.
 * ST_UNSUPPORTED when the nest is not that of pb (or df_find_nest refuses)
 * or a tiling transform refuses; ST_INVALID when m is no mapping of pb on t
 * (a factor below 1, an order that is no permutation, a dimension the
 * factors do not cover, more spatial PEs than the array has).  Every check
 * is made before the program changes; a transform refusing afterwards (not
 * expected for a lowered nest) leaves it partly mapped but computing the
 * same results.  Then each operand's tile is staged (pass_hoist) at every
 * level below the outermost that keeps it, into a buffer at a program level
 * of the arch level's name (declared when missing); a tile pass_hoist
 * refuses stays where it was and is counted, not reported in d.
 * Diagnostics go to d (p->diag when d is NULL).  ST_NOMEM when out of
 * memory.  The program passes loop_verify afterwards.
 */
Status df_apply(LoopProgram *p, int kernel, const DfTarget *t, const DfProblem *pb,
                const DfMapping *m, Diag *d);
/* The same; info (may be NULL) says what it did. */
Status df_apply_info(LoopProgram *p, int kernel, const DfTarget *t, const DfProblem *pb,
                     const DfMapping *m, Diag *d, DfApplyInfo *info);

/* The layer kernel k of p computes, from its `layer` string ("conv1" or
 * "conv1+relu1"): *found false (and ST_OK) when it is no convolution or
 * matrix product of g; else df_problem_from_node's result. */
Status df_kernel_problem(const Graph *g, const LoopProgram *p, int k, DfProblem *pb,
                         bool *found, Diag *d);

/* The dataflow pass: maps every kernel of p that computes a convolution or
 * matrix product of g on cache's target (dataflow df, or the best of all
 * when df < 0, under metric) and applies the mapping, kernel by kernel;
 * with verify_each, loop_verify runs after each kernel's mapping.  *mapped
 * counts the kernels mapped; stats sums the searches. */
Status pass_dataflow(const Graph *g, LoopProgram *p, DfCache *cache, int df, DfMetric metric,
                     bool verify_each, DfStats *stats, int *mapped, Diag *d);

#endif
