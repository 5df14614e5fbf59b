/*
 * Post-training int8 calibration: activation ranges measured by running the
 * reference interpreter over sample inputs, the symmetric scales derived
 * from them and from weights, and the accuracy measures (SQNR, top-1) that
 * compare a quantized result with the fp32 one.
 *
 * Ranges are per graph tensor, indexed like g->tensors.  Only tensors the
 * interpreter computes are observed: graph inputs and the outputs of live
 * nodes (the output of a fused activation after the activation).  Constants
 * and the tensors of dead nodes are never seen and keep lo = hi = absmax =
 * 0 with count 0.  NaN and infinite elements are skipped; they count in no
 * statistic.
 *
 * Percentiles are of |x| and use the nearest-rank rule: over the N finite
 * elements a tensor held across all samples, the percentile p is the k-th
 * smallest |x| with k = ceil(p * N / 100), at least 1 (a product within
 * 8 ulps of an integer counts as that integer, so that rounding does not
 * push a decimal percentile such as 99.9 up a rank).  They come
 * from a histogram of CALIB_BINS bins over [0, R] per tensor.  R starts as
 * the first sample's max|x| and doubles, merging bins pairwise (which
 * loses nothing), whenever a later sample exceeds it; so R < 2 max|x|.
 * The value reported is the upper edge of the bin holding the k-th
 * element, capped at max|x|: it is never below the exact percentile and at
 * most one bin width, R / CALIB_BINS < max|x| / 1024, above it (up to the
 * rounding of one division at a bin edge).  Memory: CALIB_BINS counters
 * per observed tensor while collecting, none afterwards.
 */
#ifndef NNAC_CALIB_H
#define NNAC_CALIB_H

#include <stddef.h>
#include <stdint.h>

#include "graph.h"

enum { CALIB_BINS = 2048 };

typedef enum CalibMethod {
	CALIB_MINMAX,        /* absmax = max(|lo|, |hi|) */
	CALIB_PERCENTILE     /* absmax = the percentile of |x| (see above) */
} CalibMethod;

typedef struct CalibRanges {
	int n;               /* g->ntensors */
	float *lo, *hi;      /* [n] smallest and largest element seen */
	float *absmax;       /* [n] the clipping bound the method chose, >= 0 */
	int64_t *count;      /* [n] finite elements seen over all samples; 0: never seen */
} CalibRanges;

/*
 * Runs g (typed; optimized or not) on every sample, nsamples sets of
 * g->ninputs Values in input order (sample i is samples[i * g->ninputs ..]),
 * and fills out (allocated here; release it with calib_free).  On a
 * failure out is left empty, and calib_free on it does nothing.
 * percentile, in (0, 100], is read for CALIB_PERCENTILE only.
 * Errors (no samples, a bad percentile, a sample the interpreter rejects)
 * go to g->diag.
 */
Status calib_collect(Graph *g, const Value *samples, int nsamples, CalibMethod m,
                     double percentile, CalibRanges *out);
void calib_free(CalibRanges *r);

/*
 * n synthetic samples drawn from a generator seeded with seed (the same
 * seed gives the same samples): floating inputs uniform in [0, 1), as
 * normalized image data is; integer and bool inputs zero (they usually
 * carry indices or shapes, for which no random choice is safe).  Real data
 * should be preferred: these ranges say little about a trained model's
 * activations.  Every input dimension must be known.
 */
Status calib_synthetic(Graph *g, uint64_t seed, int n, Arena *a, Value **samples);

/* Symmetric int8 scale of a range: max(|lo|, |hi|) / 127; a zero (or
 * non-finite) range gives 1.0f / 127, as if the range were [-1, 1]. */
float calib_scale_sym(float lo, float hi);

/*
 * Per-output-channel symmetric scales of a weight tensor w (row-major,
 * dims[rank]) along axis (a conv's [K][C][R][S]: axis 0; a MatMul's [C][K]:
 * axis 1): scales[k] = max |w| over channel k / 127, for dims[axis]
 * channels; an all-zero channel gets 1.0f.  Non-finite weights are skipped.
 */
void calib_weight_scales(const float *w, int rank, const int64_t *dims, int axis, float *scales);

/* Signal-to-quantization-noise ratio of got against ref in dB:
 * 10 log10(sum ref^2 / sum (ref - got)^2), summed in double; +inf when
 * got equals ref (also for n == 0). */
double calib_sqnr_db(const float *ref, const float *got, size_t n);

/* Index of the largest of x[0..n) (the first on ties; NaN never wins), -1
 * when n == 0 or all are NaN.  For top-1 agreement over a [rows][cols]
 * result, call it on each row. */
int calib_argmax(const float *x, size_t n);

#endif
