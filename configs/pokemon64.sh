#!/usr/bin/env bash
# pokemon64: DCGAN width 32 at 64x64 on the 819-image Pokemon set; 50 images held out by a
# fixed checksum rule (cksum of the file name mod 20 == 0), horizontal flips and DiffAugment
# (colour, translation, cutout on real and fake inside D's loss) as augmentation; then the encoder
# of z and the context encoder beside it (pokemon64-ce, for --mode faithful).
set -euo pipefail
DATA=${DATA:-../shared/data}; RUNS=${RUNS:-runs}; GF=${GF:-.venv/bin/ganfill}
STEPS=${STEPS:-4000}
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
    --steps "$STEPS" --checkpoint-every 500 --keep 0 --augment color,translation,cutout
fi
$GF export "$RUNS/pokemon64" "$RUNS/pokemon64-gan.safetensors"
ENC_STEPS=${ENC_STEPS:-4000}
if [ -d "$RUNS/pokemon64-encoder/checkpoints" ]; then
  $GF train-encoder --out "$RUNS/pokemon64-encoder" --resume --steps "$ENC_STEPS"
else
  $GF train-encoder "$RUNS/pokemon64-gan.safetensors" "$RUNS/data/pokemon64-train" --out "$RUNS/pokemon64-encoder" \
    --steps "$ENC_STEPS" --checkpoint-every 500
fi
$GF export "$RUNS/pokemon64-encoder" src/ganfill/assets/models/pokemon64.safetensors  # ships it
CE_STEPS=${CE_STEPS:-4000}
if [ -d "$RUNS/pokemon64-ce/checkpoints" ]; then
  $GF train-ce --out "$RUNS/pokemon64-ce" --resume --steps "$CE_STEPS"
else
  $GF train-ce "$RUNS/data/pokemon64-train" --out "$RUNS/pokemon64-ce" --width 32 --bottleneck 256 --adv-width 32 \
    --steps "$CE_STEPS" --checkpoint-every 500 --keep 20
fi
# shipped: iteration 1,000; on 769 images the CNN overfits after it (held-out hole PSNR falls: pokemon64-ce.md)
$GF export "$RUNS/pokemon64-ce/checkpoints/step-00001000" src/ganfill/assets/models/pokemon64-ce.safetensors
