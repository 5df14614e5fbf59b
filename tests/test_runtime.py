"""The cpu target end to end, and the runtime library as a user installs it.

1. Every bundled model, mnist_8, winml_cifar10, super_resolution_10 and
   small generated models shaped to take every path of the contraction
   kernels (tails, reduction slices, coalesced runs, strides, bias and
   Relu folded in):
   `nnac compile --target cpu`, `nnac run M.nnb` (through the runtime
   library) against the reference interpreter on the same input; tolerance
   as the loop IR's (its programs are what the cpu target compiles):
   |got - want| <= 1e-3 |want| + 1e-5 max|want|.  The same bundle with
   `--threads 2` gives bit-identical outputs (the split of a parallel loop
   never changes results).
2. Five zoo topologies (nine with --all-zoo), random weights, against
   ONNX Runtime, and on 2 threads bit-identical to 1.
3. `cmake --install` into a temporary prefix; docs/examples/run_bundle.c
   built against it with pkg-config; run on lenet5's cpu bundle; what it
   prints equals `nnac run` of the model on the same input (k / n), and is
   the same on 2 threads.
4. The library refuses a corrupt bundle with a message naming the file,
   runs a bf16 TPU bundle on the simulator device (within bf16 of the
   interpreter) and refuses it more than one thread.
5. A model of two graph inputs, token ids and a bias: an embedding lookup
   whose ids are known only at run time, compiled for cpu, against NumPy;
   an id out of range stops the run with exit 2 and a message naming the
   layer and the value, and writes no output.

usage: python3 tests/test_runtime.py BUILD_DIR [--all-zoo]   (from the repository root)
"""
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import modelref  # noqa: E402
from modelref import read_pb  # noqa: E402
from e2e import MODELS, Report, nnac, outputs  # noqa: E402

RTOL, ATOL_REL = 1e-3, 1e-5


# Shapes that take the cpu backend's contraction kernels down every path:
# tails of rows and of j blocks, several slices of the reduction, runs of
# short rows coalesced with and without vec continuing them, in-place and
# packed operands, strides and dilations, a transposed weight, bias and
# Relu folded in.  (name, input shape, nodes, weights)
def contraction_models():
    rng = np.random.RandomState(7)

    def w(*shape):
        return (rng.rand(*shape).astype(np.float32) - 0.5) * 0.2

    return [
        ("mm_tails", [67, 300], [("MatMul", ["x", "w"], {})], {"w": w(300, 133)}),
        ("gemm_transb", [5, 70], [("Gemm", ["x", "w", "b"], {"transB": 1})], {"w": w(90, 70), "b": w(90)}),
        ("conv3_9x9", [1, 40, 9, 9], [("Conv", ["x", "w", "b"], {"pads": [1, 1, 1, 1]}), ("Relu", None, {})],
         {"w": w(50, 40, 3, 3), "b": w(50)}),
        ("conv1_20x20", [1, 70, 20, 20], [("Conv", ["x", "w", "b"], {}), ("Relu", None, {})],
         {"w": w(26, 70, 1, 1), "b": w(26)}),
        ("conv_s2_d2", [1, 16, 31, 31], [("Conv", ["x", "w"], {"strides": [2, 2], "dilations": [2, 2]})],
         {"w": w(36, 16, 3, 3)}),
        ("conv_wide", [1, 8, 6, 150], [("Conv", ["x", "w", "b"], {"pads": [0, 2, 0, 2]})],
         {"w": w(12, 8, 1, 5), "b": w(12)}),
        ("conv1_few", [1, 70, 20, 20], [("Conv", ["x", "w", "b"], {}), ("Relu", None, {})],
         {"w": w(10, 70, 1, 1), "b": w(10)}),
        ("conv_deep", [1, 300, 7, 7], [("Conv", ["x", "w", "b"], {"pads": [1, 1, 1, 1]}), ("Relu", None, {})],
         {"w": w(64, 300, 3, 3), "b": w(64)}),
    ]


