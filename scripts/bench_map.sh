#!/bin/sh
# The mapper's speed (a benchmark, not a test): maps every layer of
# ResNet-50 (../shared/models/zoo_topologies) onto the eyeriss preset, all
# four dataflows, energy metric, on one core, and prints the time, the
# mappings evaluated and the ratio to the 10 s budget.
set -eu
BUILD=${1:-build}
SHARED=${NNAC_SHARED:-../shared}
MODEL="$SHARED/models/zoo_topologies/light_resnet50.onnx"
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT

"$BUILD/nnac" map "$MODEL" --arch eyeriss >/dev/null 2>"$OUT"
line=$(grep '^map: ' "$OUT" | tail -n 1)
echo "$line"
echo "$line" | awk '{ for (i = 1; i <= NF; i++) if ($(i+1) == "s") t = $i }
	END { printf "bench-map: resnet50 on eyeriss in %.2f s, %.2fx the 10 s budget\n", t, t / 10 }'
