/*
 * Tiling transforms, part one: the tree helpers shared by passes/tile*.c,
 * loop_clone, split, reorder and the loop marks.
 *
 * Invariants every transform keeps: loops stay rectangular (constant start,
 * extent and step), a loop variable never shares its name with a loop that
 * encloses it or that it encloses, and an index expression only names loops
 * that enclose it.  Transforms check everything before they change anything,
 * so a refusal leaves the program exactly as it was.
 *
 * Node indices are stable: a transform moves nodes between lists and edits
 * them in place but never renumbers them, so a variable reference (the
 * index of its `for` node) stays valid through a reorder.  Builders may move
 * p->nodes and p->exprs, so no pointer into them is held across a builder
 * call.
 *
 * Reorder legality (conservative).  The band's iterations may run in any
 * order when, for every buffer accessed in the band (buffers sharing memory
 * through views count as one):
 *   - it is only read; or
 *   - it is written only as the accumulator of mac or reduce statements of
 *     one kind (sum: mac and reduce sum; max; min) and never read otherwise:
 *     the updates of one element commute, up to float rounding; or
 *   - it is written by other statements, and every access to it in the band
 *     goes through the same buffer with the same affine indices, which use
 *     every band loop of extent > 1 and are one-to-one over the loops they
 *     use (each variable in one dimension, and within a dimension the
 *     strides of a mixed radix: each larger than the span of the smaller
 *     ones): then each element is touched in one band iteration only.
 */
#include "tile.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Tree helpers. */

static void tree_walk(TileTree *t, const LoopProgram *p, int first, int parent, int k)
{
	int prev = -1;

	for (int n = first; n >= 0; n = p->nodes[n].next) {
		t->parent[n] = parent;
		t->prev[n] = prev;
		t->kernel[n] = k;
		if (p->nodes[n].kind == LN_FOR)
			tree_walk(t, p, p->nodes[n].body, n, k);
		prev = n;
	}
}

Status tile_tree_build(LoopProgram *p, TileTree *t)
{
	size_t n = (size_t)p->nnodes + 1;

	t->n = p->nnodes;
	t->parent = nnac_calloc(3 * n, sizeof(int));
	if (!t->parent)
		return diag_add(p->diag, ST_NOMEM, "%s: out of memory", p->path);
	t->prev = t->parent + n;
	t->kernel = t->prev + n;
	for (int i = 0; i < p->nnodes; i++)
		t->kernel[i] = -1;
	for (int k = 0; k < p->nkernels; k++)
		tree_walk(t, p, p->kernels[k].body, -1, k);
	return ST_OK;
}

void tile_tree_free(TileTree *t)
{
	nnac_free(t->parent);
	t->parent = t->prev = t->kernel = NULL;
}

int *tile_link_to(LoopProgram *p, const TileTree *t, int node)
{
	if (t->prev[node] >= 0)
		return &p->nodes[t->prev[node]].next;
	if (t->parent[node] >= 0)
		return &p->nodes[t->parent[node]].body;
	return &p->kernels[t->kernel[node]].body;
}

Status tile_refuse(LoopProgram *p, const TileTree *t, int node, Status st, const char *fmt, ...)
{
	char msg[512];
	const LoopNode *n;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (node < 0 || node >= t->n || t->kernel[node] < 0)
		return loop_error_at(p, 0, 0, st, "%s", msg);
	n = &p->nodes[node];
	if (n->kind == LN_FOR)
		return loop_error_at(p, n->line, n->col, st, "kernel '%s', loop '%s': %s",
		                     p->kernels[t->kernel[node]].name, n->var, msg);
	return loop_error_at(p, n->line, n->col, st, "kernel '%s': %s",
	                     p->kernels[t->kernel[node]].name, msg);
}

Status tile_check_for(LoopProgram *p, const TileTree *t, int node, const char *what)
{
	if (node < 0 || node >= t->n || p->nodes[node].kind != LN_FOR || t->kernel[node] < 0)
		return loop_error_at(p, 0, 0, ST_INVALID, "%s: node %d is not a loop of any kernel",
		                     what, node);
	return ST_OK;
}

/* Names. */

static const char *const reserved[] = {
	"level", "buf", "kernel", "data", "for", "in", "step", "spatial", "unroll", "view", "at",
	"input", "output", "const", "pad", "round", "even", "away", "sum", "max", "min", "inf",
	"nan",
};

