/*
 * The TPU plan executor and the integer reference (tpu_exec.h).
 *
 * Every tensor has up to two current forms, both in the graph tensor's
 * order (NCHW, or [M][C] for a matrix: tpu_elem): f32 (what the host steps
 * and the caller see) and quantized (int8 values or bf16 bits, what
 * matrix layers read and write).  Each form is made from the other on
 * demand.  A program segment copies its inputs' quantized forms into host
 * memory's image layout, runs, and copies its outputs back.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tpu_exec.h"

typedef struct Run {
	TpuExec *x;
	const TpuPlan *p;
	Diag *d;
	Arena a;             /* tensor data of this run */
	Value *f;            /* per TpuTensor: f32 form, data NULL when stale */
	uint8_t *host;       /* host memory (SIM) */
	uint64_t cycle0;     /* cycles of earlier segments */
} Run;

static int esz(const Run *r) { return tpu_esize(r->p->precision); }

static Status oom(Run *r) { return diag_add(r->d, ST_NOMEM, "out of memory"); }

static int64_t numel(const TpuTensor *t) { return t->nimg * t->c * t->h * t->w; }

static int8_t quant8(float v, float scale)
{
	float q = nearbyintf(v / scale);
	return (int8_t)(q > 127 ? 127 : q < -128 ? -128 : q);
}

/* ---- the two forms ---- */

static Status need_q(Run *r, int ti)
{
	const TpuTensor *t = &r->p->t[ti];
	int64_t n = numel(t);

	if (r->x->q[ti])
		return ST_OK;
	if (!r->f[ti].data)
		return diag_add(r->d, ST_INTERNAL, "tensor '%s' used before it is computed", t->name);
	r->x->q[ti] = arena_alloc(&r->a, (size_t)(n * esz(r)) + 1);
	if (!r->x->q[ti])
		return oom(r);
	const float *f = r->f[ti].data;
	for (int64_t i = 0; i < n; i++) {
		if (r->p->precision == TPU_BF16)
			((uint16_t *)r->x->q[ti])[i] = f32_to_bf16(f[i]);
		else
			((int8_t *)r->x->q[ti])[i] = quant8(f[i], t->scale);
	}
	return ST_OK;
}

static Status need_f(Run *r, int ti)
{
	const TpuTensor *t = &r->p->t[ti];
	Value *v = &r->f[ti];
	int64_t n = numel(t);

	if (v->data)
		return ST_OK;
	if (!r->x->q[ti])
		return diag_add(r->d, ST_INTERNAL, "tensor '%s' used before it is computed", t->name);
	*v = t->type;
	v->data = NULL;
	if (!val_alloc(&r->a, v))
		return oom(r);
	float *f = v->data;
	for (int64_t i = 0; i < n; i++)
		f[i] = r->p->precision == TPU_BF16 ? bf16_to_f32(((uint16_t *)r->x->q[ti])[i])
		                                   : ((int8_t *)r->x->q[ti])[i] * t->scale;
	return ST_OK;
}

/* ---- host memory's image layout ---- */

static void element_copy(uint8_t *dst, const uint8_t *src, int es)
{
	memcpy(dst, src, (size_t)es);
}

/* Quantized graph order <-> host image rows; to_host picks the direction. */
static void host_image(Run *r, int ti, bool to_host)
{
	const TpuTensor *t = &r->p->t[ti];
	int h = r->p->cfg.height, es = esz(r);
	uint8_t *q = r->x->q[ti];

	for (int64_t cb = 0; cb < tpu_blocks(t, h); cb++) {
		int64_t len = tpu_block_len(t, h, cb);
		for (int64_t n = 0; n < t->nimg; n++)
			for (int64_t y = 0; y < t->h; y++)
				for (int64_t x = 0; x < t->w; x++) {
					uint8_t *row = r->host + t->host_addr +
					               tpu_host_offset(t, h, es, cb, tpu_row(t, cb, n, y, x));
					for (int64_t c = 0; c < len; c++) {
						uint8_t *e = q + tpu_elem(t, n, cb * h + c, y, x) * es;
						if (to_host)
							element_copy(row + c * es, e, es);
						else
							element_copy(e, row + c * es, es);
					}
				}
	}
}

/* ---- the integer reference of one matrix layer ---- */

static float act_func(TpuFunc f, float v)
{
	switch (f) {
	case TPU_FUNC_IDENTITY: return v;
	case TPU_FUNC_RELU: return v > 0 ? v : 0;
	case TPU_FUNC_SIGMOID: return 1.0f / (1.0f + expf(-v));
	case TPU_FUNC_TANH: return tanhf(v);
	case TPU_FUNC_COUNT: break;
	}
	nnac_unreachable();
}

