"""Writes one node case in the ONNX suites' format (CASE/model.onnx,
CASE/test_data_set_0/{input,output}_K.pb), for the generators of
tests/node_cases/ (make_cases.py, make_math_cases.py...).  They import it
with bytecode writing off: a __pycache__ folder here would read as a case.
"""
import os

import numpy as np
import onnx
from onnx import helper, numpy_helper
from onnx.reference import ReferenceEvaluator

OUT = os.path.dirname(os.path.abspath(__file__))


def node_case(name, op, inputs, outputs, opset, expected=None, **attrs):
    """A case of one node op: inputs (name, array) pairs and outputs names,
    '' for an absent optional one."""
    node = helper.make_node(op, [n for n, _ in inputs], outputs, **attrs)
    write_case(name, [node], inputs, outputs, opset, expected=expected)


def write_case(name, nodes, inputs, outputs, opset, inits=(), expected=None, oracle="reference"):
    """inputs: (name, array) pairs, name '' for an absent optional input;
    outputs: names, '' for an absent optional one; inits: (name, array)
    initializers.  Expected outputs: expected if given, else those of
    onnx.reference, or of ONNX Runtime where the reference lacks a feature
    (oracle="ort"; the outputs are then declared float, as it wants a type)."""
    feeds = {n: a for n, a in inputs if n}
    present = [o for o in outputs if o]
    vis = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
           for n, a in feeds.items()]
    elem = onnx.TensorProto.FLOAT if oracle == "ort" else onnx.TensorProto.UNDEFINED
    untyped = [helper.make_tensor_value_info(o, elem, None) for o in present]
    graph = helper.make_graph(nodes, name, vis, untyped, [numpy_helper.from_array(a, n) for n, a in inits])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 10
    if expected is not None:
        results = expected
    elif oracle == "ort":
        import onnxruntime
        results = onnxruntime.InferenceSession(model.SerializeToString()).run(None, feeds)
    else:
        results = ReferenceEvaluator(model).run(None, feeds)
    model.graph.ClearField("output")
    model.graph.output.extend(
        helper.make_tensor_value_info(o, helper.np_dtype_to_tensor_dtype(np.asarray(r).dtype), np.asarray(r).shape)
        for o, r in zip(present, results))
    data = os.path.join(OUT, name, "test_data_set_0")
    os.makedirs(data, exist_ok=True)
    onnx.save(model, os.path.join(OUT, name, "model.onnx"))
    for k, (n, a) in enumerate(feeds.items()):
        onnx.save_tensor(numpy_helper.from_array(a, n), os.path.join(data, f"input_{k}.pb"))
    for k, (o, r) in enumerate(zip(present, results)):
        onnx.save_tensor(numpy_helper.from_array(np.asarray(r), o), os.path.join(data, f"output_{k}.pb"))
