"""Reading and patching bundle files (docs/bundle.md) from the tests: the
section table, and a payload replaced by bytes of the same length with the
checksum made right again, so that a test can reach the checks that come
after the container's own."""
import struct

HEADER, ENTRY = 64, 64
KINDS = {1: "meta", 2: "tensors", 3: "weights", 4: "host_loops", 5: "model",
         16: "program_tpu", 17: "program_cpu", 18: "program_cuda"}


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
        kind, _, off, size = struct.unpack_from("<IIQQ", data, HEADER + i * ENTRY)
        name = data[HEADER + i * ENTRY + 24: HEADER + (i + 1) * ENTRY].split(b"\0")[0].decode()
        out.append((KINDS.get(kind, "?"), name, off, size))
    return out


def payload(data, kind, name):
    for k, n, off, size in sections(data):
        if k == kind and n == name:
            return data[off: off + size]
    return None


def patch(data, kind, name, new):
    """data with that section's payload replaced by new (same length) and
    the checksum recomputed."""
    for k, n, off, size in sections(data):
        if k == kind and n == name:
            assert len(new) == size
            out = bytearray(data[:off] + new + data[off + size:])
            out[32:36] = b"\0\0\0\0"
            out[32:36] = struct.pack("<I", crc32c(bytes(out)))
            return bytes(out)
    raise KeyError((kind, name))
