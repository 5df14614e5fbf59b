"""Writes interpreter test cases the ONNX node suites leave out, in their
format (CASE/model.onnx, CASE/test_data_set_0/{input,output}_K.pb), with
expected outputs from onnx.reference (onnx 1.23.2 wrote the shipped ones).

Covered: Attention with nonpad_kv_seqlen, is_causal and a bool mask shorter
than the keys; 3-D grouped-query Attention with a past cache, causal bool
mask, softcap and qk_matmul_output mode 2; double inputs with a rank-1 mask,
mode 3 and softmax_precision; RotaryEmbedding on 3-D input, interleaved and
partial, with and without position_ids.

usage: python3 tests/node_cases/make_cases.py   (then run
    build/nnac-conformance --label node-cases tests/node_cases)
"""
import os

import numpy as np
import onnx
from onnx import helper, numpy_helper
from onnx.reference import ReferenceEvaluator

OUT = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(15)


def normal(*shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


def case(name, op, inputs, outputs, opset, **attrs):
    """inputs: (name, array) pairs and outputs names, '' for an absent optional one."""
    node = helper.make_node(op, [n for n, _ in inputs], outputs, **attrs)
    feeds = {n: a for n, a in inputs if n}
    outputs_present = [o for o in outputs if o]
    vis = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
           for n, a in feeds.items()]
    untyped = [helper.make_tensor_value_info(o, onnx.TensorProto.UNDEFINED, None)
               for o in outputs_present]
    model = helper.make_model(helper.make_graph([node], name, vis, untyped),
                              opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 10
    results = ReferenceEvaluator(model).run(None, feeds)
    model.graph.ClearField("output")
    model.graph.output.extend(
        helper.make_tensor_value_info(o, helper.np_dtype_to_tensor_dtype(r.dtype), r.shape)
        for o, r in zip(outputs_present, results))
    data = os.path.join(OUT, name, "test_data_set_0")
    os.makedirs(data, exist_ok=True)
    onnx.save(model, os.path.join(OUT, name, "model.onnx"))
    for k, (n, a) in enumerate(feeds.items()):
        onnx.save_tensor(numpy_helper.from_array(a, n), os.path.join(data, f"input_{k}.pb"))
    for k, (o, r) in enumerate(zip(outputs_present, results)):
        onnx.save_tensor(numpy_helper.from_array(r, o), os.path.join(data, f"output_{k}.pb"))


def attention_cases():
    b, hq, hkv, sq, skv, past, d, dv = 2, 6, 2, 3, 5, 4, 4, 3
    case("attention_nonpad_causal_short_bool_mask", "Attention",
         [("Q", normal(b, hq, sq, d)), ("K", normal(b, hkv, skv, d)), ("V", normal(b, hkv, skv, dv)),
          ("attn_mask", rng.random((hq, sq, 3)) > 0.3), ("", None), ("", None),
          ("nonpad_kv_seqlen", np.array([5, 1], np.int64))],
         ["Y"], 24, is_causal=1)
    case("attention_3d_gqa_past_causal_bool_softcap_qk_bias", "Attention",
         [("Q", normal(b, sq, hq * d)), ("K", normal(b, skv, hkv * d)), ("V", normal(b, skv, hkv * dv)),
          ("attn_mask", rng.random((b, 1, sq, past + skv)) > 0.3),
          ("past_key", normal(b, hkv, past, d)), ("past_value", normal(b, hkv, past, dv))],
         ["Y", "present_key", "present_value", "qk_matmul_output"], 23,
         is_causal=1, q_num_heads=hq, kv_num_heads=hkv, softcap=1.5, qk_matmul_output_mode=2)
    case("attention_f64_rank1_mask_softmax_out", "Attention",
         [("Q", normal(b, hq, sq, d, dtype=np.float64)), ("K", normal(b, hkv, skv, d, dtype=np.float64)),
          ("V", normal(b, hkv, skv, dv, dtype=np.float64)), ("attn_mask", normal(skv, dtype=np.float64))],
         ["Y", "", "", "qk_matmul_output"], 23, qk_matmul_output_mode=3, softmax_precision=11, scale=0.3)


def rotary_cases():
    case("rotary_embedding_3d_interleaved_rotary_dim_no_position_ids", "RotaryEmbedding",
         [("X", normal(2, 5, 3 * 10)), ("cos_cache", normal(2, 5, 3)), ("sin_cache", normal(2, 5, 3))],
         ["Y"], 23, num_heads=3, interleaved=1, rotary_embedding_dim=6)
    case("rotary_embedding_3d_rotary_dim", "RotaryEmbedding",
         [("X", normal(2, 5, 3 * 10)), ("cos_cache", normal(9, 4)), ("sin_cache", normal(9, 4)),
          ("position_ids", rng.integers(0, 9, (2, 5)))],
         ["Y"], 23, num_heads=3, rotary_embedding_dim=8)


if __name__ == "__main__":
    attention_cases()
    rotary_cases()
