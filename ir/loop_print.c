/*
 * The loop-IR printer: the canonical textual form, byte for byte what the
 * parser (ir/loop_parse.y) reads back, so that print(parse(x)) == x for a
 * canonical x.  docs/loopir.md has the grammar.
 *
 * The file is: level declarations, program buffers, kernels, data blocks,
 * with exactly one blank line between the level block, the buffer block,
 * each kernel and each data block; one tab per nesting level; comment lines
 * (docs and notes) written back as `#` + their text.  Floating-point values
 * are written in the shortest form that reads back to the same bits in the
 * type they are stored in (double for literals, the buffer's type for data).
 *
 * Programs built by passes (no docs, no positions) print the same way.  The
 * printer is also a debugging aid, so an index out of range prints as
 * `<bad ...>` instead of crashing; the verifier is what rejects such programs.
 */
#include "loop.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { FLOAT_BUF = 40, DATA_PER_LINE = 8 };

/* Operator precedence of index expressions, loosest first. */
enum { PREC_ADD = 1, PREC_MUL = 2, PREC_UNARY = 3, PREC_ATOM = 4 };

static void indent(FILE *f, int depth)
{
	for (int i = 0; i < depth; i++)
		fputc('\t', f);
}

/* Each line of text as `#LINE` at the given depth. */
static void print_comment(FILE *f, int depth, const char *text)
{
	const char *s = text;

	for (;;) {
		const char *nl = strchr(s, '\n');
		int n = nl ? (int)(nl - s) : (int)strlen(s);

		indent(f, depth);
		fprintf(f, "#%.*s\n", n, s);
		if (!nl)
			return;
		s = nl + 1;
	}
}

static void print_doc(FILE *f, int depth, const char *doc)
{
	if (doc)
		print_comment(f, depth, doc);
}

/* A C-style string: \" \\ \n \t and \xHH for other control characters. */
static void print_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* Adds ".0" when s reads as an integer ("1" -> "1.0", "-0" -> "-0.0"). */
static void mark_float(char *s, size_t size)
{
	if (!strpbrk(s, ".e") && !strstr(s, "inf") && !strstr(s, "nan") && strlen(s) + 3 <= size)
		strcat(s, ".0");
}

/* Whether text t, stored into an element of type dt, gives the bytes at want. */
static bool reads_back(const char *t, DType dt, const void *want)
{
	unsigned char got[8];
	Value v;

	memset(&v, 0, sizeof(v));
	v.dt = dt;
	v.data = got;
	val_set_f64(&v, 0, strtod(t, NULL));
	return memcmp(got, want, (size_t)dtype_size(dt)) == 0;
}

/* Digits that always read back: 17 for f64, 9 for f32, 5 for f16, 4 for bf16. */
static int max_digits(DType dt)
{
	switch (dtype_size(dt)) {
	case 8: return 17;
	case 4: return 9;
	default: return dt == DT_BF16 ? 4 : 5;
	}
}

/*
 * The shortest "%.Ng" form of x that reads back to the bytes at want once
 * stored as dt, marked as a float.  Reading back holds for every N from the
 * shortest on, so N is found by bisection.  NaN prints as nan whatever its
 * payload.
 */
static const char *fmt_float(char *s, double x, DType dt, const void *want)
{
	int lo = 1, hi = max_digits(dt);

	if (isnan(x))
		return strcpy(s, "nan");
	if (isinf(x))
		return strcpy(s, x < 0 ? "-inf" : "inf");
	while (lo < hi) {
		int mid = (lo + hi) / 2;

		snprintf(s, FLOAT_BUF, "%.*g", mid, x);
		if (reads_back(s, dt, want))
			hi = mid;
		else
			lo = mid + 1;
	}
	snprintf(s, FLOAT_BUF, "%.*g", hi, x);
	mark_float(s, FLOAT_BUF);
	return s;
}

static const char *fmt_double(char *s, double x)
{
	return fmt_float(s, x, DT_F64, &x);
}

static void print_lit(FILE *f, LoopLit l)
{
	char s[FLOAT_BUF];

	if (l.is_float)
		fputs(fmt_double(s, l.f), f);
	else
		fprintf(f, "%" PRId64, l.i);
}

static int expr_prec(const LoopProgram *p, const LoopExpr *e)
{
	switch (e->kind) {
	case LE_CONST:
	case LE_VAR:
	case LE_LOAD:
		return PREC_ATOM;
	case LE_ADD:
	case LE_SUB:
		return PREC_ADD;
	case LE_MUL:
		if (e->c == -1 && e->a >= 0 && e->a < p->nexprs && p->exprs[e->a].kind != LE_CONST)
			return PREC_UNARY;
		return PREC_MUL;
	case LE_DIV:
	case LE_MOD:
		return PREC_MUL;
	}
	nnac_unreachable();
}

