/*
 * What the loop lowering of the matrix products (passes/lower_matmul.c)
 * takes from the reference kernels (matmul.c) to stay on their numbers.
 */
#ifndef NNAC_MATMUL_H
#define NNAC_MATMUL_H

#include "op.h"

/* QLinearMatMul's multiplier a_scale * b_scale / y_scale: in f32
 * arithmetic when the scales' type dt is f32, else in double. */
double matmul_qlinear_multiplier(double as, double bs, double ys, DType dt);

#endif
