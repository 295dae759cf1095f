"""Conversions at the edges (uint8 RGB <-> NCHW float in [-1, 1]), grids, atomic writes (strict JSON too)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ganfill.core.files import atomic_path

HOLE_GREY = 128  # how masked inputs show their hole, in files, figures and the web page


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, C) or (H, W, C) -> float (N, C, H, W) in [-1, 1]."""
    images = np.ascontiguousarray(images)
    x = torch.from_numpy(images if images.flags.writeable else images.copy())
    if x.ndim == 3:
        x = x[None]
    assert x.dtype == torch.uint8 and x.ndim == 4, (x.dtype, x.shape)
    return x.permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """float (N, C, H, W) in [-1, 1] -> uint8 (N, H, W, C), rounded to nearest."""
    assert x.ndim == 4, x.shape
    x = x.detach().float().clamp(-1, 1).add(1).mul(127.5).round_()
    return x.to(torch.uint8).permute(0, 2, 3, 1).contiguous().cpu().numpy()


def grid(images: np.ndarray, *, nrow: int | None = None, pad: int = 2, fill: int = 255) -> np.ndarray:
    """uint8 (N, H, W, C) -> one uint8 (rows*(H+pad)+pad, nrow*(W+pad)+pad, C) mosaic."""
    n, h, w, c = images.shape
    nrow = nrow or max(1, int(np.ceil(np.sqrt(n))))
    rows = int(np.ceil(n / nrow))
    out = np.full((rows * (h + pad) + pad, nrow * (w + pad) + pad, c), fill, np.uint8)
    for i, img in enumerate(images):
        r, col = divmod(i, nrow)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        out[y : y + h, x : x + w] = img
    return out


def save_image(array: np.ndarray, path: str | os.PathLike, **kwargs) -> Path:
    """Write a uint8 (H, W, C) array atomically; the format follows the file's extension."""
    path = Path(path)
    image = Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array)
    with atomic_path(path) as tmp:
        image.save(tmp, format=Image.registered_extensions().get(path.suffix.lower(), "PNG"), **kwargs)
    return path