static void print_expr(const LoopProgram *p, FILE *f, int e, int min_prec);

static void print_var(const LoopProgram *p, FILE *f, int64_t node)
{
	if (node < 0 || node >= p->nnodes || p->nodes[node].kind != LN_FOR)
		fprintf(f, "<bad var %" PRId64 ">", node);
	else
		fputs(p->nodes[node].var, f);
}

static const char *buf_name(const LoopProgram *p, int b);

/* buf[i, ...]: the indices of a load, as a reference's. */
static void print_load(const LoopProgram *p, FILE *f, const LoopExpr *e)
{
	int rank = e->c >= 0 && e->c < p->nbufs ? p->bufs[e->c].rank : 0;

	fprintf(f, "%s[", buf_name(p, (int)(e->c >= 0 && e->c < p->nbufs ? e->c : -1)));
	for (int k = 0; k < rank && e->list >= 0 && e->list + k < p->nilist; k++) {
		if (k)
			fputs(", ", f);
		print_expr(p, f, p->ilist[e->list + k], PREC_ADD);
	}
	fputc(']', f);
}

static void print_expr_body(const LoopProgram *p, FILE *f, const LoopExpr *e, int prec)
{
	switch (e->kind) {
	case LE_CONST:
		fprintf(f, "%" PRId64, e->c);
		return;
	case LE_VAR:
		print_var(p, f, e->c);
		return;
	case LE_ADD:
	case LE_SUB:
		print_expr(p, f, e->a, PREC_ADD);
		fputs(e->kind == LE_ADD ? " + " : " - ", f);
		print_expr(p, f, e->b, PREC_MUL);
		return;
	case LE_MUL:
		if (prec != PREC_UNARY) {
			fprintf(f, "%" PRId64 "*", e->c);
			print_expr(p, f, e->a, PREC_UNARY);
		} else {
			/* -(-i), not --i */
			fputc('-', f);
			print_expr(p, f, e->a, expr_prec(p, &p->exprs[e->a]) == PREC_UNARY ? PREC_ATOM
			                                                                 : PREC_UNARY);
		}
		return;
	case LE_DIV:
	case LE_MOD:
		print_expr(p, f, e->a, PREC_MUL);
		fprintf(f, "%c%" PRId64, e->kind == LE_DIV ? '/' : '%', e->c);
		return;
	case LE_LOAD:
		print_load(p, f, e);
		return;
	}
	nnac_unreachable();
}

/* e with the fewest parentheses, given the loosest precedence its place allows. */
static void print_expr(const LoopProgram *p, FILE *f, int e, int min_prec)
{
	const LoopExpr *x;
	int prec;

	if (e < 0 || e >= p->nexprs) {
		fprintf(f, "<bad expr %d>", e);
		return;
	}
	x = &p->exprs[e];
	prec = expr_prec(p, x);
	if (prec < min_prec)
		fputc('(', f);
	print_expr_body(p, f, x, prec);
	if (prec < min_prec)
		fputc(')', f);
}

static const char *buf_name(const LoopProgram *p, int b)
{
	return b >= 0 && b < p->nbufs ? p->bufs[b].name : "<bad buf>";
}

static void print_arg(const LoopProgram *p, FILE *f, const LoopNode *n, int i)
{
	const LoopArg *a = &n->arg[i];

	if (i >= n->narg) {
		fputs("<missing>", f);
		return;
	}
	if (a->buf < 0) {
		print_lit(f, a->lit);
		return;
	}
	fprintf(f, "%s[", buf_name(p, a->buf));
	for (int k = 0; k < a->nidx && k < MAX_RANK; k++) {
		if (k)
			fputs(", ", f);
		print_expr(p, f, a->idx[k], PREC_ADD);
	}
	fputc(']', f);
}

/* The element type mac's annotation names for operand i. */
static const char *arg_type(const LoopProgram *p, const LoopNode *n, int i)
{
	const LoopArg *a = &n->arg[i];

	if (i >= n->narg)
		return "<missing>";
	if (a->buf < 0)
		return a->lit.is_float ? "f64" : "i64";
	if (a->buf >= p->nbufs)
		return "<bad buf>";
	return dtype_name(p->bufs[a->buf].dt);
}

static bool same_double(double a, double b)
{
	return a == b ? signbit(a) == signbit(b) : isnan(a) && isnan(b);
}

