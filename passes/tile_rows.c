/*
 * Row fusion: adjacent top-level nests of a kernel that share their outer
 * loops become one nest whose innermost shared loop holds both bodies, so
 * that a row op's passes (Softmax: max, exp, sum, divide; LayerNorm: mean,
 * variance, normalize) and the elementwise nests around them run row by
 * row, each row's data staying in the cache between passes, instead of
 * each pass sweeping the whole tensor.
 *
 * Nests A then B fuse over their outer d >= 1 loops when:
 *   - those loops are perfectly nested in both (each body but the last
 *     exactly one loop) and, level by level, have the same start, extent,
 *     step and flags;
 *   - neither holds a mac (contractions stay in their canonical nest, which
 *     the dataflow pass and the cpu contraction kernels expect), a loaded
 *     index, or a padded copy of a buffer either writes;
 *   - no index of any access mixes outer and inner variables (a pooling
 *     window's 2*y + ky), and every reduce accumulates one element a row
 *     (its accumulator's indices are outer variables or constants: a
 *     row's max or sum, not a window's);
 *   - every buffer written anywhere in A or B (views of one memory count as
 *     one) is accessed by every statement of both that touches it through
 *     the same buffer, and its indices, with B's outer variables read as
 *     A's, split in two kinds of dimensions: row dimensions, the same
 *     affine form of outer variables only in every access, and the rest,
 *     free of outer variables; each outer loop of extent > 1 appears in
 *     exactly one row dimension and no row dimension holds two of them;
 *   - it is worth it: one of the d loops has extent > 1, and A or B runs
 *     at least ROWS_MIN_WORK statements a row.
 * Each iteration of the outer loops (a row) then touches its own elements
 * of every written buffer, so running B's row right after A's, instead of
 * after all of A, reads and writes the same values: the results are bit
 * for bit those of the unfused program.  Buffers only read are free.
 * The deepest such d is taken.  B's statements keep their own inner
 * loops; its outer variables become A's and its outer loops leave the
 * kernel.  Fusion repeats until no pair fuses.
 */
#include "tile.h"

#include <stdlib.h>
#include <string.h>

enum { ROWS_MAX_DEPTH = 16, ROWS_MIN_WORK = 16 };

/* The outer loops of a fusion candidate, outermost first. */
typedef struct Rows {
	int depth;
	int loop[ROWS_MAX_DEPTH];
} Rows;

/* The perfect chain of loops from node, at most ROWS_MAX_DEPTH. */
static void rows_of(const LoopProgram *p, int node, Rows *r)
{
	r->depth = 0;
	while (r->depth < ROWS_MAX_DEPTH) {
		const LoopNode *f = &p->nodes[node];

		r->loop[r->depth++] = node;
		if (f->body < 0 || p->nodes[f->body].kind != LN_FOR || p->nodes[f->body].next >= 0)
			break;
		node = f->body;
	}
}

/* How many outer loops a and b share, level by level. */
static int shared_depth(const LoopProgram *p, const Rows *a, const Rows *b)
{
	int d = 0;

	while (d < a->depth && d < b->depth && tile_same_loop(p, a->loop[d], b->loop[d]))
		d++;
	return d;
}

/* The first access to a written root, which every other must match. */
typedef struct Ref {
	bool seen;
	int buf;
	LoopAffine f[MAX_RANK];
	bool row[MAX_RANK];
} Ref;

/* What the legality check walks over: the two nests and their d outer
 * loops; per buffer, the slot of its root in ref when written, else -1. */
typedef struct Check {
	const Rows *a, *b;
	int d;
	bool ok;
	int *slot;
	Ref *ref;
	int nref;
} Check;

static bool stmt_blocks(const LoopProgram *p, const LoopNode *n)
{
	if (n->kind == LN_MAC)
		return true;
	for (int i = 0; i < n->narg; i++)
		if (n->arg[i].buf >= 0 && loop_arg_has_load(p, &n->arg[i]))
			return true;
	return false;
}

static void mark_written(LoopProgram *p, int node, int arg, void *v)
{
	Check *c = v;
	const LoopNode *n = &p->nodes[node];
	int root;

	if (stmt_blocks(p, n))
		c->ok = false;
	else if (arg == 0 && n->arg[0].buf >= 0 && c->slot[root = tile_buf_root(p, n->arg[0].buf)] < 0)
		c->slot[root] = c->nref++;
}

