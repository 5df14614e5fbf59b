#!/usr/bin/env python3
"""Writes the malformed-input corpus into tests/bad_input/cases/.

Each case is one small file (a broken .onnx, .npy or .pb) plus one line of
cases/manifest.tsv with four tab-separated columns:

  case      the case name
  command   the nnac command line, relative to the repository root; NNAC is
            the binary, CASES the cases folder, OUT a fresh output folder
  status    the exit status nnac must give (2: bad input or usage)
  expect    a substring the error line must contain: the file, and the node
            name and op where there is one

run_corpus.sh runs the manifest.  The script is deterministic, and the
generated files are committed; rerun it after adding a case.  Every row of
the manifest comes from here, those of cases whose files are not generated
too (other_cases).

usage: python3 tests/bad_input/make_corpus.py
"""
import os
import struct

import numpy as np
from onnx import AttributeProto, TensorProto, external_data_helper, helper, numpy_helper

CASES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cases")
SEED = 7
BAD_INPUT = 2
FLOAT = TensorProto.FLOAT


def tensor(name, shape, elem=FLOAT):
    return helper.make_tensor_value_info(name, elem, shape)


def weight(name, shape):
    return numpy_helper.from_array(np.full(shape, 0.5, np.float32), name)


def model(nodes, inputs, outputs, initializers=(), opsets=(("", 13),)):
    """A model built without onnx.checker, which would refuse most cases."""
    graph = helper.make_graph(nodes, "bad", inputs, outputs, list(initializers))
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets],
                          producer_name="nnac-bad-input")
    m.ir_version = 8
    return m


def unary(op, name, shape=(1, 4), **attrs):
    """One node 'name' of type op from x to y."""
    node = helper.make_node(op, ["x"], ["y"], name=name, **attrs)
    return model([node], [tensor("x", list(shape))], [tensor("y", None)])


def conv(name, x_shape, w_shape, **attrs):
    node = helper.make_node("Conv", ["x", "w"], ["y"], name=name, **attrs)
    return model([node], [tensor("x", x_shape)], [tensor("y", None)], [weight("w", w_shape)])


def binary(op, name, a_shape, b_shape):
    node = helper.make_node(op, ["a", "b"], ["y"], name=name)
    return model([node], [tensor("a", a_shape), tensor("b", b_shape)], [tensor("y", None)])


def relu_model():
    """A valid one-node model whose input is x [1,4]."""
    return unary("Relu", "relu")


def two_output_model(second_output):
    """Two Relu nodes writing 'first' and second_output."""
    nodes = [helper.make_node("Relu", ["x"], ["first"], name="relu_a"),
             helper.make_node("Relu", ["x"], [second_output], name="relu_b")]
    return model(nodes, [tensor("x", [1, 4])], [tensor("first", None), tensor(second_output, None)])


class Corpus:
    """Writes case files and collects the manifest lines."""

    def __init__(self, folder):
        self.folder = folder
        self.rows = []
        self.rng = np.random.default_rng(SEED)

    def write(self, filename, data):
        with open(os.path.join(self.folder, filename), "wb") as f:
            f.write(data)
        return filename

    def onnx(self, filename, m):
        return self.write(filename, m.SerializeToString())

    def npy(self, filename, array):
        np.save(os.path.join(self.folder, filename), array)
        return filename

    def case(self, name, command, expect, status=BAD_INPUT):
        assert "\t" not in command + expect and name not in (r[0] for r in self.rows)
        self.rows.append((name, command, str(status), expect))

    def node_case(self, name, m, node, op, verb="check"):
        """A model whose error is at node 'node' of type op."""
        filename = self.onnx(name + ".onnx", m)
        self.case(name, f"NNAC {verb} CASES/{filename}", f"{filename}: node '{node}' ({op})")

    def model_case(self, name, m, verb="check", extra=""):
        """A model whose error is about the model as a whole."""
        filename = self.onnx(name + ".onnx", m)
        self.case(name, f"NNAC {verb} CASES/{filename}{extra}", filename)

    def manifest(self):
        lines = ["case\tcommand\tstatus\texpect"] + ["\t".join(r) for r in self.rows]
        self.write("manifest.tsv", ("\n".join(lines) + "\n").encode())


