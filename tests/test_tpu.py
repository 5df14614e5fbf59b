"""End-to-end test of the TPU target.

For every bundled model and mnist_8, winml_cifar10, super_resolution_10,
in both numeric modes:
  - `nnac compile --target tpu` succeeds.  In int8 mode compile itself runs
    the first calibration sample through the simulator and the integer
    reference and exits 3 unless every tensor the program writes matches bit
    for bit; this test asserts it printed that it did.
  - `nnac run M.nnb` on the model's input is compared with the reference
    interpreter (`nnac run M.onnx`):
      int8: SQNR >= 20 dB on every output, and the same argmax on
            classifiers;
      bf16: SQNR >= 30 dB, every element within 2% of the output's largest
            magnitude, and the same argmax on classifiers.
    (bf16 keeps 8 significant bits: 2^-9 relative rounding per value, about
    59 dB per rounding; 30 dB and 2% leave room for a few layers of it,
    while a wrong operation order, such as an activation taken into a layer
    before its average pooling, misses both.)
Small models built here, compared with ONNX Runtime under the same floors:
  - every kind of matrix layer (MatMul + bias, Gemm + Relu, Gemm transB
    with alpha and beta, Flatten + Gemm, a Relu alone on a matrix, a
    two-layer MLP, Conv + Relu, a strided dilated Conv, Conv + Relu +
    MaxPool, Conv + AveragePool) at 1, 2, 3 and 8 rows or images;
  - Conv and Gemm with activations fused into them that activate has no
    function for (HardSigmoid, LeakyRelu, Clip, HardSwish), which must run
    as host steps after the layer, and a fused Relu, which must not.
  Each also checks the ops of the host steps compile lists.
The same again on tests/tpu/tiny.arch, an 8x8 array with 128 accumulator
rows and a 16 KiB unified buffer, where layers take several channel blocks
and bands and tensors spill through host memory.
Then, on one bundle: `nnac trace` text and --summary, and --format chrome,
whose JSON must parse and hold the four unit tracks; and bad bundles
(truncated, one byte changed, not a bundle, missing) must be refused with
exit 2 and a message naming the file, leaving no output file.

usage: python3 tests/test_tpu.py BUILD_DIR   (from the repository root)
"""
import collections
import json
import os
import re
import shutil
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from modelref import ort_run, read_pb  # noqa: E402
from e2e import MODELS, Report, nnac, outputs  # noqa: E402
import nnb  # noqa: E402

# A model to compile and run.  oracle: what the bundle's outputs are
# compared with, "interp" (`nnac run M.onnx`) or "ort" (ONNX Runtime).
# host_ops: when not None, the ops of the host steps compile must list
# (sorted), so that a layer the TPU should run is not quietly left to the
# host, nor the other way round.
Case = collections.namedtuple("Case", "name model iname inp shape classifier oracle host_ops",
                              defaults=("interp", None))

INT8_SQNR_DB = 20.0
BF16_SQNR_DB = 30.0
BF16_MAX_ERR = 0.02
TRACKS = {"host DMA", "weight FIFO", "matrix unit", "activation unit"}


def sqnr(ref, got):
    noise = float(np.sum((ref.astype(np.float64) - got) ** 2))
    signal = float(np.sum(ref.astype(np.float64) ** 2))
    return float("inf") if noise == 0 else 10 * np.log10(signal / noise)


def layer_kinds_model(path):
    """What the bundled models leave out: pooling and an activation alone on
    the array (identity weights), average pooling (and a Sigmoid after it,
    which activate cannot take into the same layer), Sigmoid and Tanh in
    activate, a Flatten read as an image by a Gemm with transB, alpha and
    beta, a strided and dilated padded convolution, and a MatMul + Add."""
    import onnx
    from onnx import helper, numpy_helper, TensorProto
    rng = np.random.RandomState(7)

    def const(name, shape):
        return numpy_helper.from_array((rng.randn(*shape) * 0.3).astype(np.float32), name)
    nodes = [
        helper.make_node("AveragePool", ["x"], ["p0"], kernel_shape=[2, 2], strides=[1, 1]),
        helper.make_node("Relu", ["p0"], ["p0r"]),
        helper.make_node("MaxPool", ["p0r"], ["p1"], kernel_shape=[2, 2], strides=[1, 1]),
        helper.make_node("Sigmoid", ["p1"], ["s1"]),
        helper.make_node("Conv", ["s1", "w1", "b1"], ["c1"], kernel_shape=[3, 3], strides=[2, 2],
                         dilations=[2, 2], pads=[2, 1, 2, 1]),
        helper.make_node("Tanh", ["c1"], ["t1"]),
        helper.make_node("AveragePool", ["t1"], ["a0"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Sigmoid", ["a0"], ["a1"]),
        helper.make_node("Flatten", ["a1"], ["f1"], axis=1),
        helper.make_node("Gemm", ["f1", "w2", "b2"], ["g1"], transB=1, alpha=0.5, beta=2.0),
        helper.make_node("MatMul", ["g1", "w3"], ["m1"]),
        helper.make_node("Add", ["m1", "b3"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "layer_kinds",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 18, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 7])],
        [const("w1", (20, 3, 3, 3)), const("b1", (20,)), const("w2", (12, 20 * 4 * 3)),
         const("b2", (12,)), const("w3", (12, 7)), const("b3", (7,))])
    graph.node[0].input[0] = "input"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)