/* The convolution of image n into output channel k, activated as activate
 * computes it (bias, scale, function), into plane[oh * ow]; acc is scratch
 * of the same size. */
static void conv_plane(const Run *r, const TpuLayer *l, const TpuTensor *t, const void *xq, int64_t n,
                       int64_t k, int32_t *acc, float *plane)
{
	bool bf = r->p->precision == TPU_BF16;
	int64_t m = l->oh * l->ow;

	memset(acc, 0, (size_t)m * sizeof(int32_t));
	for (int64_t i = 0; i < m; i++)
		plane[i] = 0;
	for (int64_t c = 0; c < l->c; c++)
		for (int64_t i = 0; i < l->r; i++)
			for (int64_t j = 0; j < l->s; j++) {
				int64_t wi = ((k * l->c + c) * l->r + i) * l->s + j;
				int32_t w8 = bf ? 0 : ((const int8_t *)l->wq)[wi];
				float wf = bf ? bf16_to_f32(((const uint16_t *)l->wq)[wi]) : 0;
				if (!bf && w8 == 0)
					continue;
				for (int64_t oy = 0; oy < l->oh; oy++) {
					int64_t y = oy * l->sh - l->pt + i * l->dh;
					if (y < 0 || y >= t->h)
						continue;
					for (int64_t ox = 0; ox < l->ow; ox++) {
						int64_t x = ox * l->sw - l->pl + j * l->dw;
						if (x < 0 || x >= t->w)
							continue;
						int64_t xi = tpu_elem(t, n, c, y, x);
						if (bf)
							plane[oy * l->ow + ox] += bf16_to_f32(((const uint16_t *)xq)[xi]) * wf;
						else
							acc[oy * l->ow + ox] = (int32_t)((uint32_t)acc[oy * l->ow + ox] +
							                                 (uint32_t)(((const int8_t *)xq)[xi] * w8));
					}
				}
			}
	for (int64_t i = 0; i < m; i++) {
		if (bf) {
			plane[i] = act_func(l->func, plane[i] + l->bias_f[k]);
		} else {
			int32_t v = (int32_t)((uint32_t)acc[i] + (uint32_t)l->bias_q[k]);
			plane[i] = act_func(l->func, (float)v * (r->p->t[l->in].scale * l->wscale[k]));
		}
	}
}

static Status ref_layer(Run *r, const TpuLayer *l)
{
	const TpuTensor *t = &r->p->t[l->in], *o = &r->p->t[l->out];
	bool bf = r->p->precision == TPU_BF16;
	const void *xq = r->x->q[l->in];
	void *yq = arena_alloc(&r->a, (size_t)(numel(o) * esz(r)) + 1);
	int64_t m = l->oh * l->ow;
	int32_t *acc = nnac_malloc((size_t)m * sizeof(int32_t) + 1);
	float *plane = nnac_malloc((size_t)m * sizeof(float) + 1);

	if (!yq || !acc || !plane) {
		nnac_free(acc);
		nnac_free(plane);
		return oom(r);
	}
	for (int64_t n = 0; n < t->nimg; n++)
		for (int64_t k = 0; k < l->k; k++) {
			conv_plane(r, l, t, xq, n, k, acc, plane);
			for (int64_t py = 0; py < l->ph; py++)
				for (int64_t px = 0; px < l->pw; px++) {
					float a = 0;
					for (int64_t dy = 0; dy < l->pkh; dy++)
						for (int64_t dx = 0; dx < l->pkw; dx++) {
							float v = plane[(py * l->psy + dy) * l->ow + px * l->psx + dx];
							if (l->pool == TPU_POOL_MAX)
								a = dy + dx == 0 || v > a ? v : a;
							else
								a = dy + dx == 0 ? v : a + v;
						}
					if (l->pool == TPU_POOL_AVG)
						a /= (float)(l->pkh * l->pkw);
					int64_t oi = tpu_elem(o, n, k, py, px);
					if (bf)
						((uint16_t *)yq)[oi] = f32_to_bf16(a);
					else
						((int8_t *)yq)[oi] = quant8(a, o->scale);
				}
		}
	nnac_free(acc);
	nnac_free(plane);
	r->x->q[l->out] = yq;
	r->f[l->out].data = NULL;
	return ST_OK;
}

/* ---- segments ---- */

