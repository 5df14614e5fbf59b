#!/bin/sh
# Runs every case of tests/bad_input/cases/manifest.tsv against BUILD_DIR/nnac
# and checks that nnac refuses the input cleanly: the expected exit status, no
# signal, one error line on stderr (for loop-IR text: that line, the source
# line and a caret) holding the expected substring (nnac check
# reports on stdout), and no output file left behind by `nnac run`.
# Prints one line per failed check, then "bad-input: P passed, F failed".
#
# usage: sh tests/bad_input/run_corpus.sh BUILD_DIR
set -f

if [ $# -ne 1 ] || [ ! -x "$1/nnac" ]; then
	echo "usage: sh tests/bad_input/run_corpus.sh BUILD_DIR (with BUILD_DIR/nnac built)" >&2
	exit 2
fi
nnac=$(cd "$1" && pwd)/nnac
cd "$(dirname "$0")/../.." || exit 2
cases=tests/bad_input/cases
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
tab=$(printf '\t')
passed=0
failed=0

# fail CASE MESSAGE: reports one failed check.
fail() {
	echo "FAIL $1: $2"
	ok=false
}

# check_case NAME STATUS EXPECT OUT ARGV...: runs one case and checks it.
check_case() {
	name=$1 status=$2 expect=$3 out=$4
	shift 4
	verb=$2
	"$@" >"$tmp/stdout" 2>"$tmp/stderr"
	rc=$?
	report=$tmp/stderr
	[ "$verb" = check ] && report=$tmp/stdout
	ok=true
	if [ $rc -ge 128 ]; then
		fail "$name" "killed by signal $((rc - 128)) (exit $rc)"
	elif [ $rc -ne "$status" ]; then
		fail "$name" "exit status $rc, expected $status"
	fi
	if ! grep -qF -- "$expect" "$report"; then
		fail "$name" "no line contains \"$expect\"; got: $(head -n 3 "$report" | tr '\n' '|')"
	fi
	lines=$(wc -l <"$tmp/stderr" | tr -d " ")
	# An error in loop-IR text is one line plus the source line and a caret.
	if head -n 1 "$tmp/stderr" | grep -qE ':[0-9]+:[0-9]+: error: ' && [ "$lines" -eq 3 ]; then
		lines=1
	fi
	if [ "$verb" != check ] && [ "$lines" -ne 1 ]; then
		fail "$name" "stderr has $lines lines, expected one error line"
	fi
	if [ -d "$out" ] && [ -n "$(find "$out" -name '*.npy' -o -name '*.tmp')" ]; then
		fail "$name" "left output files: $(find "$out" -name '*.npy' -o -name '*.tmp' | tr '\n' ' ')"
	fi
	if $ok; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
	fi
}

while IFS=$tab read -r name command status expect; do
	[ "$name" = case ] && continue
	out=$tmp/out.$name
	set --
	for word in $command; do
		case $word in
		NNAC) word=$nnac ;;
		OUT) word=$out ;;
		CASES/*) word=$cases/${word#CASES/} ;;
		*=CASES/*) word=${word%%=CASES/*}=$cases/${word#*=CASES/} ;;
		esac
		set -- "$@" "$word"
	done
	check_case "$name" "$status" "$expect" "$out" "$@"
done <"$cases/manifest.tsv"

echo "bad-input: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
