"""Reading, patching and writing bundle files (docs/bundle.md) from the
tests: the section table, and a payload replaced (by bytes of the same
length, or of any length with the bundle laid out again) with every
section's SHA-256 and the checksum made right again, so that a test can
reach the checks that come after the container's own."""
import hashlib
import struct

VERSION, HEADER, ENTRY, ALIGN = 2, 64, 96, 64
NAME, DIGEST = 24, 64          # entry offsets of the name and the SHA-256
KINDS = {1: "meta", 2: "tensors", 3: "weights", 4: "host_loops", 5: "model",
         16: "program_tpu", 17: "program_cpu", 18: "program_cuda"}
CODES = {v: k for k, v in KINDS.items()}


def _crc_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def sections(data):
    """[(kind name, section name, offset, size)] in table order."""
    count = struct.unpack_from("<I", data, 20)[0]
    out = []
    for i in range(count):
        e = HEADER + i * ENTRY
        kind, _, off, size = struct.unpack_from("<IIQQ", data, e)
        name = data[e + NAME: e + DIGEST].split(b"\0")[0].decode()
        out.append((KINDS.get(kind, "?"), name, off, size))
    return out


def payload(data, kind, name):
    for k, n, off, size in sections(data):
        if k == kind and n == name:
            return data[off: off + size]
    return None


def reseal(data):
    """data with every section's SHA-256, the file size and the checksum
    made right, as nnac's writer makes them (nnb_reseal in C)."""
    out = bytearray(data)
    for i, (_, _, off, size) in enumerate(sections(data)):
        e = HEADER + i * ENTRY
        out[e + DIGEST: e + ENTRY] = hashlib.sha256(bytes(out[off: off + size])).digest()
    out[24:32] = struct.pack("<Q", len(out))
    out[32:36] = b"\0\0\0\0"
    out[32:36] = struct.pack("<I", crc32c(bytes(out)))
    return bytes(out)


def patch(data, kind, name, new):
    """data with that section's payload replaced by new (same length),
    digests and checksum recomputed."""
    for k, n, off, size in sections(data):
        if k == kind and n == name:
            assert len(new) == size
            return reseal(data[:off] + new + data[off + size:])
    raise KeyError((kind, name))


def write(secs):
    """The bundle nnac's writer makes of [(kind name, section name, payload)]."""
    table_end = HEADER + ENTRY * len(secs)
    entries, body, at = b"", b"", table_end
    for kind, name, data in secs:
        pad = -at % ALIGN
        body += b"\0" * pad
        at += pad
        entries += struct.pack("<IIQQ", CODES[kind], 0, at, len(data)) + \
            name.encode().ljust(DIGEST - NAME, b"\0") + hashlib.sha256(data).digest()
        body += data
        at += len(data)
    header = b"NNACBNDL" + struct.pack("<IIIIQIi", VERSION, HEADER, 0, len(secs), at, 0, ENTRY)
    return reseal(header.ljust(HEADER, b"\0") + entries + body)


def replace(data, kind, name, new):
    """data with that section's payload replaced by new (any length), the
    bundle laid out again."""
    secs = [(k, n, data[off: off + size]) for k, n, off, size in sections(data)]
    hit = [i for i, (k, n, _) in enumerate(secs) if k == kind and n == name]
    if not hit:
        raise KeyError((kind, name))
    secs[hit[0]] = (kind, name, new)
    return write(secs)