def make_contraction_models(tmp):
    import onnx
    from onnx import helper, numpy_helper, TensorProto
    out = []
    for name, shape, nodes, weights in contraction_models():
        made, cur = [], "x"
        for k, (op, ins, attrs) in enumerate(nodes):
            y = "y" if k == len(nodes) - 1 else "t%d" % k
            made.append(helper.make_node(op, ins if ins else [cur], [y], **attrs))
            cur = y
        g = helper.make_graph(made, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(v, k) for k, v in weights.items()])
        path = os.path.join(tmp, name + ".onnx")
        onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)
        inp = os.path.join(tmp, name + "-in.npy")
        np.save(inp, np.random.RandomState(11).rand(*shape).astype(np.float32) - 0.5)
        out.append((name, path, "x", inp, []))
    # blocked for the host preset's machine (AVX2: 8 lanes, 16 registers,
    # 32 KiB L1) whatever this one is: other block shapes and slices
    for name, path, iname, inp, shape in list(out):
        if name in ("mm_tails", "conv3_9x9", "conv_deep"):
            out.append((name + "_archhost", path, iname, inp, shape, ["--arch", "host"]))
    return out


def cases(tmp):
    out = [(n, "models/%s.onnx" % n, "input", "models/%s_input.npy" % n, [])
           for n in ("lenet5", "mlp", "resblock", "lstm_cell")]
    out += make_contraction_models(tmp)
    for name, iname, shape in (("mnist_8", "Input3", []), ("super_resolution_10", "input", ["--shape", "input=1,1,224,224"])):
        path = os.path.join(tmp, name + ".npy")
        np.save(path, read_pb(os.path.join(MODELS, name, "test_data_set_0", "input_0.pb")))
        out.append((name, os.path.join(MODELS, name, "model.onnx"), iname, path, shape))
    path = os.path.join(tmp, "winml.npy")
    np.save(path, np.random.RandomState(5).rand(1, 3, 32, 32).astype(np.float32))
    out.append(("winml_cifar10", os.path.join(MODELS, "winml_cifar10", "model.onnx"), "modelInput", path,
                ["--shape", "modelInput=1,3,32,32"]))
    return out


def check_models(build, rep, tmp):
    for name, model, iname, inp, shape, *flags in cases(tmp):
        nnb = os.path.join(tmp, name + ".nnb")
        r = nnac(build, "compile", model, "--target", "cpu", "-o", nnb, *shape, *(flags[0] if flags else []))
        rep.check(r.returncode == 0, name + " compile", r.stderr.strip().splitlines()[-1:])
        if r.returncode:
            continue
        ref, got = os.path.join(tmp, name + "-ref"), os.path.join(tmp, name + "-got")
        a = nnac(build, "run", model, "--input", "%s=%s" % (iname, inp), "--output-dir", ref, *shape)
        b = nnac(build, "run", nnb, "--input", "%s=%s" % (iname, inp), "--output-dir", got)
        rep.check(a.returncode == 0 and b.returncode == 0, name + " run", (a.stderr + b.stderr).strip())
        if a.returncode or b.returncode:
            continue
        check_threads(build, rep, name, nnb, "%s=%s" % (iname, inp), got, os.path.join(tmp, name + "-t2"))
        want, have = outputs(ref), outputs(got)
        rep.check(sorted(want) == sorted(have), name + " same outputs", "%s %s" % (sorted(want), sorted(have)))
        for k in sorted(set(want) & set(have)):
            w, h = want[k].astype(np.float64), have[k].astype(np.float64)
            bound = RTOL * np.abs(w) + ATOL_REL * float(np.max(np.abs(w)))
            err = float(np.max(np.abs(w - h) - bound)) if w.shape == h.shape else float("inf")
            rep.check(w.shape == h.shape and err <= 0, "%s %s" % (name, k),
                      "max |error| %.3g" % float(np.max(np.abs(w - h))) if w.shape == h.shape else "shape")
    return os.path.join(tmp, "lenet5.nnb")


# The zoo topologies of ../shared/models with seeded random weights,
# against ONNX Runtime on a seeded random input with the models suite's
# tolerances (rtol 1e-3, atol 1e-4 of the output's scale).  ORT, not the
# graph interpreter, is the reference here to keep the suite inside CI's
# time: the models suite checks the interpreter against ORT on these very
# networks, and the interpreter takes 16 s on VGG-19 alone.  The bundles
# compile two at a time.  By default the five whose structures differ
# (LRN and stride 4, inception's concatenations and views of views,
# residual blocks, grouped convolutions and channel shuffles, fire
# modules); --all-zoo adds the four that repeat them at greater compile
# cost (VGG-19, DenseNet-121, Inception v2, ZFNet-512: 70 s more).
ZOO = ["bvlc_alexnet", "inception_v1", "resnet50", "shufflenet", "squeezenet"]
ZOO_MORE = ["densenet121", "inception_v2", "vgg19", "zfnet512"]
ZOO_RTOL, ZOO_ATOL_REL = 1e-3, 1e-4


