/*
 * The loop interpreter: loop_run.
 *
 * Runs a verified program in three steps: give every buffer its memory
 * (inputs the caller's, constants their data, views their base's at an
 * offset, the rest zeroed scratch), compile the kernels into a plan
 * (ir/loop_interp.h describes it), run the plan, and copy the outputs into
 * the caller's arena.  The plan and the buffers live in a scratch arena
 * freed before returning, so intermediate tensors do not outlive the run.
 *
 * Quantize rounds x / scale to the source's type first when the scale has
 * that type (a buffer of the source's element type, or a literal), as the
 * graph interpreter's QuantizeLinear does when x and its scale share a type;
 * a lowering whose scale has another type writes it as a buffer.
 */
#include <stdlib.h>
#include <string.h>

#include "checked.h"
#include "loop_interp.h"
#include "scalar.h"

/* Inner iterations and lanes of a mac nest beyond which its offset tables
 * cost more memory than they save time; a band grows until it has at least
 * BAND_LANES lanes, so that short loops (a 7-wide row) still fill blocks. */
enum { NEST_MAX_INNER = 1 << 20, NEST_MAX_LANES = 1 << 20, BAND_LANES = 32 };

static int64_t wrap_mul(int64_t a, int64_t b) { return (int64_t)((uint64_t)a * (uint64_t)b); }
static int64_t wrap_add(int64_t a, int64_t b) { return (int64_t)((uint64_t)a + (uint64_t)b); }

/* Memory. */

static int root_of(const LoopProgram *p, int b, int64_t *offset)
{
	*offset = 0;
	while (p->bufs[b].view_of >= 0) {
		*offset += p->bufs[b].view_offset;
		b = p->bufs[b].view_of;
	}
	return b;
}

static Status input_check(LoopProgram *p, const LoopBuf *b, const Value *v)
{
	Value want = {b->dt, b->rank, {0}, NULL};
	char got[96], exp[96];

	val_set_type(&want, b->dt, b->rank, b->dims);
	if (v->dt == b->dt && val_same_shape(v, &want) && (v->data || loop_buf_numel(b) == 0))
		return ST_OK;
	val_type_str(v, got, sizeof(got));
	val_type_str(&want, exp, sizeof(exp));
	if (v->dt == b->dt && val_same_shape(v, &want))
		snprintf(got + strlen(got), sizeof(got) - strlen(got), " without data");
	return diag_add(p->diag, ST_INVALID, "%s: input '%s' is %s but the program expects %s", p->path,
	                b->tensor ? b->tensor : b->name, got, exp);
}

static Status oom(LoopProgram *p)
{
	return diag_add(p->diag, ST_NOMEM, "%s: out of memory", p->path);
}

/* The work and memory of a run against the budgets (base/budget.h), before
 * any of it exists: each kernel's statement instances against --max-steps,
 * the buffers the run allocates against --max-memory. */
static Status check_budgets(LoopProgram *p)
{
	char lim[BUDGET_STR];
	int64_t total = 0, bytes = 0;

	for (int k = 0; k < p->nkernels; k++) {
		int64_t steps;
		const char *name = p->kernels[k].name;

		if (!loop_kernel_steps(p, k, &steps))
			return diag_add(p->diag, ST_UNSUPPORTED, "%s: kernel '%s' runs more than 2^63 statements",
			                p->path, name);
		if (!ck_add(total, steps, &total) || total > budget_steps())
			return diag_add(p->diag, ST_UNSUPPORTED, "%s: kernel '%s' runs %lld statements, which "
			                "takes the program past the step budget of %lld (--max-steps)", p->path, name,
			                (long long)steps, (long long)budget_steps());
	}
	for (int i = 0; i < p->nbufs; i++) {
		const LoopBuf *b = &p->bufs[i];

		if (b->view_of < 0 && !(b->flags & (LB_INPUT | LB_CONST)) &&
		    (!ck_add(bytes, loop_buf_bytes(b), &bytes) || bytes > budget_memory()))
			return diag_add(p->diag, ST_UNSUPPORTED, "%s: buffer '%s' takes the program's memory past %s",
			                p->path, b->name, budget_memory_str(lim));
	}
	return ST_OK;
}

