#!/bin/sh
# Installs what nnac needs to build and test, and nothing that is already
# there.  Idempotent: a second run installs nothing.
#   Debian packages: compiler, CMake, protobuf-c, flex/bison, LLVM, the ONNX
#   proto file (libonnx-dev) and the ONNX backend test data (libonnx-testdata).
#   Python test tools (pip): onnx, onnxruntime, numpy -- tests and model
#   scripts only, never in the compile or run path.
#   With the argument "fuzz" (make fuzz): also clang's runtime libraries,
#   libFuzzer among them (libclang-rt-dev).
set -eu

PKGS="build-essential cmake pkg-config protobuf-c-compiler libprotobuf-c-dev flex bison
      llvm-dev clang libonnx-dev libonnx-testdata python3 python3-pip"
[ "${1:-}" = fuzz ] && PKGS="$PKGS libclang-rt-dev"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO="sudo"
	echo "install-deps: installing Debian packages:$missing"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi

PY=${PYTHON:-python3}
if ! $PY -c "import onnx, onnxruntime, numpy" 2>/dev/null; then
	echo "install-deps: installing Python test tools (onnx, onnxruntime, numpy)"
	$PY -m pip install -q onnx onnxruntime numpy 2>/dev/null ||
		$PY -m pip install -q --break-system-packages onnx onnxruntime numpy
fi
