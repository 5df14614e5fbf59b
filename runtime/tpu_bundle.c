/*
 * A TPU plan in a bundle (docs/bundle.md, docs/tpu.md "The program
 * section"): the program_tpu section holds the machine, the tensors' image
 * layout and placement, the layers, the segments and the encoded
 * instructions; the weights section "tpu" holds weight DRAM; a host_loops
 * section "L<i>" holds host layer i's loop program as text (ir/loop.h),
 * so that running the plan needs neither the model nor the graph passes.
 *
 * Everything is little endian and read back with bounds and index checks;
 * host programs are parsed and verified: a bundle that passed its checksum
 * can still be inconsistent, and that is an error, not a crash.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checked.h"
#include "tpu_bundle.h"

enum { FORMAT = 2, MAX_DIM = 1 << 30 };

/* ---- writing ---- */

static void put32(NnbBuf *b, uint32_t v) { nnb_put_le(b, v, 4); }
static void put64(NnbBuf *b, uint64_t v) { nnb_put_le(b, v, 8); }

static void put_list(NnbBuf *b, const int *v, int n)
{
	put32(b, (uint32_t)n);
	for (int i = 0; i < n; i++)
		put32(b, (uint32_t)v[i]);
}

static void put_config(NnbBuf *b, const TpuConfig *c)
{
	put32(b, (uint32_t)c->height), put32(b, (uint32_t)c->width);
	put64(b, (uint64_t)c->ub_rows), put64(b, (uint64_t)c->acc_rows);
	put32(b, (uint32_t)c->fifo_depth), put32(b, (uint32_t)c->param_slots);
	nnb_put_f64(b, c->clock_hz), nnb_put_f64(b, c->dram_bytes_per_s), nnb_put_f64(b, c->host_bytes_per_s);
	put32(b, (uint32_t)c->precision);
}

static void put_tensor(NnbBuf *b, const TpuTensor *t)
{
	float s = t->scale;
	uint32_t u;

	nnb_put_str(b, t->name);
	put32(b, (uint32_t)dtype_to_onnx(t->type.dt)), put32(b, (uint32_t)t->type.rank);
	for (int i = 0; i < t->type.rank; i++)
		put64(b, (uint64_t)t->type.dims[i]);
	put64(b, (uint64_t)t->nimg), put64(b, (uint64_t)t->c), put64(b, (uint64_t)t->h), put64(b, (uint64_t)t->w);
	put64(b, (uint64_t)t->pt), put64(b, (uint64_t)t->pl), put64(b, (uint64_t)t->pb), put64(b, (uint64_t)t->pr);
	memcpy(&u, &s, 4);
	put32(b, u);
	put32(b, t->loc), put64(b, t->host_addr), put64(b, (uint64_t)t->ub_row), put32(b, t->matrix);
}

static void put_layer(NnbBuf *b, const TpuLayer *l)
{
	put32(b, l->kind), put32(b, (uint32_t)l->segment), nnb_put_str(b, l->name);
	put32(b, (uint32_t)l->in), put32(b, (uint32_t)l->out);
	put_list(b, l->ins, l->nins);
	put_list(b, l->outs, l->nouts);
}

static Status program_payload(const TpuPlan *p, NnbBuf *b, Diag *d)
{
	put32(b, FORMAT);
	put_config(b, &p->cfg);
	put32(b, (uint32_t)p->precision);
	put64(b, p->host_bytes);
	put32(b, (uint32_t)p->nt);
	for (int i = 0; i < p->nt; i++)
		put_tensor(b, &p->t[i]);
	put32(b, (uint32_t)p->nl);
	for (int i = 0; i < p->nl; i++)
		put_layer(b, &p->l[i]);
	put32(b, (uint32_t)p->nseg);
	for (int i = 0; i < p->nseg; i++) {
		const TpuSegment *s = &p->seg[i];
		put32(b, s->host), put32(b, (uint32_t)s->layer), put32(b, s->first), put32(b, s->count);
		put_list(b, s->ins, s->nins);
		put_list(b, s->outs, s->nouts);
	}
	put_list(b, p->graph_in, p->ngraph_in);
	put_list(b, p->graph_out, p->ngraph_out);
	put32(b, p->nprog);
	for (uint32_t i = 0; i < p->nprog; i++) {
		uint8_t w[TPU_WORD_BYTES];
		Status st = tpu_encode(&p->prog[i], w, d);
		if (st)
			return st;
		nnb_put(b, w, sizeof(w));
	}
	return b->oom ? diag_add(d, ST_NOMEM, "out of memory") : ST_OK;
}