/* Which outer level v is (A's or B's loop), or -1. */
static int outer_level(const Check *c, int v)
{
	for (int j = 0; j < c->d; j++)
		if (v == c->a->loop[j] || v == c->b->loop[j])
			return j;
	return -1;
}

/* The access's dimensions as affine forms with B's outer variables read
 * as A's, and which are row dimensions; false when an index is not affine
 * or mixes outer and inner variables. */
static bool row_part(const LoopProgram *p, const Check *c, const LoopArg *a, LoopAffine *f, bool *row)
{
	for (int d = 0; d < a->nidx; d++) {
		int outer = 0;

		if (!loop_expr_affine(p, a->idx[d], &f[d]))
			return false;
		for (int t = 0; t < f[d].n; t++) {
			int j = outer_level(c, f[d].var[t]);

			if (j >= 0) {
				f[d].var[t] = c->a->loop[j];
				outer++;
			}
		}
		if (outer > 0 && outer != f[d].n)
			return false;
		row[d] = outer > 0;
	}
	return true;
}

/* Whether the row dimensions of r take each outer loop of extent > 1
 * exactly once, one per dimension. */
static bool rows_one_to_one(const LoopProgram *p, const Check *c, const Ref *r, int rank)
{
	int uses[ROWS_MAX_DEPTH] = {0};

	for (int d = 0; d < rank; d++) {
		int big = 0;

		for (int t = 0; r->row[d] && t < r->f[d].n; t++) {
			int j = outer_level(c, r->f[d].var[t]);

			if (j >= 0 && p->nodes[c->a->loop[j]].extent > 1) {
				uses[j]++;
				big++;
			}
		}
		if (big > 1)
			return false;
	}
	for (int j = 0; j < c->d; j++)
		if (p->nodes[c->a->loop[j]].extent > 1 && uses[j] != 1)
			return false;
	return true;
}

/* Whether access got matches the reference r: the same buffer, row
 * dimensions in the same places with the same forms. */
static bool same_rows(const Ref *r, const Ref *got, int rank)
{
	if (got->buf != r->buf)
		return false;
	for (int d = 0; d < rank; d++)
		if (got->row[d] != r->row[d] || (r->row[d] && !tile_same_affine(&r->f[d], &got->f[d])))
			return false;
	return true;
}

/* Whether a reduce's accumulator access got is one element a row: its
 * dimensions are row dimensions or constants. */
static bool per_row(const Ref *got, int rank)
{
	for (int d = 0; d < rank; d++)
		if (!got->row[d] && got->f[d].n > 0)
			return false;
	return true;
}

static void check_access(LoopProgram *p, int node, int arg, void *v)
{
	Check *c = v;
	const LoopNode *n = &p->nodes[node];
	const LoopArg *a = &n->arg[arg];
	Ref got, *r;

	if (!c->ok || a->buf < 0)
		return;
	got.buf = a->buf;
	if (!row_part(p, c, a, got.f, got.row) || (n->kind == LN_REDUCE && arg == 0 && !per_row(&got, a->nidx))) {
		c->ok = false;
		return;
	}
	if (c->slot[tile_buf_root(p, a->buf)] < 0)
		return;
	r = &c->ref[c->slot[tile_buf_root(p, a->buf)]];
	if (n->kind == LN_COPY && n->has_pad && arg == 1) {
		c->ok = false;
	} else if (!r->seen) {
		*r = got;
		r->seen = true;
		c->ok = rows_one_to_one(p, c, r, a->nidx);
	} else {
		c->ok = same_rows(r, &got, a->nidx);
	}
}

/* Whether A and B fuse over their d outer loops; ST_NOMEM aside. */
static Status fusable(LoopProgram *p, const Rows *a, const Rows *b, int d, bool *ok)
{
	Check c = {a, b, d, true, NULL, NULL, 0};
	int first[2] = {p->nodes[a->loop[d - 1]].body, p->nodes[b->loop[d - 1]].body};

	*ok = false;
	c.slot = malloc((size_t)p->nbufs * sizeof(*c.slot));
	if (!c.slot)
		return loop_oom(p);
	for (int i = 0; i < p->nbufs; i++)
		c.slot[i] = -1;
	for (int k = 0; k < 2; k++)
		tile_each_ref(p, first[k], true, mark_written, &c);
	c.ref = c.ok && c.nref > 0 ? calloc((size_t)c.nref, sizeof(*c.ref)) : NULL;
	if (c.ok && c.nref > 0 && !c.ref) {
		free(c.slot);
		return loop_oom(p);
	}
	for (int k = 0; k < 2 && c.ok; k++)
		tile_each_ref(p, first[k], true, check_access, &c);
	*ok = c.ok;
	free(c.ref);
	free(c.slot);
	return ST_OK;
}

