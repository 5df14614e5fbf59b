#!/usr/bin/env python3
"""Writes the models of the golden cases run_initializer_*: y = x + w, with
w an initializer of four ones that graph.input lists too.

  override_ir7.onnx   IR version 7: w is the input's default value, which
                      `nnac run --input w=...` overrides
  override_ir3.onnx   IR version 3: w is a constant, --input w is refused
  override_x.npy      x = [0, 1, 2, 3]
  override_w10.npy    w = [10, 10, 10, 10]

The script is deterministic; rerun it after changing a model.
"""
import os

import numpy as np
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))


def save(filename, ir_version):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])
    w = helper.make_tensor_value_info("w", TensorProto.FLOAT, [4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])
    graph = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"], name="add")], "override",
                              [x, w], [y], [numpy_helper.from_array(np.ones(4, np.float32), "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = ir_version
    with open(os.path.join(HERE, filename), "wb") as f:
        f.write(model.SerializeToString())


def main():
    save("override_ir7.onnx", 7)
    save("override_ir3.onnx", 3)
    np.save(os.path.join(HERE, "override_x.npy"), np.arange(4, dtype=np.float32))
    np.save(os.path.join(HERE, "override_w10.npy"), np.full(4, 10, np.float32))


if __name__ == "__main__":
    main()
