#!/bin/sh
# The layer check: builds every probe of tests/layers/layers.cmake (an
# object including one layer's header with another layer's include
# directories) and checks that exactly the upward includes fail, each
# because the header is not found.  Ends with "layers: P passed, F failed".
set -u
BUILD=${1:-build}
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT
pass=0
fail=0
while read -r target want hdr; do
	if cmake --build "$BUILD" --target "$target" >"$LOG" 2>&1; then
		got=compiles
	elif grep -q "$hdr: No such file or directory" "$LOG"; then
		got=fails
	else
		got="fails for another reason"
	fi
	if [ "$got" = "$want" ]; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL $target: expected it $want, it $got"
		[ "$got" = compiles ] || tail -n 5 "$LOG"
	fi
done <"$BUILD/layer_probes.txt"
echo "layers: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
