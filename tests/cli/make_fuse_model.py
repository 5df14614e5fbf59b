#!/usr/bin/env python3
"""Writes the model of the golden cases *_fuse_operand_order: a MatMul whose
elementwise consumers take the chained tensor as their second operand, as
PyTorch's exporter writes nn.Linear (Add(bias, y)) and the causal mask of
GPT-style attention (Where(mask, scores, min)):

  y = Where(keep, Max(floor, Sub(c, Add(bias, x @ w))), -1)

with every operand but the chained one a constant, so the lowering fuses
the five nodes into one kernel.  fuse_x.npy is the input.

The script is deterministic; rerun it after changing the model.
"""
import os

import numpy as np
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    rng = np.random.default_rng(15)
    consts = {
        "w": rng.standard_normal((8, 5)).astype(np.float32),
        "bias": rng.standard_normal(5).astype(np.float32),
        "c": rng.standard_normal(5).astype(np.float32),
        "floor": np.full((3, 5), -0.5, np.float32),
        "keep": rng.random((3, 5)) < 0.7,
        "minus1": np.array(-1, np.float32),
    }
    nodes = [helper.make_node("MatMul", ["x", "w"], ["t1"], name="matmul"),
             helper.make_node("Add", ["bias", "t1"], ["t2"], name="bias_add"),
             helper.make_node("Sub", ["c", "t2"], ["t3"], name="sub"),
             helper.make_node("Max", ["floor", "t3"], ["t4"], name="max"),
             helper.make_node("Where", ["keep", "t4", "minus1"], ["y"], name="where")]
    graph = helper.make_graph(nodes, "fuse_operand_order",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 5])],
                              [numpy_helper.from_array(v, k) for k, v in consts.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    with open(os.path.join(HERE, "fuse_operand_order.onnx"), "wb") as f:
        f.write(model.SerializeToString())
    np.save(os.path.join(HERE, "fuse_x.npy"), rng.standard_normal((3, 8)).astype(np.float32))


if __name__ == "__main__":
    main()