static bool name_in_loops(const LoopProgram *p, int first, const char *s)
{
	for (int n = first; n >= 0; n = p->nodes[n].next) {
		if (p->nodes[n].kind != LN_FOR)
			continue;
		if (strcmp(p->nodes[n].var, s) == 0 || name_in_loops(p, p->nodes[n].body, s))
			return true;
	}
	return false;
}

static bool name_taken(LoopProgram *p, int k, const char *s)
{
	for (size_t i = 0; i < ARRAY_LEN(reserved); i++)
		if (strcmp(reserved[i], s) == 0)
			return true;
	for (int i = 0; i < LN_COUNT; i++)
		if (strcmp(loop_node_keyword((LoopNodeKind)i), s) == 0)
			return true;
	if (dtype_from_name(s) != DT_UNDEF || loop_find_buf(p, s) >= 0)
		return true;
	for (int i = 0; i < p->nkernels; i++)
		if (strcmp(p->kernels[i].name, s) == 0)
			return true;
	return name_in_loops(p, p->kernels[k].body, s);
}

const char *tile_var_name(LoopProgram *p, int k, const char *base)
{
	char *s = arena_printf(&p->arena, "%s", base);

	for (int i = 2; s && name_taken(p, k, s); i++)
		s = arena_printf(&p->arena, "%s_%d", base, i);
	if (!s)
		p->oom = true;
	return s;
}

/* References and expressions. */

static void each_ref_node(LoopProgram *p, int n, TileRefFn fn, void *cx)
{
	switch (p->nodes[n].kind) {
	case LN_FOR:
		tile_each_ref(p, p->nodes[n].body, true, fn, cx);
		return;
	case LN_NOTE:
		return;
	case LN_COPY:
	case LN_FILL:
	case LN_MAC:
	case LN_APPLY:
	case LN_REDUCE:
	case LN_QUANTIZE:
	case LN_DEQUANTIZE:
	case LN_REQUANTIZE:
		for (int a = 0; a < p->nodes[n].narg; a++)
			if (p->nodes[n].arg[a].buf >= 0)
				fn(p, n, a, cx);
		return;
	case LN_COUNT:
		break;
	}
	nnac_unreachable();
}

void tile_each_ref(LoopProgram *p, int first, bool siblings, TileRefFn fn, void *cx)
{
	for (int n = first; n >= 0; n = siblings ? p->nodes[n].next : -1)
		each_ref_node(p, n, fn, cx);
}

int tile_affine_expr(LoopProgram *p, const LoopAffine *a)
{
	int e = loop_const(p, a->c);

	for (int i = a->n - 1; i >= 0; i--) {
		if (a->coef[i] != 0)
			e = loop_add(p, loop_mul(p, a->coef[i], loop_var(p, a->var[i])), e);
	}
	return e < 0 ? -1 : loop_expr_simplify(p, e);
}

static bool expr_closed(const LoopProgram *p, int e)
{
	const LoopExpr *x = &p->exprs[e];

	if (x->kind == LE_VAR || x->kind == LE_LOAD)
		return false;
	return (x->a < 0 || expr_closed(p, x->a)) && (x->b < 0 || expr_closed(p, x->b));
}

/* e after a substitution: folded when constant, else simplified. */
int tile_tidy(LoopProgram *p, int e)
{
	if (e < 0)
		return -1;
	if (expr_closed(p, e))
		return p->exprs[e].kind == LE_CONST ? e : loop_const(p, loop_expr_eval(p, e, NULL));
	return loop_expr_simplify(p, e);
}

/* Clone. */

typedef struct CloneMap {
	int from, to;                /* for node -> expression */
	const struct CloneMap *up;   /* the map of the enclosing loops */
} CloneMap;

typedef struct CloneCx {
	int nsub;
	const int *from, *to;
} CloneCx;

static int clone_expr(LoopProgram *p, int e, const CloneCx *cx, const CloneMap *m)
{
	int r = e;

	for (; m; m = m->up)
		r = loop_expr_subst(p, r, m->from, m->to);
	for (int i = 0; i < cx->nsub && r >= 0; i++)
		r = loop_expr_subst(p, r, cx->from[i], cx->to[i]);
	return r == e ? e : tile_tidy(p, r);
}

