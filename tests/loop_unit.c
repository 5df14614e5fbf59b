/*
 * Unit tests of the loop IR's analyses, verifier and interpreter, on small
 * programs built with the builders: expression ranges and floor semantics,
 * one program per verifier rejection, and kernels (matmul, padded conv,
 * pooling, softmax, quantization, views, integer and NaN cases) whose
 * results are computed again directly here, bit for bit.  Times a 512^3
 * f32 matmul (information only).  Prints one line per failed check and
 * "loop-unit: P passed, F failed".
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loop.h"
#include "tile.h"
#include "test_util.h"

/* A program under construction: P with diagnostics D, kernel K. */
static LoopProgram P;
static Diag D;
static int K;

static void prog_new(void)
{
	diag_init(&D);
	loop_init(&P, &D, "t.loop");
	loop_add_level(&P, "dram", 0);
	K = -1;
}

static void prog_free(void)
{
	loop_free(&P);
	diag_free(&D);
}

static int kernel(const char *name)
{
	return K = loop_add_kernel(&P, name, NULL);
}

static int buf(const char *name, DType dt, int rank, const int64_t *dims, unsigned flags)
{
	int b = loop_add_buf(&P, name, dt, rank, dims, 0, flags == (unsigned)-1 ? K : -1);

	if (flags != (unsigned)-1) {
		P.bufs[b].flags = flags;
		if (flags & (LB_INPUT | LB_OUTPUT))
			P.bufs[b].tensor = name;
		if (flags & LB_CONST)
			P.bufs[b].data = arena_alloc(&P.arena, (size_t)loop_buf_bytes(&P.bufs[b]));
	}
	return b;
}
#define KBUF ((unsigned)-1)
#define DIMS(...) ((const int64_t[]){__VA_ARGS__})

static int *head_of(int parent)
{
	return parent < 0 ? &P.kernels[K].body : &P.nodes[parent].body;
}

static int loop_for(int parent, const char *v, int64_t start, int64_t n, int64_t step)
{
	int f = loop_new_for(&P, v, start, n, step);

	loop_append(&P, head_of(parent), f);
	return f;
}

static LoopArg ref(int b, int n, ...)
{
	int idx[MAX_RANK];
	va_list ap;

	va_start(ap, n);
	for (int i = 0; i < n; i++)
		idx[i] = va_arg(ap, int);
	va_end(ap);
	return loop_ref(b, n, idx);
}

static int stmt(int parent, LoopNodeKind k, int narg, ...)
{
	int s = loop_new_stmt(&P, k);
	va_list ap;

	va_start(ap, narg);
	for (int i = 0; i < narg; i++)
		loop_push_arg(&P, s, va_arg(ap, LoopArg));
	va_end(ap);
	loop_append(&P, head_of(parent), s);
	return s;
}

static int V(int f) { return loop_var(&P, f); }
static int C(int64_t c) { return loop_const(&P, c); }

static bool diag_has(const char *text)
{
	for (int i = 0; i < D.n; i++)
		if (strstr(D.msg[i].text, text))
			return true;
	return false;
}

/* Expression analysis. */

static void test_affine(void)
{
	LoopAffine a;
	int i, j, e;

	prog_new();
	kernel("k");
	i = loop_for(-1, "i", 0, 8, 1);
	j = loop_for(i, "j", 0, 4, 1);
	/* j + 2*i - i + 5 - 3*j  ->  i - 2*j + 5 */
	e = loop_sub(&P, loop_add_const(&P, loop_sub(&P, loop_add(&P, V(j), loop_mul(&P, 2, V(i))), V(i)), 5),
	             loop_mul(&P, 3, V(j)));
	CHECK(loop_expr_affine(&P, e, &a));
	CHECK(a.n == 2 && a.var[0] == i && a.coef[0] == 1 && a.var[1] == j && a.coef[1] == -2 && a.c == 5);
	CHECK(!loop_expr_affine(&P, loop_div(&P, e, 2), &a));
	/* i - i cancels */
	CHECK(loop_expr_affine(&P, loop_sub(&P, V(i), V(i)), &a) && a.n == 0 && a.c == 0);
	CHECK(loop_expr_uses(&P, e, j) && !loop_expr_uses(&P, loop_mul(&P, 4, V(i)), j));
	prog_free();
}

static void test_range(void)
{
	int64_t lo[8] = {0}, hi[8] = {0}, mn, mx;
	int i, j, e;

	prog_new();
	kernel("k");
	i = loop_for(-1, "i", 0, 8, 1);
	j = loop_for(i, "j", 0, 4, 1);
	lo[i] = 0, hi[i] = 7, lo[j] = -1, hi[j] = 3;
	/* -2*i + j + 1 over i in [0,7], j in [-1,3]: [-14, 4] exactly */
	e = loop_add_const(&P, loop_add(&P, loop_mul(&P, -2, V(i)), V(j)), 1);
	loop_expr_range(&P, e, lo, hi, &mn, &mx);
	CHECK(mn == -14 && mx == 4);
	/* i - i is 0, exact only because it is affine */
	loop_expr_range(&P, loop_sub(&P, V(i), V(i)), lo, hi, &mn, &mx);
	CHECK(mn == 0 && mx == 0);
	/* (i - 3) / 2 over i in [0,7]: floor: [-2, 2] */
	loop_expr_range(&P, loop_div(&P, loop_add_const(&P, V(i), -3), 2), lo, hi, &mn, &mx);
	CHECK(mn == -2 && mx == 2);
	/* i % 4 spans periods: [0, 3]; (j + 4) % 8 with j + 4 in [3, 7], one period: exact */
	loop_expr_range(&P, loop_mod(&P, V(i), 4), lo, hi, &mn, &mx);
	CHECK(mn == 0 && mx == 3);
	loop_expr_range(&P, loop_mod(&P, loop_add_const(&P, V(j), 4), 8), lo, hi, &mn, &mx);
	CHECK(mn == 3 && mx == 7);
	/* (j - 1) % 4 with j - 1 in [-2, 2] crosses a period: [0, 3] */
	loop_expr_range(&P, loop_mod(&P, loop_add_const(&P, V(j), -1), 4), lo, hi, &mn, &mx);
	CHECK(mn == 0 && mx == 3);
	/* saturates instead of wrapping */
	loop_expr_range(&P, loop_mul(&P, INT64_MAX / 2, V(i)), lo, hi, &mn, &mx);
	CHECK(mn == 0 && mx == INT64_MAX);
	loop_expr_range(&P, loop_mul(&P, INT64_MIN / 2, V(i)), lo, hi, &mn, &mx);
	CHECK(mn == INT64_MIN && mx == 0);
	prog_free();
}

static void test_floor(void)
{
	int64_t vars[4] = {0};
	int i, d, m;

	prog_new();
	kernel("k");
	i = loop_for(-1, "i", -8, 16, 1);
	d = loop_div(&P, V(i), 4);
	m = loop_mod(&P, V(i), 4);
	vars[i] = -1;
	CHECK(loop_expr_eval(&P, d, vars) == -1 && loop_expr_eval(&P, m, vars) == 3);
	vars[i] = -8;
	CHECK(loop_expr_eval(&P, d, vars) == -2 && loop_expr_eval(&P, m, vars) == 0);
	vars[i] = -7;
	CHECK(loop_expr_eval(&P, d, vars) == -2 && loop_expr_eval(&P, m, vars) == 1);
	vars[i] = 7;
	CHECK(loop_expr_eval(&P, d, vars) == 1 && loop_expr_eval(&P, m, vars) == 3);
	/* d * 4 + m == i for every i */
	{
		bool ok = true;

		for (int64_t v = -20; v <= 20; v++) {
			vars[i] = v;
			ok &= loop_expr_eval(&P, d, vars) * 4 + loop_expr_eval(&P, m, vars) == v;
		}
		CHECK(ok);
	}
	prog_free();
}

