"""Helpers for tests/test_models.py: drive the nnac CLI, make references with
ONNX Runtime, and give the zoo_topologies models random weights.

Python is test-only: nothing here is on nnac's compile or run path.
"""
import os
import subprocess
import time

import numpy as np
import onnx
from onnx import numpy_helper

NNAC_TIMEOUT_S = 1800

# How each ConstantOfShape weight is drawn, keyed by the (op, input index)
# that finally consumes it (after Unsqueeze/Reshape).  "he" is N(0, 2/fan_in);
# "small" is U(-0.1, 0.1) (biases, BN means); "positive" is U(0.5, 1.5) (BN
# scales and variances, the Mul of an unfolded BN).
WEIGHT_ROLES = {
    ("Conv", 1): "he", ("Gemm", 1): "he",
    ("Conv", 2): "small", ("Gemm", 2): "small",
    ("BatchNormalization", 1): "positive", ("BatchNormalization", 2): "small",
    ("BatchNormalization", 3): "small", ("BatchNormalization", 4): "positive",
    ("Mul", 1): "positive", ("Add", 1): "small",
}
PASS_THROUGH_OPS = ("Unsqueeze", "Reshape")


class NnacError(Exception):
    """nnac exited non-zero; the message holds its exit status and stderr."""


def read_pb(path):
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def graph_inputs(model_path):
    """[(name, dims)] of the real inputs; symbolic dims are bound to 1."""
    g = onnx.load(model_path, load_external_data=False).graph
    inits = {i.name for i in g.initializer}
    return [(i.name, [d.dim_value if d.HasField("dim_value") else 1
                      for d in i.type.tensor_type.shape.dim])
            for i in g.input if i.name not in inits]


def graph_outputs(model_path):
    return [o.name for o in onnx.load(model_path, load_external_data=False).graph.output]


def shape_args(model_path):
    """--shape options binding every input that has a symbolic dim."""
    g = onnx.load(model_path, load_external_data=False).graph
    args = []
    for name, dims in graph_inputs(model_path):
        vi = next(i for i in g.input if i.name == name)
        if any(not d.HasField("dim_value") for d in vi.type.tensor_type.shape.dim):
            args += ["--shape", "%s=%s" % (name, ",".join(map(str, dims)))]
    return args


def output_file(out_dir, name):
    """Where `nnac run --output-dir OUT_DIR` writes the output NAME: '/' and
    '\\' become '_' (as output_path() in frontend/driver/cmd_run.c)."""
    return os.path.join(out_dir, name.replace("/", "_").replace("\\", "_") + ".npy")


class Nnac:
    """The nnac binary, with a scratch folder for inputs and outputs."""

    def __init__(self, binary, tmp):
        self.binary = binary
        self.tmp = tmp
        self.nruns = 0

    def _call(self, args):
        try:
            p = subprocess.run([self.binary] + args, capture_output=True, text=True,
                               timeout=NNAC_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return 124, "", "timed out after %d s" % NNAC_TIMEOUT_S
        return p.returncode, p.stdout, p.stderr

    def tool(self, verb, model_path):
        """Runs `nnac VERB MODEL`; returns (exit status, stdout + stderr)."""
        rc, out, err = self._call([verb, model_path] + shape_args(model_path))
        return rc, out + err

    def run(self, model_path, feeds):
        """Runs the model on {input name: array}; returns ({output: array}, seconds)."""
        self.nruns += 1
        work = os.path.join(self.tmp, "run%d" % self.nruns)
        os.mkdir(work)
        args = ["run", model_path, "--output-dir", os.path.join(work, "out")]
        for k, (name, value) in enumerate(feeds.items()):
            path = os.path.join(work, "in%d.npy" % k)
            np.save(path, value)
            args += ["--input", "%s=%s" % (name, path)]
        start = time.perf_counter()
        rc, _, err = self._call(args + shape_args(model_path))
        secs = time.perf_counter() - start
        if rc != 0:
            raise NnacError("exit %d: %s" % (rc, err.strip().replace("\n", " | ")))
        outs = {}
        for name in graph_outputs(model_path):
            path = output_file(os.path.join(work, "out"), name)
            if not os.path.exists(path):
                raise NnacError("output '%s' was not written to %s" % (name, path))
            outs[name] = np.load(path)
        return outs, secs


def ort_run(model_path, feeds):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.log_severity_level = 3  # errors only: no notes on unused initializers
    sess = ort.InferenceSession(model_path, opts, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, feeds)))


