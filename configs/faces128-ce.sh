#!/usr/bin/env bash
# faces128-ce (issue 25): the 128x128 context encoder beside faces128, on the same celeba128
# train identities, holes of every mask kind (scaled to 128); trained on the CPU across sessions
# like configs/faces128.sh (INIT: the latest export kept in runs-keep/ when the run folder is gone).
set -euo pipefail
DATA=${DATA:-../shared/data}; RUNS=${RUNS:-runs}; GF=${GF:-.venv/bin/ganfill}
STEPS=${STEPS:-8000}
INIT=${INIT:-$(ls runs-keep/faces128-ce-step*.safetensors 2>/dev/null | sort | tail -1 || true)}
[ -d "$RUNS/data/celeba128-train" ] || $GF prepare "$DATA/celeba128/train" "$RUNS/data/celeba128-train" --resolution 128 --crop none
if [ -d "$RUNS/faces128-ce/checkpoints" ]; then
  $GF train-ce --out "$RUNS/faces128-ce" --resume --steps "$STEPS" --quiet
elif [ -n "$INIT" ]; then
  $GF train-ce "$RUNS/data/celeba128-train" --out "$RUNS/faces128-ce" --init "$INIT" --steps "$STEPS" --quiet
else
  $GF train-ce "$RUNS/data/celeba128-train" --out "$RUNS/faces128-ce" --width 32 --bottleneck 256 --adv-width 32 \
    --steps "$STEPS" --checkpoint-every 250 --keep 3 --quiet
fi
$GF export "$RUNS/faces128-ce" "runs-keep/faces128-ce-step$(printf %05d "$(ls "$RUNS/faces128-ce/checkpoints" | sort | tail -1 | tr -dc 0-9 | sed 's/^0*//')").safetensors" --crop center:128
# ship it beside faces128 (the faithful, closest and fast modes find it by name)
$GF export "$(ls runs-keep/faces128-ce-step*.safetensors | sort | tail -1)" src/ganfill/assets/models/faces128-ce.safetensors \
  --faces celeba
