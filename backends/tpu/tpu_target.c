/*
 * The tpu target (target.h): a TPU-v1-style machine (docs/tpu.md).
 *
 *   nnac compile MODEL.onnx --target tpu [--arch A] [--precision int8|bf16]
 *                [--calibrate DIR] [--calib-method minmax|percentile] -o M.nnb
 *
 * compile calibrates (int8), selects and quantizes the layers, emits the
 * program, then runs up to 16 samples (--calibrate's, else seeded synthetic
 * ones) through the integer reference and the first also through the
 * simulator: it reports per-layer SQNR and top-1 agreement against fp32
 * over those samples, and refuses to write a bundle whose simulated result
 * differs from the reference.  Host steps are lowered to loop IR, which
 * the bundle carries, so running it needs neither the model nor the
 * graph passes.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calib.h"
#include "interp.h"
#include "target.h"
#include "tpu.h"
#include "tpu_bundle.h"
#include "tpu_exec.h"

enum { SYNTHETIC_SAMPLES = 8, MAX_CHECKED = 16 };
static const double PERCENTILE = 99.99;

enum { OPT_PRECISION, OPT_CALIB_METHOD };

static const TargetOption options[] = {
	[OPT_PRECISION] = {"--precision", "int8|bf16",
	                   "int8 weights and activations, int32 sums (TPU v1), or bf16 with f32 sums "
	                   "(TPU v2); default int8"},
	[OPT_CALIB_METHOD] = {"--calib-method", "minmax|percentile",
	                      "int8 activation ranges: the largest |x| seen, or its 99.99th percentile; "
	                      "default minmax"},
	{NULL, NULL, NULL},
};

/* What prepare derives from the options and the arch. */
typedef struct TpuJob {
	TpuConfig cfg;
	int precision;           /* TPU_INT8 or TPU_BF16 */
	bool percentile;
} TpuJob;

static bool is_bf16(const TargetJob *job)
{
	return job->opt[OPT_PRECISION] && strcmp(job->opt[OPT_PRECISION], "bf16") == 0;
}

static const char *default_arch(const TargetJob *job)
{
	return is_bf16(job) ? "tpu-v2" : "tpu-v1";
}

static Status prepare(TargetJob *job)
{
	const char *prec = job->opt[OPT_PRECISION], *method = job->opt[OPT_CALIB_METHOD];
	TpuJob *tj = arena_alloc(job->arena, sizeof(*tj));

	if (!tj)
		return diag_add(job->diag, ST_NOMEM, "out of memory");
	job->state = tj;
	if (prec && strcmp(prec, "int8") != 0 && strcmp(prec, "bf16") != 0)
		return diag_add(job->diag, ST_INVALID, "nnac compile: --precision '%s': expected int8 or bf16",
		                prec);
	tj->precision = is_bf16(job) ? TPU_BF16 : TPU_INT8;
	if (method && strcmp(method, "minmax") != 0 && strcmp(method, "percentile") != 0)
		return diag_add(job->diag, ST_INVALID,
		                "nnac compile: --calib-method '%s': expected minmax or percentile", method);
	if (method && tj->precision == TPU_BF16)
		return diag_add(job->diag, ST_INVALID, "nnac compile: --calib-method is for --precision int8");
	tj->percentile = method && strcmp(method, "percentile") == 0;
	tj->cfg.precision = tj->precision;
	return tpu_config_from_arch(job->arch, job->arch->path, &tj->cfg, job->diag);
}

/* The samples: --calibrate's, or seeded synthetic ones (bf16 needs none
 * but the one compile checks the program on). */
static Status samples(TargetJob *job, int precision, const Value **s, int *n)
{
	Value *syn = NULL;
	Status st;

	if (job->samples) {
		*s = job->samples;
		*n = job->nsamples;
		return ST_OK;
	}
	*n = precision == TPU_BF16 ? 1 : SYNTHETIC_SAMPLES;
	if (precision == TPU_INT8)
		fprintf(stderr, "compile: warning: no --calibrate DIR; calibrating on %d seeded synthetic "
		        "inputs (uniform in [0,1)); real sample inputs give better scales\n", SYNTHETIC_SAMPLES);
	st = calib_synthetic(job->g, 1, *n, job->arena, &syn);
	*s = syn;
	return st;
}

/* The fp32 value of every tensor on one sample. */
typedef struct Capture {
	Value *v;
	Arena *a;
	bool oom;
} Capture;

static void capture(void *cx, int t, const Value *v)
{
	Capture *c = cx;
	c->v[t] = *v;
	c->v[t].data = arena_alloc(c->a, (size_t)val_bytes(v) + 1);
	if (!c->v[t].data)
		c->oom = true;
	else
		memcpy(c->v[t].data, v->data, (size_t)val_bytes(v));
}

static float deq(const TpuPlan *p, const TpuTensor *t, const void *q, int64_t i)
{
	return p->precision == TPU_BF16 ? bf16_to_f32(((const uint16_t *)q)[i])
	                                : ((const int8_t *)q)[i] * t->scale;
}

