"""The closest mode's settings, compared on a tuning split of held-out faces.

    .venv/bin/python benchmarks/adapt_tuning.py DATA [--model faces64] [--masks center,pattern,random80,half]
        [--first 1000 --count 64] [--at 25,50] [--json OUT.json] [SETTING ...]

SETTING: ``AdaptConfig`` fields as ``key=value`` joined by commas (``steps=50,lr=0.01``; default:
the current defaults).  Every setting adapts the same images (positions ``--first`` to ``--first
+ --count`` of the seeded order ``ganfill evaluate`` uses, so images 0-199, which the reports
score, stay out of the tuning), with the same seeded holes, from the same z^ of the default
search (the seeding rule of every front end).  Per mask it prints, once, the search's sample
(sharp), the faithful mode and the context encoder ('fast'), and per setting and step of
``--at`` (and the last): hole PSNR (dB, Poisson blend) of the adapted sample alone and of the
closest mode's fill (adapted sample near the known pixels, its faithful fill deep in the hole),
the realism score of the latter (detectable %, 50 = cannot be told from originals) and the
adaptation's seconds per image.  ``--json`` keeps every line.  This is how ``AdaptConfig``'s
defaults were chosen (``benchmarks/adapt_tuning.json``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from ganfill.core.images import to_tensor, to_uint8
from ganfill.core.runtime import machine_line, resolve
from ganfill.evaluation.evaluate import load_images, make_holes
from ganfill.evaluation.judges import detectability
from ganfill.evaluation.metrics import psnr_hole
from ganfill.inpainting.adapt import AdaptConfig, adapt, mix, near_weights
from ganfill.inpainting.baselines import BASELINES
from ganfill.inpainting.blend import blend
from ganfill.inpainting.config import CompleteConfig
from ganfill.inpainting.inpainter import initial_z
from ganfill.inpainting.search import complete, faithful_fill
from ganfill.models import files as checkpoint
from search_schedule import settings


def hole_psnr(images: np.ndarray, out: np.ndarray, holes: np.ndarray) -> float:
    return float(np.mean([min(psnr_hole(images[i], out[i], holes[i]), 100.0) for i in range(len(images))]))


def _score(rows, images, holes, x, m, coarse, kept, config, seconds, setting) -> None:
    """Score the adapted samples ``kept`` ({step: (N, C, R, R)}) alone and composed as the closest mode does."""
    w = near_weights(m, near=config.near)
    mask = next(r["mask"] for r in reversed(rows) if "baseline" in r)
    for step, fake in sorted(kept.items()):
        near = blend(fake, x, m, method="poisson")
        far = blend(faithful_fill(coarse, fake, detail=config.detail), x, m, method="poisson")
        closest = to_uint8(mix(near, far, w))
        row = {
            "mask": mask,
            "setting": asdict(replace(config, steps=step)),
            "adapted_psnr": hole_psnr(images, to_uint8(near), holes),
            "closest_psnr": hole_psnr(images, closest, holes),
            "closest_detectable": detectability(images, closest),
            "seconds_per_image": seconds * step / max(config.steps, 1),
        }
        rows.append(row)
        print(
            f"{setting or 'default'} | {step} | {row['adapted_psnr']:.2f} | {row['closest_psnr']:.2f} | "
            f"{100 * row['closest_detectable']:.1f} | {row['seconds_per_image']:.3f}",
            flush=True,
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data")
    ap.add_argument("settings", nargs="*", default=[""])
    ap.add_argument("--model", default="faces64")
    ap.add_argument("--cnn", default=None, help="the context encoder (default: the one beside the model)")
    ap.add_argument("--masks", default="center,pattern,random80,half")
    ap.add_argument("--first", type=int, default=1000, help="first position in evaluate's seeded order")
    ap.add_argument("--count", type=int, default=64)
    ap.add_argument("--at", default="", help="also score these steps of each setting, e.g. 25,50")
    ap.add_argument("--json", default=None, help="write every line here")
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = ap.parse_intermixed_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model = checkpoint.load(args.model, kind="gan")
    cnn_path = args.cnn or checkpoint.context_encoder_for(model.path)
    runtime = resolve(args.device, args.precision)
    header = machine_line(runtime)
    print(header, flush=True)
    prior, cnn = model.prior(runtime), checkpoint.load(cnn_path, kind="context-encoder").predictor(runtime)
    images, _ = load_images(args.data, model, n=args.first + args.count, seed=0)
    images = images[args.first :]  # disjoint from the images reports score
    n, r = len(images), model.config.resolution
    x = to_tensor(images)
    at = sorted({int(s) for s in args.at.split(",") if s})
    rows = []
    for mask in args.masks.split(","):
        holes = make_holes(mask, n, r)
        m = torch.from_numpy(~holes).float()[:, None]
        cfg = CompleteConfig().resolved(prior)
        found = complete(prior, x, m, config=cfg, z_init=initial_z(prior, images, ~holes, restarts=cfg.restarts, seed=0))
        pred, coarse = cnn.predict(x, m).cpu(), cnn.mirror_mean(x, m).cpu()  # the fast mode's, the faithful's

        def blended(fill: torch.Tensor, m: torch.Tensor = m) -> torch.Tensor:
            return blend(fill.float().cpu(), x, m, method="poisson")

        sharp, fast = blended(found.fake), blended(pred)
        faithful = blended(faithful_fill(coarse, found.fake.cpu()))
        outs = {k: to_uint8(v) for k, v in (("sharp", sharp), ("faithful", faithful), ("fast", fast))}
        outs["biharmonic"] = np.stack([BASELINES["biharmonic"](im, h) for im, h in zip(images, holes)])
        base = {k: {"psnr": hole_psnr(images, v, holes), "detectable": detectability(images, v)} for k, v in outs.items()}
        print(
            f"{mask} ({n} faces): " + ", ".join(f"{k} {v['psnr']:.2f} dB {100 * v['detectable']:.1f}%" for k, v in base.items()),
            flush=True,
        )
        rows.append({"mask": mask, "images": n, "baseline": base})
        print("setting | step | adapted dB | closest dB | closest detectable % | s/image")
        cache = {}  # settings that differ only in how the adapted sample is composed share one adaptation
        for setting in args.settings:
            config = AdaptConfig(**settings(setting, AdaptConfig))
            key = tuple(sorted(asdict(replace(config, near=1.0, detail=1.0)).items()))
            if key in cache:
                kept, seconds = cache[key]
                _score(rows, images, holes, x, m, coarse, kept, config, seconds, setting)
                continue
            kept = {}

            def keep(step, fake, losses, kept=kept):
                if step in at:
                    kept[step] = fake.cpu()

            t = time.perf_counter()
            done = adapt(prior, x, m, z_init=found.z, config=config, callback=keep if at else None)
            seconds = (time.perf_counter() - t) / n
            kept[config.steps] = done.fake.cpu()
            cache[key] = kept, seconds
            _score(rows, images, holes, x, m, coarse, kept, config, seconds, setting)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": header, "model": args.model, "first": args.first, "count": n, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