static Status io_table(const TpuPlan *p, uint8_t **out, uint64_t *size, Diag *d)
{
	int n = p->ngraph_in + p->ngraph_out;
	NnbTensor *t = nnac_calloc((size_t)n + 1, sizeof(*t));
	Status st;

	if (!t)
		return diag_add(d, ST_NOMEM, "out of memory");
	for (int i = 0; i < n; i++) {
		bool in = i < p->ngraph_in;
		const TpuTensor *tt = &p->t[in ? p->graph_in[i] : p->graph_out[i - p->ngraph_in]];
		nnb_tensor_dense(&t[i], tt->name, tt->type.dt, tt->type.rank, tt->type.dims,
		                 in ? NNB_ROLE_INPUT : NNB_ROLE_OUTPUT);
	}
	st = nnb_tensors_encode(t, n, out, size, d);
	nnac_free(t);
	return st;
}

/* Host layer i's loop program as text, in section host_loops/L<i>. */
static Status add_host_loops(const TpuPlan *p, int i, NnbWriter *w, Diag *d)
{
	char name[32], *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	Status st;

	if (!f)
		return diag_add(d, ST_NOMEM, "out of memory");
	loop_print(p->l[i].host, f, 0);
	if (fclose(f) != 0 || !text) {
		free(text);
		return diag_add(d, ST_NOMEM, "out of memory");
	}
	snprintf(name, sizeof(name), "L%d", i);
	st = nnb_add(w, NNB_HOST_LOOPS, name, text, len, d);
	free(text);
	return st;
}

Status tpu_bundle_add(const TpuPlan *p, NnbWriter *w, Diag *d)
{
	NnbBuf prog = {0};
	uint8_t *tensors = NULL;
	uint64_t ntensors = 0;
	Status st = program_payload(p, &prog, d);

	if (!st)
		st = io_table(p, &tensors, &ntensors, d);
	if (!st)
		st = nnb_add(w, NNB_TENSORS, "tpu", tensors, ntensors, d);
	if (!st)
		st = nnb_add(w, NNB_WEIGHTS, "tpu", p->wdram, p->wdram_bytes, d);
	for (int i = 0; i < p->nl && !st; i++)
		if (p->l[i].kind == TPU_LAYER_HOST)
			st = add_host_loops(p, i, w, d);
	if (!st)
		st = nnb_add(w, NNB_PROGRAM_TPU, "tpu", prog.b, prog.n, d);
	nnac_free(tensors);
	nnb_buf_free(&prog);
	return st;
}

/* ---- reading ---- */

typedef struct Rd {
	NnbReader in;
	Arena *a;            /* where strings and lists go */
} Rd;

static uint32_t get32(Rd *r) { return (uint32_t)nnb_get_le(&r->in, 4); }
static uint64_t get64(Rd *r) { return nnb_get_le(&r->in, 8); }

static const char *getstr(Rd *r)
{
	uint32_t n;
	const char *in = nnb_get_str(&r->in, &n);
	char *s = in ? arena_alloc(r->a, n + 1) : NULL;

	if (!s) {
		r->in.bad = true;
		return "";
	}
	memcpy(s, in, n);
	s[n] = 0;
	return s;
}

/* A list of indices below limit. */
static int *get_list(Rd *r, int *n, int limit)
{
	uint32_t k = get32(r);
	int *v;
	if (r->in.bad || k > r->in.n - r->in.at) {
		r->in.bad = true;
		*n = 0;
		return NULL;
	}
	v = arena_alloc(r->a, ((size_t)k + 1) * sizeof(int));
	if (!v) {
		r->in.bad = true;
		return NULL;
	}
	for (uint32_t i = 0; i < k; i++) {
		v[i] = (int)get32(r);
		if (v[i] < 0 || v[i] >= limit)
			r->in.bad = true;
	}
	*n = (int)k;
	return v;
}

static Status bad(Diag *d, const char *path, const char *what)
{
	return diag_add(d, ST_INVALID, "%s: program_tpu section: %s", path, what);
}

static Status get_config(Rd *r, TpuConfig *c)
{
	c->height = (int)get32(r), c->width = (int)get32(r);
	c->ub_rows = (int64_t)get64(r), c->acc_rows = (int64_t)get64(r);
	c->fifo_depth = (int)get32(r), c->param_slots = (int)get32(r);
	c->clock_hz = nnb_get_f64(&r->in), c->dram_bytes_per_s = nnb_get_f64(&r->in), c->host_bytes_per_s = nnb_get_f64(&r->in);
	c->precision = (int)get32(r);
	if (r->in.bad || c->height < 1 || c->height > 4096 || c->width != c->height || c->ub_rows < 1 ||
	    c->ub_rows > (1 << 24) || c->acc_rows < 2 || c->acc_rows > (1 << 24) || c->fifo_depth < 1 ||
	    c->fifo_depth > 64 || c->param_slots < 1 || c->param_slots > 256 || !(c->clock_hz > 0) ||
	    !(c->dram_bytes_per_s > 0) || !(c->host_bytes_per_s > 0) ||
	    (c->precision != TPU_INT8 && c->precision != TPU_BF16))
		return ST_INVALID;
	return ST_OK;
}