static int dup_node(LoopProgram *p, int node)
{
	LoopNode n = p->nodes[node];
	int d;

	if (n.kind == LN_FOR)
		d = loop_new_for(p, n.var, n.start, n.extent, n.step);
	else if (n.kind == LN_NOTE)
		d = loop_new_note(p, n.text);
	else
		d = loop_new_stmt(p, n.kind);
	if (d < 0)
		return -1;
	n.var = p->nodes[d].var;
	n.text = p->nodes[d].text;
	n.next = -1;
	n.body = -1;
	p->nodes[d] = n;
	return d;
}

static int clone_rec(LoopProgram *p, int node, const CloneCx *cx, const CloneMap *m)
{
	int d = dup_node(p, node);

	if (d < 0)
		return -1;
	if (p->nodes[d].kind == LN_FOR) {
		CloneMap inner = { node, loop_var(p, d), m };
		int tail = -1;

		if (inner.to < 0)
			return -1;
		for (int c = p->nodes[node].body; c >= 0; c = p->nodes[c].next) {
			int cc = clone_rec(p, c, cx, &inner);

			if (cc < 0)
				return -1;
			if (tail < 0)
				p->nodes[d].body = cc;
			else
				p->nodes[tail].next = cc;
			tail = cc;
		}
		return d;
	}
	for (int a = 0; a < p->nodes[d].narg; a++) {
		for (int i = 0; i < p->nodes[d].arg[a].nidx; i++) {
			int e = clone_expr(p, p->nodes[d].arg[a].idx[i], cx, m);

			if (e < 0)
				return -1;
			p->nodes[d].arg[a].idx[i] = e;
		}
	}
	return d;
}

int loop_clone(LoopProgram *p, int node, int nsub, const int *from, const int *to)
{
	CloneCx cx = { nsub, from, to };
	int d = clone_rec(p, node, &cx, NULL);

	if (d < 0)
		p->oom = true;
	return d;
}

/* Split. */

typedef struct SubstCx {
	int v, r;
	bool failed;
} SubstCx;

static void subst_ref(LoopProgram *p, int n, int a, void *vcx)
{
	SubstCx *cx = vcx;

	for (int i = 0; i < p->nodes[n].arg[a].nidx; i++) {
		int e = p->nodes[n].arg[a].idx[i];

		if (!loop_expr_uses(p, e, cx->v))
			continue;
		e = tile_tidy(p, loop_expr_subst(p, e, cx->v, cx->r));
		if (e < 0)
			cx->failed = true;
		else
			p->nodes[n].arg[a].idx[i] = e;
	}
}

void tile_subst(LoopProgram *p, int first, bool siblings, int v, int r)
{
	SubstCx cx = { v, r, false };

	if (r < 0) {
		p->oom = true;
		return;
	}
	tile_each_ref(p, first, siblings, subst_ref, &cx);
	if (cx.failed)
		p->oom = true;
}

/* Copies of the list at first, with variable v replaced by expression r. */
static int clone_list(LoopProgram *p, int first, int v, int r)
{
	int head = -1, tail = -1;

	for (int n = first; n >= 0; n = p->nodes[n].next) {
		int c = loop_clone(p, n, 1, &v, &r);

		if (c < 0)
			return -1;
		if (tail < 0)
			head = c;
		else
			p->nodes[tail].next = c;
		tail = c;
	}
	return head;
}

static const char *suffixed(LoopProgram *p, int k, const char *var, const char *suffix)
{
	char *base = arena_printf(&p->arena, "%s%s", var, suffix);

	if (!base) {
		p->oom = true;
		return NULL;
	}
	return tile_var_name(p, k, base);
}

