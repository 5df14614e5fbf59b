"""Writes node cases for the bitwise, normalization and signal ops (issue 15)
that ONNX's node suite leaves out, in its format (CASE/model.onnx,
CASE/test_data_set_0/{input,output}_K.pb).

Covered: Hardmax with ties and NaN, and before opset 13 (2-D coercion);
LpNormalization with p=1 on negative values; LpPool with ceil_mode,
dilations, pads and p=3; GroupNormalization-18 (scale and bias per group);
MeanVarianceNormalization over axis 1; CumProd on int64 reversed and
exclusive, wrapping; Det on a batch with a singular matrix;
DynamicQuantizeLinear on negative values only; BitCast f16 -> int16;
BitwiseNot on uint16; BitwiseAnd broadcasting int64; HammingWindow
symmetric as double; MelWeightMatrix as double; BatchNormalization-15
training mode on [N, C]; Dropout-13 with training_mode false at run time.

Expected outputs come from onnx.reference, except where it departs from
the operator's definition (noted at the case), where NumPy computes them.

usage: python3 tests/node_cases/make_math_cases.py   (then run
    build/nnac-conformance --label node-cases tests/node_cases)
"""
import sys

import numpy as np
import onnx

sys.dont_write_bytecode = True   # no __pycache__ among the cases
from casefile import node_case as case  # noqa: E402

rng = np.random.default_rng(1515)


def normal(*shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


def hardmax_2d(x, axis):
    """Hardmax before opset 13: X coerced to 2-D at axis, first maximum per row."""
    rows = int(np.prod(x.shape[:axis]))
    flat = x.reshape(rows, -1)
    y = np.zeros_like(flat)
    y[np.arange(rows), np.argmax(flat, axis=1)] = 1
    return y.reshape(x.shape)


def lp_pool_ceil_dil_p3(x):
    """The case's LpPool: kernel [2, 3], strides 2, dilations [2, 1], pads
    top 1 and right 1, ceil_mode giving a 4 x 3 output; taps past the
    padded input count as zeros too."""
    xp = np.zeros(x.shape[:2] + (9, 8), np.float64)
    xp[:, :, 1:8, 0:6] = np.abs(x) ** 3
    y = np.zeros(x.shape[:2] + (4, 3), np.float64)
    for r in range(4):
        for c in range(3):
            y[:, :, r, c] = xp[:, :, 2 * r:2 * r + 3:2, 2 * c:2 * c + 3].sum(axis=(2, 3))
    return (y ** (1 / 3)).astype(np.float32)


def normalization_cases():
    x = np.array([[[1, 3, 3, 0], [2, 2, 1, 2], [np.nan, 5, 5, np.nan]]], np.float32)
    case("math_hardmax_ties_nan", "Hardmax", [("X", x)], ["Y"], 13, axis=-1)
    x = normal(2, 3, 4)
    case("math_hardmax_opset11", "Hardmax", [("X", x)], ["Y"], 11,
         expected=[hardmax_2d(x, 1)], axis=1)
    # onnx.reference raises x to the power p without |x|: the L1 norm is sum |x|.
    x = normal(3, 4)
    case("math_lpnorm_l1_negative", "LpNormalization", [("X", x)], ["Y"], 1,
         expected=[(x / np.abs(x).sum(axis=0, keepdims=True)).astype(np.float32)], axis=0, p=1)
    # onnx.reference scales a window's sum by kernel size / real taps (it pools
    # through AveragePool); padding taps are zeros, adding nothing to the sum.
    x = normal(1, 2, 7, 6)
    case("math_lppool_ceil_dil_p3", "LpPool", [("X", x)], ["Y"], 18,
         expected=[lp_pool_ceil_dil_p3(x)],
         kernel_shape=[2, 3], strides=[2, 2], dilations=[2, 1], pads=[1, 0, 0, 1], ceil_mode=1, p=3)
    case("math_group_norm_opset18", "GroupNormalization",
         [("X", normal(2, 4, 3)), ("scale", normal(2)), ("bias", normal(2))], ["Y"], 18,
         num_groups=2, epsilon=1e-3)
    case("math_mvn_axis1", "MeanVarianceNormalization", [("X", normal(2, 3, 4))], ["Y"], 13,
         axes=[1])
    x = np.array([[3, -2, 5 << 40, 7], [1 << 62, 3, -1, 2]], np.int64)
    case("math_cumprod_i64_rev_excl", "CumProd", [("x", x), ("axis", np.array(1, np.int64))],
         ["y"], 14, exclusive=1, reverse=1)


def math_cases():
    x = normal(2, 3, 3, 3, dtype=np.float64)
    x[1, 2, 2] = x[1, 2, 0] * 2   # a singular matrix
    case("math_det_batch_singular", "Det", [("X", x)], ["Y"], 11)
    case("math_dql_negative", "DynamicQuantizeLinear", [("x", -np.abs(normal(3, 5)) * 4)],
         ["y", "y_scale", "y_zero_point"], 11)
    case("math_bitcast_f16_i16", "BitCast",
         [("x", np.array([1.5, -0.0, np.inf, 65504], np.float16))], ["y"], 26,
         expected=[np.array([1.5, -0.0, np.inf, 65504], np.float16).view(np.int16)],
         to=onnx.TensorProto.INT16)
    case("math_bitwise_not_u16", "BitwiseNot",
         [("X", rng.integers(0, 1 << 16, (3, 4)).astype(np.uint16))], ["Y"], 18)
    case("math_bitwise_and_i64_bcast", "BitwiseAnd",
         [("A", rng.integers(-1 << 62, 1 << 62, (2, 3, 4), dtype=np.int64)),
          ("B", np.array([-1, 0, 255, -256], np.int64))], ["C"], 18)


def signal_cases():
    case("math_hamming_symmetric_f64", "HammingWindow", [("size", np.array(7, np.int64))],
         ["y"], 17, periodic=0, output_datatype=onnx.TensorProto.DOUBLE)
    case("math_melweight_f64", "MelWeightMatrix",
         [("num_mel_bins", np.array(5, np.int64)), ("dft_length", np.array(32, np.int64)),
          ("sample_rate", np.array(8000, np.int64)), ("lower_edge_hertz", np.array(100, np.float32)),
          ("upper_edge_hertz", np.array(3800, np.float32))], ["y"], 17,
         output_datatype=onnx.TensorProto.DOUBLE)


def training_cases():
    case("math_batchnorm_training_2d", "BatchNormalization",
         [("X", normal(4, 3)), ("scale", normal(3)), ("B", normal(3)), ("mean", normal(3)),
          ("var", np.abs(normal(3)))], ["Y", "running_mean", "running_var"], 15,
         training_mode=1, momentum=0.8)
    x = normal(2, 5)
    case("math_dropout_mode_false", "Dropout",
         [("x", x), ("r", np.array(0.5, np.float32)), ("t", np.array(False))], ["y", "mask"], 13,
         expected=[x, np.ones(x.shape, bool)])


if __name__ == "__main__":
    normalization_cases()
    math_cases()
    signal_cases()
    training_cases()
