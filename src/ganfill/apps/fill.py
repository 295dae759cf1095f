"""Inpainting files: images and masks in, completions and a record per image out.

The algorithm is ``inpainting.search.complete`` (pure, tensors only); this module does the rest:

* *domain* framing (default): each image is brought into the model's square exactly as the
  model's training set was (``data.domain.to_domain`` with the checkpoint's crop policy), a user mask
  image takes the same crop and resize, and results are written at model resolution.
* *fit* framing: a square box around the hole of a larger photo is cut out, resized to model
  resolution and completed there; G(z^) is resized back to the box and blended into the hole
  at full resolution, so every pixel outside the hole keeps its exact value.

Outputs, per image, in ``OUT/<name>/``, the input's stem made safe (``core.files.output_name``:
nothing lands outside OUT, and two inputs that would share a folder are an error)::

    completed.png  the repaired image           fake.png      the best fake G(z^)
    masked.png     the input with its hole      mask.png      the hole (white), as a mask image
    figure.png     masked | best fake | repaired | original
    frames/step-NNNNN.png, progress.gif         the completion converging
    record.json    settings, timings, loss curves (written last: its presence means done)

One process at a time writes OUT (``core.files.FolderLock``; the ranks of one torchrun job share
it), and each run first removes what a run killed mid-write left in its images' folders.
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from ganfill import __version__
from ganfill.core.checks import integer
from ganfill.core.constants import IMAGE_SUFFIXES, MAX_PIXELS
from ganfill.core.errors import GanfillError
from ganfill.core.files import FolderLock, atomic_path, output_name, remove_stale_temps, write_json
from ganfill.core.images import HOLE_GREY, save_image, to_tensor, to_uint8
from ganfill.data.domain import to_domain
from ganfill.data.masks import MASKS, from_image, make_mask
from ganfill.data.reading import list_images, load_image, open_image
from ganfill.inpainting.blend import blend
from ganfill.inpainting.inpainter import Inpainter

RECORD = "record.json"


# ---- inputs -------------------------------------------------------------------------------


def image_seed(seed: int, name: str) -> int:
    """Per-image seed of random masks (by file name): they do not depend on batching or sharding."""
    return (seed * 1_000_003 + zlib.crc32(name.encode())) % (2**63 - 1)


class MaskSource:
    """``--mask``: a registry name, one mask image for every input, or a folder matched by stem."""

    def __init__(self, spec: str, *, level: int = 0, options: dict | None = None, max_pixels: int | None = MAX_PIXELS):
        self.spec, self.level, self.options, self.max_pixels = spec, level, options or {}, max_pixels
        path = Path(spec)
        if spec in MASKS:
            self.kind = "named"
        elif path.is_dir():
            self.kind = "folder"
            self.files = {p.stem: p for p in sorted(path.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES}
        elif path.is_file():
            self.kind = "file"
        else:
            raise GanfillError(f"--mask {spec!r} is neither a mask name ({', '.join(MASKS)}) nor an existing file or folder")

    def check(self, images: list[Path]) -> None:
        if self.kind == "folder":
            missing = [p.name for p in images if p.stem not in self.files]
            if missing:
                raise GanfillError(
                    f"no mask for {missing[0]} in {self.spec} ({len(missing)} missing): name masks after their images"
                )

    def hole(self, image_path: Path, size: tuple[int, int], seed: int) -> np.ndarray:
        """Boolean (H, W) hole map (True = missing) at `size` for one image."""
        if self.kind == "named":
            g = torch.Generator().manual_seed(image_seed(seed, image_path.stem))
            return make_mask(self.spec, 1, size, generator=g, **self.options)[0, 0].numpy() < 0.5
        file = self.files[image_path.stem] if self.kind == "folder" else Path(self.spec)
        try:
            mask_image = open_image(file, max_pixels=self.max_pixels)  # too many pixels: a GanfillError
            mask_image.load()
        except (OSError, ValueError) as e:
            raise GanfillError(
                f"mask {file} is not a readable image ({e.__class__.__name__}): give a black/white image"
            ) from None
        (h, w), (mw, mh) = size, mask_image.size
        if abs(mw / mh - w / h) > 0.02 * (w / h):
            raise GanfillError(
                f"mask {file.name} is {mw}x{mh} but image {image_path.name} is {w}x{h}: "
                "the shapes cannot be matched, draw the mask over the image itself"
            )
        return from_image(mask_image, size, level=self.level)[0, 0].numpy() < 0.5


# ---- geometry -----------------------------------------------------------------------------


def fit_box(hole: np.ndarray, *, min_side: int, context: float = 2.0) -> tuple[int, int, int, int]:
    """A square (left, top, right, bottom) around the hole's bounding box, `context` times its side.

    The box is at least `min_side` (the model resolution: never upsample context) and is
    shifted to stay inside the image where it fits; otherwise it extends past the edges.
    """
    ys, xs = np.nonzero(hole)
    h, w = hole.shape
    side = max(np.ptp(ys) + 1, np.ptp(xs) + 1)
    side = int(max(min_side, round(side * context)))
    side = min(side, max(h, w))
    cy, cx = (ys.min() + ys.max() + 1) / 2, (xs.min() + xs.max() + 1) / 2
    top, left = int(round(cy - side / 2)), int(round(cx - side / 2))
    top = min(max(top, 0), max(h - side, 0)) if side <= h else (h - side) // 2
    left = min(max(left, 0), max(w - side, 0)) if side <= w else (w - side) // 2
    return left, top, left + side, top + side


def crop_box(array: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """Cut box out of (H, W[, C]); parts outside the image repeat the edge pixels."""
    left, top, right, bottom = box
    h, w = array.shape[:2]
    ys = np.clip(np.arange(top, bottom), 0, h - 1)
    xs = np.clip(np.arange(left, right), 0, w - 1)
    return array[ys][:, xs]


def _resize(array: np.ndarray, size: int) -> np.ndarray:
    return np.asarray(Image.fromarray(array).resize((size, size), Image.Resampling.BICUBIC))


def _hole_to(hole: np.ndarray, size: int) -> np.ndarray:
    """Downsample a boolean hole map: a model pixel is missing if any part of it is (box filter > 0)."""
    area = np.asarray(Image.fromarray(hole.astype(np.float32)).resize((size, size), Image.Resampling.BOX))
    return area > 1e-3


# ---- one batch ----------------------------------------------------------------------------


@dataclass
class Item:
    path: Path
    image: np.ndarray  # uint8 (H, W, 3), the full input
    hole: np.ndarray  # bool (H, W) in fit mode, (R, R) in domain mode
    x: np.ndarray  # uint8 (R, R, 3) what the model sees
    mask: np.ndarray  # bool (R, R), True = known
    box: tuple[int, int, int, int] | None = None  # fit mode: the box in the full image

    @property
    def name(self) -> str:
        """The folder of its results inside the output folder."""
        return output_name(self.path.stem)


def make_item(
    image: np.ndarray,
    frame: Inpainter,
    *,
    fit: bool,
    hole: np.ndarray | None = None,
    hole_domain: np.ndarray | None = None,
    path: Path = Path("image.png"),
) -> Item:
    """Bring one uint8 (H, W, 3) image and its hole into the square of ``frame`` (an Inpainter:
    its ``resolution`` and ``domain``).

    hole: bool (H, W), True = missing, drawn on the image itself (required with ``fit``).
    hole_domain: bool (R, R) already in the model's square (a generated mask, domain framing only).
    """
    r, domain = frame.resolution, frame.domain
    if fit:
        assert hole is not None and hole.shape == image.shape[:2], "fit mode needs a full-size hole"
        if not hole.any():
            return Item(path, image, hole, to_domain(image, resolution=r, crop="none"), ~_hole_to(hole, r))
        box = fit_box(hole, min_side=r)
        x = _resize(crop_box(image, box), r)  # (R, R, 3)
        return Item(path, image, hole, x, ~_hole_to(crop_box(hole, box), r), box)
    x = domain.square(image, r)  # (R, R, 3)
    if hole_domain is None:  # a hole drawn on the original image takes the same crop and resize
        assert hole is not None and hole.shape == image.shape[:2], "give a hole the size of the image"
        mapped = to_domain(
            np.repeat(hole[..., None] * np.uint8(255), 3, axis=2), resolution=r, crop=domain.crop, background=(0, 0, 0)
        )
        hole_domain = mapped[..., 0] > 127
    assert hole_domain.shape == (r, r), hole_domain.shape
    return Item(path, image, hole_domain, x, ~hole_domain)


def load_item(path: Path, frame: Inpainter, masks: MaskSource, *, fit: bool, seed: int) -> Item:
    """Read one input file and its mask (named, file or folder) into an Item in ``frame``'s
    square; images of more pixels than the mask source's ``max_pixels`` are refused before
    they are decoded."""
    r = frame.resolution
    image = load_image(path, background=frame.domain.background, max_pixels=masks.max_pixels)
    if masks.kind == "named" and not fit:
        return make_item(image, frame, fit=False, hole_domain=masks.hole(path, (r, r), seed), path=path)
    return make_item(image, frame, fit=fit, hole=masks.hole(path, image.shape[:2], seed), path=path)


def compose(item: Item, completed: np.ndarray, fake: np.ndarray, *, method: str = "poisson") -> np.ndarray:
    """The final uint8 image: the model-resolution result, or in fit mode the full photo with
    G(z^) resized to the box and blended into the hole (every other pixel keeps its value)."""
    if item.box is None:
        return completed
    left, top, right, bottom = item.box
    side = right - left
    fake_up = to_tensor(_resize(fake, side))  # (1, 3, side, side)
    box_img = to_tensor(crop_box(item.image, item.box))  # (1, 3, side, side)
    box_known = torch.from_numpy(~crop_box(item.hole, item.box)).float()[None, None]  # (1, 1, side, side)
    filled = to_uint8(blend(fake_up, box_img, box_known, method=method))[0]
    full = item.image.copy()
    h, w = full.shape[:2]
    y0, y1, x0, x1 = max(top, 0), min(bottom, h), max(left, 0), min(right, w)
    region = filled[y0 - top : y1 - top, x0 - left : x1 - left]
    full[y0:y1, x0:x1] = np.where(item.hole[y0:y1, x0:x1, None], region, full[y0:y1, x0:x1])
    return full


def _figure(panels: list[tuple[str, np.ndarray]], *, scale: int) -> np.ndarray:
    """Panels side by side with captions (the paper's Figure 6: best fake, original, repair)."""
    h, w = panels[0][1].shape[:2]
    big = [np.asarray(Image.fromarray(p).resize((w * scale, h * scale), Image.Resampling.NEAREST)) for _, p in panels]
    pad, cap = 6, 22
    out = Image.new("RGB", (len(big) * (w * scale + pad) + pad, h * scale + cap + pad), "white")
    draw = ImageDraw.Draw(out)
    font = ImageFont.load_default(size=14)
    for i, ((title, _), img) in enumerate(zip(panels, big)):
        x = pad + i * (w * scale + pad)
        out.paste(Image.fromarray(img), (x, cap))
        draw.text((x, 3), title, fill="black", font=font)
    return np.asarray(out)


def write_outputs(
    out: Path, item: Item, completed: np.ndarray, fake: np.ndarray, frames: list[tuple[int, np.ndarray]], record: dict
) -> None:
    """Write one image's results; record.json goes last, so its presence means done."""
    out.mkdir(parents=True, exist_ok=True)
    shown = item.image if item.box is not None else item.x
    hole = item.hole
    masked = shown.copy()
    masked[hole] = HOLE_GREY
    save_image(completed, out / "completed.png")
    save_image(fake, out / "fake.png")
    save_image(masked, out / "masked.png")
    save_image(np.repeat(hole[..., None], 3, axis=2).astype(np.uint8) * 255, out / "mask.png")  # white = hole
    r = item.x.shape[0]
    if item.box is None:
        panels = [("masked", masked), ("best fake", fake), ("repaired", completed), ("original", item.x)]
    else:  # large photos: show the box around the hole, at model resolution

        def view(a):
            return _resize(crop_box(a, item.box), r)

        panels = [("masked", view(masked)), ("best fake", fake), ("repaired", view(completed)), ("original", view(item.image))]
    save_image(_figure(panels, scale=max(1, 256 // r)), out / "figure.png")
    if frames:
        (out / "frames").mkdir(exist_ok=True)
        pics = []
        for step, frame in frames:
            save_image(frame, out / "frames" / f"step-{step:05d}.png")
            pics.append(Image.fromarray(frame).resize((r * max(1, 128 // r),) * 2, Image.Resampling.NEAREST))
        with atomic_path(out / "progress.gif") as tmp:
            pics[0].save(tmp, format="GIF", save_all=True, append_images=pics[1:] + [pics[-1]] * 5, duration=80, loop=0)
    write_json(record, out / RECORD)


def write_unchanged(out: Path, item: Item, *, mask_spec: str) -> None:
    """A mask with no hole: the result is the input itself."""
    out.mkdir(parents=True, exist_ok=True)
    save_image(item.image, out / "completed.png")
    write_json(
        {"ganfill_version": __version__, "input": str(item.path), "mask": mask_spec, "hole_fraction": 0.0, "unchanged": True},
        out / RECORD,
    )


def complete_items(inpainter: Inpainter, items: list[Item], *, seed: int, callback=None):
    """Complete a batch of items (each with a hole) with ``inpainter``; returns the Completion
    and, per item, the final uint8 image (``compose``, in the inpainter's first blend)."""
    images, known = np.stack([it.x for it in items]), np.stack([it.mask for it in items])
    done = inpainter(images, known, seed=seed, callback=callback)
    blend_name = inpainter.blends[0]
    finals = [compose(it, done.completed[blend_name][i], done.fake[i], method=blend_name) for i, it in enumerate(items)]
    return done, finals


def run_batch(inpainter: Inpainter, items: list[Item], *, seed: int, out_dir: Path, progress=None, mask_spec: str = "") -> None:
    """Complete one batch of items and write their outputs (items must all have a hole)."""
    last = [0]

    def callback(step, fake, losses):
        if progress is not None:
            progress.update((step - last[0]) * len(items))
            progress.set_postfix_str(f"loss {losses.mean().item():.1f}", refresh=False)
        last[0] = step

    done, finals = complete_items(inpainter, items, seed=seed, callback=callback)
    result = done.result
    if progress is not None:
        progress.update((max(inpainter.steps, 1) - last[0]) * len(items))
    frames = [(step, to_uint8(f)) for step, f in result.frames] if result is not None else []
    blend_name = inpainter.blends[0]
    described = inpainter.describe()
    for i, item in enumerate(items):
        record = {"ganfill_version": __version__, "input": str(item.path)}
        record |= {k: v for k, v in described.items() if k != "config"}
        record |= {
            "framing": "fit" if item.box is not None else "domain",
            "box": item.box,
            "mask": mask_spec,
            "hole_fraction": float(item.hole.mean()),
            "seed": seed,
            "blend": blend_name,
            "seconds_per_batch": round(done.search_seconds + done.blend_seconds[blend_name], 3),
            "batch_size": len(items),
        }
        if result is not None:
            record |= {
                "config": described.get("config"),
                "steps_run": result.steps_run,
                "restart_kept": int(result.restart[i]),
                "init": result.init,
                "loss": result.losses[:, i].tolist(),
                "contextual": result.contextual[:, i].tolist(),
                "perceptual": result.perceptual[:, i].tolist(),
            }
        write_outputs(out_dir / item.name, item, finals[i], done.fake[i], [(s, f[i]) for s, f in frames], record)


def run(
    inpainter: Inpainter,
    inputs: list[str | os.PathLike],
    out_dir: str | os.PathLike,
    *,
    mask: str = "center",
    mask_level: int = 0,
    mask_options: dict | None = None,
    fit: bool = False,
    batch_size: int = 64,
    seed: int = 0,
    overwrite: bool = False,
    rank: int = 0,
    world: int = 1,
    progress: bool = True,
    notify=print,
    max_pixels: int | None = MAX_PIXELS,
) -> dict:
    """Complete every input (this process's shard: inputs[rank::world]) with ``inpainter``
    (``inpainting.inpainter.load_inpainter``); skip those already done.

    `notify(message)` receives warnings (a mask with no hole, a mask that hides everything).
    `max_pixels`: input and mask images with more pixels are refused before they are decoded.
    A second process on the same `out_dir` is refused (see the module docstring).
    Returns counts: {"done": completed now, "unchanged": inputs whose mask had no hole,
    "skipped": already done, "total": in this shard}.
    """
    from tqdm import tqdm

    if batch_size < 1:
        raise GanfillError(f"--batch-size must be at least 1, got {batch_size}")
    if max_pixels is not None:
        integer(max_pixels, "--max-pixels", lo=1)
    out_dir = Path(out_dir)
    files = list_images(inputs, exclude=out_dir)
    masks = MaskSource(mask, level=mask_level, options=mask_options, max_pixels=max_pixels)
    masks.check(files)
    mine = files[rank::world]
    todo = [f for f in mine if overwrite or not (out_dir / output_name(f.stem) / RECORD).is_file()]
    unchanged = 0
    per_image = max(inpainter.steps, 1)
    lock = FolderLock(out_dir, shared=world > 1)  # before the progress bar: a refusal is one line
    bar = tqdm(
        total=len(todo) * per_image,
        unit="img-it",
        unit_scale=True,
        disable=not progress,
        desc=f"inpaint{f' [{rank}/{world}]' if world > 1 else ''}",
        dynamic_ncols=True,
    )
    with lock, bar:
        remove_stale_temps(*(out_dir / output_name(f.stem) / sub for f in mine for sub in ("", "frames")))
        for start in range(0, len(todo), batch_size):
            items = [load_item(p, inpainter, masks, fit=fit, seed=seed) for p in todo[start : start + batch_size]]
            for item in items:
                if not item.hole.any():
                    notify(f"the mask for {item.path.name} has no hole: nothing to fill, the input is returned unchanged")
                    write_unchanged(out_dir / item.name, item, mask_spec=mask)
                    bar.update(per_image)
                elif item.mask is not None and not item.mask.any():
                    notify(
                        f"the mask for {item.path.name} hides every pixel the model sees: "
                        "the result is pure generation from the prior, not a repair"
                    )
            items = [it for it in items if it.hole.any()]
            unchanged += len(todo[start : start + batch_size]) - len(items)
            if items:
                run_batch(inpainter, items, seed=seed, out_dir=out_dir, progress=bar, mask_spec=mask)
    return {"done": len(todo) - unchanged, "unchanged": unchanged, "skipped": len(mine) - len(todo), "total": len(mine)}
