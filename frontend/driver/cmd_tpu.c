/*
 * The TPU target in the driver:
 *
 *   nnac compile MODEL.onnx --target tpu [--arch A] [--precision int8|bf16]
 *                [--calibrate DIR] [--calib-method minmax|percentile] -o M.nnb
 *   nnac run M.nnb --input NAME=FILE... [--output-dir DIR]
 *   nnac trace M.nnb [--input ...] [--format text|chrome] [--summary] [-o FILE]
 *
 * compile calibrates (int8), selects and quantizes the layers, emits the
 * program, then runs up to 16 calibration samples through the integer
 * reference and the first also through the simulator: it reports per-layer
 * SQNR and top-1 agreement against fp32 over those samples, and refuses to
 * write a bundle whose simulated result differs from the reference.  run and trace load the bundle's
 * model again (the host steps run its nodes) and execute the program on
 * the simulator.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch_lang.h"
#include "calib.h"
#include "samples.h"
#include "cli.h"
#include "interp.h"
#include "passes.h"
#include "tpu.h"
#include "tpu_bundle.h"
#include "tpu_exec.h"
#include "tpu_trace.h"

enum { SYNTHETIC_SAMPLES = 8, MAX_CHECKED = 16, MAX_META = MAX_BINDINGS + 8 };
static const double PERCENTILE = 99.99;

/* ---- compile ---- */

static int parse_precision(Cli *cli, int *precision)
{
	if (!cli->precision || strcmp(cli->precision, "int8") == 0)
		*precision = TPU_INT8;
	else if (strcmp(cli->precision, "bf16") == 0)
		*precision = TPU_BF16;
	else {
		fprintf(stderr, "nnac compile: --precision '%s': expected int8 or bf16\n", cli->precision);
		return EXIT_USAGE;
	}
	if (cli->calib_method && strcmp(cli->calib_method, "minmax") != 0 &&
	    strcmp(cli->calib_method, "percentile") != 0) {
		fprintf(stderr, "nnac compile: --calib-method '%s': expected minmax or percentile\n",
		        cli->calib_method);
		return EXIT_USAGE;
	}
	if (*precision == TPU_BF16 && (cli->calibrate || cli->calib_method)) {
		fprintf(stderr, "nnac compile: --calibrate and --calib-method are for --precision int8\n");
		return EXIT_USAGE;
	}
	if (!cli->output) {
		fprintf(stderr, "nnac compile: --target tpu writes a bundle: give -o FILE.nnb\n");
		return EXIT_USAGE;
	}
	return 0;
}

/* Calibration samples: --calibrate DIR, or seeded synthetic ones (bf16
 * needs none but the one compile checks the program on). */
