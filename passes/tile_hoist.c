/*
 * Tiling transforms, part two: hoisting a tile into a faster memory level
 * and double-buffering it.
 *
 * Hoist.  The body of loop F touches, in one iteration, a box of buffer B:
 * every reference to B in the body must have affine indices whose terms on
 * the variables bound outside the body (F and the loops around it) are the
 * same for all references, dimension by dimension.  Those terms are the
 * tile's origin; the range of the rest (the body's own loops and the
 * constant) over all references is the tile.  The hoist makes a kernel
 * buffer L of the tile's shape at the requested level and rewrites
 *
 *     for F { body(B[origin + j]) }
 * into
 *     for F { copy L[t] = B[origin + t]     (copy-in, when the body reads B)
 *             body(L[j])
 *             copy B[origin + t] = L[t] }   (copy-out, when it writes B)
 *
 * An accumulator (a mac or reduce target) is both read and written: the
 * copy-in refills the partial sums and the copy-out spills them, which is
 * the traffic the dataflow cost model counts.  A body that writes B without
 * reading it still gets a copy-in unless one of its writes covers the whole
 * tile (the copy-out writes back every element of L).  The copy loops are
 * left out for dimensions of extent 1.
 *
 * Double buffering.  L gets a leading dimension of 2; iteration k uses slot
 * k%2 and the copy-in of iteration k+1 runs at the start of iteration k,
 * into the other slot, before the compute of iteration k:
 *
 *     copy-in(F=start) -> L[0]                         prologue
 *     for F in start..last step s {                    (one iteration less)
 *         copy-in(F + s) -> L[((F - start)/s + 1)%2]
 *         body with L[(F - start)/s%2], copy-out
 *     }
 *     body and copy-out with F = last, L[(extent-1)%2]  the last iteration, peeled
 *
 * The interpreter runs this sequentially, so the results are those of the
 * single-buffered program provided the copy-in of iteration k+1 never reads
 * what the copy-out of iteration k writes: with a copy-out, some dimension
 * must separate the two tiles.
 */
#include "tile.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static int64_t level_used(const LoopProgram *p, int kernel, int level)
{
	int64_t used = 0;

	for (int b = 0; b < p->nbufs; b++)
		if (p->bufs[b].kernel == kernel && p->bufs[b].level == level && p->bufs[b].view_of < 0)
			used += loop_buf_bytes(&p->bufs[b]);
	return used;
}

/* The affine terms of a on the variables marked in outer (o) and the rest. */
static void affine_split(const LoopAffine *a, const char *outer, LoopAffine *o, LoopAffine *in)
{
	o->n = in->n = 0;
	o->c = 0;
	in->c = a->c;
	for (int i = 0; i < a->n; i++) {
		LoopAffine *to = outer[a->var[i]] ? o : in;

		to->var[to->n] = a->var[i];
		to->coef[to->n++] = a->coef[i];
	}
}

static bool same_terms(const LoopAffine *a, const LoopAffine *b)
{
	if (a->n != b->n)
		return false;
	for (int i = 0; i < a->n; i++)
		if (a->var[i] != b->var[i] || a->coef[i] != b->coef[i])
			return false;
	return true;
}

/* The exact range of an affine expression over its loops' values. */
static void affine_span(const LoopProgram *p, const LoopAffine *a, int64_t *min, int64_t *max)
{
	*min = *max = a->c;
	for (int i = 0; i < a->n; i++) {
		const LoopNode *v = &p->nodes[a->var[i]];
		int64_t lo = a->coef[i] * v->start;
		int64_t hi = a->coef[i] * (v->start + (v->extent - 1) * v->step);

		*min += lo < hi ? lo : hi;
		*max += lo < hi ? hi : lo;
	}
}

/* Hoist: the references to the buffer in the body. */

typedef struct Ref {
	int node, arg;
} Ref;

typedef struct HoistCx {
	int buf, root;
	Ref *ref;
	int nref, cap;
	bool reads, writes, oom;
	int alias;           /* another buffer sharing buf's memory, or -1 */
	int npad;            /* padded copies reading buf */
	LoopLit pad;
	bool pad_differs;
} HoistCx;

