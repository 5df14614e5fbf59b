"""Bundles are code: what nnac refuses before any code of a cpu bundle runs
(docs/bundle.md, "Trust: running a bundle runs native code").

lenet5's cpu bundle gets its shared object replaced by objects built here
with the system C compiler (cc -shared -nostartfiles, as the cpu target
links), the bundle laid out again with every SHA-256 and the checksum
right (tests/nnb.py), so that only the ELF inspection can stop them:

- a control object with nnac's ABI tag whose nnac_main writes 42 into the
  output: `nnac run --verify-only` accepts it and `nnac run` runs it (so the
  harness's bundles are otherwise valid, and an object put there runs);
- an object whose constructor creates a marker file: `nnac run` exits 2
  with the refusal, and the marker does not exist (no code of it ran);
- objects that import system(), need another library, carry ABI tag 3,
  and a truncated and a garbage ELF: each refused with its message, by
  `nnac run` and by `nnac run --verify-only`;
- a bundle whose program was changed with only the CRC made right: refused
  by the program's SHA-256;
- buffer records (resealed) whose dims multiply past 2^64 (2^32 x 2^32
  wrapped to 0 and passed), and a view at element offset 2^62 (its fit
  check wrapped): refused before any memory is laid out.

usage: python3 tests/test_trust.py BUILD_DIR   (from the repository root)
"""
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nnb  # noqa: E402
from e2e import Report, nnac  # noqa: E402

ABI = 5   # NNAC_CPU_ABI (runtime/cpu_abi.h)
PREFIX = "section program_cpu 'cpu': shared object: "

HEADER = """
const unsigned nnac_abi_tag = %(abi)d;
void nnac_main(void *const *bufs, const void *par)
{
    (void)par;
    ((float *)bufs[%(out)d])[0] = 42.0f;
}
"""
CTOR = """
extern int open(const char *, int, ...);
__attribute__((constructor)) static void boom(void) { open("%(marker)s", 0101, 0644); }
"""
SYSTEM = """
extern int system(const char *);
int nnac_shell(void) { return system("touch %(marker)s"); }
"""


def program_parts(payload):
    """(bytes before the object's length, the object, the first output buffer)
    of a program_cpu payload (format in runtime/dev_cpu.c)."""
    at = 12
    nbufs = struct.unpack_from("<I", payload, 8)[0]
    for _ in range(nbufs):
        n = struct.unpack_from("<I", payload, at)[0]
        at += 4 + n + 4
        rank = struct.unpack_from("<I", payload, at)[0]
        at += 4 + 8 * rank + 4 + 4 + 8 + 8
    nin = struct.unpack_from("<I", payload, at)[0]
    at += 4 + 4 * nin
    out0 = struct.unpack_from("<I", payload, at + 4)[0]
    so_at = payload.rfind(b"\x7fELF")
    while struct.unpack_from("<Q", payload, so_at - 8)[0] != len(payload) - so_at:
        so_at = payload.rfind(b"\x7fELF", 0, so_at)
    return payload[: so_at - 8], payload[so_at:], out0


def buf_records(payload):
    """[(offset of the record's rank field, rank, offset of its view_offset,
    view_of)] of a program_cpu payload."""
    at, out = 12, []
    for _ in range(struct.unpack_from("<I", payload, 8)[0]):
        at += 4 + struct.unpack_from("<I", payload, at)[0] + 4
        rank = struct.unpack_from("<I", payload, at)[0]
        view_at = at + 4 + 8 * rank + 4 + 4
        out.append((at, rank, view_at, struct.unpack_from("<i", payload, view_at - 4)[0]))
        at = view_at + 16
    return out


def with_object(bundle, so):
    head, _, _ = program_parts(nnb.payload(bundle, "program_cpu", "cpu"))
    return nnb.replace(bundle, "program_cpu", "cpu", head + struct.pack("<Q", len(so)) + so)


