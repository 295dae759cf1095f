"""Conversions at the edges (uint8 RGB <-> NCHW float in [-1, 1]), grids, atomic writes (strict JSON too)."""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ganfill.errors import GanfillError
from ganfill.files import temp_name, writing

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


@contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary name beside `path`; rename it onto `path` only if the block succeeds.

    An operating-system error on the way (permissions, a full disk) is a GanfillError that
    names `path`, not the temporary name; a folder at `path` is refused before anything is
    written. What a killed process leaves (``files.temp_name``'s shape) goes with
    ``files.remove_stale_temps``.
    """
    path = Path(path)
    if path.is_dir():
        raise GanfillError(f"{path} is a folder, not a file: give the name of the file to write")
    # a fresh hidden name, created by the writer itself (so with the usual permissions)
    tmp = temp_name(path)
    try:
        with writing(path, tmp):
            path.parent.mkdir(parents=True, exist_ok=True)
            yield tmp
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_json(obj, path: str | os.PathLike, *, indent: int = 1) -> Path:
    """Write ``obj`` as strict JSON (never a NaN or Infinity token, which JSON readers reject:
    a GanfillError instead) atomically."""
    path = Path(path)
    try:
        text = json.dumps(obj, indent=indent, allow_nan=False)
    except ValueError:
        raise GanfillError(f"{path} would hold a number that is not finite (NaN or infinity): it was not written") from None
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return path


def save_image(array: np.ndarray, path: str | os.PathLike, **kwargs) -> Path:
    """Write a uint8 (H, W, C) array atomically; the format follows the file's extension."""
    path = Path(path)
    image = Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array)
    with atomic_path(path) as tmp:
        image.save(tmp, format=Image.registered_extensions().get(path.suffix.lower(), "PNG"), **kwargs)
    return path