static void hoist_collect(LoopProgram *p, int n, int a, void *vcx)
{
	HoistCx *cx = vcx;
	const LoopNode *s = &p->nodes[n];
	int b = s->arg[a].buf;

	if (b != cx->buf) {
		if (tile_buf_root(p, b) == cx->root)
			cx->alias = b;
		return;
	}
	if (cx->nref == cx->cap) {
		int cap = cx->cap ? 2 * cx->cap : 16;
		Ref *m = nnac_realloc(cx->ref, (size_t)cap * sizeof(Ref));

		if (!m) {
			cx->oom = true;
			return;
		}
		cx->ref = m;
		cx->cap = cap;
	}
	cx->ref[cx->nref].node = n;
	cx->ref[cx->nref++].arg = a;
	if (a > 0 || s->kind == LN_MAC || s->kind == LN_REDUCE)
		cx->reads = true;
	if (a == 0)
		cx->writes = true;
	if (s->kind == LN_COPY && a == 1 && s->has_pad) {
		if (cx->npad++ > 0 && (cx->pad.is_float != s->pad.is_float || cx->pad.i != s->pad.i ||
		                       memcmp(&cx->pad.f, &s->pad.f, sizeof(double)) != 0))
			cx->pad_differs = true;
		cx->pad = s->pad;
	}
}

/* The tile: per dimension, origin terms (on outer loops), first element
 * relative to the origin, and extent. */
typedef struct Tile {
	int rank;
	LoopAffine origin[MAX_RANK];
	int64_t base[MAX_RANK], ext[MAX_RANK];
} Tile;

static Status tile_of(LoopProgram *p, const TileTree *t, int f, const HoistCx *cx,
                      const char *outer, Tile *tl)
{
	const LoopBuf *b = &p->bufs[cx->buf];
	int64_t hi[MAX_RANK];

	tl->rank = b->rank;
	for (int r = 0; r < cx->nref; r++) {
		const LoopArg *a = &p->nodes[cx->ref[r].node].arg[cx->ref[r].arg];

		for (int d = 0; d < b->rank; d++) {
			LoopAffine full, o, in;
			int64_t mn, mx;

			if (!loop_expr_affine(p, a->idx[d], &full))
				return tile_refuse(p, t, f, ST_UNSUPPORTED,
				                   "cannot hoist '%s': index %d is not affine", b->name, d);
			affine_split(&full, outer, &o, &in);
			affine_span(p, &in, &mn, &mx);
			if (o.n == LOOP_MAX_TERMS)
				return tile_refuse(p, t, f, ST_UNSUPPORTED, "cannot hoist '%s': index %d "
				                   "uses %d outer loops", b->name, d, o.n);
			if (r > 0 && !same_terms(&o, &tl->origin[d]))
				return tile_refuse(p, t, f, ST_UNSUPPORTED,
				                   "cannot hoist '%s': index %d moves differently with the "
				                   "outer loops in different references", b->name, d);
			if (r == 0) {
				tl->origin[d] = o;
				tl->base[d] = mn;
				hi[d] = mx;
			}
			tl->base[d] = mn < tl->base[d] ? mn : tl->base[d];
			hi[d] = mx > hi[d] ? mx : hi[d];
		}
	}
	for (int d = 0; d < b->rank; d++) {
		tl->ext[d] = hi[d] - tl->base[d] + 1;
		tl->origin[d].c = tl->base[d];
	}
	return ST_OK;
}

static int stride_cmp(const void *x, const void *y)
{
	const int64_t *a = x, *b = y;

	return (a[0] > b[0]) - (a[0] < b[0]);
}

/* Whether reference a (a plain write) writes every element of the tile:
 * each loop of the body in one dimension, the strides of each dimension
 * dense (1, n0, n0*n1 ...), and the range that of the tile. */
