/*
 * Post-training calibration (passes/calib.h): the range collector, which
 * watches the reference interpreter through its observer hook, seeded
 * synthetic samples (real ones are read by frontend/tensor/samples.c), and the
 * scale and accuracy helpers the int8 code generator uses.
 *
 * The collector keeps, per observed tensor, min and max in CalibRanges and,
 * for CALIB_PERCENTILE, a histogram of |x| over [0, range] whose range only
 * grows by doubling, so that merging bins pairwise keeps every count in the
 * bin it would have had (calib.h states the accuracy).  Histograms live in
 * nnac_malloc'd memory for the duration of calib_collect only.
 */
#include "calib.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "interp.h"

/* Range collection. */

typedef struct Hist {
	uint64_t *bins;      /* [CALIB_BINS] counts of |x| in [b, b + 1) * range / CALIB_BINS */
	double range;        /* upper edge of the last bin (inclusive); 0: only zeros so far */
} Hist;

typedef struct Collector {
	Graph *g;
	CalibRanges *r;
	Hist *hist;          /* [n] for CALIB_PERCENTILE, else NULL */
	double *maxabs;      /* [n] max |x| seen */
	bool oom;
} Collector;

static double elem(const Value *v, int64_t i)
{
	return v->dt == DT_F32 ? (double)((const float *)v->data)[i] : val_get_f64(v, i);
}

/* Doubles h->range until it covers m, folding bin pairs 2j, 2j+1 into j. */
static void hist_grow(Hist *h, double m)
{
	if (h->range == 0) {
		h->range = m;
		return;
	}
	while (h->range < m) {
		for (int j = 0; j < CALIB_BINS / 2; j++)
			h->bins[j] = h->bins[2 * j] + h->bins[2 * j + 1];
		memset(h->bins + CALIB_BINS / 2, 0, CALIB_BINS / 2 * sizeof(uint64_t));
		h->range *= 2;
	}
}

static void hist_add(Collector *c, int t, const Value *v, double batch_max)
{
	Hist *h = &c->hist[t];
	int64_t n = val_numel(v);

	if (!h->bins) {
		h->bins = nnac_malloc(CALIB_BINS * sizeof(uint64_t));
		if (!h->bins) {
			c->oom = true;
			return;
		}
		memset(h->bins, 0, CALIB_BINS * sizeof(uint64_t));
	}
	if (batch_max > h->range)
		hist_grow(h, batch_max);
	for (int64_t i = 0; i < n; i++) {
		double a = fabs(elem(v, i));
		size_t b;

		if (!isfinite(a))
			continue;
		b = h->range > 0 ? (size_t)(a / h->range * CALIB_BINS) : 0;
		h->bins[b < CALIB_BINS ? b : CALIB_BINS - 1]++;
	}
}

/* The InterpObserver: min, max and max |x| of v's finite elements. */
static void observe(void *cx, int t, const Value *v)
{
	Collector *c = cx;
	CalibRanges *r = c->r;
	int64_t n = val_numel(v), seen = 0;
	double lo = INFINITY, hi = -INFINITY;

	if (c->oom || !v->data)
		return;
	for (int64_t i = 0; i < n; i++) {
		double x = elem(v, i);

		if (!isfinite(x))
			continue;
		lo = x < lo ? x : lo;
		hi = x > hi ? x : hi;
		seen++;
	}
	if (seen == 0)
		return;
	if (r->count[t] == 0 || (float)lo < r->lo[t])
		r->lo[t] = (float)lo;
	if (r->count[t] == 0 || (float)hi > r->hi[t])
		r->hi[t] = (float)hi;
	r->count[t] += seen;
	if (fmax(-lo, hi) > c->maxabs[t])
		c->maxabs[t] = fmax(-lo, hi);
	if (c->hist)
		hist_add(c, t, v, fmax(-lo, hi));
}

/* k = ceil(p * n / 100) in [1, n]; a product within a few roundings of an
 * integer (99.9 * 41000 / 100 is 40959.00000000001 in double) is that
 * integer. */
