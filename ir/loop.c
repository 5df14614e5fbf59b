/*
 * Loop IR: construction and the name tables.
 *
 * Builders never fail loudly: out of memory they set p->oom and return -1,
 * and every builder handed a -1 operand returns -1 too, so a pass builds a
 * whole kernel and checks once (loop_oom).  Names are copied into the
 * program's arena.
 */
#include "loop.h"

#include <ctype.h>
#include <stdarg.h>
#include <string.h>

#include "checked.h"

static const char *const node_keywords[] = {
#define NODE(id, kw, mina, maxa, syn) kw,
#include "loopstmt.def"
#undef NODE
};
static const char *const node_synopses[] = {
#define NODE(id, kw, mina, maxa, syn) syn,
#include "loopstmt.def"
#undef NODE
};
_Static_assert(ARRAY_LEN(node_keywords) == LN_COUNT, "one keyword per node kind");

void loop_init(LoopProgram *p, Diag *diag, const char *path)
{
	memset(p, 0, sizeof(*p));
	arena_init(&p->arena);
	p->diag = diag;
	p->path = path ? path : "<loops>";
}

void loop_free(LoopProgram *p)
{
	arena_free(&p->arena);
}

Status loop_oom(LoopProgram *p)
{
	if (!p->oom)
		return ST_OK;
	return diag_add(p->diag, ST_NOMEM, "%s: out of memory", p->path);
}

static bool grow(LoopProgram *p, void **arr, int *cap, int n, size_t elem)
{
	if (arena_grow(&p->arena, arr, cap, n, elem))
		return true;
	p->oom = true;
	return false;
}

static const char *dup(LoopProgram *p, const char *s)
{
	char *d;

	if (!s)
		return NULL;
	d = arena_strdup(&p->arena, s);
	if (!d)
		p->oom = true;
	return d;
}

int loop_add_level(LoopProgram *p, const char *name, int64_t capacity)
{
	LoopLevel *l;

	if (!grow(p, (void **)&p->levels, &p->cap_levels, p->nlevels, sizeof(LoopLevel)))
		return -1;
	l = &p->levels[p->nlevels];
	memset(l, 0, sizeof(*l));
	l->name = dup(p, name);
	l->capacity = capacity;
	return l->name ? p->nlevels++ : -1;
}

int loop_find_level(const LoopProgram *p, const char *name)
{
	for (int i = 0; i < p->nlevels; i++)
		if (strcmp(p->levels[i].name, name) == 0)
			return i;
	return -1;
}

void loop_default_levels(LoopProgram *p)
{
	loop_add_level(p, "dram", 0);
	loop_add_level(p, "l2", 1 << 20);
	loop_add_level(p, "l1", 32 << 10);
	loop_add_level(p, "reg", 512);
}

int loop_add_buf(LoopProgram *p, const char *name, DType dt, int rank, const int64_t *dims,
                 int level, int kernel)
{
	LoopBuf *b;

	if (level < 0 || rank < 0 || rank > MAX_RANK)
		return -1;
	if (!grow(p, (void **)&p->bufs, &p->cap_bufs, p->nbufs, sizeof(LoopBuf)))
		return -1;
	b = &p->bufs[p->nbufs];
	memset(b, 0, sizeof(*b));
	b->name = dup(p, name);
	b->dt = dt;
	b->rank = rank;
	for (int i = 0; i < rank; i++)
		b->dims[i] = dims[i];
	b->level = level;
	b->kernel = kernel;
	b->view_of = -1;
	return b->name ? p->nbufs++ : -1;
}

int loop_find_buf(const LoopProgram *p, const char *name)
{
	for (int i = 0; i < p->nbufs; i++)
		if (strcmp(p->bufs[i].name, name) == 0)
			return i;
	return -1;
}

int loop_add_kernel(LoopProgram *p, const char *name, const char *layer)
{
	LoopKernel *k;

	if (!grow(p, (void **)&p->kernels, &p->cap_kernels, p->nkernels, sizeof(LoopKernel)))
		return -1;
	k = &p->kernels[p->nkernels];
	memset(k, 0, sizeof(*k));
	k->name = dup(p, name);
	k->layer = dup(p, layer);
	k->body = -1;
	return k->name ? p->nkernels++ : -1;
}

static bool name_taken(const LoopProgram *p, const char *s)
{
	if (loop_is_keyword(s) || loop_find_buf(p, s) >= 0)
		return true;
	for (int i = 0; i < p->nkernels; i++)
		if (strcmp(p->kernels[i].name, s) == 0)
			return true;
	return false;
}

