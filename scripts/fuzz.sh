#!/bin/sh
# Builds the libFuzzer targets (CMakeLists.txt, NNAC_FUZZ) in build-fuzz/
# with clang, AddressSanitizer and UBSan, and runs each for SECONDS:
#
#   sh scripts/fuzz.sh [SECONDS] [TARGET...]       (make fuzz FUZZ_TIME=1800)
#
# TARGETs: loop bundle onnx tensor arch elf (default: all), FUZZ_JOBS of them at
# once (default 1).  Each run starts from tests/fuzz/TARGET_corpus/ and
# keeps what it finds in build-fuzz/corpus/TARGET/; a crash, hang (over
# 10 s for one input), leak or out-of-memory (over 2 GiB) leaves its input
# in build-fuzz/findings/TARGET/ and its log in build-fuzz/logs/TARGET.log.
# Prints one line per target (executions, coverage, corpus, findings, and
# slow inputs: over 10 s, which libFuzzer keeps as slow-unit-* without
# stopping; they are reported, not counted as findings) and exits 1 when
# any target found something.  Minimise a finding with
#   build-fuzz/nnac-TARGETfuzz -minimize_crash=1 -runs=10000 FILE
# and add it to tests/fuzz/TARGET_corpus/, which `make test` replays.
set -u
SECONDS_EACH=${1:-60}
[ $# -gt 0 ] && shift
TARGETS=${*:-loop bundle onnx tensor arch elf}
JOBS=${FUZZ_JOBS:-1}
B=build-fuzz

CC=clang cmake -S . -B $B -DNNAC_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || exit 2
for t in $TARGETS; do
	cmake --build $B -j"${BUILD_JOBS:-2}" --target nnac-${t}fuzz >/dev/null || exit 2
done

# run_one TARGET: one libFuzzer run of SECONDS_EACH.
run_one() {
	t=$1
	mkdir -p $B/corpus/$t $B/findings/$t $B/logs
	dict=""
	[ -f tests/fuzz/$t.dict ] && dict=-dict=tests/fuzz/$t.dict
	$B/nnac-${t}fuzz -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
		-print_final_stats=1 -artifact_prefix=$B/findings/$t/ $dict \
		$B/corpus/$t tests/fuzz/${t}_corpus >$B/logs/$t.log 2>&1
	echo $? >$B/logs/$t.rc
}

running=0
for t in $TARGETS; do
	run_one "$t" &
	running=$((running + 1))
	if [ $running -ge "$JOBS" ]; then
		wait
		running=0
	fi
done
wait

found=0
printf '%-8s %8s %10s %8s %7s %7s %7s %5s  %s\n' target seconds execs execs/s cov ft corpus slow findings
for t in $TARGETS; do
	log=$B/logs/$t.log
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
	ft=$(grep -o 'ft: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
	corpus=$(ls $B/corpus/$t | wc -l)
	n=$(ls $B/findings/$t | grep -cE '^(crash|timeout|leak|oom)-')
	slow=$(ls $B/findings/$t | grep -c '^slow-unit-')
	rc=$(cat $B/logs/$t.rc)
	[ "$rc" -ne 0 ] && [ "$n" -eq 0 ] && n=1    # died without leaving an input
	found=$((found + n))
	printf '%-8s %8s %10s %8s %7s %7s %7s %5s  %s\n' "$t" "$SECONDS_EACH" "${execs:-?}" "${speed:-?}" \
		"${cov:-?}" "${ft:-?}" "$corpus" "$slow" "$n (exit $rc)"
done
[ "$found" -eq 0 ]
