#!/usr/bin/env bash
# The 100-epoch MultiMNIST runs behind docs/results/multimnist.md: mean, pcgrad and mgdaub, seeds 0-2, MultiLeNet,
# Adam lr 5e-4, batch 256 (the paper's schedule), two runs at a time with one torch thread each (2 cores).
# Resumable: a finished run (model.bin) is skipped, an interrupted one continues from its checkpoint.
# Usage: bash docs/results/run-multimnist-100.sh [DATA_DIR] [EPOCHS] [OUT_ROOT]
set -euo pipefail
cd "$(dirname "$0")/../.."
data=${1:-../shared/data}
epochs=${2:-100}
root=${3:-runs/results-100}
# Run from a private copy of the build so that rebuilding the tree meanwhile cannot change the binary mid-way.
bin=$root/bin
if [ ! -f "$bin/gsurg.dll" ]; then
  dotnet publish src/GradientSurgery.Cli -c Release -o "$bin" >/dev/null
fi
run() {
  local method=$1 seed=$2 out=$root/multimnist-$1-seed$2
  [ -f "$out/model.bin" ] && return 0
  local resume=(); [ -f "$out/checkpoint.bin" ] && resume=(--resume)
  OMP_NUM_THREADS=1 TERM=dumb dotnet "$bin/gsurg.dll" train --benchmark multimnist --method "$method" --data "$data" \
    --epochs "$epochs" --seed "$seed" --out "$out" "${resume[@]}" >>"$root/multimnist-$method-seed$seed.log" 2>&1
}
export -f run; export data epochs root bin
mkdir -p "$root"
for seed in 0 1 2; do for method in pcgrad mgdaub mean; do echo "$method $seed"; done; done |
  xargs -P 2 -L 1 bash -c 'run "$0" "$1"'
dotnet "$bin/gsurg.dll" summarize "$root"/multimnist-*/ --markdown "$root/summary.md"
