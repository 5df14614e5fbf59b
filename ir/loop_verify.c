/*
 * The loop IR verifier.
 *
 * Checks what every pass, the interpreter and the backends assume of a
 * LoopProgram, in three rounds:
 *   1. declarations: names, levels, buffer types and flags, views that fit
 *      their base, constants with data;
 *   2. structure, kernel by kernel: indices in range, each node reached
 *      from at most one list (a cycle or a shared node is an error; a node
 *      no list reaches is dead, left behind by a pass, and ignored),
 *      expressions acyclic, loop variables used only inside their loop,
 *      operand counts;
 *   3. meaning, statement by statement: every index provably inside its
 *      dimension for all values of the enclosing loops (the source of a
 *      padded copy may reach outside; a loaded index is checked when it
 *      runs, and its own indices here), operand types, no writes into
 *      inputs or constants; then each level's capacity against the bytes
 *      placed there at once (program buffers plus one kernel's buffers).
 * A statement whose structure is broken is not checked for meaning, so one
 * mistake gives one message.
 *
 * Errors in a parsed program are the user's (ST_INVALID, with file:line:col);
 * in a program built by a pass they are compiler bugs (ST_INTERNAL, with the
 * kernel's name as context).
 */
#include "loop.h"
#include "scalar.h"

#include <stdarg.h>
#include <string.h>

typedef struct Verifier {
	LoopProgram *p;
	Arena scratch;
	Status kind;         /* status of a finding: ST_INVALID or ST_INTERNAL */
	Status worst;
	int kernel;          /* kernel being checked, -1 for declarations */
	unsigned char *seen; /* per node: reached from a list */
	unsigned char *est;  /* per expression: 0 unchecked, 1 checking, 2 good, 3 bad */
	bool *scope;         /* per node: a `for` enclosing the current node */
	int64_t *lo, *hi;    /* per `for` node: the range of its variable */
	const char **names;  /* variable names of the enclosing loops */
	int depth;
} Verifier;

static const int node_min_args[] = {
#define NODE(id, kw, mina, maxa, syn) mina,
#include "loopstmt.def"
#undef NODE
};
static const int node_max_args[] = {
#define NODE(id, kw, mina, maxa, syn) maxa,
#include "loopstmt.def"
#undef NODE
};
_Static_assert(ARRAY_LEN(node_min_args) == LN_COUNT, "one operand count per node kind");

__attribute__((format(printf, 4, 5)))
static void verr(Verifier *v, int line, int col, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	v->worst = v->kind;
	if (line > 0 || v->kernel < 0)
		loop_error_at(v->p, line, col, v->kind, "%s", msg);
	else
		loop_error_at(v->p, line, col, v->kind, "kernel '%s': %s",
		              v->p->kernels[v->kernel].name, msg);
}

static void node_err_pos(Verifier *v, const LoopNode *n, int *line, int *col)
{
	*line = n->line;
	*col = n->col;
	if (*line == 0 && v->kernel >= 0) {
		*line = v->p->kernels[v->kernel].line;
		*col = v->p->kernels[v->kernel].col;
	}
}

#define NERR(v, n, ...) do { int l_, c_; node_err_pos(v, n, &l_, &c_); \
	verr(v, l_, c_, __VA_ARGS__); } while (0)