static uint64_t nearest_rank(double p, uint64_t n)
{
	double x = p * (double)n / 100.0, r = nearbyint(x);
	uint64_t k;

	if (fabs(x - r) <= 8 * DBL_EPSILON * x)
		x = r;
	k = (uint64_t)ceil(x);
	return k < 1 ? 1 : k > n ? n : k;
}

/* The nearest-rank percentile p of the |x| counted in h, capped at maxabs. */
static double hist_percentile(const Hist *h, double p, double maxabs)
{
	uint64_t total = 0, k, cum = 0;
	int b = 0;

	if (!h->bins)
		return 0;
	for (int j = 0; j < CALIB_BINS; j++)
		total += h->bins[j];
	if (total == 0)
		return 0;
	k = nearest_rank(p, total);
	while (cum + h->bins[b] < k)
		cum += h->bins[b++];
	return fmin((double)(b + 1) * h->range / CALIB_BINS, maxabs);
}

static bool ranges_alloc(CalibRanges *r, int n)
{
	size_t fl = (size_t)(n + 1) * sizeof(float);

	r->n = n;
	r->lo = nnac_malloc(fl);
	r->hi = nnac_malloc(fl);
	r->absmax = nnac_malloc(fl);
	r->count = nnac_malloc((size_t)(n + 1) * sizeof(int64_t));
	if (!r->lo || !r->hi || !r->absmax || !r->count)
		return false;
	memset(r->lo, 0, fl);
	memset(r->hi, 0, fl);
	memset(r->absmax, 0, fl);
	memset(r->count, 0, (size_t)(n + 1) * sizeof(int64_t));
	return true;
}

void calib_free(CalibRanges *r)
{
	nnac_free(r->lo);
	nnac_free(r->hi);
	nnac_free(r->absmax);
	nnac_free(r->count);
	memset(r, 0, sizeof(*r));
}

static bool collector_init(Collector *c, Graph *g, CalibRanges *r, CalibMethod m)
{
	size_t n = (size_t)g->ntensors + 1;

	memset(c, 0, sizeof(*c));
	c->g = g;
	c->r = r;
	c->maxabs = nnac_malloc(n * sizeof(double));
	if (c->maxabs)
		memset(c->maxabs, 0, n * sizeof(double));
	if (m == CALIB_PERCENTILE) {
		c->hist = nnac_malloc(n * sizeof(Hist));
		if (c->hist)
			memset(c->hist, 0, n * sizeof(Hist));
	}
	return c->maxabs && (m != CALIB_PERCENTILE || c->hist);
}

static void collector_free(Collector *c)
{
	for (int t = 0; c->hist && t < c->g->ntensors; t++)
		nnac_free(c->hist[t].bins);
	nnac_free(c->hist);
	nnac_free(c->maxabs);
}

static Status run_samples(Collector *c, const Value *samples, int nsamples)
{
	Graph *g = c->g;
	Value *out = nnac_malloc((size_t)(g->noutputs + 1) * sizeof(Value));
	Status st = out ? ST_OK : graph_oom(g);

	for (int i = 0; i < nsamples && st == ST_OK; i++) {
		Arena a;

		arena_init(&a);
		st = interp_run_observed(g, samples + (size_t)i * (size_t)g->ninputs, out, &a, observe, c);
		arena_free(&a);
		if (st == ST_OK && c->oom)
			st = graph_oom(g);
		else if (st != ST_OK)
			graph_error(g, st, "calibration sample %d of %d failed", i + 1, nsamples);
	}
	nnac_free(out);
	return st;
}

static void finish_ranges(Collector *c, CalibMethod m, double percentile)
{
	CalibRanges *r = c->r;

	for (int t = 0; t < r->n; t++) {
		if (m == CALIB_PERCENTILE)
			r->absmax[t] = (float)hist_percentile(&c->hist[t], percentile, c->maxabs[t]);
		else
			r->absmax[t] = (float)c->maxabs[t];
	}
}

