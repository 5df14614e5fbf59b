/*
 * Tiling transforms over the loop IR: the moves a dataflow mapper makes.
 *
 * Each transform takes a program that passes loop_verify and leaves one that
 * passes it and computes the same results:
 *
 *   pass_split          y  ->  yo { yi }  (+ a remainder loop yr when the
 *                       tile does not divide the extent: loop peeling keeps
 *                       every loop rectangular);
 *   pass_reorder        permutes a perfectly nested band of loops;
 *   pass_set_spatial,
 *   pass_set_unroll     mark a loop;
 *   pass_hoist          gives the body of a loop its own copy of the tile of
 *                       a buffer it touches, at a faster memory level, with
 *                       a copy-in before the body and a copy-out after it;
 *   pass_double_buffer  pipelines such a copy-in one iteration ahead into
 *                       the other half of a two-slot buffer.
 *
 * Results are bit for bit those of the untransformed program, except after
 * a reorder that changes the order of the updates of one accumulator
 * element (reduction loops swapped): sums of floats then round differently.
 *
 * A request the transform cannot prove legal is refused: the program is left
 * exactly as it was, a diagnostic naming the kernel and loop is recorded
 * through loop_error_at, and the status is ST_UNSUPPORTED (the pattern does
 * not hold, the tile does not fit) or ST_INVALID (the arguments themselves
 * are wrong: not a loop, a tile of 0, a permutation with repeats).  Out of
 * memory is ST_NOMEM, after which the program must be dropped.
 */
#ifndef NNAC_TILE_H
#define NNAC_TILE_H

#include "loop.h"

/* Splits loop for_node by tile (1 <= tile <= extent) into *outer (the same
 * node, now stepping over tiles) and *inner (0..tile*step step step); when
 * tile does not divide the extent, a remainder loop with a copy of the body
 * follows the outer loop.  The loop's flags stay on the outer loop. */
Status pass_split(LoopProgram *p, int for_node, int64_t tile, int *outer, int *inner);

/* Permutes the band of n perfectly nested loops starting at outer_for: the
 * loop at depth j of the band becomes the one at depth perm[j] before.
 * Legality is described in passes/tile.c. */
Status pass_reorder(LoopProgram *p, int outer_for, const int *perm, int n);

Status pass_set_spatial(LoopProgram *p, int for_node, bool on);
Status pass_set_unroll(LoopProgram *p, int for_node, bool on);

/* Hoists the tile of buf touched by one iteration of for_node's body into a
 * new kernel buffer *local at level.  See passes/tile_hoist.c. */
Status pass_hoist(LoopProgram *p, int for_node, int buf, int level, int *local);

/* Double-buffers local, made by pass_hoist at the body of for_node. */
Status pass_double_buffer(LoopProgram *p, int for_node, int local);

/* Merges adjacent top-level loop nests of kernel into one wherever that is
 * provably legal (rules in passes/tile_merge.c), until no pair merges.
 * Refuses nothing: a pair that does not qualify is left alone.  ST_OK, or
 * ST_NOMEM (then the program must be dropped). */
Status pass_merge_nests(LoopProgram *p, int kernel);

/* Fuses adjacent top-level nests of kernel over the outer loops they
 * share wherever each iteration of those loops (a row) provably touches
 * its own elements of every buffer written (rules in passes/tile_rows.c),
 * until no pair fuses.  Refuses nothing.  ST_OK, or ST_NOMEM. */
Status pass_fuse_rows(LoopProgram *p, int kernel);

/*
 * A deep copy of node (not its siblings), with the variable of for node
 * from[i] replaced by expression to[i] in every index expression; loops
 * inside the copy get fresh nodes, and references to them follow.  Index
 * expressions that changed are simplified (constant ones folded).  Returns
 * the new node, or -1 when out of memory (p->oom set).
 */
int loop_clone(LoopProgram *p, int node, int nsub, const int *from, const int *to);

/*
 * Shared by passes/tile*.c.
 *
 * TileTree: where each node sits, for the nodes that existed when it was
 * built (nodes made later are not in it).
 */
typedef struct TileTree {
	int n;               /* p->nnodes when built */
	int *parent;         /* enclosing for node; -1 at a kernel's top level */
	int *prev;           /* previous sibling, -1 when first */
	int *kernel;         /* owning kernel; -1 for a node in no kernel */
} TileTree;

Status tile_tree_build(LoopProgram *p, TileTree *t);
void tile_tree_free(TileTree *t);
/* The index that links to node: its parent's body, its kernel's body or its
 * previous sibling's next.  Invalidated by any builder call. */
int *tile_link_to(LoopProgram *p, const TileTree *t, int node);
/* Refuses a request about node (kernel and loop named in the message). */
Status tile_refuse(LoopProgram *p, const TileTree *t, int node, Status st, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* Checks that node is a for loop of some kernel (else refuses). */
Status tile_check_for(LoopProgram *p, const TileTree *t, int node, const char *what);
/* A loop variable name based on base that no loop of kernel k and no
 * buffer or kernel uses. */
const char *tile_var_name(LoopProgram *p, int k, const char *base);
/* Calls fn on every buffer reference (statement node, argument) in node
 * first (with siblings: the list starting there) and in its loops' bodies.
 * fn may build expressions but not nodes. */
typedef void (*TileRefFn)(LoopProgram *p, int node, int arg, void *cx);
void tile_each_ref(LoopProgram *p, int first, bool siblings, TileRefFn fn, void *cx);
/* Replaces the variable of for node v by expression r in those references,
 * simplifying what changed (sets p->oom when out of memory). */
void tile_subst(LoopProgram *p, int first, bool siblings, int v, int r);
/* Folds a closed expression to a constant, else simplifies it. */
int tile_tidy(LoopProgram *p, int e);
/* The buffer owning b's memory (b itself when b is not a view). */
int tile_buf_root(const LoopProgram *p, int b);
/* Whether for nodes x and y have the same start, extent, step and flags. */
bool tile_same_loop(const LoopProgram *p, int x, int y);
/* Whether x and y are the same sum of terms, in any order (terms have
 * distinct variables). */
bool tile_same_affine(const LoopAffine *x, const LoopAffine *y);
/* e as an expression again, from its affine form. */
int tile_affine_expr(LoopProgram *p, const LoopAffine *a);

#endif
