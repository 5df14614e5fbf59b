"""Writes interpreter test cases the ONNX node suites leave out, in their
format (CASE/model.onnx, CASE/test_data_set_0/{input,output}_K.pb), with
expected outputs from onnx.reference (onnx 1.23.2 wrote the shipped ones).

Covered: Attention with nonpad_kv_seqlen, is_causal and a bool mask shorter
than the keys; 3-D grouped-query Attention with a past cache, causal bool
mask, softcap and qk_matmul_output mode 2; double inputs with a rank-1 mask,
mode 3 and softmax_precision; rows whose mask is -inf everywhere, bfloat16
and an empty past cache (for the loop lowering, drawn from a generator of
their own); RotaryEmbedding on 3-D input, interleaved and partial, with
and without position_ids, and for its loop lowering on f16 (expected
outputs computed in double and rounded once, as nnac computes), with a
single head and token, and with one rotated pair per head.  Control flow, which shape inference
inlines: If on a condition computed at run time (both branches run, Where
selects) reading outer values; Loop carrying a value, stacking a scan
output, stopping early on a condition the body computes, with an If nested
in its body that reads the body's and the graph's values; Scan over two
inputs along axis 1, one reversed, stacking a reversed output along -1.

usage: python3 tests/node_cases/make_cases.py   (then run
    build/nnac-conformance --label node-cases tests/node_cases)
"""
import sys

import ml_dtypes
import numpy as np
import onnx
from onnx import helper
from onnx.reference import ReferenceEvaluator

sys.dont_write_bytecode = True   # no __pycache__ among the cases
from casefile import node_case as case, write_case  # noqa: E402

rng = np.random.default_rng(15)


