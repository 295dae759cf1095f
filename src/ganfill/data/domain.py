"""Crop policies and the model's domain: how an image of any size is brought into a model's square."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from PIL import Image

from ganfill.core.errors import GanfillError
from ganfill.data.reading import REDUCING_GAP, RESAMPLE, WHITE, Color, parse_color

# -----------------------------------------------------------------------------
# Crop policies and the model's domain


@dataclass(frozen=True)
class CropPolicy:
    """How a source image becomes a square: ``center:N``, ``pad`` or ``none``."""

    kind: Literal["center", "pad", "none"]
    size: int | None = None  # N for center:N

    def __str__(self) -> str:
        return f"center:{self.size}" if self.kind == "center" else self.kind


def parse_crop(spec: str | CropPolicy) -> CropPolicy:
    """Parse a crop policy.

    - ``center:N``: the centred N x N square (CelebA convention: ``center:108`` on the
      178x218 aligned faces). If the image is smaller than N in either dimension, the
      largest centred square that fits is used instead.
    - ``pad``: pad the shorter side with the background colour to a centred square
      (sprites on white, e.g. Pokemon).
    - ``none``: use the whole image, squashed to a square (aspect ratio is not kept).
    """
    if isinstance(spec, CropPolicy):
        return spec
    text = str(spec).strip().lower()
    if text in ("pad", "none"):
        return CropPolicy(text)  # type: ignore[arg-type]
    kind, _, size = text.partition(":")
    if kind in ("center", "centre") and size.strip().isdigit() and int(size) > 0:
        return CropPolicy("center", int(size))
    hint = " (glyph datasets are rendered, not cropped; use 'pad' for character images)" if text == "glyph" else ""
    raise GanfillError(f"unknown crop policy {spec!r}{hint}; use 'center:N' (e.g. center:108), 'pad' or 'none'")


def domain_box(width: int, height: int, *, crop: str | CropPolicy) -> tuple[int, int, int, int]:
    """The (left, top, right, bottom) source box that ``to_domain`` resizes to the model square.

    For ``pad`` the box is the padded square and extends outside the image (negative or
    too-large coordinates) on the shorter side; the image sits at ``(-left, -top)`` in it.
    For ``none`` it is the whole image (not square).
    """
    policy = parse_crop(crop)
    if policy.kind == "none":
        return (0, 0, width, height)
    side = max(width, height) if policy.kind == "pad" else min(policy.size or 0, width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return (left, top, left + side, top + side)


def to_domain(
    image: np.ndarray, *, resolution: int, crop: str | CropPolicy, background: str | Sequence[int] = WHITE
) -> np.ndarray:
    """Bring a uint8 RGB (H, W, 3) image (or greyscale (H, W)) into a model's domain.

    Crops (or pads) the box ``domain_box`` describes, then resizes it to
    ``resolution`` x ``resolution`` with Pillow's BICUBIC filter (antialiased, see the module
    docstring). Returns uint8 (resolution, resolution, 3).
    """
    if (
        not isinstance(image, np.ndarray)
        or image.dtype != np.uint8
        or not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3))
    ):
        shape = getattr(image, "shape", None)
        dtype = getattr(image, "dtype", type(image).__name__)
        raise GanfillError(f"expected a uint8 (H, W, 3) RGB image, got {dtype} {shape}; read files with load_image")
    if not isinstance(resolution, (int, np.integer)) or resolution < 1:
        raise GanfillError(f"resolution must be a positive integer, got {resolution!r}")
    policy = parse_crop(crop)
    pil = Image.fromarray(image).convert("RGB")
    left, top, right, bottom = domain_box(pil.width, pil.height, crop=policy)
    if policy.kind == "pad":
        square = Image.new("RGB", (right - left, bottom - top), parse_color(background))
        square.paste(pil, (-left, -top))
        pil = square
    elif policy.kind == "center":
        pil = pil.crop((left, top, right, bottom))
    out = pil.resize((int(resolution), int(resolution)), RESAMPLE, reducing_gap=REDUCING_GAP)
    return np.asarray(out, dtype=np.uint8).copy()


TEMPLATES = ("celeba",)  # the landmark templates face models are aligned to (``data.faces``)


@dataclass(frozen=True)
class Domain:
    """How a model's training images were brought into its square, so user images get the same.

    crop: a crop policy (``center:N``, ``pad`` or ``none``; see ``parse_crop``), stored in its
    canonical spelling.  background: the RGB colour of padding and transparency.  faces: for a
    face model, the landmark template its faces are aligned to (``TEMPLATES``, e.g.
    ``celeba``: the crop is then a box of the template's frame), so faces in photos can be
    framed the same way; None for every other subject.
    Saved with every model (checkpoint metadata); models saved without one get ``Domain()``.
    """

    crop: str = "none"
    background: Color = WHITE
    faces: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "crop", str(parse_crop(self.crop)))
        object.__setattr__(self, "background", parse_color(self.background))
        if self.faces is not None and self.faces not in TEMPLATES:
            raise GanfillError(f"unknown face template {self.faces!r}: choose {', '.join(TEMPLATES)}")
        if self.faces is not None and not self.crop.startswith("center:"):
            raise GanfillError(f"a face model's crop is a box of the template's frame (center:N), got {self.crop}")

    @classmethod
    def from_dict(cls, d) -> Domain:
        """From a checkpoint's JSON record; rendered glyph datasets (crop ``glyph``) map to ``pad``."""
        if not isinstance(d, dict):
            raise GanfillError(f"a domain must be a JSON object, got {type(d).__name__}: give its 'crop' and 'background'")
        crop = d.get("crop", "none")
        return cls("pad" if crop == "glyph" else crop, tuple(d.get("background", WHITE)), d.get("faces"))

    def to_dict(self) -> dict:
        return {"crop": self.crop, "background": list(self.background)} | ({"faces": self.faces} if self.faces else {})

    def text(self) -> str:
        """``center:108``, ``none``, or ``pad on #ffffff``."""
        if self.faces:
            return f"{self.crop}, faces aligned as {self.faces}'s"
        return "pad on #{:02x}{:02x}{:02x}".format(*self.background) if self.crop == "pad" else self.crop

    def square(self, image: np.ndarray, resolution: int) -> np.ndarray:
        """``to_domain`` with this domain's crop and background: uint8 (resolution, resolution, 3)."""
        return to_domain(image, resolution=resolution, crop=self.crop, background=self.background)
