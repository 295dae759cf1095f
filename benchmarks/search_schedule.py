"""Search settings from a random z, compared on a tuning split of held-out images.

    .venv/bin/python benchmarks/search_schedule.py DATA MODEL [--mask center] [--first 1000 --count 128]
        [SETTING ...]

SETTING: ``CompleteConfig`` fields as ``key=value`` joined by commas, e.g. ``num_steps=100,lr=0.1,restarts=2``
or ``paper`` (the paper's schedule, ``PAPER_SCHEDULE``); default: the previous default, the current
one and the paper's.  Every setting completes the same images (positions ``--first`` to
``--first + --count`` of the seeded order ``ganfill evaluate`` uses, so images 0-199, which the
reports score, stay out of the tuning) with the same seeded holes and z (the seeding rule every
front end uses), starting from a random z (``init=prior``).  Prints one line per setting: hole
PSNR (dB, Poisson blend), the realism score (detectable %, 50 = cannot be told from originals)
and the wall time; the first line names the CPU, its flags and the precision used.
This is how ``START_DEFAULTS`` (see ``CompleteConfig.num_steps``) was chosen.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import fields, replace

import numpy as np

from ganfill.core.runtime import machine_line, resolve
from ganfill.evaluation.evaluate import complete_ganfill, load_images, make_holes
from ganfill.evaluation.judges import detectability
from ganfill.evaluation.metrics import psnr_hole
from ganfill.inpainting.config import PAPER_SCHEDULE, CompleteConfig
from ganfill.inpainting.inpainter import Sharp
from ganfill.models import files as checkpoint

DEFAULT_SETTINGS = ["num_steps=100,lr=0.05,restarts=1", "", "paper"]


def settings(setting: str, config: type) -> dict:
    """``key=value,...`` over the fields of the dataclass ``config`` -> keyword arguments (numbers as numbers)."""
    types = {f.name: str(f.type) for f in fields(config)}
    kw = {}
    for item in filter(None, setting.split(",")):
        key, _, value = item.partition("=")
        if key not in types or not value:
            raise SystemExit(f"{item!r} is not key=value over {config.__name__}'s fields ({', '.join(types)})")
        kw[key] = int(value) if "int" in types[key] else float(value) if "float" in types[key] else value
    return kw


def parse(setting: str) -> CompleteConfig:
    """``paper``, or ``key=value,...`` over CompleteConfig's fields (numbers as numbers); ``init`` is ``prior``."""
    if setting == "paper":
        return replace(PAPER_SCHEDULE, init="prior")
    return CompleteConfig(**({"init": "prior"} | settings(setting, CompleteConfig)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data")
    ap.add_argument("model")
    ap.add_argument("settings", nargs="*", default=DEFAULT_SETTINGS)
    ap.add_argument("--mask", default="center")
    ap.add_argument("--first", type=int, default=1000, help="first position in evaluate's seeded order")
    ap.add_argument("--count", type=int, default=128)
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    args = ap.parse_args()
    model = checkpoint.load(args.model, kind="gan")
    runtime = resolve(args.device, args.precision)
    print(machine_line(runtime), flush=True)
    prior = model.prior(runtime)
    images, _ = load_images(args.data, model, n=args.first + args.count, seed=0)
    images = images[args.first :]  # (count, R, R, 3), disjoint from the images reports score
    n, r = len(images), model.config.resolution
    holes = make_holes(args.mask, n, r)
    print(f"{n} images, mask {args.mask}, from a random z\nsetting | hole PSNR (dB) | detectable (%) | seconds")
    for setting in args.settings:
        cfg = parse(setting).resolved(prior)
        t = time.perf_counter()
        done, _ = complete_ganfill(Sharp(prior, cfg, ("poisson", "paste")), images, holes)["ganfill"]
        seconds = time.perf_counter() - t
        psnr = np.mean([min(psnr_hole(images[i], done[i], holes[i]), 100.0) for i in range(n)])
        det = detectability(images, done)
        print(
            f"{setting or 'default'} ({cfg.num_steps} steps, lr {cfg.lr}, {cfg.schedule}, {cfg.restarts} restart(s)) | "
            f"{psnr:.2f} | {100 * det:.1f} | {seconds:.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