static void test_subst_simplify(void)
{
	int64_t vars[8] = {0};
	int i, j, io, ii, e, r, s, t;
	const LoopExpr *x;

	prog_new();
	kernel("k");
	i = loop_for(-1, "i", 0, 8, 1);
	j = loop_for(i, "j", 0, 8, 1);
	io = loop_for(j, "io", 0, 2, 1);
	ii = loop_for(io, "ii", 0, 4, 1);
	e = loop_add(&P, loop_mul(&P, 2, V(i)), loop_div(&P, V(j), 3));
	r = loop_add(&P, loop_mul(&P, 4, V(io)), V(ii));
	s = loop_expr_subst(&P, e, i, r);
	CHECK(s != e && !loop_expr_uses(&P, s, i) && loop_expr_uses(&P, s, ii));
	CHECK(loop_expr_subst(&P, e, io, r) == e);
	vars[io] = 1, vars[ii] = 3, vars[j] = 7, vars[i] = 7;
	CHECK(loop_expr_eval(&P, s, vars) == loop_expr_eval(&P, e, vars));
	/* j + 3 - 2*i + i  ->  -i + j + 3, variables in for-node order, constant last */
	t = loop_expr_simplify(&P, loop_add(&P, loop_sub(&P, loop_add_const(&P, V(j), 3),
	                                                 loop_mul(&P, 2, V(i))), V(i)));
	x = &P.exprs[t];
	CHECK(x->kind == LE_ADD && P.exprs[x->b].kind == LE_CONST && P.exprs[x->b].c == 3);
	x = &P.exprs[x->a];
	CHECK(x->kind == LE_ADD && P.exprs[x->a].kind == LE_MUL && P.exprs[x->a].c == -1 &&
	      P.exprs[x->b].kind == LE_VAR && P.exprs[x->b].c == j);
	/* simplifying the canonical form gives it back; y - 2 stays LE_SUB */
	CHECK(loop_expr_simplify(&P, t) == t);
	t = loop_expr_simplify(&P, loop_add(&P, V(i), C(-2)));
	CHECK(P.exprs[t].kind == LE_SUB && P.exprs[P.exprs[t].b].c == 2);
	prog_free();
}

/* Verifier. */

/* A valid kernel: Y[i] = X[i] + 1 over f32[8]; returns the loop. */
static int base_prog(int *x, int *y)
{
	int i, s;

	prog_new();
	*x = buf("X", DT_F32, 1, DIMS(8), LB_INPUT);
	*y = buf("Y", DT_F32, 1, DIMS(8), LB_OUTPUT);
	kernel("k");
	i = loop_for(-1, "i", 0, 8, 1);
	s = stmt(i, LN_APPLY, 3, ref(*y, 1, V(i)), ref(*x, 1, V(i)), loop_lit_float(1.0));
	P.nodes[s].fn = OP_Add;
	return i;
}

static void test_verify_ok(void)
{
	int x, y;

	base_prog(&x, &y);
	CHECK(loop_verify(&P) == ST_OK && D.n == 0);
	prog_free();
}

static void test_verify_ranges(void)
{
	int x, y, xp, n, c, yy, xx, i, j;

	/* the padded copy may reach outside its source; the conv's reads may not */
	prog_new();
	x = buf("X", DT_F32, 2, DIMS(30, 30), LB_INPUT);
	y = buf("Y", DT_F32, 2, DIMS(32, 32), LB_OUTPUT);
	kernel("conv1");
	xp = buf("Xp", DT_F32, 4, DIMS(1, 1, 32, 32), KBUF);
	n = loop_for(-1, "n", 0, 1, 1);
	c = loop_for(n, "c", 0, 1, 1);
	yy = loop_for(c, "y", 0, 32, 1);
	xx = loop_for(yy, "x", 0, 32, 1);
	P.nodes[stmt(xx, LN_COPY, 2, ref(xp, 4, V(n), V(c), V(yy), V(xx)),
	             ref(x, 2, loop_add_const(&P, V(yy), -1), loop_add_const(&P, V(xx), -1)))].has_pad = true;
	CHECK(loop_verify(&P) == ST_OK);
	i = loop_for(-1, "y", 0, 32, 1);
	j = loop_for(i, "x", 0, 32, 1);
	stmt(j, LN_COPY, 2, ref(y, 2, V(i), V(j)), ref(xp, 4, C(0), C(0), loop_add_const(&P, V(i), 2), V(j)));
	CHECK(loop_verify(&P) == ST_INTERNAL);
	CHECK(diag_has("t.loop: kernel 'conv1': copy: index 2 of 'Xp' ranges over [2, 33] but the dimension is 32"));
	prog_free();

	/* stepped loop with a negative coefficient: 7 - i over i = 0, 3, 6: [1, 7] fits 8 */
	base_prog(&x, &y);
	i = loop_for(-1, "i", 0, 3, 3);
	stmt(i, LN_COPY, 2, ref(y, 1, loop_sub(&P, C(7), V(i))), ref(x, 1, V(i)));
	CHECK(loop_verify(&P) == ST_OK);
	P.nodes[i].extent = 4;   /* i reaches 9 */
	CHECK(loop_verify(&P) != ST_OK && diag_has("index 0 of 'Y' ranges over [-2, 7]"));
	prog_free();
}

static void test_verify_structure(void)
{
	int x, y, i, j, s;

	/* rank */
	base_prog(&x, &y);
	i = loop_for(-1, "j", 0, 8, 1);
	stmt(i, LN_COPY, 2, ref(y, 2, V(i), C(0)), ref(x, 1, V(i)));
	CHECK(loop_verify(&P) == ST_INTERNAL && diag_has("'Y' has rank 1 but is indexed with 2 indices"));
	prog_free();

	/* a variable of a sibling loop */
	i = base_prog(&x, &y);
	j = loop_for(-1, "j", 0, 8, 1);
	stmt(j, LN_COPY, 2, ref(y, 1, V(i)), ref(x, 1, V(j)));
	CHECK(loop_verify(&P) == ST_INTERNAL && diag_has("uses 'i', not the variable of an enclosing loop"));
	prog_free();

	/* extent and step */
	i = base_prog(&x, &y);
	P.nodes[i].extent = 0;
	CHECK(loop_verify(&P) == ST_INTERNAL && diag_has("must be at least 1"));
	prog_free();
	i = base_prog(&x, &y);
	P.nodes[i].step = 0;
	CHECK(loop_verify(&P) == ST_INTERNAL);
	prog_free();

	/* a node in two lists, and a cycle */
	i = base_prog(&x, &y);
	s = P.nodes[i].body;
	P.nodes[i].next = s;
	CHECK(loop_verify(&P) == ST_INTERNAL && diag_has("reached twice"));
	prog_free();
	i = base_prog(&x, &y);
	P.nodes[P.nodes[i].body].next = i;
	CHECK(loop_verify(&P) == ST_INTERNAL);
	prog_free();

	/* indices out of range: buffer, expression, level */
	i = base_prog(&x, &y);
	P.nodes[P.nodes[i].body].arg[1].buf = 99;
	CHECK(loop_verify(&P) == ST_INTERNAL && diag_has("names buffer 99"));
	prog_free();
	i = base_prog(&x, &y);
	P.nodes[P.nodes[i].body].arg[1].idx[0] = 1000;
	CHECK(loop_verify(&P) == ST_INTERNAL && diag_has("malformed expression"));
	prog_free();
	base_prog(&x, &y);
	P.bufs[x].level = 3;
	CHECK(loop_verify(&P) == ST_INTERNAL && diag_has("at level 3 of 1"));
	prog_free();

	/* a kernel buffer of another kernel; same name twice; nested loops reusing a name */
	base_prog(&x, &y);
	s = buf("T", DT_F32, 1, DIMS(8), KBUF);
	kernel("k2");
	i = loop_for(-1, "i", 0, 8, 1);
	stmt(i, LN_COPY, 2, ref(y, 1, V(i)), ref(s, 1, V(i)));
	CHECK(loop_verify(&P) == ST_INTERNAL && diag_has("'T' is a buffer of kernel 'k'"));
	prog_free();
	base_prog(&x, &y);
	buf("X", DT_F32, 1, DIMS(8), 0);
	CHECK(loop_verify(&P) == ST_INTERNAL && diag_has("name 'X' is declared twice"));
	prog_free();
	i = base_prog(&x, &y);
	loop_for(i, "i", 0, 2, 1);
	CHECK(loop_verify(&P) == ST_INTERNAL && diag_has("already the variable of an enclosing loop"));
	prog_free();
}