def pool_act_model(path):
    """An average pooling then a Relu, as the whole model: activate cannot
    take the Relu into the pooling layer (it would average the Relu's
    results), and this output shows it at once."""
    import onnx
    from onnx import helper, TensorProto
    nodes = [helper.make_node("AveragePool", ["input"], ["a"], kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Relu", ["a"], ["y"])]
    graph = helper.make_graph(nodes, "pool_act",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 4, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 4, 4])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)


def save_model(path, nodes, inputs, inits, opset=13):
    """A one-output model (output 'y') of nodes; inputs: [(name, shape)]."""
    import onnx
    from onnx import helper, TensorProto
    graph = helper.make_graph(nodes, os.path.basename(path)[:-5],
                              [helper.make_tensor_value_info(n, TensorProto.FLOAT, d) for n, d in inputs],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]), path)


def weights(seed):
    from onnx import numpy_helper
    rng = np.random.RandomState(seed)
    return lambda name, *shape: numpy_helper.from_array((rng.randn(*shape) * 0.2).astype(np.float32), name)


# Every kind of matrix layer, at 1, 2, 3 and 8 rows (a matrix's M) or
# images (a convolution's N).  A matrix [M,C] is one image of 1 x M pixels
# whose data is [M][C], not NCHW: M = 1 hides a layout mix-up there, which
# gave -3 dB at M = 2 while the simulator and the integer reference agreed.
# 24 input and 20 output channels (10 and 12 for convolutions) take
# several channel blocks on tiny.arch.  Grouped and depthwise convolutions
# are host steps, not matrix layers, so they are not here.
ROWS = (1, 2, 3, 8)
MATRIX_KINDS = ("MatMul", "Gemm", "Gemm-transB", "Flatten-Gemm", "Relu-MatMul", "MLP", "Conv",
                "Conv-strided", "Conv-MaxPool", "Conv-AveragePool")