static Status sim_segment(Run *r, const TpuSegment *sg)
{
	const TpuPlan *p = r->p;
	TpuSim *s;
	TpuTraceRec *tr = NULL;
	size_t ntr = 0;
	Status st;

	for (int i = 0; i < sg->nins; i++) {
		if ((st = need_q(r, sg->ins[i])))
			return st;
		host_image(r, sg->ins[i], true);
	}
	s = tpu_sim_new(&p->cfg, r->host, p->host_bytes, p->wdram, p->wdram_bytes);
	if (!s)
		return oom(r);
	st = tpu_sim_run(s, p->prog + sg->first, sg->count, r->x->want_trace ? &tr : NULL, &ntr, r->d);
	if (st == ST_OK) {
		const TpuCounters *c = tpu_sim_counters(s);
		TpuCounters *t = &r->x->counters;
		t->cycles += c->cycles, t->array_active += c->array_active;
		t->weight_stall += c->weight_stall, t->weight_shift += c->weight_shift;
		t->raw_stall += c->raw_stall, t->input_stall += c->input_stall;
		t->non_matrix += c->non_matrix, t->useful_macs += c->useful_macs;
		t->unused_macs += c->unused_macs, t->insns += c->insns;
		t->weight_bytes += c->weight_bytes, t->host_bytes += c->host_bytes;
		t->seconds += c->seconds, t->peak_tops = c->peak_tops;
		t->tops = t->seconds > 0 ? 2.0 * (double)t->useful_macs / t->seconds / 1e12 : 0;
	}
	if (st == ST_OK && tr) {
		TpuTraceRec *all = nnac_realloc(r->x->trace, (r->x->ntrace + ntr) * sizeof(*all));
		if (!all)
			st = oom(r);
		else {
			for (size_t i = 0; i < ntr; i++) {
				all[r->x->ntrace + i] = tr[i];
				all[r->x->ntrace + i].index += sg->first;
				all[r->x->ntrace + i].issue += r->cycle0;
				all[r->x->ntrace + i].start += r->cycle0;
				all[r->x->ntrace + i].done += r->cycle0;
			}
			r->x->trace = all;
			r->x->ntrace += ntr;
		}
	}
	if (st == ST_OK)
		r->cycle0 += tpu_sim_counters(s)->cycles;
	nnac_free(tr);
	tpu_sim_free(s);
	for (int i = 0; i < sg->nouts && st == ST_OK; i++) {
		int ti = sg->outs[i];
		r->x->q[ti] = arena_alloc(&r->a, (size_t)(numel(&p->t[ti]) * esz(r)) + 1);
		if (!r->x->q[ti])
			return oom(r);
		host_image(r, ti, false);
		r->f[ti].data = NULL;
	}
	return st;
}

/* A layer whose function or pooling activate does not have is a bug in
 * selection; it is reported with the layer's name rather than reaching
 * act_func's unreachable. */
static Status ref_segment(Run *r, int sg)
{
	Status st = ST_OK;

	for (int i = r->p->seg[sg].layer; i < r->p->nl && r->p->l[i].segment == sg && st == ST_OK; i++) {
		const TpuLayer *l = &r->p->l[i];
		if (l->func >= TPU_FUNC_COUNT || l->pool >= TPU_POOL_COUNT)
			return diag_add(r->d, ST_INTERNAL, "layer '%s': activation function %d or pooling %d "
			                   "is not one activate computes", l->name, (int)l->func, (int)l->pool);
		if ((st = need_q(r, l->in)))
			return st;
		st = ref_layer(r, l);
	}
	return st;
}

/* The index among t[0..n) of the tensor named name, or -1. */
static int by_name(const TpuPlan *p, const int *t, int n, const char *name)
{
	for (int i = 0; name && i < n; i++)
		if (strcmp(p->t[t[i]].name, name) == 0)
			return t[i];
	return -1;
}

/* Whether buffer b has the element type and shape of v. */
static bool fits(const LoopBuf *b, const Value *v)
{
	if (b->dt != v->dt || b->rank != v->rank)
		return false;
	for (int i = 0; i < b->rank; i++)
		if (b->dims[i] != v->dims[i])
			return false;
	return true;
}

static Status misfit(Run *r, const TpuLayer *l, const LoopBuf *b)
{
	const TpuTensor *t = NULL;
	char want[128];

	for (int i = 0; i < r->p->nt && !t; i++)
		if (b->tensor && strcmp(r->p->t[i].name, b->tensor) == 0)
			t = &r->p->t[i];
	return diag_add(r->d, ST_INVALID, "%s: host step '%s': buffer '%s' does not have the type of tensor "
	                "'%s', %s", l->host->path, l->name, b->name, b->tensor ? b->tensor : "?",
	                t ? val_type_str(&t->type, want, sizeof(want)) : "?");
}

/* A host step: its loop program on the loop interpreter, its inputs and
 * outputs matched to the plan's tensors by name. */