static bool covers(const LoopProgram *p, const LoopArg *a, const char *outer, const Tile *tl)
{
	int seen[LOOP_MAX_TERMS * MAX_RANK], nseen = 0;

	for (int d = 0; d < tl->rank; d++) {
		LoopAffine full, o, in;
		int64_t s[LOOP_MAX_TERMS][2], mn, mx, span = 0;
		int ns = 0;

		if (!loop_expr_affine(p, a->idx[d], &full))
			return false;
		affine_split(&full, outer, &o, &in);
		affine_span(p, &in, &mn, &mx);
		if (mn != tl->base[d] || mx - mn + 1 != tl->ext[d])
			return false;
		for (int i = 0; i < in.n; i++) {
			const LoopNode *v = &p->nodes[in.var[i]];

			if (v->extent == 1)
				continue;
			for (int j = 0; j < nseen; j++)
				if (seen[j] == in.var[i])
					return false;
			seen[nseen++] = in.var[i];
			s[ns][0] = llabs(in.coef[i] * v->step);
			s[ns++][1] = v->extent;
		}
		qsort(s, (size_t)ns, sizeof(s[0]), stride_cmp);
		for (int i = 0; i < ns; i++) {
			if (s[i][0] != span + 1)
				return false;
			span += s[i][0] * (s[i][1] - 1);
		}
	}
	return true;
}

static bool some_write_covers(const LoopProgram *p, const HoistCx *cx, const char *outer,
                              const Tile *tl)
{
	for (int r = 0; r < cx->nref; r++) {
		const LoopNode *s = &p->nodes[cx->ref[r].node];

		if (cx->ref[r].arg == 0 && s->kind != LN_MAC && s->kind != LN_REDUCE &&
		    covers(p, &s->arg[0], outer, tl))
			return true;
	}
	return false;
}

/* The loops bound outside f's body: f and the loops around it. */
static char *outer_loops(LoopProgram *p, const TileTree *t, int f)
{
	char *outer = nnac_calloc((size_t)p->nnodes + 1, 1);

	if (!outer)
		return NULL;
	for (int v = f; v >= 0; v = t->parent[v])
		outer[v] = 1;
	return outer;
}

/* Hoist: building. */

static void copy_names(LoopProgram *p, int k, const char *bufname, int rank, const char **names)
{
	char c = 't';

	for (const char *s = bufname; *s; s++) {
		if (isalpha((unsigned char)*s)) {
			c = (char)tolower((unsigned char)*s);
			break;
		}
	}
	for (int d = 0; d < rank; d++) {
		char base[16];

		snprintf(base, sizeof(base), "%c%d", c, d);
		names[d] = tile_var_name(p, k, base);
	}
}

/* copy L[t] = B[origin + t] (in) or B[origin + t] = L[t] (out), inside
 * loops over t for the dimensions of extent > 1. */
static int copy_nest(LoopProgram *p, const Tile *tl, int buf, int local, bool in,
                     const HoistCx *cx, const char *const *names)
{
	int loops[MAX_RANK], nl = 0, gidx[MAX_RANK], lidx[MAX_RANK];
	int s = loop_new_stmt(p, LN_COPY), head;

	for (int d = 0; d < tl->rank; d++) {
		LoopAffine g = tl->origin[d];

		lidx[d] = loop_const(p, 0);
		if (tl->ext[d] > 1) {
			loops[nl] = loop_new_for(p, names[d], 0, tl->ext[d], 1);
			if (loops[nl] < 0)
				return -1;
			lidx[d] = loop_var(p, loops[nl]);
			g.var[g.n] = loops[nl++];
			g.coef[g.n++] = 1;
		}
		gidx[d] = tile_affine_expr(p, &g);
	}
	if (s < 0)
		return -1;
	loop_push_arg(p, s, loop_ref(in ? local : buf, tl->rank, in ? lidx : gidx));
	loop_push_arg(p, s, loop_ref(in ? buf : local, tl->rank, in ? gidx : lidx));
	if (in && cx->npad > 0) {
		p->nodes[s].has_pad = true;
		p->nodes[s].pad = cx->pad;
	}
	head = s;
	for (int j = nl - 1; j >= 0; j--) {
		p->nodes[loops[j]].body = head;
		head = loops[j];
	}
	return p->oom ? -1 : head;
}

static void rewrite_refs(LoopProgram *p, const HoistCx *cx, const char *outer, const Tile *tl,
                         int local)
{
	for (int r = 0; r < cx->nref; r++) {
		int n = cx->ref[r].node, a = cx->ref[r].arg;

		for (int d = 0; d < tl->rank; d++) {
			LoopAffine full, o, in;
			int e;

			loop_expr_affine(p, p->nodes[n].arg[a].idx[d], &full);
			affine_split(&full, outer, &o, &in);
			in.c -= tl->base[d];
			e = tile_affine_expr(p, &in);
			if (e < 0) {
				p->oom = true;
				return;
			}
			p->nodes[n].arg[a].idx[d] = e;
		}
		p->nodes[n].arg[a].buf = local;
	}
}