static void test_verify_decls(void)
{
	int x, y, v, w;

	/* views: fit, type */
	base_prog(&x, &y);
	v = buf("F", DT_F32, 2, DIMS(2, 4), 0);
	P.bufs[v].view_of = y;
	CHECK(loop_verify(&P) == ST_OK);
	P.bufs[v].view_offset = 1;
	CHECK(loop_verify(&P) == ST_INTERNAL && diag_has("covers elements [1, 9) of 'Y', which has 8"));
	prog_free();
	base_prog(&x, &y);
	v = buf("F", DT_I32, 1, DIMS(8), 0);
	P.bufs[v].view_of = y;
	CHECK(loop_verify(&P) == ST_INTERNAL && diag_has("view 'F' is i32 but its base 'Y' is f32"));
	prog_free();

	/* views through views back to themselves */
	base_prog(&x, &y);
	v = buf("F", DT_F32, 1, DIMS(8), 0);
	w = buf("G", DT_F32, 1, DIMS(8), 0);
	P.bufs[v].view_of = w;
	P.bufs[w].view_of = v;
	CHECK(loop_verify(&P) == ST_INTERNAL && diag_has("is a view of itself through other views"));
	prog_free();

	/* a kernel whose body is no node; an input that is also const */
	base_prog(&x, &y);
	P.kernels[0].body = 77;
	CHECK(loop_verify(&P) == ST_INTERNAL && diag_has("kernel 'k' starts at node 77"));
	prog_free();
	base_prog(&x, &y);
	P.bufs[x].flags |= LB_CONST;
	P.bufs[x].data = arena_alloc(&P.arena, 32);
	CHECK(loop_verify(&P) == ST_INTERNAL && diag_has("buffer 'X' is both input and const"));
	prog_free();

	/* flags */
	base_prog(&x, &y);
	v = buf("T", DT_F32, 1, DIMS(8), KBUF);
	P.bufs[v].flags = LB_INPUT;
	P.bufs[v].tensor = "T";
	CHECK(loop_verify(&P) == ST_INTERNAL && diag_has("kernel buffer 'T' is marked"));
	prog_free();
	base_prog(&x, &y);
	v = buf("W", DT_F32, 1, DIMS(8), LB_CONST);
	P.bufs[v].data = NULL;
	CHECK(loop_verify(&P) == ST_INTERNAL && diag_has("const buffer 'W' has no data"));
	prog_free();

	/* capacity: 32 bytes in each of two kernels fit a 40-byte level; 48 in one do not */
	base_prog(&x, &y);
	loop_add_level(&P, "reg", 40);
	v = buf("T", DT_F32, 1, DIMS(8), KBUF);
	P.bufs[v].level = 1;
	kernel("k2");
	v = buf("T2", DT_F32, 1, DIMS(8), KBUF);
	P.bufs[v].level = 1;
	CHECK(loop_verify(&P) == ST_OK);
	v = buf("U", DT_F32, 1, DIMS(4), KBUF);
	P.bufs[v].level = 1;
	CHECK(loop_verify(&P) == ST_INTERNAL &&
	      diag_has("kernel 'k2': level 'reg' holds 48 bytes but its capacity is 40"));
	prog_free();
}

static void test_verify_types(void)
{
	int x, y, i, s, h, q, w;

	/* mac into f16; copy between types */
	base_prog(&x, &y);
	h = buf("H", DT_F16, 1, DIMS(8), 0);
	i = loop_for(-1, "j", 0, 8, 1);
	stmt(i, LN_MAC, 3, ref(h, 1, V(i)), ref(x, 1, V(i)), ref(x, 1, V(i)));
	CHECK(loop_verify(&P) == ST_INTERNAL && diag_has("mac: f16 += f32 * f32"));
	prog_free();
	base_prog(&x, &y);
	h = buf("H", DT_F16, 1, DIMS(8), 0);
	i = loop_for(-1, "j", 0, 8, 1);
	stmt(i, LN_COPY, 2, ref(h, 1, V(i)), ref(x, 1, V(i)));
	CHECK(loop_verify(&P) == ST_INTERNAL && diag_has("copy: 'H' is f16 but 'X' is f32"));
	prog_free();

	/* quantize from an integer; dequantize into an integer; integer scale literal */
	base_prog(&x, &y);
	q = buf("Q", DT_I8, 1, DIMS(8), 0);
	w = buf("W", DT_I32, 1, DIMS(8), 0);
	i = loop_for(-1, "j", 0, 8, 1);
	stmt(i, LN_QUANTIZE, 4, ref(q, 1, V(i)), ref(w, 1, V(i)), loop_lit_float(0.5), loop_lit_int(0));
	CHECK(loop_verify(&P) == ST_INTERNAL && diag_has("quantize: the source 'W' is i32, not a float"));
	prog_free();
	base_prog(&x, &y);
	q = buf("Q", DT_I8, 1, DIMS(8), 0);
	w = buf("W", DT_I32, 1, DIMS(8), 0);
	i = loop_for(-1, "j", 0, 8, 1);
	stmt(i, LN_DEQUANTIZE, 4, ref(w, 1, V(i)), ref(q, 1, V(i)), loop_lit_int(2), loop_lit_int(0));
	CHECK(loop_verify(&P) == ST_INTERNAL && diag_has("the destination 'W' is i32, not a float") &&
	      diag_has("the scale must be a float, not an integer literal"));
	prog_free();

	/* apply arity, Cast to bf16 */
	i = base_prog(&x, &y);
	P.nodes[P.nodes[i].body].fn = OP_Relu;
	CHECK(loop_verify(&P) == ST_INTERNAL && diag_has("apply: Relu takes 1 operand, not 2"));
	prog_free();
	base_prog(&x, &y);
	h = buf("H", DT_BF16, 1, DIMS(8), 0);
	i = loop_for(-1, "j", 0, 8, 1);
	s = stmt(i, LN_APPLY, 2, ref(h, 1, V(i)), ref(x, 1, V(i)));
	P.nodes[s].fn = OP_Cast;
	CHECK(loop_verify(&P) == ST_INTERNAL && diag_has("Cast from f32 to bf16"));
	prog_free();

	/* a predicate writes a bool: into f32 refused, into bool accepted */
	i = base_prog(&x, &y);
	P.nodes[P.nodes[i].body].fn = OP_Less;
	CHECK(loop_verify(&P) == ST_INTERNAL && diag_has("apply: Less gives a bool, and 'Y' is f32"));
	prog_free();
	base_prog(&x, &y);
	h = buf("H", DT_BOOL, 1, DIMS(8), 0);
	i = loop_for(-1, "j", 0, 8, 1);
	s = stmt(i, LN_APPLY, 3, ref(h, 1, V(i)), ref(x, 1, V(i)), loop_lit_float(0.5));
	P.nodes[s].fn = OP_Less;
	CHECK(loop_verify(&P) == ST_OK);
	prog_free();

	/* BitShift has no float form */
	i = base_prog(&x, &y);
	P.nodes[P.nodes[i].body].fn = OP_BitShift;
	CHECK(loop_verify(&P) == ST_INTERNAL &&
	      diag_has("apply: BitShift takes integer operands into an integer"));
	prog_free();

	/* writes into an input, into a view of a constant */
	i = base_prog(&x, &y);
	stmt(i, LN_FILL, 2, ref(x, 1, V(i)), loop_lit_float(0));
	CHECK(loop_verify(&P) == ST_INTERNAL && diag_has("fill: writes into 'X', which is an input"));
	prog_free();
	i = base_prog(&x, &y);
	w = buf("W", DT_F32, 1, DIMS(8), LB_CONST);
	h = buf("WV", DT_F32, 1, DIMS(4), 0);
	P.bufs[h].view_of = w;
	stmt(i, LN_FILL, 2, ref(h, 1, C(0)), loop_lit_float(0));
	CHECK(loop_verify(&P) == ST_INTERNAL && diag_has("writes into 'WV', which is a view of an input or constant"));
	prog_free();

	/* requantize from a float, with a float zero point; fill from a buffer */
	base_prog(&x, &y);
	q = buf("Q", DT_I8, 1, DIMS(8), 0);
	i = loop_for(-1, "j", 0, 8, 1);
	stmt(i, LN_REQUANTIZE, 4, ref(q, 1, V(i)), ref(x, 1, V(i)), loop_lit_float(0.5), loop_lit_float(1.0));
	stmt(i, LN_FILL, 2, ref(y, 1, V(i)), ref(x, 1, V(i)));
	CHECK(loop_verify(&P) == ST_INTERNAL && diag_has("requantize: the source 'X' is f32, not an integer") &&
	      diag_has("the zero point must be an integer, not a float literal") &&
	      diag_has("fill: the value must be a literal"));
	prog_free();

	/* a parsed program's errors are the user's */
	i = base_prog(&x, &y);
	P.text = "line one\n";
	P.nodes[i].extent = 0;
	P.nodes[i].line = 1;
	P.nodes[i].col = 1;
	CHECK(loop_verify(&P) == ST_INVALID);
	prog_free();
}

/* Interpreter. */