const char *loop_unique_name(LoopProgram *p, const char *base)
{
	size_t n = strlen(base);
	char *s = arena_alloc(&p->arena, n + 24);

	if (!s) {
		p->oom = true;
		return NULL;
	}
	s[0] = '_';
	for (size_t i = 0; i < n; i++)
		s[i + 1] = isalnum((unsigned char)base[i]) ? base[i] : '_';
	s[n + 1] = 0;
	if (n > 0 && !isdigit((unsigned char)base[0]))
		s++;
	if (!name_taken(p, s))
		return s;
	n = strlen(s);
	for (int k = 2;; k++) {
		snprintf(s + n, 24, "_%d", k);
		if (!name_taken(p, s))
			return s;
	}
}

/* Expressions. */

static int expr(LoopProgram *p, LoopExprKind kind, int a, int b, int64_t c)
{
	LoopExpr *e;

	if (!grow(p, (void **)&p->exprs, &p->cap_exprs, p->nexprs, sizeof(LoopExpr)))
		return -1;
	e = &p->exprs[p->nexprs];
	e->kind = kind;
	e->a = a;
	e->b = b;
	e->c = c;
	e->list = -1;
	e->depth = 1 + (a >= 0 ? p->exprs[a].depth : 0);
	if (b >= 0 && p->exprs[b].depth + 1 > e->depth)
		e->depth = p->exprs[b].depth + 1;
	return p->nexprs++;
}

int loop_const(LoopProgram *p, int64_t c)
{
	return expr(p, LE_CONST, -1, -1, c);
}

int loop_var(LoopProgram *p, int for_node)
{
	return for_node < 0 ? -1 : expr(p, LE_VAR, -1, -1, for_node);
}

int loop_add(LoopProgram *p, int a, int b)
{
	return a < 0 || b < 0 ? -1 : expr(p, LE_ADD, a, b, 0);
}

int loop_sub(LoopProgram *p, int a, int b)
{
	return a < 0 || b < 0 ? -1 : expr(p, LE_SUB, a, b, 0);
}

int loop_mul(LoopProgram *p, int64_t c, int a)
{
	return a < 0 ? -1 : expr(p, LE_MUL, a, -1, c);
}

int loop_div(LoopProgram *p, int a, int64_t c)
{
	nnac_assert(c > 0);
	return a < 0 ? -1 : expr(p, LE_DIV, a, -1, c);
}

int loop_mod(LoopProgram *p, int a, int64_t c)
{
	nnac_assert(c > 0);
	return a < 0 ? -1 : expr(p, LE_MOD, a, -1, c);
}

int loop_load(LoopProgram *p, int buf, int nidx, const int *idx)
{
	int e, list = p->nilist, depth = 0;

	if (buf < 0)
		return -1;
	for (int d = 0; d < nidx; d++) {
		if (idx[d] < 0)
			return -1;
		if (p->exprs[idx[d]].depth > depth)
			depth = p->exprs[idx[d]].depth;
	}
	for (int d = 0; d < nidx; d++) {
		if (!grow(p, (void **)&p->ilist, &p->cap_ilist, p->nilist, sizeof(int)))
			return -1;
		p->ilist[p->nilist++] = idx[d];
	}
	e = expr(p, LE_LOAD, -1, -1, buf);
	if (e >= 0) {
		p->exprs[e].list = list;
		p->exprs[e].depth = 1 + depth;
	}
	return e;
}

const int *loop_load_idx(const LoopProgram *p, int e)
{
	/* a scalar index buffer's list is empty, and so may the whole list be */
	return p->ilist ? p->ilist + p->exprs[e].list : NULL;
}

int loop_add_const(LoopProgram *p, int a, int64_t c)
{
	if (a < 0)
		return -1;
	if (c == 0)
		return a;
	/* Wrapping: a constant this far out of range (a hostile model's
	 * index) makes a reference the verifier refuses, not undefined
	 * behaviour here. */
	if (p->exprs[a].kind == LE_CONST)
		return loop_const(p, (int64_t)((uint64_t)p->exprs[a].c + (uint64_t)c));
	return c > 0 || c == INT64_MIN ? loop_add(p, a, loop_const(p, c)) : loop_sub(p, a, loop_const(p, -c));
}

/* Nodes. */

static int node(LoopProgram *p, LoopNodeKind kind)
{
	LoopNode *n;

	if (!grow(p, (void **)&p->nodes, &p->cap_nodes, p->nnodes, sizeof(LoopNode)))
		return -1;
	n = &p->nodes[p->nnodes];
	memset(n, 0, sizeof(*n));
	n->kind = kind;
	n->next = -1;
	n->body = -1;
	n->fn = OP_COUNT;
	return p->nnodes++;
}

int loop_new_for(LoopProgram *p, const char *var, int64_t start, int64_t extent, int64_t step)
{
	int i = node(p, LN_FOR);

	if (i < 0)
		return -1;
	p->nodes[i].var = dup(p, var);
	p->nodes[i].start = start;
	p->nodes[i].extent = extent;
	p->nodes[i].step = step;
	return p->nodes[i].var ? i : -1;
}

