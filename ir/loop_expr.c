/*
 * Loop IR: analysis of index expressions.
 *
 * An index expression is affine in the loop variables (constants, variables,
 * sums, differences and products by constants) or contains floor division
 * and modulo by positive constants.  Division and modulo follow Python:
 * the quotient rounds toward minus infinity and the remainder takes the
 * divisor's sign, so -1 / 4 is -1 and -1 % 4 is 3.
 *
 * Ranges are exact for affine expressions: each term reaches its extreme at
 * a corner of the box the variables range over, independently of the other
 * terms.  Division and modulo get a conservative interval around their
 * operand's exact range.  Range arithmetic saturates at the int64 limits
 * instead of wrapping, so a huge range can only grow, never turn into a
 * small one; evaluation wraps (unsigned arithmetic) as the index of a
 * program that passed the verifier never comes near the limits.
 *
 * A loaded index (LE_LOAD) is not affine and its range is all of int64:
 * only the run-time check bounds it.  Its own indices are expressions like
 * any other, so substitution and simplification go into them.
 *
 * loop_expr_simplify rebuilds an affine expression in canonical order and,
 * for one with division or modulo, rebuilds the affine parts below them, so
 * that `(4*yo + yi) / 2` reads the same whichever pass produced it.
 */
#include "loop.h"

#include <stdlib.h>

static int64_t sat_add(int64_t a, int64_t b)
{
	int64_t r;

	if (!__builtin_add_overflow(a, b, &r))
		return r;
	return b > 0 ? INT64_MAX : INT64_MIN;
}

static int64_t sat_mul(int64_t a, int64_t b)
{
	int64_t r;

	if (!__builtin_mul_overflow(a, b, &r))
		return r;
	return (a < 0) != (b < 0) ? INT64_MIN : INT64_MAX;
}

static int64_t floor_div(int64_t a, int64_t c)
{
	int64_t q = a / c;

	return (a % c != 0 && (a < 0) != (c < 0)) ? q - 1 : q;
}

static int64_t floor_mod(int64_t a, int64_t c)
{
	int64_t r = a % c;

	return (r != 0 && (r < 0) != (c < 0)) ? r + c : r;
}

static int64_t wrap_add(int64_t a, int64_t b) { return (int64_t)((uint64_t)a + (uint64_t)b); }
static int64_t wrap_sub(int64_t a, int64_t b) { return (int64_t)((uint64_t)a - (uint64_t)b); }
static int64_t wrap_mul(int64_t a, int64_t b) { return (int64_t)((uint64_t)a * (uint64_t)b); }

/* Affine extraction. */

static bool term_add(LoopAffine *out, int var, int64_t coef)
{
	for (int i = 0; i < out->n; i++) {
		if (out->var[i] == var)
			return !__builtin_add_overflow(out->coef[i], coef, &out->coef[i]);
	}
	if (out->n == LOOP_MAX_TERMS)
		return false;
	out->var[out->n] = var;
	out->coef[out->n++] = coef;
	return true;
}

/* Adds m * e to out; false when e is not affine or a coefficient overflows. */
static bool affine_acc(const LoopProgram *p, int e, int64_t m, LoopAffine *out)
{
	const LoopExpr *x = &p->exprs[e];
	int64_t mc;

	switch (x->kind) {
	case LE_CONST:
		return !__builtin_mul_overflow(m, x->c, &mc) && !__builtin_add_overflow(out->c, mc, &out->c);
	case LE_VAR:
		return term_add(out, (int)x->c, m);
	case LE_ADD:
		return affine_acc(p, x->a, m, out) && affine_acc(p, x->b, m, out);
	case LE_SUB:
		return !__builtin_mul_overflow(m, -1, &mc) && affine_acc(p, x->a, m, out) &&
		       affine_acc(p, x->b, mc, out);
	case LE_MUL:
		return !__builtin_mul_overflow(m, x->c, &mc) && affine_acc(p, x->a, mc, out);
	case LE_DIV:
	case LE_MOD:
	case LE_LOAD:
		return false;
	}
	nnac_unreachable();
}

static int term_cmp(const void *a, const void *b)
{
	const int *x = a, *y = b;

	return (x[0] > y[0]) - (x[0] < y[0]);
}

/* Drops zero terms and sorts the rest by variable. */
static void affine_canon(LoopAffine *a)
{
	struct { int var; int pad; int64_t coef; } t[LOOP_MAX_TERMS];
	int n = 0;

	for (int i = 0; i < a->n; i++) {
		if (a->coef[i] == 0)
			continue;
		t[n].var = a->var[i];
		t[n].pad = 0;
		t[n++].coef = a->coef[i];
	}
	qsort(t, (size_t)n, sizeof(t[0]), term_cmp);
	for (int i = 0; i < n; i++) {
		a->var[i] = t[i].var;
		a->coef[i] = t[i].coef;
	}
	a->n = n;
}

bool loop_expr_affine(const LoopProgram *p, int e, LoopAffine *out)
{
	out->n = 0;
	out->c = 0;
	if (!affine_acc(p, e, 1, out))
		return false;
	affine_canon(out);
	return true;
}