static Status get_type(Rd *r, Value *v)
{
	int rank;

	memset(v, 0, sizeof(*v));
	v->dt = dtype_from_onnx((int)get32(r));
	rank = (int)get32(r);
	if (r->in.bad || v->dt == DT_UNDEF || rank < 0 || rank > MAX_RANK)
		return ST_INVALID;
	v->rank = rank;
	for (int i = 0; i < rank; i++) {
		uint64_t n = get64(r);
		if (n > MAX_DIM)
			return ST_INVALID;
		v->dims[i] = (int64_t)n;
	}
	int64_t bytes;
	return r->in.bad || !ck_numel(v->dims, v->rank, &bytes) || !ck_mul(bytes, dtype_size(v->dt), &bytes) ||
	       bytes > VAL_MAX_BYTES ? ST_INVALID : ST_OK;
}

static Status get_tensor(Rd *r, TpuTensor *t, uint64_t host_bytes, int es)
{
	uint32_t u;
	int64_t *f[] = {&t->nimg, &t->c, &t->h, &t->w, &t->pt, &t->pl, &t->pb, &t->pr};
	TpuTensor view;

	t->gt = -1;
	t->name = getstr(r);
	if (get_type(r, &t->type))
		return ST_INVALID;
	for (int i = 0; i < 8; i++) {
		uint64_t v = get64(r);
		*f[i] = v > (1u << 30) ? (r->in.bad = true, 0) : (int64_t)v;
	}
	u = get32(r);
	memcpy(&t->scale, &u, 4);
	t->loc = (TpuLoc)get32(r);
	t->host_addr = get64(r);
	t->ub_row = (int64_t)get64(r);
	t->matrix = get32(r) != 0;
	if (r->in.bad || t->loc > TPU_LOC_UB || !(t->scale > 0) || t->nimg < 1 || t->c < 1 ||
	    t->h < 1 || t->w < 1)
		return ST_INVALID;
	tpu_image_view(&view, &t->type);
	if (t->nimg != view.nimg || t->c != view.c || t->h != view.h || t->w != view.w)
		return ST_INVALID;
	t->channels_last = view.channels_last;
	if (t->loc == TPU_LOC_HOST &&
	    (t->host_addr > host_bytes || tpu_host_bytes(t, es) > host_bytes - t->host_addr))
		return ST_INVALID;
	return ST_OK;
}

/* Host layer i's program from its host_loops section, parsed and verified;
 * a problem in it is reported as the parser or verifier found it. */
static Status get_host_loops(const Nnb *b, TpuPlan *p, int i, Diag *d)
{
	char name[32], *path;
	const NnbSection *sec;
	LoopProgram *lp;
	Status st;

	snprintf(name, sizeof(name), "L%d", i);
	sec = nnb_find(b, NNB_HOST_LOOPS, name);
	if (!sec)
		return diag_add(d, ST_INVALID, "%s: host step '%s' has no host_loops section %s", nnb_path(b),
		                p->l[i].name, name);
	path = arena_printf(&p->arena, "%s:host_loops/%s", nnb_path(b), name);
	lp = arena_alloc(&p->arena, sizeof(*lp));
	if (!path || !lp)
		return diag_add(d, ST_NOMEM, "out of memory");
	loop_init(lp, d, path);
	p->l[i].host = lp;
	st = loop_parse(lp, path, (const char *)sec->data, sec->size);
	return st == ST_OK ? loop_verify(lp) : st;
}

static Status get_layer(Rd *r, TpuLayer *l, int nt)
{
	memset(l, 0, sizeof(*l));
	l->kind = (TpuLayerKind)get32(r);
	l->segment = (int)get32(r);
	l->name = getstr(r);
	l->in = (int)get32(r), l->out = (int)get32(r);
	if (r->in.bad || (l->kind != TPU_LAYER_MATRIX && l->kind != TPU_LAYER_HOST))
		return ST_INVALID;
	if (l->kind == TPU_LAYER_MATRIX && (l->in < 0 || l->in >= nt || l->out < 0 || l->out >= nt))
		return ST_INVALID;
	l->ins = get_list(r, &l->nins, nt);
	l->outs = get_list(r, &l->nouts, nt);
	return r->in.bad ? ST_INVALID : ST_OK;
}

