#!/usr/bin/env bash
# The runs behind docs/results/rl.md, with each suite's defaults (gsurg rl train --help), two runs at a time with one
# thread each (a 2-core machine). A run that was stopped is resumed from its last checkpoint; a finished one is skipped.
# Usage: bash docs/results/run-rl.sh pointmass|mt10 [SEEDS]     e.g. bash docs/results/run-rl.sh mt10 "0 1 2"
set -euo pipefail
cd "$(dirname "$0")/../.."
suite=${1:?pointmass or mt10}
seeds=${2:-0 1 2}
case $suite in
  pointmass) methods="mtsac pcgrad single" ;;
  mt10) methods="mtsac mhsac pcgrad cagrad:c=0.9 single" ;;   # c = 0.9: the CAGrad paper's MT10 setting
  *) echo "unknown suite $suite" >&2; exit 2 ;;
esac
# Run from a private copy of the build so that rebuilding the tree meanwhile cannot change the binary mid-way.
bin=$(mktemp -d)
dotnet publish src/GradientSurgery.Cli -c Release -o "$bin" >/dev/null
run() {
  local method=$1 seed=$2 out=runs/results/rl-$suite-$1-seed$2
  local resume=()
  [ -f "$out/checkpoint.bin" ] && resume=(--resume)
  TERM=dumb dotnet "$bin/gsurg.dll" rl train --suite "$suite" --method "$method" --seed "$seed" --threads 1 --out "$out" "${resume[@]}" > "$out.log" 2>&1
}
jobs=()
for seed in $seeds; do
  for method in $methods; do
    jobs+=("$method $seed")
  done
done
# Two at a time.
for ((k = 0; k < ${#jobs[@]}; k += 2)); do
  mkdir -p runs/results
  run ${jobs[k]} &
  if ((k + 1 < ${#jobs[@]})); then run ${jobs[k + 1]} & fi
  wait
done
dotnet "$bin/gsurg.dll" summarize runs/results/rl-$suite-*-seed* --markdown runs/results/rl-$suite.md --plot runs/results/rl-$suite.png
