"""The research paper's Table 1, measured: the CNN, the plain GAN and DCGAN side by side with
ganfill's modes and the classical baselines, on the same held-out images and the same holes.

    .venv/bin/python benchmarks/table1.py DATA --out RUN [--model faces64] [--cnn faces64-ce]
        [--gan RUN_OR_FILE] [-n 200] [--paper-n 50] [--masks center,pattern,random80,half]

DATA: held-out images (a prepared dataset, e.g. celeba64/val as `ganfill prepare ... --crop none`
writes it).  Every row is measured here, in this run (nothing is quoted):

* ``context-encoder`` / ``context-encoder-paste``: the CNN (``--cnn``, default the model's
  companion ``faces64-ce``), Poisson-blended / pasted as Pathak et al. did;
* ``plain GAN``: the fully connected GAN (``--gan``, trained with ``ganfill train --arch gan``)
  through ganfill's default latent search;
* ``DCGAN, paper schedule``: the model's DCGAN with Yeh et al.'s published search (1500 Adam
  steps at a constant lr 0.01, random start) on the first ``--paper-n`` of the images with
  ``--paper-masks`` (it is 15x the default search; 0 leaves it out), beside ganfill's default
  on the same subset;
* ``ganfill`` (sharp: encoder start + 10 steps), ``ganfill-random`` (100 steps from a random
  z), ``ganfill-faithful`` (the faithful mode), Telea, Navier-Stokes, biharmonic, mean.

Writes RUN/results.md (the tables of ``ganfill evaluate``, one row per method), RUN/results.json,
RUN/figure.png.  The first line printed names the CPU, its flags and the precision used.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from ganfill.core.files import atomic_path
from ganfill.core.images import save_image
from ganfill.core.runtime import machine_line, resolve
from ganfill.evaluation import evaluate as ev
from ganfill.inpainting.config import PAPER_SCHEDULE
from ganfill.models import files as checkpoint


def renamed(part: ev.Evaluation, names: dict[str, str]) -> ev.Evaluation:
    """The same evaluation with its methods renamed (``names``: old -> new; others dropped)."""
    keep = lambda m: m in names  # noqa: E731
    return ev.Evaluation(
        images=part.images,
        names=part.names,
        holes=part.holes,
        completed={(names[m], k): v for (m, k), v in part.completed.items() if keep(m)},
        seconds={(names[m], k): v for (m, k), v in part.seconds.items() if keep(m)},
        rows=[r | {"method": names[r["method"]]} for r in part.rows if keep(r["method"])],
        results=[r | {"method": names[r["method"]]} for r in part.results if keep(r["method"])],
        reference=part.reference,
        config=part.config,
    )


def merged(parts: list[ev.Evaluation]) -> ev.Evaluation:
    """One evaluation of every part's methods (the parts share images and holes)."""
    first = parts[0]
    out = ev.Evaluation(
        images=first.images,
        names=first.names,
        holes=first.holes,
        completed={},
        seconds={},
        reference=first.reference,
        config=first.config,
    )
    for p in parts:
        assert all(np.array_equal(p.holes[k], first.holes[k]) for k in p.holes), "the parts must share their holes"
        out.completed |= p.completed
        out.seconds |= p.seconds
        out.rows += p.rows
        out.results += p.results
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data")
    ap.add_argument("--out", required=True)
    ap.add_argument("--model", default="faces64")
    ap.add_argument("--cnn", default=None, help="the context encoder (default: the model's companion)")
    ap.add_argument("--gan", default=None, help="a plain-GAN checkpoint (ganfill train --arch gan)")
    ap.add_argument("-n", type=int, default=200)
    ap.add_argument("--paper-n", type=int, default=50)
    ap.add_argument("--masks", default=",".join(ev.PAPER_MASKS))
    ap.add_argument("--paper-masks", default="center,half", help="the masks of the paper-schedule subset")
    ap.add_argument("--batch-size", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    runtime = resolve("auto", "auto")
    print(machine_line(runtime), flush=True)
    masks = [m for m in args.masks.split(",") if m]
    model = checkpoint.load(args.model, kind="gan")
    cnn = checkpoint.load(args.cnn or checkpoint.context_encoder_for(model.path), kind="context-encoder")
    images, names = ev.load_images(args.data, model, n=args.n, seed=args.seed)
    common = dict(masks=masks, batch_size=args.batch_size, seed=args.seed, runtime=runtime, names=names)
    t0 = time.perf_counter()
    parts = [ev.evaluate(model, images, cnn=cnn, methods=[m for m in ev.method_names() if m != "ganfill-paste"], **common)]
    print(f"ganfill, CNN and baselines: {time.perf_counter() - t0:.0f} s", flush=True)
    paper = None
    if args.paper_n:
        k = min(args.paper_n, len(images))
        sub_masks = [m for m in args.paper_masks.split(",") if m]
        paper = ev.evaluate(
            model,
            images[:k],
            methods=["ganfill"],
            config=replace(PAPER_SCHEDULE, init="prior"),
            **(common | {"names": names[:k], "masks": sub_masks}),
        )
        paper = renamed(paper, {"ganfill": f"DCGAN, paper schedule (first {k})"})
        print(f"paper schedule: {time.perf_counter() - t0:.0f} s", flush=True)
    if args.gan:  # last: the slowest to train, so a run started beside its training finds it done
        gan = checkpoint.load(args.gan, kind="gan")
        parts.append(renamed(ev.evaluate(gan, images, methods=["ganfill"], **common), {"ganfill": "plain GAN"}))
        print(f"plain GAN: {time.perf_counter() - t0:.0f} s", flush=True)
    table = merged(parts)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    command = "python benchmarks/table1.py " + shlex.join(sys.argv[1:])
    notes = [
        f"GAN `{model.path.name}`, context encoder `{cnn.path.name}`"
        + (f", plain GAN `{args.gan}`" if args.gan else "")
        + f"; {len(images)} held-out images of `{args.data}`.",
        machine_line(runtime),
        f"Command: `{command}`",
    ]
    md = ev.markdown(table, bins=ev.area_bins(table.rows), title="Table 1, measured", notes=notes)
    if paper is not None:
        # the paper-schedule row on its subset, beside ganfill's default on the same subset
        sub = ev.evaluate(model, images[:k], methods=["ganfill"], **(common | {"names": names[:k], "masks": sub_masks}))
        both = merged([paper, renamed(sub, {"ganfill": f"ganfill (same {k})"})])
        md += "\n\n" + ev.markdown(both, bins=[], title="The paper's schedule, on a subset", notes=[]).split("## By hole area")[0]
    with atomic_path(out / "results.md") as tmp:
        tmp.write_text(md)
    record = {
        "results": table.results + (paper.results if paper is not None else []),
        "reference": table.reference,
        "command": command,
        "machine": machine_line(runtime),
    }
    with atomic_path(out / "results.json") as tmp:
        tmp.write_text(json.dumps(record, indent=1, allow_nan=False))
    save_image(ev.figure(table, rows=4), out / "figure.png")
    print(f"results: {out / 'results.md'} ({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
