"""Training throughput of ganfill's loop: fp32 (plain NCHW) against the fast CPU mode, one process.

    .venv/bin/python benchmarks/train_throughput.py DATA [--steps 12] [--rounds 2]

DATA is a prepared 64x64 dataset (e.g. `ganfill prepare ../shared/data/celeba64/val ...`).
Each configuration trains the 64x64 `dcgan` preset at batch 64 (1 D : 2 G steps) for --steps
iterations; the configurations alternate for --rounds rounds so machine noise hits all alike.
Images/s is measured from the run's own log (real images seen / seconds), skipping the first
two iterations (warm-up), and printed with its ratio to fp32.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from ganfill.core.runtime import machine_line, resolve
from ganfill.models.config import ModelConfig
from ganfill.training.config import TrainConfig
from ganfill.training.gan import train

CONFIGS = {
    "fp32 (NCHW)": dict(precision="fp32", channels_last=False),
    "fast CPU mode (auto precision, channels_last)": dict(precision="auto", channels_last=True),
}


def images_per_second(run: Path, skip: int = 2) -> float:
    rows = [json.loads(l) for l in (run / "log.jsonl").read_text().splitlines()]
    a, b = rows[skip - 1], rows[-1]
    return (b["images"] - a["images"]) / (b["seconds"] - a["seconds"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data")
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--bf16", action="store_true", help="also time forced bf16 autocast")
    args = ap.parse_args()
    configs = dict(CONFIGS)
    if args.bf16:
        configs["bf16 autocast, channels_last"] = dict(precision="bf16", channels_last=True)
    print(machine_line(resolve("cpu", "auto")))  # the CPU, its flags and what --precision auto picks here
    rates: dict[str, list[float]] = {k: [] for k in configs}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for name, kw in configs.items():
                run = Path(tmp) / f"{r}-{len(rates[name])}-{abs(hash(name))}"
                train(
                    args.data,
                    run,
                    model=ModelConfig(),
                    config=TrainConfig(steps=args.steps, checkpoint_every=10**9, **kw),
                    progress=False,
                )
                rates[name].append(images_per_second(run))
                print(f"round {r + 1}: {name}: {rates[name][-1]:.1f} img/s", flush=True)
    base = max(rates["fp32 (NCHW)"])
    print("\nconfiguration | images/s (best of rounds) | ratio to fp32")
    for name, vals in rates.items():
        print(f"{name} | {max(vals):.1f} | {max(vals) / base:.2f}x")


if __name__ == "__main__":
    main()
