"""Extra loop-lowering cases (run by `nnac-conformance --loops tests/loop_cases`):
Conv/ConvTranspose/ConvInteger/QLinearConv, Gemm/MatMul/MatMulInteger/QLinearMatMul,
QuantizeLinear/DequantizeLinear over attribute combinations and dtypes the ONNX
node tests leave out.  Expected outputs from onnx.reference (numpy where noted).
Layout as the ONNX backend tests.  usage: python3 make_cases.py [OUT_DIR]"""
import os, shutil, sys
import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto
from onnx.reference import ReferenceEvaluator

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
rng = np.random.default_rng(1234)
NP2ONNX = {np.float32: TensorProto.FLOAT, np.float16: TensorProto.FLOAT16, np.float64: TensorProto.DOUBLE,
           np.int8: TensorProto.INT8, np.uint8: TensorProto.UINT8, np.int32: TensorProto.INT32,
           np.int64: TensorProto.INT64, np.uint32: TensorProto.UINT32, np.uint64: TensorProto.UINT64,
           np.int16: TensorProto.INT16, np.uint16: TensorProto.UINT16}

def onnx_type(a):
    return NP2ONNX[a.dtype.type]

def case(name, op, inputs, attrs=None, opset=13, consts=(), outputs=1, out_names=None, expect=None):
    """inputs: list of (name, array or None for absent)."""
    attrs = attrs or {}
    in_names = [n if a is not None else "" for n, a in inputs]
    while in_names and in_names[-1] == "":
        in_names.pop()
    outs = out_names or ["y%d" % i for i in range(outputs)]
    node = helper.make_node(op, in_names, outs, **attrs)
    ginputs, inits, feeds = [], [], {}
    for n, a in inputs:
        if a is None:
            continue
        if n in consts:
            inits.append(numpy_helper.from_array(a, n))
        else:
            ginputs.append(helper.make_tensor_value_info(n, onnx_type(a), list(a.shape)))
            feeds[n] = a
    sess_outs = [helper.make_tensor_value_info(o, TensorProto.UNDEFINED, None) for o in outs]
    graph = helper.make_graph([node], name, ginputs, sess_outs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    if expect == "f64":
        wide = [(n, a.astype(np.float64) if a is not None and a.dtype == np.float16 else a) for n, a in inputs]
        case("f64_" + name, op, wide, attrs, opset, consts, outputs, out_names)
        res = [r.astype(np.float16) for r in ReferenceEvaluator(os.path.join(ROOT, "test_f64_" + name, "model.onnx")).run(None, {n: a for n, a in wide if a is not None and n not in consts})]
        shutil.rmtree(os.path.join(ROOT, "test_f64_" + name))
    elif expect is not None:
        res = [expect(*[a for _, a in inputs])]
    elif op == "ConvTranspose" and attrs.get("group", 1) > 1:
        res = [convtr_numpy(*[a for _, a in inputs], **attrs)]
    else:
        ref = ReferenceEvaluator(model)
        res = ref.run(None, feeds)
    # declare output types
    graph.ClearField("output")
    for o, r in zip(outs, res):
        r = np.asarray(r)
        graph.output.append(helper.make_tensor_value_info(o, onnx_type(r), list(r.shape)))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    d = os.path.join(ROOT, "test_" + name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(os.path.join(d, "test_data_set_0"))
    onnx.save(model, os.path.join(d, "model.onnx"))
    k = 0
    for n, a in inputs:
        if a is None or n in consts:
            continue
        t = numpy_helper.from_array(a, n)
        open(os.path.join(d, "test_data_set_0", "input_%d.pb" % k), "wb").write(t.SerializeToString())
        k += 1
    for i, (o, r) in enumerate(zip(outs, res)):
        t = numpy_helper.from_array(np.asarray(r), o)
        open(os.path.join(d, "test_data_set_0", "output_%d.pb" % i), "wb").write(t.SerializeToString())

def convtr_numpy(x, w, b=None, group=1, strides=None, pads=None, output_padding=None, dilations=None):
    """ConvTranspose with explicit pads, by scattering (2-D)."""
    n, c, h, wd = x.shape
    mg, kh, kw = w.shape[1], w.shape[2], w.shape[3]
    sh, sw = strides or (1, 1)
    dh, dw = dilations or (1, 1)
    p = pads or (0, 0, 0, 0)
    op = output_padding or (0, 0)
    fh = sh * (h - 1) + op[0] + (kh - 1) * dh + 1
    fw = sw * (wd - 1) + op[1] + (kw - 1) * dw + 1
    full = np.zeros((n, mg * group, fh, fw), np.float64)
    cg = c // group
    for g in range(group):
        for ci in range(cg):
            cc = g * cg + ci
            for m in range(mg):
                for ky in range(kh):
                    for kx in range(kw):
                        full[:, g * mg + m, ky * dh: ky * dh + sh * (h - 1) + 1: sh, kx * dw: kx * dw + sw * (wd - 1) + 1: sw] += \
                            x[:, cc].astype(np.float64) * float(w[cc, m, ky, kx])
    y = full[:, :, p[0]: fh - p[2], p[1]: fw - p[3]]
    if b is not None:
        y = y + b.reshape(1, -1, 1, 1)
    return y.astype(x.dtype)

def f(shape, dt=np.float32):
    return rng.standard_normal(shape).astype(dt)

def i(shape, dt, lo=None, hi=None):
    info = np.iinfo(dt)
    lo = info.min if lo is None else lo
    hi = info.max if hi is None else hi
    return rng.integers(lo, hi, size=shape, endpoint=True).astype(dt)

def both(name, op, inputs, attrs=None, opset=13, const_names=(), **kw):
    """Once with everything as inputs, once with const_names as initializers."""
    case(name, op, inputs, attrs, opset, **kw)
    if const_names:
        case(name + "_const", op, inputs, attrs, opset, consts=const_names, **kw)

# ---- Conv ----
both("mac_conv2d_groups_pad_dil_stride", "Conv", [("x", f((2, 6, 11, 9))), ("w", f((4, 3, 3, 2))), ("b", f((4,)))],
     {"group": 2, "pads": [1, 2, 3, 0], "dilations": [2, 1], "strides": [2, 3]}, const_names=("w", "b"))
case("mac_conv2d_same_lower", "Conv", [("x", f((1, 3, 7, 8))), ("w", f((5, 3, 4, 3)))], {"auto_pad": "SAME_LOWER", "strides": [2, 2]})
case("mac_conv2d_same_upper", "Conv", [("x", f((1, 3, 7, 8))), ("w", f((5, 3, 4, 3)))], {"auto_pad": "SAME_UPPER", "strides": [1, 2]})
case("mac_conv2d_valid", "Conv", [("x", f((1, 3, 7, 8))), ("w", f((5, 3, 4, 3)))], {"auto_pad": "VALID", "strides": [2, 2]})
case("mac_conv2d_big_pads", "Conv", [("x", f((1, 2, 3, 3))), ("w", f((2, 2, 2, 2)))], {"pads": [4, 1, 2, 5]})
case("mac_conv2d_stride_tail", "Conv", [("x", f((1, 2, 10, 10))), ("w", f((3, 2, 3, 3)))], {"strides": [4, 4]})
case("mac_conv1d_depthwise", "Conv", [("x", f((2, 4, 13))), ("w", f((8, 1, 3))), ("b", f((8,)))], {"group": 4, "pads": [1, 1], "strides": [2]})
case("mac_conv3d_groups", "Conv", [("x", f((1, 4, 5, 6, 4))), ("w", f((6, 2, 2, 3, 2))), ("b", f((6,)))],
     {"group": 2, "pads": [1, 0, 1, 0, 1, 1], "dilations": [1, 2, 1]})
case("mac_conv2d_f16", "Conv", [("x", f((1, 8, 6, 6), np.float16)), ("w", f((4, 8, 3, 3), np.float16)), ("b", f((4,), np.float16))], {"pads": [1, 1, 1, 1]}, expect="f64")
case("mac_conv2d_f64", "Conv", [("x", f((1, 3, 6, 6), np.float64)), ("w", f((4, 3, 3, 3), np.float64)), ("b", f((4,), np.float64))], {"pads": [1, 1, 1, 1]})
# ---- ConvTranspose ----
both("mac_convtr2d_groups_stride", "ConvTranspose", [("x", f((2, 4, 3, 4))), ("w", f((4, 3, 3, 2))), ("b", f((6,)))],
     {"group": 2, "strides": [2, 3], "pads": [1, 0, 0, 1], "output_padding": [1, 2], "dilations": [1, 2]}, const_names=("w", "b"))
case("mac_convtr2d_same_lower", "ConvTranspose", [("x", f((1, 2, 3, 3))), ("w", f((2, 3, 3, 3)))], {"auto_pad": "SAME_LOWER", "strides": [2, 2]})
case("mac_convtr2d_same_upper", "ConvTranspose", [("x", f((1, 2, 3, 3))), ("w", f((2, 3, 4, 3)))], {"auto_pad": "SAME_UPPER", "strides": [2, 3]})
case("mac_convtr2d_big_pads", "ConvTranspose", [("x", f((1, 2, 5, 5))), ("w", f((2, 1, 2, 2)))], {"pads": [3, 1, 2, 3], "strides": [2, 1]})
case("mac_convtr2d_output_shape_big", "ConvTranspose", [("x", f((1, 1, 3, 3))), ("w", f((1, 2, 3, 3)))], {"strides": [3, 2], "output_shape": [10, 8]})
case("mac_convtr1d_f16", "ConvTranspose", [("x", f((1, 3, 5), np.float16)), ("w", f((3, 2, 3), np.float16)), ("b", f((2,), np.float16))], {"strides": [2]}, expect="f64")
case("mac_convtr3d_stride", "ConvTranspose", [("x", f((1, 2, 3, 2, 3))), ("w", f((2, 2, 2, 3, 2)))], {"strides": [2, 1, 3], "pads": [0, 1, 1, 1, 0, 0]})
# ---- ConvInteger ----
both("mac_convinteger_u8_pad_wzp_channel", "ConvInteger",
     [("x", i((1, 3, 6, 5), np.uint8)), ("w", i((72, 3, 3, 3), np.uint8)), ("xz", np.array(17, np.uint8)), ("wz", i((72,), np.uint8))],
     {"pads": [1, 2, 0, 1], "strides": [2, 1]}, const_names=("w", "wz"))
case("mac_convinteger_i8_groups", "ConvInteger",
     [("x", i((2, 4, 5, 5), np.int8)), ("w", i((6, 2, 2, 3), np.int8)), ("xz", np.array([-3], np.int8)), ("wz", np.array([5], np.int8))],
     {"group": 2, "dilations": [2, 1], "pads": [1, 1, 1, 1]})
case("mac_convinteger_no_zp", "ConvInteger", [("x", i((1, 2, 6, 6), np.uint8)), ("w", i((3, 2, 2, 2), np.uint8))], {})
# ---- QLinearConv ----
def qconv(name, xdt, wdt, ydt, cout, per_channel, bias, attrs, cin=4, group=1, xshape=(1, 4, 7, 6), k=(3, 3), consts=()):
    x = i(xshape, xdt)
    w = i((cout, cin // group) + k, wdt)
    ws = (rng.random(cout if per_channel else 1) * 0.02 + 0.001).astype(np.float32)
    wz = i(ws.shape, wdt, 0, 0) if wdt == np.int8 else i(ws.shape, wdt, 100, 150)
    if not per_channel:
        ws = ws.reshape(()); wz = wz.reshape(())
    inputs = [("x", x), ("xs", np.array(0.05, np.float32)), ("xz", np.array(120 if xdt == np.uint8 else -5, xdt)),
              ("w", w), ("ws", ws), ("wz", wz), ("ys", np.array(0.07, np.float32)),
              ("yz", np.array(130 if ydt == np.uint8 else 7, ydt))]
    if bias:
        inputs.append(("b", i((cout,), np.int32, -5000, 5000)))
    case(name, "QLinearConv", inputs, dict(attrs, group=group), consts=consts)
qconv("mac_qlinearconv_u8_perchannel_bias", np.uint8, np.uint8, np.uint8, 72, True, True, {"pads": [1, 1, 1, 1]})
qconv("mac_qlinearconv_u8_perchannel_bias_const", np.uint8, np.uint8, np.uint8, 72, True, True, {"pads": [1, 1, 1, 1]},
      consts=("xs", "ws", "ys", "w", "wz", "b"))
qconv("mac_qlinearconv_i8_groups_stride", np.int8, np.int8, np.int8, 6, False, True, {"strides": [2, 2], "pads": [0, 1, 2, 1]}, group=2)
qconv("mac_qlinearconv_i8_depthwise_const", np.int8, np.int8, np.int8, 4, True, False, {"pads": [1, 1, 1, 1]}, group=4,
      consts=("xs", "ws", "ys"))
# ---- Gemm ----
both("mac_gemm_all", "Gemm", [("a", f((5, 3))), ("b", f((4, 5))), ("c", f((1, 4)))], {"transA": 1, "transB": 1, "alpha": 0.5, "beta": -1.5}, const_names=("b", "c"))
case("mac_gemm_alpha_only", "Gemm", [("a", f((3, 5))), ("b", f((5, 4))), ("c", f((3, 1)))], {"alpha": 2.0})
case("mac_gemm_beta_only", "Gemm", [("a", f((3, 5))), ("b", f((5, 4))), ("c", f((4,)))], {"beta": 0.25})
case("mac_gemm_beta_zero", "Gemm", [("a", f((3, 5))), ("b", f((5, 4))), ("c", f((3, 4)))], {"beta": 0.0})
case("mac_gemm_f16", "Gemm", [("a", f((3, 5), np.float16)), ("b", f((5, 4), np.float16)), ("c", f((4,), np.float16))], {"alpha": 0.5}, expect="f64")
case("mac_gemm_f16_bias", "Gemm", [("a", f((3, 5), np.float16)), ("b", f((5, 4), np.float16)), ("c", f((4,), np.float16))], {}, expect="f64")
case("mac_gemm_f64", "Gemm", [("a", f((3, 5), np.float64)), ("b", f((5, 4), np.float64)), ("c", f((), np.float64))], {"beta": 3.0})
case("mac_gemm_i32", "Gemm", [("a", i((9, 8), np.int32, -50, 50)), ("b", i((8, 9), np.int32, -50, 50)), ("c", i((9,), np.int32, -50, 50))], {})
case("mac_gemm_i64_alpha", "Gemm", [("a", i((9, 8), np.int64, -50, 50)), ("b", i((8, 9), np.int64, -50, 50)), ("c", i((9, 9), np.int64, -50, 50))], {"alpha": 3.0, "beta": 2.0})
# ---- MatMul ----
case("mac_matmul_bcast", "MatMul", [("a", f((2, 1, 3, 4))), ("b", f((5, 4, 6)))])
case("mac_matmul_1d_3d", "MatMul", [("a", f((4,))), ("b", f((2, 4, 3)))])
case("mac_matmul_3d_1d", "MatMul", [("a", f((2, 3, 4))), ("b", f((4,)))])
case("mac_matmul_1d_1d", "MatMul", [("a", f((7,))), ("b", f((7,)))])
case("mac_matmul_f16", "MatMul", [("a", f((3, 8), np.float16)), ("b", f((8, 5), np.float16))], expect="f64")
case("mac_matmul_f64", "MatMul", [("a", f((3, 8), np.float64)), ("b", f((2, 8, 5), np.float64))])
case("mac_matmul_i32", "MatMul", [("a", i((9, 8), np.int32, -1000, 1000)), ("b", i((8, 9), np.int32, -1000, 1000))])
case("mac_matmul_i64", "MatMul", [("a", i((2, 5, 8), np.int64, -10**6, 10**6)), ("b", i((8, 9), np.int64, -10**6, 10**6))])
case("mac_matmul_u32", "MatMul", [("a", i((9, 8), np.uint32, 0, 70000)), ("b", i((8, 9), np.uint32, 0, 70000))])
case("mac_matmul_u64", "MatMul", [("a", i((9, 8), np.uint64, 0, 2**40)), ("b", i((8, 9), np.uint64, 0, 2**20))])
# ---- MatMulInteger ----
case("mac_matmulinteger_rowzp", "MatMulInteger", [("a", i((70, 5), np.uint8)), ("b", i((5, 4), np.int8)),
     ("az", i((70,), np.uint8)), ("bz", i((4,), np.int8))], opset=13,
     expect=lambda a, b, az, bz: ((a.astype(np.int32) - az.astype(np.int32)[:, None]) @ (b.astype(np.int32) - bz.astype(np.int32))).astype(np.int32))
case("mac_matmulinteger_batch", "MatMulInteger", [("a", i((2, 6, 6), np.int8)), ("b", i((2, 6, 6), np.uint8)),
     ("az", np.array(-4, np.int8)), ("bz", np.array(200, np.uint8))])
case("mac_matmulinteger_nozp", "MatMulInteger", [("a", i((11, 7), np.uint8)), ("b", i((7,), np.uint8))])
# ---- QLinearMatMul ----
def qmm(name, ashape, bshape, adt, bdt, ydt, arow, bcol, yz, consts=(), opset=13):
    m = ashape[-2] if len(ashape) >= 2 else 1
    n = bshape[-1] if len(bshape) >= 2 else 1
    a_s = (rng.random(m if arow else 1) * 0.02 + 0.01).astype(np.float32)
    b_s = (rng.random(n if bcol else 1) * 0.02 + 0.01).astype(np.float32)
    a_z = i(a_s.shape, adt, 0, 40) if arow else np.array(i((1,), adt, 0, 40)[0], adt)
    b_z = i(b_s.shape, bdt, 0, 40) if bcol else np.array(i((1,), bdt, 0, 40)[0], bdt)
    if not arow: a_s = a_s.reshape(())
    if not bcol: b_s = b_s.reshape(())
    inputs = [("a", i(ashape, adt)), ("as", a_s), ("az", a_z), ("b", i(bshape, bdt)), ("bs", b_s), ("bz", b_z),
              ("ys", np.array(0.9, np.float32)), ("yz", np.array(yz, ydt))]
    def expect(a, as_, az, b, bs, bz, ys, yz):
        az = az.reshape(-1, 1) if az.ndim == 1 and arow else az
        as_ = as_.reshape(-1, 1) if as_.ndim == 1 and arow else as_
        acc = (a.astype(np.int64) - az.astype(np.int64)) @ (b.astype(np.int64) - bz.astype(np.int64))
        mult = (np.float32(as_) * np.float32(bs)).astype(np.float32) / np.float32(ys)
        mult = mult.astype(np.float32).astype(np.float64)
        info = np.iinfo(ydt)
        q = np.rint(acc.astype(np.float64) * mult + float(yz))
        return np.clip(q, info.min, info.max).astype(ydt)
    case(name, "QLinearMatMul", inputs, {}, opset=opset, consts=consts, expect=expect if (arow or bcol) else None)
qmm("mac_qlinearmatmul_u8_yz", (3, 8), (8, 5), np.uint8, np.uint8, np.uint8, False, False, 128)
qmm("mac_qlinearmatmul_u8_yz0", (3, 8), (8, 5), np.uint8, np.uint8, np.uint8, False, False, 0)
qmm("mac_qlinearmatmul_i8_rowcol", (2, 70, 8), (8, 66), np.int8, np.int8, np.int8, True, True, -3, opset=21)
qmm("mac_qlinearmatmul_i8_rowcol_const", (2, 70, 8), (8, 66), np.int8, np.int8, np.int8, True, True, -3, opset=21,
    consts=("as", "bs", "ys"))
qmm("mac_qlinearmatmul_const_pt", (2, 3, 8), (2, 8, 5), np.uint8, np.uint8, np.uint8, False, False, 3, consts=("as", "bs", "ys"))
# ---- QuantizeLinear / DequantizeLinear ----
x = f((2, 3, 4)) * 40
case("mac_quantize_u8_pt", "QuantizeLinear", [("x", x), ("s", np.array(0.5, np.float32)), ("z", np.array(128, np.uint8))])
case("mac_quantize_ties", "QuantizeLinear", [("x", np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 1e9, -1e9, 0.3, 2.0000002], np.float32)),
     ("s", np.array(1.0, np.float32)), ("z", np.array(0, np.int8))])
case("mac_quantize_ties_scale", "QuantizeLinear", [("x", (np.arange(40, dtype=np.float32) - 20) * np.float32(0.15)),
     ("s", np.array(0.1, np.float32)), ("z", np.array(3, np.int8))])
case("mac_quantize_noz", "QuantizeLinear", [("x", x), ("s", np.array(0.3, np.float32))])
case("mac_quantize_axis0", "QuantizeLinear", [("x", x), ("s", np.array([0.2, 0.7], np.float32)), ("z", np.array([1, -2], np.int8))], {"axis": 0})
case("mac_quantize_axis_neg", "QuantizeLinear", [("x", x), ("s", np.array([0.2, 0.7, 0.1, 1.1], np.float32)), ("z", np.array([1, 2, 250, 4], np.uint8))], {"axis": -1})
case("mac_quantize_axis_const", "QuantizeLinear", [("x", x), ("s", np.array([0.2, 0.7, 0.1], np.float32)), ("z", np.array([1, 2, 250], np.uint8))], {"axis": 1}, consts=("s", "z"))
case("mac_quantize_f16", "QuantizeLinear", [("x", (f((3, 50)) * 30).astype(np.float16)), ("s", np.array(0.3, np.float16)), ("z", np.array(3, np.int8))], opset=19)
case("mac_quantize_f16_ties", "QuantizeLinear", [("x", ((np.arange(64) - 32) * 0.15).astype(np.float16)), ("s", np.array(0.1, np.float16)), ("z", np.array(3, np.int8))], opset=19)
case("mac_quantize_i32", "QuantizeLinear", [("x", i((9, 8), np.int32, -1000, 1000)), ("s", np.array(3.0, np.float32)), ("z", np.array(-3, np.int8))], opset=19)
case("mac_quantize_i16", "QuantizeLinear", [("x", x * 100), ("s", np.array(0.5, np.float32)), ("z", np.array(-30, np.int16))], opset=21)
case("mac_quantize_u16", "QuantizeLinear", [("x", x * 100), ("s", np.array([0.5, 1, 2], np.float32)), ("z", np.array([3000, 2, 1], np.uint16))], opset=21)
case("mac_dequantize_u8_pt", "DequantizeLinear", [("x", i((2, 3, 12), np.uint8)), ("s", np.array(0.5, np.float32)), ("z", np.array(128, np.uint8))], opset=19)
case("mac_dequantize_i32", "DequantizeLinear", [("x", i((2, 3, 12), np.int32)), ("s", np.array(0.5, np.float32))], opset=19)
case("mac_dequantize_axis", "DequantizeLinear", [("x", i((2, 3, 12), np.int8)), ("s", np.array([0.5, 0.25, 3], np.float32)), ("z", np.array([1, -2, 3], np.int8))], {"axis": 1}, opset=19)
case("mac_dequantize_axis_last", "DequantizeLinear", [("x", i((2, 3, 70), np.int8)), ("s", (rng.random(70)).astype(np.float32)), ("z", i((70,), np.int8))], {"axis": -1}, opset=19)
case("mac_dequantize_f16", "DequantizeLinear", [("x", i((2, 3, 12), np.uint8)), ("s", np.array(0.37, np.float16)), ("z", np.array(128, np.uint8))], opset=19)
case("mac_dequantize_u16", "DequantizeLinear", [("x", i((2, 3, 12), np.uint16)), ("s", np.array(0.01, np.float32)), ("z", np.array(30000, np.uint16))], opset=21)
print("generated", len(os.listdir(ROOT)))

def double_rounding_cases(s, dt):
    xs = []
    s_ = dt(s)
    for k in range(-60, 60):
        for d in (-2, -1, 0, 1, 2):
            x = dt(dt(k + 0.5) * s_)
            for _ in range(abs(d)):
                x = np.nextafter(x, dt(np.inf) if d > 0 else dt(-np.inf))
            qd = float(x) / float(s_)
            qf = float(dt(np.float32(qd))) if dt == np.float16 else float(dt(qd))
            if np.rint(qd) != np.rint(qf):
                xs.append(x)
    return np.array(xs, dt)
xr = double_rounding_cases(0.1, np.float32)
case("mac_quantize_f32_rounding", "QuantizeLinear", [("x", xr), ("s", np.array(0.1, np.float32)), ("z", np.array(0, np.int8))])
xr16 = double_rounding_cases(0.1, np.float16)
case("mac_quantize_f16_rounding", "QuantizeLinear", [("x", xr16), ("s", np.array(0.1, np.float16)), ("z", np.array(0, np.int8))], opset=19)
print("rounding cases", len(xr), len(xr16))
def q_double(x, s, z, dt):
    info = np.iinfo(dt)
    return np.clip(np.rint(x.astype(np.float64) / float(s)) + int(z), info.min, info.max).astype(dt)
case("mac_quantize_f64_scale", "QuantizeLinear", [("x", xr), ("s", np.array(0.1, np.float64)), ("z", np.array(0, np.int8))],
     expect=lambda x, s, z: q_double(x, s, z, np.int8))
case("mac_quantize_f64_scale_const", "QuantizeLinear", [("x", xr), ("s", np.array(0.1, np.float64)), ("z", np.array(0, np.int8))],
     consts=("s",), expect=lambda x, s, z: q_double(x, s, z, np.int8))
case("mac_quantize_f32_rounding_const", "QuantizeLinear", [("x", xr), ("s", np.array(0.1, np.float32)), ("z", np.array(0, np.int8))], consts=("s",))
# exact ties: multiplier 0.5, odd zero points
def qmm_ties(name, consts=()):
    a = i((10, 7), np.uint8, 0, 20); b = i((7, 10), np.uint8, 0, 20)
    inputs = [("a", a), ("as", np.array(0.5, np.float32)), ("az", np.array(3, np.uint8)),
              ("b", b), ("bs", np.array(0.25, np.float32)), ("bz", np.array(0, np.uint8)),
              ("ys", np.array(0.25, np.float32)), ("yz", np.array(5, np.uint8))]
    def expect(a, as_, az, b, bs, bz, ys, yz):
        acc = (a.astype(np.int64) - 3) @ b.astype(np.int64)
        return np.clip(np.rint(acc * 0.5 + 5.0), 0, 255).astype(np.uint8)
    case(name, "QLinearMatMul", inputs, {}, consts=consts, expect=expect)
qmm_ties("mac_qlinearmatmul_ties")
qmm_ties("mac_qlinearmatmul_ties_const", consts=("as", "bs", "ys"))
def qconv_ties(name, consts=()):
    x = i((1, 2, 7, 7), np.uint8, 0, 30); w = i((3, 2, 2, 2), np.uint8, 0, 30)
    inputs = [("x", x), ("xs", np.array(0.5, np.float32)), ("xz", np.array(3, np.uint8)),
              ("w", w), ("ws", np.array(0.25, np.float32)), ("wz", np.array(0, np.uint8)),
              ("ys", np.array(0.25, np.float32)), ("yz", np.array(5, np.uint8))]
    def expect(x, xs, xz, w, ws, wz, ys, yz):
        xi = x.astype(np.int64) - 3
        acc = np.zeros((1, 3, 6, 6), np.int64)
        for m in range(3):
            for yy in range(6):
                for xx in range(6):
                    acc[0, m, yy, xx] = (xi[0, :, yy:yy + 2, xx:xx + 2] * w[m].astype(np.int64)).sum()
        return np.clip(np.rint(acc * 0.5) + 5, 0, 255).astype(np.uint8)
    case(name, "QLinearConv", inputs, {}, consts=consts, expect=expect)
qconv_ties("mac_qlinearconv_ties")
qconv_ties("mac_qlinearconv_ties_const", consts=("xs", "ws", "ys"))

# ---- bf16: inputs rounded to bf16, expectations computed in f64 and rounded once ----
def to_bf16(a):
    """float32 array rounded to nearest-even bf16 values (as float32)."""
    b = np.asarray(a, np.float32).view(np.uint32).astype(np.uint64)
    b = ((b + 0x7FFF + ((b >> 16) & 1)) >> 16) << 16
    return b.astype(np.uint32).view(np.float32)

def bf16_tensor(name, a):
    bits = (np.asarray(a, np.float32).view(np.uint32) >> 16).astype(np.uint16)
    t = helper.make_tensor(name, TensorProto.BFLOAT16, list(np.shape(a)), bits.tobytes(), raw=True)
    return t

def bf16_case(name, op, inputs, attrs, expect, opset=13, out_bf16=True, out_dt=None):
    """inputs: (name, array, is_bf16); expect(*arrays) -> f64 result."""
    d = os.path.join(ROOT, "test_" + name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(os.path.join(d, "test_data_set_0"))
    node = helper.make_node(op, [n for n, _, _ in inputs], ["y"], **attrs)
    gin = [helper.make_tensor_value_info(n, TensorProto.BFLOAT16 if bf else onnx_type(a), list(np.shape(a)))
           for n, a, bf in inputs]
    res = expect(*[a.astype(np.float64) if bf else a for _, a, bf in inputs])
    if out_bf16:
        r = to_bf16(res.astype(np.float32)) if res.dtype == np.float64 else None
        # one rounding from f64: round to f32 first only when exact; the graph stores f64 -> bf16 via f32
        out = bf16_tensor("y", to_bf16(np.asarray(res, np.float64).astype(np.float32)))
        yt = TensorProto.BFLOAT16
    else:
        res = res.astype(out_dt)
        out = numpy_helper.from_array(res, "y")
        yt = onnx_type(res)
    gout = [helper.make_tensor_value_info("y", yt, list(np.shape(res)))]
    model = helper.make_model(helper.make_graph([node], name, gin, gout),
                              opset_imports=[helper.make_opsetid("", opset)])
    onnx.save(model, os.path.join(d, "model.onnx"))
    for k, (n, a, bf) in enumerate(inputs):
        t = bf16_tensor(n, a) if bf else numpy_helper.from_array(a, n)
        open(os.path.join(d, "test_data_set_0", "input_%d.pb" % k), "wb").write(t.SerializeToString())
    open(os.path.join(d, "test_data_set_0", "output_0.pb"), "wb").write(out.SerializeToString())

def conv2d_f64(x, w, b, pad):
    n, c, h, wd = x.shape
    m, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = h + 2 * pad - kh + 1, wd + 2 * pad - kw + 1
    y = np.zeros((n, m, oh, ow))
    for yy in range(oh):
        for xx in range(ow):
            y[:, :, yy, xx] = np.einsum("nchw,mchw->nm", xp[:, :, yy:yy + kh, xx:xx + kw], w)
    return y + b.reshape(1, -1, 1, 1)

bx, bw, bb = to_bf16(f((1, 3, 5, 5))), to_bf16(f((4, 3, 3, 3))), to_bf16(f((4,)))
bf16_case("mac_conv2d_bf16", "Conv", [("x", bx, True), ("w", bw, True), ("b", bb, True)], {"pads": [1, 1, 1, 1]},
          lambda x, w, b: conv2d_f64(x, w, b, 1))
ga, gb, gc = to_bf16(f((4, 6))), to_bf16(f((6, 5))), to_bf16(f((5,)))
bf16_case("mac_gemm_bf16", "Gemm", [("a", ga, True), ("b", gb, True), ("c", gc, True)], {"alpha": 0.5, "beta": 2.0},
          lambda a, b, c: 0.5 * (a @ b) + 2.0 * c)
bf16_case("mac_matmul_bf16", "MatMul", [("a", ga, True), ("b", gb, True)], {}, lambda a, b: a @ b)
qx = to_bf16(f((4, 20)) * 10)
def q_bf16(x, s, z):
    q = to_bf16((x / s).astype(np.float32)).astype(np.float64)
    return np.clip(np.rint(q) + int(z), -128, 127)
bf16_case("mac_quantize_bf16", "QuantizeLinear", [("x", qx, True), ("s", to_bf16(np.array(0.3, np.float32)), True), ("z", np.array(3, np.int8), False)],
          {}, q_bf16, opset=19, out_bf16=False, out_dt=np.int8)
dq = i((4, 20), np.uint8)
bf16_case("mac_dequantize_bf16", "DequantizeLinear", [("x", dq, False), ("s", to_bf16(np.array(0.37, np.float32)), True), ("z", np.array(128, np.uint8), False)],
          {}, lambda x, s, z: (x.astype(np.float64) - 128) * s, opset=19)
import itertools
def conv_nd(x, w, pads, strides, dils):
    """Plain N-D convolution (group 1) in int64 or float64."""
    nsp = x.ndim - 2
    xp = np.pad(x, [(0, 0), (0, 0)] + [(pads[d], pads[nsp + d]) for d in range(nsp)])
    ks = w.shape[2:]
    out = [(xp.shape[2 + d] - ((ks[d] - 1) * dils[d] + 1)) // strides[d] + 1 for d in range(nsp)]
    y = np.zeros((x.shape[0], w.shape[0]) + tuple(out), x.dtype)
    for o in itertools.product(*[range(n) for n in out]):
        sl = tuple(slice(o[d] * strides[d], o[d] * strides[d] + (ks[d] - 1) * dils[d] + 1, dils[d]) for d in range(nsp))
        win = xp[(slice(None), slice(None)) + sl]
        y[(slice(None), slice(None)) + o] = np.tensordot(win, w, axes=(list(range(1, 2 + nsp)), list(range(1, 2 + nsp))))
    return y

def convint_expect(pads, strides, dils):
    def e(x, w, xz, wz=None):
        xi = x.astype(np.int64) - int(xz)
        wi = w.astype(np.int64)
        if wz is not None:
            wi = wi - wz.astype(np.int64).reshape((-1,) + (1,) * (w.ndim - 1))
        return conv_nd(xi, wi, pads, strides, dils).astype(np.int32)
    return e

case("mac_convinteger_1d", "ConvInteger", [("x", i((2, 3, 20), np.int8)), ("w", i((4, 3, 3), np.int8)), ("xz", np.array(-2, np.int8)), ("wz", i((4,), np.int8))],
     {"pads": [2, 1], "strides": [3], "dilations": [2]}, expect=convint_expect([2, 1], [3], [2]))
case("mac_convinteger_3d", "ConvInteger", [("x", i((1, 2, 4, 5, 4), np.uint8)), ("w", i((2, 2, 2, 2, 2), np.uint8)), ("xz", np.array(9, np.uint8))],
     {"pads": [1, 0, 1, 0, 1, 1], "strides": [1, 2, 1]}, expect=convint_expect([1, 0, 1, 0, 1, 1], [1, 2, 1], [1, 1, 1]))
def qconv_expect(pads, strides):
    def e(x, xs, xz, w, ws, wz, ys, yz, b):
        xi = x.astype(np.int64) - int(xz)
        wi = w.astype(np.int64) - wz.astype(np.int64).reshape((-1,) + (1,) * (w.ndim - 1))
        acc = conv_nd(xi, wi, pads, strides, [1] * (x.ndim - 2)) + b.astype(np.int64).reshape((1, -1) + (1,) * (x.ndim - 2))
        mul = (np.float32(xs) * ws.astype(np.float32)).astype(np.float32) / np.float32(ys)
        mul = mul.astype(np.float32).astype(np.float64).reshape((1, -1) + (1,) * (x.ndim - 2))
        return np.clip(np.rint(acc * mul) + int(yz), 0, 255).astype(np.uint8)
    return e
x1 = i((2, 4, 11), np.uint8); w1 = i((5, 4, 3), np.int8)
case("mac_qlinearconv_1d", "QLinearConv", [("x", x1), ("xs", np.array(0.05, np.float32)), ("xz", np.array(120, np.uint8)),
     ("w", w1), ("ws", (rng.random(5) * 0.02 + 0.001).astype(np.float32)), ("wz", i((5,), np.int8, -3, 3)),
     ("ys", np.array(0.07, np.float32)), ("yz", np.array(130, np.uint8)), ("b", i((5,), np.int32, -5000, 5000))],
     {"pads": [1, 2], "strides": [2]}, expect=qconv_expect([1, 2], [2]))
case("mac_convtr2d_unit_groups", "ConvTranspose", [("x", f((1, 4, 4, 4))), ("w", f((4, 2, 3, 3))), ("b", f((4,)))], {"group": 2, "pads": [1, 0, 2, 1]})
case("mac_convtr2d_no_copy", "ConvTranspose", [("x", f((1, 2, 5, 5))), ("w", f((2, 3, 3, 3)))], {"pads": [2, 2, 2, 2]})
