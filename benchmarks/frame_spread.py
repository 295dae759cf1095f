"""How much a face's frame error costs a photo repair, and what averaging over it gets back.

On the photo benchmark's photos (``benchmarks/photos.py``: the same seeded photos and holes, the
first ``--n``), with the default model and mode:

* ``true`` / ``true moved``: the model given the true alignment, then that frame moved at random
  (``--jitter``: sd of scale %, turn in degrees and shift in pixels of a 64 px square; three
  draws per photo, seeded) - what a small frame error costs;
* ``true moved, mean of 3``: those three repairs averaged;
* ``found`` with each set of moves (``SETS``; ``none`` is the found square alone,
  ``default`` is ``data.framing.SPREAD``): the default path, the fill averaged over those moves
  of the found square (``apps.fill.averaged_fill``).

    .venv/bin/python benchmarks/frame_spread.py [--n 50] [--out benchmarks/frame-spread.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

import ganfill
from ganfill.apps import fill
from ganfill.core.runtime import machine_line
from ganfill.data.framing import SPREAD, moved
from ganfill.data.reading import image_files

sys.path.insert(0, str(Path(__file__).parent))
from photos import HOLES, hole_psnr, make_hole, make_photo, true_frame  # noqa: E402

SETS = {
    "none": (),
    "default": SPREAD,
    "wider, turned": (
        *((0.0, 0.0, s, 0.0) for s in (0.04, -0.04)),
        *((d, 0.0, 0.0, 0.0) for d in (0.0125, -0.0125)),
        *((0.0, d, 0.0, 0.0) for d in (0.0125, -0.0125)),
        (0.0, 0.0, 0.0, 1.0),
        (0.0, 0.0, 0.0, -1.0),
    ),
    "two scales": (
        *((0.0, 0.0, s, 0.0) for s in (0.02, -0.02, 0.045, -0.045)),
        *((d, 0.0, 0.0, 0.0) for d in (0.01, -0.01)),
        *((0.0, d, 0.0, 0.0) for d in (0.01, -0.01)),
    ),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path(__file__).parents[1].parent / "shared/data/celeba128/val")
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--jitter", type=float, nargs=3, default=(1.0, 0.5, 0.3), metavar=("SCALE%", "DEG", "PX64"))
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "frame-spread.json")
    args = ap.parse_args()
    print(machine_line(), flush=True)
    repairer = ganfill.load()
    rng, jitter_rng = np.random.default_rng(0), np.random.default_rng(5)
    files = image_files(args.data)
    picks = rng.choice(len(files), 100, replace=False)  # photos.py's draws, in its order
    scale, turn, shift = args.jitter
    rows = []
    for i, k in enumerate(picks[: args.n]):
        face = np.asarray(Image.open(files[k]).convert("RGB"))
        photo, m = make_photo(face, rng)
        kind = HOLES[i % len(HOLES)]
        hole = make_hole(kind, m, photo.shape[:2], rng)
        zeroed = np.where(hole[..., None], 0, photo).astype(np.uint8)
        row = {"photo": files[k].name, "hole": kind}
        inpainter, frames = repairer.pick([true_frame(m, repairer)])
        truths = [frames[0]] + [
            moved(
                frames[0], *(jitter_rng.normal(0, shift, 2) / 64), jitter_rng.normal(0, scale / 100), jitter_rng.normal(0, turn)
            )
            for _ in range(3)
        ]
        outs = [
            fill.complete_items(inpainter, [fill.make_item(zeroed, inpainter, hole=hole, frames=[f])], seed=0)[1][0]
            for f in truths
        ]
        row["true"] = hole_psnr(outs[0], photo, hole)
        row["true moved"] = float(np.mean([hole_psnr(o, photo, hole) for o in outs[1:]]))
        mean = np.mean([o.astype(np.float64) for o in outs[1:]], axis=0).round().astype(np.uint8)
        row["true moved, mean of 3"] = hole_psnr(mean, photo, hole)
        found, item = repairer.prepare(zeroed, hole)  # what repairer.repair(zeroed, hole) completes
        for name, moves in SETS.items():
            out = fill.complete_items(found, [item], seed=0, moves=moves)[1][0]
            row[f"found, {name}"] = hole_psnr(out, photo, hole)
        rows.append(row)
        print(i, kind, {k: round(v, 2) for k, v in row.items() if isinstance(v, float)}, flush=True)
    methods = [k for k in rows[0] if k not in ("photo", "hole")]
    table = {k: float(np.mean([r[k] for r in rows])) for k in methods}
    result = {
        "machine": machine_line(),
        "n": args.n,
        "jitter": {"scale_percent": scale, "turn_degrees": turn, "shift_px_of_64": shift},
        "sets": {k: [list(m) for m in v] for k, v in SETS.items()},
        "psnr": table,
        "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "rows": rows,
    }
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    for k, v in table.items():
        print(f"| {k} | {v:.2f} |")


if __name__ == "__main__":
    main()
