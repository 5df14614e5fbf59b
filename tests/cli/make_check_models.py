#!/usr/bin/env python3
"""Writes the models of the golden cases check_sequence, check_if,
check_loop and check_graphs: models with several problems, each of which
`nnac check` must list, once, with the path to the node when it is inside
a subgraph.

  check_sequence.onnx  two unsupported ops in a row (foo_1, then bar_2 of
                       the vendor domain com.example, downstream of it),
                       a Relu further down with an unknown attribute, and
                       an Add of shapes [2,3] and [4,5] on inputs of its
                       own; relu_mid between the two unsupported ops has
                       no problem and must not get one
  check_if.onnx        an If whose then_branch holds a
                       Relu with an unknown attribute and an unsupported
                       op after it, and whose else_branch holds two
                       unsupported ops, the second unnamed (Qux_1); a
                       Relu after the If has no problem
  check_loop.onnx      a Loop whose body holds an unsupported op and an If
                       with an unsupported op in its then_branch, and
                       whose trip count is a graph input (so it cannot be
                       unrolled), and a Scan whose body holds an
                       unsupported op; an Add of their results has no
                       problem
  check_graphs.onnx    an op of the vendor domain com.example with an
                       attribute that holds a list of graphs (a type nnac
                       reads for no op, which is no second problem for an
                       op it does not know); the first graph holds an
                       unsupported op
  check_value_shape.onnx  ops whose output shape depends on a value that
                       is computed at run time: a TopK whose K is a
                       ReduceMax of an input too large to be bound, a
                       NonZero of a graph input; and an Einsum whose
                       equation has more terms than inputs

None of the models passes onnx.checker (unknown ops); nnac must still read
them.  The script is deterministic; rerun it after changing a model.

usage: python3 tests/cli/make_check_models.py
"""
import os

from onnx import AttributeProto, TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))
FLOAT, BOOL, INT64 = TensorProto.FLOAT, TensorProto.BOOL, TensorProto.INT64


def value(name, shape, elem=FLOAT):
    return helper.make_tensor_value_info(name, elem, shape)


def node(op, inputs, outputs, name=None, **attrs):
    return helper.make_node(op, inputs, outputs, name=name, **attrs)


def body(name, nodes, inputs, outputs):
    """A subgraph; names it does not define come from the enclosing graph."""
    return helper.make_graph(nodes, name, inputs, outputs)


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


def if_branches():
    then_branch = body("then", [node("Relu", ["x"], ["t1"], "then_relu", frob=1),
                                node("FooBar", ["t1"], ["then_out"], "then_foo")],
                       [], [value("then_out", [1, 4])])
    else_branch = body("else", [node("Baz", ["x"], ["e1"], "else_baz"),
                                node("Qux", ["e1"], ["else_out"])],
                       [], [value("else_out", [1, 4])])
    nodes = [node("If", ["c"], ["r"], "if_1", then_branch=then_branch, else_branch=else_branch),
             node("Relu", ["r"], ["y"], "relu_out")]
    save("check_if.onnx", nodes, [value("c", [], BOOL), value("x", [1, 4])], [value("y", None)])


def loop_and_scan():
    inner_then = body("inner_then", [node("FooBar", ["v1"], ["o1"], "inner_foo")],
                      [], [value("o1", [1, 4])])
    inner_else = body("inner_else", [node("Identity", ["v1"], ["o2"], "inner_id")],
                      [], [value("o2", [1, 4])])
    loop_body = body("loop_body",
                     [node("Qux", ["v"], ["v1"], "body_qux"),
                      node("If", ["cond_in"], ["v2"], "body_if",
                           then_branch=inner_then, else_branch=inner_else),
                      node("Identity", ["cond_in"], ["cond_out"], "body_cond")],
                     [value("i", [], INT64), value("cond_in", [], BOOL), value("v", [1, 4])],
                     [value("cond_out", [], BOOL), value("v2", [1, 4])])
    scan_body = body("scan_body", [node("FooBar", ["row"], ["row_out"], "scan_foo")],
                     [value("row", [4])], [value("row_out", [4])])
    nodes = [node("Loop", ["m", "cond", "x"], ["l"], "loop_1", body=loop_body),
             node("Scan", ["x"], ["s"], "scan_1", body=scan_body, num_scan_inputs=1),
             node("Add", ["l", "s"], ["y"], "add_out")]
    save("check_loop.onnx", nodes,
         [value("m", [], INT64), value("cond", [], BOOL), value("x", [1, 4])], [value("y", None)])


def graph_list():
    cases = [body("case_0", [node("FooBar", ["x"], ["o0"], "case_foo")], [], [value("o0", [1, 4])]),
             body("case_1", [node("Relu", ["x"], ["o1"], "case_relu")], [], [value("o1", [1, 4])])]
    switch = helper.make_node("Switch", ["x"], ["y"], name="switch_1", domain="com.example")
    switch.attribute.append(
        helper.make_attribute("cases", cases, attr_type=AttributeProto.GRAPHS))
    save("check_graphs.onnx", [switch], [value("x", [1, 4])], [value("y", None)], vendor=True)


def value_shape():
    nodes = [
        node("ReduceMax", ["ki"], ["k"], name="k_max", keepdims=1),
        node("TopK", ["x", "k"], ["v", "i"], name="topk_1"),
        node("NonZero", ["x"], ["nz"], name="nonzero_2"),
        node("Einsum", ["x"], ["e"], name="einsum_3", equation="ij,jk->ik"),
    ]
    save("check_value_shape.onnx", nodes, [value("x", [3, 100]), value("ki", [100], INT64)],
         [value("v", None), value("i", None), value("nz", None), value("e", None)])


def main():
    sequence()
    if_branches()
    loop_and_scan()
    graph_list()
    value_shape()


if __name__ == "__main__":
    main()