Status pass_split(LoopProgram *p, int for_node, int64_t tile, int *outer, int *inner)
{
	TileTree t;
	Status st = tile_tree_build(p, &t);
	LoopNode f;
	int64_t q, rem;
	const char *no, *ni, *nr = NULL;
	int in, r = -1, k, body;

	if (st != ST_OK)
		return st;
	if ((st = tile_check_for(p, &t, for_node, "split")) != ST_OK)
		goto out;
	f = p->nodes[for_node];
	if (tile < 1 || tile > f.extent) {
		st = tile_refuse(p, &t, for_node, ST_INVALID,
		                 "cannot split by %lld: the tile must lie in 1..%lld (the extent)",
		                 (long long)tile, (long long)f.extent);
		goto out;
	}
	q = f.extent / tile;
	rem = f.extent % tile;
	k = t.kernel[for_node];
	no = suffixed(p, k, f.var, "o");
	ni = no ? suffixed(p, k, f.var, "i") : NULL;
	if (ni && rem > 0)
		nr = suffixed(p, k, f.var, "r");
	if (!ni || (rem > 0 && !nr))
		goto oom;
	in = loop_new_for(p, ni, 0, tile, f.step);
	if (in < 0)
		goto oom;
	if (rem > 0) {
		r = loop_new_for(p, nr, f.start + q * tile * f.step, rem, f.step);
		if (r < 0)
			goto oom;
		p->nodes[r].flags = f.flags;
		/* clone_list may move p->nodes: no pointer into it across the call */
		body = clone_list(p, f.body, for_node, loop_var(p, r));
		if (f.body >= 0 && body < 0)
			goto oom;
		p->nodes[r].body = body;
	}
	tile_subst(p, f.body, true, for_node, loop_add(p, loop_var(p, for_node), loop_var(p, in)));
	if (p->oom)
		goto oom;
	p->nodes[in].body = f.body;
	p->nodes[for_node].body = in;
	p->nodes[for_node].var = no;
	p->nodes[for_node].extent = q;
	p->nodes[for_node].step = tile * f.step;
	if (r >= 0) {
		p->nodes[r].next = f.next;
		p->nodes[for_node].next = r;
	}
	if (outer)
		*outer = for_node;
	if (inner)
		*inner = in;
	goto out;
oom:
	st = loop_oom(p);
out:
	tile_tree_free(&t);
	return st;
}

/* Reorder: legality. */

typedef enum Role { ROLE_READ, ROLE_WRITE, ROLE_ACC } Role;

typedef struct Access {
	int node, arg;
	int root;            /* the buffer whose memory is accessed */
	Role role;
	int combine;         /* ROLE_ACC: LR_SUM, LR_MAX, LR_MIN or LR_PROD */
} Access;

typedef struct BandCx {
	Access *acc;
	int n, cap;
	bool oom;
} BandCx;

int tile_buf_root(const LoopProgram *p, int b)
{
	while (p->bufs[b].view_of >= 0)
		b = p->bufs[b].view_of;
	return b;
}

bool tile_same_loop(const LoopProgram *p, int x, int y)
{
	const LoopNode *a = &p->nodes[x], *b = &p->nodes[y];

	return a->start == b->start && a->extent == b->extent && a->step == b->step && a->flags == b->flags;
}

bool tile_same_affine(const LoopAffine *x, const LoopAffine *y)
{
	if (x->n != y->n || x->c != y->c)
		return false;
	for (int i = 0; i < x->n; i++) {
		bool found = false;

		for (int j = 0; j < y->n && !found; j++)
			found = x->var[i] == y->var[j] && x->coef[i] == y->coef[j];
		if (!found)
			return false;
	}
	return true;
}

static Role arg_role(const LoopNode *n, int a, int *combine)
{
	*combine = LR_SUM;
	if (a > 0)
		return ROLE_READ;
	switch (n->kind) {
	case LN_MAC:
		return ROLE_ACC;
	case LN_REDUCE:
		*combine = (int)n->red;
		return ROLE_ACC;
	case LN_COPY:
	case LN_FILL:
	case LN_APPLY:
	case LN_QUANTIZE:
	case LN_DEQUANTIZE:
	case LN_REQUANTIZE:
		return ROLE_WRITE;
	case LN_FOR:
	case LN_NOTE:
	case LN_COUNT:
		break;
	}
	nnac_unreachable();
}

static void collect_access(LoopProgram *p, int n, int a, void *vcx)
{
	BandCx *cx = vcx;
	Access *x;

	if (cx->n == cx->cap) {
		int cap = cx->cap ? 2 * cx->cap : 32;
		Access *m = nnac_realloc(cx->acc, (size_t)cap * sizeof(Access));

		if (!m) {
			cx->oom = true;
			return;
		}
		cx->acc = m;
		cx->cap = cap;
	}
	x = &cx->acc[cx->n++];
	x->node = n;
	x->arg = a;
	x->root = tile_buf_root(p, p->nodes[n].arg[a].buf);
	x->role = arg_role(&p->nodes[n], a, &x->combine);
}

typedef struct Stride {
	int64_t w;           /* |coefficient * step| */
	int64_t n;           /* extent */
} Stride;

static int stride_cmp(const void *a, const void *b)
{
	const Stride *x = a, *y = b;

	return (x->w > y->w) - (x->w < y->w);
}