static Status bind_memory(LoopProgram *p, Plan *pl, const Value *in)
{
	int k = 0;

	pl->mem = arena_alloc(pl->ar, (size_t)(p->nbufs ? p->nbufs : 1) * sizeof(char *));
	if (!pl->mem)
		return oom(p);
	for (int i = 0; i < p->nbufs; i++) {
		const LoopBuf *b = &p->bufs[i];

		if (b->view_of >= 0)
			continue;
		if (b->flags & LB_INPUT) {
			Status st = input_check(p, b, &in[k]);

			if (st)
				return st;
			pl->mem[i] = in[k++].data;
		} else if (b->flags & LB_CONST) {
			pl->mem[i] = b->data;
		} else if (!(pl->mem[i] = arena_alloc(pl->ar, (size_t)loop_buf_bytes(b)))) {
			return oom(p);
		}
	}
	for (int i = 0; i < p->nbufs; i++) {
		int64_t off;
		int r = root_of(p, i, &off);

		pl->mem[i] = pl->mem[r] + off * dtype_size(p->bufs[i].dt);
	}
	return ST_OK;
}

/* Compiling the kernels into the plan. */

typedef struct RawDelta {
	int loop, slot;
	int64_t d;
} RawDelta;

typedef struct Compiler {
	Plan *pl;
	const LoopProgram *p;
	int depth;           /* loops enclosing the node being compiled */
	int *fors;           /* their `for` nodes, outermost first */
	int *xloops;         /* their plan nodes */
	int *depth_of;       /* per `for` node: its depth while it encloses */
	RawDelta *raw;       /* deltas in the order found */
	int nraw, cap_raw;
} Compiler;

static bool grow(Plan *pl, void **arr, int *cap, int n, size_t elem)
{
	if (arena_grow(pl->ar, arr, cap, n, elem))
		return true;
	pl->oom = true;
	return false;
}

static int new_node(Plan *pl, XKind kind, int parent)
{
	XNode *n;

	if (!grow(pl, (void **)&pl->nodes, &pl->cap_nodes, pl->nnodes, sizeof(XNode)))
		return -1;
	n = &pl->nodes[pl->nnodes];
	memset(n, 0, sizeof(*n));
	n->kind = kind;
	n->next = n->body = n->stmt = n->nest = -1;
	n->parent = parent;
	return pl->nnodes++;
}

static int new_slot(Plan *pl, int64_t init)
{
	if (!grow(pl, (void **)&pl->init, &pl->cap_slots, pl->nslots, sizeof(int64_t)))
		return -1;
	pl->init[pl->nslots] = init;
	return pl->nslots++;
}

static void add_delta(Compiler *c, int depth, int slot, int64_t coef)
{
	const LoopNode *f = &c->p->nodes[c->fors[depth]];

	if (coef == 0)
		return;
	if (!grow(c->pl, (void **)&c->raw, &c->cap_raw, c->nraw, sizeof(RawDelta)))
		return;
	c->raw[c->nraw].loop = c->xloops[depth];
	c->raw[c->nraw].slot = slot;
	c->raw[c->nraw++].d = wrap_mul(coef, f->step);
}

/* The value of affine a with every enclosing loop at its start. */
static int64_t affine_start(const Compiler *c, const LoopAffine *a)
{
	int64_t v = a->c;

	for (int i = 0; i < a->n; i++)
		v = wrap_add(v, wrap_mul(a->coef[i], c->p->nodes[a->var[i]].start));
	return v;
}

/* A padded copy's source: one slot per index, bounds checked per element. */
static void track_indices(Compiler *c, XRef *x, const LoopAffine *af)
{
	x->dslot = c->pl->nslots;
	for (int d = 0; d < x->rank; d++) {
		if (new_slot(c->pl, affine_start(c, &af[d])) < 0)
			return;
		for (int i = 0; i < af[d].n; i++) {
			int j = c->depth_of[af[d].var[i]];

			add_delta(c, j, x->dslot + d, af[d].coef[i]);
			if (j == c->depth - 1)
				x->dstride[d] = wrap_mul(af[d].coef[i], c->p->nodes[af[d].var[i]].step);
		}
	}
}

/* Any other operand: one slot with the flat offset. */
static void track_offset(Compiler *c, XRef *x, const LoopAffine *af)
{
	int64_t start = 0;

	for (int d = 0; d < x->rank; d++) {
		start = wrap_add(start, wrap_mul(x->estride[d], af[d].c));
		for (int i = 0; i < af[d].n; i++) {
			int j = c->depth_of[af[d].var[i]];

			x->coef[j] = wrap_add(x->coef[j], wrap_mul(x->estride[d], af[d].coef[i]));
		}
	}
	for (int j = 0; j < c->depth; j++)
		start = wrap_add(start, wrap_mul(x->coef[j], c->p->nodes[c->fors[j]].start));
	x->slot = new_slot(c->pl, start);
	for (int j = 0; j < c->depth; j++)
		add_delta(c, j, x->slot, x->coef[j]);
	if (c->depth > 0)
		x->stride = wrap_mul(x->coef[c->depth - 1], c->p->nodes[c->fors[c->depth - 1]].step);
}