static void print_apply(const LoopProgram *p, FILE *f, const LoopNode *n)
{
	static const char *const names[] = { "alpha", "beta", "gamma" };
	double def[3] = { 0, 0, 0 };
	double val[3] = { n->alpha, n->beta, n->gamma };
	char s[FLOAT_BUF];
	bool known = n->fn < OP_COUNT && loop_apply_arity(n->fn) > 0;

	fputs("apply ", f);
	print_arg(p, f, n, 0);
	fprintf(f, " = %s(", n->fn < OP_COUNT ? op_name(n->fn) : "<bad op>");
	for (int i = 1; i < n->narg; i++) {
		if (i > 1)
			fputs(", ", f);
		print_arg(p, f, n, i);
	}
	fputc(')', f);
	if (known)
		loop_apply_defaults(n->fn, &def[0], &def[1], &def[2]);
	for (int i = 0; i < 3; i++)
		if (!same_double(val[i], def[i]))
			fprintf(f, " %s=%s", names[i], fmt_double(s, val[i]));
}

static void print_stmt(const LoopProgram *p, FILE *f, const LoopNode *n)
{
	const char *kw = loop_node_keyword(n->kind);

	switch (n->kind) {
	case LN_FOR:
	case LN_NOTE:
		nnac_unreachable();
	case LN_COPY:
	case LN_FILL:
		fprintf(f, "%s ", kw);
		print_arg(p, f, n, 0);
		fputs(" = ", f);
		print_arg(p, f, n, 1);
		if (n->kind == LN_COPY && n->has_pad) {
			fputs(" pad ", f);
			print_lit(f, n->pad);
		}
		return;
	case LN_MAC:
		fputs("mac ", f);
		print_arg(p, f, n, 0);
		fputs(" += ", f);
		print_arg(p, f, n, 1);
		fputs(" * ", f);
		print_arg(p, f, n, 2);
		fprintf(f, " : %s * %s -> %s", arg_type(p, n, 1), arg_type(p, n, 2), arg_type(p, n, 0));
		return;
	case LN_APPLY:
		print_apply(p, f, n);
		return;
	case LN_REDUCE:
		fprintf(f, "reduce %s ", loop_reduce_name(n->red));
		print_arg(p, f, n, 0);
		fputs(" <- ", f);
		print_arg(p, f, n, 1);
		return;
	case LN_QUANTIZE:
	case LN_REQUANTIZE:
		fprintf(f, "%s ", kw);
		print_arg(p, f, n, 0);
		fputs(" = ", f);
		print_arg(p, f, n, 1);
		fputs(n->kind == LN_QUANTIZE ? " / " : " * ", f);
		print_arg(p, f, n, 2);
		fputs(" + ", f);
		print_arg(p, f, n, 3);
		fprintf(f, " round %s", loop_round_name(n->round));
		return;
	case LN_DEQUANTIZE:
		fputs("dequantize ", f);
		print_arg(p, f, n, 0);
		fputs(" = (", f);
		print_arg(p, f, n, 1);
		fputs(" - ", f);
		print_arg(p, f, n, 3);
		fputs(") * ", f);
		print_arg(p, f, n, 2);
		return;
	case LN_COUNT:
		break;
	}
	nnac_unreachable();
}

static void print_body(const LoopProgram *p, FILE *f, int first, int depth);

static void print_for(const LoopProgram *p, FILE *f, const LoopNode *n, int depth)
{
	int64_t end = (int64_t)((uint64_t)n->start + (uint64_t)n->extent * (uint64_t)n->step);

	fprintf(f, "for %s in %" PRId64 "..%" PRId64, n->var, n->start, end);
	if (n->step != 1)
		fprintf(f, " step %" PRId64, n->step);
	if (n->flags & LF_SPATIAL)
		fputs(" spatial", f);
	if (n->flags & LF_UNROLL)
		fputs(" unroll", f);
	fputs(" {\n", f);
	print_body(p, f, n->body, depth + 1);
	indent(f, depth);
	fputc('}', f);
}

static void print_node(const LoopProgram *p, FILE *f, const LoopNode *n, int depth)
{
	if (n->kind == LN_NOTE) {
		print_comment(f, depth, n->text ? n->text : "");
		return;
	}
	indent(f, depth);
	if (n->kind == LN_FOR)
		print_for(p, f, n, depth);
	else
		print_stmt(p, f, n);
	fputc('\n', f);
}

static void print_body(const LoopProgram *p, FILE *f, int first, int depth)
{
	for (int i = first; i >= 0 && i < p->nnodes; i = p->nodes[i].next)
		print_node(p, f, &p->nodes[i], depth);
}

static void print_level(FILE *f, const LoopLevel *l)
{
	print_doc(f, 0, l->doc);
	fprintf(f, "level %s", l->name);
	if (l->capacity)
		fprintf(f, " %" PRId64, l->capacity);
	fputc('\n', f);
}

