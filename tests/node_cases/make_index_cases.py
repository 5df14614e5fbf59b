"""Writes node cases for the ops indexed by run-time tensors (issue 15):
Gather, GatherElements, GatherND, ScatterElements and ScatterND whose
indices are graph inputs of more than 64 elements, so that no driver
specializes them into constants (passes/specialize.c binds at most 64):
they run through the loop IR's loaded indices on the loop interpreter and
the cpu target.  In the format of ONNX's node suite (CASE/model.onnx,
CASE/test_data_set_0/{input,output}_K.pb), expected outputs from
onnx.reference.

Covered: an embedding lookup (Gather axis 0 of a [100, 16] table by
[2, 40] int64 token ids, some negative); Gather along axis 1 by int32 ids
of rank 1; GatherElements along axis 0 with negative indices;
GatherND with batch_dims 1; ScatterND with reduction add and repeated
tuples (they combine in index order); ScatterElements with reduction max
and repeated indices.

usage: python3 tests/node_cases/make_index_cases.py   (then run
    build/nnac-conformance --label node-cases tests/node_cases)
"""
import sys

import numpy as np

sys.dont_write_bytecode = True   # no __pycache__ among the cases
from casefile import node_case as case  # noqa: E402

rng = np.random.default_rng(1516)


def normal(*shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


def index_cases():
    ids = rng.integers(-100, 100, size=(2, 40)).astype(np.int64)
    case("index_gather_embedding_runtime_ids", "Gather",
         [("table", normal(100, 16)), ("ids", ids)], ["y"], 13, axis=0)
    case("index_gather_axis1_i32_runtime", "Gather",
         [("x", normal(3, 7, 2)), ("i", rng.integers(-7, 7, size=(70,)).astype(np.int32))],
         ["y"], 13, axis=1)
    case("index_gather_elements_negative_runtime", "GatherElements",
         [("x", normal(6, 12)), ("i", rng.integers(-6, 6, size=(9, 12)).astype(np.int64))],
         ["y"], 13, axis=0)
    case("index_gather_nd_batch_dims_runtime", "GatherND",
         [("x", normal(2, 5, 6, 3)), ("i", rng.integers(-5, 5, size=(2, 20, 2)).astype(np.int64))],
         ["y"], 13, batch_dims=1)
    tuples = rng.integers(0, 4, size=(40, 2)).astype(np.int64)
    case("index_scatter_nd_add_repeated_runtime", "ScatterND",
         [("x", normal(4, 4, 3)), ("i", tuples), ("u", normal(40, 3))], ["y"], 16, reduction="add")
    case("index_scatter_elements_max_repeated_runtime", "ScatterElements",
         [("x", normal(5, 14)), ("i", rng.integers(-5, 5, size=(6, 14)).astype(np.int64)),
          ("u", normal(6, 14))], ["y"], 18, axis=0, reduction="max")


if __name__ == "__main__":
    index_cases()