/* Whether coef*v over local loops (local[v]) is one-to-one on the box, each
 * loop of extent > 1 used in one dimension, and every band loop used. */
static bool one_to_one(const LoopProgram *p, const LoopAffine *idx, int rank, const char *local,
                       const int *band, int nband)
{
	int used_in[LOOP_MAX_TERMS * MAX_RANK];
	int nused = 0;

	for (int d = 0; d < rank; d++) {
		Stride s[LOOP_MAX_TERMS];
		int ns = 0;
		int64_t span = 0;

		for (int i = 0; i < idx[d].n; i++) {
			const LoopNode *v = &p->nodes[idx[d].var[i]];

			if (!local[idx[d].var[i]] || v->extent == 1)
				continue;
			for (int j = 0; j < nused; j++)
				if (used_in[j] == idx[d].var[i])
					return false;
			used_in[nused++] = idx[d].var[i];
			s[ns].w = llabs(idx[d].coef[i] * v->step);
			s[ns++].n = v->extent;
		}
		qsort(s, (size_t)ns, sizeof(s[0]), stride_cmp);
		for (int i = 0; i < ns; i++) {
			if (s[i].w <= span)
				return false;
			span += s[i].w * (s[i].n - 1);
		}
	}
	for (int b = 0; b < nband; b++) {
		bool found = p->nodes[band[b]].extent == 1;

		for (int j = 0; j < nused && !found; j++)
			found = used_in[j] == band[b];
		if (!found)
			return false;
	}
	return true;
}

static bool arg_affine(const LoopProgram *p, const LoopArg *a, LoopAffine *out)
{
	for (int i = 0; i < a->nidx; i++)
		if (!loop_expr_affine(p, a->idx[i], &out[i]))
			return false;
	return true;
}

/* Checks the accesses to one root buffer (those of acc[] with that root). */
static Status check_root(LoopProgram *p, const TileTree *t, int outer, const BandCx *cx, int root,
                         const char *local, const int *band, int nband)
{
	const Access *w = NULL;
	bool has_acc = false;
	LoopAffine ref[MAX_RANK], cur[MAX_RANK];
	const LoopArg *ra;

	for (int i = 0; i < cx->n; i++) {
		if (cx->acc[i].root != root)
			continue;
		if (cx->acc[i].role == ROLE_ACC)
			has_acc = true;
		if (cx->acc[i].role == ROLE_WRITE && !w)
			w = &cx->acc[i];
	}
	if (has_acc) {
		int combine = -1;

		for (int i = 0; i < cx->n; i++) {
			const Access *x = &cx->acc[i];

			if (x->root != root)
				continue;
			if (combine < 0 && x->role == ROLE_ACC)
				combine = x->combine;
			if (x->role != ROLE_ACC || (combine >= 0 && x->combine != combine))
				return tile_refuse(p, t, outer, ST_UNSUPPORTED,
				                   "cannot reorder: '%s' is accumulated in the band and "
				                   "also read, written or combined differently there",
				                   p->bufs[root].name);
		}
		return ST_OK;
	}
	if (!w)
		return ST_OK;
	ra = &p->nodes[w->node].arg[w->arg];
	if (!arg_affine(p, ra, ref) || !one_to_one(p, ref, ra->nidx, local, band, nband))
		return tile_refuse(p, t, outer, ST_UNSUPPORTED,
		                   "cannot reorder: the band writes '%s' at indices that are not "
		                   "one-to-one over its loops", p->bufs[ra->buf].name);
	for (int i = 0; i < cx->n; i++) {
		const LoopArg *a = &p->nodes[cx->acc[i].node].arg[cx->acc[i].arg];
		bool same;

		if (cx->acc[i].root != root)
			continue;
		same = a->buf == ra->buf && arg_affine(p, a, cur);
		for (int d = 0; same && d < a->nidx; d++)
			same = tile_same_affine(&ref[d], &cur[d]);
		if (!same)
			return tile_refuse(p, t, outer, ST_UNSUPPORTED,
			                   "cannot reorder: '%s' is written in the band and accessed "
			                   "there at other indices", p->bufs[ra->buf].name);
	}
	return ST_OK;
}

static void mark_local(const LoopProgram *p, int first, char *local)
{
	for (int n = first; n >= 0; n = p->nodes[n].next) {
		if (p->nodes[n].kind != LN_FOR)
			continue;
		local[n] = 1;
		mark_local(p, p->nodes[n].body, local);
	}
}