static float rnd(unsigned *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return (float)((*seed >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static Value vec(Arena *a, DType dt, int rank, const int64_t *dims)
{
	Value v;

	memset(&v, 0, sizeof(v));
	val_set_type(&v, dt, rank, dims);
	val_alloc(a, &v);
	return v;
}

static bool matmul_msg;

/*
 * C[M,N] = A[M,K] @ B[K,N] with loops i, j, k (order "ijk") or i, k, j
 * ("ikj"), or with j tiled by 4 ("tiled").  Returns the run's status.
 */
static Status matmul_run(Arena *a, int64_t m, int64_t n, int64_t k, const char *order,
                         const Value *in, Value *out)
{
	int A, B, Cb, i, j, kk, jo, ji, inner;
	Status st;

	prog_new();
	A = buf("A", DT_F32, 2, DIMS(m, k), LB_INPUT);
	B = buf("B", DT_F32, 2, DIMS(k, n), LB_INPUT);
	Cb = buf("C", DT_F32, 2, DIMS(m, n), LB_OUTPUT);
	kernel("matmul");
	i = loop_for(-1, "i", 0, m, 1);
	if (strcmp(order, "ikj") == 0) {
		kk = loop_for(i, "k", 0, k, 1);
		j = loop_for(kk, "j", 0, n, 1);
		inner = j;
	} else if (strcmp(order, "tiled") == 0) {
		jo = loop_for(i, "jo", 0, n / 4, 4);
		ji = loop_for(jo, "ji", 0, 4, 1);
		kk = loop_for(ji, "k", 0, k, 1);
		j = -1;
		inner = kk;
		stmt(inner, LN_MAC, 3, ref(Cb, 2, V(i), loop_add(&P, V(jo), V(ji))), ref(A, 2, V(i), V(kk)),
		     ref(B, 2, V(kk), loop_add(&P, V(jo), V(ji))));
	} else {
		j = loop_for(i, "j", 0, n, 1);
		kk = loop_for(j, "k", 0, k, 1);
		inner = kk;
	}
	if (j >= 0)
		stmt(inner, LN_MAC, 3, ref(Cb, 2, V(i), V(j)), ref(A, 2, V(i), V(kk)), ref(B, 2, V(kk), V(j)));
	st = loop_run(&P, a, in, out);
	matmul_msg = st != ST_OK && diag_has("t.loop: input 'B' is f32[13,29] but the program expects f32[13,28]");
	prog_free();
	return st;
}

static void matmul_ref(const float *A, const float *B, float *Cm, int64_t m, int64_t n, int64_t k)
{
	for (int64_t i = 0; i < m; i++)
		for (int64_t j = 0; j < n; j++) {
			float c = 0;

			for (int64_t t = 0; t < k; t++)
				c = (float)((double)c + (double)A[i * k + t] * (double)B[t * n + j]);
			Cm[i * n + j] = c;
		}
}

/* n = 31 runs nest blocks of 16, 8, 4, 2 and 1 accumulators; tiling needs n % 4 == 0. */
static void test_matmul(void)
{
	static const struct { const char *order; int64_t n; } cases[] = {
		{"ijk", 31}, {"ikj", 31}, {"tiled", 28},
	};
	int64_t m = 5, k = 13;
	unsigned seed = 1;
	Arena a;
	Value in[2], out[1];
	float want[5 * 31];

	arena_init(&a);
	for (size_t o = 0; o < ARRAY_LEN(cases); o++) {
		int64_t n = cases[o].n;

		in[0] = vec(&a, DT_F32, 2, DIMS(m, k));
		in[1] = vec(&a, DT_F32, 2, DIMS(k, n));
		for (int i = 0; i < m * k; i++)
			((float *)in[0].data)[i] = rnd(&seed);
		for (int i = 0; i < k * n; i++)
			((float *)in[1].data)[i] = rnd(&seed);
		matmul_ref(in[0].data, in[1].data, want, m, n, k);
		CHECK(matmul_run(&a, m, n, k, cases[o].order, in, out) == ST_OK);
		CHECK(out[0].dt == DT_F32 && out[0].rank == 2 && out[0].dims[1] == n &&
		      memcmp(out[0].data, want, (size_t)(m * n) * sizeof(float)) == 0);
	}
	/* a wrong input shape is the caller's error */
	in[1].dims[1] = 29;
	CHECK(matmul_run(&a, m, 28, k, "ijk", in, out) == ST_INVALID && matmul_msg);
	arena_free(&a);
}

static void matmul_bench(void)
{
	int64_t n = 512;
	unsigned seed = 7;
	Arena a;
	Value in[2], out[1];
	struct timespec t0, t1;
	double s;

	arena_init(&a);
	in[0] = vec(&a, DT_F32, 2, DIMS(n, n));
	in[1] = vec(&a, DT_F32, 2, DIMS(n, n));
	for (int64_t i = 0; i < n * n; i++) {
		((float *)in[0].data)[i] = rnd(&seed);
		((float *)in[1].data)[i] = rnd(&seed);
	}
	for (int o = 0; o < 2; o++) {
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
		CHECK(matmul_run(&a, n, n, n, o ? "ikj" : "ijk", in, out) == ST_OK);
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
		s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
		printf("info: f32 matmul 512x512x512 (%s): %.3f s of CPU, %.0f M mac/s\n", o ? "ikj" : "ijk", s,
		       (double)(n * n * n) / s / 1e6);
	}
	{
		float *Cm = malloc((size_t)(n * n) * sizeof(float));

		matmul_ref(in[0].data, in[1].data, Cm, n, n, n);
		CHECK(memcmp(out[0].data, Cm, (size_t)(n * n) * sizeof(float)) == 0);
		free(Cm);
	}
	arena_free(&a);
}

/*
 * Y[k,y,x] = sum_c,r,s Xp[c,y+r,x+s] * W[k,c,r,s] with X padded by 1 (or
 * with the factors swapped).  Small planes make the interpreter run the
 * k, y and x loops together as lanes: blocks that step evenly and blocks
 * that gather across rows and output channels.
 */
static void conv_case(int ci, int h, int co, bool swap)
{
	int hp = h + 2;
	unsigned seed = (unsigned)(ci * 100 + h);
	Arena a;
	Value in[1], out[1];
	float *xp = calloc((size_t)(ci * hp * hp), sizeof(float)), *want = malloc((size_t)(co * h * h) * sizeof(float));
	const float *w;
	int X, W, Y, Xp, c, y, x, k, r, s;
	Status st;
	LoopArg fx, fw;

	arena_init(&a);
	prog_new();
	X = buf("X", DT_F32, 3, DIMS(ci, h, h), LB_INPUT);
	W = buf("W", DT_F32, 4, DIMS(co, ci, 3, 3), LB_CONST);
	Y = buf("Y", DT_F32, 3, DIMS(co, h, h), LB_OUTPUT);
	kernel("conv");
	Xp = buf("Xp", DT_F32, 3, DIMS(ci, hp, hp), KBUF);
	c = loop_for(-1, "c", 0, ci, 1);
	y = loop_for(c, "y", 0, hp, 1);
	x = loop_for(y, "x", 0, hp, 1);
	s = stmt(x, LN_COPY, 2, ref(Xp, 3, V(c), V(y), V(x)),
	         ref(X, 3, V(c), loop_add_const(&P, V(y), -1), loop_add_const(&P, V(x), -1)));
	P.nodes[s].has_pad = true;
	P.nodes[s].pad = loop_lit_float(0.0).lit;
	k = loop_for(-1, "k", 0, co, 1);
	y = loop_for(k, "y", 0, h, 1);
	x = loop_for(y, "x", 0, h, 1);
	c = loop_for(x, "c", 0, ci, 1);
	r = loop_for(c, "r", 0, 3, 1);
	s = loop_for(r, "s", 0, 3, 1);
	fx = ref(Xp, 3, V(c), loop_add(&P, V(y), V(r)), loop_add(&P, V(x), V(s)));
	fw = ref(W, 4, V(k), V(c), V(r), V(s));
	stmt(s, LN_MAC, 3, ref(Y, 3, V(k), V(y), V(x)), swap ? fw : fx, swap ? fx : fw);
	in[0] = vec(&a, DT_F32, 3, DIMS(ci, h, h));
	for (int i = 0; i < ci * h * h; i++)
		((float *)in[0].data)[i] = rnd(&seed);
	for (int i = 0; i < co * ci * 9; i++)
		((float *)P.bufs[W].data)[i] = rnd(&seed);
	w = P.bufs[W].data;
	for (int cc = 0; cc < ci; cc++)
		for (int i = 0; i < h; i++)
			for (int j = 0; j < h; j++)
				xp[(cc * hp + i + 1) * hp + j + 1] = ((float *)in[0].data)[(cc * h + i) * h + j];
	for (int ko = 0; ko < co; ko++)
		for (int i = 0; i < h; i++)
			for (int j = 0; j < h; j++) {
				float acc = 0;

				for (int cc = 0; cc < ci; cc++)
					for (int ri = 0; ri < 3; ri++)
						for (int si = 0; si < 3; si++) {
							double fxv = xp[(cc * hp + i + ri) * hp + j + si];
							double fwv = w[((ko * ci + cc) * 3 + ri) * 3 + si];

							acc = (float)((double)acc + (swap ? fwv * fxv : fxv * fwv));
						}
				want[(ko * h + i) * h + j] = acc;
			}
	st = loop_run(&P, &a, in, out);
	CHECK(st == ST_OK && memcmp(out[0].data, want, (size_t)(co * h * h) * sizeof(float)) == 0);
	prog_free();
	arena_free(&a);
	free(xp);
	free(want);
}

static void test_conv(void)
{
	conv_case(2, 5, 3, false);
	conv_case(2, 5, 3, true);
	conv_case(1, 20, 2, false);
	conv_case(3, 7, 4, true);
}

/*
 * One f32 mac step, out of line: GCC 12 at -O3 vectorizes the reference
 * loop of test_mac_order below (accumulators y[i + j]) into a different
 * order of additions (-fno-tree-slp-vectorize avoids it).
 */
__attribute__((noinline)) static float mac_step(float c, float a, float b)
{
	return (float)((double)c + (double)a * (double)b);
}

/*
 * Mac nests the interpreter must not run as lanes: Y[i + j] += ... gives
 * two (i, j) the same accumulator; Z[i] += Z[i - 1] * w reads what the
 * previous iteration wrote.
 */
static void test_mac_order(void)
{
	float av[3 * 5], bv[5 * 4], want[6] = {0}, zwant[9], wv[3] = {0.5f, -0.25f, 1.5f};
	unsigned seed = 11;
	Arena a;
	Value in[2], out[2];
	int A, B, Y, Z, Wb, i, j, k;
	Status st;

	for (int t = 0; t < 15; t++)
		av[t] = rnd(&seed);
	for (int t = 0; t < 20; t++)
		bv[t] = rnd(&seed);
	for (int ii = 0; ii < 3; ii++)
		for (int jj = 0; jj < 4; jj++)
			for (int kk = 0; kk < 5; kk++)
				want[ii + jj] = mac_step(want[ii + jj], av[ii * 5 + kk], bv[kk * 4 + jj]);
	zwant[0] = 1;
	for (int ii = 1; ii < 9; ii++) {
		zwant[ii] = 0;
		for (int kk = 0; kk < 3; kk++)
			zwant[ii] = (float)((double)zwant[ii] + (double)zwant[ii - 1] * wv[kk]);
	}
	arena_init(&a);
	prog_new();
	A = buf("A", DT_F32, 2, DIMS(3, 5), LB_INPUT);
	B = buf("B", DT_F32, 2, DIMS(5, 4), LB_INPUT);
	Y = buf("Y", DT_F32, 1, DIMS(6), LB_OUTPUT);
	Z = buf("Z", DT_F32, 1, DIMS(9), LB_OUTPUT);
	Wb = buf("W", DT_F32, 1, DIMS(3), LB_CONST);
	memcpy(P.bufs[Wb].data, wv, sizeof(wv));
	kernel("order");
	i = loop_for(-1, "i", 0, 3, 1);
	j = loop_for(i, "j", 0, 4, 1);
	k = loop_for(j, "k", 0, 5, 1);
	stmt(k, LN_MAC, 3, ref(Y, 1, loop_add(&P, V(i), V(j))), ref(A, 2, V(i), V(k)), ref(B, 2, V(k), V(j)));
	stmt(-1, LN_FILL, 2, ref(Z, 1, C(0)), loop_lit_int(1));
	i = loop_for(-1, "i", 1, 8, 1);
	k = loop_for(i, "k", 0, 3, 1);
	stmt(k, LN_MAC, 3, ref(Z, 1, V(i)), ref(Z, 1, loop_add_const(&P, V(i), -1)), ref(Wb, 1, V(k)));
	in[0] = vec(&a, DT_F32, 2, DIMS(3, 5));
	in[1] = vec(&a, DT_F32, 2, DIMS(5, 4));
	memcpy(in[0].data, av, sizeof(av));
	memcpy(in[1].data, bv, sizeof(bv));
	st = loop_run(&P, &a, in, out);
	CHECK(st == ST_OK && memcmp(out[0].data, want, sizeof(want)) == 0);
	CHECK(st == ST_OK && memcmp(out[1].data, zwant, sizeof(zwant)) == 0);
	prog_free();
	arena_free(&a);
}

/* 2x2 max pooling of a 4x4 plane with a NaN: fill -inf, reduce max. */
static void test_maxpool(void)
{
	float x[16], want[4];
	Arena a;
	Value in[1], out[1];
	int X, Y, i, j, r, s;

	for (int t = 0; t < 16; t++)
		x[t] = (float)((t * 7) % 11) - 5;
	x[5] = NAN;
	for (int bi = 0; bi < 2; bi++)
		for (int bj = 0; bj < 2; bj++) {
			float m = -INFINITY;

			for (int di = 0; di < 2; di++)
				for (int dj = 0; dj < 2; dj++) {
					float v = x[(2 * bi + di) * 4 + 2 * bj + dj];
					m = isnan(m) || m > v ? m : v;
				}
			want[bi * 2 + bj] = m;
		}
	arena_init(&a);
	prog_new();
	X = buf("X", DT_F32, 2, DIMS(4, 4), LB_INPUT);
	Y = buf("Y", DT_F32, 2, DIMS(2, 2), LB_OUTPUT);
	kernel("pool");
	i = loop_for(-1, "i", 0, 2, 1);
	j = loop_for(i, "j", 0, 2, 1);
	stmt(j, LN_FILL, 2, ref(Y, 2, V(i), V(j)), loop_lit_float(-INFINITY));
	r = loop_for(j, "r", 0, 2, 1);
	s = loop_for(r, "s", 0, 2, 1);
	P.nodes[stmt(s, LN_REDUCE, 2, ref(Y, 2, V(i), V(j)),
	             ref(X, 2, loop_add(&P, loop_mul(&P, 2, V(i)), V(r)),
	                 loop_add(&P, loop_mul(&P, 2, V(j)), V(s))))].red = LR_MAX;
	in[0] = vec(&a, DT_F32, 2, DIMS(4, 4));
	memcpy(in[0].data, x, sizeof(x));
	CHECK(loop_run(&P, &a, in, out) == ST_OK);
	CHECK(isnan(((float *)out[0].data)[0]) && isnan(want[0]));
	CHECK(memcmp((float *)out[0].data + 1, want + 1, 3 * sizeof(float)) == 0);
	prog_free();
	arena_free(&a);
}

/* Softmax over 2 rows of 6: max, exp(x - max), sum, divide. */
static void test_softmax(void)
{
	enum { R = 2, N = 6 };
	float x[R * N], want[R * N];
	Arena a;
	Value in[1], out[1];
	int X, Y, M, S, r, i, st;

	for (int t = 0; t < R * N; t++)
		x[t] = (float)t * 0.37f - 2.0f;
	for (int row = 0; row < R; row++) {
		float m = -INFINITY, sum = 0;

		for (int t = 0; t < N; t++)
			m = m > x[row * N + t] ? m : x[row * N + t];
		for (int t = 0; t < N; t++) {
			want[row * N + t] = (float)((double)x[row * N + t] - m);
			want[row * N + t] = (float)exp(want[row * N + t]);
			sum = (float)((double)sum + want[row * N + t]);
		}
		for (int t = 0; t < N; t++)
			want[row * N + t] = (float)((double)want[row * N + t] / sum);
	}
	arena_init(&a);
	prog_new();
	X = buf("X", DT_F32, 2, DIMS(R, N), LB_INPUT);
	Y = buf("Y", DT_F32, 2, DIMS(R, N), LB_OUTPUT);
	kernel("softmax");
	M = buf("M", DT_F32, 0, NULL, KBUF);
	S = buf("S", DT_F32, 0, NULL, KBUF);
	r = loop_for(-1, "r", 0, R, 1);
	stmt(r, LN_FILL, 2, ref(M, 0), loop_lit_float(-INFINITY));
	stmt(r, LN_FILL, 2, ref(S, 0), loop_lit_int(0));
	i = loop_for(r, "i", 0, N, 1);
	P.nodes[stmt(i, LN_REDUCE, 2, ref(M, 0), ref(X, 2, V(r), V(i)))].red = LR_MAX;
	i = loop_for(r, "i", 0, N, 1);
	P.nodes[stmt(i, LN_APPLY, 3, ref(Y, 2, V(r), V(i)), ref(X, 2, V(r), V(i)), ref(M, 0))].fn = OP_Sub;
	P.nodes[stmt(i, LN_APPLY, 2, ref(Y, 2, V(r), V(i)), ref(Y, 2, V(r), V(i)))].fn = OP_Exp;
	P.nodes[stmt(i, LN_REDUCE, 2, ref(S, 0), ref(Y, 2, V(r), V(i)))].red = LR_SUM;
	i = loop_for(r, "i", 0, N, 1);
	P.nodes[stmt(i, LN_APPLY, 3, ref(Y, 2, V(r), V(i)), ref(Y, 2, V(r), V(i)), ref(S, 0))].fn = OP_Div;
	in[0] = vec(&a, DT_F32, 2, DIMS(R, N));
	memcpy(in[0].data, x, sizeof(x));
	st = loop_run(&P, &a, in, out);
	CHECK(st == ST_OK && memcmp(out[0].data, want, sizeof(want)) == 0);
	prog_free();
	arena_free(&a);
}

/* quantize with both roundings, requantize, dequantize; ties and saturation. */
static void test_quant(void)
{
	static const float x[] = {0.5f, 1.5f, 2.5f, -0.5f, -2.5f, 300.0f, -300.0f, 3.25f};
	static const int8_t even[] = {0, 2, 2, 0, -2, 127, -128, 3};
	static const int8_t away[] = {1, 2, 3, -1, -3, 127, -128, 3};
	static const int32_t acc[] = {1, 3, 5, -1, -5, 1000, -1000, 7};
	static const uint8_t req[] = {10, 12, 12, 10, 8, 255, 0, 14};   /* round(acc/2) + 10 */
	Arena a;
	Value in[2], out[4];
	int X, A, QE, QA, RQ, DQ, i, s;
	Status st;

	arena_init(&a);
	prog_new();
	X = buf("X", DT_F32, 1, DIMS(8), LB_INPUT);
	A = buf("A", DT_I32, 1, DIMS(8), LB_INPUT);
	QE = buf("QE", DT_I8, 1, DIMS(8), LB_OUTPUT);
	QA = buf("QA", DT_I8, 1, DIMS(8), LB_OUTPUT);
	RQ = buf("RQ", DT_U8, 1, DIMS(8), LB_OUTPUT);
	DQ = buf("DQ", DT_F32, 1, DIMS(8), LB_OUTPUT);
	kernel("q");
	i = loop_for(-1, "i", 0, 8, 1);
	stmt(i, LN_QUANTIZE, 4, ref(QE, 1, V(i)), ref(X, 1, V(i)), loop_lit_float(1.0), loop_lit_int(0));
	s = stmt(i, LN_QUANTIZE, 4, ref(QA, 1, V(i)), ref(X, 1, V(i)), loop_lit_float(1.0), loop_lit_int(0));
	P.nodes[s].round = LRND_AWAY;
	stmt(i, LN_REQUANTIZE, 4, ref(RQ, 1, V(i)), ref(A, 1, V(i)), loop_lit_float(0.5), loop_lit_int(10));
	stmt(i, LN_DEQUANTIZE, 4, ref(DQ, 1, V(i)), ref(QE, 1, V(i)), loop_lit_float(0.25), loop_lit_int(-2));
	in[0] = vec(&a, DT_F32, 1, DIMS(8));
	in[1] = vec(&a, DT_I32, 1, DIMS(8));
	memcpy(in[0].data, x, sizeof(x));
	memcpy(in[1].data, acc, sizeof(acc));
	st = loop_run(&P, &a, in, out);
	CHECK(st == ST_OK);
	if (st == ST_OK) {
		bool dq = true;

		CHECK(memcmp(out[0].data, even, 8) == 0);
		CHECK(memcmp(out[1].data, away, 8) == 0);
		CHECK(memcmp(out[2].data, req, 8) == 0);
		for (int t = 0; t < 8; t++)
			dq &= ((float *)out[3].data)[t] == (float)((even[t] + 2) * 0.25);
		CHECK(dq);
	}
	prog_free();
	arena_free(&a);
}

/* Integer mac in i64 stays exact past 2^53; i32 from i8 wraps like i32. */
static void test_int_mac(void)
{
	Arena a;
	Value in[2], out[3];
	int A, B, Y, Q, Q8, Z, j, k;
	int64_t want = 0;
	int32_t want32 = 0, want8 = 0;
	Status st;

	arena_init(&a);
	prog_new();
	A = buf("A", DT_I32, 1, DIMS(6), LB_INPUT);
	B = buf("B", DT_I8, 1, DIMS(6), LB_INPUT);
	Y = buf("Y", DT_I64, 0, NULL, LB_OUTPUT);
	Q = buf("Q", DT_I32, 0, NULL, LB_OUTPUT);
	Q8 = buf("Q8", DT_I32, 1, DIMS(2), LB_OUTPUT);
	kernel("dot");
	Z = buf("Z", DT_I8, 1, DIMS(6), KBUF);
	k = loop_for(-1, "k", 0, 6, 1);
	stmt(k, LN_MAC, 3, ref(Y, 0), ref(A, 1, V(k)), ref(A, 1, V(k)));
	k = loop_for(-1, "k", 0, 6, 1);
	stmt(k, LN_COPY, 2, ref(Z, 1, V(k)), ref(B, 1, V(k)));
	k = loop_for(-1, "k", 0, 6, 1);
	stmt(k, LN_MAC, 3, ref(Q, 0), ref(Z, 1, V(k)), ref(A, 1, V(k)));
	/* i32 += i8 * i8, accumulating twice over (once per j) */
	j = loop_for(-1, "j", 0, 2, 1);
	k = loop_for(j, "k", 0, 6, 1);
	stmt(k, LN_MAC, 3, ref(Q8, 1, V(j)), ref(Z, 1, V(k)), ref(Z, 1, loop_sub(&P, C(5), V(k))));
	in[0] = vec(&a, DT_I32, 1, DIMS(6));
	in[1] = vec(&a, DT_I8, 1, DIMS(6));
	for (int t = 0; t < 6; t++) {
		int32_t v = 2147483647 - 977 * t;

		((int32_t *)in[0].data)[t] = v;
		((int8_t *)in[1].data)[t] = (int8_t)(-128 + 51 * t);
		want = (int64_t)((uint64_t)want + (uint64_t)((int64_t)v * v));
		want32 = (int32_t)((uint32_t)want32 + (uint32_t)((int64_t)(int8_t)(-128 + 51 * t) * v));
		want8 += (int8_t)(-128 + 51 * t) * (int8_t)(-128 + 51 * (5 - t));
	}
	st = loop_run(&P, &a, in, out);
	CHECK(st == ST_OK && *(int64_t *)out[0].data == want);
	CHECK(st == ST_OK && *(int32_t *)out[1].data == want32);
	CHECK(st == ST_OK && ((int32_t *)out[2].data)[0] == want8 && ((int32_t *)out[2].data)[1] == want8);
	prog_free();
	arena_free(&a);
}

/* Views alias their base; div/mod indices; integer and Cast applies; fills. */
static void test_views_misc(void)
{
	Arena a;
	Value in[2], out[4];
	int X, I, Y, F, U, T, G, i, j, s;
	Status st;
	/* 2^54 + 2^30 + 1: f32 rounds it up, but through double it becomes a tie that rounds down */
	int64_t big = ((int64_t)1 << 54) + ((int64_t)1 << 30) + 1;

	arena_init(&a);
	prog_new();
	X = buf("X", DT_F32, 1, DIMS(4), LB_INPUT);
	I = buf("I", DT_I64, 1, DIMS(2), LB_INPUT);
	Y = buf("Y", DT_F32, 2, DIMS(2, 4), LB_OUTPUT);
	U = buf("U", DT_F32, 1, DIMS(12), LB_OUTPUT);
	T = buf("T", DT_I8, 1, DIMS(4), LB_OUTPUT);
	G = buf("G", DT_F32, 1, DIMS(2), LB_OUTPUT);
	F = buf("F", DT_F32, 1, DIMS(4), 0);
	P.bufs[F].view_of = Y;
	P.bufs[F].view_offset = 4;
	kernel("misc");
	/* row 1 of Y through the view F: X * 2 */
	i = loop_for(-1, "i", 0, 4, 1);
	P.nodes[stmt(i, LN_APPLY, 3, ref(F, 1, V(i)), ref(X, 1, V(i)), loop_lit_float(2.0))].fn = OP_Mul;
	/* row 0 of Y: Relu of row 1 minus 1 */
	i = loop_for(-1, "i", 0, 4, 1);
	P.nodes[stmt(i, LN_APPLY, 3, ref(Y, 2, C(0), V(i)), ref(Y, 2, C(1), V(i)), loop_lit_float(1.0))].fn = OP_Sub;
	P.nodes[stmt(i, LN_APPLY, 2, ref(Y, 2, C(0), V(i)), ref(Y, 2, C(0), V(i)))].fn = OP_Relu;
	/* U[i] = X[i / 3] for i < 12, through a non-affine index, then U[j] += X[j % 4] for j < 4 */
	i = loop_for(-1, "i", 0, 12, 1);
	stmt(i, LN_COPY, 2, ref(U, 1, V(i)), ref(X, 1, loop_div(&P, V(i), 3)));
	j = loop_for(-1, "j", 0, 8, 1);
	P.nodes[stmt(j, LN_REDUCE, 2, ref(U, 1, loop_mod(&P, V(j), 4)), ref(X, 1, loop_mod(&P, V(j), 4)))].red = LR_SUM;
	/* T = i8 fill 300.0 saturates, then T[1] = T[0] + T[0] wraps in the integer path */
	i = loop_for(-1, "i", 0, 4, 1);
	stmt(i, LN_FILL, 2, ref(T, 1, V(i)), loop_lit_float(300.0));
	s = stmt(-1, LN_APPLY, 3, ref(T, 1, C(1)), ref(T, 1, C(0)), ref(T, 1, C(0)));
	P.nodes[s].fn = OP_Add;
	s = stmt(-1, LN_APPLY, 2, ref(T, 1, C(2)), loop_lit_int(-7));
	P.nodes[s].fn = OP_Relu;
	/* G = Cast(I) rounds once */
	i = loop_for(-1, "i", 0, 2, 1);
	P.nodes[stmt(i, LN_APPLY, 2, ref(G, 1, V(i)), ref(I, 1, V(i)))].fn = OP_Cast;
	CHECK(loop_verify(&P) == ST_OK);
	in[0] = vec(&a, DT_F32, 1, DIMS(4));
	in[1] = vec(&a, DT_I64, 1, DIMS(2));
	for (int t = 0; t < 4; t++)
		((float *)in[0].data)[t] = (float)t - 1.5f;
	((int64_t *)in[1].data)[0] = big;
	((int64_t *)in[1].data)[1] = -big;
	st = loop_run(&P, &a, in, out);
	CHECK(st == ST_OK);
	if (st == ST_OK) {
		const float *y = out[0].data, *u = out[1].data, *g = out[3].data;
		const int8_t *t = out[2].data;
		bool ok = true;

		for (int c = 0; c < 4; c++) {
			float x2 = ((float)c - 1.5f) * 2;
			ok &= y[4 + c] == x2 && y[c] == (x2 - 1 > 0 ? x2 - 1 : 0);
		}
		CHECK(ok);
		ok = true;
		for (int c = 0; c < 12; c++) {
			float v = (float)(c / 3) - 1.5f;

			for (int twice = 0; twice < 2 && c < 4; twice++)
				v = (float)((double)v + ((double)c - 1.5));
			ok &= u[c] == v;
		}
		CHECK(ok);
		CHECK(t[0] == 127 && t[1] == -2 && t[2] == 0 && t[3] == 127);
		CHECK(g[0] == (float)big && g[1] == (float)-big && g[0] != (float)(double)big);
	}
	prog_free();
	arena_free(&a);
}

/* Nest merging (passes/tile_merge.c). */

/* The program as text, without data (malloc'd). */
static char *prog_text(void)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);

	if (!f)
		return NULL;
	loop_print(&P, f, LOOP_PRINT_NO_DATA);
	fclose(f);
	return s;
}

static int count_nests(int k)
{
	int n = 0;

	for (int i = P.kernels[k].body; i >= 0; i = P.nodes[i].next)
		n += P.nodes[i].kind == LN_FOR;
	return n;
}

static int nest3(const char *const *v, int64_t a, int64_t b, int64_t c, int *vars)
{
	int i = loop_for(-1, v[0], 0, a, 1), j = loop_for(i, v[1], 0, b, 1);
	int k = loop_for(j, v[2], 0, c, 1);

	vars[0] = V(i);
	vars[1] = V(j);
	vars[2] = V(k);
	return k;
}

/* Runs P on in; the bytes of its nout outputs, concatenated (malloc'd). */
static char *run_bytes(Arena *a, const Value *in, int nout, size_t *len)
{
	Value out[4];
	char *s;

	*len = 0;
	if (loop_run(&P, a, in, out) != ST_OK)
		return NULL;
	for (int i = 0; i < nout; i++)
		*len += (size_t)val_bytes(&out[i]);
	s = malloc(*len + 1);
	for (size_t o = 0, i = 0; s && (int)i < nout; o += (size_t)val_bytes(&out[i]), i++)
		memcpy(s + o, out[i].data, (size_t)val_bytes(&out[i]));
	return s;
}

/* Copy, bias Add and Relu over one box become one nest (B's variables
 * renamed to A's); a nest of another depth stays apart. */
static void test_merge_epilogues(void)
{
	static const char *const iv[3] = {"i1", "i2", "i3"}, *const jv[3] = {"a", "b", "c"};
	static const char want[] =
		"kernel k {\n"
		"\tfor i1 in 0..2 {\n\t\tfor i2 in 0..2 {\n\t\t\tfor i3 in 0..3 {\n"
		"\t\t\t\tcopy Y[0, i1, i2, i3] = X[0, i1, i2, i3]\n"
		"\t\t\t\tapply Y[0, i1, i2, i3] = Add(Y[0, i1, i2, i3], Bc[i1, 0, 0])\n"
		"\t\t\t\tapply Y[0, i1, i2, i3] = Relu(Y[0, i1, i2, i3])\n"
		"\t\t\t}\n\t\t}\n\t}\n"
		"\tfor i1 in 0..2 {\n\t\tcopy Z[i1] = Y[0, i1, 1, 2]\n\t}\n}\n";
	Arena a;
	Value in[1];
	int X, Bc, Y, Z, in3, v[3], i;
	char *before, *after, *text;
	size_t nb, na;

	arena_init(&a);
	prog_new();
	X = buf("X", DT_F32, 4, DIMS(1, 2, 2, 3), LB_INPUT);
	Bc = buf("Bc", DT_F32, 3, DIMS(2, 1, 1), LB_CONST);
	Y = buf("Y", DT_F32, 4, DIMS(1, 2, 2, 3), LB_OUTPUT);
	Z = buf("Z", DT_F32, 1, DIMS(2), LB_OUTPUT);
	((float *)P.bufs[Bc].data)[0] = 0.75f;
	((float *)P.bufs[Bc].data)[1] = -1.5f;
	kernel("k");
	in3 = nest3(iv, 2, 2, 3, v);
	stmt(in3, LN_COPY, 2, ref(Y, 4, C(0), v[0], v[1], v[2]), ref(X, 4, C(0), v[0], v[1], v[2]));
	in3 = nest3(jv, 2, 2, 3, v);
	P.nodes[stmt(in3, LN_APPLY, 3, ref(Y, 4, C(0), v[0], v[1], v[2]),
	             ref(Y, 4, C(0), v[0], v[1], v[2]), ref(Bc, 3, v[0], C(0), C(0)))].fn = OP_Add;
	in3 = nest3(iv, 2, 2, 3, v);
	P.nodes[stmt(in3, LN_APPLY, 2, ref(Y, 4, C(0), v[0], v[1], v[2]),
	             ref(Y, 4, C(0), v[0], v[1], v[2]))].fn = OP_Relu;
	i = loop_for(-1, "i1", 0, 2, 1);
	stmt(i, LN_COPY, 2, ref(Z, 1, V(i)), ref(Y, 4, C(0), V(i), C(1), C(2)));
	CHECK(loop_verify(&P) == ST_OK);
	in[0] = vec(&a, DT_F32, 4, DIMS(1, 2, 2, 3));
	for (int t = 0; t < 12; t++)
		((float *)in[0].data)[t] = (float)t * 0.25f - 1.0f;
	before = run_bytes(&a, in, 2, &nb);
	CHECK(count_nests(K) == 4);
	CHECK(pass_merge_nests(&P, K) == ST_OK && count_nests(K) == 2);
	CHECK(loop_verify(&P) == ST_OK);
	text = prog_text();
	CHECK(text && strstr(text, want));
	after = run_bytes(&a, in, 2, &na);
	CHECK(before && after && nb == na && memcmp(before, after, nb) == 0);
	CHECK(before && ((float *)before)[0] == 0.0f && ((float *)before)[11] == 0.25f);
	free(text);
	free(before);
	free(after);
	prog_free();
	arena_free(&a);
}

/* Pairs that must stay apart: a read at a shifted index, an accumulation,
 * different extents, an element written by every iteration, a padded read. */
static void test_merge_refused(void)
{
	Arena a;
	Value in[1];
	int X, Y, Z, W, S, i, k[5];
	char *text0, *text1, *before, *after;
	size_t nb, na;
	bool ok = true;

	arena_init(&a);
	prog_new();
	X = buf("X", DT_F32, 1, DIMS(8), LB_INPUT);
	Y = buf("Y", DT_F32, 1, DIMS(9), LB_OUTPUT);
	Z = buf("Z", DT_F32, 1, DIMS(8), LB_OUTPUT);
	W = buf("W", DT_F32, 1, DIMS(4), LB_OUTPUT);
	S = buf("S", DT_F32, 1, DIMS(1), LB_OUTPUT);
	k[0] = kernel("shifted");
	i = loop_for(-1, "i", 0, 8, 1);
	stmt(i, LN_COPY, 2, ref(Y, 1, V(i)), ref(X, 1, V(i)));
	i = loop_for(-1, "i", 0, 8, 1);
	P.nodes[stmt(i, LN_APPLY, 3, ref(Y, 1, V(i)), ref(Y, 1, V(i)),
	             ref(Y, 1, loop_add_const(&P, V(i), 1)))].fn = OP_Add;
	k[1] = kernel("accumulate");
	i = loop_for(-1, "i", 0, 8, 1);
	stmt(i, LN_FILL, 2, ref(Z, 1, V(i)), loop_lit_float(1.0));
	i = loop_for(-1, "i", 0, 8, 1);
	stmt(i, LN_MAC, 3, ref(Z, 1, V(i)), ref(X, 1, V(i)), ref(X, 1, V(i)));
	k[2] = kernel("extents");
	i = loop_for(-1, "i", 0, 4, 1);
	stmt(i, LN_COPY, 2, ref(W, 1, V(i)), ref(X, 1, V(i)));
	i = loop_for(-1, "i", 0, 2, 1);
	P.nodes[stmt(i, LN_APPLY, 2, ref(W, 1, V(i)), ref(W, 1, V(i)))].fn = OP_Relu;
	k[3] = kernel("one_element");
	i = loop_for(-1, "i", 0, 8, 1);
	P.nodes[stmt(i, LN_APPLY, 3, ref(S, 1, C(0)), ref(S, 1, C(0)), ref(X, 1, V(i)))].fn = OP_Add;
	i = loop_for(-1, "i", 0, 8, 1);
	P.nodes[stmt(i, LN_APPLY, 3, ref(S, 1, C(0)), ref(S, 1, C(0)), loop_lit_float(0.5))].fn = OP_Mul;
	k[4] = kernel("padded");
	i = loop_for(-1, "i", 0, 8, 1);
	P.nodes[stmt(i, LN_APPLY, 2, ref(Z, 1, V(i)), ref(Z, 1, V(i)))].fn = OP_Neg;
	i = loop_for(-1, "i", 0, 8, 1);
	P.nodes[stmt(i, LN_COPY, 2, ref(Z, 1, V(i)), ref(Z, 1, V(i)))].has_pad = true;
	CHECK(loop_verify(&P) == ST_OK);
	in[0] = vec(&a, DT_F32, 1, DIMS(8));
	for (int t = 0; t < 8; t++)
		((float *)in[0].data)[t] = (float)t - 2.5f;
	before = run_bytes(&a, in, 4, &nb);
	text0 = prog_text();
	for (int j = 0; j < 5; j++)
		ok &= pass_merge_nests(&P, k[j]) == ST_OK && count_nests(k[j]) == 2;
	CHECK(ok);
	text1 = prog_text();
	CHECK(text0 && text1 && strcmp(text0, text1) == 0);
	after = run_bytes(&a, in, 4, &na);
	CHECK(before && after && nb == na && memcmp(before, after, nb) == 0);
	/* merged, the shifted read would see Y[i + 1] before its copy */
	CHECK(before && ((float *)before)[0] == -2.5f + -1.5f);
	free(text0);
	free(text1);
	free(before);
	free(after);
	prog_free();
	arena_free(&a);
}

/*
 * Loaded indices: Gather rows by i64 ids (one negative), a scatter-add
 * into a copy through i32 ids, then an id past the end: the run stops with
 * an error naming the kernel, the value and the dimension, and nothing is
 * read there.
 */
static const char gather_text[] =
	"level dram\n"
	"buf T : f32[5, 3] @dram input \"t\"\n"
	"buf I : i64[4] @dram input \"i\"\n"
	"buf J : i32[2] @dram input \"j\"\n"
	"buf Y : f32[4, 3] @dram output \"y\"\n"
	"buf S : f32[5, 3] @dram output \"s\"\n"
	"kernel g \"Gather_7\" {\n"
	"\tfor r in 0..4 {\n"
	"\t\tfor c in 0..3 {\n"
	"\t\t\tcopy Y[r, c] = T[I[r], c]\n"
	"\t\t}\n"
	"\t}\n"
	"}\n"
	"kernel s {\n"
	"\tfor r in 0..5 {\n"
	"\t\tfor c in 0..3 {\n"
	"\t\t\tcopy S[r, c] = T[r, c]\n"
	"\t\t}\n"
	"\t}\n"
	"\tfor r in 0..2 {\n"
	"\t\tfor c in 0..3 {\n"
	"\t\t\treduce sum S[J[r], c] <- Y[r + 2, 2 - c]\n"
	"\t\t}\n"
	"\t}\n"
	"}\n";

static void test_loads(void)
{
	int64_t ids[4] = {4, 0, -1, 2};
	int32_t js[2] = {1, 1};
	Arena a;
	Value in[3], out[2];
	Status st;
	bool ok = true;
	int e, v;

	arena_init(&a);
	diag_init(&D);
	loop_init(&P, &D, "gather.loop");
	CHECK(loop_parse(&P, "gather.loop", gather_text, sizeof(gather_text) - 1) == ST_OK);
	in[0] = vec(&a, DT_F32, 2, DIMS(5, 3));
	in[1] = vec(&a, DT_I64, 1, DIMS(4));
	in[2] = vec(&a, DT_I32, 1, DIMS(2));
	for (int k = 0; k < 15; k++)
		((float *)in[0].data)[k] = (float)k;
	memcpy(in[1].data, ids, sizeof(ids));
	memcpy(in[2].data, js, sizeof(js));
	st = loop_run(&P, &a, in, out);
	CHECK(st == ST_OK);
	for (int r = 0; st == ST_OK && r < 4; r++)
		for (int c = 0; c < 3; c++)
			ok &= ((float *)out[0].data)[r * 3 + c] == (float)(((ids[r] + 5) % 5) * 3 + c);
	for (int r = 0; st == ST_OK && r < 5; r++)
		for (int c = 0; c < 3; c++) {
			float want = (float)(r * 3 + c);

			if (r == 1)   /* Y[2] is row 4, Y[3] row 2, both reversed */
				want += (float)(4 * 3 + 2 - c) + (float)(2 * 3 + 2 - c);
			ok &= ((float *)out[1].data)[r * 3 + c] == want;
		}
	CHECK(ok);
	ids[2] = -6;
	memcpy(in[1].data, ids, sizeof(ids));
	CHECK(loop_run(&P, &a, in, out) == ST_INVALID && D.n == 1 &&
	      strstr(D.msg[0].text, "gather.loop:10:4: error: kernel 'g' (layer 'Gather_7'): copy: "
	                            "index 0 of 'T' is -6, read from I[2], outside [-5, 5)"));
	/* substitution reaches into a load's indices; the load stays a load */
	e = P.nodes[P.kernels[0].body].body;   /* the c loop */
	v = loop_var(&P, P.kernels[0].body);
	e = loop_expr_subst(&P, P.nodes[P.nodes[e].body].arg[1].idx[0], P.kernels[0].body,
	                    loop_add_const(&P, v, 0));
	CHECK(P.exprs[e].kind == LE_LOAD && loop_expr_uses(&P, e, P.kernels[0].body) &&
	      !loop_expr_affine(&P, e, &(LoopAffine){0}) && loop_expr_has_load(&P, e));
	prog_free();
	arena_free(&a);
}

int main(void)
{
	test_affine();
	test_range();
	test_floor();
	test_subst_simplify();
	test_verify_ok();
	test_verify_ranges();
	test_verify_structure();
	test_verify_decls();
	test_verify_types();
	test_matmul();
	test_conv();
	test_mac_order();
	test_maxpool();
	test_softmax();
	test_quant();
	test_loads();
	test_int_mac();
	test_views_misc();
	test_merge_epilogues();
	test_merge_refused();
	matmul_bench();
	return test_summary("loop-unit");
}
