/*
 * Nest merging: adjacent sibling loop nests at the top level of a kernel
 * body become one nest when that provably computes the same results, so
 * that the lowering's consecutive elementwise epilogues (bias Add, then
 * Relu, ...) read as one nest whose innermost body holds them in order.
 *
 * A nest is a perfect chain of d >= 1 `for` loops (each body but the
 * innermost is exactly one loop) whose innermost body holds statements and
 * comments only.  Two adjacent nests A then B merge when:
 *   - they have the same depth and, level by level, the same start,
 *     extent, step and flags;
 *   - no statement of either is a mac or a reduce: accumulations stay in
 *     their canonical nest, which the dataflow pass expects;
 *   - with B's loop variables read as A's, every buffer written in A or B
 *     (buffers sharing memory through views count as one) is accessed by
 *     every statement of A and B, always through the same buffer with the
 *     same affine indices, and those indices are one-to-one over the nest:
 *     each loop of extent > 1 appears in exactly one dimension, and no
 *     dimension holds two such loops.  Each iteration then touches its own
 *     element of every written buffer, so running B's body right after A's
 *     in each iteration, instead of after all of A, reads and writes the
 *     same values.  Buffers only read in both nests are free;
 *   - no `copy ... pad` reads a written buffer (its reads may fall outside).
 * The merged nest keeps A's loops and their names; B's statements move to
 * the end of A's innermost body with B's variables replaced by A's
 * (expressions otherwise unchanged), and B's loops drop out of the kernel.
 * Merging repeats until no pair merges, so a chain of three epilogues
 * becomes one nest.  Anything else is left exactly as it was.
 */
#include "tile.h"

enum { MERGE_MAX_DEPTH = 16 };

typedef struct Nest {
	int depth;
	int loop[MERGE_MAX_DEPTH];   /* outermost first */
	int body;                    /* first node of the innermost body */
} Nest;

static bool is_stmt(LoopNodeKind k)
{
	switch (k) {
	case LN_COPY:
	case LN_FILL:
	case LN_APPLY:
	case LN_QUANTIZE:
	case LN_DEQUANTIZE:
	case LN_REQUANTIZE:
		return true;
	case LN_FOR:
	case LN_NOTE:
	case LN_MAC:
	case LN_REDUCE:
		return false;
	case LN_COUNT:
		break;
	}
	nnac_unreachable();
}

/* Whether node starts a nest that may merge; its loops into *n. */
static bool nest_of(const LoopProgram *p, int node, Nest *n)
{
	if (p->nodes[node].kind != LN_FOR)
		return false;
	n->depth = 0;
	for (;;) {
		const LoopNode *f = &p->nodes[node];

		if (n->depth == MERGE_MAX_DEPTH)
			return false;
		n->loop[n->depth++] = node;
		if (f->body < 0 || p->nodes[f->body].kind != LN_FOR || p->nodes[f->body].next >= 0)
			break;
		node = f->body;
	}
	n->body = p->nodes[node].body;
	for (int s = n->body; s >= 0; s = p->nodes[s].next)
		if (p->nodes[s].kind != LN_NOTE && !is_stmt(p->nodes[s].kind))
			return false;
	return true;
}

static bool same_loops(const LoopProgram *p, const Nest *a, const Nest *b)
{
	if (a->depth != b->depth)
		return false;
	for (int j = 0; j < a->depth; j++)
		if (!tile_same_loop(p, a->loop[j], b->loop[j]))
			return false;
	return true;
}

/* The indices of arg as affine forms in A's variables (from: B's loops,
 * read as A's); false when one is not affine. */
static bool arg_affine(const LoopProgram *p, const LoopArg *arg, const Nest *a, const Nest *from,
                       LoopAffine *out)
{
	for (int i = 0; i < arg->nidx; i++) {
		if (!loop_expr_affine(p, arg->idx[i], &out[i]))
			return false;
		for (int t = 0; from && t < out[i].n; t++)
			for (int j = 0; j < from->depth; j++)
				if (out[i].var[t] == from->loop[j])
					out[i].var[t] = a->loop[j];
	}
	return true;
}

/* Whether the indices idx[0 .. rank) are one-to-one over A's loops. */
static bool one_to_one(const LoopProgram *p, const Nest *a, const LoopAffine *idx, int rank)
{
	int uses[MERGE_MAX_DEPTH] = {0};

	for (int d = 0; d < rank; d++) {
		int big = 0;

		for (int t = 0; t < idx[d].n; t++) {
			for (int j = 0; j < a->depth; j++) {
				if (idx[d].var[t] != a->loop[j] || p->nodes[a->loop[j]].extent == 1)
					continue;
				uses[j]++;
				big++;
			}
		}
		if (big > 1)
			return false;
	}
	for (int j = 0; j < a->depth; j++)
		if (p->nodes[a->loop[j]].extent > 1 && uses[j] != 1)
			return false;
	return true;
}

