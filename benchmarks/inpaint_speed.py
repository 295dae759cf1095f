"""Inpainting speed of `complete()`: fp32 NCHW against the fast CPU mode, side by side in one process.

    .venv/bin/python benchmarks/inpaint_speed.py [CKPT] [--batch 64] [--steps 30] [--rounds 2]

Times `--steps` Adam steps of the latent search on a batch of `--batch` 64x64 images (center
mask) with the 64x64 `dcgan` preset (or CKPT), alternating configurations for `--rounds`
rounds, and reports image-iterations/s, the projected wall time for the batch at the paper's
1500 iterations, and seconds per image at 1500 iterations.
"""

from __future__ import annotations

import argparse
import time

import torch

from ganfill import checkpoint
from ganfill.inpaint import CompleteConfig, complete
from ganfill.masks import make_mask
from ganfill.models import ModelConfig, build


def time_complete(G, D, images, masks, *, steps: int, channels_last: bool) -> float:
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    G.to(memory_format=fmt), D.to(memory_format=fmt)
    cfg = CompleteConfig(num_steps=steps, blend="paste")
    complete(G, D, images, masks, config=CompleteConfig(num_steps=2, blend="paste"))  # warm-up
    t = time.perf_counter()
    complete(G, D, images, masks, config=cfg, generator=torch.Generator().manual_seed(0))
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("ckpt", nargs="?")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    if args.ckpt:
        loaded = checkpoint.load(args.ckpt)
        G, D = loaded.G, loaded.D
    else:
        torch.manual_seed(0)
        G, D = build(ModelConfig())
    r = G.config.resolution
    images = torch.rand(args.batch, 3, r, r, generator=torch.Generator().manual_seed(1)) * 2 - 1
    masks = make_mask("center", args.batch, r)
    configs = {"fp32 (NCHW)": False, "fast CPU mode (fp32, channels_last)": True}
    best: dict[str, float] = {}
    for i in range(args.rounds):
        for name, cl in configs.items():
            s = time_complete(G, D, images, masks, steps=args.steps, channels_last=cl)
            best[name] = min(best.get(name, float("inf")), s)
            print(f"round {i + 1}: {name}: {args.batch * args.steps / s:.1f} image-iterations/s", flush=True)
    base = best["fp32 (NCHW)"]
    print(f"\nconfiguration | image-iterations/s | batch of {args.batch} at 1500 it (min) | s per image at 1500 it | ratio")
    for name, s in best.items():
        rate = args.batch * args.steps / s
        print(f"{name} | {rate:.1f} | {1500 * args.batch / rate / 60:.1f} | {1500 / rate:.2f} | {base / s:.2f}x")


if __name__ == "__main__":
    main()
