#!/usr/bin/env python3
"""The tables of docs/tpu.md, generated from runtime/tpu_isa.def.

    scripts/tpu_isa_doc.py [--check] [DOC]        (DOC: docs/tpu.md)

DOC holds blocks

    <!-- tpu_isa.def: NAME -->
    ...generated text...
    <!-- /tpu_isa.def -->

where NAME is `ops` (the summary of the opcodes), `op MNEMONIC` (one
opcode's heading, bit diagram and field table), `registers`, `functions` or
`pools`.  The script rewrites the text between the markers and leaves the
rest of DOC alone; with --check it changes nothing and exits 1 when DOC is
out of date.  nnac-tpuisatest checks the field tables against the encoder.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEF = os.path.join(ROOT, "runtime", "tpu_isa.def")

STR = r'"((?:[^"\\]|\\.)*)"'
PATTERNS = {
    "op": re.compile(r"^TPU_OP\(\s*(\w+),\s*(\w+),\s*%s,\s*(\w+),\s*%s\)" % (STR, STR)),
    "field": re.compile(r"^TPU_FIELD\(\s*(\w+),\s*(\w+),\s*(\d+),\s*(\d+),\s*%s\)" % STR),
    "flag": re.compile(r"^TPU_FLAG\(\s*(\w+),\s*(\w+),\s*(\w+),\s*%s,\s*%s\)" % (STR, STR)),
    "reg": re.compile(r"^TPU_REG\(\s*(\w+),\s*(\d+),\s*%s,\s*%s\)" % (STR, STR)),
    "func": re.compile(r"^TPU_FUNC\(\s*(\w+),\s*(\d+),\s*%s,\s*%s\)" % (STR, STR)),
    "pool": re.compile(r"^TPU_POOL\(\s*(\w+),\s*(\d+),\s*%s,\s*%s\)" % (STR, STR)),
}
UNITS = {"NONE": "issue stage", "DMA": "host DMA", "WEIGHT": "weight FIFO",
         "MATRIX": "matrix unit", "ACT": "activation unit"}
WORD_BITS = 128


def read_def(path):
    """The entries of the .def: a dict of kind -> list of tuples."""
    d = {k: [] for k in PATTERNS}
    with open(path) as f:
        for line in f:
            for kind, pat in PATTERNS.items():
                m = pat.match(line)
                if m:
                    d[kind].append(m.groups())
    return d


def op_fields(d, op_id):
    return [(m, int(lo), int(w), syn) for (op, m, lo, w, syn) in d["field"] if op == op_id]


def op_flags(d, op_id):
    return [(fid, int(bit, 0), name, syn) for (op, fid, bit, name, syn) in d["flag"] if op == op_id]


def bits(lo, width):
    return "%d..%d" % (lo, lo + width - 1)


def diagram(fields):
    """The 128-bit word as an ASCII bit diagram, highest bit on the left."""
    segs = [(0, 8, "opcode")] + [(lo, w, m) for (m, lo, w, _) in fields]
    segs.sort()
    full, at = [], 0
    for lo, w, name in segs:
        if lo > at:
            full.append((at, lo - at, "0"))
        full.append((lo, w, name))
        at = lo + w
    if at < WORD_BITS:
        full.append((at, WORD_BITS - at, "0"))
    full.reverse()
    top, mid, rule = "", "|", "+"
    for lo, w, name in full:
        hi_s, lo_s = str(lo + w - 1), str(lo)
        cell = max(len(name) + 4, len(hi_s) + len(lo_s) + 3)
        if w > 1:
            top += " " + hi_s + " " * (cell - len(hi_s) - len(lo_s)) + lo_s
        else:
            top += " " + lo_s.center(cell)
        mid += name.center(cell) + "|"
        rule += "-" * cell + "+"
    return "\n".join([top.rstrip(), rule, mid, rule])


def gen_ops(d):
    out = ["| code | mnemonic | unit | synopsis |", "|------|----------|------|----------|"]
    for (oid, code, mn, unit, syn) in d["op"]:
        out.append("| 0x%02x | [`%s`](#%s) | %s | %s |" % (int(code, 0), mn, mn, UNITS[unit], syn))
    return out


def gen_op(d, mn):
    ops = [o for o in d["op"] if o[2] == mn]
    if not ops:
        sys.exit("tpu_isa_doc.py: no opcode '%s' in %s" % (mn, DEF))
    oid, code, _, unit, syn = ops[0]
    fields = op_fields(d, oid)
    out = ["### `%s`" % mn, "",
           "Opcode 0x%02x, executed by the %s: %s." % (int(code, 0), UNITS[unit], syn), "",
           "```", diagram(fields), "```", "",
           "| bits | field | meaning |", "|------|-------|---------|",
           "| 0..7 | opcode | 0x%02x |" % int(code, 0)]
    for (m, lo, w, fsyn) in fields:
        meaning = fsyn
        if m == "flags":
            meaning = "; ".join("`%s` (0x%02x) %s" % (name, bit, fs)
                                for (_, bit, name, fs) in op_flags(d, oid))
        elif m == "reg":
            meaning += "; by name, see [Registers](#registers)"
        elif m in ("func", "pool"):
            meaning += "; by name, see [%s](#%s)" % (
                ("Activation functions", "activation-functions") if m == "func"
                else ("Pooling modes", "pooling-modes"))
        out.append("| %s | `%s` | %s |" % (bits(lo, w), m, meaning))
    used = set(range(8))
    for (_, lo, w, _) in fields:
        used |= set(range(lo, lo + w))
    free = WORD_BITS - len(used)
    if free:
        out.append("")
        out.append("The other %d bits are 0." % free)
    return out


def gen_named(rows, what):
    out = ["| code | name | %s |" % what, "|------|------|%s|" % ("-" * (len(what) + 2))]
    for (_, code, name, syn) in rows:
        out.append("| %s | `%s` | %s |" % (code, name, syn))
    return out


def generate(d, name):
    if name == "ops":
        return gen_ops(d)
    if name.startswith("op "):
        return gen_op(d, name[3:].strip())
    if name == "registers":
        return gen_named(d["reg"], "meaning")
    if name == "functions":
        return gen_named(d["func"], "y = f(x)")
    if name == "pools":
        return gen_named(d["pool"], "meaning")
    sys.exit("tpu_isa_doc.py: unknown block '%s'" % name)


BEGIN = re.compile(r"^<!-- tpu_isa\.def: (.*?) -->$")
END = "<!-- /tpu_isa.def -->"


def rewrite(text, d):
    lines, out, i = text.split("\n"), [], 0
    while i < len(lines):
        m = BEGIN.match(lines[i])
        out.append(lines[i])
        i += 1
        if not m:
            continue
        while i < len(lines) and lines[i] != END:
            i += 1
        if i == len(lines):
            sys.exit("tpu_isa_doc.py: block '%s' has no end marker" % m.group(1))
        out += generate(d, m.group(1)) + [END]
        i += 1
    return "\n".join(out)


def main(argv):
    check = "--check" in argv
    args = [a for a in argv if a != "--check"]
    doc = args[0] if args else os.path.join(ROOT, "docs", "tpu.md")
    with open(doc) as f:
        old = f.read()
    new = rewrite(old, read_def(DEF))
    if check:
        if new != old:
            print("%s is out of date with %s: run scripts/tpu_isa_doc.py" % (doc, DEF))
            return 1
        return 0
    if new != old:
        with open(doc, "w") as f:
            f.write(new)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
