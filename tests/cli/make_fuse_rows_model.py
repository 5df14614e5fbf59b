#!/usr/bin/env python3
"""Writes the model of the golden cases *_fuse_rows: attention scores as
PyTorch's exporter writes them, and a residual LayerNorm,

  p = Softmax(Add(Div(q @ k, 2), mask))          mask a graph input [1, 1, 1, 16]
  y = LayerNormalization(Add(p @ v, r), g, b)    r a graph input

Each chain is one kernel (the mask and r are computed before it runs), and
row fusion (passes/tile_rows.c) runs its elementwise nests and the row
op's passes row by row: scale, mask, max, exp, sum and normalize in one
loop over the rows of each head; add, mean, variance and normalize in one
loop over the rows of y (rows of 16: row fusion leaves rows shorter than
a vector alone).  fuse_rows_*.npy are the inputs.

The script is deterministic; rerun it after changing the model.
"""
import os

import numpy as np
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
INPUTS = {"q": [1, 2, 8, 4], "k": [1, 2, 4, 16], "v": [1, 2, 16, 16], "mask": [1, 1, 1, 16],
          "r": [1, 2, 8, 16]}


def main():
    rng = np.random.default_rng(16)
    consts = {"two": np.array(2, np.float32), "g": rng.standard_normal(16).astype(np.float32),
              "b": rng.standard_normal(16).astype(np.float32)}
    nodes = [helper.make_node("MatMul", ["q", "k"], ["s"], name="scores"),
             helper.make_node("Div", ["s", "two"], ["s2"], name="scale"),
             helper.make_node("Add", ["s2", "mask"], ["s3"], name="mask_add"),
             helper.make_node("Softmax", ["s3"], ["p"], name="softmax", axis=-1),
             helper.make_node("MatMul", ["p", "v"], ["o"], name="weigh"),
             helper.make_node("Add", ["o", "r"], ["o2"], name="residual"),
             helper.make_node("LayerNormalization", ["o2", "g", "b"], ["y"], name="norm", axis=-1)]
    graph = helper.make_graph(nodes, "fuse_rows",
                              [helper.make_tensor_value_info(k, TensorProto.FLOAT, s) for k, s in INPUTS.items()],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 8, 16])],
                              [numpy_helper.from_array(v, k) for k, v in consts.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with open(os.path.join(HERE, "fuse_rows.onnx"), "wb") as f:
        f.write(model.SerializeToString())
    for k, s in INPUTS.items():
        x = rng.standard_normal(s).astype(np.float32)
        if k == "mask":
            x = np.where(rng.random(s) < 0.25, np.float32(-1e4), np.float32(0))
        np.save(os.path.join(HERE, "fuse_rows_%s.npy" % k), x.astype(np.float32))


if __name__ == "__main__":
    main()