/* Operand r of s; whether its offsets are tracked in slots. */
static bool compile_ref(Compiler *c, XStmt *s, int r)
{
	const LoopProgram *p = c->p;
	const LoopArg *a = &s->n->arg[r];
	XRef *x = &s->ref[r];
	const LoopBuf *b;
	LoopAffine af[MAX_RANK];
	int64_t off, st = 1;

	x->slot = x->dslot = x->root = -1;
	x->lit = a->lit;
	if (!x->lit.is_float)
		x->lit.f = (double)x->lit.i;
	if (a->buf < 0)
		return true;
	b = &p->bufs[a->buf];
	x->base = c->pl->mem[a->buf];
	x->v.dt = b->dt;
	x->v.data = x->base;
	x->esize = dtype_size(b->dt);
	x->rank = b->rank;
	x->idx = a->idx;
	x->root = root_of(p, a->buf, &off);
	for (int d = b->rank - 1; d >= 0; d--) {
		x->dims[d] = b->dims[d];
		x->estride[d] = st;
		st *= b->dims[d];
	}
	x->coef = arena_alloc(c->pl->ar, (size_t)(c->depth + 1) * sizeof(int64_t));
	if (!x->coef) {
		c->pl->oom = true;
		return false;
	}
	if (loop_arg_has_load(p, a)) {
		x->loaded = true;
		x->slot = new_slot(c->pl, 0);
		return false;
	}
	for (int d = 0; d < b->rank; d++)
		if (!loop_expr_affine(p, a->idx[d], &af[d]))
			return false;
	if (s->n->kind == LN_COPY && s->n->has_pad && r == 1)
		track_indices(c, x, af);
	else
		track_offset(c, x, af);
	return true;
}

static bool int_like(DType dt)
{
	return dtype_is_int(dt) || dt == DT_BOOL;
}

/* Whether every operand is an integer or a bool (buffer or literal). */
static bool int_operands(const XStmt *s)
{
	for (int k = 1; k < s->nref; k++) {
		const XRef *r = &s->ref[k];

		if (r->base ? !int_like(r->v.dt) : r->lit.is_float)
			return false;
	}
	return true;
}

/* An operand's type for loop_apply_unsigned: DT_UNDEF for a literal. */
static DType ref_dt(const XStmt *s, int k)
{
	return k < s->nref && s->ref[k].base ? s->ref[k].v.dt : DT_UNDEF;
}

/* The arithmetic a statement runs in, and its literals in the destination's type. */
static void stmt_kind(XStmt *s)
{
	const LoopNode *n = s->n;
	DType dt = s->ref[0].v.dt;
	Value v = {dt, 0, {0}, s->lit};

	switch (n->kind) {
	case LN_MAC:
	case LN_REDUCE:
		s->int_path = dtype_is_int(dt);
		s->uns = !dtype_is_signed(dt);
		break;
	case LN_APPLY:
		s->int_path = int_like(dt) && int_operands(s) && scalar_has_i64(n->fn);
		s->uns = loop_apply_unsigned(n->fn, dt, ref_dt(s, 1), ref_dt(s, 2));
		break;
	case LN_QUANTIZE:
		s->src_rounds = !s->ref[2].base || s->ref[2].v.dt == s->ref[1].v.dt;
		break;
	case LN_FILL:
	case LN_COPY:
	case LN_DEQUANTIZE:
	case LN_REQUANTIZE:
	case LN_FOR:
	case LN_NOTE:
	case LN_COUNT:
		break;
	}
	if (n->kind == LN_FILL || (n->kind == LN_COPY && n->has_pad)) {
		const LoopLit *l = n->kind == LN_FILL ? &n->arg[1].lit : &n->pad;

		if (l->is_float)
			val_set_f64(&v, 0, l->f);
		else
			val_set_i64(&v, 0, l->i);
	}
}

static int compile_list(Compiler *c, int head, int parent);