def random_feeds(model_path, rng):
    return {name: rng.standard_normal(dims).astype(np.float32)
            for name, dims in graph_inputs(model_path)}


def _final_consumer(g, name):
    """(node, input index) that uses tensor NAME, looking through Unsqueeze/Reshape."""
    users = [(n, i) for n in g.node for i, x in enumerate(n.input) if x == name]
    if len(users) != 1:
        raise ValueError("weight %s has %d users" % (name, len(users)))
    node, idx = users[0]
    if node.op_type in PASS_THROUGH_OPS and idx == 0:
        return _final_consumer(g, node.output[0])
    return node, idx


def _fan_in(node, shape):
    trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
    if node.op_type == "Gemm" and not trans_b:
        return shape[0]
    return int(np.prod(shape)) // shape[0]


def _draw(g, name, shape, rng):
    node, idx = _final_consumer(g, name)
    role = WEIGHT_ROLES.get((node.op_type, idx))
    if role == "he":
        return rng.standard_normal(shape) * np.sqrt(2.0 / _fan_in(node, shape))
    if role == "small":
        return rng.uniform(-0.1, 0.1, shape)
    if role == "positive":
        return rng.uniform(0.5, 1.5, shape)
    raise ValueError("weight %s feeds %s input %d: no rule to draw it"
                     % (name, node.op_type, idx))


def _expose_logits(g):
    """Adds the input of a final Softmax as a graph output: random weights
    often saturate the probabilities, which then hide errors in the logits."""
    outs = {o.name for o in g.output}
    for n in g.node:
        if n.op_type == "Softmax" and n.output[0] in outs:
            g.output.append(onnx.helper.make_tensor_value_info(
                n.input[0], onnx.TensorProto.FLOAT, None))


def randomize_weights(src, dst, seed):
    """Copies SRC to DST with each ConstantOfShape weight made a seeded random
    initializer of the same shape, and the logits exposed as an output."""
    m = onnx.load(src)
    g = m.graph
    rng = np.random.default_rng(seed)
    inits = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    makers = [n for n in g.node if n.op_type == "ConstantOfShape"]
    for n in makers:
        shape = [int(d) for d in inits[n.input[0]]]
        w = _draw(g, n.output[0], shape, rng).astype(np.float32)
        g.initializer.append(numpy_helper.from_array(w, n.output[0]))
        g.node.remove(n)
    unused = {n.input[0] for n in makers} - {x for n in g.node for x in n.input}
    for i in [i for i in g.initializer if i.name in unused]:
        g.initializer.remove(i)
    for i in [i for i in g.input if i.name in unused]:
        g.input.remove(i)
    _expose_logits(g)
    onnx.save(m, dst)


def compare(got, ref, rtol, atol):
    """(ok, detail) for np.allclose(got, ref, rtol, atol) with shapes checked."""
    got = np.asarray(got)
    if got.shape != ref.shape:
        return False, "shape %s, expected %s" % (got.shape, ref.shape)
    err = np.abs(got.astype(np.float64) - ref)
    ok = bool(np.allclose(got, ref, rtol=rtol, atol=atol))
    worst = np.unravel_index(np.argmax(err - rtol * np.abs(ref)), err.shape)
    return ok, "max |err| %.3g (ref scale %.3g, worst at %s: %.6g vs %.6g)" % (
        err.max(), np.abs(ref).max(), tuple(int(i) for i in worst),
        got[worst], ref[worst])
