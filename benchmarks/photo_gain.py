"""What faces128 gains over faces64 on photos of large faces, with its standard error.

The photo benchmark (``benchmarks/photos.py``) scores 100 photos, 94 of them with a face 150 px
wide or more: a difference between two models there moves by about 0.1 dB from one set of
photos to the next.  This makes more photos the same way (``photos.make_photo``, ``make_hole``;
seed 2, none of the benchmark's 100 faces), keeps those whose face is 150 px wide or more,
repairs each with both models by the default path (``ganfill.load(name).repair``) and reports
the mean gain in hole PSNR, its standard error and the gain per kind of hole.

    .venv/bin/python benchmarks/photo_gain.py [--n 300] [--out benchmarks/photo-gain.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

import ganfill
from ganfill.core.runtime import machine_line
from ganfill.data.reading import image_files

sys.path.insert(0, str(Path(__file__).parent))
from photos import HOLES, face_px, hole_psnr, make_hole, make_photo  # noqa: E402

MODELS = ("faces64", "faces128")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path(__file__).parents[1].parent / "shared/data/celeba128/val")
    ap.add_argument("--n", type=int, default=300, help="photos with a face 150 px wide or more")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "photo-gain.json")
    args = ap.parse_args()
    print(machine_line(), flush=True)
    files = image_files(args.data)
    benchmark = set(np.random.default_rng(0).choice(len(files), 100, replace=False).tolist())  # photos.py's faces
    repairers = {name: ganfill.load(name) for name in MODELS}
    rng = np.random.default_rng(2)
    rows = []
    for k in rng.permutation(len(files)):
        if k in benchmark:
            continue
        face = np.asarray(Image.open(files[k]).convert("RGB"))
        photo, m = make_photo(face, rng)
        kind = HOLES[len(rows) % len(HOLES)]
        hole = make_hole(kind, m, photo.shape[:2], rng)
        if face_px(m) < 150:
            continue
        zeroed = np.where(hole[..., None], 0, photo).astype(np.uint8)
        scores = {name: hole_psnr(r.repair(zeroed, hole, seed=0), photo, hole) for name, r in repairers.items()}
        rows.append({"file": files[k].name, "hole": kind, "px": face_px(m)} | scores)
        if len(rows) % 25 == 0:
            print(f"{len(rows)}/{args.n}", flush=True)
        if len(rows) >= args.n:
            break
    gain = np.array([r["faces128"] - r["faces64"] for r in rows])
    summary = {name: float(np.mean([r[name] for r in rows])) for name in MODELS}
    summary |= {
        "gain": float(gain.mean()),
        "gain_se": float(gain.std() / np.sqrt(len(gain))),
        "by_hole": {h: float(np.mean([g for g, r in zip(gain, rows) if r["hole"] == h])) for h in HOLES},
    }
    command = " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]])
    record = {"machine": machine_line(), "command": command, "n": len(rows), "summary": summary, "rows": rows}
    args.out.write_text(json.dumps(record, indent=0) + "\n")
    by_hole = {h: round(v, 2) for h, v in summary["by_hole"].items()}
    print(f"{len(rows)} photos: faces64 {summary['faces64']:.2f} dB, faces128 {summary['faces128']:.2f} dB,")
    print(f"gain {summary['gain']:+.2f} +- {summary['gain_se']:.2f} dB (standard error); by hole:", by_hole)


if __name__ == "__main__":
    main()
