"""A classical baseline from outside the package: the hole filled from the image's mirror image."""

import numpy as np

from ganfill.inpainting.inpainter import register_baseline


def mirror(image, hole):
    """Faces are nearly symmetric: a missing pixel takes its left-right mirror's value, or the mean colour."""
    flipped, hole_flipped = image[:, ::-1], hole[:, ::-1]
    mean = image[~hole].mean(axis=0) if (~hole).any() else np.full(image.shape[-1], 128.0)
    fill = np.where(hole_flipped[..., None], mean, flipped)
    return np.where(hole[..., None], fill, image).astype(np.uint8)


register_baseline("mirror", mirror, help="the mirror image, for faces")