int loop_new_stmt(LoopProgram *p, LoopNodeKind kind)
{
	nnac_assert(kind != LN_FOR && kind != LN_NOTE);
	return node(p, kind);
}

int loop_new_note(LoopProgram *p, const char *text)
{
	int i = node(p, LN_NOTE);

	if (i < 0)
		return -1;
	p->nodes[i].text = dup(p, text);
	return p->nodes[i].text ? i : -1;
}

void loop_append(LoopProgram *p, int *head, int n)
{
	int *at = head;

	if (n < 0) {
		p->oom = true;
		return;
	}
	while (*at >= 0)
		at = &p->nodes[*at].next;
	*at = n;
}

void loop_append_in(LoopProgram *p, int k, int parent, int n)
{
	if (parent >= 0)
		loop_append(p, &p->nodes[parent].body, n);
	else if (k >= 0)
		loop_append(p, &p->kernels[k].body, n);
	else
		p->oom = true;
}

LoopArg loop_ref(int buf, int nidx, const int *idx)
{
	LoopArg a;

	memset(&a, 0, sizeof(a));
	a.buf = buf;
	a.nidx = nidx;
	for (int i = 0; i < nidx; i++)
		a.idx[i] = idx[i];
	return a;
}

LoopArg loop_lit_int(int64_t i)
{
	LoopArg a;

	memset(&a, 0, sizeof(a));
	a.buf = -1;
	a.lit.i = i;
	a.lit.f = (double)i;
	return a;
}

LoopArg loop_lit_float(double f)
{
	LoopArg a;

	memset(&a, 0, sizeof(a));
	a.buf = -1;
	a.lit.is_float = true;
	a.lit.f = f;
	return a;
}

void loop_push_arg(LoopProgram *p, int s, LoopArg a)
{
	LoopNode *n;

	if (s < 0)
		return;
	n = &p->nodes[s];
	nnac_assert(n->narg < LOOP_MAX_ARGS);
	for (int i = 0; i < a.nidx; i++)
		if (a.idx[i] < 0)
			p->oom = true;
	n->arg[n->narg++] = a;
}

/* Name tables. */

const char *loop_node_keyword(LoopNodeKind k)
{
	return node_keywords[k];
}

const char *loop_node_synopsis(LoopNodeKind k)
{
	return node_synopses[k];
}

const char *loop_reduce_name(LoopReduce r)
{
	switch (r) {
	case LR_SUM: return "sum";
	case LR_MAX: return "max";
	case LR_MIN: return "min";
	case LR_PROD: return "prod";
	}
	nnac_unreachable();
}

const char *loop_round_name(LoopRound r)
{
	switch (r) {
	case LRND_EVEN: return "even";
	case LRND_AWAY: return "away";
	}
	nnac_unreachable();
}

int64_t loop_buf_numel(const LoopBuf *b)
{
	int64_t n = 1;

	for (int i = 0; i < b->rank; i++)
		n *= b->dims[i];
	return n;
}

int64_t loop_buf_bytes(const LoopBuf *b)
{
	return loop_buf_numel(b) * dtype_size(b->dt);
}

/* The steps of the body starting at node i, run times over (checked). */
static bool body_steps(const LoopProgram *p, int i, int64_t times, int64_t *steps)
{
	for (; i >= 0; i = p->nodes[i].next) {
		const LoopNode *n = &p->nodes[i];
		int64_t inner;

		if (n->kind == LN_FOR) {
			if (!ck_mul(times, n->extent, &inner) || !body_steps(p, n->body, inner, steps))
				return false;
		} else if (n->kind != LN_NOTE && !ck_add(*steps, times, steps)) {
			return false;
		}
	}
	return true;
}

bool loop_kernel_steps(const LoopProgram *p, int k, int64_t *steps)
{
	*steps = 0;
	return body_steps(p, p->kernels[k].body, 1, steps);
}

int loop_count_inputs(const LoopProgram *p)
{
	int n = 0;

	for (int i = 0; i < p->nbufs; i++)
		n += (p->bufs[i].flags & LB_INPUT) != 0;
	return n;
}

int loop_count_outputs(const LoopProgram *p)
{
	int n = 0;

	for (int i = 0; i < p->nbufs; i++)
		n += (p->bufs[i].flags & LB_OUTPUT) != 0;
	return n;
}

static int nth_flagged(const LoopProgram *p, unsigned flag, int k)
{
	for (int i = 0; i < p->nbufs; i++)
		if ((p->bufs[i].flags & flag) && k-- == 0)
			return i;
	return -1;
}

int loop_input_buf(const LoopProgram *p, int i)
{
	return nth_flagged(p, LB_INPUT, i);
}

int loop_output_buf(const LoopProgram *p, int i)
{
	return nth_flagged(p, LB_OUTPUT, i);
}