/* Renames the loops in list first named like one of A's d outer loops
 * (a loop's variable must differ from those of the loops around it). */
static void rename_inner(LoopProgram *p, int k, const Rows *a, int d, int first)
{
	for (int n = first; n >= 0 && !p->oom; n = p->nodes[n].next) {
		if (p->nodes[n].kind != LN_FOR)
			continue;
		for (int j = 0; j < d; j++)
			if (strcmp(p->nodes[n].var, p->nodes[a->loop[j]].var) == 0)
				p->nodes[n].var = tile_var_name(p, k, p->nodes[n].var);
		rename_inner(p, k, a, d, p->nodes[n].body);
	}
}

/* B's body joins the end of A's at depth d, B's outer variables replaced
 * by A's; B leaves kernel k (A is the list's node before B). */
static Status fuse(LoopProgram *p, int k, const Rows *a, const Rows *b, int d)
{
	int body = p->nodes[b->loop[d - 1]].body, *link;

	rename_inner(p, k, a, d, body);
	if (p->oom)
		return loop_oom(p);

	for (int j = 0; j < d; j++) {
		int var = loop_var(p, a->loop[j]);

		if (var < 0)
			return loop_oom(p);
		tile_subst(p, body, true, b->loop[j], var);
		if (p->oom)
			return loop_oom(p);
	}
	link = &p->nodes[a->loop[d - 1]].body;
	while (*link >= 0)
		link = &p->nodes[*link].next;
	*link = body;
	p->nodes[b->loop[d - 1]].body = -1;
	p->nodes[a->loop[0]].next = p->nodes[b->loop[0]].next;
	p->nodes[b->loop[0]].next = -1;
	return ST_OK;
}

/* Statement runs of list first, loops multiplied out (saturating). */
static int64_t list_work(const LoopProgram *p, int first)
{
	int64_t w = 0;

	for (int n = first; n >= 0 && w < ROWS_MIN_WORK; n = p->nodes[n].next) {
		if (p->nodes[n].kind == LN_FOR)
			w += p->nodes[n].extent * list_work(p, p->nodes[n].body);
		else if (p->nodes[n].kind != LN_NOTE)
			w++;
	}
	return w;
}

/* Whether fusing over A's d outer loops is worth it: at least one of them
 * makes rows (extent > 1), and A or B does a vector's worth of work a row. */
static bool worth_it(const LoopProgram *p, const Rows *a, const Rows *b, int d)
{
	bool rows = false;

	for (int j = 0; j < d; j++)
		rows |= p->nodes[a->loop[j]].extent > 1;
	return rows && (list_work(p, p->nodes[a->loop[d - 1]].body) >= ROWS_MIN_WORK ||
	                list_work(p, p->nodes[b->loop[d - 1]].body) >= ROWS_MIN_WORK);
}

/* Fuses node n of kernel k with the next top-level node when they qualify. */
static Status try_fuse(LoopProgram *p, int k, int n, bool *fused)
{
	int m = p->nodes[n].next;
	Rows a, b;

	*fused = false;
	if (m < 0 || p->nodes[n].kind != LN_FOR || p->nodes[m].kind != LN_FOR)
		return ST_OK;
	rows_of(p, n, &a);
	rows_of(p, m, &b);
	for (int d = shared_depth(p, &a, &b); d >= 1; d--) {
		bool ok;
		Status st;

		if (!worth_it(p, &a, &b, d))
			continue;
		st = fusable(p, &a, &b, d, &ok);
		if (st != ST_OK || ok) {
			*fused = st == ST_OK;
			return st == ST_OK ? fuse(p, k, &a, &b, d) : st;
		}
	}
	return ST_OK;
}

Status pass_fuse_rows(LoopProgram *p, int kernel)
{
	bool changed = true;

	nnac_assert(kernel >= 0 && kernel < p->nkernels);
	while (changed) {
		changed = false;
		for (int n = p->kernels[kernel].body; n >= 0; n = p->nodes[n].next) {
			bool fused = true;

			while (fused) {
				Status st = try_fuse(p, kernel, n, &fused);

				if (st != ST_OK)
					return st;
				changed |= fused;
			}
		}
	}
	return ST_OK;
}