static Status hoist_check(LoopProgram *p, const TileTree *t, int f, int buf, int level)
{
	if (buf < 0 || buf >= p->nbufs ||
	    (p->bufs[buf].kernel >= 0 && p->bufs[buf].kernel != t->kernel[f]))
		return tile_refuse(p, t, f, ST_INVALID, "cannot hoist buffer %d: not a buffer of "
		                   "this kernel", buf);
	if (level < 0 || level >= p->nlevels)
		return tile_refuse(p, t, f, ST_INVALID, "cannot hoist '%s' to level %d: no such "
		                   "level", p->bufs[buf].name, level);
	return ST_OK;
}

static Status hoist_legal(LoopProgram *p, const TileTree *t, int f, const HoistCx *cx)
{
	const char *name = p->bufs[cx->buf].name;

	if (cx->nref == 0)
		return tile_refuse(p, t, f, ST_UNSUPPORTED, "cannot hoist '%s': the body does not "
		                   "use it", name);
	if (cx->alias >= 0)
		return tile_refuse(p, t, f, ST_UNSUPPORTED, "cannot hoist '%s': the body also uses "
		                   "'%s', which shares its memory", name, p->bufs[cx->alias].name);
	if (cx->npad > 0 && (cx->writes || cx->pad_differs))
		return tile_refuse(p, t, f, ST_UNSUPPORTED, "cannot hoist '%s': it is read through "
		                   "padded copies and also written, or padded with different "
		                   "values", name);
	return ST_OK;
}

static Status hoist_fits(LoopProgram *p, const TileTree *t, int f, int buf, int level,
                         const Tile *tl)
{
	const LoopLevel *l = &p->levels[level];
	int64_t bytes = dtype_size(p->bufs[buf].dt), used = level_used(p, t->kernel[f], level);

	for (int d = 0; d < tl->rank; d++)
		bytes *= tl->ext[d];
	if (l->capacity > 0 && used + bytes > l->capacity)
		return tile_refuse(p, t, f, ST_UNSUPPORTED,
		                   "cannot hoist '%s': its tile (%lld bytes) does not fit level '%s' "
		                   "(%lld of %lld bytes in use)", p->bufs[buf].name, (long long)bytes,
		                   l->name, (long long)used, (long long)l->capacity);
	return ST_OK;
}

static Status hoist_build(LoopProgram *p, int f, int buf, int level, int k, const HoistCx *cx,
                          const char *outer, const Tile *tl, int *local)
{
	bool in = cx->reads || !some_write_covers(p, cx, outer, tl);
	const char *names[MAX_RANK];
	char *base = arena_printf(&p->arena, "%s_%s", p->bufs[buf].name, p->levels[level].name);
	const char *name = base ? loop_unique_name(p, base) : NULL;
	int l, cin = -1, cout = -1, *at;

	copy_names(p, k, p->bufs[buf].name, tl->rank, names);
	if (!name || p->oom)
		return loop_oom(p);
	l = loop_add_buf(p, name, p->bufs[buf].dt, tl->rank, tl->ext, level, k);
	if (l < 0)
		return loop_oom(p);
	if (in && (cin = copy_nest(p, tl, buf, l, true, cx, names)) < 0)
		return loop_oom(p);
	if (cx->writes && (cout = copy_nest(p, tl, buf, l, false, cx, names)) < 0)
		return loop_oom(p);
	rewrite_refs(p, cx, outer, tl, l);
	if (p->oom)
		return loop_oom(p);
	at = &p->nodes[f].body;
	if (cin >= 0) {
		p->nodes[cin].next = *at;
		*at = cin;
	}
	while (*at >= 0)
		at = &p->nodes[*at].next;
	*at = cout;
	*local = l;
	return ST_OK;
}