Status calib_collect(Graph *g, const Value *samples, int nsamples, CalibMethod m,
                     double percentile, CalibRanges *out)
{
	Collector c;
	Status st;

	memset(out, 0, sizeof(*out));
	if (nsamples <= 0)
		return graph_error(g, ST_INVALID, "calibration needs at least one sample");
	if (m == CALIB_PERCENTILE && !(percentile > 0 && percentile <= 100))
		return graph_error(g, ST_INVALID, "calibration percentile %g is not in (0, 100]", percentile);
	memset(&c, 0, sizeof(c));
	c.g = g;
	if (!ranges_alloc(out, g->ntensors) || !collector_init(&c, g, out, m)) {
		collector_free(&c);
		calib_free(out);
		return graph_oom(g);
	}
	st = run_samples(&c, samples, nsamples);
	if (st == ST_OK)
		finish_ranges(&c, m, percentile);
	collector_free(&c);
	if (st != ST_OK)
		calib_free(out);
	return st;
}

/* Synthetic samples. */

/* splitmix64: every seed, including 0, gives a full-period sequence. */
static uint64_t next_random(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Significant bits of a floating type, so that k / 2^bits is exact in it
 * and stays below 1. */
static int unit_bits(DType dt)
{
	return dt == DT_F64 ? 53 : dt == DT_F16 ? 11 : dt == DT_BF16 ? 8 : 24;
}

static void fill_uniform(Value *v, uint64_t *s)
{
	int bits = unit_bits(v->dt);

	for (int64_t i = 0, n = val_numel(v); i < n; i++)
		val_set_f64(v, i, ldexp((double)(next_random(s) >> (64 - bits)), -bits));
}

Status calib_synthetic(Graph *g, uint64_t seed, int n, Arena *a, Value **samples)
{
	int k = g->ninputs;
	uint64_t s = seed;

	*samples = NULL;
	if (n <= 0)
		return graph_error(g, ST_INVALID, "calibration needs at least one sample");
	for (int i = 0; i < k; i++)
		if (!val_known(&g->tensors[g->inputs[i]].v))
			return graph_error(g, ST_INVALID, "input '%s' has an unknown dimension; bind it to make "
			                   "synthetic calibration data", g->tensors[g->inputs[i]].name);
	*samples = arena_alloc(a, ((size_t)n * (size_t)k + 1) * sizeof(Value));
	if (!*samples)
		return graph_oom(g);
	for (int j = 0; j < n * k; j++) {
		Value *v = &(*samples)[j];

		*v = g->tensors[g->inputs[j % k]].v;
		v->data = NULL;
		if (!val_alloc(a, v)) {
			*samples = NULL;
			return graph_oom(g);
		}
		if (dtype_is_float(v->dt))
			fill_uniform(v, &s);
	}
	return ST_OK;
}

/* Scales and accuracy. */

float calib_scale_sym(float lo, float hi)
{
	float m = fmaxf(fabsf(lo), fabsf(hi));

	return m > 0 && isfinite(m) ? m / 127.0f : 1.0f / 127.0f;
}

void calib_weight_scales(const float *w, int rank, const int64_t *dims, int axis, float *scales)
{
	int64_t outer = 1, inner = 1, nk = dims[axis];

	nnac_assert(axis >= 0 && axis < rank);
	for (int i = 0; i < axis; i++)
		outer *= dims[i];
	for (int i = axis + 1; i < rank; i++)
		inner *= dims[i];
	for (int64_t k = 0; k < nk; k++)
		scales[k] = 0;
	for (int64_t o = 0; o < outer; o++)
		for (int64_t k = 0; k < nk; k++)
			for (int64_t i = 0; i < inner; i++) {
				float a = fabsf(w[(o * nk + k) * inner + i]);
				if (isfinite(a) && a > scales[k])
					scales[k] = a;
			}
	for (int64_t k = 0; k < nk; k++)
		scales[k] = scales[k] > 0 ? scales[k] / 127.0f : 1.0f;
}

double calib_sqnr_db(const float *ref, const float *got, size_t n)
{
	double sig = 0, noise = 0;

	for (size_t i = 0; i < n; i++) {
		double d = (double)ref[i] - (double)got[i];
		sig += (double)ref[i] * (double)ref[i];
		noise += d * d;
	}
	return noise == 0 ? INFINITY : 10 * log10(sig / noise);
}

int calib_argmax(const float *x, size_t n)
{
	int best = -1;

	for (size_t i = 0; i < n; i++)
		if (!isnan(x[i]) && (best < 0 || x[i] > x[best]))
			best = (int)i;
	return best;
}