def build_so(tmp, name, src, flags=()):
    c, so = os.path.join(tmp, name + ".c"), os.path.join(tmp, name + ".so")
    with open(c, "w") as f:
        f.write(src)
    r = subprocess.run(["cc", "-O1", "-fPIC", "-shared", "-nostartfiles", "-o", so, c, "-L" + tmp, *flags],
                       capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError("cc %s: %s" % (name, r.stderr))
    with open(so, "rb") as f:
        return f.read()


def write(tmp, name, data):
    path = os.path.join(tmp, name + ".nnb")
    with open(path, "wb") as f:
        f.write(data)
    return path


def run(build, path, *extra):
    return nnac(build, "run", path, "--input", "input=models/lenet5_input.npy", *extra)


def check_control(build, rep, tmp, bundle, out):
    path = write(tmp, "control", with_object(bundle, build_so(tmp, "control", HEADER % {"abi": ABI, "out": out})))
    r = nnac(build, "run", "--verify-only", path)
    rep.check(r.returncode == 0 and "verified:" in r.stdout and "ABI %d" % ABI in r.stdout,
              "control object: --verify-only accepts it", r.stdout + r.stderr)
    folder = os.path.join(tmp, "control-out")
    r = run(build, path, "--output-dir", folder)
    try:
        got = float(np.load(os.path.join(folder, "output.npy")).ravel()[0])
    except OSError:
        got = None
    rep.check(r.returncode == 0 and got == 42.0, "control object: nnac run runs its nnac_main (output 42)",
              "exit %d, output %s %s" % (r.returncode, got, r.stderr.strip()))


def expect_refused(build, rep, path, want, what, marker=None):
    for extra in ((), ("--verify-only",)):
        r = run(build, path) if not extra else nnac(build, "run", *extra, path)
        lines = r.stderr.strip().splitlines()
        ok = r.returncode == 2 and len(lines) == 1 and lines[0] == path + ": " + want and r.stdout == ""
        rep.check(ok, "%s: nnac run%s exits 2 with \"%s\"" % (what, "".join(" " + e for e in extra), want),
                  "exit %d: %s" % (r.returncode, r.stderr.strip()))
        if marker:
            rep.check(not os.path.exists(marker), "%s: no code of it ran (%s was not created)" % (what, marker))


def check_hostile(build, rep, tmp, bundle, out):
    marker = os.path.join(tmp, "marker")
    good = HEADER % {"abi": ABI, "out": out}
    ctor = with_object(bundle, build_so(tmp, "ctor", good + CTOR % {"marker": marker}))
    expect_refused(build, rep, write(tmp, "ctor", ctor),
                   PREFIX + "has DT_INIT_ARRAY (functions that run when it is loaded)", "constructor", marker)
    system = with_object(bundle, build_so(tmp, "system", good + SYSTEM % {"marker": marker}))
    expect_refused(build, rep, write(tmp, "system", system),
                   PREFIX + "imports 'system', which is not one of the functions nnac's cpu code may call "
                   "(the runtime helpers nnac_rt_*, libm, memcpy, memmove, memset)", "import of system()", marker)
    build_so(tmp, "libother", "int nnac_other(void) { return 1; }\n")
    needed = with_object(bundle, build_so(tmp, "needed", good, ("-Wl,--no-as-needed", "-lother")))
    expect_refused(build, rep, write(tmp, "needed", needed),
                   PREFIX + "needs the library 'libother.so' (DT_NEEDED); nnac's objects may need only "
                   "libm.so.6 and libc.so.6", "a DT_NEEDED on another library")
    abi3 = with_object(bundle, build_so(tmp, "abi3", HEADER % {"abi": 3, "out": out}))
    expect_refused(build, rep, write(tmp, "abi3", abi3),
                   PREFIX + "has ABI tag 3; this runtime runs ABI %d" % ABI, "ABI tag 3")
    control = build_so(tmp, "control", good)
    expect_refused(build, rep, write(tmp, "truncated", with_object(bundle, control[:200])),
                   PREFIX + "program header table (%d entries at byte 64) is empty or lies past the end of "
                   "the file (200 bytes)" % struct.unpack_from("<H", control, 56)[0], "a truncated ELF")
    garbage = np.random.default_rng(14).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    expect_refused(build, rep, write(tmp, "garbage", with_object(bundle, garbage)),
                   PREFIX + "not an ELF file (it does not start with \\x7fELF)", "garbage instead of ELF")


def check_digest(build, rep, tmp, bundle):
    """A program byte changed and only the CRC made right."""
    off = [s[2] for s in nnb.sections(bundle) if s[0] == "program_cpu"][0]
    d = bytearray(bundle)
    d[off + 16] ^= 1
    d[32:36] = bytes(4)
    d[32:36] = struct.pack("<I", nnb.crc32c(bytes(d)))
    expect_refused(build, rep, write(tmp, "tampered", bytes(d)),
                   "section program_cpu 'cpu': SHA-256 does not match its contents (the bundle was "
                   "modified after nnac wrote it)", "a program changed after nnac wrote it")


def check_records(build, rep, tmp, bundle):
    """Buffer records whose sizes wrapped 64 bits, resealed."""
    prog = nnb.payload(bundle, "program_cpu", "cpu")
    recs = buf_records(prog)
    i = next(k for k, r in enumerate(recs) if r[1] >= 2)
    wrap = bytearray(prog)
    struct.pack_into("<qq", wrap, recs[i][0] + 4, 1 << 32, 1 << 32)
    expect_refused(build, rep, write(tmp, "wrap", nnb.replace(bundle, "program_cpu", "cpu", bytes(wrap))),
                   "program_cpu: buffer record %d is malformed" % i, "dims 2^32 x 2^32 (the product wraps to 0)")
    j = next(k for k, r in enumerate(recs) if r[3] >= 0)
    view = bytearray(prog)
    struct.pack_into("<q", view, recs[j][2], 1 << 62)
    at = recs[j - 1][2] + 16 if j else 12
    name = prog[at + 4: at + 4 + struct.unpack_from("<I", prog, at)[0]].decode()
    expect_refused(build, rep, write(tmp, "view", nnb.replace(bundle, "program_cpu", "cpu", bytes(view))),
                   "view '%s' does not fit in its base" % name, "a view at element offset 2^62")


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    rep = Report()
    tmp = tempfile.mkdtemp(prefix="nnac-trust-")
    try:
        path = os.path.join(tmp, "lenet5.nnb")
        r = nnac(build, "compile", "models/lenet5.onnx", "--target", "cpu", "-o", path)
        rep.check(r.returncode == 0, "lenet5 compiles for cpu", r.stderr)
        with open(path, "rb") as f:
            bundle = f.read()
        _, so, out = program_parts(nnb.payload(bundle, "program_cpu", "cpu"))
        rep.check(with_object(bundle, so) == bundle,
                  "tests/nnb.py lays out and seals a bundle byte for byte as nnac does")
        check_control(build, rep, tmp, bundle, out)
        check_hostile(build, rep, tmp, bundle, out)
        check_digest(build, rep, tmp, bundle)
        check_records(build, rep, tmp, bundle)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("trust: %d passed, %d failed" % (rep.passed, rep.failed))
    return 1 if rep.failed else 0


if __name__ == "__main__":
    sys.exit(main())
