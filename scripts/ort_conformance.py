#!/usr/bin/env python3
"""ONNX Runtime on the ONNX node test cases, counted the way
tests/conformance.c counts nnac: a case passes when ORT loads the model and
every output of every data set matches the shipped one (floats within
rtol 1e-3, atol 1e-7, the ONNX backend-test defaults; NaN equal to NaN;
everything else exact); it fails otherwise (ORT refusing a model counts
as not passed, as it would for a user).  Prints one line:

    ort-conformance: P passed, N not passed of T (ONNX Runtime V)

usage: python3 scripts/ort_conformance.py NODE_FOLDER
"""
import glob
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper


def load_pb(path):
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def close(got, want):
    got = np.asarray(got)
    if got.shape != want.shape:
        return False
    if want.dtype.kind == "f" or got.dtype.kind == "f":
        g = got.astype(np.float64)
        w = want.astype(np.float64)
        with np.errstate(invalid="ignore"):
            return bool(np.all((np.abs(g - w) <= 1e-7 + 1e-3 * np.abs(w)) | (np.isnan(g) & np.isnan(w))
                               | (g == w)))
    return bool(np.array_equal(got, want))


def run_case(folder):
    opts = ort.SessionOptions()
    opts.log_severity_level = 4
    sess = ort.InferenceSession(os.path.join(folder, "model.onnx"), opts, providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    outs = [o.name for o in sess.get_outputs()]
    for ds in sorted(glob.glob(os.path.join(folder, "test_data_set_*"))):
        feed = {}
        for k, name in enumerate(names):
            p = os.path.join(ds, "input_%d.pb" % k)
            if os.path.exists(p):
                feed[name] = load_pb(p)
        got = sess.run(outs, feed)
        for k, g in enumerate(got):
            p = os.path.join(ds, "output_%d.pb" % k)
            if os.path.exists(p) and not close(g, load_pb(p)):
                return False
    return True


def main():
    root = sys.argv[1]
    cases = sorted(d for d in glob.glob(os.path.join(root, "test_*")) if os.path.isdir(d))
    passed = 0
    for c in cases:
        try:
            passed += run_case(c)
        except Exception:  # noqa: BLE001 -- a refusal is a case not passed
            pass
    print("ort-conformance: %d passed, %d not passed of %d (ONNX Runtime %s)"
          % (passed, len(cases) - passed, len(cases), ort.__version__))


if __name__ == "__main__":
    main()
