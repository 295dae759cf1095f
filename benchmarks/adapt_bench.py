"""The closest mode's adaptation against its unoptimised prototype, side by side in one process.

    .venv/bin/python benchmarks/adapt_bench.py DATA [--model faces64] [--mask random80] [--images 16]
        [--first 1000] [--steps 10,25,50,100] [--json OUT.json]

The prototype (``reference.adapt``: issue 26's first try of Pan et al.'s deep generative prior)
fine-tunes a copy of all of G with z for each image on its own, 100 Adam steps (G at lr 1e-4, z
at 1e-3), eager fp32, batch 1, on the known pixels' squared error plus the L1 distance of D's
features.  ganfill's ``inpainting.adapt.adapt`` adapts the whole batch at once through one
shared inference copy of G (per-image channel scales and shifts and first-block biases, see
its module docstring), in ``--precision`` (auto: bf16 where native).  Both start from the same
z^ (the default search) on the same held-out faces (positions ``--first`` on of ``ganfill
evaluate``'s seeded order, apart from the 200 the reports score) and the same seeded holes.

Printed: the CPU line (model, flags, threads, runtime), then per method and step count the
seconds per image (adaptation only; ganfill's the mean of a run before and one after the
prototype's, so machine load hits both alike) and the hole PSNR (dB, Poisson blend) of the
adapted sample; ganfill's rows also give the closest mode's PSNR (the adapted sample composed
with the faithful fill).  The last line is the speed-up at equal quality: the prototype's time
per image over ganfill's time to the first step count whose PSNR is at least the prototype's.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from ganfill.core.images import to_tensor, to_uint8  # noqa: E402
from ganfill.core.runtime import machine_line, resolve  # noqa: E402
from ganfill.evaluation.evaluate import load_images, make_holes  # noqa: E402
from ganfill.evaluation.metrics import psnr_hole  # noqa: E402
from ganfill.inpainting.adapt import AdaptConfig, adapt, mix, near_weights  # noqa: E402
from ganfill.inpainting.blend import blend  # noqa: E402
from ganfill.inpainting.config import CompleteConfig  # noqa: E402
from ganfill.inpainting.inpainter import initial_z  # noqa: E402
from ganfill.inpainting.search import complete, faithful_fill  # noqa: E402
from ganfill.models import files as checkpoint  # noqa: E402

import reference  # noqa: E402

PROTOTYPE_STEPS = 100


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data")
    ap.add_argument("--model", default="faces64")
    ap.add_argument("--mask", default="random80")
    ap.add_argument("--images", type=int, default=16)
    ap.add_argument("--first", type=int, default=1000, help="first position in evaluate's seeded order")
    ap.add_argument("--steps", default="10,25,50,100", help="ganfill's step counts to score")
    ap.add_argument("--json", default=None)
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    args = ap.parse_args()
    model = checkpoint.load(args.model, kind="gan")
    runtime = resolve(args.device, args.precision)
    header = machine_line(runtime)
    print(header, flush=True)
    prior = model.prior(runtime)
    cnn = checkpoint.load(checkpoint.context_encoder_for(model.path), kind="context-encoder").predictor(runtime)
    images, _ = load_images(args.data, model, n=args.first + args.images, seed=0)
    images = images[args.first :]
    n, r = len(images), model.config.resolution
    holes = make_holes(args.mask, n, r)
    x, m = to_tensor(images), torch.from_numpy(~holes).float()[:, None]
    cfg = CompleteConfig().resolved(prior)
    found = complete(prior, x, m, config=cfg, z_init=initial_z(prior, images, ~holes, restarts=cfg.restarts, seed=0))
    coarse = cnn.mirror_mean(x, m).cpu()  # the faithful fill's structure (as the closest mode's)
    weights = near_weights(m, near=AdaptConfig().near)

    def score(fake: torch.Tensor) -> float:
        out = to_uint8(blend(fake.float().cpu(), x, m, method="poisson"))
        return float(np.mean([min(psnr_hole(images[i], out[i], holes[i]), 100.0) for i in range(n)]))

    def closest(fake: torch.Tensor) -> float:
        near = blend(fake.float().cpu(), x, m, method="poisson")
        far = blend(faithful_fill(coarse, fake.float().cpu(), detail=AdaptConfig().detail), x, m, method="poisson")
        out = to_uint8(mix(near, far, weights))
        return float(np.mean([min(psnr_hole(images[i], out[i], holes[i]), 100.0) for i in range(n)]))

    steps = sorted({int(s) for s in args.steps.split(",")})

    def ours() -> dict:
        """{steps: (seconds per image to get there, adapted fake)} in one run of max(steps) steps."""
        kept, t0 = {}, time.perf_counter()

        def keep(step, fake, losses):
            if step in steps:
                kept[step] = (time.perf_counter() - t0) / n, fake.cpu()

        adapt(prior, x, m, z_init=found.z, config=AdaptConfig(steps=max(steps)), callback=keep)
        return kept

    print(f"{n} faces, mask {args.mask}, from the default search's z^ ({score(found.fake):.2f} dB)", flush=True)
    adapt(prior, x[:2], m[:2], z_init=found.z[:2], config=AdaptConfig(steps=2))  # warm-up
    first = ours()
    netG, netD = reference.from_ganfill(model.G, model.D)
    t0 = time.perf_counter()
    ref_fake = reference.adapt(netG, netD, x, m, found.z.cpu(), steps=PROTOTYPE_STEPS)
    ref_seconds = (time.perf_counter() - t0) / n
    second = ours()
    rows = [
        {
            "method": "prototype",
            "steps": PROTOTYPE_STEPS,
            "seconds_per_image": ref_seconds,
            "psnr_adapted": score(ref_fake),
            "psnr_closest": closest(ref_fake),
        }
    ]
    for s in steps:
        rows.append(
            {
                "method": "ganfill",
                "steps": s,
                "seconds_per_image": (first[s][0] + second[s][0]) / 2,
                "psnr_adapted": score(first[s][1]),
                "psnr_closest": closest(first[s][1]),
            }
        )
    print("method | steps | s / image | hole PSNR, adapted (dB) | hole PSNR, closest mode (dB)")
    for row in rows:
        seconds, adapted, composed = row["seconds_per_image"], row["psnr_adapted"], row["psnr_closest"]
        print(f"{row['method']} | {row['steps']} | {seconds:.3f} | {adapted:.2f} | {composed:.2f}")
    target = rows[0]["psnr_adapted"]
    equal = next((row for row in rows[1:] if row["psnr_adapted"] >= target), None)
    if equal is None:
        print(f"ganfill does not reach the prototype's {target:.2f} dB within {max(steps)} steps")
    else:
        speedup = ref_seconds / equal["seconds_per_image"]
        print(
            f"speed-up at equal quality: {speedup:.0f}x ({equal['steps']} steps, {equal['psnr_adapted']:.2f} dB "
            f"in {equal['seconds_per_image']:.3f} s/image against {target:.2f} dB in {ref_seconds:.1f})",
            flush=True,
        )
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": header, "mask": args.mask, "images": n, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