static int compile_stmt(Compiler *c, int ni, int parent)
{
	Plan *pl = c->pl;
	XStmt s;
	int x;

	memset(&s, 0, sizeof(s));
	s.n = &c->p->nodes[ni];
	s.nref = s.n->narg;
	s.tracked = true;
	for (int r = 0; r < s.nref; r++) {
		s.tracked &= compile_ref(c, &s, r);
		s.guarded |= s.ref[r].loaded;
	}
	s.noalias = true;
	for (int r = 1; r < s.nref; r++)
		if (s.ref[r].base && s.ref[r].root == s.ref[0].root)
			s.noalias = false;
	stmt_kind(&s);
	s.run = loop_exec_pick(&s);
	s.depth = c->depth;
	s.loops = arena_alloc(pl->ar, (size_t)(c->depth + 1) * sizeof(int));
	x = new_node(pl, XN_STMT, parent);
	if (!s.loops || x < 0 || !grow(pl, (void **)&pl->stmts, &pl->cap_stmts, pl->nstmts, sizeof(XStmt))) {
		pl->oom = true;
		return -1;
	}
	memcpy(s.loops, c->xloops, (size_t)c->depth * sizeof(int));
	s.xnode = x;
	pl->nodes[x].stmt = pl->nstmts;
	pl->stmts[pl->nstmts++] = s;
	return x;
}

static int compile_for(Compiler *c, int ni, int parent)
{
	Plan *pl = c->pl;
	const LoopNode *f = &c->p->nodes[ni];
	int x = new_node(pl, XN_LOOP, parent), body;

	if (x < 0)
		return -1;
	pl->nodes[x].var = ni;
	pl->nodes[x].start = f->start;
	pl->nodes[x].step = f->step;
	pl->nodes[x].extent = f->extent;
	c->fors[c->depth] = ni;
	c->xloops[c->depth] = x;
	c->depth_of[ni] = c->depth++;
	body = compile_list(c, f->body, x);
	c->depth--;
	if (pl->oom)
		return -1;
	pl->nodes[x].body = body;
	if (body >= 0 && pl->nodes[body].next < 0 && pl->nodes[body].kind == XN_STMT &&
	    pl->stmts[pl->nodes[body].stmt].tracked) {
		pl->nodes[x].tight = true;
		pl->nodes[x].stmt = pl->nodes[body].stmt;
	}
	return x;
}

static int compile_list(Compiler *c, int head, int parent)
{
	int first = -1, last = -1;

	for (int i = head; i >= 0; i = c->p->nodes[i].next) {
		LoopNodeKind k = c->p->nodes[i].kind;
		int x;

		if (k == LN_NOTE)
			continue;
		x = k == LN_FOR ? compile_for(c, i, parent) : compile_stmt(c, i, parent);
		if (x < 0)
			return -1;
		if (last >= 0)
			c->pl->nodes[last].next = x;
		else
			first = x;
		last = x;
	}
	return first;
}

/* Gathers each loop's deltas into one run of pl->deltas. */
static bool group_deltas(Compiler *c)
{
	Plan *pl = c->pl;
	int *at = arena_alloc(pl->ar, (size_t)(pl->nnodes + 1) * sizeof(int));

	pl->deltas = arena_alloc(pl->ar, (size_t)(c->nraw + 1) * sizeof(XDelta));
	if (!at || !pl->deltas)
		return false;
	for (int i = 0; i < c->nraw; i++)
		pl->nodes[c->raw[i].loop].ndelta++;
	for (int i = 0, sum = 0; i < pl->nnodes; i++) {
		pl->nodes[i].delta0 = at[i] = sum;
		sum += pl->nodes[i].ndelta;
	}
	for (int i = 0; i < c->nraw; i++) {
		XDelta *d = &pl->deltas[at[c->raw[i].loop]++];

		d->slot = c->raw[i].slot;
		d->d = c->raw[i].d;
	}
	pl->ndeltas = c->nraw;
	return true;
}

/* Iterations of the loops at depths [from, to] of s, or -1 beyond max. */
static int64_t iterations(const Plan *pl, const XStmt *s, int from, int to, int64_t max)
{
	int64_t n = 1;

	for (int j = from; j <= to; j++)
		if (__builtin_mul_overflow(n, pl->nodes[s->loops[j]].extent, &n) || n > max)
			return -1;
	return n;
}

/* The offsets of operand r of s at each of the n iterations of the loops
 * at depths [from, to], in the order they run. */
