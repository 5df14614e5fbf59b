"""The cpu target's inline exp, erf and tanh (backends/cpu/cpu_math.c)
against NumPy and Python's math module in double, counted in units in
the last place of the result.

One model applies Exp, Erf and Tanh to an f32 input and Exp to the same
input cast to f64; it is compiled with `nnac compile --target cpu` and run
with `nnac run` on 400,001 evenly spaced values over [-110, 100] and the
values where the functions change regime: +-0, the smallest subnormal,
the ends of exp's range in both types (results that are subnormal or just
below overflow), the switch points of erf (|x| = 1 and 4) and of tanh
(|x| = 1e-4), +-inf and NaN.  The bounds:
  - f32 exp: at most 2 ulp (Taylor series to r^7 in f32 arithmetic);
  - f32 erf: at most 1.5 ulp (f32 arithmetic, the leading term x 2/sqrt(pi)
    added with the rest rounded once);
  - f32 tanh: at most 1 ulp (computed in double, rounded once);
  - f64 exp: at most 2 ulp of double;
and NaN exactly where the reference has NaN, infinities and zeros exactly
where it has them.  Below the smallest normal an ulp is the subnormal
spacing.

usage: python3 tests/test_cpu_math.py BUILD_DIR   (from the repository root)
"""
import math
import os
import shutil
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e import Report, nnac, outputs  # noqa: E402

OUTPUTS = [  # name, ONNX op, computed in f64, bound in ulp
    ("exp32", "Exp", False, 2.0),
    ("erf32", "Erf", False, 1.5),
    ("tanh32", "Tanh", False, 1.0),
    ("exp64", "Exp", True, 2.0),
]


def inputs():
    grid = np.linspace(-110.0, 100.0, 400001)
    tiny = np.finfo(np.float32).tiny
    edges = [0.0, -0.0, 1e-45, -1e-45, tiny, 1e-30, 1e-8, 1e-4, 0.99999994, 1.0, 1.0000001,
             3.9999998, 4.0, 4.0000005, 9.0, 88.72, 88.7228, 88.7229, 89.0, -87.33, -87.34, -100.0,
             -103.27, -103.28, -103.9, -104.0, -104.1, 709.78, 709.79, 710.0, -708.39, -744.0,
             -745.1, -745.2, -746.0, np.inf, -np.inf, np.nan]
    edges += [-v for v in edges if v == v and v != 0]
    return np.concatenate([grid, np.array(edges)]).astype(np.float32)


def make_model(path, n):
    nodes = [helper.make_node("Cast", ["x"], ["x64"], to=TensorProto.DOUBLE)]
    outs = []
    for name, op, f64, _ in OUTPUTS:
        nodes.append(helper.make_node(op, ["x64" if f64 else "x"], [name]))
        outs.append(helper.make_tensor_value_info(name, TensorProto.DOUBLE if f64 else TensorProto.FLOAT, [n]))
    g = helper.make_graph(nodes, "cpu_math", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [n])], outs)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)


def reference(name, x):
    xd = x.astype(np.float64)
    with np.errstate(over="ignore", under="ignore"):
        if name.startswith("exp"):
            return np.exp(xd)
        if name == "erf":
            return np.array([math.erf(v) if v == v else v for v in xd])
        return np.tanh(xd)


def ulp_error(got, want, dt):
    """|got - want| in ulp of want rounded to dt (want exact, in double or
    better); where that rounding is 0, infinite or NaN, 0 when got is the
    same and infinite otherwise."""
    fi = np.finfo(dt)
    with np.errstate(over="ignore", invalid="ignore"):
        w = want.astype(dt)
        spacing = np.maximum(np.abs(np.spacing(np.abs(w))), fi.smallest_subnormal)
        err = np.abs(got.astype(np.float64) - want) / spacing.astype(np.float64)
    special = ~np.isfinite(w) | ~np.isfinite(got) | (w == 0)
    err[special] = np.where((got[special] == w[special]) |
                            (np.isnan(got[special]) & np.isnan(w[special])), 0.0, np.inf)
    return err


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    rep = Report()
    tmp = tempfile.mkdtemp(prefix="nnac-math-")
    try:
        x = inputs()
        model, nnb, inp = (os.path.join(tmp, f) for f in ("math.onnx", "math.nnb", "x.npy"))
        make_model(model, x.size)
        np.save(inp, x)
        r = nnac(build, "compile", model, "--target", "cpu", "-o", nnb)
        rep.check(r.returncode == 0, "compile", r.stderr.strip())
        r = nnac(build, "run", nnb, "--input", "x=" + inp, "--output-dir", os.path.join(tmp, "out"))
        rep.check(r.returncode == 0, "run", r.stderr.strip())
        got = outputs(os.path.join(tmp, "out")) if r.returncode == 0 else {}
        for name, op, f64, bound in OUTPUTS:
            if name not in got:
                rep.check(False, name, "no output")
                continue
            want = reference(name[:-2] if op != "Exp" else "exp", x)
            err = ulp_error(got[name], want, np.float64 if f64 else np.float32)
            worst = int(np.argmax(err))
            rep.check(float(err[worst]) <= bound, "%s within %g ulp" % (name, bound),
                      "%.3g ulp at x = %r: got %r, want %r" % (err[worst], float(x[worst]),
                                                               float(got[name][worst]), float(want[worst])))
            print("%-7s max %.3f ulp, mean %.3f ulp over %d values" %
                  (name, float(np.max(err)), float(np.mean(err)), x.size))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("cpu-math: %d passed, %d failed" % (rep.passed, rep.failed))
    return 1 if rep.failed else 0


if __name__ == "__main__":
    sys.exit(main())