Status pass_hoist(LoopProgram *p, int for_node, int buf, int level, int *local)
{
	TileTree t;
	Status st = tile_tree_build(p, &t);
	HoistCx cx = { .buf = buf, .alias = -1 };
	char *outer = NULL;
	Tile tl;

	if (st != ST_OK)
		return st;
	if ((st = tile_check_for(p, &t, for_node, "hoist")) != ST_OK ||
	    (st = hoist_check(p, &t, for_node, buf, level)) != ST_OK)
		goto out;
	cx.root = tile_buf_root(p, buf);
	outer = outer_loops(p, &t, for_node);
	if (outer)
		tile_each_ref(p, p->nodes[for_node].body, true, hoist_collect, &cx);
	if (!outer || cx.oom) {
		st = diag_add(p->diag, ST_NOMEM, "%s: out of memory", p->path);
		goto out;
	}
	if ((st = hoist_legal(p, &t, for_node, &cx)) != ST_OK ||
	    (st = tile_of(p, &t, for_node, &cx, outer, &tl)) != ST_OK ||
	    (st = hoist_fits(p, &t, for_node, buf, level, &tl)) != ST_OK)
		goto out;
	st = hoist_build(p, for_node, buf, level, t.kernel[for_node], &cx, outer, &tl, local);
out:
	nnac_free(outer);
	nnac_free(cx.ref);
	tile_tree_free(&t);
	return st;
}

/* Double buffering: finding the copies. */

/* The copy statement of a copy nest (a copy, or loops each holding only the
 * next, down to one copy), or -1. */
static int nest_copy(const LoopProgram *p, int n)
{
	while (p->nodes[n].kind == LN_FOR) {
		n = p->nodes[n].body;
		if (n < 0 || p->nodes[n].next >= 0)
			return -1;
	}
	return p->nodes[n].kind == LN_COPY ? n : -1;
}

typedef struct DbufCx {
	int f, local, cin;   /* the copy-in nest (a node of f's body) */
	int src;             /* the buffer it reads */
	int cout[8], ncout;  /* copy-out nests writing src back from local */
} DbufCx;

static Status find_copy_in(LoopProgram *p, const TileTree *t, DbufCx *cx)
{
	const char *name = p->bufs[cx->local].name;

	cx->cin = -1;
	for (int n = p->nodes[cx->f].body; n >= 0; n = p->nodes[n].next) {
		int s = nest_copy(p, n);

		if (s < 0)
			break;
		if (p->nodes[s].arg[0].buf == cx->local) {
			cx->cin = n;
			cx->src = p->nodes[s].arg[1].buf;
			break;
		}
	}
	if (cx->cin < 0 || cx->src < 0)
		return tile_refuse(p, t, cx->f, ST_UNSUPPORTED, "cannot double-buffer '%s': the "
		                   "body does not start with a copy-in of it", name);
	cx->ncout = 0;
	for (int n = p->nodes[cx->f].body; n >= 0; n = p->nodes[n].next) {
		int s = n == cx->cin ? -1 : nest_copy(p, n);

		if (s < 0 || p->nodes[s].arg[1].buf != cx->local ||
		    tile_buf_root(p, p->nodes[s].arg[0].buf) != tile_buf_root(p, cx->src))
			continue;
		if (p->nodes[s].arg[0].buf != cx->src || cx->ncout == (int)ARRAY_LEN(cx->cout))
			return tile_refuse(p, t, cx->f, ST_UNSUPPORTED, "cannot double-buffer '%s': "
			                   "it is copied out to a buffer other than '%s'", name,
			                   p->bufs[cx->src].name);
		cx->cout[cx->ncout++] = n;
	}
	return ST_OK;
}

typedef struct CountCx {
	int buf, root;
	int nbuf, nroot;
} CountCx;

static void count_ref(LoopProgram *p, int n, int a, void *vcx)
{
	CountCx *cx = vcx;
	int b = p->nodes[n].arg[a].buf;

	cx->nbuf += b == cx->buf;
	cx->nroot += cx->root >= 0 && tile_buf_root(p, b) == cx->root;
}

static CountCx count_refs(LoopProgram *p, int first, bool siblings, int buf, int root)
{
	CountCx cx = { buf, root, 0, 0 };

	tile_each_ref(p, first, siblings, count_ref, &cx);
	return cx;
}

/* Tile rows: for one dimension of a copy reference, the coefficient of f,
 * the terms on loops outside f, and the range of the rest. */
typedef struct Span {
	int64_t coef_f, lo, hi;
	LoopAffine around;
} Span;

