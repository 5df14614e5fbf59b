#!/usr/bin/env python3
"""Writes the models of the golden case check_sequence: models with several
problems, each of which `nnac check` must list, once.

  check_sequence.onnx  two unsupported ops in a row (foo_1, then bar_2 of
                       the vendor domain com.example, downstream of it),
                       a Relu further down with an unknown attribute, and
                       an Add of shapes [2,3] and [4,5] on inputs of its
                       own; relu_mid between the two unsupported ops has
                       no problem and must not get one

None of the models passes onnx.checker (unknown ops); nnac must still read
them.  The script is deterministic; rerun it after changing a model.

usage: python3 tests/cli/make_check_models.py
"""
import os

from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))
FLOAT = TensorProto.FLOAT


def value(name, shape, elem=FLOAT):
    return helper.make_tensor_value_info(name, elem, shape)


def node(op, inputs, outputs, name=None, **attrs):
    return helper.make_node(op, inputs, outputs, name=name, **attrs)


def save(filename, nodes, inputs, outputs, vendor=False):
    opsets = [helper.make_opsetid("", 13)]
    if vendor:
        opsets.append(helper.make_opsetid("com.example", 1))
    graph = helper.make_graph(nodes, filename.split(".")[0], inputs, outputs)
    model = helper.make_model(graph, opset_imports=opsets, producer_name="nnac-tests")
    model.ir_version = 8
    with open(os.path.join(HERE, filename), "wb") as f:
        f.write(model.SerializeToString())


def sequence():
    nodes = [node("Relu", ["x"], ["t0"], "relu_in"),
             node("FooBar", ["t0"], ["t1"], "foo_1"),
             node("Relu", ["t1"], ["t2"], "relu_mid"),
             helper.make_node("Bar", ["t2"], ["t3"], name="bar_2", domain="com.example"),
             node("Relu", ["t3"], ["y"], "relu_attr", frob=1),
             node("Add", ["a", "b"], ["z"], "add_shapes")]
    save("check_sequence.onnx", nodes, [value("x", [1, 4]), value("a", [2, 3]), value("b", [4, 5])],
         [value("y", None), value("z", None)], vendor=True)


def main():
    sequence()


if __name__ == "__main__":
    main()
