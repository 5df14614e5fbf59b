#!/usr/bin/env python3
"""Fetches the node test cases of a newer ONNX release for the conformance
suites of `make test` (issue 15): PyPI's onnx wheel ships them under
onnx/backend/test/data/node/.  The wheel is downloaded with pip (nothing is
installed) into CACHE/wheels and its node cases unpacked into
CACHE/onnx-VERSION/node, once: a second run finds them and does nothing.
Prints the folder of the cases.

usage: python3 scripts/fetch_onnx_tests.py CACHE [VERSION]   (default 1.22.0)
"""
import glob
import os
import subprocess
import sys
import zipfile

PREFIX = "onnx/backend/test/data/node/"


def main():
    cache = sys.argv[1]
    version = sys.argv[2] if len(sys.argv) > 2 else "1.22.0"
    dest = os.path.join(cache, "onnx-" + version)
    done = os.path.join(dest, ".complete")
    if not os.path.exists(done):
        wheels = os.path.join(cache, "wheels")
        pattern = os.path.join(wheels, "onnx-%s-*.whl" % version)
        if not glob.glob(pattern):
            subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                            "onnx==" + version, "-d", wheels], check=True)
        with zipfile.ZipFile(glob.glob(pattern)[0]) as z:
            for name in z.namelist():
                if name.startswith(PREFIX) and not name.endswith("/"):
                    z.extract(name, dest)
        open(done, "w").close()
    print(os.path.join(dest, PREFIX))


if __name__ == "__main__":
    main()