static bool is_ident(const char *s)
{
	if (!s || !(*s == '_' || (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')))
		return false;
	for (s++; *s; s++)
		if (!(*s == '_' || (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9')))
			return false;
	return true;
}

static const char *shown(const char *s)
{
	return s ? s : "(null)";
}

/* The first level (buffer) named s; unnamed ones are skipped, not trusted. */
static int level_named(const LoopProgram *p, const char *s)
{
	for (int i = 0; i < p->nlevels; i++)
		if (p->levels[i].name && strcmp(p->levels[i].name, s) == 0)
			return i;
	return -1;
}

static int buf_named(const LoopProgram *p, const char *s)
{
	for (int i = 0; i < p->nbufs; i++)
		if (p->bufs[i].name && strcmp(p->bufs[i].name, s) == 0)
			return i;
	return -1;
}

/* Round 1: declarations. */

static void check_levels(Verifier *v)
{
	const LoopProgram *p = v->p;

	for (int i = 0; i < p->nlevels; i++) {
		const LoopLevel *l = &p->levels[i];

		if (!is_ident(l->name))
			verr(v, 0, 0, "level %d has the bad name '%s'", i, shown(l->name));
		else if (level_named(p, l->name) != i)
			verr(v, 0, 0, "level '%s' is declared twice", l->name);
		if (l->capacity < 0)
			verr(v, 0, 0, "level '%s' has the negative capacity %lld", shown(l->name),
			     (long long)l->capacity);
	}
}

static bool kernel_named(const LoopProgram *p, const char *s, int except)
{
	for (int i = 0; i < p->nkernels; i++)
		if (i != except && p->kernels[i].name && strcmp(p->kernels[i].name, s) == 0)
			return true;
	return false;
}

/* numel of b, or -1 when a dimension is negative or the product overflows. */
static int64_t safe_numel(const LoopBuf *b)
{
	int64_t n = 1;

	for (int i = 0; i < b->rank; i++)
		if (b->dims[i] < 0 || __builtin_mul_overflow(n, b->dims[i], &n))
			return -1;
	return n;
}

/* The type of b, shape included; false when it cannot be used at all. */
static bool check_buf_type(Verifier *v, const LoopBuf *b)
{
	const LoopProgram *p = v->p;
	int line = b->line, col = b->col;
	int64_t bytes;

	if (!is_ident(b->name)) {
		verr(v, line, col, "buffer %d has the bad name '%s'", (int)(b - p->bufs), shown(b->name));
		return false;
	}
	if (b->dt <= DT_UNDEF || b->dt >= DT_COUNT) {
		verr(v, line, col, "buffer '%s' has no element type", b->name);
		return false;
	}
	if (!dtype_in_loops(b->dt)) {
		verr(v, line, col, "buffer '%s' has type %s, which the loop IR does not handle", b->name,
		     dtype_name(b->dt));
		return false;
	}
	if (b->rank < 0 || b->rank > MAX_RANK) {
		verr(v, line, col, "buffer '%s' has rank %d (at most %d)", b->name, b->rank, MAX_RANK);
		return false;
	}
	if (safe_numel(b) < 0 || __builtin_mul_overflow(safe_numel(b), (int64_t)dtype_size(b->dt), &bytes)) {
		verr(v, line, col, "buffer '%s' has a negative or too large shape", b->name);
		return false;
	}
	if (buf_named(p, b->name) != (int)(b - p->bufs) || kernel_named(p, b->name, -1))
		verr(v, line, col, "name '%s' is declared twice", b->name);
	if (b->kernel < -1 || b->kernel >= p->nkernels) {
		verr(v, line, col, "buffer '%s' belongs to kernel %d of %d", b->name, b->kernel,
		     p->nkernels);
		return false;
	}
	return true;
}

static void check_flags(Verifier *v, const LoopBuf *b)
{
	int line = b->line, col = b->col;
	unsigned io = b->flags & (LB_INPUT | LB_OUTPUT);

	if (b->flags & ~(unsigned)(LB_INPUT | LB_OUTPUT | LB_CONST))
		verr(v, line, col, "buffer '%s' has unknown flags %#x", b->name, b->flags);
	if (b->kernel >= 0 && (b->flags & (LB_INPUT | LB_OUTPUT | LB_CONST)))
		verr(v, line, col, "kernel buffer '%s' is marked input, output or const; only "
		     "program buffers may be", b->name);
	if ((b->flags & LB_INPUT) && (b->flags & LB_CONST))
		verr(v, line, col, "buffer '%s' is both input and const", b->name);
	if (io && !b->tensor)
		verr(v, line, col, "input or output buffer '%s' names no graph tensor", b->name);
	if ((b->flags & LB_CONST) && !b->data)
		verr(v, line, col, "const buffer '%s' has no data", b->name);
	if (!(b->flags & LB_CONST) && b->data)
		verr(v, line, col, "buffer '%s' has data but is not const", b->name);
	if (b->view_of >= 0 && (b->flags & (LB_INPUT | LB_CONST)))
		verr(v, line, col, "view '%s' cannot be an input or a constant", b->name);
}

static void check_view(Verifier *v, const LoopBuf *b)
{
	const LoopProgram *p = v->p;
	const LoopBuf *base;
	int line = b->line, col = b->col, steps = 0;

	if (b->view_of < -1 || b->view_of >= p->nbufs || b->view_of == (int)(b - p->bufs)) {
		verr(v, line, col, "view '%s' has the bad base %d", b->name, b->view_of);
		return;
	}
	for (int i = b->view_of; i >= 0 && steps <= p->nbufs; i = p->bufs[i].view_of, steps++)
		if (p->bufs[i].view_of < -1 || p->bufs[i].view_of >= p->nbufs)
			return;      /* reported at that view */
	if (steps > p->nbufs) {
		verr(v, line, col, "view '%s' is a view of itself through other views", b->name);
		return;
	}
	base = &p->bufs[b->view_of];
	if (base->dt != b->dt)
		verr(v, line, col, "view '%s' is %s but its base '%s' is %s", b->name,
		     dtype_name(b->dt), shown(base->name), dtype_name(base->dt));
	if (base->level != b->level)
		verr(v, line, col, "view '%s' is not at the level of its base '%s'", b->name,
		     shown(base->name));
	if (b->kernel < 0 ? base->kernel >= 0 : base->kernel >= 0 && base->kernel != b->kernel)
		verr(v, line, col, "view '%s' reaches into '%s', a buffer of another kernel",
		     b->name, shown(base->name));
	if (b->view_offset < 0 || safe_numel(base) < 0 ||
	    b->view_offset > safe_numel(base) - safe_numel(b))
		verr(v, line, col, "view '%s' covers elements [%lld, %lld) of '%s', which has %lld",
		     b->name, (long long)b->view_offset,
		     (long long)(b->view_offset + safe_numel(b)), shown(base->name),
		     (long long)safe_numel(base));
}

/* Whether every buffer is usable by the later rounds. */
static bool check_bufs(Verifier *v)
{
	const LoopProgram *p = v->p;
	bool ok = true;

	for (int i = 0; i < p->nbufs; i++) {
		const LoopBuf *b = &p->bufs[i];

		if (!check_buf_type(v, b)) {
			ok = false;
			continue;
		}
		if (b->level < 0 || b->level >= p->nlevels) {
			verr(v, b->line, b->col, "buffer '%s' is at level %d of %d", b->name, b->level,
			     p->nlevels);
			ok = false;
		}
		check_flags(v, b);
	}
	if (!ok)
		return false;
	for (int i = 0; i < p->nbufs; i++)
		if (p->bufs[i].view_of != -1)
			check_view(v, &p->bufs[i]);
	return v->worst == ST_OK;
}

static bool check_kernels(Verifier *v)
{
	const LoopProgram *p = v->p;
	bool ok = true;

	for (int i = 0; i < p->nkernels; i++) {
		const LoopKernel *k = &p->kernels[i];

		if (!is_ident(k->name)) {
			verr(v, k->line, k->col, "kernel %d has the bad name '%s'", i, shown(k->name));
			ok = false;
			continue;
		}
		if (kernel_named(p, k->name, i) || buf_named(p, k->name) >= 0)
			verr(v, k->line, k->col, "name '%s' is declared twice", k->name);
		if (k->body < -1 || k->body >= p->nnodes) {
			verr(v, k->line, k->col, "kernel '%s' starts at node %d of %d", k->name, k->body,
			     p->nnodes);
			ok = false;
		}
	}
	return ok;
}

/* Round 2: structure. */

static bool expr_ok(Verifier *v, int e);

/* A load's buffer and index list; its indices well formed and free of loads. */
static bool load_ok(Verifier *v, int e)
{
	const LoopProgram *p = v->p;
	const LoopExpr *x = &p->exprs[e];
	const int *idx;
	int rank;

	if (x->c < 0 || x->c >= p->nbufs || x->list < 0)
		return false;
	rank = p->bufs[x->c].rank;
	if (rank < 0 || rank > MAX_RANK || x->list > p->nilist - rank)
		return false;
	idx = loop_load_idx(p, e);
	for (int d = 0; d < rank; d++)
		if (!expr_ok(v, idx[d]) || loop_expr_has_load(p, idx[d]))
			return false;
	return true;
}

/* Whether expression e is well formed: indices, kinds, divisors, no cycle;
 * a load's indices hold no load. */
static bool expr_ok(Verifier *v, int e)
{
	const LoopProgram *p = v->p;
	const LoopExpr *x;
	bool ok = false;

	if (e < 0 || e >= p->nexprs || (unsigned)p->exprs[e].kind > LE_LOAD)
		return false;
	if (v->est[e] >= 2)
		return v->est[e] == 2;
	if (v->est[e] == 1)
		return false;
	v->est[e] = 1;
	x = &p->exprs[e];
	switch (x->kind) {
	case LE_CONST: ok = true; break;
	case LE_VAR: ok = x->c >= 0 && x->c < p->nnodes && p->nodes[x->c].kind == LN_FOR; break;
	case LE_ADD:
	case LE_SUB: ok = expr_ok(v, x->a) && expr_ok(v, x->b); break;
	case LE_MUL: ok = expr_ok(v, x->a); break;
	case LE_DIV:
	case LE_MOD: ok = x->c > 0 && expr_ok(v, x->a); break;
	case LE_LOAD: ok = load_ok(v, e); break;
	}
	v->est[e] = ok ? 2 : 3;
	return ok;
}

/* The first variable of e (well formed) bound by no enclosing loop, or -1. */
static int stray_var(const Verifier *v, int e)
{
	const LoopExpr *x = &v->p->exprs[e];
	int s;

	switch (x->kind) {
	case LE_CONST: return -1;
	case LE_VAR: return v->scope[x->c] ? -1 : (int)x->c;
	case LE_ADD:
	case LE_SUB:
		s = stray_var(v, x->a);
		return s >= 0 ? s : stray_var(v, x->b);
	case LE_MUL:
	case LE_DIV:
	case LE_MOD: return stray_var(v, x->a);
	case LE_LOAD:
		for (int d = 0; d < v->p->bufs[x->c].rank; d++)
			if ((s = stray_var(v, loop_load_idx(v->p, e)[d])) >= 0)
				return s;
		return -1;
	}
	nnac_unreachable();
}

/* Whether loaded index e (a whole index of a reference) reads a buffer the
 * kernel can see, of an integer type. */
static bool load_use_ok(Verifier *v, const LoopNode *n, int e, const LoopBuf *of, int d)
{
	const LoopBuf *lb = &v->p->bufs[v->p->exprs[e].c];

	if (lb->kernel >= 0 && lb->kernel != v->kernel) {
		NERR(v, n, "%s: index %d of '%s' loads from '%s', a buffer of kernel '%s'",
		     loop_node_keyword(n->kind), d, of->name, lb->name, v->p->kernels[lb->kernel].name);
		return false;
	}
	if (!dtype_is_int(lb->dt)) {
		NERR(v, n, "%s: index %d of '%s' loads from '%s', which is %s: indices are integers",
		     loop_node_keyword(n->kind), d, of->name, lb->name, dtype_name(lb->dt));
		return false;
	}
	return true;
}

/* The structure of operand i of statement n. */
static bool arg_ok(Verifier *v, const LoopNode *n, int i)
{
	const LoopProgram *p = v->p;
	const LoopArg *a = &n->arg[i];
	const LoopBuf *b;

	if (a->buf < 0) {
		if (a->buf != -1 || a->nidx != 0) {
			NERR(v, n, "%s: operand %d is neither a buffer nor a literal", loop_node_keyword(n->kind), i);
			return false;
		}
		return true;
	}
	if (a->buf >= p->nbufs) {
		NERR(v, n, "%s: operand %d names buffer %d of %d", loop_node_keyword(n->kind), i, a->buf, p->nbufs);
		return false;
	}
	b = &p->bufs[a->buf];
	if (b->kernel >= 0 && b->kernel != v->kernel) {
		NERR(v, n, "%s: '%s' is a buffer of kernel '%s'", loop_node_keyword(n->kind), b->name,
		     p->kernels[b->kernel].name);
		return false;
	}
	if (a->nidx != b->rank) {
		NERR(v, n, "%s: '%s' has rank %d but is indexed with %d indices",
		     loop_node_keyword(n->kind), b->name, b->rank, a->nidx);
		return false;
	}
	for (int d = 0; d < a->nidx; d++) {
		int s;

		if (!expr_ok(v, a->idx[d])) {
			NERR(v, n, "%s: index %d of '%s' is a malformed expression",
			     loop_node_keyword(n->kind), d, b->name);
			return false;
		}
		if ((s = stray_var(v, a->idx[d])) >= 0) {
			NERR(v, n, "%s: index %d of '%s' uses '%s', not the variable of an enclosing loop",
			     loop_node_keyword(n->kind), d, b->name, shown(p->nodes[s].var));
			return false;
		}
		if (p->exprs[a->idx[d]].kind == LE_LOAD) {
			if (!load_use_ok(v, n, a->idx[d], b, d))
				return false;
		} else if (loop_expr_has_load(p, a->idx[d])) {
			NERR(v, n, "%s: index %d of '%s' computes with a loaded index; a load must be a "
			     "whole index", loop_node_keyword(n->kind), d, b->name);
			return false;
		}
	}
	if (n->kind == LN_COPY && n->has_pad && i == 1 && loop_arg_has_load(p, a)) {
		NERR(v, n, "copy: the source of a padded copy cannot have a loaded index");
		return false;
	}
	return true;
}

/* Round 3: meaning. */

/* The indices of load e inside the buffer it reads (its value is checked
 * when it runs). */
static bool check_load_ranges(Verifier *v, const LoopNode *n, int e)
{
	const LoopProgram *p = v->p;
	const LoopBuf *b = &p->bufs[p->exprs[e].c];

	for (int d = 0; d < b->rank; d++) {
		int64_t mn, mx;

		loop_expr_range(p, loop_load_idx(p, e)[d], v->lo, v->hi, &mn, &mx);
		if (mn < 0 || mx >= b->dims[d]) {
			NERR(v, n, "%s: index %d of the load from '%s' ranges over [%lld, %lld] but the "
			     "dimension is %lld", loop_node_keyword(n->kind), d, b->name, (long long)mn,
			     (long long)mx, (long long)b->dims[d]);
			return false;
		}
	}
	return true;
}

static void check_ranges(Verifier *v, const LoopNode *n, int i)
{
	const LoopProgram *p = v->p;
	const LoopArg *a = &n->arg[i];
	const LoopBuf *b;

	if (a->buf < 0 || (n->kind == LN_COPY && n->has_pad && i == 1))
		return;
	b = &p->bufs[a->buf];
	for (int d = 0; d < a->nidx; d++) {
		int64_t mn, mx;

		if (p->exprs[a->idx[d]].kind == LE_LOAD) {
			if (!check_load_ranges(v, n, a->idx[d]))
				return;
			continue;
		}
		loop_expr_range(p, a->idx[d], v->lo, v->hi, &mn, &mx);
		if (mn < 0 || mx >= b->dims[d]) {
			NERR(v, n, "%s: index %d of '%s' ranges over [%lld, %lld] but the dimension is %lld",
			     loop_node_keyword(n->kind), d, b->name, (long long)mn, (long long)mx,
			     (long long)b->dims[d]);
			return;
		}
	}
}

static DType arg_dt(const Verifier *v, const LoopArg *a)
{
	return a->buf >= 0 ? v->p->bufs[a->buf].dt : DT_UNDEF;
}

static const char *arg_name(const Verifier *v, const LoopArg *a)
{
	return a->buf >= 0 ? v->p->bufs[a->buf].name : "a literal";
}

/* Operand i must be a buffer reference. */
static bool need_ref(Verifier *v, const LoopNode *n, int i, const char *what)
{
	if (n->arg[i].buf >= 0)
		return true;
	NERR(v, n, "%s: the %s must be a buffer element, not a literal", loop_node_keyword(n->kind), what);
	return false;
}

/* Operand i is a float (is_float) or integer scale or zero point. */
static void need_num(Verifier *v, const LoopNode *n, int i, bool is_float, const char *what)
{
	const LoopArg *a = &n->arg[i];
	DType dt = arg_dt(v, a);
	bool ok = a->buf >= 0 ? (is_float ? dtype_is_float(dt) : dtype_is_int(dt))
	                      : a->lit.is_float == is_float;

	if (ok)
		return;
	if (a->buf >= 0)
		NERR(v, n, "%s: the %s must be %s, not '%s' (%s)", loop_node_keyword(n->kind), what,
		     is_float ? "a float" : "an integer", arg_name(v, a), dtype_name(dt));
	else
		NERR(v, n, "%s: the %s must be %s, not %s literal", loop_node_keyword(n->kind), what,
		     is_float ? "a float" : "an integer", a->lit.is_float ? "a float" : "an integer");
}

static void check_mac(Verifier *v, const LoopNode *n)
{
	DType acc, a, b;
	bool ok = false;

	if (!need_ref(v, n, 0, "accumulator") || !need_ref(v, n, 1, "first factor") ||
	    !need_ref(v, n, 2, "second factor"))
		return;
	acc = arg_dt(v, &n->arg[0]);
	a = arg_dt(v, &n->arg[1]);
	b = arg_dt(v, &n->arg[2]);
	if (acc == DT_F32 || acc == DT_F64)
		ok = dtype_is_float(a) && dtype_is_float(b);
	else if (acc == DT_I32 || acc == DT_I64)
		ok = dtype_is_int(a) && dtype_is_int(b);
	else
		ok = false;
	if (!ok)
		NERR(v, n, "mac: %s += %s * %s: floats accumulate into f32 or f64 from float factors, "
		     "integers into i32 or i64 from integer factors", dtype_name(acc), dtype_name(a),
		     dtype_name(b));
}

static void check_same_type(Verifier *v, const LoopNode *n)
{
	DType d, s;

	if (!need_ref(v, n, 0, "destination") || !need_ref(v, n, 1, "source"))
		return;
	d = arg_dt(v, &n->arg[0]);
	s = arg_dt(v, &n->arg[1]);
	if (d != s)
		NERR(v, n, "%s: '%s' is %s but '%s' is %s", loop_node_keyword(n->kind),
		     arg_name(v, &n->arg[0]), dtype_name(d), arg_name(v, &n->arg[1]), dtype_name(s));
}

/* reduce: the source's type, or any float into an f64 accumulator. */
static void check_reduce_types(Verifier *v, const LoopNode *n)
{
	if (need_ref(v, n, 0, "destination") && need_ref(v, n, 1, "source") &&
	    arg_dt(v, &n->arg[0]) == DT_F64 && dtype_is_float(arg_dt(v, &n->arg[1])))
		return;
	check_same_type(v, n);
}

/* Whether apply's destination and every operand are integers (BitShift,
 * which has no float form, needs them to be). */
static bool apply_all_ints(Verifier *v, const LoopNode *n)
{
	for (int k = 0; k < n->narg; k++) {
		const LoopArg *a = &n->arg[k];

		if (a->buf >= 0 ? !dtype_is_int(arg_dt(v, a)) : a->lit.is_float)
			return false;
	}
	return true;
}

/*
 * A predicate (Equal, IsNaN...) writes a bool; an op without a float form
 * (BitShift) takes integers only.  Cast from a float to bf16
 * truncates in the graph interpreter before opset 19 and rounds from then
 * on; the loop IR does not know the opset, so it refuses the pair rather
 * than disagree with one of them.
 */
static void check_apply(Verifier *v, const LoopNode *n)
{
	int arity = loop_apply_arity(n->fn);

	if (arity == 0) {
		NERR(v, n, "apply: %s is not an elementwise op",
		     (unsigned)n->fn < OP_COUNT ? op_name(n->fn) : "this op");
		return;
	}
	if (n->narg - 1 != arity) {
		NERR(v, n, "apply: %s takes %d operand%s, not %d", op_name(n->fn), arity,
		     arity == 1 ? "" : "s", n->narg - 1);
		return;
	}
	if (!need_ref(v, n, 0, "destination"))
		return;
	if (!scalar_has_f64(n->fn) && !apply_all_ints(v, n))
		NERR(v, n, "apply: %s takes integer operands into an integer", op_name(n->fn));
	if (loop_apply_pred(n->fn) && arg_dt(v, &n->arg[0]) != DT_BOOL)
		NERR(v, n, "apply: %s gives a bool, and '%s' is %s", op_name(n->fn),
		     arg_name(v, &n->arg[0]), dtype_name(arg_dt(v, &n->arg[0])));
	if (n->fn == OP_Cast && arg_dt(v, &n->arg[0]) == DT_BF16 &&
	    dtype_is_float(arg_dt(v, &n->arg[1])) && arg_dt(v, &n->arg[1]) != DT_BF16)
		NERR(v, n, "apply: Cast from %s to bf16 rounds or truncates depending on the opset; "
		     "it cannot be applied in the loop IR", dtype_name(arg_dt(v, &n->arg[1])));
}

static void check_quant(Verifier *v, const LoopNode *n)
{
	bool src_float = n->kind == LN_QUANTIZE, dst_float = n->kind == LN_DEQUANTIZE;
	DType d, s;

	if (!need_ref(v, n, 0, "destination") || !need_ref(v, n, 1, "source"))
		return;
	d = arg_dt(v, &n->arg[0]);
	s = arg_dt(v, &n->arg[1]);
	if (src_float ? !dtype_is_float(s) : !dtype_is_int(s))
		NERR(v, n, "%s: the source '%s' is %s, not %s", loop_node_keyword(n->kind),
		     arg_name(v, &n->arg[1]), dtype_name(s), src_float ? "a float" : "an integer");
	if (dst_float ? !dtype_is_float(d) : !dtype_is_int(d))
		NERR(v, n, "%s: the destination '%s' is %s, not %s", loop_node_keyword(n->kind),
		     arg_name(v, &n->arg[0]), dtype_name(d), dst_float ? "a float" : "an integer");
	need_num(v, n, 2, true, "scale");
	need_num(v, n, 3, false, "zero point");
	if (n->kind != LN_DEQUANTIZE && n->round != LRND_EVEN && n->round != LRND_AWAY)
		NERR(v, n, "%s: unknown rounding %d", loop_node_keyword(n->kind), (int)n->round);
}

static void check_types(Verifier *v, const LoopNode *n)
{
	switch (n->kind) {
	case LN_COPY:
		check_same_type(v, n);
		return;
	case LN_FILL:
		if (need_ref(v, n, 0, "destination") && n->arg[1].buf >= 0)
			NERR(v, n, "fill: the value must be a literal");
		return;
	case LN_MAC:
		check_mac(v, n);
		return;
	case LN_APPLY:
		check_apply(v, n);
		return;
	case LN_REDUCE:
		check_reduce_types(v, n);
		if (n->red != LR_SUM && n->red != LR_MAX && n->red != LR_MIN && n->red != LR_PROD)
			NERR(v, n, "reduce: unknown reduction %d", (int)n->red);
		return;
	case LN_QUANTIZE:
	case LN_DEQUANTIZE:
	case LN_REQUANTIZE:
		check_quant(v, n);
		return;
	case LN_FOR:
	case LN_NOTE:
	case LN_COUNT:
		break;
	}
	nnac_unreachable();
}

/* The input or constant whose memory buffer b shares, or -1. */
static int readonly_root(const LoopProgram *p, int b)
{
	for (int steps = 0; b >= 0 && steps <= p->nbufs; b = p->bufs[b].view_of, steps++)
		if (p->bufs[b].flags & (LB_INPUT | LB_CONST))
			return b;
	return -1;
}

static void check_write(Verifier *v, const LoopNode *n)
{
	const LoopArg *d = &n->arg[0];
	int r;

	if (d->buf < 0 || (r = readonly_root(v->p, d->buf)) < 0)
		return;
	NERR(v, n, "%s: writes into '%s', which is %s", loop_node_keyword(n->kind),
	     v->p->bufs[d->buf].name, r == d->buf ? (v->p->bufs[r].flags & LB_INPUT ? "an input"
	     : "a constant") : "a view of an input or constant");
}

static void check_stmt(Verifier *v, const LoopNode *n)
{
	bool ok = true;

	if (n->narg < node_min_args[n->kind] || n->narg > node_max_args[n->kind]) {
		NERR(v, n, "%s has %d operands, not %d to %d", loop_node_keyword(n->kind), n->narg,
		     node_min_args[n->kind], node_max_args[n->kind]);
		return;
	}
	for (int i = 0; i < n->narg; i++)
		ok = ok && arg_ok(v, n, i);
	if (!ok)
		return;
	if (n->has_pad && n->kind != LN_COPY)
		NERR(v, n, "%s cannot have a pad value", loop_node_keyword(n->kind));
	for (int i = 0; i < n->narg; i++)
		check_ranges(v, n, i);
	check_types(v, n);
	check_write(v, n);
}

static void check_list(Verifier *v, int head);

static void check_for(Verifier *v, int i)
{
	LoopNode *n = &v->p->nodes[i];
	int64_t last;

	if (!is_ident(n->var)) {
		NERR(v, n, "for: bad variable name '%s'", shown(n->var));
		return;
	}
	for (int d = 0; d < v->depth; d++)
		if (strcmp(v->names[d], n->var) == 0) {
			NERR(v, n, "for: variable '%s' is already the variable of an enclosing loop", n->var);
			return;
		}
	if (n->extent < 1 || n->step < 1 ||
	    __builtin_mul_overflow(n->extent, n->step, &last) ||
	    __builtin_add_overflow(n->start, last, &last)) {
		NERR(v, n, "for %s: extent %lld and step %lld must be at least 1 and the end must "
		     "fit in 64 bits", n->var, (long long)n->extent, (long long)n->step);
		return;
	}
	v->lo[i] = n->start;
	v->hi[i] = n->start + (n->extent - 1) * n->step;
	v->scope[i] = true;
	v->names[v->depth++] = n->var;
	check_list(v, n->body);
	v->depth--;
	v->scope[i] = false;
}

static void check_list(Verifier *v, int head)
{
	LoopProgram *p = v->p;

	for (int i = head; i != -1; i = p->nodes[i].next) {
		LoopNode *n;

		if (i < -1 || i >= p->nnodes) {
			verr(v, 0, 0, "a list links to node %d of %d", i, p->nnodes);
			return;
		}
		if (v->seen[i]) {
			verr(v, 0, 0, "node %d is reached twice (a cycle or a node in two lists)", i);
			return;
		}
		v->seen[i] = 1;
		n = &p->nodes[i];
		if ((unsigned)n->kind >= LN_COUNT) {
			verr(v, 0, 0, "node %d has the unknown kind %d", i, (int)n->kind);
			return;
		}
		if (n->kind == LN_FOR) {
			if (n->body < -1 || n->body >= p->nnodes)
				NERR(v, n, "for %s: body at node %d of %d", shown(n->var), n->body, p->nnodes);
			else
				check_for(v, i);
		} else if (n->kind != LN_NOTE) {
			check_stmt(v, n);
		}
	}
}

/* Levels: capacity against program buffers plus one kernel's buffers. */

/* Bytes of the buffers (views excepted) of kernel k (-1: the program's) at level l. */
static int64_t level_bytes(const LoopProgram *p, int l, int k)
{
	int64_t sum = 0;

	for (int i = 0; i < p->nbufs; i++)
		if (p->bufs[i].level == l && p->bufs[i].kernel == k && p->bufs[i].view_of < 0)
			sum += loop_buf_bytes(&p->bufs[i]);
	return sum;
}

static void check_capacity(Verifier *v)
{
	const LoopProgram *p = v->p;

	for (int l = 0; l < p->nlevels; l++) {
		int64_t cap = p->levels[l].capacity, prog = level_bytes(p, l, -1);

		if (cap <= 0)
			continue;
		if (prog > cap) {
			verr(v, 0, 0, "level '%s' holds %lld bytes of program buffers but its capacity "
			     "is %lld", p->levels[l].name, (long long)prog, (long long)cap);
			continue;
		}
		for (int k = 0; k < p->nkernels; k++) {
			int64_t sum = prog + level_bytes(p, l, k);

			v->kernel = k;
			if (sum > cap)
				verr(v, p->kernels[k].line, p->kernels[k].col, "level '%s' holds %lld bytes "
				     "but its capacity is %lld", p->levels[l].name, (long long)sum,
				     (long long)cap);
		}
		v->kernel = -1;
	}
}

static bool verifier_init(Verifier *v, LoopProgram *p)
{
	int nn = p->nnodes > 0 ? p->nnodes : 1, ne = p->nexprs > 0 ? p->nexprs : 1;

	memset(v, 0, sizeof(*v));
	v->p = p;
	v->kind = p->text ? ST_INVALID : ST_INTERNAL;
	v->kernel = -1;
	arena_init(&v->scratch);
	v->seen = arena_alloc(&v->scratch, (size_t)nn);
	v->est = arena_alloc(&v->scratch, (size_t)ne);
	v->scope = arena_alloc(&v->scratch, (size_t)nn * sizeof(bool));
	v->lo = arena_alloc(&v->scratch, (size_t)nn * sizeof(int64_t));
	v->hi = arena_alloc(&v->scratch, (size_t)nn * sizeof(int64_t));
	v->names = arena_alloc(&v->scratch, (size_t)nn * sizeof(char *));
	return v->seen && v->est && v->scope && v->lo && v->hi && v->names;
}

Status loop_verify(LoopProgram *p)
{
	Verifier v;

	if (!verifier_init(&v, p)) {
		arena_free(&v.scratch);
		return diag_add(p->diag, ST_NOMEM, "%s: out of memory", p->path);
	}
	check_levels(&v);
	if (check_bufs(&v) && check_kernels(&v)) {
		for (int k = 0; k < p->nkernels; k++) {
			v.kernel = k;
			check_list(&v, p->kernels[k].body);
		}
		v.kernel = -1;
		check_capacity(&v);
	}
	arena_free(&v.scratch);
	return v.worst;
}