static int64_t *offset_table(Plan *pl, const XStmt *s, int r, int from, int to, int64_t n)
{
	int64_t *t = arena_alloc(pl->ar, (size_t)n * sizeof(int64_t)), o = 0;
	int64_t *k = arena_alloc(pl->ar, (size_t)(to - from + 1) * sizeof(int64_t));

	if (!t || !k) {
		pl->oom = true;
		return NULL;
	}
	for (int64_t i = 0; i < n; i++) {
		t[i] = o;
		for (int j = to; j >= from; j--) {
			const XNode *l = &pl->nodes[s->loops[j]];
			int64_t d = wrap_mul(s->ref[r].coef[j], l->step);

			o = wrap_add(o, d);
			if (++k[j - from] < l->extent)
				break;
			k[j - from] = 0;
			o = wrap_add(o, -wrap_mul(l->extent, d));
		}
	}
	return t;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Whether the n offsets of t are all different. */
static bool distinct(Plan *pl, const int64_t *t, int64_t n)
{
	int64_t *c = arena_alloc(pl->ar, (size_t)n * sizeof(int64_t));

	if (!c) {
		pl->oom = true;
		return false;
	}
	memcpy(c, t, (size_t)n * sizeof(int64_t));
	qsort(c, (size_t)n, sizeof(int64_t), cmp_i64);
	for (int64_t i = 1; i < n; i++)
		if (c[i] == c[i - 1])
			return false;
	return true;
}

/* Whether the T offsets of t step evenly; *d gets the step. */
static bool even_steps(const int64_t *t, int T, int64_t *d)
{
	*d = T > 1 ? t[1] - t[0] : 0;
	for (int i = 2; i < T; i++)
		if (t[i] - t[0] != i * *d)
			return false;
	return true;
}

static bool all_same(const int64_t *t, int T)
{
	for (int i = 1; i < T; i++)
		if (t[i] != t[0])
			return false;
	return true;
}

/* Cuts the lanes into blocks of 16, then 8, 4, 2 and 1 for the rest. */
static bool nest_blocks(Plan *pl, XNest *m, int64_t lanes)
{
	int n = 0;

	m->blocks = arena_alloc(pl->ar, (size_t)(lanes / XNEST_LANES + 5) * sizeof(XBlock));
	if (!m->blocks) {
		pl->oom = true;
		return false;
	}
	for (int64_t l = 0; l < lanes; n++) {
		XBlock *b = &m->blocks[n];
		int T = XNEST_LANES;

		while (T > lanes - l)
			T /= 2;
		b->lane = l;
		b->T = T;
		if (even_steps(m->lc + l, T, &b->dc) && even_steps(m->la + l, T, &b->da) &&
		    even_steps(m->lb + l, T, &b->db))
			b->kind = XB_STRIDED;
		else if (all_same(m->lb + l, T))
			b->kind = XB_GATHER_A;
		else if (all_same(m->la + l, T))
			b->kind = XB_GATHER_B;
		else
			b->kind = XB_GATHER;
		l += T;
	}
	m->nblocks = n;
	return true;
}

/* Whether the loop at depth d of s is all its parent loop holds. */
static bool only_child(const Plan *pl, const XStmt *s, int d)
{
	const XNode *l = &pl->nodes[s->loops[d]];

	return d > 0 && pl->nodes[s->loops[d - 1]].body == s->loops[d] && l->next < 0;
}

/* The outermost loop of the lanes: up from depth j while they number
 * fewer than BAND_LANES, over loops that move the accumulator and hold
 * nothing but the loop below. */
static int band_top(const Plan *pl, const XStmt *s, int j, int64_t *lanes)
{
	int top = j;

	*lanes = pl->nodes[s->loops[j]].extent;
	while (*lanes < BAND_LANES && only_child(pl, s, top) && s->ref[0].coef[top - 1] != 0 &&
	       !__builtin_mul_overflow(*lanes, pl->nodes[s->loops[top - 1]].extent, lanes) &&
	       *lanes <= NEST_MAX_LANES)
		top--;
	return top;
}

static int64_t abs64(int64_t x) { return x < 0 ? -x : x; }

/*
 * Whether no two iterations of the band share an accumulator: ordered by
 * the size of their steps, each loop's step must exceed the span of the
 * lanes and of the loops with smaller steps (a mixed-radix numbering).
 */
static bool band_injective(const XBandLoop *o, int n, const int64_t *lc, int64_t lanes)
{
	int64_t lo = lc[0], hi = lc[0], span;
	bool used[XNEST_MAX_OUTER] = {false};

	for (int64_t i = 1; i < lanes; i++) {
		lo = lc[i] < lo ? lc[i] : lo;
		hi = lc[i] > hi ? lc[i] : hi;
	}
	span = hi - lo;
	for (int done = 0; done < n; done++) {
		int best = -1;

		for (int i = 0; i < n; i++)
			if (!used[i] && (best < 0 || abs64(o[i].dc) < abs64(o[best].dc)))
				best = i;
		used[best] = true;
		if (abs64(o[best].dc) <= span ||
		    __builtin_mul_overflow(abs64(o[best].dc), o[best].extent - 1, &lo) ||
		    __builtin_add_overflow(span, lo, &span))
			return false;
	}
	return true;
}

/*
 * The band's loops at depths [top, lt), above the lanes, in the order to
 * run them: those that do not move the factor the lanes vary go last, so
 * that the lanes' factor stays in cache while they run.  Returns their
 * count, 0 when they cannot be run as a band.
 */
static int band_outer(Plan *pl, const XStmt *s, int top, int lt, XNest *m, int64_t lanes)
{
	XBandLoop o[XNEST_MAX_OUTER];
	bool vary_a = !all_same(m->la, (int)(lanes < XNEST_LANES ? lanes : XNEST_LANES));
	int n = lt - top, k = 0;

	if (n == 0 || n > XNEST_MAX_OUTER)
		return 0;
	for (int i = 0; i < n; i++) {
		const XNode *l = &pl->nodes[s->loops[top + i]];

		o[i].extent = l->extent;
		o[i].dc = wrap_mul(s->ref[0].coef[top + i], l->step);
		o[i].da = wrap_mul(s->ref[1].coef[top + i], l->step);
		o[i].db = wrap_mul(s->ref[2].coef[top + i], l->step);
	}
	if (!band_injective(o, n, m->lc, lanes))
		return 0;
	m->outer = arena_alloc(pl->ar, (size_t)n * sizeof(XBandLoop));
	if (!m->outer) {
		pl->oom = true;
		return 0;
	}
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < n; i++)
			if (((vary_a ? o[i].da : o[i].db) == 0) == (pass == 1))
				m->outer[k++] = o[i];
	return n;
}

