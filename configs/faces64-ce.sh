#!/usr/bin/env bash
# faces64-ce: the context encoder (Pathak et al. 2016) beside faces64, on the same CelebA 64x64
# train identities, holes of every mask kind; plus the plain GAN of the paper's Table 1 (not shipped).
set -euo pipefail
DATA=${DATA:-../shared/data}; RUNS=${RUNS:-runs}; GF=${GF:-.venv/bin/ganfill}
CE_STEPS=${CE_STEPS:-8000}; GAN_STEPS=${GAN_STEPS:-6000}
[ -d "$RUNS/data/celeba64-train" ] || $GF prepare "$DATA/celeba64/train" "$RUNS/data/celeba64-train" --crop none
if [ -d "$RUNS/ce-faces64/checkpoints" ]; then
  $GF train-ce --out "$RUNS/ce-faces64" --resume --steps "$CE_STEPS"
else
  $GF train-ce "$RUNS/data/celeba64-train" --out "$RUNS/ce-faces64" --width 64 --bottleneck 256 --adv-width 32 \
    --steps "$CE_STEPS" --checkpoint-every 500 --keep 20
fi
$GF export "$RUNS/ce-faces64" src/ganfill/assets/models/faces64-ce.safetensors --crop center:108
# the plain GAN (fully connected G and D), for the comparison only
if [ -d "$RUNS/gan-faces64/checkpoints" ]; then
  $GF train --out "$RUNS/gan-faces64" --resume --steps "$GAN_STEPS"
else
  $GF train "$RUNS/data/celeba64-train" --out "$RUNS/gan-faces64" --arch gan --steps "$GAN_STEPS" --checkpoint-every 1000
fi
# Table 1, measured (README): every method on the same 200 held-out faces and holes
[ -d "$RUNS/data/celeba64-val" ] || $GF prepare "$DATA/celeba64/val" "$RUNS/data/celeba64-val" --crop none
.venv/bin/python benchmarks/table1.py "$RUNS/data/celeba64-val" --out "$RUNS/table1" --gan "$RUNS/gan-faces64" -n 200