static Status samples(Cli *cli, Graph *g, int precision, Arena *a, Value **s, int *n)
{
	if (cli->calibrate)
		return samples_load_dir(g, cli->calibrate, a, s, n);
	if (precision == TPU_BF16) {
		*n = 1;
		return calib_synthetic(g, 1, 1, a, s);
	}
	fprintf(stderr, "compile: warning: no --calibrate DIR; calibrating on %d seeded synthetic "
	        "inputs (uniform in [0,1)); real sample inputs give better scales\n", SYNTHETIC_SAMPLES);
	*n = SYNTHETIC_SAMPLES;
	return calib_synthetic(g, 1, SYNTHETIC_SAMPLES, a, s);
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
		float *got = malloc((size_t)n * sizeof(float) + 1);
		if (!got)
			return graph_oom(g);
		for (int64_t j = 0; j < n; j++)
			got[j] = deq(p, t, ref->q[i], j);
		add_power(q, i, v->data, got, n);
		free(got);
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
		st = tpu_exec_run(&ref, p, g, TPU_ENGINE_REF, s, rout, &a);
	if (st == ST_OK)
		st = measure(p, g, &ref, f32, out, rout, q);
	if (st == ST_OK && sim)
		st = tpu_exec_run(&run, p, g, TPU_ENGINE_SIM, s, out, &a);
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

	q.signal = calloc((size_t)(p->nt + g->noutputs) + 1, sizeof(double));
	q.noise = calloc((size_t)(p->nt + g->noutputs) + 1, sizeof(double));
	if (!q.signal || !q.noise)
		st = graph_oom(g);
	for (int i = 0; i < n && st == ST_OK; i++)
		st = check_sample(p, g, s + (size_t)i * (size_t)g->ninputs, i == 0, &q);
	if (st == ST_OK)
		report(p, g, &q);
	free(q.signal);
	free(q.noise);
	return st;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

static Status write_bundle(Cli *cli, const TpuPlan *p, Graph *g, const char *arch, Arena *a)
{
	const char *meta[MAX_META];
	int nmeta = 0;
	uint8_t *model = NULL;
	size_t len = 0;
	char *text;
	Status st = nnac_read_file(&cli->diag, cli->model, &text, &len);

	if (st)
		return st;
	model = (uint8_t *)text;
	meta[nmeta++] = "target=tpu";
	meta[nmeta++] = p->precision == TPU_BF16 ? "precision=bf16" : "precision=int8";
	char *m = arena_alloc(a, strlen(arch) + strlen(base_name(cli->model)) + 32);
	if (!m) {
		nnac_free(text);
		return graph_oom(g);
	}
	sprintf(m, "arch=%s", arch);
	meta[nmeta++] = m;
	m += strlen(m) + 1;
	sprintf(m, "model=%s", base_name(cli->model));
	meta[nmeta++] = m;
	for (int i = 0; i < g->ninputs && nmeta < MAX_META; i++) {
		const Value *v = &g->tensors[g->inputs[i]].v;
		char *b = arena_alloc(a, strlen(g->tensors[g->inputs[i]].name) + 32 + 21 * (size_t)v->rank);
		if (!b) {
			nnac_free(text);
			return graph_oom(g);
		}
		int n = sprintf(b, "input=%s=", g->tensors[g->inputs[i]].name);
		for (int d = 0; d < v->rank; d++)
			n += sprintf(b + n, "%s%lld", d ? "," : "", (long long)v->dims[d]);
		meta[nmeta++] = b;
	}
	TpuBundleInfo info = {meta, nmeta, model, len};
	st = tpu_bundle_write(p, g, &info, cli->output, &cli->diag);
	nnac_free(text);
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

static Status compile_plan(Cli *cli, Graph *g, const TpuConfig *cfg, int precision, TpuPlan *p, Arena *a,
                           Value **s, int *nsamples)
{
	CalibRanges ranges = {0};
	TpuOptions opt = {precision, NULL};
	int ns = 0;
	Status st = samples(cli, g, precision, a, s, &ns);

	*nsamples = ns;

	if (st == ST_OK && precision == TPU_INT8) {
		bool pct = cli->calib_method && strcmp(cli->calib_method, "percentile") == 0;
		st = calib_collect(g, *s, ns, pct ? CALIB_PERCENTILE : CALIB_MINMAX, PERCENTILE, &ranges);
		opt.absmax = ranges.absmax;
	}
	if (st == ST_OK)
		st = tpu_select(g, cfg, &opt, p);
	if (st == ST_OK)
		st = tpu_emit(g, p);
	calib_free(&ranges);
	return st;
}

int cmd_compile_tpu(Cli *cli)
{
	int precision, rc = parse_precision(cli, &precision);
	const char *arch_name;
	TpuConfig cfg = {0};
	TpuPlan p;
	Graph g;
	Arena a;
	Arch arch;
	Value *s = NULL;
	int ns = 0;
	Status st;

	if (rc)
		return rc;
	arch_name = cli->arch ? cli->arch : precision == TPU_BF16 ? "tpu-v2" : "tpu-v1";
	graph_init(&g, &cli->diag, cli->model);
	arena_init(&a);
	tpu_plan_init(&p);
	cfg.precision = precision;
	st = arch_load(&arch, &a, &cli->diag, arch_name);
	if (st == ST_OK)
		st = tpu_config_from_arch(&arch, arch.path, &cfg, &cli->diag);
	rc = st == ST_OK ? cli_load(cli, &g, true) : cli_fail(cli, st);
	if (rc == 0) {
		st = compile_plan(cli, &g, &cfg, precision, &p, &a, &s, &ns);
		if (st == ST_OK)
			print_plan(&p, &g);
		if (st == ST_OK)
			st = check_samples(&p, &g, s, ns);
		if (st == ST_OK)
			st = write_bundle(cli, &p, &g, arch.name, &a);
		rc = st == ST_OK ? 0 : cli_fail(cli, st);
	}
	tpu_plan_free(&p);
	arena_free(&a);
	graph_free(&g);
	return rc;
}

/* ---- run and trace ---- */

/* A bundle loaded and run: what run and trace share. */
typedef struct Loaded {
	Nnb *b;
	Graph g;
	TpuPlan p;
	ShapeBinding shapes[MAX_BINDINGS];
	char *meta_copy;
	Arena a;             /* inputs and outputs */
	TpuExec x;
	Value *out;          /* one per graph output */
} Loaded;

/* The input=NAME=DIMS lines of the META section as shape bindings. */
static Status bindings(Cli *cli, Loaded *l, OnnxOptions *oo)
{
	const NnbSection *m = nnb_find(l->b, NNB_META, NULL);
	char *line, *save;

	oo->shapes = l->shapes;
	oo->nshapes = 0;
	l->meta_copy = m ? malloc(m->size + 1) : NULL;
	if (!m)
		return ST_OK;
	if (!l->meta_copy)
		return diag_add(&cli->diag, ST_NOMEM, "out of memory");
	memcpy(l->meta_copy, m->data, m->size);
	l->meta_copy[m->size] = 0;
	for (line = strtok_r(l->meta_copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "input=", 6) != 0 || oo->nshapes == MAX_BINDINGS)
			continue;
		if (!onnx_parse_shape_binding(line + 6, &l->shapes[oo->nshapes], &cli->diag))
			return diag_add(&cli->diag, ST_INVALID, "%s: bad input line in the meta section", cli->model);
		oo->nshapes++;
	}
	return ST_OK;
}

static Status load_bundle(Cli *cli, Loaded *l)
{
	const NnbSection *model;
	const char *target;
	OnnxOptions oo;
	Status st = nnb_open(cli->model, &l->b, &cli->diag);

	if (st)
		return st;
	target = nnb_meta(l->b, "target");
	if (!target || strcmp(target, "tpu") != 0)
		return diag_add(&cli->diag, ST_UNSUPPORTED, "%s: bundle for target '%s'; this nnac runs tpu bundles",
		                cli->model, target ? target : "(none)");
	model = nnb_find(l->b, NNB_MODEL, NULL);
	if (!model)
		return diag_add(&cli->diag, ST_INVALID, "%s: the bundle carries no model section", cli->model);
	if ((st = bindings(cli, l, &oo)))
		return st;
	st = onnx_import_mem(&l->g, cli->model, model->data, model->size, &oo);
	if (st == ST_OK && cli_optimize(cli, &l->g, true) != 0)
		st = diag_worst(&cli->diag) ? diag_worst(&cli->diag) : ST_INVALID;
	if (st == ST_OK)
		st = tpu_bundle_read(l->b, &l->g, &l->p, &cli->diag);
	return st;
}

static void unload(Loaded *l)
{
	tpu_exec_free(&l->x);
	arena_free(&l->a);
	tpu_plan_free(&l->p);
	graph_free(&l->g);
	if (l->b)
		nnb_close(l->b);
	free(l->meta_copy);
}

/* Loads, binds the inputs and runs on the simulator; unload(l) after,
 * whatever the result. */
static Status run_sim(Cli *cli, Loaded *l, bool want_trace, bool random_ok)
{
	Graph *g = &l->g;
	Port *ins, *outs;
	Value *in;
	Status st;

	memset(l, 0, sizeof(*l));
	arena_init(&l->a);
	graph_init(&l->g, &cli->diag, cli->model);
	tpu_plan_init(&l->p);
	l->x.want_trace = want_trace;
	if ((st = load_bundle(cli, l)))
		return st;
	ins = cli_graph_ports(g, &l->a, g->inputs, g->ninputs);
	outs = cli_graph_ports(g, &l->a, g->outputs, g->noutputs);
	in = arena_alloc(&l->a, (size_t)(g->ninputs + 1) * sizeof(Value));
	l->out = arena_alloc(&l->a, (size_t)(g->noutputs + 1) * sizeof(Value));
	if (!ins || !outs || !in || !l->out)
		return graph_oom(g);
	if (random_ok && cli->ninputs == 0)
		fprintf(stderr, "trace: no --input given; running on seeded random inputs\n");
	if ((st = cli_bind_inputs(cli, ins, g->ninputs, &l->a, in, random_ok)))
		return st;
	st = tpu_exec_run(&l->x, &l->p, g, TPU_ENGINE_SIM, in, l->out, &l->a);
	if (st == ST_OK)
		st = cli_write_outputs(cli, outs, g->noutputs, l->out);
	return st;
}

int cmd_run_bundle(Cli *cli)
{
	Loaded l;
	Status st = run_sim(cli, &l, false, false);

	if (st == ST_OK) {
		for (int k = 0; k < l.g.noutputs; k++)
			cli_summarize(l.g.tensors[l.g.outputs[k]].name, &l.out[k]);
		tpu_counters_print(stdout, &l.x.counters);
	}
	unload(&l);
	return st == ST_OK ? 0 : cli_fail(cli, st);
}

typedef struct Traced {
	Cli *cli;
	const Loaded *l;
} Traced;

static Status write_trace(FILE *f, const void *cx)
{
	const Traced *t = cx;
	const Loaded *l = t->l;

	if (t->cli->summary) {
		tpu_counters_print(f, &l->x.counters);
		return ST_OK;
	}
	if (t->cli->format == FMT_CHROME)
		return tpu_trace_chrome(f, l->p.prog, l->x.trace, l->x.ntrace, l->p.cfg.clock_hz,
		                        &t->cli->diag);
	tpu_trace_text(f, l->p.prog, l->x.trace, l->x.ntrace);
	return ST_OK;
}

int cmd_trace(Cli *cli)
{
	Loaded l;
	Status st;

	if (cli->format != FMT_TEXT && cli->format != FMT_CHROME) {
		fprintf(stderr, "nnac trace: --format: expected text or chrome\n");
		return EXIT_USAGE;
	}
	st = run_sim(cli, &l, !cli->summary, true);
	if (st == ST_OK)
		st = cli_write_output(cli, write_trace, &(Traced){cli, &l});
	unload(&l);
	return st == ST_OK ? 0 : cli_fail(cli, st);
}
