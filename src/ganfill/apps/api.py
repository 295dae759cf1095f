"""The Python API: a photo and its hole in, the repaired photo out.

    import ganfill
    repaired = ganfill.repair(photo, hole, model="faces64")   # PIL image or uint8 array, any size

``ganfill.load(model, mode=...)`` keeps the model (and the face finder) loaded for repeated use;
both go through ``fill.make_item`` / ``fill.complete_items``, what ``ganfill inpaint`` and the
web page run, so a photo gives the same result everywhere.
"""

from __future__ import annotations

import os

import numpy as np

from ganfill.core.errors import GanfillError, GanfillTypeError


def _rgb(image) -> np.ndarray:
    """A PIL image or a uint8 array (H, W) / (H, W, 3) / (H, W, 4) -> uint8 (H, W, 3)."""
    from PIL import Image

    if isinstance(image, Image.Image):
        if image.mode in ("RGBA", "LA", "P"):
            image = image.convert("RGBA")
            flat = Image.new("RGB", image.size, "white")
            flat.paste(image, mask=image.getchannel("A"))
            image = flat
        return np.asarray(image.convert("RGB")).copy()
    if not isinstance(image, np.ndarray):
        raise GanfillTypeError(f"expected a PIL image or a uint8 (H, W, 3) numpy array, got {type(image).__name__}")
    a = image
    if a.dtype != np.uint8 or a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)):
        raise GanfillError(f"expected a PIL image or a uint8 (H, W, 3) array, got {a.dtype} {a.shape}")
    if a.ndim == 2:
        return np.repeat(a[..., None], 3, axis=2)
    return a[..., :3].copy()


def _hole(hole, shape: tuple[int, int]) -> np.ndarray:
    """A bool array (True = missing), a uint8 array or a PIL mask image (white = missing) -> bool (H, W)."""
    from PIL import Image

    if isinstance(hole, Image.Image):
        hole = np.asarray(hole.convert("L")) > 127
    if not isinstance(hole, np.ndarray):
        raise GanfillTypeError(f"the hole must be a PIL image or a numpy array the image's size, got {type(hole).__name__}")
    h = hole
    if h.ndim == 3:
        h = h[..., 0]
    if h.ndim != 2 or h.dtype.kind not in "biuf":
        raise GanfillError(f"the hole must be (H, W) of bools or numbers (white / True = missing), got {h.dtype} {h.shape}")
    h = h.astype(bool) if h.dtype == bool else h > (127 if h.dtype == np.uint8 else 0.5)
    if h.shape != tuple(shape):
        raise GanfillError(f"the hole is {h.shape[1]}x{h.shape[0]} but the image is {shape[1]}x{shape[0]}: give one of its size")
    return h


class Repairer:
    """A model loaded for repairing photos: ``repairer.repair(image, hole)``.

    model: a shipped model's name, a model file or a run folder; mode: ``auto``, ``sharp``,
    ``faithful``, ``fast`` or a classical method (``inpainting.inpainter.MODES``); config and
    runtime: those of ``load_inpainter``.
    """

    def __init__(self, model: str | os.PathLike = "faces64", *, mode: str = "auto", cnn=None, config=None, runtime=None):
        from ganfill.core.runtime import resolve
        from ganfill.inpainting.config import CompleteConfig
        from ganfill.inpainting.inpainter import load_inpainter

        self.inpainter = load_inpainter(
            model, mode, cnn=cnn, config=config or CompleteConfig(), runtime=runtime or resolve(), blends=("poisson",)
        )
        self._finder = None

    def repair(self, image, hole, *, framing: str = "auto", frame: tuple[float, float, float] | None = None, seed: int = 0):
        """The repaired photo, the type of ``image`` (PIL image, or uint8 (H, W, 3) array), at its size.

        hole: True / white = missing, the image's size.  framing: ``auto`` (a face model's
        square on each face the hole touches; a box around the hole for other models),
        ``face``, ``fit`` or ``domain`` (the model's square: the result is at the model's
        resolution); frame: (x, y, size), the model's square given by hand.
        """
        from PIL import Image

        from ganfill.apps import fill
        from ganfill.data.framing import box_frame

        rgb = _rgb(image)
        missing = _hole(hole, rgb.shape[:2])
        if not missing.any():
            return image
        r = self.inpainter.resolution
        framing = fill.resolve_framing(framing, self.inpainter.domain, rgb.shape[:2], r, fit_above=0)  # the photo at its size
        if frame is not None and (isinstance(frame, (str, bytes)) or not hasattr(frame, "__len__") or len(frame) != 3):
            raise GanfillTypeError(f"frame must be (x, y, size), the model's square in photo pixels, got {frame!r}")
        frames = None if frame is None else [box_frame(*frame, r)]
        if self._finder is None and frame is None and framing == "face" and self.inpainter.domain.faces:
            from ganfill.data.faces import FaceFinder

            self._finder = FaceFinder()
        item = fill.make_item(rgb, self.inpainter, framing=framing, hole=missing, frames=frames, finder=self._finder)
        _, finals, _ = fill.complete_items(self.inpainter, [item], seed=seed)
        out = finals[0]
        return Image.fromarray(out) if isinstance(image, Image.Image) else out


def load(model: str | os.PathLike = "faces64", *, mode: str = "auto", **options) -> Repairer:
    """A ``Repairer`` for ``model`` (loaded once; ``options``: ``cnn``, ``config``, ``runtime``)."""
    return Repairer(model, mode=mode, **options)


def repair(image, hole, *, model: str | os.PathLike = "faces64", mode: str = "auto", **options):
    """Repair ``hole`` (True / white = missing) in ``image`` (PIL image or uint8 array, any
    size) with ``model``; returns the photo at its size.  ``options``: ``Repairer.repair``'s."""
    return load(model, mode=mode).repair(image, hole, **options)
