#!/usr/bin/env python3
"""Writes the graph interpreter's own node cases (model.onnx +
test_data_set_0, as ONNX's node suite lays them out) for the edge cases
that suite leaves out: TopK on NaN, -0/+0, infinities, int64 extremes,
k = 0 and opset 1; NonZero on floats with NaN, 3-D and all-zero inputs;
Einsum in implicit form (upper case first), with three inputs, ellipsis
broadcasting, ellipsis axes summed, a 3-way diagonal, blanks, integers;
the losses on f64 with int32 labels, f16, and a negative ignore_index.
Expected outputs come from onnx.reference.  The seed is fixed; rerun
after changing a case.

usage: python3 tests/node_cases/gen.py  (then: nnac-conformance tests/node_cases)
"""
import os

import numpy as np
import onnx
from onnx import helper as h, numpy_helper as nh
from onnx.reference import ReferenceEvaluator

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(15)


def case(name, node, inputs, opset):
    d = os.path.join(HERE, "test_" + name)
    os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
    ins = [h.make_tensor_value_info(k, h.np_dtype_to_tensor_dtype(v.dtype), v.shape)
           for k, v in inputs.items()]
    outs = [h.make_tensor_value_info(o, onnx.TensorProto.UNDEFINED, None) for o in node.output]
    model = h.make_model(h.make_graph([node], name, ins, outs),
                         opset_imports=[h.make_opsetid("", opset)], producer_name="nnac-tests")
    res = [np.asarray(r) for r in ReferenceEvaluator(model).run(None, inputs)]
    for o, r in zip(outs, res):
        o.type.tensor_type.elem_type = h.np_dtype_to_tensor_dtype(r.dtype)
    onnx.save(model, os.path.join(d, "model.onnx"))
    for i, (k, v) in enumerate(inputs.items()):
        with open(os.path.join(d, "test_data_set_0", f"input_{i}.pb"), "wb") as f:
            f.write(nh.from_array(v, k).SerializeToString())
    for i, (o, r) in enumerate(zip(node.output, res)):
        with open(os.path.join(d, "test_data_set_0", f"output_{i}.pb"), "wb") as f:
            f.write(nh.from_array(r, o).SerializeToString())


def fl(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def k(v):
    return np.array([v], np.int64)


def einsum(name, eq, *ins):
    node = h.make_node("Einsum", [f"x{i}" for i in range(len(ins))], ["y"], equation=eq)
    case("einsum_" + name, node, {f"x{i}": v for i, v in enumerate(ins)}, 12)


def topk(name, x, kv, opset=11, **attrs):
    case("topk_" + name, h.make_node("TopK", ["x", "k"], ["v", "i"], **attrs), {"x": x, "k": k(kv)}, opset)


def nonzero(name, x):
    case("nonzero_" + name, h.make_node("NonZero", ["x"], ["y"]), {"x": x}, 13)


def main():
    einsum("implicit_upper", "Ab,bA", fl(2, 3), fl(3, 2))
    einsum("implicit_matmul", "ij,jk", fl(2, 3), fl(3, 4))
    einsum("trace", "ii", fl(4, 4))
    einsum("three_inputs", "ij,jk,kl->il", fl(2, 3), fl(3, 4), fl(4, 5))
    einsum("ellipsis_broadcast", "...ij,...jk->...ik", fl(2, 1, 2, 3), fl(3, 3, 4))
    einsum("ellipsis_implicit", "...ij,...jk", fl(2, 2, 3), fl(2, 3, 4))
    einsum("ellipsis_summed", "...ij->ij", fl(2, 3, 4))
    einsum("int32", "ij,jk->ik", rng.integers(-5, 5, (2, 3)).astype(np.int32),
           rng.integers(-5, 5, (3, 4)).astype(np.int32))
    einsum("f64_diagonal3", "iii->i", fl(3, 3, 3).astype(np.float64))
    einsum("outer", "i,j->ij", fl(3), fl(4))
    einsum("blanks", " i j , j k -> k i ", fl(2, 3), fl(3, 4))

    special = np.array([[1, np.nan, 3, 3, -0.0, 0.0, -np.inf, np.inf]], np.float32)
    topk("nan_largest", special, 8, axis=-1)
    topk("nan_smallest", special, 8, axis=1, largest=0)
    topk("axis0", fl(5, 3), 2, axis=0)
    topk("int64_extremes", np.array([5, -2**63, 2**63 - 1, 5, 0], np.int64), 4, axis=0, largest=0)
    topk("k0", fl(3, 4), 0)
    topk("f16", fl(2, 5, 3).astype(np.float16), 3, axis=1)
    case("topk_opset1", h.make_node("TopK", ["x"], ["v", "i"], k=2), {"x": fl(3, 4)}, 1)

    nonzero("float_nan", np.array([[0, 1.5, np.nan], [0, 0, -1]], np.float32))
    nonzero("int32_3d", rng.integers(0, 2, (2, 3, 2)).astype(np.int32))
    nonzero("all_zero", np.zeros((2, 3), np.int64))

    sce = h.make_node("SoftmaxCrossEntropyLoss", ["x", "t", "w"], ["y", "lp"], ignore_index=2)
    case("sce_f64_int32_weight_ii", sce, {"x": fl(3, 4, 2).astype(np.float64),
         "t": np.array([[0, 2], [3, 1], [2, 2]], np.int32), "w": fl(4).astype(np.float64)}, 13)
    sce = h.make_node("SoftmaxCrossEntropyLoss", ["x", "t", "w"], ["y"], reduction="sum")
    case("sce_f16_sum", sce, {"x": fl(3, 4).astype(np.float16), "t": np.array([0, 3, 1], np.int64),
         "w": np.abs(fl(4)).astype(np.float16)}, 13)
    nll = h.make_node("NegativeLogLikelihoodLoss", ["x", "t"], ["y"], reduction="none", ignore_index=-5)
    case("nll_none_negative_ii", nll, {"x": fl(2, 3, 2), "t": np.array([[0, -5], [2, 1]], np.int64)}, 13)


if __name__ == "__main__":
    main()
