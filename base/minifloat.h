/*
 * The 8- and 4-bit floating types of ONNX (IR 9 and later), stored one code
 * per byte: float8 e4m3fn, e4m3fnuz, e5m2, e5m2fnuz (OCP FP8 and the
 * GraphCore "fnuz" forms), float8 e8m0 (the scale of the microscaling
 * formats) and float4 e2m1.
 *
 *   type        bias  max     inf  NaN               -0
 *   e4m3fn        7   448     no   S.1111.111        yes
 *   e4m3fnuz      8   240     no   1.0000.000 only   no
 *   e5m2         15   57344   yes  S.11111.mm, mm>0  yes
 *   e5m2fnuz     16   57344   no   1.00000.00 only   no
 *   e2m1          1   6       no   none              yes
 *   e8m0        127   2^127   no   11111111          unsigned, no mantissa
 *
 * minifloat_encode rounds to nearest, ties to even; a value past the
 * largest finite one saturates to it (saturate) or becomes infinity where
 * the type has one and NaN otherwise (e2m1: saturates either way).  e8m0
 * takes a rounding mode instead (round_mode of ONNX's Cast).
 */
#ifndef NNAC_MINIFLOAT_H
#define NNAC_MINIFLOAT_H

#include <stdbool.h>
#include <stdint.h>

#include "value.h"

typedef enum MfRound { MF_ROUND_UP, MF_ROUND_DOWN, MF_ROUND_NEAREST } MfRound;

/* Whether dt is one of the types above. */
bool minifloat_is(DType dt);
double minifloat_decode(DType dt, uint8_t code);
uint8_t minifloat_encode(DType dt, double x, bool saturate);
/* e8m0 with a rounding mode (up: the default of ONNX's Cast). */
uint8_t minifloat_encode_e8m0(double x, MfRound mode, bool saturate);

#endif
