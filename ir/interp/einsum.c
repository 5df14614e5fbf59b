/*
 * Reference kernel of Einsum (opset 12 on).
 *
 * The equation names each axis of each input with a label: a letter, or
 * "..." for the leading axes not named (the ellipsis axes of all inputs
 * broadcast together, aligned on the right, size 1 against any size).
 * "->" gives the output's labels; without it (implicit form) the output
 * is the ellipsis axes, then the letters used exactly once, in ASCII order
 * (upper case first), as NumPy does.  A letter repeated within one input
 * takes its diagonal.  Y at each output position is the sum, over every
 * value of the labels absent from the output, of the product of the
 * inputs' elements; floats in double, integers in 64 bits (wrapping).
 *
 * The kernel walks all label combinations one by one (out_numel times the
 * summed labels' sizes steps): a reference, not a fast path.
 */
#include <string.h>

#include "checked.h"
#include "einsum.h"

static int ein_letter(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return 26 + (c - 'a');
	return -1;
}

char einsum_label_char(int l)
{
	return l < 26 ? (char)('A' + l) : l < EIN_LETTERS ? (char)('a' + l - 26) : '.';
}

/* The term s[0..len) without its blanks, in buf; false if too long. */
static bool ein_term_text(const char *s, size_t len, char *buf, size_t cap)
{
	size_t k = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == ' ')
			continue;
		if (k + 1 >= cap)
			return false;
		buf[k++] = s[i];
	}
	buf[k] = '\0';
	return true;
}

/* Letters of text and where its ellipsis is (-1: none); ST_INVALID for any
 * other character or a malformed ellipsis. */
static Status ein_scan(Graph *g, const Node *n, const char *text, int *letters, int *ell)
{
	*letters = 0;
	*ell = -1;
	for (int i = 0; text[i]; i++) {
		if (ein_letter(text[i]) >= 0) {
			(*letters)++;
		} else if (strncmp(text + i, "...", 3) == 0 && *ell < 0) {
			*ell = *letters;
			i += 2;
		} else {
			return node_error(g, n, ST_INVALID, "equation term '%s' has an unexpected '%c'",
			                  text, text[i]);
		}
	}
	return ST_OK;
}

/* The term's label ids with e ellipsis axes, the last e of the E. */
static Status ein_term(Graph *g, const Node *n, const char *text, int e, int E, EinTerm *t)
{
	int letters, ell;

	TRY(ein_scan(g, n, text, &letters, &ell));
	if (letters + (ell >= 0 ? e : 0) > MAX_RANK)
		return node_error(g, n, ST_UNSUPPORTED, "equation term '%s' has more than %d axes",
		                  text, MAX_RANK);
	t->rank = 0;
	for (int i = 0; text[i]; i++) {
		if (text[i] == '.') {
			for (int q = 0; q < e; q++)
				t->lab[t->rank++] = EIN_LETTERS + E - e + q;
			i += 2;
		} else {
			t->lab[t->rank++] = ein_letter(text[i]);
		}
	}
	return ST_OK;
}

/* Size of label l from an axis of size d: equal, or for an ellipsis axis 1
 * against any size. */
static Status ein_size(Graph *g, const Node *n, EinPlan *p, int l, int64_t d)
{
	int64_t *s = &p->size[l];

	if (*s < 0 || *s == d || (l >= EIN_LETTERS && *s == 1))
		*s = d;
	else if (!(l >= EIN_LETTERS && d == 1)) {
		if (l >= EIN_LETTERS)
			return node_error(g, n, ST_INVALID, "ellipsis axes of sizes %lld and %lld do not "
			                  "broadcast", (long long)*s, (long long)d);
		return node_error(g, n, ST_INVALID, "label '%c' has sizes %lld and %lld",
		                  einsum_label_char(l), (long long)*s, (long long)d);
	}
	return ST_OK;
}

