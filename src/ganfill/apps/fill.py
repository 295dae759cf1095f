"""Inpainting files: images and masks in, completions and a record per image out.

The algorithm is ``inpainting.search.complete`` (pure, tensors only); this module does the rest:

* *domain* framing (default): each image is brought into the model's square exactly as the
  model's training set was (``data.domain.to_domain`` with the checkpoint's crop policy), a user mask
  image takes the same crop and resize, and results are written at model resolution.
* *face*, *fit* or a given frame (``data.framing``): the model's square is put on the photo
  (on each face the hole touches, by its landmarks, for a face model; a box around the hole;
  or a box given by hand), the photo is warped into it and completed there, and the fill is
  warped back and blended into the hole at the photo's own resolution: the result is the
  whole photo at its size, every pixel outside the hole with its exact value.  ``auto`` is
  *face* for a face model (its domain records a landmark template), *domain* otherwise.  A
  face's square found in a photo is a little off; the modes that estimate what was there
  (``ESTIMATES``) also complete it moved by its likely errors and average (``spread_items``,
  ``averaged_fill``).

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
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from ganfill.apps.config import SIZED
from ganfill.core.checks import integer
from ganfill.core.checks import seed as check_seed
from ganfill.core.constants import GANFILL_VERSION, IMAGE_SUFFIXES, MAX_BATCH, MAX_PIXELS
from ganfill.core.errors import GanfillError
from ganfill.core.files import FolderLock, atomic_folder, atomic_path, output_name, remove_stale_temps, write_json
from ganfill.core.images import HOLE_GREY, save_image, to_tensor, to_uint8
from ganfill.data.domain import domain_box, to_domain
from ganfill.data.framing import SPREAD, Frame, domain_frame, fit_frame, moved, square_to_square
from ganfill.data.masks import MASKS, from_image, make_mask
from ganfill.data.reading import list_images, load_image, open_image
from ganfill.inpainting.blend import blend
from ganfill.inpainting.inpainter import Inpainter
from ganfill.inpainting.search import FAITHFUL_BLUR

RECORD = "record.json"
FIT_ABOVE = 2.0  # auto framing: fit when the model's square would shrink the image by more than this
INVERTED_FRACTION = 0.6  # a mask hiding more than this share of an image is warned about (inverted?)


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
            self._open(path).close()  # one mask for every image: a bad one fails before any work
        else:
            raise GanfillError(f"--mask {spec!r} is neither a mask name ({', '.join(MASKS)}) nor an existing file or folder")

    def check(self, images: list[Path]) -> None:
        """A folder of masks that matches none of ``images`` is an error (the wrong folder?); an
        image without a mask is the error of its own ``hole`` (a batch skips it)."""
        if self.kind == "folder" and images and not any(p.stem in self.files for p in images):
            raise GanfillError(
                f"no mask in {self.spec} is named after an image ({images[0].name}, ...): name masks after their images"
            )

    def _open(self, file: Path):
        try:
            mask_image = open_image(file, max_pixels=self.max_pixels)  # too many pixels: a GanfillError
            mask_image.load()
        except (OSError, ValueError) as e:
            raise GanfillError(
                f"mask {file} is not a readable image ({e.__class__.__name__}): give a black/white image"
            ) from None
        return mask_image

    def hole(self, image_path: Path, size: tuple[int, int], seed: int) -> np.ndarray:
        """Boolean (H, W) hole map (True = missing) at `size` for one image."""
        if self.kind == "named":
            g = torch.Generator().manual_seed(image_seed(seed, image_path.stem))
            return make_mask(self.spec, 1, size, generator=g, **self.options)[0, 0].numpy() < 0.5
        if self.kind == "folder" and image_path.stem not in self.files:
            raise GanfillError(f"no mask for {image_path.name} in {self.spec}: name masks after their images")
        file = self.files[image_path.stem] if self.kind == "folder" else Path(self.spec)
        mask_image = self._open(file)
        (h, w), (mw, mh) = size, mask_image.size
        if abs(mw / mh - w / h) > 0.02 * (w / h):
            raise GanfillError(
                f"mask {file.name} is {mw}x{mh} but image {image_path.name} is {w}x{h}: "
                "the shapes cannot be matched, draw the mask over the image itself"
            )
        return from_image(mask_image, size, level=self.level)[0, 0].numpy() < 0.5


# ---- geometry -----------------------------------------------------------------------------


def _resize(array: np.ndarray, size: int) -> np.ndarray:
    return np.asarray(Image.fromarray(array).resize((size, size), Image.Resampling.BICUBIC))


def _hole_to(hole: np.ndarray, size: int) -> np.ndarray:
    """Downsample a boolean hole map: a model pixel is missing if any part of it is (box filter > 0)."""
    area = np.asarray(Image.fromarray(hole.astype(np.float32)).resize((size, size), Image.Resampling.BOX))
    return area > 1e-3


# ---- one batch ----------------------------------------------------------------------------


FRAMINGS = ("auto", "domain", "face", "fit")


@dataclass
class Item:
    """One input as the model sees it: F squares (one per frame; 1 in domain framing)."""

    path: Path
    image: np.ndarray  # uint8 (H, W, 3), the full input
    hole: np.ndarray  # bool (H, W) with frames, (R, R) in domain framing
    xs: np.ndarray  # uint8 (F, R, R, 3) what the model sees
    masks: np.ndarray  # bool (F, R, R), True = known
    frames: list[Frame] = field(default_factory=list)  # empty in domain framing

    @property
    def name(self) -> str:
        """The folder of its results inside the output folder."""
        return output_name(self.path.stem)

    @property
    def x(self) -> np.ndarray:
        """uint8 (R, R, 3): the first square."""
        return self.xs[0]

    @property
    def mask(self) -> np.ndarray:
        return self.masks[0]

    @property
    def framing(self) -> str:
        return self.frames[0].kind if self.frames else "domain"


def make_item(
    image: np.ndarray,
    frame: Inpainter,
    *,
    framing: str = "domain",
    hole: np.ndarray | None = None,
    hole_domain: np.ndarray | None = None,
    frames: list[Frame] | None = None,
    finder=None,
    path: Path = Path("image.png"),
) -> Item:
    """Bring one uint8 (H, W, 3) image and its hole into the square of ``frame`` (an Inpainter:
    its ``resolution`` and ``domain``).

    framing: one of ``FRAMINGS`` (``auto``: ``face`` for a face model, else ``domain``);
    ``frames`` given by hand replace it.  hole: bool (H, W), True = missing, drawn on the image
    itself (required but in domain framing with ``hole_domain``, a bool (R, R) mask already in
    the model's square).  finder: a ``data.faces.FaceFinder`` (made when face framing needs one).
    """
    r, domain = frame.resolution, frame.domain
    framing = resolve_framing(framing, domain, image.shape[:2], r)
    if frames is None and framing != "domain":
        assert hole is not None and hole.shape == image.shape[:2], "framing a photo needs a full-size hole"
        if not hole.any():
            x = to_domain(image, resolution=r, crop="none")
            return Item(path, image, hole, x[None], ~_hole_to(hole, r)[None])
        frames = find_frames(image, hole, domain, r, framing, finder=finder)
        if not frames:
            raise GanfillError(
                f"the hole in {path.name} touches no face the detector found: give the model's square by hand "
                "(--frame X,Y,SIZE: its top-left corner and side in pixels), or --framing fit"
            )
    if frames:
        assert hole is not None and hole.shape == image.shape[:2], "a frame needs a full-size hole"
        xs = np.stack([f.to_square(image) for f in frames])  # (F, R, R, 3)
        return Item(path, image, hole, xs, np.stack([f.known_in_square(hole) for f in frames]), list(frames))
    x = domain.square(image, r)  # (R, R, 3)
    if hole_domain is None:  # a hole drawn on the original image takes the same crop and resize
        assert hole is not None and hole.shape == image.shape[:2], "give a hole the size of the image"
        mapped = to_domain(
            np.repeat(hole[..., None] * np.uint8(255), 3, axis=2), resolution=r, crop=domain.crop, background=(0, 0, 0)
        )
        hole_domain = mapped[..., 0] > 127
    assert hole_domain.shape == (r, r), hole_domain.shape
    return Item(path, image, hole_domain, x[None], ~hole_domain[None])


def resolve_framing(framing: str, domain, shape: tuple[int, int], resolution: int, *, fit_above: float = FIT_ABOVE) -> str:
    """What ``auto`` means for an image of ``shape`` (H, W): ``face`` for a face model's photo;
    for any other model ``fit`` when the model's square would shrink the image more than
    ``fit_above`` times (0: always, so that the result is the photo at its size), else
    ``domain`` (and ``domain`` for an image already the square's size)."""
    if framing not in FRAMINGS:
        raise GanfillError(f"unknown framing {framing!r}: choose {', '.join(FRAMINGS)}")
    if framing != "auto":
        return framing
    if tuple(shape) == (resolution, resolution):
        return "domain"
    if domain.faces:
        return "face"
    h, w = shape
    left, top, right, bottom = domain_box(w, h, crop=domain.crop)
    return "fit" if max(right - left, bottom - top) > fit_above * resolution else "domain"


def find_frames(image: np.ndarray, hole: np.ndarray | None, domain, resolution: int, framing: str, *, finder=None) -> list[Frame]:
    """Where the square of a model (its ``data.domain.Domain`` and ``resolution``) goes on uint8
    ``image`` (H, W, 3) for a resolved ``framing`` (``resolve_framing``), one Frame per square:
    ``domain``: the crop of the training images (``framing.domain_frame``); ``fit``: a box around
    ``hole`` (bool (H, W)); ``face``: a face model's square on each face the hole touches (none
    when none is found: the caller says what to do).  Without a hole (None or empty) only
    ``domain`` has a square.  finder: a ``data.faces.FaceFinder`` (made when face framing needs one)."""
    r = resolution
    if framing == "domain":
        return [domain_frame(domain, *image.shape[:2], r)]
    if framing not in ("fit", "face"):
        raise GanfillError(f"unknown framing {framing!r}: choose {', '.join(FRAMINGS[1:])}")
    if framing == "face" and not domain.faces:
        raise GanfillError(
            f"face framing needs a face model (its domain names a landmark template); this one's is {domain.text()}: "
            "use --framing fit or domain"
        )
    if hole is None or not hole.any():
        return []
    if framing == "fit":
        return [fit_frame(hole, r)]
    if finder is None:
        from ganfill.data.faces import FaceFinder

        finder = FaceFinder()
    from ganfill.data.faces import face_frames

    return face_frames(finder, image, hole, domain, r)


def load_item(
    path: Path, frame: Inpainter, masks: MaskSource, *, framing: str = "domain", frames=None, finder=None, seed: int
) -> Item:
    """Read one input file and its mask (named, file or folder) into an Item in ``frame``'s
    square; images of more pixels than the mask source's ``max_pixels`` are refused before
    they are decoded."""
    r = frame.resolution
    image = load_image(path, background=frame.domain.background, max_pixels=masks.max_pixels)
    if framing == "auto" and masks.kind == "named":
        framing = "domain"  # a named mask is drawn in the model's square
    framing = resolve_framing(framing, frame.domain, image.shape[:2], r)
    if masks.kind == "named" and framing == "domain" and frames is None:
        return make_item(image, frame, hole_domain=masks.hole(path, (r, r), seed), path=path)
    hole = masks.hole(path, image.shape[:2], seed)
    return make_item(image, frame, framing=framing, hole=hole, frames=frames, finder=finder, path=path)


def compose(item: Item, completed: np.ndarray, fakes: np.ndarray, *, method: str = "poisson") -> np.ndarray:
    """The final uint8 image: in domain framing the model-resolution result ``completed[0]``;
    with frames the whole photo, each frame's fill ``fakes[f]`` (R, R, 3) warped back and
    blended into the part of the hole it covers (the largest face first; what no frame covers
    is filled by Telea), every other pixel with its value."""
    if not item.frames:
        return completed[0]
    full, todo = item.image.copy(), item.hole.copy()
    h, w = todo.shape
    for f, fake in zip(item.frames, fakes):
        x0, y0, x1, y1 = f.footprint(h, w)
        if x1 <= x0 or y1 <= y0:
            continue
        fill_up = to_tensor(f.from_square(fake, h, w)[y0:y1, x0:x1][None])  # (1, 3, h', w')
        known = torch.from_numpy(~item.hole[y0:y1, x0:x1]).float()[None, None]  # (1, 1, h', w')
        filled = to_uint8(blend(fill_up, to_tensor(full[y0:y1, x0:x1][None]), known, method=method))[0]
        take = todo[y0:y1, x0:x1] & f.covers(h, w)[y0:y1, x0:x1]
        full[y0:y1, x0:x1][take] = filled[take]
        todo[y0:y1, x0:x1] &= ~take
    if todo.any():
        import cv2

        full = np.where(todo[..., None], cv2.inpaint(full, todo.astype(np.uint8) * 255, 3, cv2.INPAINT_TELEA), full)
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
    """Write one image's results into the folder ``out``, which appears whole or not at all
    (``core.files.atomic_folder``: a full disk or a kill leaves no half-made folder); record.json
    goes last, so its presence means done."""
    with atomic_folder(out) as tmp:
        _write_outputs(tmp, item, completed, fake, frames, record)


def _write_outputs(
    out: Path, item: Item, completed: np.ndarray, fake: np.ndarray, frames: list[tuple[int, np.ndarray]], record: dict
) -> None:
    shown = item.image if item.frames else item.x
    hole = item.hole
    masked = shown.copy()
    masked[hole] = HOLE_GREY
    save_image(completed, out / "completed.png")
    save_image(fake, out / "fake.png")
    save_image(masked, out / "masked.png")
    save_image(np.repeat(hole[..., None], 3, axis=2).astype(np.uint8) * 255, out / "mask.png")  # white = hole
    r = item.x.shape[0]
    if not item.frames:
        panels = [("masked", masked), ("best fake", fake), ("repaired", completed), ("original", item.x)]
    else:  # photos: show the (first) frame, at model resolution
        view = item.frames[0].to_square
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
    """A mask with no hole: the result is the input itself (the folder appears whole, as ``write_outputs``')."""
    with atomic_folder(out) as tmp:
        save_image(item.image, tmp / "completed.png")
        record = {"ganfill_version": GANFILL_VERSION, "input": str(item.path), "mask": mask_spec, "hole_fraction": 0.0}
        write_json(record | {"unchanged": True}, tmp / RECORD)


def load_sized(model, mode: str, *, cnn=None, config, runtime, blends: tuple[str, ...]) -> list[Inpainter]:
    """The inpainters of ``mode`` (``load_inpainter``'s other arguments) for ``model``: a name of
    ``SIZED``, a list of face models of one landmark template, or one model; lowest resolution
    first (the first one frames the faces, ``pick`` chooses among them)."""
    from ganfill.inpainting.inpainter import load_inpainter

    if isinstance(model, (str, Path)):
        names = SIZED.get(str(model), (model,))
    else:
        names = tuple(model) if isinstance(model, (list, tuple)) else (model,)
    if not names or (cnn is not None and len(names) > 1):
        given = str(model) if isinstance(model, (str, Path)) else ", ".join(map(str, names))
        raise GanfillError(f"a context encoder goes with one model, and {given} stands for {len(names)}: name one of them")
    inpainters = sorted(
        (load_inpainter(name, mode, cnn=cnn, config=config, runtime=runtime, blends=blends) for name in names),
        key=lambda inpainter: inpainter.resolution,
    )
    templates = {inpainter.domain.faces for inpainter in inpainters}
    if len(inpainters) > 1 and (None in templates or len(templates) > 1):
        raise GanfillError("several models are picked from by the face's size: give face models of one landmark template")
    return inpainters


def pick(inpainters: list[Inpainter], frames: list[Frame]) -> tuple[Inpainter, list[Frame]]:
    """(inpainter, frames): of face models ``inpainters`` (Inpainters or loaded models: their
    ``domain`` and ``resolution``; lowest resolution first; ``frames`` in the first one's
    square), the highest resolution one whose square, put on the first (largest)
    face, covers at least its resolution in photo pixels, with the frames moved to its square
    (``framing.recentred``); else the first model and ``frames``."""
    from ganfill.data.domain import parse_crop
    from ganfill.data.framing import recentred

    base = inpainters[0]
    crop = parse_crop(base.domain.crop).size
    for inpainter in reversed(inpainters[1:]):
        to_crop, r = parse_crop(inpainter.domain.crop).size, inpainter.resolution
        moved_frames = [recentred(f, crop, to_crop, r) for f in frames]
        if moved_frames[0].scale <= 1.0 + 1e-9:  # square pixels per photo pixel: the face is not enlarged
            return inpainter, moved_frames
    return base, frames


def picked(inpainters: list[Inpainter], item: Item) -> tuple[Inpainter, Item]:
    """(inpainter, item): ``item`` (made for ``inpainters[0]``) remade for the model ``pick``
    chooses by its face's size; as it is without frames, in ``fit`` framing (a box around the
    hole, not a face) or of one model."""
    if not item.frames or item.framing == "fit" or len(inpainters) < 2:
        return inpainters[0], item
    inpainter, frames = pick(inpainters, item.frames)
    if inpainter is inpainters[0]:
        return inpainter, item
    return inpainter, make_item(item.image, inpainter, hole=item.hole, frames=frames, path=item.path)


# The modes whose fill estimates what was there (not one sample of what might be): on a face's
# square found in a photo (``Frame.kind`` ``face``) their fill is averaged over the square's likely
# errors (``data.framing.SPREAD``): the mean of the fills in the found square and in the moved
# ones, under the found square's own detail (finer than ``DETAIL_SIGMA`` pixels of the square).
# The closest mode adapts the generator to every square, seven times the time: it is left out.
ESTIMATES = ("faithful", "fast")
DETAIL_SIGMA = FAITHFUL_BLUR  # pixels of the model's square


def spread_items(inpainter: Inpainter, item: Item, *, moves: tuple = SPREAD) -> list[Item]:
    """``item`` with its face squares moved by each of ``moves`` (``data.framing.moved``'s
    arguments; one Item per move whose squares all still hold part of the hole); none for an
    inpainter whose mode is not one of ``ESTIMATES`` or an item whose squares were not all found
    on faces."""
    if inpainter.mode not in ESTIMATES or not item.frames or any(f.kind != "face" for f in item.frames):
        return []
    spread = [make_item(item.image, inpainter, hole=item.hole, frames=[moved(f, *m) for f in item.frames]) for m in moves]
    return [other for other in spread if not other.masks.all(axis=(1, 2)).any()]


def averaged_fill(item: Item, fakes: np.ndarray, spread: list[tuple[Item, np.ndarray]]) -> np.ndarray:
    """uint8 (F, R, R, 3): each of ``item``'s fills ``fakes`` (F, R, R, 3) with its coarse structure
    (a Gaussian of ``DETAIL_SIGMA``) replaced by the mean of it and of the same face's fills in
    the moved squares (``spread``: (Item, its fills (F, R, R, 3)) pairs), warped into its square."""
    import cv2

    if not spread:
        return fakes
    r, flags = fakes.shape[1], cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    out = []
    for f, (frame, fake) in enumerate(zip(item.frames, fakes)):
        own = fake.astype(np.float32)
        total, weight = own.copy(), np.ones((r, r, 1), np.float32)
        for other, others in spread:
            to_other = square_to_square(frame, other.frames[f])  # dst(p) = src(to_other p)
            inside = cv2.warpAffine(np.ones((r, r), np.float32), to_other, (r, r), flags=flags)[..., None]
            total += cv2.warpAffine(others[f].astype(np.float32), to_other, (r, r), flags=flags) * inside
            weight += inside
        mean, own_coarse = (cv2.GaussianBlur(a, (0, 0), DETAIL_SIGMA) for a in (total / weight, own))
        out.append((mean + own - own_coarse).clip(0, 255).round().astype(np.uint8))
    return np.stack(out)


def complete_items(inpainter: Inpainter, items: list[Item], *, seed: int, callback=None, moves: tuple = SPREAD):
    """Complete a batch of items (each with a hole) with ``inpainter``; returns the Completion
    and, per item, the final uint8 image (``compose``, in the inpainter's first blend) and the
    first row of its squares in the Completion.  Found face squares of an estimating mode are
    completed in their ``moves`` too (``spread_items``: more rows, after the items' own, which
    are all ``callback`` sees) and their fills averaged (``averaged_fill``; the Completion's
    ``fake`` rows of the items hold the averaged fills)."""
    spreads = [spread_items(inpainter, it, moves=moves) for it in items]
    batch = items + [s for spread in spreads for s in spread]
    images, known = np.concatenate([it.xs for it in batch]), np.concatenate([it.masks for it in batch])  # (sum F, R, R, ...)
    own = sum(len(it.xs) for it in items)  # the items' own squares, the batch's first rows: all the callback sees
    seen = None if callback is None else lambda step, fake, losses: callback(step, fake[:own], losses[:own])
    done = inpainter(images, known, seed=seed, callback=seen)
    blend_name = inpainter.blends[0]
    ends = np.cumsum([len(it.xs) for it in batch])
    rows = [slice(int(end) - len(it.xs), int(end)) for it, end in zip(batch, ends)]  # batch item i's squares
    k = len(items)
    for i, (it, spread) in enumerate(zip(items, spreads)):
        done.fake[rows[i]] = averaged_fill(it, done.fake[rows[i]], [(s, done.fake[rows[k + j]]) for j, s in enumerate(spread)])
        k += len(spread)
    finals = [compose(it, done.completed[blend_name][r], done.fake[r], method=blend_name) for it, r in zip(items, rows)]
    return done, finals, [rows[i].start for i in range(len(items))]


def run_batch(inpainter: Inpainter, items: list[Item], *, seed: int, out_dir: Path, progress=None, mask_spec: str = "") -> None:
    """Complete one batch of items and write their outputs (items must all have a hole)."""
    last = [0]

    def callback(step, fake, losses):
        if progress is not None:
            progress.update((step - last[0]) * len(items))
            progress.set_postfix_str(f"loss {losses.mean().item():.1f}", refresh=False)
        last[0] = step

    done, finals, rows = complete_items(inpainter, items, seed=seed, callback=callback)
    result = done.result
    if progress is not None:
        progress.update((max(inpainter.steps, 1) - last[0]) * len(items))
    frames = [(step, to_uint8(f)) for step, f in result.frames] if result is not None else []
    blend_name = inpainter.blends[0]
    described = inpainter.describe()
    for i, (item, row) in enumerate(zip(items, rows)):
        record = {"ganfill_version": GANFILL_VERSION, "input": str(item.path)}
        record |= {k: v for k, v in described.items() if k != "config"}
        record |= {
            "framing": item.framing,
            "frames": [f.to_dict() for f in item.frames],
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
                "restart_kept": int(result.restart[row]),
                "init": result.init,
                "loss": result.losses[:, row].tolist(),
                "contextual": result.contextual[:, row].tolist(),
                "perceptual": result.perceptual[:, row].tolist(),
            }
        write_outputs(out_dir / item.name, item, finals[i], done.fake[row], [(s, f[row]) for s, f in frames], record)


def run(
    inpainter: Inpainter,
    inputs: list[str | os.PathLike],
    out_dir: str | os.PathLike,
    *,
    mask: str = "center",
    mask_level: int = 0,
    mask_options: dict | None = None,
    framing: str = "domain",
    frames: list[Frame] | None = None,
    batch_size: int = 64,
    seed: int = 0,
    overwrite: bool = False,
    rank: int = 0,
    world: int = 1,
    progress: bool = True,
    notify=print,
    max_pixels: int | None = MAX_PIXELS,
    larger: tuple[Inpainter, ...] = (),
) -> dict:
    """Complete every input (this process's shard: inputs[rank::world]) with ``inpainter``
    (``inpainting.inpainter.load_inpainter``); skip those already done.  ``larger``: face models
    of higher resolutions than ``inpainter`` (a name of ``SIZED``): each photo framed on a face
    gets the one its face's size calls for (``picked``).

    framing: ``FRAMINGS``' (see the module docstring); ``frames``: the model's square(s) given by
    hand, for every input.  `notify(message)` receives warnings (a mask with no hole, a mask
    that hides everything or most of the photo, files of a folder that are not images, an
    input skipped).
    `max_pixels`: input and mask images with more pixels are refused before they are decoded.
    A second process on the same `out_dir` is refused (see the module docstring).

    A batch finishes: an input that cannot be read or matched (an unreadable or too large
    image, no mask of its name in a mask folder, a mask of another shape, a face model's hole
    that touches no face) is skipped with a ``notify`` naming it and why, and the rest are
    completed; only when there is a single input, or none of them can be completed (nor was
    done before), is it an error.  Every image's folder appears whole (``write_outputs``): nothing half-made.
    Returns counts: {"done": completed now, "unchanged": inputs whose mask had no hole,
    "skipped": already done, "total": in this shard, "failed": [{"file", "reason"}] of the
    inputs skipped}.
    """
    from tqdm import tqdm

    integer(batch_size, "--batch-size", lo=1, hi=MAX_BATCH)
    seed = check_seed(seed, "--seed")
    if max_pixels is not None:
        integer(max_pixels, "--max-pixels", lo=1)
    out_dir = Path(out_dir)
    files = list_images(inputs, exclude=out_dir, notify=notify)
    masks = MaskSource(mask, level=mask_level, options=mask_options, max_pixels=max_pixels)
    masks.check(files)
    mine = files[rank::world]
    todo = [f for f in mine if overwrite or not (out_dir / output_name(f.stem) / RECORD).is_file()]
    unchanged, failed = 0, []
    per_image = max(inpainter.steps, 1)
    lock = FolderLock(out_dir, shared=world > 1)  # before the progress bar: a refusal is one line
    bar = tqdm(
        total=len(todo) * per_image,
        unit="img-it",
        disable=not progress,
        desc=f"inpaint{f' [{rank}/{world}]' if world > 1 else ''}",
        dynamic_ncols=True,
    )
    with lock, bar:
        names = [output_name(f.stem) for f in mine]
        remove_stale_temps(out_dir, of=names)  # what a run killed mid-write left (this shard's names only)
        remove_stale_temps(*(out_dir / name / sub for name in names for sub in ("", "frames")))
        finder = None
        if frames is None and (framing == "face" or (framing == "auto" and inpainter.domain.faces and masks.kind != "named")):
            from ganfill.data.faces import FaceFinder

            finder = FaceFinder()
        for start in range(0, len(todo), batch_size):
            items = []
            for path in todo[start : start + batch_size]:
                try:
                    item = load_item(path, inpainter, masks, framing=framing, frames=frames, finder=finder, seed=seed)
                    items.append(picked([inpainter, *larger], item))
                except GanfillError as e:
                    if len(mine) == 1:
                        raise
                    failed.append({"file": str(path), "reason": str(e)})
                    notify(f"skipped {path}: {e}")
                    bar.update(per_image)
            for _, item in items:
                if not item.hole.any():
                    notify(f"the mask for {item.path.name} has no hole: nothing to fill, the input is returned unchanged")
                    write_unchanged(out_dir / item.name, item, mask_spec=mask)
                    bar.update(per_image)
                elif not item.masks.any():
                    notify(
                        f"the mask for {item.path.name} hides every pixel the model sees: "
                        "the result is pure generation from the prior, not a repair"
                    )
                elif masks.kind != "named" and item.hole.mean() > INVERTED_FRACTION:
                    notify(
                        f"the mask for {item.path.name} hides {item.hole.mean():.0%} of the image: "
                        "is it inverted? white (or transparent) marks the hole, black what is kept"
                    )
            for model in (inpainter, *larger):  # a batch per model
                holes = [it for chosen, it in items if chosen is model and it.hole.any()]
                if holes:
                    run_batch(model, holes, seed=seed, out_dir=out_dir, progress=bar, mask_spec=mask)
            unchanged += sum(not it.hole.any() for _, it in items)
    if failed and len(failed) == len(mine):
        raise GanfillError(f"none of the {len(mine)} inputs could be completed (each is named above with the reason)")
    done = len(todo) - unchanged - len(failed)
    return {"done": done, "unchanged": unchanged, "skipped": len(mine) - len(todo), "total": len(mine), "failed": failed}