/* Ranges. */

static void affine_range(const LoopAffine *a, const int64_t *lo, const int64_t *hi,
                         int64_t *min, int64_t *max)
{
	int64_t mn = a->c, mx = a->c;

	for (int i = 0; i < a->n; i++) {
		int64_t l = sat_mul(a->coef[i], lo[a->var[i]]);
		int64_t h = sat_mul(a->coef[i], hi[a->var[i]]);

		mn = sat_add(mn, l < h ? l : h);
		mx = sat_add(mx, l < h ? h : l);
	}
	*min = mn;
	*max = mx;
}

/* Floor division and modulo of an operand known to lie in [mn, mx]. */
static void divmod_range(LoopExprKind k, int64_t c, int64_t mn, int64_t mx, int64_t *min,
                         int64_t *max)
{
	if (k == LE_DIV) {
		*min = floor_div(mn, c);
		*max = floor_div(mx, c);
		return;
	}
	if (mn != INT64_MIN && mx != INT64_MAX && floor_div(mn, c) == floor_div(mx, c)) {
		*min = floor_mod(mn, c);
		*max = floor_mod(mx, c);
		return;
	}
	*min = 0;
	*max = c - 1;
}

void loop_expr_range(const LoopProgram *p, int e, const int64_t *lo, const int64_t *hi,
                     int64_t *min, int64_t *max)
{
	const LoopExpr *x = &p->exprs[e];
	LoopAffine a;
	int64_t amn, amx, bmn, bmx;

	if (loop_expr_affine(p, e, &a)) {
		affine_range(&a, lo, hi, min, max);
		return;
	}
	switch (x->kind) {
	case LE_CONST:
	case LE_VAR:
		break;
	case LE_ADD:
		loop_expr_range(p, x->a, lo, hi, &amn, &amx);
		loop_expr_range(p, x->b, lo, hi, &bmn, &bmx);
		*min = sat_add(amn, bmn);
		*max = sat_add(amx, bmx);
		return;
	case LE_SUB:
		loop_expr_range(p, x->a, lo, hi, &amn, &amx);
		loop_expr_range(p, x->b, lo, hi, &bmn, &bmx);
		*min = sat_add(amn, sat_mul(bmx, -1));
		*max = sat_add(amx, sat_mul(bmn, -1));
		return;
	case LE_MUL:
		loop_expr_range(p, x->a, lo, hi, &amn, &amx);
		amn = sat_mul(amn, x->c);
		amx = sat_mul(amx, x->c);
		*min = amn < amx ? amn : amx;
		*max = amn < amx ? amx : amn;
		return;
	case LE_DIV:
	case LE_MOD:
		loop_expr_range(p, x->a, lo, hi, &amn, &amx);
		divmod_range(x->kind, x->c, amn, amx, min, max);
		return;
	case LE_LOAD:
		*min = INT64_MIN;
		*max = INT64_MAX;
		return;
	}
	nnac_unreachable();
}

int64_t loop_expr_eval(const LoopProgram *p, int e, const int64_t *vars)
{
	const LoopExpr *x = &p->exprs[e];

	switch (x->kind) {
	case LE_CONST: return x->c;
	case LE_VAR: return vars[x->c];
	case LE_ADD: return wrap_add(loop_expr_eval(p, x->a, vars), loop_expr_eval(p, x->b, vars));
	case LE_SUB: return wrap_sub(loop_expr_eval(p, x->a, vars), loop_expr_eval(p, x->b, vars));
	case LE_MUL: return wrap_mul(x->c, loop_expr_eval(p, x->a, vars));
	case LE_DIV: return floor_div(loop_expr_eval(p, x->a, vars), x->c);
	case LE_MOD: return floor_mod(loop_expr_eval(p, x->a, vars), x->c);
	case LE_LOAD: break;    /* needs memory: the interpreter reads loads itself */
	}
	nnac_unreachable();
}

bool loop_expr_uses(const LoopProgram *p, int e, int v)
{
	const LoopExpr *x = &p->exprs[e];

	switch (x->kind) {
	case LE_CONST: return false;
	case LE_VAR: return x->c == v;
	case LE_ADD:
	case LE_SUB: return loop_expr_uses(p, x->a, v) || loop_expr_uses(p, x->b, v);
	case LE_MUL:
	case LE_DIV:
	case LE_MOD: return loop_expr_uses(p, x->a, v);
	case LE_LOAD:
		for (int d = 0; d < p->bufs[x->c].rank; d++)
			if (loop_expr_uses(p, loop_load_idx(p, e)[d], v))
				return true;
		return false;
	}
	nnac_unreachable();
}

bool loop_expr_has_load(const LoopProgram *p, int e)
{
	const LoopExpr *x = &p->exprs[e];

	switch (x->kind) {
	case LE_CONST:
	case LE_VAR: return false;
	case LE_ADD:
	case LE_SUB: return loop_expr_has_load(p, x->a) || loop_expr_has_load(p, x->b);
	case LE_MUL:
	case LE_DIV:
	case LE_MOD: return loop_expr_has_load(p, x->a);
	case LE_LOAD: return true;
	}
	nnac_unreachable();
}

