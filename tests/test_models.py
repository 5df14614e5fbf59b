"""End-to-end test of nnac's reference interpreter on the real models in
../shared/models/ (see its README.md).

For every model: `nnac inspect` and `nnac check` exit 0 and inspect prints
its totals line.  Then `nnac run` is compared with
  - the shipped reference outputs (mnist_8, super_resolution_10, and the
    zoo_topologies outputs for the input arange(n)/n);
  - ONNX Runtime on a seeded random input (the models without reference
    data, and the zoo topologies with their constant weights replaced by
    seeded random ones, so the arithmetic is checked, not only the graph).
nnac's wall time per run is printed for information and never asserted.

usage: python3 tests/test_models.py BUILD_DIR   (from the repository root)
"""
import os
import re
import shutil
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import modelref  # noqa: E402

# ../shared next to the checkout, or $NNAC_SHARED (as tests/run_all.sh reads it).
MODELS = os.path.join(os.environ.get("NNAC_SHARED") or
                      os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared"),
                      "models")
SEED = 20240601

# Shipped references were made by other runtimes in fp32: elementwise
# np.allclose with these tolerances.
REF_RTOL = 1e-3
REF_ATOL = 1e-4
# Against ONNX Runtime on random data: the same rtol, and atol taken relative
# to the output's scale (max |ref|), so logits of any size and softmax
# probabilities (compared directly, never un-softmaxed) are judged alike.
ORT_RTOL = 1e-3
ORT_ATOL_REL = 1e-4

ORT_MODELS = ["burn_mnist/model.onnx", "winml_cifar10/model.onnx",
              "rten_mnist/model.onnx", "rten_mnist_external/mnist.onnx"]
ZOO = ["bvlc_alexnet", "densenet121", "inception_v1", "inception_v2", "resnet50",
       "shufflenet", "squeezenet", "vgg19", "zfnet512"]
ZOO_INPUT_SHAPE = (1, 3, 224, 224)


class Report:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, ok, name, detail):
        print("%s %s: %s" % ("ok  " if ok else "FAIL", name, detail), flush=True)
        if ok:
            self.passed += 1
        else:
            self.failed += 1


def model_path(rel):
    return os.path.normpath(os.path.join(MODELS, rel))


def check_tools(nnac, report, name, path):
    rc, out = nnac.tool("inspect", path)
    total = re.search(r"^total\s+(\d+)\s+(\d+)\s", out, re.M)
    report.check(rc == 0 and total is not None, name + " inspect",
                 "%s MACs" % total.group(2) if rc == 0 and total else
                 "exit %d, no totals line: %s" % (rc, out.strip()[-300:]))
    rc, out = nnac.tool("check", path)
    last = out.strip().splitlines()[-1] if out.strip() else ""
    report.check(rc == 0, name + " check", "exit %d: %s" % (rc, last))


def check_run(nnac, report, name, path, feeds, refs, rtol, atol_of):
    """Runs nnac on FEEDS and compares each output with REFS[output]."""
    try:
        outs, secs = nnac.run(path, feeds)
    except modelref.NnacError as e:
        report.check(False, name, "nnac run failed: %s" % e)
        return
    for out_name, ref in refs.items():
        ok, detail = modelref.compare(outs[out_name], ref, rtol, atol_of(ref))
        report.check(ok, name, "%s: %s; nnac %.2f s" % (out_name, detail, secs))


def shipped(ref):
    return REF_ATOL


def scaled(ref):
    return ORT_ATOL_REL * float(np.abs(ref).max())


def check_test_sets(nnac, report, folder, nsets):
    path = model_path(folder + "/model.onnx")
    (in_name, _), = modelref.graph_inputs(path)
    out_name, = modelref.graph_outputs(path)
    for k in range(nsets):
        data = model_path("%s/test_data_set_%d" % (folder, k))
        feeds = {in_name: modelref.read_pb(os.path.join(data, "input_0.pb"))}
        refs = {out_name: modelref.read_pb(os.path.join(data, "output_0.pb"))}
        check_run(nnac, report, "%s set %d" % (folder, k), path, feeds, refs, REF_RTOL, shipped)


def check_against_ort(nnac, report, name, path, rng):
    feeds = modelref.random_feeds(path, rng)
    check_run(nnac, report, name, path, feeds, modelref.ort_run(path, feeds), ORT_RTOL, scaled)


def check_zoo_shipped(nnac, report, zoo):
    path = model_path("zoo_topologies/light_%s.onnx" % zoo)
    (in_name, _), = modelref.graph_inputs(path)
    out_name, = modelref.graph_outputs(path)
    n = int(np.prod(ZOO_INPUT_SHAPE))
    feeds = {in_name: (np.arange(n, dtype=np.float32) / n).reshape(ZOO_INPUT_SHAPE)}
    refs = {out_name: modelref.read_pb(model_path("zoo_topologies/light_%s_output_0.pb" % zoo))}
    check_run(nnac, report, "zoo %s shipped" % zoo, path, feeds, refs, REF_RTOL, shipped)


def check_zoo_random(nnac, report, zoo, tmp, rng):
    path = os.path.join(tmp, "random_%s.onnx" % zoo)
    modelref.randomize_weights(model_path("zoo_topologies/light_%s.onnx" % zoo), path,
                               int(rng.integers(1 << 31)))
    check_against_ort(nnac, report, "zoo %s random weights" % zoo, path, rng)
    os.remove(path)


def run_all(nnac, report, tmp):
    rng = np.random.default_rng(SEED)
    for rel in ["mnist_8/model.onnx", "super_resolution_10/model.onnx"] + ORT_MODELS:
        check_tools(nnac, report, os.path.dirname(rel), model_path(rel))
    for zoo in ZOO:
        check_tools(nnac, report, "zoo " + zoo, model_path("zoo_topologies/light_%s.onnx" % zoo))
    check_test_sets(nnac, report, "mnist_8", 3)
    check_test_sets(nnac, report, "super_resolution_10", 1)
    for rel in ORT_MODELS:
        check_against_ort(nnac, report, os.path.dirname(rel), model_path(rel), rng)
    for zoo in ZOO:
        check_zoo_shipped(nnac, report, zoo)
        check_zoo_random(nnac, report, zoo, tmp, rng)


def main(argv):
    if len(argv) != 2:
        sys.exit("usage: python3 tests/test_models.py BUILD_DIR")
    binary = os.path.join(argv[1], "nnac")
    if not os.access(binary, os.X_OK):
        sys.exit("%s: no nnac binary there; build first" % binary)
    report = Report()
    tmp = tempfile.mkdtemp(prefix="nnac-models-")
    try:
        run_all(modelref.Nnac(binary, tmp), report, tmp)
    finally:
        shutil.rmtree(tmp)
    print("models: %d passed, %d failed" % (report.passed, report.failed))
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