static Status host_segment(Run *r, const TpuLayer *l)
{
	LoopProgram *lp = l->host;
	int nin = loop_count_inputs(lp), nout = loop_count_outputs(lp);
	Value *in = arena_alloc(&r->a, (size_t)(nin + 1) * sizeof(Value));
	Value *out = arena_alloc(&r->a, (size_t)(nout + 1) * sizeof(Value));
	Status st;

	if (!in || !out)
		return oom(r);
	for (int i = 0; i < nin; i++) {
		const LoopBuf *b = &lp->bufs[loop_input_buf(lp, i)];
		int ti = by_name(r->p, l->ins, l->nins, b->tensor);
		if (ti < 0)
			return diag_add(r->d, ST_INVALID, "%s: host step '%s': its program reads tensor '%s', which "
			                "the step does not take", lp->path, l->name, b->tensor ? b->tensor : b->name);
		if (!fits(b, &r->p->t[ti].type))
			return misfit(r, l, b);
		if ((st = need_f(r, ti)))
			return st;
		in[i] = r->f[ti];
	}
	lp->diag = r->d;
	if ((st = loop_run(lp, &r->a, in, out)))
		return st;
	for (int i = 0; i < nout; i++) {
		const LoopBuf *b = &lp->bufs[loop_output_buf(lp, i)];
		int ti = by_name(r->p, l->outs, l->nouts, b->tensor);
		if (ti < 0)
			return diag_add(r->d, ST_INVALID, "%s: host step '%s': its program writes tensor '%s', which "
			                "the step does not give", lp->path, l->name, b->tensor ? b->tensor : b->name);
		if (!fits(b, &r->p->t[ti].type))
			return misfit(r, l, b);
		r->f[ti] = out[i];
		r->x->q[ti] = NULL;
	}
	return ST_OK;
}

static Status run_plan(Run *r, TpuEngine engine, const Value *inputs, Value *outputs, Arena *out)
{
	const TpuPlan *p = r->p;
	Status st = ST_OK;

	for (int i = 0; i < p->ngraph_in; i++)
		r->f[p->graph_in[i]] = inputs[i];
	for (int sg = 0; sg < p->nseg && st == ST_OK; sg++) {
		const TpuSegment *s = &p->seg[sg];
		if (s->host)
			st = host_segment(r, &p->l[s->layer]);
		else if (engine == TPU_ENGINE_SIM)
			st = sim_segment(r, s);
		else
			st = ref_segment(r, sg);
	}
	for (int i = 0; i < p->ngraph_out && st == ST_OK; i++) {
		int ti = p->graph_out[i];
		if ((st = need_f(r, ti)))
			break;
		outputs[i] = r->f[ti];
		outputs[i].data = arena_alloc(out, (size_t)val_bytes(&outputs[i]) + 1);
		if (!outputs[i].data)
			st = oom(r);
		else
			memcpy(outputs[i].data, r->f[ti].data, (size_t)val_bytes(&outputs[i]));
	}
	return st;
}

Status tpu_exec_run(TpuExec *x, const TpuPlan *p, TpuEngine engine, const Value *inputs,
                    Value *outputs, Arena *out_arena, Diag *d)
{
	Run r = {x, p, d, {0}, NULL, NULL, 0};
	Status st;

	arena_init(&r.a);
	tpu_exec_free(x);
	x->q = nnac_calloc((size_t)p->nt + 1, sizeof(void *));
	x->nq = x->q ? p->nt : 0;
	r.f = nnac_calloc((size_t)p->nt + 1, sizeof(Value));
	if (engine == TPU_ENGINE_SIM)
		r.host = nnac_calloc(p->host_bytes + 1, 1);
	if (!x->q || !r.f || (engine == TPU_ENGINE_SIM && !r.host)) {
		nnac_free(r.f);
		nnac_free(r.host);
		return oom(&r);
	}
	st = run_plan(&r, engine, inputs, outputs, out_arena);
	/* keep the quantized forms for the caller: move them out of the run's arena */
	for (int i = 0; i < p->nt; i++) {
		void *q = x->q[i];
		x->q[i] = NULL;
		if (q && st == ST_OK && p->t[i].matrix) {
			size_t n = (size_t)(numel(&p->t[i]) * esz(&r));
			x->q[i] = nnac_malloc(n + 1);
			if (!x->q[i])
				st = oom(&r);
			else
				memcpy(x->q[i], q, n);
		}
	}
	nnac_free(r.f);
	nnac_free(r.host);
	arena_free(&r.a);
	return st;
}

void tpu_exec_free(TpuExec *x)
{
	for (int i = 0; i < x->nq; i++)
		nnac_free(x->q[i]);
	nnac_free(x->q);
	nnac_free(x->trace);
	x->q = NULL;
	x->nq = 0;
	x->trace = NULL;
	x->ntrace = 0;
	memset(&x->counters, 0, sizeof(x->counters));
}