/* Lane tables for the band at depths [top, j]; false if two lanes share an accumulator. */
static bool nest_lanes(Plan *pl, const XStmt *s, int top, int j, XNest *m, int64_t *lanes)
{
	*lanes = iterations(pl, s, top, j, NEST_MAX_LANES);
	if (*lanes < 0)
		return false;
	m->lc = offset_table(pl, s, 0, top, j, *lanes);
	m->la = offset_table(pl, s, 1, top, j, *lanes);
	m->lb = offset_table(pl, s, 2, top, j, *lanes);
	return m->lc && m->la && m->lb && distinct(pl, m->lc, *lanes);
}

/*
 * The depth of P, the lowest loop above mac statement s whose variable
 * moves the accumulator, when P and the loops below it each hold nothing
 * but the next and P is not s's own loop; else -1.
 */
static int nest_p(const Plan *pl, const XStmt *s)
{
	int child = s->xnode, l = pl->nodes[child].parent, j = s->depth - 1;

	while (l >= 0 && pl->nodes[l].body == child && pl->nodes[child].next < 0 &&
	       s->ref[0].coef[j] == 0) {
		child = l;
		l = pl->nodes[l].parent;
		j--;
	}
	if (l < 0 || pl->nodes[l].body != child || pl->nodes[child].next >= 0 || child == s->xnode)
		return -1;
	return j;
}

/*
 * Turns the loops above mac statement s into a nest: the loops below P
 * become tables, P and the loops above it that also move the accumulator
 * (without two iterations sharing one) the band, whose innermost loops are
 * the lanes.  The accumulator's memory must not be read as a factor; then
 * no accumulator's order of additions changes.
 */
