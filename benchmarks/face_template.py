"""The face template ``celeba`` of ``data.faces``: dlib's 68 landmarks averaged over the
aligned CelebA originals (178x218, ``../shared/data/celeba-aligned-sample``), with their spread,
written to the package (``ganfill/assets/face_template.json``).

    .venv/bin/python benchmarks/face_template.py [--data DIR] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image

from ganfill.data.faces import TEMPLATE_FILE, FaceFinder
from ganfill.data.reading import image_files


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path(__file__).parents[1].parent / "shared/data/celeba-aligned-sample")
    ap.add_argument("--out", type=Path, default=TEMPLATE_FILE)
    args = ap.parse_args()
    finder = FaceFinder(max_side=1000)  # the originals at their own size
    points, missed = [], []
    for file in image_files(args.data):
        image = np.asarray(Image.open(file).convert("RGB"))
        faces = finder.find(image)
        if faces:
            points.append(faces[0].landmarks)
        else:
            missed.append(file.name)
    p = np.stack(points)  # (N, 5, 2)
    size = Image.open(image_files(args.data)[0]).size
    result = {
        "what": "dlib's 68 landmarks (iBUG 300-W order), mean over the aligned originals, pixels of their frame",
        "frame": list(size),
        "images": len(points),
        "missed": missed,
        "mean": p.mean(0).round(2).tolist(),
        "std": p.std(0).round(2).tolist(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"celeba": result}) + "\n")
    eyes = p[:, 36:48].mean(1)  # (N, 2)
    print(f"{len(points)} faces, {len(missed)} missed; eye centre {eyes.mean(0).round(1)} +- {eyes.std(0).round(1)} px")


if __name__ == "__main__":
    main()
