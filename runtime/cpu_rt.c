/*
 * The runtime helpers of the CPU backend's generated code.
 *
 * Shared objects from cpu_compile call these for the elementwise ops they
 * do not inline (none of today's: an op added to ir/ops.def later), with
 * the loop interpreter's semantics (the shared scalar functions of
 * ir/scalar.h).  The objects leave the symbols undefined: the
 * executable that loads them links nnac_core and exports its symbols
 * (-rdynamic), and runtime/cpu_so.c refers to every helper so that the
 * static library's member holding them is linked in.
 */
#include "cpu_abi.h"
#include "loop.h"
#include "scalar.h"

double nnac_rt_apply_f64(int op, double alpha, double beta, double gamma, const double *x)
{
	return scalar_f64((OpKind)op, alpha, beta, gamma, x);
}

/* The integer forms that read an attribute (Mod's fmod, BitShift's
 * direction) are inlined by backends/cpu: this helper has none to pass. */
int64_t nnac_rt_apply_i64(int op, int uns, const int64_t *x)
{
	double alpha, beta, gamma;
	int64_t y = 0;

	loop_apply_defaults((OpKind)op, &alpha, &beta, &gamma);
	if (!scalar_i64((OpKind)op, alpha, beta, gamma, uns != 0, x, &y))
		nnac_unreachable();
	return y;
}
