#!/usr/bin/env bash
# The runs behind docs/results/multimnist.md: 3 benchmarks × 3 methods × 3 seeds, MultiLeNet, Adam lr 5e-4, batch 256.
# Usage: bash docs/results/run-multimnist.sh [DATA_DIR] [EPOCHS]   (DATA_DIR holds mnist/ and fashion-mnist/)
set -euo pipefail
cd "$(dirname "$0")/../.."
data=${1:-../shared/data}
epochs=${2:-10}
# Run from a private copy of the build so that rebuilding the tree meanwhile cannot change the binary mid-way.
bin=$(mktemp -d)
dotnet publish src/GradientSurgery.Cli -c Release -o "$bin" >/dev/null
gsurg() { dotnet "$bin/gsurg.dll" "$@"; }
for benchmark in multimnist multifashion multifashion-mnist; do
  for method in ew pcgrad mgdaub; do
    for seed in 0 1 2; do
      out=runs/results/$benchmark-$method-seed$seed
      if [ -f "$out/model.bin" ]; then continue; fi
      resume=(); [ -f "$out/checkpoint.bin" ] && resume=(--resume)
      gsurg train --benchmark "$benchmark" --method "$method" --data "$data" --epochs "$epochs" --seed "$seed" --out "$out" "${resume[@]}"
    done
  done
done
gsurg summarize runs/results/*/ --markdown runs/results/summary.md
