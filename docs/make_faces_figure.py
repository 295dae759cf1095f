"""Ten held-out CelebA faces completed with the center mask: docs/faces-center.png.

    .venv/bin/python docs/make_faces_figure.py CKPT ../shared/data/celeba64/val [--num-steps 1500]

Picks ten validation faces (every 200th file, sorted), runs `ganfill inpaint` on them with the
center mask and the paper's settings, and stacks their figures (masked input, best fake G(z^),
repaired, original) into one image.
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from ganfill.apps import fill
from ganfill.core.images import save_image
from ganfill.core.runtime import resolve
from ganfill.inpainting.config import CompleteConfig
from ganfill.inpainting.inpainter import load_inpainter
from ganfill.models import files as checkpoint

ap = argparse.ArgumentParser()
ap.add_argument("ckpt")
ap.add_argument("val")
ap.add_argument("--num-steps", type=int, default=1500)
ap.add_argument("--out", default=str(Path(__file__).with_name("faces-center.png")))
args = ap.parse_args()

files = sorted(Path(args.val).glob("*.jpg"))[::200][:10]
model = checkpoint.load(args.ckpt, kind="gan")
with tempfile.TemporaryDirectory() as tmp:
    fill.run(
        load_inpainter(model, "sharp", config=CompleteConfig(num_steps=args.num_steps), runtime=resolve()),
        files,
        tmp,
        mask="center",
        batch_size=10,
    )
    rows = [np.asarray(Image.open(Path(tmp) / f.stem / "figure.png").convert("RGB")) for f in files]
    header, rows = rows[0][:22], [r[22:] for r in rows]  # keep the captions once
    save_image(np.concatenate([header, *rows]), args.out)
print(f"{args.out}: {len(files)} faces, checkpoint {model.path}")