def normal(*shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


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



def rotary_f16_case(name, inputs, **attrs):
    """An f16 RotaryEmbedding case whose expected output is computed in
    double and rounded once to f16 (onnx.reference computes in f16)."""
    wide = {n: a.astype(np.float64) if a.dtype == np.float16 else a for n, a in inputs}
    node = helper.make_node("RotaryEmbedding", list(wide), ["Y"], **attrs)
    graph = helper.make_graph(
        [node], name, [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
                       for n, a in wide.items()],
        [helper.make_tensor_value_info("Y", onnx.TensorProto.UNDEFINED, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 23)])
    y = ReferenceEvaluator(model).run(None, wide)[0]
    case(name, "RotaryEmbedding", inputs, ["Y"], 23, expected=[y.astype(np.float16)], **attrs)


def rotary_lowering_cases():
    """RotaryEmbedding forms that passes/lower_rope.c treats apart."""
    f16 = np.float16
    rotary_f16_case("rotary_embedding_f16_interleaved_rotary_dim",
                    [("X", normal(2, 3, 4, 8, dtype=f16)), ("cos_cache", normal(10, 3, dtype=f16)),
                     ("sin_cache", normal(10, 3, dtype=f16)), ("position_ids", rng.integers(0, 10, (2, 4)))],
                    interleaved=1, rotary_embedding_dim=6)
    case("rotary_embedding_3d_single_head_token", "RotaryEmbedding",
         [("X", normal(1, 1, 6)), ("cos_cache", normal(5, 3)), ("sin_cache", normal(5, 3)),
          ("position_ids", np.array([[4]], np.int64))],
         ["Y"], 23, num_heads=1)
    case("rotary_embedding_one_pair_num_heads_no_position_ids", "RotaryEmbedding",
         [("X", normal(1, 2, 3, 4)), ("cos_cache", normal(1, 3, 1)), ("sin_cache", normal(1, 3, 1))],
         ["Y"], 23, num_heads=2, interleaved=1, rotary_embedding_dim=2)


def body(name, nodes, inputs, outputs):
    """A body graph; inputs and outputs as (name, TensorProto type, shape)."""
    return helper.make_graph(nodes, name,
                             [helper.make_tensor_value_info(*v) for v in inputs],
                             [helper.make_tensor_value_info(*v) for v in outputs])


F, B, I = onnx.TensorProto.FLOAT, onnx.TensorProto.BOOL, onnx.TensorProto.INT64
mk = helper.make_node


def control_cases():
    # If on sign(sum(x)): x has 80 elements, more than specialization binds,
    # so the condition is known only at run time.
    for tag, shift in (("then", 1.0), ("else", -1.0)):
        x = normal(8, 10) + np.float32(shift)
        then_b = body("then", [mk("Mul", ["x", "w"], ["t_out"])], [], [("t_out", F, (8, 10))])
        else_b = body("else", [mk("Constant", [], ["one"], value_float=1.0),
                               mk("Sub", ["x", "one"], ["e_out"])], [], [("e_out", F, (8, 10))])
        write_case(f"if_runtime_condition_{tag}",
                   [mk("ReduceSum", ["x"], ["s"], keepdims=0), mk("Constant", [], ["zero"], value_float=0.0),
                    mk("Greater", ["s", "zero"], ["c"]),
                    mk("If", ["c"], ["y"], then_branch=then_b, else_branch=else_b)],
                   [("x", x)], ["y"], 17, inits=[("w", normal(10))])
    # Loop (values of rank 1: onnx.reference stacks scan outputs with
    # vstack, right only for them): at most 6 iterations, the body stops
    # after iteration 3; each
    # iteration halves the carried value and adds x or subtracts it as the
    # iteration number is even or odd (an If inside the body).
    even = body("even", [mk("Add", ["half", "x"], ["ev"])], [], [("ev", F, (6,))])
    odd = body("odd", [mk("Sub", ["half", "x"], ["od"])], [], [("od", F, (6,))])
    loop_b = body("loop", [
        mk("Constant", [], ["h"], value_float=0.5), mk("Mul", ["v_in", "h"], ["half"]),
        mk("Constant", [], ["two"], value_int=2), mk("Mod", ["i", "two"], ["r"]),
        mk("Constant", [], ["zero_i"], value_int=0), mk("Equal", ["r", "zero_i"], ["is_even"]),
        mk("If", ["is_even"], ["v_out"], then_branch=even, else_branch=odd),
        mk("Constant", [], ["three"], value_int=3), mk("Less", ["i", "three"], ["c_out"]),
        mk("Identity", ["v_out"], ["scan"])],
        [("i", I, ()), ("c_in", B, ()), ("v_in", F, (6,))],
        [("c_out", B, ()), ("v_out", F, (6,)), ("scan", F, (6,))])
    write_case("loop_early_exit_nested_if",
               [mk("Loop", ["m", "go", "v0"], ["v", "vs"], body=loop_b)],
               [("x", normal(6)), ("v0", normal(6))], ["v", "vs"], 17,
               inits=[("m", np.array(6, np.int64)), ("go", np.array(True))])
    # Scan: a running product state over slices along axis 1 of a and (read
    # backwards) b; the scan output is stacked in reverse along the last axis.
    scan_b = body("scan", [mk("Mul", ["p_in", "a_t"], ["prod"]), mk("Add", ["prod", "b_t"], ["p_out"]),
                           mk("Tanh", ["p_out"], ["y_t"])],
                  [("p_in", F, (3,)), ("a_t", F, (3,)), ("b_t", F, (3,))],
                  [("p_out", F, (3,)), ("y_t", F, (3,))])
    write_case("scan_axes_directions",
               [mk("Scan", ["p0", "a", "b"], ["p", "y"], body=scan_b, num_scan_inputs=2,
                   scan_input_axes=[1, 1], scan_input_directions=[0, 1], scan_output_axes=[-1],
                   scan_output_directions=[1])],
               [("p0", normal(3)), ("a", normal(3, 5)), ("b", normal(3, 5))], ["p", "y"], 16,
               oracle="ort")  # onnx.reference scans outputs forwards only


def attention_lowering_cases():
    """For the loop lowering (passes/lower_attn.c): rows whose float mask is -inf
    everywhere (zero probabilities) with present outputs and no past,
    bfloat16, which the loop IR stores through Mul by 1, and an empty past
    cache.  They draw from a generator of their own, so that they do not
    depend on how many numbers the generators before them draw."""
    global rng
    rng = np.random.default_rng(23)
    b, hq, hkv, sq, skv, d, dv = 2, 4, 2, 3, 6, 5, 4
    mask = normal(b, 1, sq, skv)
    mask[0, 0, 1, :] = -np.inf
    mask[1, 0, :, 4:] = -np.inf
    case("attention_4d_gqa_dead_rows_present_softmax_out", "Attention",
         [("Q", normal(b, hq, sq, d)), ("K", normal(b, hkv, skv, d)), ("V", normal(b, hkv, skv, dv)),
          ("attn_mask", mask)],
         ["Y", "present_key", "present_value", "qk_matmul_output"], 23, qk_matmul_output_mode=3)
    # The reference computes bfloat16 in bfloat16; nnac in double, rounding
    # once: the expected outputs are the reference's in double, rounded.
    bf16 = np.dtype(ml_dtypes.bfloat16)
    qkv = [normal(b, sq, hq * d), normal(b, skv, hkv * d), normal(b, skv, hkv * dv)]
    attrs = dict(is_causal=1, softcap=2.0, q_num_heads=hq, kv_num_heads=hkv, qk_matmul_output_mode=1)
    wide = helper.make_model(helper.make_graph(
        [mk("Attention", ["Q", "K", "V"], ["Y", "", "", "qk"], **attrs)], "wide",
        [helper.make_tensor_value_info(n, onnx.TensorProto.DOUBLE, None) for n in "QKV"],
        [helper.make_tensor_value_info(n, onnx.TensorProto.DOUBLE, None) for n in ("Y", "qk")]),
        opset_imports=[helper.make_opsetid("", 23)])
    narrow = [x.astype(bf16) for x in qkv]
    exact = ReferenceEvaluator(wide).run(None, {n: x.astype(np.float64) for n, x in zip("QKV", narrow)})
    case("attention_3d_bf16_causal_softcap_qk", "Attention",
         list(zip(("Q", "K", "V"), narrow)), ["Y", "", "", "qk_matmul_output"], 23,
         expected=[r.astype(bf16) for r in exact], **attrs)
    case("attention_4d_empty_past_causal", "Attention",
         [("Q", normal(b, hq, sq, d)), ("K", normal(b, hkv, skv, d)), ("V", normal(b, hkv, skv, dv)),
          ("", None), ("past_key", normal(b, hkv, 0, d)), ("past_value", normal(b, hkv, 0, dv))],
         ["Y", "present_key", "present_value"], 23, is_causal=1)


if __name__ == "__main__":
    attention_cases()
    rotary_cases()
    control_cases()
    rotary_lowering_cases()
    attention_lowering_cases()
