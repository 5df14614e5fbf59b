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
#include "scalar.h"

double nnac_rt_apply_f64(int op, double alpha, double beta, double gamma, const double *x)
{
	return scalar_f64((OpKind)op, alpha, beta, gamma, x);
}

int64_t nnac_rt_apply_i64(int op, int uns, const int64_t *x)
{
	int64_t y = 0;

	if (!scalar_i64((OpKind)op, uns != 0, x, &y))
		nnac_unreachable();
	return y;
}