/* The pair being checked: nest a, then b, both statement lists. */
typedef struct Pair {
	const Nest *a, *b;
} Pair;

/* The statement after s in A's body then B's; -1 at the end. */
static int pair_next(const LoopProgram *p, const Pair *q, int s, bool *in_b)
{
	s = s < 0 ? q->a->body : p->nodes[s].next;
	if (s < 0 && !*in_b) {
		*in_b = true;
		s = q->b->body;
	}
	while (s >= 0 && p->nodes[s].kind == LN_NOTE) {
		s = p->nodes[s].next;
		if (s < 0 && !*in_b) {
			*in_b = true;
			s = q->b->body;
		}
	}
	return s;
}

/* Whether every statement accesses root, each time as ref (in A's
 * variables), and no padded copy reads it. */
static bool root_ok(const LoopProgram *p, const Pair *q, int root, const LoopArg *ref,
                    const LoopAffine *want)
{
	bool in_b = false;

	for (int s = pair_next(p, q, -1, &in_b); s >= 0; s = pair_next(p, q, s, &in_b)) {
		const LoopNode *n = &p->nodes[s];
		bool found = false;

		for (int i = 0; i < n->narg; i++) {
			LoopAffine got[MAX_RANK];

			if (n->arg[i].buf < 0 || tile_buf_root(p, n->arg[i].buf) != root)
				continue;
			if (n->kind == LN_COPY && n->has_pad && i == 1)
				return false;
			if (n->arg[i].buf != ref->buf ||
			    !arg_affine(p, &n->arg[i], q->a, in_b ? q->b : NULL, got))
				return false;
			for (int d = 0; d < ref->nidx; d++)
				if (!tile_same_affine(&want[d], &got[d]))
					return false;
			found = true;
		}
		if (!found)
			return false;
	}
	return true;
}

static bool mergeable(const LoopProgram *p, const Nest *a, const Nest *b)
{
	Pair q = {a, b};
	bool in_b = false;

	if (!same_loops(p, a, b))
		return false;
	for (int s = pair_next(p, &q, -1, &in_b); s >= 0; s = pair_next(p, &q, s, &in_b)) {
		const LoopArg *w = &p->nodes[s].arg[0];
		LoopAffine want[MAX_RANK];

		if (!arg_affine(p, w, a, in_b ? b : NULL, want) || !one_to_one(p, a, want, w->nidx) ||
		    !root_ok(p, &q, tile_buf_root(p, w->buf), w, want))
			return false;
	}
	return true;
}

/* Moves B's statements to the end of A's innermost body, B's variables
 * replaced by A's; B leaves the kernel (a is the list's node before b). */
static Status merge(LoopProgram *p, const Nest *a, const Nest *b)
{
	int var[MERGE_MAX_DEPTH], *link;

	for (int j = 0; j < a->depth; j++)
		if ((var[j] = loop_var(p, a->loop[j])) < 0)
			return loop_oom(p);
	for (int s = b->body; s >= 0; s = p->nodes[s].next) {
		for (int i = 0; i < p->nodes[s].narg; i++) {
			for (int x = 0; x < p->nodes[s].arg[i].nidx; x++) {
				int e = p->nodes[s].arg[i].idx[x];

				for (int j = 0; j < b->depth && e >= 0; j++)
					e = loop_expr_subst(p, e, b->loop[j], var[j]);
				if (e < 0)
					return loop_oom(p);
				p->nodes[s].arg[i].idx[x] = e;
			}
		}
	}
	link = &p->nodes[a->loop[a->depth - 1]].body;
	while (*link >= 0)
		link = &p->nodes[*link].next;
	*link = b->body;
	p->nodes[a->loop[0]].next = p->nodes[b->loop[0]].next;
	p->nodes[b->loop[0]].next = -1;
	return ST_OK;
}

Status pass_merge_nests(LoopProgram *p, int kernel)
{
	bool changed = true;

	nnac_assert(kernel >= 0 && kernel < p->nkernels);
	while (changed) {
		changed = false;
		for (int n = p->kernels[kernel].body; n >= 0; n = p->nodes[n].next) {
			Nest a, b;

			while (p->nodes[n].next >= 0 && nest_of(p, n, &a) &&
			       nest_of(p, p->nodes[n].next, &b) && mergeable(p, &a, &b)) {
				Status st = merge(p, &a, &b);

				if (st != ST_OK)
					return st;
				changed = true;
			}
		}
	}
	return ST_OK;
}