/* The input terms: text s up to "->" (or its end), split at ','. */
static Status ein_inputs(Graph *g, const Node *n, Arena *a, const char *s, size_t len,
                         const Value *const *x, EinPlan *p)
{
	char (*buf)[64] = arena_alloc(a, (size_t)p->nin * sizeof(*buf));
	int *e = arena_alloc(a, (size_t)p->nin * sizeof(*e)), E = 0, k = 0;
	size_t from = 0;

	if (!buf || !e)
		return graph_oom(g);

	for (size_t i = 0; i <= len; i++) {
		int letters, ell;

		if (i < len && s[i] != ',')
			continue;
		if (k == p->nin)
			return node_error(g, n, ST_INVALID, "equation has more terms than the %d inputs", p->nin);
		if (!ein_term_text(s + from, i - from, buf[k], sizeof(buf[k])))
			return node_error(g, n, ST_UNSUPPORTED, "equation term %d is too long", k);
		TRY(ein_scan(g, n, buf[k], &letters, &ell));
		e[k] = x[k]->rank - letters;
		if (ell < 0 ? e[k] != 0 : e[k] < 0)
			return node_error(g, n, ST_INVALID, "equation term '%s' does not match input %d "
			                  "of rank %d", buf[k], k, x[k]->rank);
		E = e[k] > E ? e[k] : E;
		k++;
		from = i + 1;
	}
	if (k != p->nin)
		return node_error(g, n, ST_INVALID, "equation has %d terms for %d inputs", k, p->nin);
	for (int j = 0; j < p->nin; j++) {
		TRY(ein_term(g, n, buf[j], e[j], E, &p->in[j]));
		for (int ax = 0; ax < p->in[j].rank; ax++)
			TRY(ein_size(g, n, p, p->in[j].lab[ax], x[j]->dims[ax]));
	}
	p->ell = E;
	return ST_OK;
}

/* The implicit output: ellipsis axes, then letters used once, ASCII order. */
static Status ein_implicit(Graph *g, const Node *n, EinPlan *p)
{
	int count[EIN_LETTERS] = {0}, E = p->ell;

	for (int j = 0; j < p->nin; j++)
		for (int a = 0; a < p->in[j].rank; a++)
			if (p->in[j].lab[a] < EIN_LETTERS)
				count[p->in[j].lab[a]]++;
	p->out.rank = E;
	for (int q = 0; q < E; q++)
		p->out.lab[q] = EIN_LETTERS + q;
	for (int l = 0; l < EIN_LETTERS; l++) {
		if (count[l] != 1)
			continue;
		if (p->out.rank == MAX_RANK)
			return node_error(g, n, ST_UNSUPPORTED, "output rank is above %d", MAX_RANK);
		p->out.lab[p->out.rank++] = l;
	}
	return ST_OK;
}

static Status ein_explicit(Graph *g, const Node *n, const char *s, EinPlan *p)
{
	char buf[64];
	int E = p->ell, letters, ell;

	if (!ein_term_text(s, strlen(s), buf, sizeof(buf)))
		return node_error(g, n, ST_UNSUPPORTED, "the output term is too long");
	TRY(ein_scan(g, n, buf, &letters, &ell));
	TRY(ein_term(g, n, buf, ell >= 0 ? E : 0, E, &p->out));
	for (int a = 0; a < p->out.rank; a++) {
		int l = p->out.lab[a];

		if (p->size[l] < 0)
			return node_error(g, n, ST_INVALID, "output label '%c' is in no input", einsum_label_char(l));
		for (int b = 0; b < a; b++)
			if (p->out.lab[b] == l)
				return node_error(g, n, ST_INVALID, "output term '%s' repeats a label", buf);
	}
	return ST_OK;
}

/* The loop order (output labels, then the others) and the step count. */
static Status ein_order(Graph *g, const Node *n, EinPlan *p)
{
	bool in_out[EIN_LABELS] = {false};

	p->nlab = 0;
	p->steps = 1;
	for (int a = 0; a < p->out.rank; a++) {
		in_out[p->out.lab[a]] = true;
		p->order[p->nlab++] = p->out.lab[a];
	}
	for (int l = 0; l < EIN_LABELS; l++)
		if (p->size[l] >= 0 && !in_out[l])
			p->order[p->nlab++] = l;
	for (int i = 0; i < p->nlab; i++)
		if (!ck_mul(p->steps, p->size[p->order[i]], &p->steps))
			return node_error(g, n, ST_UNSUPPORTED, "the label sizes' product overflows 64 bits");
	return ST_OK;
}

