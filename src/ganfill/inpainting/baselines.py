"""Classical inpainting baselines (OpenCV Telea and Navier-Stokes, scikit-image biharmonic, the mean colour)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

# ------------------------------------------------------------------------------------ baselines


def _zero_hole(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """A contiguous uint8 copy with the hole zeroed: OpenCV's inpainting otherwise lets the hole's
    old content shift its result by a grey level here and there."""
    return np.ascontiguousarray(np.where(hole[..., None], 0, image), dtype=np.uint8)


def _keep_known(image: np.ndarray, filled: np.ndarray, hole: np.ndarray) -> np.ndarray:
    return np.where(hole[..., None], filled, image).astype(np.uint8)


def telea(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """OpenCV's Telea inpainting (fast marching, radius 3), uint8 RGB in and out."""
    import cv2

    image = _zero_hole(image, hole)
    return _keep_known(image, cv2.inpaint(image, hole.astype(np.uint8) * 255, 3, cv2.INPAINT_TELEA), hole)


def navier_stokes(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """OpenCV's Navier-Stokes inpainting (Bertalmio et al. 2001, radius 3), uint8 RGB in and out."""
    import cv2

    image = _zero_hole(image, hole)
    return _keep_known(image, cv2.inpaint(image, hole.astype(np.uint8) * 255, 3, cv2.INPAINT_NS), hole)


def biharmonic(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """scikit-image's biharmonic inpainting (smooth interpolation of the hole), uint8 RGB in and out."""
    from skimage.restoration import inpaint_biharmonic

    image = _zero_hole(image, hole)
    filled = inpaint_biharmonic(image, hole, channel_axis=-1)  # float in [0, 1]
    return _keep_known(image, np.clip(np.rint(filled * 255.0), 0, 255), hole)


def mean_fill(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """The hole filled with the mean colour of the known pixels (rounded): the trivial floor."""
    colour = np.rint(image[~hole].astype(np.float64).mean(axis=0)) if (~hole).any() else np.full(3, 127.0)
    return _keep_known(image, np.broadcast_to(colour, image.shape), hole)


# fn(image uint8 (H, W, 3), hole bool (H, W), True = missing) -> uint8 (H, W, 3); known pixels unchanged,
# the hole's content never read
BASELINES: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "telea": telea,
    "navier-stokes": navier_stokes,
    "biharmonic": biharmonic,
    "mean": mean_fill,
}
