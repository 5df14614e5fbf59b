#!/usr/bin/env python3
"""Writes the small bundled ONNX models in models/ with seeded weights.

For each model NAME it writes NAME.onnx, a seeded input NAME_input.npy
(float32) and NAME_expected.npy, the first output ONNX Runtime computes for
that input; tests compare nnac against these references.  The script is
deterministic: running it twice gives byte-identical files.

usage: python3 models/make_models.py
"""
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

OPSET = 13
SEED = 20240531
MODEL_DIR = os.path.dirname(os.path.abspath(__file__))


class GraphBuilder:
    """Collects nodes and initializers; names weights after their node."""

    def __init__(self, rng):
        self.rng = rng
        self.nodes = []
        self.initializers = []

    def constant(self, name, array):
        self.initializers.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def he_weight(self, name, shape, fan_in):
        std = np.sqrt(2.0 / fan_in)
        return self.constant(name, (self.rng.standard_normal(shape) * std).astype(np.float32))

    def small_bias(self, name, n):
        return self.constant(name, (self.rng.standard_normal(n) * 0.05).astype(np.float32))

    def node(self, op, inputs, name, outputs=None, **attrs):
        outputs = outputs or [name]
        self.nodes.append(helper.make_node(op, inputs, outputs, name=name, **attrs))
        return outputs[0]

    def conv(self, x, name, cin, cout, k, pad=0):
        w = self.he_weight(name + ".weight", (cout, cin, k, k), cin * k * k)
        b = self.small_bias(name + ".bias", cout)
        return self.node("Conv", [x, w, b], name, kernel_shape=[k, k], pads=[pad] * 4)

    def batchnorm(self, x, name, channels):
        scale = self.constant(name + ".scale", self.rng.uniform(0.8, 1.2, channels).astype(np.float32))
        bias = self.small_bias(name + ".bias", channels)
        mean = self.small_bias(name + ".mean", channels)
        var = self.constant(name + ".var", self.rng.uniform(0.5, 1.5, channels).astype(np.float32))
        return self.node("BatchNormalization", [x, scale, bias, mean, var], name, epsilon=1e-5)

    def gemm(self, x, name, nin, nout, outputs=None):
        w = self.he_weight(name + ".weight", (nout, nin), nin)
        b = self.small_bias(name + ".bias", nout)
        return self.node("Gemm", [x, w, b], name, outputs, transB=1)

    def model(self, name, inputs, outputs):
        graph = helper.make_graph(self.nodes, name, inputs, outputs, self.initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="nnac-make_models")
        model.ir_version = 8
        onnx.checker.check_model(model, full_check=True)
        return model


def float_info(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def make_lenet5(rng):
    g = GraphBuilder(rng)
    x = g.conv("input", "conv1", 1, 6, 5, pad=2)
    x = g.batchnorm(x, "bn1", 6)
    x = g.node("Relu", [x], "relu1")
    x = g.node("MaxPool", [x], "pool1", kernel_shape=[2, 2], strides=[2, 2])
    x = g.conv(x, "conv2", 6, 16, 5)
    x = g.node("Relu", [x], "relu2")
    x = g.node("MaxPool", [x], "pool2", kernel_shape=[2, 2], strides=[2, 2])
    x = g.node("Flatten", [x], "flatten", axis=1)
    x = g.node("Relu", [g.gemm(x, "fc1", 400, 120)], "relu3")
    x = g.node("Relu", [g.gemm(x, "fc2", 120, 84)], "relu4")
    x = g.gemm(x, "fc3", 84, 10)
    g.node("Softmax", [x], "softmax", outputs=["output"], axis=1)
    model = g.model("lenet5", [float_info("input", [1, 1, 28, 28])], [float_info("output", [1, 10])])
    return model, drawn_digit(rng)


def drawn_digit(rng):
    """A '7'-like stroke drawn with soft round pen blobs, MNIST-style scale."""
    yy, xx = np.mgrid[0:28, 0:28].astype(np.float32)
    stroke = [(6.0, x) for x in np.linspace(7, 21, 12)]
    stroke += [(y, 21 - (y - 6) * 0.45) for y in np.linspace(6, 23, 14)]
    image = np.zeros((28, 28), np.float32)
    for cy, cx in stroke:
        cy += rng.normal(0, 0.3)
        cx += rng.normal(0, 0.3)
        image = np.maximum(image, np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 2.0))
    image = (image - 0.1307) / 0.3081
    return image.reshape(1, 1, 28, 28).astype(np.float32)


def make_mlp(rng):
    g = GraphBuilder(rng)
    w1 = g.he_weight("fc1.weight", (64, 128), 64)
    x = g.node("MatMul", ["input", w1], "fc1.matmul")
    x = g.node("Add", [x, g.small_bias("fc1.bias", 128)], "fc1.add")
    x = g.node("Relu", [x], "relu1")
    x = g.node("Relu", [g.gemm(x, "fc2", 128, 64)], "relu2")
    g.gemm(x, "fc3", 64, 10, outputs=["output"])
    model = g.model("mlp", [float_info("input", [1, 64])], [float_info("output", [1, 10])])
    return model, rng.standard_normal((1, 64)).astype(np.float32)


def make_resblock(rng):
    g = GraphBuilder(rng)
    x = g.conv("input", "conv1", 16, 16, 3, pad=1)
    x = g.node("Relu", [g.batchnorm(x, "bn1", 16)], "relu1")
    x = g.conv(x, "conv2", 16, 16, 3, pad=1)
    x = g.batchnorm(x, "bn2", 16)
    x = g.node("Add", [x, "input"], "skip_add")
    g.node("Relu", [x], "relu_out", outputs=["output"])
    shape = [1, 16, 16, 16]
    model = g.model("resblock", [float_info("input", shape)], [float_info("output", shape)])
    return model, rng.standard_normal(shape).astype(np.float32)


def make_lstm_cell(rng):
    seq, batch, n_in, hidden = 5, 1, 8, 16
    g = GraphBuilder(rng)
    bound = 1.0 / np.sqrt(hidden)

    def uniform(shape):
        return rng.uniform(-bound, bound, shape).astype(np.float32)

    w = g.constant("lstm.W", uniform((1, 4 * hidden, n_in)))
    r = g.constant("lstm.R", uniform((1, 4 * hidden, hidden)))
    b = g.constant("lstm.B", uniform((1, 8 * hidden)))
    g.node("LSTM", ["input", w, r, b], "lstm", outputs=["Y", "Y_h"], hidden_size=hidden)
    model = g.model("lstm_cell", [float_info("input", [seq, batch, n_in])],
                    [float_info("Y", [seq, 1, batch, hidden]), float_info("Y_h", [1, batch, hidden])])
    return model, rng.standard_normal((seq, batch, n_in)).astype(np.float32)


def ort_first_output(model, x):
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(model.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    return session.run(None, {"input": x})[0]


def main():
    rng = np.random.default_rng(SEED)
    for make in (make_lenet5, make_mlp, make_resblock, make_lstm_cell):
        name = make.__name__[len("make_"):]
        model, x = make(rng)
        base = os.path.join(MODEL_DIR, name)
        with open(base + ".onnx", "wb") as f:
            f.write(model.SerializeToString())
        np.save(base + "_input.npy", x)
        np.save(base + "_expected.npy", ort_first_output(model, x))
        print(f"{name}: {os.path.getsize(base + '.onnx')} bytes")


if __name__ == "__main__":
    main()
