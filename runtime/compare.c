/*
 * Tensor comparison with a stated tolerance.
 */
#include "compare.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static bool close_enough(double g, double w, double rtol, double atol)
{
	if (isnan(w) || isnan(g))
		return isnan(w) && isnan(g);
	if (isinf(w) || isinf(g))
		return g == w;
	return fabs(g - w) <= atol + rtol * fabs(w);
}

CompareResult compare_values(const Value *got, const Value *want, double rtol, double atol)
{
	CompareResult r = {true, 0, -1, ""};
	char a[128], b[128];
	int64_t n;

	if (got->dt != want->dt || !val_same_shape(got, want)) {
		r.ok = false;
		snprintf(r.why, sizeof(r.why), "got %s, expected %s", val_type_str(got, a, sizeof(a)),
		         val_type_str(want, b, sizeof(b)));
		return r;
	}
	n = val_numel(want);
	for (int64_t i = 0; i < n; i++) {
		bool ok;
		if (dtype_is_float(want->dt)) {
			double g = val_get_f64(got, i), w = val_get_f64(want, i);
			ok = close_enough(g, w, rtol, atol);
			if (!isnan(g) && !isnan(w) && !isinf(g) && !isinf(w) && fabs(g - w) > r.max_abs_err)
				r.max_abs_err = fabs(g - w);
		} else {
			ok = val_get_i64(got, i) == val_get_i64(want, i);
			if (!ok && r.max_abs_err < 1)
				r.max_abs_err = (double)llabs(val_get_i64(got, i) - val_get_i64(want, i));
		}
		if (!ok && r.first_bad < 0) {
			r.ok = false;
			r.first_bad = i;
			snprintf(r.why, sizeof(r.why), "element %lld: got %.9g, expected %.9g", (long long)i,
			         val_get_f64(got, i), val_get_f64(want, i));
		}
	}
	return r;
}

CompareResult compare_loop_values(const Value *got, const Value *want)
{
	double big = 0;

	if (dtype_is_float(want->dt))
		for (int64_t i = 0, n = val_numel(want); i < n; i++) {
			double w = fabs(val_get_f64(want, i));
			if (isfinite(w) && w > big)
				big = w;
		}
	return compare_values(got, want, CMP_RTOL, CMP_ATOL + CMP_LOOP_ATOL_REL * big);
}
