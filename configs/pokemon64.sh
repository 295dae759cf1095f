#!/usr/bin/env bash
# pokemon64: DCGAN width 32 at 64x64 on the 819-image Pokemon set; 50 images held out by a
# fixed checksum rule (cksum of the file name mod 20 == 0), horizontal flips as augmentation.
set -euo pipefail
DATA=${DATA:-../shared/data}; RUNS=${RUNS:-runs}; GF=${GF:-.venv/bin/ganfill}
STEPS=${STEPS:-1000}
if [ ! -d "$RUNS/data/pokemon64-train" ]; then
  src=$(cd "$DATA/pokemon128" && pwd)
  mkdir -p "$RUNS/src/pokemon-train" "$RUNS/src/pokemon-val"
  for f in "$src"/*.jpg; do
    b=$(basename "$f")
    if [ $(( $(echo "$b" | cksum | cut -d' ' -f1) % 20 )) -eq 0 ]; then split=val; else split=train; fi
    ln -sf "$f" "$RUNS/src/pokemon-$split/$b"
  done
  $GF prepare "$RUNS/src/pokemon-train" "$RUNS/data/pokemon64-train" --resolution 64 --crop pad
  $GF prepare "$RUNS/src/pokemon-val" "$RUNS/data/pokemon64-val" --resolution 64 --crop pad
fi
if [ -d "$RUNS/pokemon64/checkpoints" ]; then
  $GF train --out "$RUNS/pokemon64" --resume --steps "$STEPS"
else
  $GF train "$RUNS/data/pokemon64-train" --out "$RUNS/pokemon64" --g-width 32 --d-width 32 \
    --steps "$STEPS" --checkpoint-every 250 --keep 20
fi
$GF export "$RUNS/pokemon64" "$RUNS/pokemon64-gan.safetensors"
ENC_STEPS=${ENC_STEPS:-4000}
if [ -d "$RUNS/pokemon64-encoder/checkpoints" ]; then
  $GF train-encoder --out "$RUNS/pokemon64-encoder" --resume --steps "$ENC_STEPS"
else
  $GF train-encoder "$RUNS/pokemon64-gan.safetensors" "$RUNS/data/pokemon64-train" --out "$RUNS/pokemon64-encoder" \
    --steps "$ENC_STEPS" --checkpoint-every 500
fi
$GF export "$RUNS/pokemon64-encoder" pokemon64