def compile_zoo(build, tmp, k, stem):
    src = os.path.join(MODELS, "zoo_topologies", "light_%s.onnx" % stem)
    model = os.path.join(tmp, "zoo_%s.onnx" % stem)
    modelref.randomize_weights(src, model, seed=3000 + k)
    nnb = os.path.join(tmp, "zoo_%s.nnb" % stem)
    return model, nnb, nnac(build, "compile", model, "--target", "cpu", "-o", nnb)


def check_zoo(build, rep, tmp, zoo):
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        jobs = [pool.submit(compile_zoo, build, tmp, k, stem) for k, stem in enumerate(zoo)]
        for stem, job in zip(zoo, jobs):
            model, nnb, r = job.result()
            name = "zoo " + stem
            rep.check(r.returncode == 0, name + " compile", r.stderr.strip().splitlines()[-1:])
            if r.returncode == 0:
                check_zoo_run(build, rep, tmp, name, model, nnb)


def check_zoo_run(build, rep, tmp, name, model, nnb):
    feeds = modelref.random_feeds(model, np.random.default_rng(len(name)))
    (iname, x), = feeds.items()
    inp = os.path.join(tmp, name.replace(" ", "_") + "-in.npy")
    np.save(inp, x)
    got = os.path.join(tmp, name.replace(" ", "_") + "-got")
    r = nnac(build, "run", nnb, "--input", "%s=%s" % (iname, inp), "--output-dir", got)
    rep.check(r.returncode == 0, name + " run", r.stderr.strip())
    if r.returncode:
        return
    check_threads(build, rep, name, nnb, "%s=%s" % (iname, inp), got, got + "-t2")
    have = outputs(got)
    for k, want in modelref.ort_run(model, feeds).items():
        h = have.get(k.replace("/", "_").replace("\\", "_"))   # as --output-dir names files
        ok, detail = modelref.compare(h, want, ZOO_RTOL, ZOO_ATOL_REL * float(np.abs(want).max())) \
            if h is not None else (False, "no output %s" % k)
        rep.check(ok, "%s %s against ORT" % (name, k), detail)


def check_threads(build, rep, name, nnb, binding, got, folder):
    """The bundle on 2 threads writes the same bytes as on 1 (in got)."""
    r = nnac(build, "run", nnb, "--input", binding, "--output-dir", folder, "--threads", "2")
    rep.check(r.returncode == 0, name + " run --threads 2", r.stderr.strip())
    if r.returncode:
        return
    one, two = outputs(got), outputs(folder)
    same = sorted(one) == sorted(two) and all(
        one[k].dtype == two[k].dtype and one[k].shape == two[k].shape and one[k].tobytes() == two[k].tobytes()
        for k in one)
    rep.check(same, name + " 2 threads bit-identical to 1", "%s %s" % (sorted(one), sorted(two)))


def check_trace(build, rep, tmp, nnb):
    """`nnac trace` of a cpu bundle: one timed kernel per kernel of the
    program, in order and not overlapping, as text and as Chrome JSON, on
    one thread and two."""
    r = nnac(build, "trace", nnb, "--input", "input=models/lenet5_input.npy")
    rows = [l.split() for l in r.stdout.splitlines()[1:]]
    layers = [row[3] for row in rows if len(row) == 4]
    rep.check(r.returncode == 0 and layers[:1] == ["conv1"] and layers[-1:] == ["fc3+softmax"] and len(layers) == 7,
              "cpu trace text: a row per kernel", r.stdout.strip() + r.stderr.strip())
    for threads in ("1", "2"):
        out = os.path.join(tmp, "cpu-trace-%s.json" % threads)
        r = nnac(build, "trace", nnb, "--format", "chrome", "-o", out, "--threads", threads,
                 "--input", "input=models/lenet5_input.npy")
        try:
            with open(out) as f:
                ev = [e for e in json.load(f)["traceEvents"] if e.get("ph") == "X"]
            ok = r.returncode == 0 and [e["args"]["kernel"] for e in ev] == list(range(7)) and all(
                e["dur"] >= 0 and (i + 1 == len(ev) or e["ts"] + e["dur"] <= ev[i + 1]["ts"] + 1e-3)
                for i, e in enumerate(ev))
            rep.check(ok, "cpu trace chrome JSON on %s thread(s): 7 kernels in order" % threads,
                      str([(e["name"], e["ts"], e["dur"]) for e in ev]))
        except (OSError, ValueError, KeyError) as e:
            rep.check(False, "cpu trace chrome JSON on %s thread(s)" % threads, "%s %s" % (e, r.stderr))