static bool span_of(const LoopProgram *p, int e, int f, const char *outer, Span *s)
{
	LoopAffine full, in;

	if (!loop_expr_affine(p, e, &full))
		return false;
	affine_split(&full, outer, &s->around, &in);
	s->coef_f = 0;
	for (int i = 0; i < s->around.n; i++) {
		if (s->around.var[i] != f)
			continue;
		s->coef_f = s->around.coef[i];
		s->around.coef[i] = 0;
	}
	affine_span(p, &in, &s->lo, &s->hi);
	return true;
}

/* *apart: whether the copy-in of iteration k+1 reads nothing the copy-out
 * nest at cout writes in iteration k (some dimension separates the two
 * boxes); ST_NOMEM when that cannot be worked out for lack of memory. */
static Status tiles_apart(LoopProgram *p, const TileTree *t, const DbufCx *cx, int cout,
                          bool *apart)
{
	const LoopArg *rd = &p->nodes[nest_copy(p, cx->cin)].arg[1];
	const LoopArg *wr = &p->nodes[nest_copy(p, cout)].arg[0];
	char *outer = outer_loops(p, t, cx->f);
	int64_t step = p->nodes[cx->f].step;

	*apart = false;
	if (!outer)
		return diag_add(p->diag, ST_NOMEM, "%s: out of memory", p->path);
	for (int d = 0; d < rd->nidx && !*apart; d++) {
		Span a, b;

		if (!span_of(p, rd->idx[d], cx->f, outer, &a) || !span_of(p, wr->idx[d], cx->f, outer, &b))
			break;
		if (a.coef_f != b.coef_f || !same_terms(&a.around, &b.around))
			continue;
		*apart = a.hi + a.coef_f * step < b.lo || a.lo + a.coef_f * step > b.hi;
	}
	nnac_free(outer);
	return ST_OK;
}

static Status dbuf_legal(LoopProgram *p, const TileTree *t, DbufCx *cx)
{
	const LoopBuf *l = &p->bufs[cx->local];
	int k = t->kernel[cx->f];
	CountCx all = count_refs(p, p->kernels[k].body, true, cx->local, -1);
	CountCx body = count_refs(p, p->nodes[cx->f].body, true, cx->local, tile_buf_root(p, cx->src));
	const LoopLevel *lv = &p->levels[l->level];

	if (all.nbuf != body.nbuf)
		return tile_refuse(p, t, cx->f, ST_UNSUPPORTED, "cannot double-buffer '%s': it is "
		                   "used outside the loop", l->name);
	if (body.nroot != 1 + cx->ncout)
		return tile_refuse(p, t, cx->f, ST_UNSUPPORTED, "cannot double-buffer '%s': the body "
		                   "also uses '%s' directly", l->name, p->bufs[cx->src].name);
	for (int i = 0; i < cx->ncout; i++) {
		bool apart;
		Status st = tiles_apart(p, t, cx, cx->cout[i], &apart);

		if (st != ST_OK)
			return st;
		if (!apart)
			return tile_refuse(p, t, cx->f, ST_UNSUPPORTED, "cannot double-buffer '%s': "
			                   "the tiles of consecutive iterations may overlap and the "
			                   "body writes them back", l->name);
	}
	if (lv->capacity > 0 && level_used(p, k, l->level) + loop_buf_bytes(l) > lv->capacity)
		return tile_refuse(p, t, cx->f, ST_UNSUPPORTED, "cannot double-buffer '%s': a second "
		                   "copy (%lld bytes) does not fit level '%s'", l->name,
		                   (long long)loop_buf_bytes(l), lv->name);
	return ST_OK;
}

static Status dbuf_check(LoopProgram *p, const TileTree *t, int f, int local)
{
	const LoopBuf *l;

	if (local < 0 || local >= p->nbufs || p->bufs[local].kernel != t->kernel[f])
		return tile_refuse(p, t, f, ST_INVALID, "cannot double-buffer buffer %d: not a "
		                   "buffer of this kernel", local);
	l = &p->bufs[local];
	if (l->view_of >= 0 || l->rank == MAX_RANK)
		return tile_refuse(p, t, f, ST_UNSUPPORTED, "cannot double-buffer '%s': it is a view "
		                   "or already of rank %d", l->name, MAX_RANK);
	for (int b = 0; b < p->nbufs; b++)
		if (p->bufs[b].view_of == local)
			return tile_refuse(p, t, f, ST_UNSUPPORTED, "cannot double-buffer '%s': '%s' "
			                   "is a view of it", l->name, p->bufs[b].name);
	if (p->nodes[f].extent < 2)
		return tile_refuse(p, t, f, ST_UNSUPPORTED, "cannot double-buffer '%s': the loop "
		                   "runs once", l->name);
	return ST_OK;
}

