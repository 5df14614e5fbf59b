"""The cpu target's speed against ONNX Runtime (`make bench`): a benchmark
that prints ratios, never a test that fails on time.

For every model: compile it with `nnac compile --target cpu`, time it with
`nnac bench` (median of repeated runs after a warm-up) and ONNX Runtime on
the same input shape in the same script with one intra-op thread, and print
nnac / ORT (below 1: nnac is faster).  Then the generated GEMM's GFLOP/s
on large square matrices against the machine's measured peak: an FMA
throughput loop compiled here with the host's vector width.

usage: python3 scripts/bench_cpu.py BUILD_DIR [--runs N]   (from the repository root)
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

MODELS = [
    ("lenet5", "models/lenet5.onnx", []),
    ("mlp", "models/mlp.onnx", []),
    ("mnist_8", os.path.join(SHARED, "models/mnist_8/model.onnx"), []),
    ("winml_cifar10", os.path.join(SHARED, "models/winml_cifar10/model.onnx"),
     ["--shape", "modelInput=1,3,32,32"]),
    ("super_resolution_10", os.path.join(SHARED, "models/super_resolution_10/model.onnx"),
     ["--shape", "input=1,1,224,224"]),
]

PEAK_C = r"""
#include <stdio.h>
#include <time.h>
typedef float v8 __attribute__((vector_size(32)));
int main(void)
{
	v8 a[12], b = {1.0001f, 1.0001f, 1.0001f, 1.0001f, 1.0001f, 1.0001f, 1.0001f, 1.0001f};
	v8 c = {0.9999f, 0.9999f, 0.9999f, 0.9999f, 0.9999f, 0.9999f, 0.9999f, 0.9999f};
	struct timespec t0, t1;
	long iters = 200000000L / 12;
	for (int i = 0; i < 12; i++)
		a[i] = c * (float)(i + 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long k = 0; k < iters; k++)
		for (int i = 0; i < 12; i++)
			a[i] = a[i] * b + c;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	v8 s = a[0];
	for (int i = 1; i < 12; i++)
		s += a[i];
	double sec = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
	printf("%f %f\n", 2.0 * 8 * 12 * (double)iters / sec / 1e9, (double)s[0]);
	return 0;
}
"""


def nnac(build, *args):
    return subprocess.run([os.path.join(build, "nnac")] + list(args), capture_output=True, text=True)


def nnac_median_ms(build, nnb, runs):
    r = nnac(build, "bench", nnb, "--runs", str(runs))
    m = re.search(r"median ([0-9.]+) ms", r.stdout)
    if not m:
        raise RuntimeError(r.stderr.strip() or r.stdout.strip())
    return float(m.group(1))


def ort_median_ms(model, shape_args, runs, threads):
    import onnx
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    feeds = {}
    bound = dict(a.split("=", 1) for a in shape_args[1::2])
    for i in sess.get_inputs():
        dims = [int(d) for d in bound[i.name].split(",")] if i.name in bound else \
            [d if isinstance(d, int) else 1 for d in i.shape]
        feeds[i.name] = np.random.RandomState(1).rand(*dims).astype(np.float32)
    sess.run(None, feeds)
    t = []
    for _ in range(runs):
        t0 = time.perf_counter()
        sess.run(None, feeds)
        t.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(t))


def gemm_model(path, n):
    import onnx
    from onnx import helper, numpy_helper, TensorProto
    w = numpy_helper.from_array(np.random.RandomState(2).rand(n, n).astype(np.float32), "w")
    g = helper.make_graph([helper.make_node("MatMul", ["a", "w"], ["y"])], "gemm",
                          [helper.make_tensor_value_info("a", TensorProto.FLOAT, [n, n])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, n])], [w])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)


def peak_gflops(tmp):
    src, exe = os.path.join(tmp, "peak.c"), os.path.join(tmp, "peak")
    with open(src, "w") as f:
        f.write(PEAK_C)
    subprocess.run(["cc", "-O2", "-march=native", "-ffp-contract=fast", src, "-o", exe], check=True)
    return float(subprocess.run([exe], capture_output=True, text=True, check=True).stdout.split()[0])


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 20
    tmp = tempfile.mkdtemp(prefix="nnac-bench-")
    print("%-22s %12s %12s %12s %10s" % ("model", "compile s", "nnac ms", "ORT ms", "nnac/ORT"))
    for name, model, shape in MODELS:
        nnb = os.path.join(tmp, name + ".nnb")
        t0 = time.perf_counter()
        r = nnac(build, "compile", model, "--target", "cpu", "-o", nnb, *shape)
        ct = time.perf_counter() - t0
        if r.returncode != 0:
            print("%-22s compile failed: %s" % (name, r.stderr.strip().splitlines()[-1:]))
            continue
        try:
            a = nnac_median_ms(build, nnb, runs)
            b = ort_median_ms(model, shape, runs, 1)
            print("%-22s %12.2f %12.3f %12.3f %10.2f" % (name, ct, a, b, a / b))
        except Exception as e:  # a benchmark reports, it does not stop
            print("%-22s %s" % (name, e))
    peak = peak_gflops(tmp)
    print("measured peak (one core, FMA loop): %.1f GFLOP/s" % peak)
    for n in (256, 512, 1024):
        path, nnb = os.path.join(tmp, "gemm%d.onnx" % n), os.path.join(tmp, "gemm%d.nnb" % n)
        gemm_model(path, n)
        r = nnac(build, "compile", path, "--target", "cpu", "-o", nnb)
        if r.returncode != 0:
            print("gemm %d: compile failed: %s" % (n, r.stderr.strip()))
            continue
        ms = nnac_median_ms(build, nnb, max(3, runs // 4))
        gf = 2.0 * n ** 3 / (ms * 1e-3) / 1e9
        print("gemm %4d: %.3f ms, %.1f GFLOP/s, %.1f%% of peak" % (n, ms, gf, 100 * gf / peak))


if __name__ == "__main__":
    main()