def file_cases(c):
    """Files that are not ONNX models at all."""
    whole = relu_model().SerializeToString()
    for name, data, verb in (("truncated", whole[: len(whole) // 2], "check"),
                             ("random_bytes", c.rng.bytes(512), "inspect"),
                             ("empty", b"", "run")):
        filename = c.write(name + ".onnx", data)
        extra = " --input x=CASES/good_x.npy" if verb == "run" else ""
        c.case(name, f"NNAC {verb} CASES/{filename}{extra}", filename)
    c.case("nonexistent_model", "NNAC check CASES/no_such_model.onnx", "no_such_model.onnx")
    c.case("directory_as_model", "NNAC inspect CASES/a_directory.onnx", "a_directory.onnx")
    os.makedirs(os.path.join(c.folder, "a_directory.onnx"), exist_ok=True)
    c.write("a_directory.onnx/.keep", b"")


def op_cases(c):
    """Nodes nnac cannot take: unknown ops, bad attributes, missing inputs."""
    c.node_case("unknown_op", unary("FooBar", "mystery"), "mystery", "FooBar")
    other = model([helper.make_node("Relu", ["x"], ["y"], name="vendor_relu", domain="com.example")],
                  [tensor("x", [1, 4])], [tensor("y", None)], opsets=(("", 13), ("com.example", 1)))
    c.node_case("other_domain", other, "vendor_relu", "com.example.Relu")
    missing = model([helper.make_node("Add", ["x", "bias"], ["y"], name="add_bias")],
                    [tensor("x", [1, 4])], [tensor("y", None)])
    c.node_case("missing_initializer", missing, "add_bias", "Add")
    c.node_case("attr_wrong_type", conv("conv_g", [1, 2, 8, 8], [2, 2, 3, 3], group=1.0),
                "conv_g", "Conv")
    c.node_case("attr_unknown", unary("Relu", "relu_x", frobnicate=3), "relu_x", "Relu", "inspect")
    c.node_case("kernel_shape_zero", conv("conv_k0", [1, 2, 8, 8], [2, 2, 3, 3], kernel_shape=[0, 3]),
                "conv_k0", "Conv")
    c.node_case("pads_negative", conv("conv_pad", [1, 2, 8, 8], [2, 2, 3, 3], pads=[-1, 0, 0, 0]),
                "conv_pad", "Conv", "inspect")
    c.node_case("transpose_perm", unary("Transpose", "tr", (2, 3, 4), perm=[0, 0, 1]),
                "tr", "Transpose")
    gather = model([helper.make_node("Gather", ["x", "idx"], ["y"], name="gather_ax", axis=3)],
                   [tensor("x", [2, 3])], [tensor("y", None)],
                   [numpy_helper.from_array(np.array([0, 1], np.int64), "idx")])
    c.node_case("gather_axis", gather, "gather_ax", "Gather")
    concat = model([helper.make_node("Concat", ["a", "b"], ["y"], name="cat", axis=2)],
                   [tensor("a", [2, 3]), tensor("b", [2, 3])], [tensor("y", None)])
    c.node_case("concat_axis", concat, "cat", "Concat")


def shape_cases(c):
    """Shapes that do not fit together."""
    c.node_case("add_shapes", binary("Add", "add_23_45", [2, 3], [4, 5]), "add_23_45", "Add")
    c.node_case("conv_channels", conv("conv_c", [1, 3, 8, 8], [4, 2, 3, 3]), "conv_c", "Conv", "inspect")
    c.node_case("matmul_inner", binary("MatMul", "mm", [2, 3], [4, 5]), "mm", "MatMul")
    reshape = model([helper.make_node("Reshape", ["x", "shape"], ["y"], name="reshape_7")],
                    [tensor("x", [1, 4])], [tensor("y", None)],
                    [numpy_helper.from_array(np.array([7], np.int64), "shape")])
    c.node_case("reshape_size", reshape, "reshape_7", "Reshape")


def attention(name, q_shape, kv_shape, **attrs):
    """One Attention node 'name' (opset 23) from q, k and v to y."""
    node = helper.make_node("Attention", ["q", "k", "v"], ["y"], name=name, **attrs)
    return model([node], [tensor("q", q_shape), tensor("k", kv_shape), tensor("v", kv_shape)],
                 [tensor("y", None)], opsets=(("", 23),))


def rotary(name, **attrs):
    """One RotaryEmbedding node 'name' (opset 23) on x [1,2,3,8] with caches [5,4]."""
    node = helper.make_node("RotaryEmbedding", ["x", "cos", "sin", "pos"], ["y"], name=name, **attrs)
    return model([node], [tensor("x", [1, 2, 3, 8]), tensor("cos", [5, 4]), tensor("sin", [5, 4]),
                          tensor("pos", [1, 3], TensorProto.INT64)], [tensor("y", None)],
                 opsets=(("", 23),))


def attention_cases(c):
    """Attention and RotaryEmbedding attributes that make no sense."""
    q3, kv3 = [1, 2, 8], [1, 3, 8]
    for name, q, kv, attrs, expect in (
            ("attention_heads_zero", q3, kv3, dict(q_num_heads=0, kv_num_heads=2), "q_num_heads is 0"),
            ("attention_heads_missing", q3, kv3, dict(q_num_heads=2), "3-D inputs need attribute kv_num_heads"),
            ("attention_gqa_heads", [1, 3, 2, 4], [1, 2, 3, 4], {}, "3 query heads are not a multiple of 2 key"),
            ("attention_qk_mode", [1, 1, 2, 4], [1, 1, 3, 4], dict(qk_matmul_output_mode=4),
             "qk_matmul_output_mode is 4"),
            ("attention_scale", [1, 1, 2, 4], [1, 1, 3, 4], dict(scale=-1.0), "scale is -1"),
            ("attention_softcap", [1, 1, 2, 4], [1, 1, 3, 4], dict(softcap=-2.0), "softcap is -2")):
        filename = c.onnx(name + ".onnx", attention("attn", q, kv, **attrs))
        c.case(name, f"NNAC check CASES/{filename}", f"{filename}: node 'attn' (Attention): {expect}")
    filename = c.onnx("rotary_dim_odd.onnx", rotary("rope", rotary_embedding_dim=3))
    c.case("rotary_dim_odd", f"NNAC check CASES/{filename}",
           f"{filename}: node 'rope' (RotaryEmbedding): rotary_embedding_dim 3 must be even")
    good = c.onnx("rotary_good.onnx", rotary("rope"))
    c.npy("rotary_x.npy", np.ones((1, 2, 3, 8), np.float32))
    c.npy("rotary_cache.npy", np.ones((5, 4), np.float32))
    c.npy("rotary_pos.npy", np.array([[0, 1, 5]], np.int64))
    c.case("rotary_position_range",
           f"NNAC run CASES/{good} --input x=CASES/rotary_x.npy --input cos=CASES/rotary_cache.npy "
           "--input sin=CASES/rotary_cache.npy --input pos=CASES/rotary_pos.npy --output-dir OUT",
           f"{good}: node 'rope' (RotaryEmbedding): position_ids[0][2] = 5 is outside the 5 cached")


def nested_ifs(depth):
    """depth Ifs, each in the then_branch of the one before; the else
    branches are empty."""
    inner = None
    for k in reversed(range(depth)):
        then_branch = helper.make_graph([] if inner is None else [inner], f"then_{k}", [],
                                        [tensor(f"o{k}", None)])
        else_branch = helper.make_graph([], f"else_{k}", [], [tensor("c", None)])
        inner = helper.make_node("If", ["c"], [f"o{k - 1}" if k else "y"], name=f"if_{k}",
                                 then_branch=then_branch, else_branch=else_branch)
    return model([inner], [tensor("c", [], TensorProto.BOOL)], [tensor("y", None)])


def loop_model(name, m_value, body_nodes, m_input=False):
    """A Loop carrying x [1, 4] through body_nodes (v_in -> v_out), its trip
    count m a constant of m_value or (m_input) a graph input."""
    body = helper.make_graph(
        [helper.make_node("Identity", ["c_in"], ["c_out"])] + body_nodes, "body",
        [tensor("i", [], TensorProto.INT64), tensor("c_in", [], TensorProto.BOOL), tensor("v_in", None)],
        [tensor("c_out", [], TensorProto.BOOL), tensor("v_out", None)])
    loop = helper.make_node("Loop", ["m", "", "x"], ["y"], name=name, body=body)
    inputs = [tensor("x", [1, 4])] + ([tensor("m", [], TensorProto.INT64)] if m_input else [])
    inits = [] if m_input else [numpy_helper.from_array(np.array(m_value, np.int64), "m")]
    return model([loop], inputs, [tensor("y", None)], inits)


def subgraph_cases(c):
    """Bodies of If, Loop and Scan nodes, which shape inference inlines
    (passes/control.c) where it can: what it cannot, and malformed bodies."""
    deep = c.onnx("deep_subgraphs.onnx", nested_ifs(20))
    c.case("deep_subgraphs", f"NNAC check CASES/{deep}",
           "then_branch: node 'if_16' (If): attribute 'then_branch': subgraphs nested more than 16 deep")
    relu = [helper.make_node("Relu", ["v_in"], ["v_out"], name="r")]
    f = c.onnx("loop_runtime_trip_count.onnx", loop_model("lp", 0, relu, m_input=True))
    c.case("loop_runtime_trip_count", f"NNAC check CASES/{f}",
           f"{f}: node 'lp' (Loop): the trip count 'm' is computed at run time; nnac unrolls loops")
    f = c.onnx("loop_unroll_limit.onnx", loop_model("lp", 10 ** 6, relu))
    c.case("loop_unroll_limit", f"NNAC check CASES/{f}",
           f"{f}: node 'lp' (Loop): unrolling it takes more than 65536 nodes")
    f = c.onnx("body_unknown_name.onnx",
               loop_model("lp", 2, [helper.make_node("Add", ["v_in", "nowhere"], ["v_out"], name="a")]))
    c.case("body_unknown_name", f"NNAC check CASES/{f}",
           f"{f}: node 'lp' (Loop) body: node 'a' (Add): input 'nowhere' is not a graph input")
    branches = [helper.make_graph([helper.make_node("Constant", [], [f"{b}_out"], name=f"{b}_k",
                                                    value=numpy_helper.from_array(np.zeros(n, np.float32)))],
                                  b, [], [tensor(f"{b}_out", None)])
                for b, n in (("then", 2), ("else", 3))]
    f = c.onnx("if_branches_disagree.onnx", model(
        [helper.make_node("If", ["c"], ["y"], name="sel", then_branch=branches[0], else_branch=branches[1])],
        [tensor("c", [], TensorProto.BOOL)], [tensor("y", None)]))
    c.case("if_branches_disagree", f"NNAC check CASES/{f}",
           f"{f}: node 'sel' (If): output 0 is f32[2] from then_branch and f32[3] from else_branch")
    scan_body = helper.make_graph([helper.make_node("Add", ["s", "a"], ["s2"]), helper.make_node("Add", ["s2", "b"], ["s3"])],
                                  "body", [tensor("s", None), tensor("a", None), tensor("b", None)],
                                  [tensor("s3", None)])
    f = c.onnx("scan_lengths_differ.onnx", model(
        [helper.make_node("Scan", ["s0", "xa", "xb"], ["s"], name="sc", body=scan_body, num_scan_inputs=2)],
        [tensor("s0", [4]), tensor("xa", [3, 4]), tensor("xb", [5, 4])], [tensor("s", None)]))
    c.case("scan_lengths_differ", f"NNAC check CASES/{f}",
           f"{f}: node 'sc' (Scan): scan input 1 has 5 slices, scan input 0 3")


def tensor_cases(c):
    """Initializers whose data is wrong or lives where it must not."""
    short = weight("w", [2, 2, 3, 3])
    short.raw_data = short.raw_data[:-4]
    c.model_case("raw_data_length", model(
        [helper.make_node("Conv", ["x", "w"], ["y"], name="conv_raw")],
        [tensor("x", [1, 2, 8, 8])], [tensor("y", None)], [short]))
    # Enough ".." to reach /etc/passwd from any folder: the file exists, so
    # only refusing paths that leave the model's folder stops the read.
    for name, location in (("external_missing", "no_such_weights.bin"),
                           ("external_escape", "../" * 24 + "etc/passwd"),
                           ("external_absolute", "/etc/passwd")):
        w = weight("w", [4])
        external_data_helper.set_external_data(w, location)
        w.ClearField("raw_data")
        w.data_location = TensorProto.EXTERNAL
        c.model_case(name, model([helper.make_node("Add", ["x", "w"], ["y"], name="add_w")],
                                 [tensor("x", [4])], [tensor("y", None)], [w]))
    # A symlink in the model's folder that leads out of it, a directory, and
    # a range past the file's end: each refused before a byte is read.
    link = os.path.join(CASES_DIR, "passwd_link.bin")
    if os.path.lexists(link):
        os.remove(link)
    os.symlink("/etc/passwd", link)
    for name, location, offset, expect in (
            ("external_symlink", "passwd_link.bin", None,
             "external data location 'passwd_link.bin' resolves outside the model's folder"),
            ("external_directory", "a_directory.onnx", None,
             "external data location 'a_directory.onnx' is not a regular file"),
            ("external_past_end", "good_x.npy", 1 << 20, "external data file 'good_x.npy' is too short")):
        w = weight("w", [4])
        external_data_helper.set_external_data(w, location, offset=offset)
        w.ClearField("raw_data")
        w.data_location = TensorProto.EXTERNAL
        filename = c.onnx(name + ".onnx", model([helper.make_node("Add", ["x", "w"], ["y"], name="add_w")],
                                                [tensor("x", [4])], [tensor("y", None)], [w]))
        c.case(name, f"NNAC check CASES/{filename}", f"{filename}: tensor 'w': {expect}")


def size_cases(c):
    """Shapes whose sizes overflow or exceed what nnac accepts."""
    for name, shape in (("input_2p40_squared", [1 << 40, 1 << 40]), ("input_wraps_to_zero", [1 << 32, 1 << 32])):
        filename = c.onnx(name + ".onnx", model([helper.make_node("Relu", ["x"], ["y"], name="relu")],
                                                [tensor("x", shape)], [tensor("y", None)]))
        c.case(name, f"NNAC check CASES/{filename}",
               f"{filename}: graph input 'x' of type f32[{shape[0]},{shape[1]}] is larger than the memory budget")
    # Initializers that claim far more than they hold: refused by their
    # shape, or by their length before memory of that size exists.
    for name, shape, expect in (("init_claims_4tib", [1 << 20, 1 << 20],
                                 " of type f32[1048576,1048576] is larger than the memory budget"),
                                ("init_claims_2gb", [1 << 29], ": raw_data has 4 bytes, its shape needs 2147483648")):
        w = TensorProto(name="w", data_type=FLOAT, dims=shape, raw_data=b"\0" * 4)
        filename = c.onnx(name + ".onnx", model([helper.make_node("Add", ["x", "w"], ["y"], name="add_w")],
                                                [tensor("x", [1])], [tensor("y", None)], [w]))
        c.case(name, f"NNAC check CASES/{filename}", f"tensor 'w'{expect}")
    # Empty attribute values, which protobuf hands over as NULL pointers.
    for name, attr in (("auto_pad_empty", helper.make_attribute("auto_pad", "")),
                       ("pads_empty", helper.make_attribute("pads", [], attr_type=AttributeProto.INTS))):
        node = helper.make_node("MaxPool", ["x"], ["y"], name="pool", kernel_shape=[2, 2])
        node.attribute.append(attr)
        filename = c.onnx(name + ".onnx", model([node], [tensor("x", [1, 1, 4, 4])], [tensor("y", None)]))
        if name == "auto_pad_empty":    # an empty pads list reads as none: tests/cli checks it runs
            c.case(name, f"NNAC check CASES/{filename}", f"{filename}: node 'pool' (MaxPool): auto_pad ''")
    # Names given twice, which the ONNX checker refuses.
    filename = c.onnx("initializer_twice.onnx", model(
        [helper.make_node("Add", ["x", "w"], ["y"], name="add_w")],
        [tensor("x", [4])], [tensor("y", None)], [weight("w", [4]), weight("w", [4])]))
    c.case("initializer_twice", f"NNAC check CASES/{filename}", "initializer 'w' is given twice")
    filename = c.onnx("input_twice.onnx", model(
        [helper.make_node("Relu", ["x"], ["y"], name="relu")],
        [tensor("x", [4]), tensor("x", [4])], [tensor("y", None)]))
    c.case("input_twice", f"NNAC check CASES/{filename}", "graph input 'x' is listed twice")
    # A ConstantOfShape whose output is 2^41 bytes: refused by shape inference.
    big = numpy_helper.from_array(np.array([1 << 20, 1 << 19], np.int64), "shape")
    filename = c.onnx("output_too_large.onnx", model(
        [helper.make_node("ConstantOfShape", ["shape"], ["c"], name="fill"),
         helper.make_node("Add", ["x", "c"], ["y"], name="add")],
        [tensor("x", [1, 1])], [tensor("y", None)], [big]))
    c.case("output_too_large", f"NNAC check CASES/{filename}",
           f"{filename}: node 'fill' (ConstantOfShape): output 'c' of type f32[1048576,524288] is larger "
           "than the memory budget")
    # Sizes computed from constants (issue 15): refused before anything is allocated.
    for name, op, inits, expect in (
            ("range_huge", "Range", [np.array(0, np.float32), np.array(1e18, np.float32), np.array(1, np.float32)],
             "the range has more than 1099511627776 elements"),
            ("range_budget", "Range", [np.array(0, np.int64), np.array(1 << 39, np.int64), np.array(1, np.int64)],
             "output of type i64[549755813888] is larger than the memory budget"),
            ("tile_overflow", "Tile", [np.array([1 << 62, 4], np.int64)], "dimension 0 times 4611686018427387904 repeats overflows"),
            ("tile_huge", "Tile", [np.array([1 << 30, 1 << 30], np.int64)],
             "output of type f32[2147483648,4294967296] is larger than the memory budget"),
            ("expand_huge", "Expand", [np.array([1 << 30, 1 << 30, 2, 4], np.int64)],
             "output of type f32[1073741824,1073741824,2,4] is larger than the memory budget")):
        names = [f"c{i}" for i in range(len(inits))]
        ins = (["x"] if op != "Range" else []) + names
        filename = c.onnx(name + ".onnx", model(
            [helper.make_node(op, ins, ["y"], name="big")],
            [tensor("x", [2, 4])] if op != "Range" else [], [tensor("y", None)],
            [numpy_helper.from_array(v, k) for k, v in zip(names, inits)]))
        c.case(name, f"NNAC check CASES/{filename}", f"{filename}: node 'big' ({op}): {expect}")


def budget_cases(c):
    """Work and memory past the budgets of --max-memory and --max-steps."""
    relu = c.onnx("relu_1024.onnx", model([helper.make_node("Relu", ["x"], ["y"], name="relu")],
                                          [tensor("x", [1024, 1024])], [tensor("y", None)]))
    c.case("input_over_budget", f"NNAC check CASES/{relu} --max-memory 1M",
           f"{relu}: graph input 'x' of type f32[1024,1024] is larger than the memory budget of 1 MiB "
           "(--max-memory)")
    # Four Relus of 256 KiB each: every tensor fits 512 KiB, the run's
    # together do not; refused before the interpreter allocates any.
    chain = c.onnx("relu_chain.onnx", model(
        [helper.make_node("Relu", [a], [b], name=f"relu{i}")
         for i, (a, b) in enumerate((("x", "t1"), ("t1", "t2"), ("t2", "t3"), ("t3", "y")))],
        [tensor("x", [256, 256])], [tensor("y", None)]))
    c.npy("x_256.npy", np.ones((256, 256), np.float32))
    c.case("run_over_memory", f"NNAC run CASES/{chain} --input x=CASES/x_256.npy --max-memory 512K "
           "--output-dir OUT", f"{chain}: node 'relu2' (Relu): output 't3' of type f32[256,256] takes the run's "
           "tensors past the memory budget of 512 KiB (--max-memory)")
    # Window attributes past 2^31 - 1, whose products overflowed; a window
    # of 2^40 taps, whose run would take hours: refused before it starts.
    big = 1 << 61
    filename = c.onnx("pool_kernel_2p61.onnx", model(
        [helper.make_node("AveragePool", ["x"], ["y"], name="pool", kernel_shape=[big, big],
                          pads=[big] * 4, strides=[big, big])], [tensor("x", [1, 1, 4, 4])], [tensor("y", None)]))
    c.case("pool_kernel_2p61", f"NNAC check CASES/{filename}",
           f"{filename}: node 'pool' (AveragePool): 'kernel_shape' value {big} is larger than 2147483647")
    k = 1 << 20
    filename = c.onnx("pool_taps_2p40.onnx", model(
        [helper.make_node("MaxPool", ["x"], ["y"], name="pool", kernel_shape=[k, k], pads=[k - 1] * 4,
                          strides=[k, k])], [tensor("x", [1, 1, 4, 4])], [tensor("y", None)]))
    c.npy("x_pool.npy", np.ones((1, 1, 4, 4), np.float32))
    c.case("pool_taps_2p40", f"NNAC run CASES/{filename} --input x=CASES/x_pool.npy --output-dir OUT",
           f"{filename}: node 'pool' (MaxPool): takes the run past the step budget of 1000000000000 (--max-steps)")
    # A .npy whose header claims 2 GiB over four bytes of data: refused by
    # its length before 2 GiB exist (the command runs under a 1 GiB limit).
    header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (536870912,), }"
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    c.write("claims_2gib.npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + b"\0" * 4)
    c.case("npy_claims_2gib", f"NNAC run CASES/good_relu.onnx --input x=CASES/claims_2gib.npy --output-dir OUT",
           "claims_2gib.npy: not a valid .npy file: data shorter than the shape says")
    # A TensorProto of 8 bytes claiming 4 GiB: refused by its length
    # before 4 GiB exist (the typed field's count is checked first).
    c.write("claims_4gib.pb", TensorProto(data_type=FLOAT, dims=[1 << 30]).SerializeToString())
    c.case("pb_claims_4gib", f"NNAC run CASES/good_relu.onnx --input x=CASES/claims_4gib.pb --output-dir OUT",
           "claims_4gib.pb: tensor '(unnamed)': holds 0 values, its shape needs 1073741824")
    # Loops of 10^12 and 2^62 * 2^62 iterations: refused before they run.
    for name, extents, expect in (
            ("loop_steps_1e12", (1000000, 1000000), "kernel 'spin' runs 1000000000000 statements, which "
             "takes the program past the step budget of 100000000 (--max-steps)"),
            ("loop_steps_2p63", (1 << 62, 1 << 62), "kernel 'spin' runs more than 2^63 statements")):
        c.write(name + ".loop", ("# %s\nlevel dram\n\nbuf acc : f32[1] @dram output \"acc\"\n\nkernel spin {\n"
                                 "\tfor i in 0..%d {\n\t\tfor j in 0..%d {\n\t\t\tapply acc[0] = Relu(acc[0])\n"
                                 "\t\t}\n\t}\n}\n" % (name, extents[0], extents[1])).encode())
        c.case(name, f"NNAC run CASES/{name}.loop --max-steps 100000000 --output-dir OUT", f"{name}.loop: {expect}")
    c.case("loop_over_memory", "NNAC run tests/loop/lenet_conv1.loop --max-memory 1K --output-dir OUT",
           "takes the program's memory past the memory budget of 1 KiB (--max-memory)")


def graph_cases(c):
    """Graphs whose wiring is broken."""
    orphan = model([helper.make_node("Relu", ["x"], ["y"], name="relu")],
                   [tensor("x", [1, 4])], [tensor("y", None), tensor("nobody_makes_this", None)])
    c.model_case("output_not_produced", orphan)
    c.node_case("duplicate_output", two_output_model("first"), "relu_b", "Relu")
    cycle = model([helper.make_node("Relu", ["t2"], ["t1"], name="relu_first"),
                   helper.make_node("Relu", ["t1"], ["t2"], name="relu_second")],
                  [tensor("x", [1, 4])], [tensor("t2", None)])
    c.node_case("cycle", cycle, "relu_first", "Relu")


def binding_cases(c):
    """Symbolic shapes and --shape options that do not fit the model."""
    c.model_case("symbolic_dim", model([helper.make_node("Relu", ["x"], ["y"], name="relu")],
                                       [tensor("x", ["batch", 4])], [tensor("y", None)]), "inspect")
    good = c.onnx("good_relu.onnx", relu_model())
    c.case("shape_unknown_input", f"NNAC inspect CASES/{good} --shape nope=1,4",
           f"{good}: --shape nope")
    c.case("shape_wrong_rank", f"NNAC run CASES/{good} --shape x=1,4,1 --input x=CASES/good_x.npy",
           f"{good}: --shape x")


def run_input_cases(c):
    """nnac run with input files that are broken or do not fit."""
    good = "good_relu.onnx"
    c.npy("good_x.npy", np.ones((1, 4), np.float32))
    whole_npy = c.npy("wrong_shape.npy", np.ones((2, 4), np.float32))
    c.npy("wrong_dtype.npy", np.ones((1, 4), np.float64))
    with open(os.path.join(c.folder, whole_npy), "rb") as f:
        c.write("truncated.npy", f.read()[:-10])
    c.write("random_bytes.npy", c.rng.bytes(200))
    c.write("garbage.pb", c.rng.bytes(64))
    # A header claiming 2^32 x 2^32 elements (the product wraps to 0 in 64
    # bits) and four bytes of data: refused by its shape, nothing allocated.
    header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }"
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    c.write("huge_shape.npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + b"\0" * 4)
    c.case("npy_huge_shape", f"NNAC run CASES/{good} --input x=CASES/huge_shape.npy --output-dir OUT",
           "huge_shape.npy: a .npy array of type f32[4294967296,4294967296] is larger than the memory budget")
    for name in ("wrong_shape", "wrong_dtype", "truncated", "random_bytes"):
        c.case("npy_" + name, f"NNAC run CASES/{good} --input x=CASES/{name}.npy --output-dir OUT",
               f"{name}.npy")
    c.case("pb_garbage", f"NNAC run CASES/{good} --input x=CASES/garbage.pb --output-dir OUT",
           "garbage.pb")
    c.case("run_missing_input", f"NNAC run CASES/{good} --output-dir OUT", f"{good}: input 'x'")
    c.case("run_unknown_input", f"NNAC run CASES/{good} --input q=CASES/good_x.npy --output-dir OUT",
           f"{good}: --input q")
    # The model's problems come before the missing input.
    for name, given in (("run_unsupported_no_input", ""),
                        ("run_unsupported_with_input", " --input x=CASES/good_x.npy")):
        c.case(name, f"NNAC run CASES/unknown_op.onnx{given} --output-dir OUT",
               "unknown_op.onnx: node 'mystery' (FooBar): operator 'FooBar' is not supported")
    # The second output's file name is too long to create, after the first
    # output's file could have been written: nothing may be left behind.
    long_name = "long_output_name_" + "x" * 300
    two = c.onnx("long_output_name.onnx", two_output_model(long_name))
    c.case("run_output_unwritable", f"NNAC run CASES/{two} --input x=CASES/good_x.npy --output-dir OUT",
           long_name[:24])


def other_cases(c):
    """Loop-IR programs, architecture files and the map and compile options:
    their files are written by hand (cases/oob.loop, cases/map_*.arch) or are
    other tests' (tests/loop, tests/loop_bad, models/)."""
    for row in (
        ("loop_syntax", "NNAC run tests/loop_bad/missing_brace.loop",
         "missing_brace.loop:"),
        ("loop_unknown_buffer", "NNAC run tests/loop_bad/unknown_buffer.loop --output-dir OUT",
         "unknown buffer"),
        ("loop_truncated", "NNAC run tests/loop_bad/truncated.loop",
         "truncated.loop:"),
        ("loop_out_of_bounds", "NNAC run CASES/oob.loop --output-dir OUT",
         "oob.loop:9:"),
        ("loop_no_such_file", "NNAC run CASES/no_such_file.loop",
         "no_such_file.loop"),
        ("loop_bad_input_name", "NNAC run tests/loop/diannao_pool.loop"
                                " --input nosuch=CASES/good_x.npy --output-dir OUT",
         "--input nosuch"),
        ("loop_bad_input_type", "NNAC run tests/loop/diannao_pool.loop"
                                " --input x=CASES/good_x.npy --output-dir OUT",
         "good_x.npy"),
        ("compile_bad_dir", "NNAC compile models/lenet5.onnx -o OUT/no/such/dir/x.loop",
         "x.loop: cannot write"),
        ("compile_bad_model", "NNAC compile CASES/truncated.onnx -o OUT/x.loop",
         "truncated.onnx"),
        ("map_bad_arch_file", "NNAC map models/lenet5.onnx --arch CASES/map_bad_syntax.arch",
         "map_bad_syntax.arch:3:14: error:"),
        ("map_no_shared_level", "NNAC map models/lenet5.onnx --arch CASES/map_no_shared_level.arch",
         "map_no_shared_level.arch:7:8: level 'spad' is per_pe but no shared level comes before it"),
        ("map_unknown_preset", "NNAC map models/lenet5.onnx --arch nosuch",
         "unknown architecture 'nosuch'"),
        ("map_dataflow_unsupported", "NNAC map models/lenet5.onnx --arch tpu-v1 --dataflow rs",
         "arch 'tpu-v1' does not support dataflow rs"),
        ("map_bad_dataflow", "NNAC map models/lenet5.onnx --arch eyeriss --dataflow xyz",
         "--dataflow 'xyz'"),
        ("map_unknown_metric", "NNAC map models/lenet5.onnx --arch eyeriss --metric speed",
         "--metric 'speed'"),
        ("map_energy_unknown", "NNAC map models/lenet5.onnx --arch tpu-v1 --metric energy",
         "--metric energy needs"),
        ("map_no_arch", "NNAC map models/lenet5.onnx",
         "--arch is required"),
        ("map_bad_model", "NNAC map CASES/truncated.onnx --arch eyeriss",
         "truncated.onnx"),
        ("map_nothing_fits", "NNAC map models/lenet5.onnx --arch CASES/map_tiny.arch",
         "too small by", 1),
        ("map_bad_out", "NNAC map models/lenet5.onnx --arch eyeriss -o OUT/no/such/dir/x.txt",
         "x.txt: cannot write"),
        ("compile_dataflow_no_arch", "NNAC compile models/lenet5.onnx --dataflow rs",
         "--dataflow and --metric need --arch"),
        ("compile_bad_arch_file", "NNAC compile models/lenet5.onnx"
                                  " --arch CASES/map_bad_syntax.arch -o OUT",
         "map_bad_syntax.arch:3:14: error:"),
        ("compile_no_fit", "NNAC compile models/lenet5.onnx --arch CASES/map_tiny.arch -o OUT",
         "is too small by"),
        ("compile_cpu_arch_not_cpu", "NNAC compile models/lenet5.onnx --target cpu"
                                     " --arch tpu-v1 -o OUT/x.nnb",
         "is not a cpu (isa tpu)"),
        ("compile_cpu_arch_dataflow", "NNAC compile models/lenet5.onnx --target cpu"
                                      " --arch host --dataflow os -o OUT/x.nnb",
         "not for --target cpu"),
        ("compile_unknown_target", "NNAC compile models/lenet5.onnx --target gpu9 -o OUT/x.nnb",
         "--target 'gpu9': no such target (targets: cpu, tpu)"),
        ("compile_option_of_other_target", "NNAC compile models/lenet5.onnx --target cpu"
                                           " --precision bf16 -o OUT/x.nnb",
         "--precision does not apply to --target cpu (its options: --cpu)"),
        ("compile_option_no_target", "NNAC compile models/lenet5.onnx --cpu native",
         "--cpu needs --target"),
        ("compile_target_emit", "NNAC compile models/lenet5.onnx --target tpu --emit=loops -o OUT/x.nnb",
         "--emit=loops prints the loop IR; --target tpu writes a bundle"),
        ("map_threads_refused", "NNAC map models/lenet5.onnx --arch eyeriss --threads 2",
         "nnac map: --threads does not apply to map"),
        ("inspect_summary_refused", "NNAC inspect models/lenet5.onnx --summary",
         "nnac inspect: --summary does not apply to inspect"),
        ("run_runs_refused", "NNAC run models/lenet5.onnx --runs 3 --input input=models/lenet5_input.npy",
         "nnac run: --runs does not apply to run"),
        ("map_calibrate_refused", "NNAC map models/lenet5.onnx --arch eyeriss --calibrate OUT",
         "nnac map: --calibrate does not apply to map"),
        ("compile_bad_precision", "NNAC compile models/lenet5.onnx --target tpu --precision fp8"
                                  " -o OUT/x.nnb",
         "--precision 'fp8': expected int8 or bf16"),
        ("compile_unknown_stage", "NNAC compile models/lenet5.onnx --stop-after frob",
         "--stop-after 'frob': no such stage (the stages, in order: infer-shapes -> fold-constants"
         " -> remove-dead -> fold-batchnorm -> fuse-activations -> remove-dead -> lower -> map"
         " -> codegen;"),
        ("compile_print_unknown_stage", "NNAC compile models/lenet5.onnx --print-after remove-dead,3",
         "--print-after 'remove-dead,3': no such stage"),
        ("compile_map_without_arch", "NNAC compile models/lenet5.onnx --print-after map",
         "--print-after map: this compile does not run 'map': the dataflow mapper runs only with"
         " --arch"),
        ("compile_lower_graph_target", "NNAC compile models/lenet5.onnx --target tpu"
                                       " --stop-after lower -o OUT/x.nnb",
         "--stop-after lower: this compile does not run 'lower': --target tpu compiles the"
         " optimized graph, not the loop IR"),
        ("compile_map_cpu", "NNAC compile models/lenet5.onnx --target cpu --arch host"
                            " --print-after map -o OUT/x.nnb",
         "this compile does not run 'map': --target cpu does not map its loops"),
        ("compile_codegen_no_target", "NNAC compile models/lenet5.onnx --stop-after codegen",
         "this compile does not run 'codegen': code generation runs only with --target"),
        ("compile_print_after_stop", "NNAC compile models/lenet5.onnx --stop-after fuse-activations"
                                     " --print-after lower",
         "this compile does not run 'lower': it comes after --stop-after fuse-activations"),
        ("compile_stage_no_optimize", "NNAC compile models/lenet5.onnx --no-optimize"
                                      " --print-after fold-batchnorm",
         "this compile does not run 'fold-batchnorm': --no-optimize runs only infer-shapes"),
        ("compile_emit_stop_graph", "NNAC compile models/lenet5.onnx --emit=loops"
                                    " --stop-after fuse-activations",
         "--emit=loops: --stop-after fuse-activations stops before the loop IR is made"),
    ):
        c.case(*row)


def main():
    os.makedirs(CASES_DIR, exist_ok=True)
    corpus = Corpus(CASES_DIR)
    for make in (file_cases, op_cases, attention_cases, subgraph_cases, shape_cases, tensor_cases, size_cases, graph_cases,
                 binding_cases, run_input_cases, budget_cases, other_cases):
        make(corpus)
    corpus.manifest()
    print(f"{len(corpus.rows)} cases in {CASES_DIR}")


if __name__ == "__main__":
    main()