static Status check_band(LoopProgram *p, const TileTree *t, const int *band, int nband)
{
	BandCx cx = { NULL, 0, 0, false };
	char *local = nnac_calloc((size_t)p->nnodes + 1, 1);
	Status st = ST_OK;
	int inner = p->nodes[band[nband - 1]].body;

	if (!local)
		return diag_add(p->diag, ST_NOMEM, "%s: out of memory", p->path);
	for (int b = 0; b < nband; b++)
		local[band[b]] = 1;
	mark_local(p, inner, local);
	tile_each_ref(p, inner, true, collect_access, &cx);
	if (cx.oom)
		st = diag_add(p->diag, ST_NOMEM, "%s: out of memory", p->path);
	for (int i = 0; i < cx.n && st == ST_OK; i++) {
		bool seen = false;

		for (int j = 0; j < i && !seen; j++)
			seen = cx.acc[j].root == cx.acc[i].root;
		if (!seen)
			st = check_root(p, t, band[0], &cx, cx.acc[i].root, local, band, nband);
	}
	nnac_free(cx.acc);
	nnac_free(local);
	return st;
}

/* Reorder. */

static Status check_perm(LoopProgram *p, const TileTree *t, int outer, const int *perm, int n)
{
	unsigned seen = 0;

	if (n < 1 || n > 30)
		return tile_refuse(p, t, outer, ST_INVALID, "cannot reorder a band of %d loops", n);
	for (int j = 0; j < n; j++) {
		if (perm[j] < 0 || perm[j] >= n || (seen & (1u << perm[j])))
			return tile_refuse(p, t, outer, ST_INVALID,
			                   "cannot reorder: the order is not a permutation of 0..%d",
			                   n - 1);
		seen |= 1u << perm[j];
	}
	return ST_OK;
}

/* The band of n loops from outer into band[]; refuses when not perfect. */
static Status find_band(LoopProgram *p, const TileTree *t, int outer, int n, int *band)
{
	band[0] = outer;
	for (int j = 1; j < n; j++) {
		int b = p->nodes[band[j - 1]].body;

		if (b < 0 || p->nodes[b].kind != LN_FOR || p->nodes[b].next >= 0)
			return tile_refuse(p, t, outer, ST_UNSUPPORTED,
			                   "cannot reorder %d loops: the body of loop '%s' is not "
			                   "exactly one loop", n, p->nodes[band[j - 1]].var);
		band[j] = b;
	}
	return ST_OK;
}

Status pass_reorder(LoopProgram *p, int outer_for, const int *perm, int n)
{
	TileTree t;
	Status st = tile_tree_build(p, &t);
	int band[30];
	int next, inner, *link;

	if (st != ST_OK)
		return st;
	if ((st = tile_check_for(p, &t, outer_for, "reorder")) != ST_OK ||
	    (st = check_perm(p, &t, outer_for, perm, n)) != ST_OK ||
	    (st = find_band(p, &t, outer_for, n, band)) != ST_OK ||
	    (st = check_band(p, &t, band, n)) != ST_OK)
		goto out;
	next = p->nodes[band[0]].next;
	inner = p->nodes[band[n - 1]].body;
	link = tile_link_to(p, &t, band[0]);
	*link = band[perm[0]];
	for (int j = 0; j < n; j++) {
		p->nodes[band[perm[j]]].next = j == 0 ? next : -1;
		p->nodes[band[perm[j]]].body = j + 1 < n ? band[perm[j + 1]] : inner;
	}
out:
	tile_tree_free(&t);
	return st;
}

/* Marks. */

static Status set_flag(LoopProgram *p, int for_node, unsigned flag, bool on, const char *what)
{
	TileTree t;
	Status st = tile_tree_build(p, &t);

	if (st != ST_OK)
		return st;
	st = tile_check_for(p, &t, for_node, what);
	if (st == ST_OK) {
		if (on)
			p->nodes[for_node].flags |= flag;
		else
			p->nodes[for_node].flags &= ~flag;
	}
	tile_tree_free(&t);
	return st;
}

Status pass_set_spatial(LoopProgram *p, int for_node, bool on)
{
	return set_flag(p, for_node, LF_SPATIAL, on, "set_spatial");
}

Status pass_set_unroll(LoopProgram *p, int for_node, bool on)
{
	return set_flag(p, for_node, LF_UNROLL, on, "set_unroll");
}
