"""Pack training images into one uncompressed zip for a lent GPU machine (configs/gpu.md).

    .venv/bin/python configs/gpu_pack.py OUT.zip SRC_DIR [--max-mib 58] [--quality 90]

The working tree that travels to the device is limited to 64 MiB counted on disk, so thousands
of small files cost far more than their bytes; one stored (uncompressed: JPEG and WebP do not
shrink further) zip costs its size. Images are re-encoded as WebP at ``--quality`` (q90: about
1.5 KB per 64x64 face, 37,695 CelebA faces in 52 MiB) in sorted order until ``--max-mib``, so the
same command always packs the same images. The zip is written under a temporary name and renamed.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import zipfile
from pathlib import Path

from PIL import Image

from ganfill.core.constants import IMAGE_SUFFIXES


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("src", type=Path)
    ap.add_argument("--max-mib", type=float, default=58.0, help="stop before the zip passes this size")
    ap.add_argument("--quality", type=int, default=90)
    args = ap.parse_args()
    files = sorted(p for p in args.src.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
    if not files:
        sys.exit(f"gpu_pack: no images under {args.src}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp")
    budget, size, count = args.max_mib * 2**20, 22, 0  # 22: the zip's end record
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as z:
        for path in files:
            buf = io.BytesIO()
            with Image.open(path) as im:
                im.convert("RGB").save(buf, "WEBP", quality=args.quality)
            name = path.relative_to(args.src).with_suffix(".webp").as_posix()
            cost = buf.tell() + 2 * len(name) + 76  # data, local header and central directory entry
            if size + cost > budget:
                break
            z.writestr(name, buf.getvalue())
            size, count = size + cost, count + 1
    os.replace(tmp, args.out)
    print(f"{args.out}: {count} of {len(files)} images, {args.out.stat().st_size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