static Status get_plan(Rd *r, TpuPlan *p, const char *path, Diag *d)
{
	if (get32(r) != FORMAT)
		return bad(d, path, "unknown format version");
	if (get_config(r, &p->cfg))
		return bad(d, path, "bad machine description");
	p->precision = (int)get32(r);
	p->host_bytes = get64(r);
	if (p->precision != p->cfg.precision || p->host_bytes > UINT32_MAX)
		return bad(d, path, "bad precision or host memory size");
	p->nt = (int)get32(r);
	if (r->in.bad || p->nt < 0 || (size_t)p->nt > r->in.n / 8)
		return bad(d, path, "bad tensor count");
	p->t = arena_alloc(&p->arena, ((size_t)p->nt + 1) * sizeof(TpuTensor));
	if (!p->t)
		return diag_add(d, ST_NOMEM, "out of memory");
	for (int i = 0; i < p->nt; i++)
		if (get_tensor(r, &p->t[i], p->host_bytes, tpu_esize(p->precision)))
			return bad(d, path, "bad tensor record");
	p->nl = (int)get32(r);
	if (r->in.bad || p->nl < 0 || (size_t)p->nl > r->in.n / 8)
		return bad(d, path, "bad layer count");
	p->l = arena_alloc(&p->arena, ((size_t)p->nl + 1) * sizeof(TpuLayer));
	if (!p->l)
		return diag_add(d, ST_NOMEM, "out of memory");
	for (int i = 0; i < p->nl; i++)
		if (get_layer(r, &p->l[i], p->nt))
			return bad(d, path, "bad layer record");
	p->nseg = (int)get32(r);
	if (r->in.bad || p->nseg < 0 || (size_t)p->nseg > r->in.n / 8)
		return bad(d, path, "bad segment count");
	p->seg = arena_alloc(&p->arena, ((size_t)p->nseg + 1) * sizeof(TpuSegment));
	if (!p->seg)
		return diag_add(d, ST_NOMEM, "out of memory");
	for (int i = 0; i < p->nseg; i++) {
		TpuSegment *s = &p->seg[i];
		s->host = get32(r) != 0, s->layer = (int)get32(r), s->first = get32(r), s->count = get32(r);
		s->ins = get_list(r, &s->nins, p->nt);
		s->outs = get_list(r, &s->nouts, p->nt);
		if (r->in.bad || s->layer < 0 || s->layer >= p->nl || (s->host && p->l[s->layer].kind != TPU_LAYER_HOST))
			return bad(d, path, "bad segment record");
	}
	for (int i = 0; i < p->nl; i++)
		if (p->l[i].segment < 0 || p->l[i].segment >= p->nseg)
			return bad(d, path, "a layer names no segment");
	p->graph_in = get_list(r, &p->ngraph_in, p->nt);
	p->graph_out = get_list(r, &p->ngraph_out, p->nt);
	if (r->in.bad)
		return bad(d, path, "bad list of graph inputs and outputs");
	p->nprog = get32(r);
	if (r->in.bad || (size_t)p->nprog * TPU_WORD_BYTES != r->in.n - r->in.at)
		return bad(d, path, "the instruction count does not match the section size");
	for (int i = 0; i < p->nseg; i++)
		if (!p->seg[i].host && (p->seg[i].first > p->nprog || p->seg[i].count > p->nprog - p->seg[i].first))
			return bad(d, path, "a segment's instructions lie outside the program");
	TpuInsn *prog;
	size_t n;
	Status st = tpu_decode_program(r->in.p + r->in.at, r->in.n - r->in.at, &prog, &n, d);
	if (st)
		return st;
	p->prog = arena_alloc(&p->arena, (n + 1) * sizeof(TpuInsn));
	if (p->prog)
		memcpy(p->prog, prog, n * sizeof(TpuInsn));
	nnac_free(prog);
	return p->prog ? ST_OK : diag_add(d, ST_NOMEM, "out of memory");
}

Status tpu_bundle_read(const Nnb *b, TpuPlan *p, Diag *d)
{
	const NnbSection *prog = nnb_find(b, NNB_PROGRAM_TPU, NULL);
	const NnbSection *w = nnb_find(b, NNB_WEIGHTS, "tpu");
	Rd r;

	if (!prog || !w)
		return diag_add(d, ST_INVALID, "%s: not a TPU bundle (no program_tpu or weights section)",
		                nnb_path(b));
	r = (Rd){{prog->data, prog->size, 0, false}, &p->arena};
	Status st = get_plan(&r, p, nnb_path(b), d);
	for (int i = 0; i < p->nl && st == ST_OK; i++)
		if (p->l[i].kind == TPU_LAYER_HOST)
			st = get_host_loops(b, p, i, d);
	if (st)
		return st;
	p->wdram = (uint8_t *)w->data;
	p->wdram_bytes = w->size;
	return ST_OK;
}
