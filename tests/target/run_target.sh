#!/bin/sh
# The target table: nnac-dummytarget is nnac built with one more line in
# the table (tests/target/dummy.def) and one more folder
# (tests/target/dummy_target.c), nothing else.  The new target must be
# listed, compile through the one pipeline, refuse the other targets'
# options and be refused options of its own by the other targets.
# Ends with "target-table: P passed, F failed".
set -u
BUILD=${1:-build}
NNAC=$BUILD/nnac-dummytarget
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
pass=0
fail=0

check() {
	if [ "$2" = 0 ]; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL $1"
	fi
}

"$NNAC" targets >"$TMP/targets"
grep -q "^dummy    a test target" "$TMP/targets"; check "targets lists dummy" $?
grep -q "^cpu " "$TMP/targets" && grep -q "^tpu " "$TMP/targets"; check "targets keeps cpu and tpu" $?
grep -q -- "--greeting WORD: a word" "$TMP/targets"; check "targets lists dummy's option" $?

"$NNAC" compile models/lenet5.onnx --target dummy --greeting hi -o "$TMP/d.nnb" 2>"$TMP/err"
check "compile --target dummy exits 0" $?
grep -q "^dummy: [1-9][0-9]* kernels, 1 graph inputs, arch none, greeting hi$" "$TMP/err"
check "dummy gets the lowered loop IR and its option" $?
[ -s "$TMP/d.nnb" ] && grep -qa "greeting=hi" "$TMP/d.nnb" && grep -qa "target=dummy" "$TMP/d.nnb"
check "the bundle holds the target's META lines" $?

"$NNAC" compile models/lenet5.onnx --target dummy --arch host -o "$TMP/a.nnb" 2>"$TMP/err"
grep -q "arch host," "$TMP/err"; check "dummy gets --arch" $?

"$NNAC" compile models/lenet5.onnx --target dummy --precision int8 -o "$TMP/x.nnb" 2>"$TMP/err"
rc=$?
[ $rc = 2 ] && grep -q "^nnac compile: --precision does not apply to --target dummy (its options: --greeting)$" "$TMP/err" &&
	[ ! -e "$TMP/x.nnb" ]
check "dummy refuses tpu's option" $?

"$NNAC" compile models/lenet5.onnx --target cpu --greeting hi -o "$TMP/x.nnb" 2>"$TMP/err"
rc=$?
[ $rc = 2 ] && grep -q "^nnac compile: --greeting does not apply to --target cpu (its options: --cpu)$" "$TMP/err"
check "cpu refuses dummy's option" $?

"$NNAC" compile models/lenet5.onnx --target dummy --greeting= -o "$TMP/x.nnb" 2>"$TMP/err"
rc=$?
[ $rc = 2 ] && grep -q "greeting: give a word" "$TMP/err" && [ ! -e "$TMP/x.nnb" ]
check "dummy's prepare refuses before any work" $?

echo "target-table: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
