"""Helpers shared by the end-to-end target suites (tests/test_tpu.py,
tests/test_runtime.py): the pass/fail report, running the nnac command,
the shared models folder and reading output folders.
"""
import os
import subprocess

import numpy as np

# ../shared next to the checkout, or $NNAC_SHARED (as tests/run_all.sh reads it).
MODELS = os.path.join(os.environ.get("NNAC_SHARED") or
                      os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared"),
                      "models")


class Report:
    """Counts checks and prints one line per check."""

    def __init__(self):
        self.passed = self.failed = 0

    def check(self, ok, name, detail=""):
        print("%s %s: %s" % ("ok  " if ok else "FAIL", name, detail), flush=True)
        if ok:
            self.passed += 1
        else:
            self.failed += 1


def nnac(build, *args):
    return subprocess.run([os.path.join(build, "nnac")] + list(args), capture_output=True, text=True)


def outputs(folder):
    """The .npy files `nnac run --output-dir` wrote, by output name."""
    return {f[:-4]: np.load(os.path.join(folder, f)) for f in sorted(os.listdir(folder))}
