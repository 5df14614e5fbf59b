#!/bin/sh
# Golden tests of the nnac command line: every line of cases.tsv runs a
# command (NNAC is the binary, TMP/ a scratch folder); its exit status must
# match and its stdout must equal expected/NAME.out byte for byte.  Also
# checks that `nnac run --output-dir` writes outputs equal to the references
# in models/.
# Ends with "cli: P passed, F failed".
# With --update, rewrites the expected files (read the diff before committing).
set -u
BUILD=${1:-build}
UPDATE=${2:-}
HERE=$(dirname "$0")
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
pass=0
fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }

tab=$(printf '\t')
while IFS="$tab" read -r name want cmd; do
	case "$name" in ''|\#*) continue ;; esac
	cmd=$(echo "$cmd" | sed "s|NNAC|$BUILD/nnac|g; s|TMP/|$TMP/|g")
	sh -c "$cmd" >"$TMP/out" 2>"$TMP/err"
	rc=$?
	if [ "$UPDATE" = "--update" ]; then
		cp "$TMP/out" "$HERE/expected/$name.out"
	fi
	if [ "$rc" != "$want" ]; then
		bad "$name: exit $rc, expected $want: $(head -c 300 "$TMP/err")"
	elif ! cmp -s "$TMP/out" "$HERE/expected/$name.out"; then
		bad "$name: stdout differs from expected/$name.out:"
		diff "$HERE/expected/$name.out" "$TMP/out" | head -20
	else
		ok
	fi
done <"$HERE/cases.tsv"

# nnac run writes .npy outputs that match the ONNX Runtime references.
for m in lenet5 mlp resblock lstm_cell; do
	rm -rf "$TMP/o"
	if ! "$BUILD/nnac" run "models/$m.onnx" --input "input=models/${m}_input.npy" --output-dir "$TMP/o" >/dev/null 2>"$TMP/err"; then
		bad "run $m: $(cat "$TMP/err")"
		continue
	fi
	first=$(ls "$TMP/o" | head -n 1)
	if python3 -c "
import sys, numpy as np
got, want = np.load(sys.argv[1]), np.load(sys.argv[2])
sys.exit(0 if got.shape == want.shape and np.allclose(got, want, rtol=1e-4, atol=1e-5) else 1)
" "$TMP/o/$first" "models/${m}_expected.npy"; then
		ok
	else
		bad "run $m: $first differs from models/${m}_expected.npy"
	fi
done

echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