static void try_nest(Plan *pl, XStmt *s)
{
	XNestFn run = loop_exec_pick_nest(s);
	int j, top, full;
	int64_t lanes;
	XNest m;

	if (!run || !s->tracked || !s->noalias || (j = nest_p(pl, s)) < 0)
		return;
	memset(&m, 0, sizeof(m));
	m.s = s;
	m.run = run;
	m.nr = iterations(pl, s, j + 1, s->depth - 1, NEST_MAX_INNER);
	if (m.nr < 0)
		return;
	m.ta = offset_table(pl, s, 1, j + 1, s->depth - 1, m.nr);
	m.tb = offset_table(pl, s, 2, j + 1, s->depth - 1, m.nr);
	top = band_top(pl, s, j, &lanes);
	if (!m.ta || !m.tb || (!nest_lanes(pl, s, top, j, &m, &lanes) &&
	                       (top == j || !nest_lanes(pl, s, top = j, j, &m, &lanes))))
		return;
	for (full = top; only_child(pl, s, full) && s->ref[0].coef[full - 1] != 0; full--)
		;
	m.nouter = band_outer(pl, s, full, top, &m, lanes);
	if (m.nouter == 0)
		full = top;
	if (!nest_blocks(pl, &m, lanes) ||
	    !grow(pl, (void **)&pl->nests, &pl->cap_nests, pl->nnests, sizeof(XNest)))
		return;
	pl->nests[pl->nnests] = m;
	pl->nodes[s->loops[full]].kind = XN_NEST;
	pl->nodes[s->loops[full]].nest = pl->nnests++;
}

static Status plan_build(LoopProgram *p, Plan *pl)
{
	Compiler c;
	size_t nn = (size_t)(p->nnodes + 1);

	memset(&c, 0, sizeof(c));
	c.pl = pl;
	c.p = p;
	c.fors = arena_alloc(pl->ar, nn * sizeof(int));
	c.xloops = arena_alloc(pl->ar, nn * sizeof(int));
	c.depth_of = arena_alloc(pl->ar, nn * sizeof(int));
	pl->kbody = arena_alloc(pl->ar, (size_t)(p->nkernels + 1) * sizeof(int));
	if (!c.fors || !c.xloops || !c.depth_of || !pl->kbody)
		return oom(p);
	for (int k = 0; k < p->nkernels && !pl->oom; k++)
		pl->kbody[k] = compile_list(&c, p->kernels[k].body, -1);
	if (pl->oom || !group_deltas(&c))
		return oom(p);
	for (int i = 0; i < pl->nstmts; i++)
		try_nest(pl, &pl->stmts[i]);
	return pl->oom ? oom(p) : ST_OK;
}

/* Running the plan. */

static void run_list(Exec *x, int i);

/* The error for loaded index d of operand i of s, which read value k
 * (bits of the loaded buffer's type) from lb at li. */
static Status load_error(Exec *x, const XStmt *s, int i, int d, int lb, const int *li, int64_t k)
{
	const LoopProgram *p = x->p;
	const LoopKernel *kn = &p->kernels[x->kernel];
	const LoopBuf *b = &p->bufs[lb];
	int64_t dim = s->ref[i].dims[d];
	char at[24 * MAX_RANK + 2] = "", val[24];
	size_t len = 0;

	for (int j = 0; j < b->rank && len < sizeof(at); j++)
		len += (size_t)snprintf(at + len, sizeof(at) - len, "%s%lld", j ? ", " : "",
		                        (long long)loop_expr_eval(p, li[j], x->vars));
	if (b->dt == DT_U64)
		snprintf(val, sizeof(val), "%llu", (unsigned long long)k);
	else
		snprintf(val, sizeof(val), "%lld", (long long)k);
	return loop_error_at((LoopProgram *)p, s->n->line, s->n->col, ST_INVALID,
	                     "kernel '%s'%s%s%s: %s: index %d of '%s' is %s, read from %s[%s], "
	                     "outside [-%lld, %lld)", kn->name, kn->layer ? " (layer '" : "",
	                     kn->layer ? kn->layer : "", kn->layer ? "')" : "",
	                     loop_node_keyword(s->n->kind), d, p->bufs[s->n->arg[i].buf].name, val,
	                     b->name, at, (long long)dim, (long long)dim);
}

/* Loaded index d of operand i of s: its value, wrapped once when negative
 * (ONNX's negative indices); false after reporting it outside [0, dim). */
static bool load_index(Exec *x, const XStmt *s, int i, int d, int64_t *v)
{
	const LoopProgram *p = x->p;
	int e = s->ref[i].idx[d], lb = (int)p->exprs[e].c;
	const LoopBuf *b = &p->bufs[lb];
	const int *li = loop_load_idx(p, e);
	Value src = {b->dt, 0, {0}, x->pl->mem[lb]};
	int64_t o = 0, k, dim = s->ref[i].dims[d];

	for (int j = 0; j < b->rank; j++)
		o = o * b->dims[j] + loop_expr_eval(p, li[j], x->vars);
	k = val_get_i64(&src, o);
	*v = k < 0 && b->dt != DT_U64 ? k + dim : k;
	if (*v >= 0 && *v < dim)
		return true;
	x->st = load_error(x, s, i, d, lb, li, k);
	return false;
}