static void print_flags(FILE *f, const LoopBuf *b)
{
	if (b->flags & LB_INPUT) {
		fputs(" input ", f);
		print_string(f, b->tensor ? b->tensor : "");
	}
	if (b->flags & LB_OUTPUT) {
		fputs(" output ", f);
		print_string(f, b->tensor ? b->tensor : "");
	}
	if (b->flags & LB_CONST)
		fputs(" const", f);
}

static void print_buf(const LoopProgram *p, FILE *f, const LoopBuf *b, int depth)
{
	print_doc(f, depth, b->doc);
	indent(f, depth);
	fprintf(f, "buf %s : %s[", b->name, dtype_name(b->dt));
	for (int i = 0; i < b->rank; i++)
		fprintf(f, "%s%" PRId64, i ? ", " : "", b->dims[i]);
	fputc(']', f);
	if (b->view_of >= 0) {
		fprintf(f, " view %s", buf_name(p, b->view_of));
		if (b->view_offset)
			fprintf(f, " at %" PRId64, b->view_offset);
	} else {
		fprintf(f, " @%s", b->level >= 0 && b->level < p->nlevels ? p->levels[b->level].name
		                                                       : "<bad level>");
		print_flags(f, b);
	}
	fputc('\n', f);
}

static void print_kernel(const LoopProgram *p, FILE *f, int k)
{
	const LoopKernel *kn = &p->kernels[k];

	print_doc(f, 0, kn->doc);
	fprintf(f, "kernel %s ", kn->name);
	if (kn->layer) {
		print_string(f, kn->layer);
		fputc(' ', f);
	}
	fputs("{\n", f);
	for (int i = 0; i < p->nbufs; i++)
		if (p->bufs[i].kernel == k)
			print_buf(p, f, &p->bufs[i], 1);
	print_body(p, f, kn->body, 1);
	fputs("}\n", f);
}

/* Element i of b in b's type, in the shortest form that reads back. */
static void print_elem(FILE *f, const LoopBuf *b, int64_t i)
{
	const unsigned char *at = (const unsigned char *)b->data + i * dtype_size(b->dt);
	char s[FLOAT_BUF];
	Value v;

	memset(&v, 0, sizeof(v));
	v.dt = b->dt;
	v.data = b->data;
	if (dtype_is_float(b->dt))
		fputs(fmt_float(s, val_get_f64(&v, i), b->dt, at), f);
	else if (b->dt == DT_U64)
		fprintf(f, "%" PRIu64, (uint64_t)val_get_i64(&v, i));
	else
		fprintf(f, "%" PRId64, val_get_i64(&v, i));
}

static void print_data(FILE *f, const LoopBuf *b)
{
	int64_t n = loop_buf_numel(b);

	print_doc(f, 0, b->data_doc);
	fprintf(f, "data %s = {\n", b->name);
	for (int64_t i = 0; i < n; i++) {
		if (i % DATA_PER_LINE == 0)
			fputc('\t', f);
		print_elem(f, b, i);
		if (i + 1 == n)
			fputc('\n', f);
		else
			fputs((i + 1) % DATA_PER_LINE == 0 ? ",\n" : ", ", f);
	}
	fputs("}\n", f);
}

/* Starts a block: one blank line after whatever came before. */
static void section(FILE *f, bool *any)
{
	if (*any)
		fputc('\n', f);
	*any = true;
}

static bool has_program_bufs(const LoopProgram *p)
{
	for (int i = 0; i < p->nbufs; i++)
		if (p->bufs[i].kernel < 0)
			return true;
	return false;
}

void loop_print(const LoopProgram *p, FILE *f, unsigned flags)
{
	bool any = false;

	if (p->nlevels > 0) {
		section(f, &any);
		for (int i = 0; i < p->nlevels; i++)
			print_level(f, &p->levels[i]);
	}
	if (has_program_bufs(p)) {
		section(f, &any);
		for (int i = 0; i < p->nbufs; i++)
			if (p->bufs[i].kernel < 0)
				print_buf(p, f, &p->bufs[i], 0);
	}
	for (int k = 0; k < p->nkernels; k++) {
		section(f, &any);
		print_kernel(p, f, k);
	}
	for (int i = 0; i < p->nbufs && !(flags & LOOP_PRINT_NO_DATA); i++) {
		const LoopBuf *b = &p->bufs[i];

		if ((b->flags & LB_CONST) && b->data) {
			section(f, &any);
			print_data(f, b);
		}
	}
	print_doc(f, 0, p->tail_doc);
}
