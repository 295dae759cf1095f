#!/usr/bin/env bash
# glyphs32: DCGAN width 64 at 32x32 on 0-9A-Za-z rendered from Debian's font packages.
# The fonts matplotlib bundles (DejaVu, STIX, Computer Modern) are kept out of training, along
# with Debian's dejavu, stix and cmu folders, so `ganfill demo` can show fonts the model never
# saw on any machine; 10% of the remaining families are held out in glyphs32/val.
set -euo pipefail
RUNS=${RUNS:-runs}; GF=${GF:-.venv/bin/ganfill}
STEPS=${STEPS:-12000}
if [ ! -d "$RUNS/data/glyphs32/train" ]; then
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(cat configs/glyphs32-fonts.txt)
  fi
  args=()
  for d in /usr/share/fonts/*/ /usr/share/fonts/*/*/; do
    case "$d" in */dejavu/|*/stix/|*/stix-word/|*/cmu/|*/truetype/|*/opentype/|*/type1/|*/X11/|*/svg/|*/woff/|*/encodings/|*/util/) continue;; esac
    args+=(--fonts "$d")
  done
  $GF glyphs "$RUNS/data/glyphs32" --resolution 32 --holdout 0.1 "${args[@]}"
fi
if [ -d "$RUNS/glyphs32/checkpoints" ]; then
  $GF train --out "$RUNS/glyphs32" --resume --steps "$STEPS"
else
  $GF train "$RUNS/data/glyphs32/train" --out "$RUNS/glyphs32" --steps "$STEPS" --checkpoint-every 1000 --keep 0
fi
$GF export "$RUNS/glyphs32" "$RUNS/glyphs32-gan.safetensors"
ENC_STEPS=${ENC_STEPS:-16000}
if [ -d "$RUNS/glyphs32-encoder/checkpoints" ]; then
  $GF train-encoder --out "$RUNS/glyphs32-encoder" --resume --steps "$ENC_STEPS"
else
  $GF train-encoder "$RUNS/glyphs32-gan.safetensors" "$RUNS/data/glyphs32/train" --out "$RUNS/glyphs32-encoder" \
    --steps "$ENC_STEPS" --checkpoint-every 500
fi
$GF export "$RUNS/glyphs32-encoder" src/ganfill/assets/models/glyphs32.safetensors  # ships it
