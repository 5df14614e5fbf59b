#!/usr/bin/env python3
"""Writes the zoo_topologies models of ../shared/models with seeded random
weights (modelref.randomize_weights, the same draw test_models.py uses) into
OUT_DIR, so that C test drivers can check arithmetic on whole networks: the
shipped "light" models have constant weights and nearly constant outputs.

usage: python3 tests/random_zoo.py SHARED_MODELS_DIR OUT_DIR
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import modelref  # noqa: E402


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip())
    src, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    zoo = os.path.join(src, "zoo_topologies")
    for i, name in enumerate(sorted(f for f in os.listdir(zoo) if f.endswith(".onnx"))):
        dst = os.path.join(out, name.replace("light_", "random_"))
        modelref.randomize_weights(os.path.join(zoo, name), dst, seed=1000 + i)
        print(dst)


if __name__ == "__main__":
    main()
