#!/usr/bin/env bash
# faces128-ce (issue 25): the 128x128 context encoder beside faces128, on the same celeba128
# train identities, holes of every mask kind (scaled to 128); trained on the CPU across sessions
# like configs/faces128.sh. Three stages, each ending in an export kept in runs-keep/ and skipped
# when that export (or a later one) is there: 8,000 iterations at lr 0.0002, then the learning rate decays, 1,000
# iterations at 0.00005 and 1,000 at 0.0000125 (measured on held-out faces: what had looked like
# a plateau at 0.0002 was that learning rate's noise; the decay gained 0.3-0.6 dB, the card).
# A stage whose run folder is gone continues from the latest export kept before it.
set -euo pipefail
DATA=${DATA:-../shared/data}; RUNS=${RUNS:-runs}; GF=${GF:-.venv/bin/ganfill}
[ -d "$RUNS/data/celeba128-train" ] || $GF prepare "$DATA/celeba128/train" "$RUNS/data/celeba128-train" --resolution 128 --crop none
keep() { echo "runs-keep/faces128-ce-step$(printf %05d "$1").safetensors"; }
for stage in "8000 0.0002" "9000 0.00005" "10000 0.0000125"; do
  read -r steps lr <<< "$stage"; out="$RUNS/faces128-ce-lr$lr"
  # done: this stage's export or a later one is kept
  if [ -z "$(ls runs-keep/faces128-ce-step*.safetensors 2>/dev/null | awk -v s="$(keep "$steps")" '$0 >= s')" ]; then
    # the latest export kept before this stage's end (a partial one of this stage, or the last stage's)
    init=$(ls runs-keep/faces128-ce-step*.safetensors 2>/dev/null | sort | awk -v s="$(keep "$steps")" '$0 < s' | tail -1 || true)
    if [ -d "$out/checkpoints" ]; then
      $GF train-ce --out "$out" --resume --steps "$steps" --quiet
    elif [ -n "$init" ]; then
      $GF train-ce "$RUNS/data/celeba128-train" --out "$out" --init "$init" --steps "$steps" --lr "$lr" --quiet
    else
      $GF train-ce "$RUNS/data/celeba128-train" --out "$out" --width 32 --bottleneck 256 --adv-width 32 \
        --steps "$steps" --lr "$lr" --checkpoint-every 250 --keep 3 --quiet
    fi
    $GF export "$out" "$(keep "$steps")" --crop center:128
  fi
done
# ship the latest beside faces128 (the faithful, closest and fast modes find it by name)
$GF export "$(ls runs-keep/faces128-ce-step*.safetensors | sort | tail -1)" src/ganfill/assets/models/faces128-ce.safetensors --faces celeba