bool loop_arg_has_load(const LoopProgram *p, const LoopArg *a)
{
	for (int d = 0; a->buf >= 0 && d < a->nidx; d++)
		if (p->exprs[a->idx[d]].kind == LE_LOAD)
			return true;
	return false;
}

/* Load e with every index i replaced by f(i) (NULL: failed); e itself when
 * nothing changes. */
static int load_map(LoopProgram *p, int e, int (*f)(LoopProgram *, int, int, int), int v, int r)
{
	int idx[MAX_RANK], buf = (int)p->exprs[e].c, n = p->bufs[buf].rank;
	bool same = true;

	for (int d = 0; d < n; d++) {
		idx[d] = f(p, loop_load_idx(p, e)[d], v, r);
		if (idx[d] < 0)
			return -1;
		same &= idx[d] == loop_load_idx(p, e)[d];
	}
	return same ? e : loop_load(p, buf, n, idx);
}

/* e's node with operands a and b (builders may move p->exprs). */
static int rebuild(LoopProgram *p, LoopExprKind k, int64_t c, int a, int b)
{
	switch (k) {
	case LE_CONST: return loop_const(p, c);
	case LE_VAR: return loop_var(p, (int)c);
	case LE_ADD: return loop_add(p, a, b);
	case LE_SUB: return loop_sub(p, a, b);
	case LE_MUL: return loop_mul(p, c, a);
	case LE_DIV: return loop_div(p, a, c);
	case LE_MOD: return loop_mod(p, a, c);
	case LE_LOAD: break;    /* load_map rebuilds loads */
	}
	nnac_unreachable();
}

int loop_expr_subst(LoopProgram *p, int e, int v, int r)
{
	LoopExpr x = p->exprs[e];
	int a = -1, b = -1;

	if (!loop_expr_uses(p, e, v))
		return e;
	if (x.kind == LE_VAR)
		return r;
	if (x.kind == LE_LOAD)
		return load_map(p, e, loop_expr_subst, v, r);
	if (x.a >= 0)
		a = loop_expr_subst(p, x.a, v, r);
	if (x.b >= 0)
		b = loop_expr_subst(p, x.b, v, r);
	if (a < 0 && x.a >= 0)
		return -1;
	return rebuild(p, x.kind, x.c, a, b);
}

/* coef * var as written: `v`, `-v` or `3*v`. */
static int term(LoopProgram *p, int var, int64_t coef)
{
	int v = loop_var(p, var);

	return coef == 1 ? v : loop_mul(p, coef, v);
}

static int affine_build(LoopProgram *p, const LoopAffine *a)
{
	int e = -1;

	for (int i = 0; i < a->n; i++) {
		int64_t c = a->coef[i];

		if (e < 0)
			e = term(p, a->var[i], c);
		else if (c < 0 && c != INT64_MIN)
			e = loop_sub(p, e, term(p, a->var[i], -c));
		else
			e = loop_add(p, e, term(p, a->var[i], c));
		if (e < 0)
			return -1;
	}
	if (e < 0)
		return loop_const(p, a->c);
	if (a->c == INT64_MIN)
		return loop_add(p, e, loop_const(p, a->c));
	return loop_add_const(p, e, a->c);
}

/* Whether e is already written as affine_build would write a. */
static bool same_tree(const LoopProgram *p, int x, int y)
{
	const LoopExpr *a = &p->exprs[x], *b = &p->exprs[y];

	if (x == y)
		return true;
	if (a->kind != b->kind || a->c != b->c)
		return false;
	if ((a->a >= 0) != (b->a >= 0) || (a->b >= 0) != (b->b >= 0))
		return false;
	return (a->a < 0 || same_tree(p, a->a, b->a)) && (a->b < 0 || same_tree(p, a->b, b->b));
}

static int simplify_in(LoopProgram *p, int e, int v, int r)
{
	(void)v;
	(void)r;
	return loop_expr_simplify(p, e);
}

int loop_expr_simplify(LoopProgram *p, int e)
{
	LoopExpr x = p->exprs[e];
	LoopAffine a;
	int s, sa, sb;

	if (loop_expr_affine(p, e, &a)) {
		s = affine_build(p, &a);
		return s >= 0 && same_tree(p, s, e) ? e : s;
	}
	if (x.kind == LE_LOAD)
		return load_map(p, e, simplify_in, 0, 0);
	sa = x.a >= 0 ? loop_expr_simplify(p, x.a) : -1;
	sb = x.b >= 0 ? loop_expr_simplify(p, x.b) : -1;
	if ((x.a >= 0 && sa < 0) || (x.b >= 0 && sb < 0))
		return -1;
	if (sa == x.a && sb == x.b)
		return e;
	return rebuild(p, x.kind, x.c, sa, sb);
}