Status einsum_plan(Graph *g, const Node *n, Arena *a, const Value *const *x, int nin,
                   EinPlan *p)
{
	const char *eq = attr_s(n, "equation", NULL), *arrow;

	if (!eq)
		return node_error(g, n, ST_INVALID, "attribute 'equation' is required");
	p->nin = nin;
	p->in = arena_alloc(a, (size_t)nin * sizeof(*p->in));
	if (!p->in)
		return graph_oom(g);
	for (int l = 0; l < EIN_LABELS; l++)
		p->size[l] = -1;
	arrow = strstr(eq, "->");
	TRY(ein_inputs(g, n, a, eq, arrow ? (size_t)(arrow - eq) : strlen(eq), x, p));
	TRY(arrow ? ein_explicit(g, n, arrow + 2, p) : ein_implicit(g, n, p));
	return ein_order(g, n, p);
}

/* The inputs' types, in graph-arena memory (NULL: out of memory). */
static const Value **ein_types(Graph *g, const Node *n)
{
	const Value **x = arena_alloc(&g->arena, (size_t)n->nin * sizeof(*x));

	for (int i = 0; x && i < n->nin; i++)
		x[i] = has_input(n, i) ? &node_in(g, n, i)->v : NULL;
	return x;
}

static Status ein_infer(Graph *g, Node *n)
{
	const Value **x = ein_types(g, n);
	int64_t dims[MAX_RANK];
	EinPlan p;

	if (!x)
		return graph_oom(g);
	if (n->nin < 1)
		return node_error(g, n, ST_INVALID, "Einsum needs at least one input");
	for (int i = 0; i < n->nin; i++) {
		if (!has_input(n, i))
			return node_error(g, n, ST_INVALID, "input %d is absent", i);
		TRY(infer_dtype(g, n, i, DTM_NUM));
		if (x[i]->dt != x[0]->dt)
			return node_error(g, n, ST_INVALID, "input %d is %s, input 0 %s", i,
			                  dtype_name(x[i]->dt), dtype_name(x[0]->dt));
	}
	TRY(einsum_plan(g, n, &g->arena, x, n->nin, &p));
	for (int a = 0; a < p.out.rank; a++)
		dims[a] = p.size[p.out.lab[a]];
	infer_out(g, n, 0, x[0]->dt, p.out.rank, dims);
	return ST_OK;
}

/* Offset in input x (term t) of the element at label values idx. */
static int64_t ein_offset(const Value *x, const EinTerm *t, const int64_t *idx)
{
	int64_t off = 0;

	for (int a = 0; a < t->rank; a++)
		off = off * x->dims[a] + (x->dims[a] == 1 ? 0 : idx[t->lab[a]]);
	return off;
}

static Status ein_eval(EvalCtx *cx, const Node *n, const Value *const *in, Value *const *out)
{
	bool fl = dtype_is_float(in[0]->dt);
	int64_t idx[EIN_LABELS] = {0}, inner;
	EinPlan p;

	TRY(einsum_plan(cx->g, n, cx->scratch, in, n->nin, &p));
	inner = val_numel(out[0]) > 0 ? p.steps / val_numel(out[0]) : 0;
	for (int64_t o = 0; o < val_numel(out[0]); o++) {
		double accf = 0;
		uint64_t acci = 0;

		for (int64_t s = 0; s < inner; s++) {
			double pf = 1;
			uint64_t pi = 1;

			for (int j = 0; j < p.nin; j++) {
				int64_t off = ein_offset(in[j], &p.in[j], idx);

				if (fl)
					pf *= val_get_f64(in[j], off);
				else
					pi *= (uint64_t)val_get_i64(in[j], off);
			}
			accf += pf;
			acci += pi;
			for (int i = p.nlab - 1; i >= 0 && ++idx[p.order[i]] == p.size[p.order[i]]; i--)
				idx[p.order[i]] = 0;   /* odometer: the output's labels are the outer digits */
		}
		if (fl)
			val_set_f64(out[0], o, accf);
		else
			val_set_i64(out[0], o, (int64_t)acci);
	}
	return ST_OK;
}

/* One multiply-accumulate per input and label combination (an upper bound
 * for the step budget). */
static int64_t ein_macs(Graph *g, const Node *n)
{
	const Value **x = ein_types(g, n);
	EinPlan p;

	if (!x || einsum_plan(g, n, &g->arena, x, n->nin, &p) != ST_OK)
		return 0;
	return ck_mul_sat(p.steps, n->nin);
}

const OpImpl op_impl_Einsum = {ein_infer, ein_eval, ein_macs};