/* The offsets of s's operands with loaded indices into their slots; false
 * (x->st set) when a loaded index is out of range. */
static bool guard(Exec *x, const XStmt *s)
{
	for (int i = 0; i < s->nref; i++) {
		const XRef *r = &s->ref[i];
		int64_t o = 0, v;

		if (!r->loaded)
			continue;
		for (int d = 0; d < r->rank; d++) {
			if (x->p->exprs[r->idx[d]].kind != LE_LOAD)
				v = loop_expr_eval(x->p, r->idx[d], x->vars);
			else if (!load_index(x, s, i, d, &v))
				return false;
			o += r->estride[d] * v;
		}
		x->cur[r->slot] = o;
	}
	return true;
}

static void run_loop(Exec *x, const XNode *n)
{
	const XDelta *d = x->pl->deltas + n->delta0;
	int64_t *cur = x->cur, v = n->start;
	int nd = n->ndelta;

	if (n->tight) {
		const XStmt *s = &x->pl->stmts[n->stmt];

		s->run(x, s, n->extent);
		return;
	}
	for (int64_t k = 0; k < n->extent; k++, v += n->step) {
		x->vars[n->var] = v;
		run_list(x, n->body);
		if (x->st != ST_OK)
			return;
		for (int j = 0; j < nd; j++)
			cur[d[j].slot] = wrap_add(cur[d[j].slot], d[j].d);
	}
	for (int j = 0; j < nd; j++)
		cur[d[j].slot] = wrap_add(cur[d[j].slot], -wrap_mul(n->extent, d[j].d));
}

static void run_list(Exec *x, int i)
{
	for (; i >= 0 && x->st == ST_OK; i = x->pl->nodes[i].next) {
		const XNode *n = &x->pl->nodes[i];
		const XStmt *s;
		const XNest *m;

		switch (n->kind) {
		case XN_LOOP:
			run_loop(x, n);
			break;
		case XN_STMT:
			s = &x->pl->stmts[n->stmt];
			if (!s->guarded || guard(x, s))
				s->run(x, s, 1);
			break;
		case XN_NEST:
			m = &x->pl->nests[n->nest];
			m->run(x, m);
			break;
		}
	}
}

static Status plan_run(LoopProgram *p, Plan *pl)
{
	Exec x = {p, pl, NULL, NULL, 0, ST_OK};

	x.cur = arena_alloc(pl->ar, (size_t)(pl->nslots + 1) * sizeof(int64_t));
	x.vars = arena_alloc(pl->ar, (size_t)(p->nnodes + 1) * sizeof(int64_t));
	if (!x.cur || !x.vars)
		return oom(p);
	if (pl->nslots > 0)
		memcpy(x.cur, pl->init, (size_t)pl->nslots * sizeof(int64_t));
	for (int k = 0; k < p->nkernels && x.st == ST_OK; k++) {
		x.kernel = k;
		run_list(&x, pl->kbody[k]);
	}
	return x.st;
}

static Status copy_outputs(LoopProgram *p, const Plan *pl, Arena *a, Value *out)
{
	for (int i = 0; i < loop_count_outputs(p); i++) {
		int bi = loop_output_buf(p, i);
		const LoopBuf *b = &p->bufs[bi];

		memset(&out[i], 0, sizeof(out[i]));
		val_set_type(&out[i], b->dt, b->rank, b->dims);
		if (!val_alloc(a, &out[i]))
			return oom(p);
		memcpy(out[i].data, pl->mem[bi], (size_t)loop_buf_bytes(b));
	}
	return ST_OK;
}

Status loop_run(LoopProgram *p, Arena *a, const Value *in, Value *out)
{
	Arena scratch;
	Plan pl;
	Status st = loop_verify(p);

	if (st == ST_OK)
		st = check_budgets(p);
	if (st != ST_OK)
		return st;
	arena_init(&scratch);
	memset(&pl, 0, sizeof(pl));
	pl.p = p;
	pl.ar = &scratch;
	st = bind_memory(p, &pl, in);
	if (st == ST_OK)
		st = plan_build(p, &pl);
	if (st == ST_OK)
		st = plan_run(p, &pl);
	if (st == ST_OK)
		st = copy_outputs(p, &pl, a, out);
	arena_free(&scratch);
	return st;
}