/* Signal and noise power per TpuTensor and per graph output, and top-1
 * agreements, summed over the samples checked. */
typedef struct Quality {
	double *signal, *noise;      /* [nt + noutputs] */
	int64_t agree, rows;
	int samples;
} Quality;

static void add_power(Quality *q, int i, const float *ref, const float *got, int64_t n)
{
	for (int64_t j = 0; j < n; j++) {
		double e = (double)ref[j] - got[j];
		q->signal[i] += (double)ref[j] * ref[j];
		q->noise[i] += e * e;
	}
}

/* One sample's reference run against fp32 into q. */
static Status measure(const TpuPlan *p, Graph *g, const TpuExec *ref, const Value *f32, const Value *out,
                      const Value *ref_out, Quality *q)
{
	for (int i = 0; i < p->nt; i++) {
		const TpuTensor *t = &p->t[i];
		const Value *v = &f32[t->gt];
		int64_t n = val_numel(v);
		if (!t->matrix || !ref->q[i] || !v->data)
			continue;
		float *got = nnac_malloc((size_t)n * sizeof(float) + 1);
		if (!got)
			return graph_oom(g);
		for (int64_t j = 0; j < n; j++)
			got[j] = deq(p, t, ref->q[i], j);
		add_power(q, i, v->data, got, n);
		nnac_free(got);
	}
	for (int k = 0; k < g->noutputs; k++) {
		const Value *a = &out[k], *b = &ref_out[k];
		int64_t n = val_numel(a), cols = a->rank ? a->dims[a->rank - 1] : 1;
		add_power(q, p->nt + k, a->data, b->data, n);
		for (int64_t r = 0; cols > 0 && r < n / cols; r++, q->rows++)
			q->agree += calib_argmax((float *)a->data + r * cols, (size_t)cols) ==
			            calib_argmax((float *)b->data + r * cols, (size_t)cols);
	}
	q->samples++;
	return ST_OK;
}

static double sqnr_db(double signal, double noise)
{
	return noise == 0 ? INFINITY : 10 * log10(signal / noise);
}

static void report(const TpuPlan *p, Graph *g, const Quality *q)
{
	fprintf(stderr, "SQNR against fp32 over %d sample%s:\n%-28s %12s\n", q->samples,
	        q->samples == 1 ? "" : "s", "layer", "SQNR dB");
	for (int i = 0; i < p->nl; i++) {
		const TpuLayer *l = &p->l[i];
		if (l->kind == TPU_LAYER_MATRIX)
			fprintf(stderr, "%-28s %12.2f\n", l->name, sqnr_db(q->signal[l->out], q->noise[l->out]));
	}
	for (int k = 0; k < g->noutputs; k++)
		fprintf(stderr, "output '%s': SQNR %.2f dB\n", g->tensors[g->outputs[k]].name,
		        sqnr_db(q->signal[p->nt + k], q->noise[p->nt + k]));
	fprintf(stderr, "top-1 agreement with fp32: %lld of %lld rows\n", (long long)q->agree,
	        (long long)q->rows);
}

/* Whether the simulator wrote exactly what the reference computed. */
static Status same_results(const TpuPlan *p, Graph *g, const TpuExec *sim, const TpuExec *ref, int *checked)
{
	*checked = 0;
	for (int i = 0; i < p->nt; i++) {
		const TpuTensor *t = &p->t[i];
		if (t->loc != TPU_LOC_HOST || !sim->q[i] || !ref->q[i])
			continue;
		size_t n = (size_t)(t->nimg * t->c * t->h * t->w * tpu_esize(p->precision));
		(*checked)++;
		if (memcmp(sim->q[i], ref->q[i], n) != 0)
			return graph_error(g, ST_INTERNAL, "tensor '%s': the simulated program differs from "
			                   "the integer reference", g->tensors[t->gt].name);
	}
	return ST_OK;
}

/* Sample s through fp32 and the reference (into q) and, when sim, the
 * simulator, which in int8 must match the reference bit for bit. */
