"""The erfc table of backends/cpu/cpu_math.c: a polynomial g(t) with
erfc(x) = exp(-x^2) * g(t), t = (x - 2.5) / 1.5, for 1 <= x <= 4, fitted
here by least squares on Chebyshev nodes against mpmath at 40 digits, and
printed as C literals (monomial coefficients in t, highest degree first,
for Horner's rule).  It also prints the largest relative error of g over
20,001 points, evaluated in double as the generated code does.

usage: python3 scripts/fit_erfc.py [DEGREE]     (default 12, the table's)
"""
import sys

import mpmath as mp
import numpy as np
from numpy.polynomial import chebyshev as cheb

LO, HI = 1.0, 4.0
mp.mp.dps = 40


def g(x):
    return float(mp.erfc(x) * mp.exp(x * x))


def main():
    deg = int(sys.argv[1]) if len(sys.argv) > 1 else 12
    nodes = np.cos(np.pi * (np.arange(2000) + 0.5) / 2000)
    coef = cheb.cheb2poly(cheb.chebfit(nodes, [g((t + 1) / 2 * (HI - LO) + LO) for t in nodes], deg))
    ts = np.linspace(-1.0, 1.0, 20001)
    got = np.zeros_like(ts)
    for c in coef[::-1]:
        got = got * ts + c
    want = np.array([g((t + 1) / 2 * (HI - LO) + LO) for t in ts])
    print("/* degree %d: max relative error %.2e */" % (deg, np.max(np.abs(got / want - 1))))
    print(",\n".join("\t%.17g" % c for c in coef[::-1]))


if __name__ == "__main__":
    main()
