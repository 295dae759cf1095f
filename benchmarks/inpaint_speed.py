"""Inpainting speed of `complete()` in fp32 and bf16, side by side in one process.

    .venv/bin/python benchmarks/inpaint_speed.py [CKPT] [--batch 64] [--steps 30] [--rounds 2] [--device cpu]

Times `--steps` Adam steps of the latent search on a batch of `--batch` 64x64 images (center
mask) with the 64x64 `dcgan` preset (or CKPT), alternating the precisions for `--rounds`
rounds, and reports image-iterations/s, the projected wall time for the batch at the paper's
1500 iterations, seconds per image at 1500 iterations and the ratio to fp32.  The first line
names the CPU, its flags (avx2 / avx512_bf16 / amx) and what `--precision auto` picks: bf16 is
only fast where the hardware has it (elsewhere it is emulated and far slower).
"""

from __future__ import annotations

import argparse
import time

import torch

from ganfill.core.runtime import Runtime, machine_line, resolve, resolve_device
from ganfill.data.masks import make_mask
from ganfill.inpainting.config import CompleteConfig
from ganfill.inpainting.search import complete
from ganfill.models import files as checkpoint
from ganfill.models.config import ModelConfig
from ganfill.models.dcgan import build
from ganfill.models.prior import DCGANPrior


def time_complete(prior, images, masks, *, steps: int) -> float:
    complete(prior, images, masks, config=CompleteConfig(num_steps=2, restarts=1))  # warm-up
    t = time.perf_counter()
    complete(prior, images, masks, config=CompleteConfig(num_steps=steps, restarts=1), generator=torch.Generator().manual_seed(0))
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("ckpt", nargs="?")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    args = ap.parse_args()
    if args.ckpt:
        loaded = checkpoint.load(args.ckpt, kind="gan")
        G, D = loaded.G, loaded.D
    else:
        torch.manual_seed(0)
        G, D = build(ModelConfig())
        G.eval(), D.eval()
    device = resolve_device(args.device)
    print(machine_line(resolve(args.device, "auto")))
    r = G.config.resolution
    images = torch.rand(args.batch, 3, r, r, generator=torch.Generator().manual_seed(1)) * 2 - 1
    masks = make_mask("center", args.batch, r)
    priors = {
        "fp32": DCGANPrior(G, D, runtime=Runtime(device, torch.float32)),
        "bf16": DCGANPrior(G, D, runtime=Runtime(device, torch.bfloat16)),
    }
    best: dict[str, float] = {}
    for i in range(args.rounds):
        for name, prior in priors.items():
            s = time_complete(prior, images, masks, steps=args.steps)
            best[name] = min(best.get(name, float("inf")), s)
            print(f"round {i + 1}: {name}: {args.batch * args.steps / s:.1f} image-iterations/s", flush=True)
    base = best["fp32"]
    print(f"\nprecision | image-iterations/s | batch of {args.batch} at 1500 it (min) | s per image at 1500 it | ratio")
    for name, s in best.items():
        rate = args.batch * args.steps / s
        print(f"{name} | {rate:.1f} | {1500 * args.batch / rate / 60:.1f} | {1500 / rate:.2f} | {base / s:.2f}x")


if __name__ == "__main__":
    main()
