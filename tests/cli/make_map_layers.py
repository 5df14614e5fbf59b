#!/usr/bin/env python3
"""Writes tests/cli/map_layers.onnx: one node of every layer shape that
`nnac map` reads (passes/df_layers.c), each on its own graph input, so
that the golden case map_layers_dims can check the N G K C P Q R S,
stride and dilation the mapper is given, whatever the cost model.

  conv1d      Conv, 1-D: x [2,4,32], w [8,4,3], stride 2, dilation 2, pads 1
              -> N 2, K 8, C 4, P 1, Q 15, R 1, S 3, stride 1x2, dilation 1x2
  grouped     Conv, group 2, stride 2, pads 1: x [1,8,15,15], w [6,4,3,3]
              -> G 2, K 3, C 4, P 8, Q 8, R 3, S 3
  depthwise   Conv, group 6: x [1,6,9,9], w [6,1,3,3] -> G 6, K 1, C 1, P 7, Q 7
  rect        Conv, kernel 1x3 with strides 3x1: x [1,2,10,12], w [5,2,1,3]
              -> P 4, Q 10, R 1, S 3, stride 3x1
  gemm_t      Gemm, transA and transB: a [16,3], b [7,16] -> N 3, C 16, K 7
  mm_shared   MatMul, batched A over a 2-D B (shared weights):
              a [2,5,6], b [6,4] -> N 10, G 1, C 6, K 4
  mm_batched  MatMul, both batched, broadcast: a [3,1,5,6], b [4,6,2]
              -> G 12, N 5, C 6, K 2
  mm_vec      MatMul, 1-D A: a [6], b [6,3] -> N 1, C 6, K 3
  mm_int      MatMulInteger: a u8 [4,6], b u8 [6,5] -> N 4, C 6, K 5
  conv_int    ConvInteger: x u8 [1,3,6,6], w u8 [2,3,3,3] -> K 2, C 3, P 4, Q 4
  qconv       QLinearConv (W is input 3), group 2, pads 1: x u8 [1,4,5,5],
              w u8 [4,2,3,3] -> G 2, K 2, C 2, P 5, Q 5
  qmm         QLinearMatMul (B is input 3): a u8 [2,3,8], b u8 [8,5]
              -> N 6, C 8, K 5

The script is deterministic; rerun it after changing a layer.

usage: python3 tests/cli/make_map_layers.py
"""
import os

import numpy as np
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
FLOAT, U8 = TensorProto.FLOAT, TensorProto.UINT8


class Builder:
    def __init__(self):
        self.nodes, self.inputs, self.outputs, self.inits = [], [], [], []

    def layer(self, op, name, x_shape, w_shape, elem=FLOAT, w_const=True, **attrs):
        """Node `name` of type op on input `name`_x and weight `name`_w."""
        x, w, y = name + "_x", name + "_w", name + "_y"
        self.inputs.append(helper.make_tensor_value_info(x, elem, x_shape))
        if w_const:
            dt = np.float32 if elem == FLOAT else np.uint8
            self.inits.append(numpy_helper.from_array(np.ones(w_shape, dt), w))
        else:
            self.inputs.append(helper.make_tensor_value_info(w, elem, w_shape))
        out_elem = FLOAT if elem == FLOAT else TensorProto.INT32
        self.outputs.append(helper.make_tensor_value_info(y, out_elem, None))
        self.nodes.append(helper.make_node(op, [x, w], [y], name=name, **attrs))

    def qlinear(self, op, name, x_shape, w_shape, **attrs):
        """A QLinear node: u8 X and W (input 3), scales 1, zero points 0."""
        x, w, y = name + "_x", name + "_w", name + "_y"
        self.inputs.append(helper.make_tensor_value_info(x, U8, x_shape))
        self.inits.append(numpy_helper.from_array(np.ones(w_shape, np.uint8), w))
        qp = []
        for what in ("x", "w", "y"):
            scale, zp = f"{name}_{what}_scale", f"{name}_{what}_zp"
            self.inits.append(numpy_helper.from_array(np.array(1.0, np.float32), scale))
            self.inits.append(numpy_helper.from_array(np.array(0, np.uint8), zp))
            qp.append((scale, zp))
        ins = [x, *qp[0], w, *qp[1], *qp[2]]
        self.outputs.append(helper.make_tensor_value_info(y, U8, None))
        self.nodes.append(helper.make_node(op, ins, [y], name=name, **attrs))


def main():
    b = Builder()
    b.layer("Conv", "conv1d", [2, 4, 32], [8, 4, 3], strides=[2], dilations=[2], pads=[1, 1])
    b.layer("Conv", "grouped", [1, 8, 15, 15], [6, 4, 3, 3], group=2, strides=[2, 2],
            pads=[1, 1, 1, 1])
    b.layer("Conv", "depthwise", [1, 6, 9, 9], [6, 1, 3, 3], group=6)
    b.layer("Conv", "rect", [1, 2, 10, 12], [5, 2, 1, 3], strides=[3, 1])
    b.layer("Gemm", "gemm_t", [16, 3], [7, 16], transA=1, transB=1)
    b.layer("MatMul", "mm_shared", [2, 5, 6], [6, 4])
    b.layer("MatMul", "mm_batched", [3, 1, 5, 6], [4, 6, 2], w_const=False)
    b.layer("MatMul", "mm_vec", [6], [6, 3])
    b.layer("MatMulInteger", "mm_int", [4, 6], [6, 5], elem=U8)
    b.layer("ConvInteger", "conv_int", [1, 3, 6, 6], [2, 3, 3, 3], elem=U8)
    b.qlinear("QLinearConv", "qconv", [1, 4, 5, 5], [4, 2, 3, 3], group=2, pads=[1, 1, 1, 1])
    b.qlinear("QLinearMatMul", "qmm", [2, 3, 8], [8, 5])
    graph = helper.make_graph(b.nodes, "map_layers", b.inputs, b.outputs, b.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="nnac-tests")
    model.ir_version = 8
    with open(os.path.join(HERE, "map_layers.onnx"), "wb") as f:
        f.write(model.SerializeToString())


if __name__ == "__main__":
    main()