def matrix_kind_model(path, kind, rows):
    """(input shape, host step ops) of the model of one matrix layer kind."""
    from onnx import helper
    w = weights(31)
    node = helper.make_node
    c, k = 24, 20
    image = [rows, 10, 8, 7]
    conv_w = [w("cw", 12, 10, 3, 3), w("cb", 12)]
    table = {
        "MatMul": ([rows, c], [node("MatMul", ["x", "w"], ["m"]), node("Add", ["m", "b"], ["y"])],
                   [w("w", c, k), w("b", k)], []),
        "Gemm": ([rows, c], [node("Gemm", ["x", "w", "b"], ["g"]), node("Relu", ["g"], ["y"])],
                 [w("w", c, k), w("b", k)], []),
        "Gemm-transB": ([rows, c], [node("Gemm", ["x", "w", "b"], ["y"], transB=1, alpha=0.5, beta=2.0)],
                        [w("w", k, c), w("b", k)], []),
        # one image: the Flatten is read as the image; more: a host step
        "Flatten-Gemm": ([rows, 3, 4, 4], [node("Flatten", ["x"], ["f"]),
                                           node("Gemm", ["f", "w", "b"], ["y"], transB=1)],
                         [w("w", k, 48), w("b", k)], [] if rows == 1 else ["Flatten"]),
        # a Relu alone on a matrix: identity weights
        "Relu-MatMul": ([rows, c], [node("Relu", ["x"], ["r"]), node("MatMul", ["r", "w"], ["y"])],
                        [w("w", c, k)], []),
        "MLP": ([rows, c], [node("MatMul", ["x", "w1"], ["m"]), node("Add", ["m", "b1"], ["a"]),
                            node("Relu", ["a"], ["h"]), node("MatMul", ["h", "w2"], ["y"])],
                [w("w1", c, k), w("b1", k), w("w2", k, 10)], []),
        "Conv": (image, [node("Conv", ["x", "cw", "cb"], ["cv"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
                         node("Relu", ["cv"], ["y"])], conv_w, []),
        "Conv-strided": (image, [node("Conv", ["x", "cw", "cb"], ["y"], kernel_shape=[3, 3], strides=[2, 2],
                                      dilations=[2, 2], pads=[2, 1, 2, 1])], conv_w, []),
        "Conv-MaxPool": (image, [node("Conv", ["x", "cw", "cb"], ["cv"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
                                 node("Relu", ["cv"], ["r"]),
                                 node("MaxPool", ["r"], ["y"], kernel_shape=[2, 2], strides=[2, 2])], conv_w, []),
        "Conv-AveragePool": (image, [node("Conv", ["x", "cw", "cb"], ["cv"], kernel_shape=[3, 3]),
                                     node("AveragePool", ["cv"], ["y"], kernel_shape=[2, 2], strides=[2, 2])],
                             conv_w, []),
    }
    shape, nodes, inits, host = table[kind]
    save_model(path, nodes, [("x", shape)], inits)
    return shape, host


def matrix_kind_cases(tmp):
    out = []
    for kind in MATRIX_KINDS:
        for rows in ROWS:
            name = "%s-%d" % (kind, rows)
            model, inp = os.path.join(tmp, name + ".onnx"), os.path.join(tmp, name + ".npy")
            shape, host = matrix_kind_model(model, kind, rows)
            np.save(inp, np.random.RandomState(rows).randn(*shape).astype(np.float32))
            out.append(Case(name, model, "x", inp, [], False, "ort", host))
    return out


# Activations the graph fuses into a Conv or Gemm (passes/fuse.c) that the
# activate instruction does not compute: the layer ends before them and
# they run as host steps.  They used to abort compile (exit 134).  Clip is
# fused only with its bounds as attributes (opset < 11); with bound inputs
# it stays a node of its own.  A fused Relu stays on the TPU.
def activation_models():
    """(name, opset, input shape, nodes, initializers, host step ops)"""
    from onnx import helper
    w = weights(41)
    node = helper.make_node
    image = [1, 6, 9, 8]

    def conv(x, y, i, k=8, c=6):
        return node("Conv", [x, "w%d" % i, "b%d" % i], [y], kernel_shape=[3, 3], pads=[1, 1, 1, 1]), \
            [w("w%d" % i, k, c, 3, 3), w("b%d" % i, k)]

    def conv_act(act, opset=13, extra=(), **attrs):
        c0, i0 = conv("x", "c", 0)
        return opset, image, [c0, node(act, ["c"] + list(extra), ["y"], **attrs)], i0

    from onnx import numpy_helper
    bounds = [numpy_helper.from_array(np.array(v, np.float32), n) for n, v in (("lo", -0.5), ("hi", 0.8))]
    c0, i0 = conv("x", "c0", 0)
    c1, i1 = conv("p", "c1", 1, 8, 8)
    c2, i2 = conv("h", "c2", 2, 5, 8)
    chain = (14, [2] + image[1:], [c0, node("LeakyRelu", ["c0"], ["l"], alpha=0.1),
                                   node("MaxPool", ["l"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
                                   c1, node("HardSwish", ["c1"], ["h"]), c2, node("Relu", ["c2"], ["y"])],
             i0 + i1 + i2)
    opset, shape, nodes, inits = conv_act("Clip", 13, ["lo", "hi"])
    return [
        ("Conv-HardSigmoid",) + conv_act("HardSigmoid", alpha=0.3, beta=0.4) + (["HardSigmoid"],),
        ("Conv-LeakyRelu",) + conv_act("LeakyRelu", alpha=0.1) + (["LeakyRelu"],),
        ("Conv-Clip-attrs",) + conv_act("Clip", 10, min=-0.5, max=0.8) + (["Clip"],),
        ("Conv-Clip-inputs", opset, shape, nodes, inits + bounds, ["Clip"]),
        ("Conv-HardSwish",) + conv_act("HardSwish", 14) + (["HardSwish"],),
        ("Gemm-LeakyRelu", 13, [3, 24], [node("Gemm", ["x", "w", "b"], ["g"], transB=1),
                                         node("LeakyRelu", ["g"], ["y"], alpha=0.2)],
         [w("w", 20, 24), w("b", 20)], ["LeakyRelu"]),
        ("Conv-chain", ) + chain + (["LeakyRelu", "HardSwish"],),
        ("Conv-Relu",) + conv_act("Relu") + ([],),
    ]


def activation_cases(tmp):
    out = []
    for name, opset, shape, nodes, inits, host in activation_models():
        model, inp = os.path.join(tmp, name + ".onnx"), os.path.join(tmp, name + ".npy")
        save_model(model, nodes, [("x", shape)], inits, opset)
        np.save(inp, np.random.RandomState(5).randn(*shape).astype(np.float32))
        out.append(Case(name, model, "x", inp, [], False, "ort", host))
    return out


def cases(tmp):
    """(name, model, input name, input .npy, --shape args, classifier?)"""
    out = []
    kinds = os.path.join(tmp, "layer_kinds.onnx")
    layer_kinds_model(kinds)
    x = np.random.RandomState(11).randn(1, 3, 18, 16).astype(np.float32)
    np.save(os.path.join(tmp, "layer_kinds.npy"), x)
    out.append(Case("layer_kinds", kinds, "input", os.path.join(tmp, "layer_kinds.npy"), [], True))
    pool_act = os.path.join(tmp, "pool_act.onnx")
    pool_act_model(pool_act)
    np.save(os.path.join(tmp, "pool_act.npy"), np.random.RandomState(12).randn(1, 4, 8, 8).astype(np.float32))
    out.append(Case("pool_act", pool_act, "input", os.path.join(tmp, "pool_act.npy"), [], False))
    for name in ("lenet5", "mlp", "resblock", "lstm_cell"):
        out.append(Case(name, "models/%s.onnx" % name, "input", "models/%s_input.npy" % name, [],
                    name in ("lenet5", "mlp")))
    for name, shape in (("mnist_8", None), ("super_resolution_10", "1,1,224,224")):
        x = read_pb(os.path.join(MODELS, name, "test_data_set_0", "input_0.pb"))
        path = os.path.join(tmp, name + ".npy")
        np.save(path, x)
        iname = "Input3" if name == "mnist_8" else "input"
        out.append(Case(name, os.path.join(MODELS, name, "model.onnx"), iname, path,
                    ["--shape", "input=" + shape] if shape else [], name == "mnist_8"))
    x = np.random.RandomState(20240601).rand(1, 3, 32, 32).astype(np.float32)
    path = os.path.join(tmp, "winml_cifar10.npy")
    np.save(path, x)
    out.append(Case("winml_cifar10", os.path.join(MODELS, "winml_cifar10", "model.onnx"), "modelInput",
                path, ["--shape", "modelInput=1,3,32,32"], True))
    return out


def run_case(build, rep, tmp, case, precision, arch=None):
    name, model, iname, inp, shape, classifier, oracle, host_ops = case
    tag = "%s/%s" % (name, precision) + ("/" + os.path.basename(arch) if arch else "")
    cal = os.path.join(tmp, "cal-" + name)
    os.makedirs(cal, exist_ok=True)
    shutil.copy(inp, os.path.join(cal, "x.npy"))
    nnb = os.path.join(tmp, tag.replace("/", "-") + ".nnb")
    args = ["compile", model, "--target", "tpu", "--precision", precision, "-o", nnb] + shape
    if arch:
        args += ["--arch", arch]
    if precision == "int8":
        args += ["--calibrate", cal]
    r = nnac(build, *args)
    rep.check(r.returncode == 0 and os.path.exists(nnb), tag + " compile", r.stderr.strip().splitlines()[-1:]
              if r.returncode == 0 else r.stderr.strip())
    if r.returncode != 0:
        return None
    if precision == "int8":
        rep.check("bit for bit" in r.stderr, tag + " simulator equals the integer reference",
                  [l for l in r.stderr.splitlines() if "bit for bit" in l])
    if host_ops is not None:
        hosted = sorted(re.findall(r"^compile: host step '.*' \((\w+)\)$", r.stderr, re.M))
        rep.check(hosted == sorted(host_ops), tag + " host steps", "%s (expected %s)" % (hosted, sorted(host_ops)))
    ref_dir, got_dir = os.path.join(tmp, tag.replace("/", "-") + "-ref"), os.path.join(tmp, tag.replace("/", "-") + "-got")
    if oracle == "ort":
        a = None
        ref = ort_run(model, {iname: np.load(inp)})
    else:
        a = nnac(build, "run", model, "--input", "%s=%s" % (iname, inp), "--output-dir", ref_dir, *shape)
    b = nnac(build, "run", nnb, "--input", "%s=%s" % (iname, inp), "--output-dir", got_dir)
    failed = (a and a.returncode) or b.returncode
    rep.check(not failed, tag + " run", ((a.stderr if a else "") + b.stderr).strip())
    if failed:
        return None
    rep.check("array active" in b.stdout, tag + " counter table printed")
    ref = ref if oracle == "ort" else outputs(ref_dir)
    got = outputs(got_dir)
    rep.check(sorted(ref) == sorted(got), tag + " same outputs", "%s vs %s" % (sorted(ref), sorted(got)))
    floor = INT8_SQNR_DB if precision == "int8" else BF16_SQNR_DB
    for k in sorted(ref):
        if k not in got:
            continue
        s = sqnr(ref[k], got[k])
        rep.check(ref[k].shape == got[k].shape and s >= floor, "%s %s SQNR" % (tag, k),
                  "%.2f dB (floor %.0f)" % (s, floor))
        if precision == "bf16" and ref[k].shape == got[k].shape:
            scale = float(np.max(np.abs(ref[k]))) or 1.0
            worst = float(np.max(np.abs(ref[k].astype(np.float64) - got[k]))) / scale
            rep.check(worst <= BF16_MAX_ERR, "%s %s elementwise" % (tag, k),
                      "max |error| = %.4f of max |ref| (bound %.2f)" % (worst, BF16_MAX_ERR))
        if classifier:
            rep.check(int(np.argmax(ref[k])) == int(np.argmax(got[k])), "%s %s top-1" % (tag, k),
                      "%d vs %d" % (np.argmax(ref[k]), np.argmax(got[k])))
    return nnb


def check_trace(build, rep, tmp, nnb, inp):
    r = nnac(build, "trace", nnb, "--input", "input=" + inp)
    lines = r.stdout.splitlines()
    rep.check(r.returncode == 0 and len(lines) > 10 and "matrix_multiply" in r.stdout and "halt" in r.stdout,
              "trace text", "%d lines" % len(lines))
    r = nnac(build, "trace", nnb, "--input", "input=" + inp, "--summary")
    rep.check(r.returncode == 0 and "array active" in r.stdout and "weight stall" in r.stdout,
              "trace --summary", r.stderr.strip())
    out = os.path.join(tmp, "trace.json")
    r = nnac(build, "trace", nnb, "--input", "input=" + inp, "--format", "chrome", "-o", out)
    try:
        with open(out) as f:
            doc = json.load(f)
        names = {e["args"]["name"] for e in doc["traceEvents"] if e.get("ph") == "M" and
                 e.get("name") == "thread_name"}
        spans = [e for e in doc["traceEvents"] if e.get("ph") == "X"]
        ok = r.returncode == 0 and TRACKS <= names and len(spans) > 10
        rep.check(ok, "trace chrome JSON", "tracks %s, %d events" % (sorted(names), len(spans)))
    except (OSError, ValueError, KeyError) as e:
        rep.check(False, "trace chrome JSON", "%s %s" % (e, r.stderr))


def check_bad(build, rep, tmp, nnb, inp):
    data = open(nnb, "rb").read()
    bad = {
        "truncated": data[: len(data) // 2],
        "one byte changed": data[:100] + bytes([data[100] ^ 0x40]) + data[101:],
        "not a bundle": b"hello, this is not a bundle" * 10,
        "empty": b"",
    }
    for what, content in bad.items():
        path = os.path.join(tmp, "bad.nnb")
        with open(path, "wb") as f:
            f.write(content)
        outdir = os.path.join(tmp, "bad-out")
        r = nnac(build, "run", path, "--input", "input=" + inp, "--output-dir", outdir)
        rep.check(r.returncode == 2 and path in r.stderr and not os.path.exists(outdir),
                  "bad bundle: " + what, "exit %d: %s" % (r.returncode, r.stderr.strip()))
    r = nnac(build, "run", os.path.join(tmp, "missing.nnb"), "--input", "input=" + inp)
    rep.check(r.returncode == 2 and "missing.nnb" in r.stderr, "bad bundle: missing file", r.stderr.strip())
    out = os.path.join(tmp, "never.nnb")
    r = nnac(build, "compile", "models/lenet5.onnx", "--target", "tpu", "--arch", "eyeriss", "-o", out)
    rep.check(r.returncode == 2 and "isa" in r.stderr and not os.path.exists(out),
              "compile for a non-TPU arch", r.stderr.strip())
    r = nnac(build, "compile", "models/lenet5.onnx", "--target", "tpu", "--arch", "tests/tpu/small_acc.arch",
             "-o", out)
    rep.check(r.returncode == 2 and "layer 'conv1'" in r.stderr and "'accumulators'" in r.stderr and
              not os.path.exists(out), "a layer that can never fit", r.stderr.strip().splitlines()[-1:])
    r = nnac(build, "compile", "models/lenet5.onnx", "--target", "tpu", "--precision", "fp8", "-o", out)
    rep.check(r.returncode == 2 and "fp8" in r.stderr and not os.path.exists(out), "bad --precision",
              r.stderr.strip())


def run_patched(build, tmp, data, inp):
    path = os.path.join(tmp, "patched.nnb")
    with open(path, "wb") as f:
        f.write(data)
    outdir = os.path.join(tmp, "patched-out")
    r = nnac(build, "run", path, "--input", "input=" + inp, "--output-dir", outdir)
    return r, os.path.exists(outdir)


def check_host_loops(build, rep, tmp, nnb_path, inp):
    """Host steps travel as loop IR: the bundle has a host_loops section per
    host step and no model, and a host program that does not parse, or that
    reads a tensor its step does not take, is refused by name."""
    data = open(nnb_path, "rb").read()
    secs = nnb.sections(data)
    loops = [n for k, n, _, _ in secs if k == "host_loops"]
    rep.check(loops and not [k for k, _, _, _ in secs if k == "model"],
              "bundle: host steps as host_loops, no model section", str([(k, n) for k, n, _, _ in secs]))
    if not loops:
        return
    name = loops[0]
    text = nnb.payload(data, "host_loops", name)
    broken = text.replace(b"kernel ", b"kernal ", 1)
    r, wrote = run_patched(build, tmp, nnb.patch(data, "host_loops", name, broken), inp)
    rep.check(r.returncode == 2 and ("host_loops/%s:" % name) in r.stderr and "error" in r.stderr and not wrote,
              "host program that does not parse", r.stderr.strip())
    m = re.search(rb'@dram input "([^"]+)"', text)
    rep.check(m is not None, "host program names its input tensor", text[:200])
    if m:
        old = m.group(0)
        new = old[:-2] + (b"Z" if old[-2:-1] != b"Z" else b"Y") + b'"'
        r, wrote = run_patched(build, tmp, nnb.patch(data, "host_loops", name, text.replace(old, new, 1)), inp)
        rep.check(r.returncode == 2 and "does not take" in r.stderr and not wrote,
                  "host program reading a tensor its step does not take", r.stderr.strip())
    m = re.search(rb'(\d)\] @dram output', text)
    if m:
        old = m.group(0)
        new = old.replace(m.group(1), b"9" if m.group(1) != b"9" else b"8")
        r, wrote = run_patched(build, tmp, nnb.patch(data, "host_loops", name, text.replace(old, new, 1)), inp)
        rep.check(r.returncode == 2 and "does not have the type of tensor" in r.stderr and not wrote,
                  "host program whose output is not the tensor's shape", r.stderr.strip())
    else:
        rep.check(False, "host program declares an output", text[:300])


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    rep = Report()
    tmp = tempfile.mkdtemp(prefix="nnac-tpu-")
    try:
        first = None
        for case in cases(tmp) + matrix_kind_cases(tmp) + activation_cases(tmp):
            for precision in ("int8", "bf16"):
                nnb = run_case(build, rep, tmp, case, precision)
                if case.name == "lenet5" and precision == "int8":
                    first = nnb
                if case.name != "super_resolution_10":
                    run_case(build, rep, tmp, case, precision, "tests/tpu/tiny.arch")
        if first:
            check_trace(build, rep, tmp, first, "models/lenet5_input.npy")
            check_bad(build, rep, tmp, first, "models/lenet5_input.npy")
            check_host_loops(build, rep, tmp, first, "models/lenet5_input.npy")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("tpu-models: %d passed, %d failed" % (rep.passed, rep.failed))
    return 1 if rep.failed else 0


if __name__ == "__main__":
    sys.exit(main())