/* Double buffering: building. */

typedef struct LeadCx {
	int local, e;
} LeadCx;

static void lead_ref(LoopProgram *p, int n, int a, void *vcx)
{
	const LeadCx *cx = vcx;
	LoopArg *r = &p->nodes[n].arg[a];

	if (r->buf != cx->local)
		return;
	memmove(&r->idx[1], &r->idx[0], (size_t)r->nidx * sizeof(int));
	r->idx[0] = cx->e;
	r->nidx++;
}

/* Prefixes e to the indices of every reference to local. */
static void add_lead(LoopProgram *p, int first, bool siblings, int local, int e)
{
	LeadCx cx = { local, e };

	if (e < 0)
		p->oom = true;
	else
		tile_each_ref(p, first, siblings, lead_ref, &cx);
}

/* Copies of f's body but cin, with f's variable set to its last value. */
static int peel_last(LoopProgram *p, const DbufCx *cx)
{
	const LoopNode *f = &p->nodes[cx->f];
	int last = loop_const(p, f->start + (f->extent - 1) * f->step);
	int head = -1, tail = -1;

	for (int n = p->nodes[cx->f].body; n >= 0 && last >= 0; n = p->nodes[n].next) {
		int c = n == cx->cin ? -2 : loop_clone(p, n, 1, &cx->f, &last);

		if (c == -2)
			continue;
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

static Status dbuf_build(LoopProgram *p, const TileTree *t, const DbufCx *cx)
{
	LoopNode f = p->nodes[cx->f];
	int first = loop_const(p, f.start);
	int pro = loop_clone(p, cx->cin, 1, &cx->f, &first);
	int epi = peel_last(p, cx), it = loop_var(p, cx->f), *link;
	LoopBuf *l;

	it = loop_add_const(p, it, -f.start);
	if (f.step > 1)
		it = loop_div(p, it, f.step);
	tile_subst(p, cx->cin, false, cx->f, loop_add_const(p, loop_var(p, cx->f), f.step));
	if (pro < 0 || it < 0 || (epi < 0 && f.body != cx->cin) || p->oom)
		return loop_oom(p);
	l = &p->bufs[cx->local];
	memmove(&l->dims[1], &l->dims[0], (size_t)l->rank * sizeof(int64_t));
	l->dims[0] = 2;
	l->rank++;
	add_lead(p, pro, false, cx->local, loop_const(p, 0));
	add_lead(p, epi, true, cx->local, loop_const(p, (f.extent - 1) % 2));
	for (int n = f.body; n >= 0; n = p->nodes[n].next)
		add_lead(p, n, false, cx->local,
		         tile_tidy(p, loop_mod(p, n == cx->cin ? loop_add_const(p, it, 1) : it, 2)));
	if (p->oom)
		return loop_oom(p);
	p->nodes[cx->f].extent = f.extent - 1;
	link = tile_link_to(p, t, cx->f);
	*link = pro;
	p->nodes[pro].next = cx->f;
	if (epi >= 0) {
		int tail = epi;

		while (p->nodes[tail].next >= 0)
			tail = p->nodes[tail].next;
		p->nodes[tail].next = f.next;
		p->nodes[cx->f].next = epi;
	}
	return ST_OK;
}

Status pass_double_buffer(LoopProgram *p, int for_node, int local)
{
	TileTree t;
	Status st = tile_tree_build(p, &t);
	DbufCx cx = { .f = for_node, .local = local };

	if (st != ST_OK)
		return st;
	if ((st = tile_check_for(p, &t, for_node, "double_buffer")) != ST_OK ||
	    (st = dbuf_check(p, &t, for_node, local)) != ST_OK ||
	    (st = find_copy_in(p, &t, &cx)) != ST_OK ||
	    (st = dbuf_legal(p, &t, &cx)) != ST_OK)
		goto out;
	st = dbuf_build(p, &t, &cx);
out:
	tile_tree_free(&t);
	return st;
}