def check_installed(build, rep, tmp, nnb):
    prefix = os.path.join(tmp, "prefix")
    r = subprocess.run(["cmake", "--install", build, "--prefix", prefix], capture_output=True, text=True)
    rep.check(r.returncode == 0, "cmake --install", r.stderr.strip())
    pcdirs = [os.path.join(root) for root, _, files in os.walk(prefix) if "nnac.pc" in files]
    rep.check(len(pcdirs) == 1 and os.path.exists(os.path.join(prefix, "include", "nnac_rt.h")),
              "installed nnac.pc and nnac_rt.h", str(pcdirs))
    if len(pcdirs) != 1:
        return
    env = dict(os.environ, PKG_CONFIG_PATH=pcdirs[0])
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "nnac"], capture_output=True, text=True, env=env)
    rep.check(flags.returncode == 0, "pkg-config nnac", flags.stderr.strip())
    exe = os.path.join(tmp, "run_bundle")
    # a sanitizer build's library needs the sanitizer runtimes in the program too
    with open(os.path.join(build, "CMakeCache.txt")) as f:
        san = ["-fsanitize=address,undefined"] if "NNAC_SANITIZE:BOOL=ON" in f.read() else []
    cc = subprocess.run(["cc", "-std=c11", "-Wall", "-Werror", "docs/examples/run_bundle.c", "-o", exe] +
                        san + flags.stdout.split(), capture_output=True, text=True)
    rep.check(cc.returncode == 0, "the docs example builds against the installed library", cc.stderr.strip())
    if cc.returncode:
        return
    run = subprocess.run([exe, nnb], capture_output=True, text=True)
    rep.check(run.returncode == 0 and run.stdout.startswith("output [1,10]"), "the example runs lenet5",
              run.stdout.strip() + run.stderr.strip())
    x = (np.arange(28 * 28, dtype=np.float32) / (28 * 28)).reshape(1, 1, 28, 28)
    np.save(os.path.join(tmp, "ramp.npy"), x)
    ref = os.path.join(tmp, "ramp-ref")
    nnac(build, "run", "models/lenet5.onnx", "--input", "input=" + os.path.join(tmp, "ramp.npy"),
         "--output-dir", ref)
    want = outputs(ref).get("output")
    try:
        have = np.array([float(v) for v in run.stdout.split()[2:]])
        ok = want is not None and have.shape == want.ravel().shape and \
            np.allclose(have, want.ravel(), rtol=RTOL, atol=ATOL_REL * float(np.max(np.abs(want))) + 1e-6)
    except ValueError:
        ok = False
    rep.check(ok, "the example's output equals the interpreter's", run.stdout.strip())
    run2 = subprocess.run([exe, nnb, "2"], capture_output=True, text=True)
    rep.check(run2.returncode == 0 and run2.stdout == run.stdout, "the example on 2 threads prints the same",
              run2.stdout.strip() + run2.stderr.strip())
    bad = os.path.join(tmp, "bad.nnb")
    with open(nnb, "rb") as f:
        data = f.read()
    with open(bad, "wb") as f:
        f.write(data[: len(data) // 3])
    r = subprocess.run([exe, bad], capture_output=True, text=True)
    rep.check(r.returncode == 1 and bad in r.stderr, "the library refuses a truncated bundle", r.stderr.strip())
    tpu = os.path.join(tmp, "l5.tpu.nnb")
    nnac(build, "compile", "models/lenet5.onnx", "--target", "tpu", "--precision", "bf16", "-o", tpu)
    r = subprocess.run([exe, tpu], capture_output=True, text=True)
    try:
        have = np.array([float(v) for v in r.stdout.split()[2:]])
        worst = float(np.max(np.abs(have - want.ravel()))) / float(np.max(np.abs(want)))
        ok = r.returncode == 0 and have.shape == want.ravel().shape and worst <= BF16_MAX_ERR
    except (ValueError, AttributeError):
        ok, worst = False, float("nan")
    rep.check(ok, "the library runs a tpu bundle (bf16) on the simulator, within bf16 of the interpreter",
              "max |error| %.4f of max |ref| (bound %.2f) %s" % (worst, BF16_MAX_ERR, r.stderr.strip()))
    r = subprocess.run([exe, tpu, "2"], capture_output=True, text=True)
    rep.check(r.returncode == 1 and "runs on one thread" in r.stderr,
              "the library refuses 2 threads for the simulator", r.stderr.strip())


# The tpu target's bf16 bound (tests/test_tpu.py): every element within 2%
# of the largest output.
BF16_MAX_ERR = 0.02


def check_embedding(build, rep, tmp):
    import onnx
    from onnx import helper, numpy_helper, TensorProto
    rng = np.random.RandomState(13)
    table = rng.rand(50, 8).astype(np.float32)
    g = helper.make_graph(
        [helper.make_node("Gather", ["table", "ids"], ["e"], name="embed"), helper.make_node("Add", ["e", "bias"], ["y"])],
        "embedding", [helper.make_tensor_value_info("ids", TensorProto.INT64, [2, 70]),
                      helper.make_tensor_value_info("bias", TensorProto.FLOAT, [8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [numpy_helper.from_array(table, "table")])
    model, nnb = os.path.join(tmp, "embedding.onnx"), os.path.join(tmp, "embedding.nnb")
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), model)
    ids, bias = rng.randint(-50, 50, (2, 70)), rng.rand(8).astype(np.float32)
    np.save(os.path.join(tmp, "ids.npy"), ids)
    np.save(os.path.join(tmp, "bias.npy"), bias)
    r = nnac(build, "compile", model, "--target", "cpu", "-o", nnb)
    rep.check(r.returncode == 0, "embedding compile (two inputs)", r.stderr.strip())
    got = os.path.join(tmp, "embedding-got")
    r = nnac(build, "run", nnb, "--input", "ids=" + os.path.join(tmp, "ids.npy"),
             "--input", "bias=" + os.path.join(tmp, "bias.npy"), "--output-dir", got)
    rep.check(r.returncode == 0, "embedding run", r.stderr.strip())
    if r.returncode == 0:
        err = float(np.max(np.abs(outputs(got)["y"] - (table[ids] + bias))))
        rep.check(err == 0, "embedding against NumPy", "max |error| %.3g" % err)
    ids[1, 3] = 50
    np.save(os.path.join(tmp, "ids.npy"), ids)
    bad = os.path.join(tmp, "embedding-bad")
    r = nnac(build, "run", nnb, "--input", "ids=" + os.path.join(tmp, "ids.npy"),
             "--input", "bias=" + os.path.join(tmp, "bias.npy"), "--output-dir", bad)
    rep.check(r.returncode == 2 and "(layer 'embed+Add_1')" in r.stderr and "is 50, outside [-50, 50)" in r.stderr
              and not os.path.exists(os.path.join(bad, "y.npy")),
              "embedding id out of range", "exit %d: %s" % (r.returncode, r.stderr.strip()))


def main():
    build = sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith("-") else "build"
    rep = Report()
    tmp = tempfile.mkdtemp(prefix="nnac-rt-")
    try:
        nnb = check_models(build, rep, tmp)
        check_zoo(build, rep, tmp, ZOO + (ZOO_MORE if "--all-zoo" in sys.argv else []))
        check_trace(build, rep, tmp, nnb)
        check_installed(build, rep, tmp, nnb)
        check_embedding(build, rep, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("runtime: %d passed, %d failed" % (rep.passed, rep.failed))
    return 1 if rep.failed else 0


if __name__ == "__main__":
    sys.exit(main())
