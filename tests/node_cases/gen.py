#!/usr/bin/env python3
"""Writes the graph interpreter's own node cases (model.onnx +
test_data_set_0, as ONNX's node suite lays them out) for the edge cases
that suite leaves out: TopK on NaN, -0/+0, infinities, int64 extremes,
k = 0 and opset 1; NonZero on floats with NaN, 3-D and all-zero inputs;
Einsum in implicit form (upper case first), with three inputs, ellipsis
broadcasting, ellipsis axes summed, a 3-way diagonal, blanks, integers,
and the forms its loop lowering treats apart (wrapping uint8 sums, four
int64 inputs, a uint32 scalar, an ellipsis diagonal, a label summed in one
input only, labels of size 1, a summed label of size 0);
the losses on f64 with int32 labels, f16, and a negative ignore_index;
Unique on NaN and -0/+0, unsorted along an axis, on int32 slices;
NonMaxSuppression without a score threshold, with a zero
max_output_boxes_per_class (none kept), with tied scores in the center
format; Compress without axis on a shorter condition; ReverseSequence on
3-D integers; TensorScatter without write_indices, circular on f16;
LinearAttention with an f32 state beside f16 activations.
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

    data_dependent()
    einsum_lowering()


def einsum_lowering():
    """Einsum forms that passes/lower_einsum.c treats apart."""
    def u8(*shape):
        return rng.integers(0, 256, shape).astype(np.uint8)

    def i64(*shape):
        return rng.integers(-5, 5, shape).astype(np.int64)

    einsum("uint8_wraps", "ij,jk->ik", u8(3, 4), u8(4, 5))
    einsum("int64_four_inputs", "ij,jk,kl,lm->im", i64(2, 3), i64(3, 4), i64(4, 2), i64(2, 3))
    einsum("uint32_dot", "i,i->", rng.integers(0, 100, 7).astype(np.uint32),
           rng.integers(0, 100, 7).astype(np.uint32))
    einsum("ellipsis_diagonal", "...ii->...i", fl(3, 1, 4, 4))
    einsum("summed_in_one", "ij,k->i", fl(3, 4), fl(5))
    einsum("size1_labels", "ij,jk->ik", fl(1, 4), fl(4, 1))
    einsum("empty_sum", "ij,jk->ik", fl(2, 0), fl(0, 3))


def nms(name, boxes, scores, *args, **attrs):
    names = ["b", "s", "m", "i", "t"][:2 + len(args)]
    case("nms_" + name, h.make_node("NonMaxSuppression", names, ["y"], **attrs),
         dict(zip(names, (boxes, scores) + args)), 11)


def data_dependent():
    """The ops whose output length depends on the data, and the
    sequence-model ops of opsets 24 and 27."""
    unique = h.make_node("Unique", ["x"], ["y", "i", "inv", "c"])
    case("unique_nan_zero", unique, {"x": np.array([np.nan, 2, -0.0, np.nan, 0.0, 2, -1], np.float32)}, 11)
    unique = h.make_node("Unique", ["x"], ["y", "i", "inv", "c"], axis=0, sorted=0)
    case("unique_unsorted_axis0", unique, {"x": np.array([[3, 1], [0, 2], [3, 1], [0, 1]], np.int64)}, 11)
    unique = h.make_node("Unique", ["x"], ["y", "i", "inv"], axis=-2)
    case("unique_int32_3d", unique, {"x": rng.integers(0, 2, (2, 5, 2)).astype(np.int32)}, 11)

    boxes = rng.uniform(0, 4, (2, 7, 4)).astype(np.float32)
    scores = rng.uniform(0, 1, (2, 3, 7)).astype(np.float32)
    nms("no_score_threshold", boxes, scores, k(4), np.array([0.2], np.float32))
    nms("zero_max_output", boxes, scores, k(0), np.array([0.5], np.float32))
    nms("center_ties", boxes, np.full((2, 1, 7), 0.5, np.float32), k(5), np.array([0.1], np.float32),
        np.array([0.4], np.float32), center_point_box=1)

    compress = h.make_node("Compress", ["x", "c"], ["y"])
    case("compress_flat_short", compress, {"x": rng.integers(-9, 9, (3, 4)).astype(np.int64),
         "c": np.array([1, 0, 1, 1, 0, 1, 1], bool)}, 11)
    revseq = h.make_node("ReverseSequence", ["x", "l"], ["y"], batch_axis=0, time_axis=1)
    case("reversesequence_3d_int", revseq, {"x": rng.integers(0, 99, (3, 5, 2)).astype(np.int32),
         "l": np.array([5, 0, 3], np.int64)}, 10)
    scatter = h.make_node("TensorScatter", ["p", "u"], ["y"], axis=-3)
    case("tensorscatter_no_indices", scatter, {"p": fl(2, 6, 2, 3), "u": fl(2, 4, 2, 3)}, 24)
    scatter = h.make_node("TensorScatter", ["p", "u", "w"], ["y"], axis=1, mode="circular")
    case("tensorscatter_circular_f16", scatter, {"p": fl(3, 4, 2).astype(np.float16),
         "u": fl(3, 3, 2).astype(np.float16), "w": np.array([3, 0, 2], np.int64)}, 24)
    attn = h.make_node("LinearAttention", ["q", "k", "v", "s", "g", "b"], ["y", "s1"],
                       q_num_heads=4, kv_num_heads=2, chunk_size=2)
    case("linear_attention_f32_state_f16", attn, {
        "q": fl(1, 3, 8).astype(np.float16), "k": fl(1, 3, 4).astype(np.float16),
        "v": fl(1, 3, 6).astype(np.float16), "s": fl(1, 2, 2, 3),
        "g": -np.abs(fl(1, 3, 2)).astype(np.float16), "b": (rng.uniform(0, 1, (1, 3, 2))).astype(np.float16)}, 27)


if __name__ == "__main__":
    main()