static Status check_sample(const TpuPlan *p, Graph *g, const Value *s, bool sim, Quality *q)
{
	Arena a;
	Value *f32, *out, *rout;
	TpuExec ref = {0}, run = {0};
	Capture c;
	Status st;
	int checked = 0;

	arena_init(&a);
	f32 = arena_alloc(&a, (size_t)(g->ntensors + 1) * sizeof(Value));
	out = arena_alloc(&a, (size_t)(g->noutputs + 1) * sizeof(Value));
	rout = arena_alloc(&a, (size_t)(g->noutputs + 1) * sizeof(Value));
	c = (Capture){f32, &a, false};
	if (!f32 || !out || !rout) {
		arena_free(&a);
		return graph_oom(g);
	}
	memset(f32, 0, (size_t)(g->ntensors + 1) * sizeof(Value));
	st = interp_run_observed(g, s, out, &a, capture, &c);
	if (st == ST_OK && c.oom)
		st = graph_oom(g);
	if (st == ST_OK)
		st = tpu_exec_run(&ref, p, TPU_ENGINE_REF, s, rout, &a, g->diag);
	if (st == ST_OK)
		st = measure(p, g, &ref, f32, out, rout, q);
	if (st == ST_OK && sim)
		st = tpu_exec_run(&run, p, TPU_ENGINE_SIM, s, out, &a, g->diag);
	if (st == ST_OK && sim && p->precision == TPU_INT8 && (st = same_results(p, g, &run, &ref, &checked)) == ST_OK)
		fprintf(stderr, "compile: the simulator matches the integer reference bit for bit "
		        "(%d tensors in host memory)\n", checked);
	if (st == ST_OK && sim)
		fprintf(stderr, "compile: %llu simulated cycles, %.3f ms at %.0f MHz, %.2f TOPS of %.2f\n",
		        (unsigned long long)run.counters.cycles, run.counters.seconds * 1e3,
		        p->cfg.clock_hz / 1e6, run.counters.tops, run.counters.peak_tops);
	tpu_exec_free(&ref);
	tpu_exec_free(&run);
	arena_free(&a);
	return st;
}

/* The first MAX_CHECKED samples through the reference, the first through
 * the simulator too; the quality report. */
static Status check_samples(const TpuPlan *p, Graph *g, const Value *s, int ns)
{
	Quality q = {0};
	Status st = ST_OK;
	int n = ns < MAX_CHECKED ? ns : MAX_CHECKED;

	q.signal = nnac_calloc((size_t)(p->nt + g->noutputs) + 1, sizeof(double));
	q.noise = nnac_calloc((size_t)(p->nt + g->noutputs) + 1, sizeof(double));
	if (!q.signal || !q.noise)
		st = graph_oom(g);
	for (int i = 0; i < n && st == ST_OK; i++)
		st = check_sample(p, g, s + (size_t)i * (size_t)g->ninputs, i == 0, &q);
	if (st == ST_OK)
		report(p, g, &q);
	nnac_free(q.signal);
	nnac_free(q.noise);
	return st;
}

static void print_plan(const TpuPlan *p, Graph *g)
{
	int matrix = 0, host = 0;

	for (int i = 0; i < p->nl; i++)
		p->l[i].kind == TPU_LAYER_MATRIX ? matrix++ : host++;
	fprintf(stderr, "compile: %d matrix layers, %d host steps, %d segments, %u instructions, "
	        "%llu bytes of weight DRAM, %llu of host memory\n", matrix, host, p->nseg, p->nprog,
	        (unsigned long long)p->wdram_bytes, (unsigned long long)p->host_bytes);
	for (int i = 0; i < p->nl; i++)
		if (p->l[i].kind == TPU_LAYER_HOST)
			fprintf(stderr, "compile: host step '%s' (%s)\n", p->l[i].name,
			        op_name(g->nodes[p->l[i].nodes[0]].op));
}

static Status plan(TargetJob *job, const TpuJob *tj, TpuPlan *p, const Value *s, int ns)
{
	CalibRanges ranges = {0};
	TpuOptions opt = {tj->precision, NULL};
	Status st = ST_OK;

	if (tj->precision == TPU_INT8) {
		st = calib_collect(job->g, s, ns, tj->percentile ? CALIB_PERCENTILE : CALIB_MINMAX, PERCENTILE,
		                   &ranges);
		opt.absmax = ranges.absmax;
	}
	if (st == ST_OK)
		st = tpu_select(job->g, &tj->cfg, &opt, p);
	if (st == ST_OK)
		st = tpu_lower_host(job->g, p);
	if (st == ST_OK)
		st = tpu_emit(job->g, p);
	calib_free(&ranges);
	return st;
}

/* The plan's sections and its META line. */
static Status add_bundle(TargetJob *job, const TpuPlan *p)
{
	Status st = target_meta(job, "precision", p->precision == TPU_BF16 ? "bf16" : "int8");

	return st == ST_OK ? tpu_bundle_add(p, job->bundle, job->diag) : st;
}

static Status compile(TargetJob *job)
{
	const TpuJob *tj = job->state;
	const Value *s = NULL;
	int ns = 0;
	TpuPlan p;
	Status st;

	tpu_plan_init(&p);
	st = samples(job, tj->precision, &s, &ns);
	if (st == ST_OK)
		st = plan(job, tj, &p, s, ns);
	if (st == ST_OK)
		print_plan(&p, job->g);
	if (st == ST_OK)
		st = check_samples(&p, job->g, s, ns);
	if (st == ST_OK)
		st = add_bundle(job, &p);
	tpu_plan_free(&p);
	return st;
}

const Target target_tpu = {
	.name = "tpu",
	.description = "a TPU-v1-style systolic array (int8) or TPU v2 (bf16): CISC program for the cycle simulator",
	.stage = TARGET_GRAPH,
	.maps = false,
	.takes_samples = true,
	.options = options,
	.default_arch = default_arch,
	.prepare = prepare,
	.compile = compile,
};
