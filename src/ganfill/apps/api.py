"""The Python API: a photo and its hole in, the repaired photo out.

    import ganfill
    repaired = ganfill.repair(photo, hole)   # PIL image or uint8 array, any size

``ganfill.load(model, mode=...)`` keeps the model (and the face finder) loaded for repeated use;
both go through ``fill.make_item`` / ``fill.complete_items``, what ``ganfill inpaint`` and the
web page run, so a photo gives the same result everywhere.

The default model, ``faces``, stands for the shipped face models (``apps.config.SIZED``): on
each photo the one with the highest resolution whose square covers at least its own resolution
in the photo's pixels (``fill.pick``: the face is not enlarged to fill it), else the smallest.  A face
square of 128 photo pixels or more gets faces128, a smaller one faces64; naming a model
(``model="faces64"``) overrides the rule.
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


DEFAULT_MODEL = "faces"  # apps.config.SIZED: faces64 or faces128 by the face's size


class Repairer:
    """A model loaded for repairing photos: ``repairer.repair(image, hole)``.

    model: a shipped model's name, a model file, a run folder, or several face models (a list,
    or a name of ``apps.config.SIZED``), one picked per photo by ``pick``; mode: ``auto``, ``sharp``, ``faithful``,
    ``fast``, ``closest`` or a classical method (``inpainting.inpainter.MODES``); cnn, config
    and runtime: those of ``load_inpainter``.
    """

    def __init__(self, model: str | os.PathLike = DEFAULT_MODEL, *, mode: str = "auto", cnn=None, config=None, runtime=None):
        from ganfill.apps.fill import load_sized
        from ganfill.core.runtime import resolve
        from ganfill.inpainting.config import CompleteConfig

        config, runtime = config or CompleteConfig(), runtime or resolve()
        self.inpainters = load_sized(model, mode, cnn=cnn, config=config, runtime=runtime, blends=("poisson",))
        self.inpainter = self.inpainters[0]  # the one that frames faces (and the only one, for one model)
        self._finder = None

    def pick(self, frames: list) -> tuple:
        """(inpainter, frames): ``fill.pick``'s choice of the loaded models for ``frames``."""
        from ganfill.apps.fill import pick

        return pick(self.inpainters, frames)

    def prepare(self, image, hole, *, framing: str = "auto", frame: tuple[float, float, float] | None = None):
        """(inpainter, item): the model the photo gets and the photo in its square(s)
        (``fill.make_item``), as ``repair`` completes them.  image: uint8 (H, W, 3); hole: bool
        (H, W) with at least one pixel; framing and frame: ``repair``'s."""
        from ganfill.apps import fill
        from ganfill.data.framing import box_frame

        inpainter = self.inpainter
        r = inpainter.resolution
        framing = fill.resolve_framing(framing, inpainter.domain, image.shape[:2], r, fit_above=0)  # the photo at its size
        if frame is not None and (isinstance(frame, (str, bytes)) or not hasattr(frame, "__len__") or len(frame) != 3):
            raise GanfillTypeError(f"frame must be (x, y, size), the model's square in photo pixels, got {frame!r}")
        frames = None if frame is None else [box_frame(*frame, r)]
        if self._finder is None and frame is None and framing == "face" and inpainter.domain.faces:
            from ganfill.data.faces import FaceFinder

            self._finder = FaceFinder()
        item = fill.make_item(image, inpainter, framing=framing, hole=hole, frames=frames, finder=self._finder)
        return fill.picked(self.inpainters, item)  # the model the face's size calls for

    def repair(self, image, hole, *, framing: str = "auto", frame: tuple[float, float, float] | None = None, seed: int = 0):
        """The repaired photo, the type of ``image`` (PIL image, or uint8 (H, W, 3) array), at its size.

        hole: True / white = missing, the image's size.  framing: ``auto`` (a face model's
        square on each face the hole touches; a box around the hole for other models),
        ``face``, ``fit`` or ``domain`` (the model's square: the result is at the model's
        resolution); frame: (x, y, size), the (first) model's square given by hand.
        """
        from PIL import Image

        from ganfill.apps import fill

        rgb = _rgb(image)
        missing = _hole(hole, rgb.shape[:2])
        if not missing.any():
            return image
        inpainter, item = self.prepare(rgb, missing, framing=framing, frame=frame)
        _, finals, _ = fill.complete_items(inpainter, [item], seed=seed)
        out = finals[0]
        return Image.fromarray(out) if isinstance(image, Image.Image) else out


def load(model: str | os.PathLike = DEFAULT_MODEL, *, mode: str = "auto", **options) -> Repairer:
    """A ``Repairer`` for ``model`` (loaded once; ``options``: ``cnn``, ``config``, ``runtime``)."""
    return Repairer(model, mode=mode, **options)


def repair(image, hole, *, model: str | os.PathLike = DEFAULT_MODEL, mode: str = "auto", **options):
    """Repair ``hole`` (True / white = missing) in ``image`` (PIL image or uint8 array, any
    size) with ``model``; returns the photo at its size.  ``options``: ``Repairer.repair``'s."""
    return load(model, mode=mode).repair(image, hole, **options)
