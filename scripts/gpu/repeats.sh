#!/usr/bin/env bash
# The repeated-split measurement on a lent GPU machine, in one call (scripts/gpu/README.md).
# Usage there: scripts/gpu/repeats.sh PARTS_DIR [K (20)]
# The default recipe, resumed from docs/repeated_splits.json and its scores (the splits already
# measured are kept; only the missing seeds, up to K, are trained).
# Every report is written under $OUT as it grows (one row per finished split), so a call cut off
# at its limit still brings back the splits it finished; `--resume` continues them later.
set -uo pipefail
parts=${1:-/tmp/gpu}
k=${2:-20}
out=${OUT:-/tmp/newsclf-gpu-out}
budget_s=${NEWSCLF_GPU_BUDGET_S:-540}
cd "$(dirname "$0")/../.."
start=$(date +%s)
. scripts/gpu/install.sh "$parts" || exit 1
python=${PYTHON:-python3}
"$python" -c "
import sys, torch
if not torch.cuda.is_available() and sys.argv[1] != '1':
    sys.exit('gpu repeats: no CUDA device; this measurement takes hours on a CPU')
print('gpu repeats: device', torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'cpu')
" "${NEWSCLF_GPU_ALLOW_CPU:-0}" || exit 1
shift $(( $# > 2 ? 2 : $# ))
extra=("$@")   # extra training flags (the tests use them to make the run small)
run_recipe() {   # NAME SEED_FILE FLAGS...
  local name=$1 seed_file=$2 left
  shift 2
  left=$(( budget_s - ($(date +%s) - start) ))
  if [ "$left" -lt 30 ]; then
    echo "gpu repeats: no time left for $name"
    return 0
  fi
  mkdir -p "$out/$name"
  [ -n "$seed_file" ] && [ -f "$seed_file" ] && cp "$seed_file" "$out/$name/repeated_splits.json"
  # the measured splits' stored scores come along, so the fusion study reads every split there
  [ -n "$seed_file" ] && [ -d "$(dirname "$seed_file")/scores" ] && cp -r "$(dirname "$seed_file")/scores" "$out/$name/"
  echo "gpu repeats: $name for up to ${left}s: python -m training --repeats $k $* --resume --output $out/$name"
  timeout --signal=TERM "$left" "$python" -m training --repeats "$k" "$@" "${extra[@]}" \
    --resume --output "$out/$name" > "$out/$name.log" 2>&1   # not a terminal: a log line every 30 s
  echo "gpu repeats: $name exit $? after $(( $(date +%s) - start ))s"
  rm -rf "$out/$name/.trainer"   # what a split cut off by the timeout left behind
  grep -E "repeated.split_done|repeated.done|error" "$out/$name.log" | tail -25
}
run_recipe default "${NEWSCLF_GPU_SEED-docs/repeated_splits.json}"
