"""The faithful mode's settings (``blur``, ``detail``) for a model, chosen on held-out faces kept
apart from the ones the reports use.

    .venv/bin/python benchmarks/faithful_tuning.py MODEL DATA [--cnn CE] [--skip 200] [-n 150]
        [--masks center,half] [--detail 0.8,1.2,1.6] [--blur 0.8,1.6] [--num-steps N] [--judge-seeds K]
        [--out benchmarks/faithful-tuning-NAME.json]

DATA is taken in ``ganfill evaluate``'s seeded order (seed 0); ``evaluate -n 200`` reports on
images 0-199 of it, so this scores images ``skip`` to ``skip + n`` (default 200-349), which no
report uses.  Every (blur, detail) pair runs as ``ganfill-faithful@blur=B@detail=D`` beside the
context encoder alone, on the same holes, with both realism judges; the table prints hole PSNR
and detectable % (texture / CNN) per mask.  ``blur`` is the Gaussian's sigma in pixels of the
model's square.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

from ganfill.core.files import write_json
from ganfill.core.runtime import machine_line, resolve
from ganfill.evaluation import evaluate as ev
from ganfill.inpainting.config import CompleteConfig
from ganfill.models import files as checkpoint

KEPT = ("method", "mask", "psnr_hole", "ssim", "detectability_texture", "detectability_cnn")  # of each result row


def numbers(text: str) -> list[float]:
    return [float(v) for v in text.split(",") if v]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("data")
    ap.add_argument("--cnn", default=None, help="the context encoder (default: the one beside the model)")
    ap.add_argument("--skip", type=int, default=200, help="images of the seeded order the reports use (skipped)")
    ap.add_argument("-n", type=int, default=150)
    ap.add_argument("--masks", default="center,half")
    ap.add_argument("--detail", type=numbers, default=[0.8, 1.2, 1.6])
    ap.add_argument("--blur", type=numbers, default=[0.8, 1.6])
    ap.add_argument("--num-steps", type=int, default=None, help="the search's steps (default: the model's start's)")
    ap.add_argument("--judge-seeds", type=int, default=1, help="each judge's seeds, their mean reported (evaluate's)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    runtime = resolve("auto", "auto")
    print(machine_line(runtime), flush=True)
    model = checkpoint.load(args.model, kind="gan")
    images, names = ev.load_images(args.data, model, n=args.skip + args.n, seed=0)
    images, names = images[args.skip :], names[args.skip :]
    settings = list(itertools.product(args.blur, args.detail))
    methods = ["context-encoder"] + [f"ganfill-faithful@blur={b:g}@detail={d:g}" for b, d in settings]
    masks = args.masks.split(",")
    config = CompleteConfig(num_steps=args.num_steps)
    run = ev.evaluate(
        model,
        images,
        names=names,
        masks=masks,
        methods=methods,
        cnn=args.cnn,
        config=config,
        runtime=runtime,
        judge_seeds=args.judge_seeds,
        progress=True,
    )
    rows = [{k: r[k] for k in (*KEPT, "judge_runs") if k in r} for r in run.results]
    print("| method | " + " | ".join(f"{m}: PSNR / texture % / cnn %" for m in masks) + " |")
    for method in methods:
        cells = []
        for mask in masks:
            r = next(x for x in rows if x["method"] == method and x["mask"] == mask)
            cells.append(f"{r['psnr_hole']:.2f} / {100 * r['detectability_texture']:.1f} / {100 * r['detectability_cnn']:.1f}")
        print(f"| {method} | " + " | ".join(cells) + " |")
    out = args.out or Path(__file__).parent / f"faithful-tuning-{Path(str(args.model)).stem}.json"
    write_json(
        {
            "model": str(args.model),
            "data": str(args.data),
            "images": f"{args.skip}-{args.skip + args.n - 1} of evaluate's seeded order (seed 0)",
            "num_steps": args.num_steps or "the default",
            "judge_seeds": args.judge_seeds,
            "machine": machine_line(runtime),
            "results": rows,
            "originals": run.reference.get("detectability_originals"),
        },
        out,
    )
    print(f"written {out}")


if __name__ == "__main__":
    main()
