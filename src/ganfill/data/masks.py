"""Inpainting masks: (N, 1, H, W) float tensors with 1 = KNOWN pixel and 0 = missing (hole).

Every generator takes the number of masks ``n`` and the ``size`` (an int for a square, or
``(H, W)``) positionally, and everything else keyword-only with a documented default.  The
random ones draw all their randomness from a ``torch.Generator`` (``generator=None`` uses
torch's global RNG), so a seeded generator gives the same masks on every run and machine.

Registry (``MASKS`` / ``make_mask``), with the masks of Yeh et al. (CVPR 2017) and of
bamos/dcgan-completion.tensorflow:

* ``center``   central square hole; ``scale=0.25`` -> side/2 hole (32x32 on 64x64).
* ``pattern``  random blobs, 25% missing (Yeh et al.'s "random pattern").
* ``random80`` 80% of the pixels missing, scattered (Yeh et al.'s "random").
* ``half``     one half missing (``side="left"`` by default).
* ``grid``     only every k-th pixel (each direction) known.
* ``strokes``  free-form brush strokes (random thick polylines).

``from_image`` turns a user-drawn mask image (white / any non-zero = hole) into a mask.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ganfill.core.errors import GanfillError


def _hw(size) -> tuple[int, int]:
    if isinstance(size, (tuple, list)):
        if len(size) != 2:
            raise GanfillError(f"mask size must be an int or (height, width), got {size!r}")
        h, w = int(size[0]), int(size[1])
    else:
        h = w = int(size)
    if h < 1 or w < 1:
        raise GanfillError(f"mask size must be positive, got {size!r}")
    return h, w


def _check_n(n: int) -> int:
    n = int(n)
    if n < 1:
        raise GanfillError(f"number of masks must be at least 1, got {n}")
    return n


def _ones(n: int, h: int, w: int) -> torch.Tensor:
    return torch.ones(n, 1, h, w)


def center(n: int, size, *, scale: float = 0.25, generator: torch.Generator | None = None) -> torch.Tensor:
    """Central square hole, as bamos/dcgan-completion ``center`` (``centerScale=0.25``).

    The hole is rows/columns ``[int(side*scale), int(side*(1-scale)))``: with the default
    ``scale=0.25`` a square of side ``side/2``, i.e. a quarter of the AREA (32x32 on 64x64).
    ``scale`` must be in [0, 0.5).  ``generator`` is accepted for a uniform signature and unused.
    """
    n = _check_n(n)
    h, w = _hw(size)
    if not 0.0 <= scale < 0.5:
        raise GanfillError(f"center mask scale must be in [0, 0.5), got {scale}")
    m = _ones(n, h, w)
    t, b = int(h * scale), int(h * (1 - scale))
    l, r = int(w * scale), int(w * (1 - scale))
    m[:, :, t:b, l:r] = 0.0
    return m


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur (radius 3 sigma) of every channel of (N, C, H, W), reflect padding
    (wraps nothing); the same shape out."""
    radius = max(1, int(math.ceil(3 * sigma)))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    c, (h, w) = x.shape[1], x.shape[-2:]
    # reflect padding needs pad < dim: fall back to replicate on tiny images
    mode = "reflect" if radius < min(h, w) else "replicate"
    x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode=mode), k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    x = F.conv2d(F.pad(x, (0, 0, radius, radius), mode=mode), k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)
    return x


def random_pattern(
    n: int, size, *, fraction: float = 0.25, blob: float = 1 / 16, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Random blob-shaped holes covering ``fraction`` of each mask (Yeh et al.: ~25% missing).

    White noise is blurred with a Gaussian of sigma ``blob * min(H, W)`` (4 px on 64x64) and
    the lowest ``fraction`` of the smooth field (per-image quantile) becomes the hole, so the
    missing fraction is ``fraction`` up to one pixel and the holes are smooth random blobs.
    """
    n = _check_n(n)
    h, w = _hw(size)
    if not 0.0 <= fraction <= 1.0:
        raise GanfillError(f"pattern fraction must be in [0, 1], got {fraction}")
    if blob <= 0:
        raise GanfillError(f"pattern blob size must be positive, got {blob}")
    noise = torch.randn(n, 1, h, w, generator=generator)
    smooth = gaussian_blur(noise, blob * min(h, w)).flatten(1)  # (N, H*W)
    k = int(round(fraction * h * w))  # number of missing pixels per mask
    m = torch.ones(n, h * w)
    if k > 0:
        order = smooth.argsort(dim=1)  # lowest values first
        m.scatter_(1, order[:, :k], 0.0)
    return m.view(n, 1, h, w)


def random_pixels(n: int, size, *, fraction: float = 0.8, generator: torch.Generator | None = None) -> torch.Tensor:
    """Scattered missing pixels: exactly ``round(fraction*H*W)`` per mask (Yeh et al.: 80%).

    (bamos drops each pixel independently with probability ``fraction``; an exact count gives
    the same expected fraction with no variance between masks.)
    """
    n = _check_n(n)
    h, w = _hw(size)
    if not 0.0 <= fraction <= 1.0:
        raise GanfillError(f"random pixel fraction must be in [0, 1], got {fraction}")
    k = int(round(fraction * h * w))
    m = torch.ones(n, h * w)
    if k > 0:
        order = torch.rand(n, h * w, generator=generator).argsort(dim=1)
        m.scatter_(1, order[:, :k], 0.0)
    return m.view(n, 1, h, w)


HALF_SIDES = ("left", "right", "top", "bottom")


def half(n: int, size, *, side: str = "left", generator: torch.Generator | None = None) -> torch.Tensor:
    """The ``side`` half of the image is missing (``side//2`` columns or rows; bamos ``left``)."""
    n = _check_n(n)
    h, w = _hw(size)
    if side not in HALF_SIDES:
        raise GanfillError(f"unknown half {side!r}: choose one of {', '.join(HALF_SIDES)}")
    m = _ones(n, h, w)
    if side == "left":
        m[..., :, : w // 2] = 0.0
    elif side == "right":
        m[..., :, w - w // 2 :] = 0.0
    elif side == "top":
        m[..., : h // 2, :] = 0.0
    else:
        m[..., h - h // 2 :, :] = 0.0
    return m


def grid(n: int, size, *, k: int = 4, generator: torch.Generator | None = None) -> torch.Tensor:
    """Only pixels (i, j) with i % k == 0 and j % k == 0 are known (bamos ``grid``: k = 4).

    With k = 4, 1/16 of the pixels are known (93.75% missing).
    """
    n = _check_n(n)
    h, w = _hw(size)
    if int(k) < 2:
        raise GanfillError(f"grid spacing k must be at least 2 (k=1 leaves no hole), got {k}")
    m = torch.zeros(n, 1, h, w)
    m[..., :: int(k), :: int(k)] = 1.0
    return m


def brush_strokes(
    n: int,
    size,
    *,
    max_strokes: int = 4,
    max_vertices: int = 8,
    max_width: float = 0.1,
    max_length: float = 0.25,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Free-form masks: 1..``max_strokes`` random polylines (DeepFill v2 style) drawn with OpenCV.

    Each stroke starts at a random point and makes 2..``max_vertices`` segments of random
    direction and length up to ``max_length * side``; its thickness is drawn once per stroke
    in [``side/32``, ``max_width * side``] and joints are rounded with filled circles.
    """
    import cv2  # opencv-python-headless

    n = _check_n(n)
    h, w = _hw(size)
    if max_strokes < 1 or max_vertices < 2:
        raise GanfillError("brush strokes need max_strokes >= 1 and max_vertices >= 2")
    side = min(h, w)
    min_width = max(1.0, side / 32)
    max_w = max(min_width, max_width * side)

    def rand() -> float:
        return float(torch.rand((), generator=generator))

    def randint(lo: int, hi: int) -> int:  # inclusive
        return int(torch.randint(lo, hi + 1, (), generator=generator))

    out = np.ones((n, h, w), dtype=np.float32)
    for i in range(n):
        canvas = np.zeros((h, w), dtype=np.uint8)
        for _ in range(randint(1, max_strokes)):
            x, y = rand() * (w - 1), rand() * (h - 1)
            width = int(round(min_width + rand() * (max_w - min_width)))
            angle = rand() * 2 * math.pi
            for _ in range(randint(2, max_vertices)):
                angle += (rand() - 0.5) * math.pi  # wander up to +-90 degrees per segment
                length = (0.3 + 0.7 * rand()) * max_length * side
                nx = min(max(x + length * math.cos(angle), 0.0), w - 1.0)
                ny = min(max(y + length * math.sin(angle), 0.0), h - 1.0)
                p, q = (int(round(x)), int(round(y))), (int(round(nx)), int(round(ny)))
                cv2.line(canvas, p, q, 255, thickness=max(1, width))
                cv2.circle(canvas, q, max(1, width // 2), 255, thickness=-1)
                x, y = nx, ny
        out[i][canvas > 0] = 0.0
    return torch.from_numpy(out).view(n, 1, h, w)


def from_image(image, size, *, level: int = 0, threshold: float = 0.5) -> torch.Tensor:
    """A user-drawn mask image -> (1, 1, H, W) mask.  WHITE (any non-zero value) = HOLE.

    ``image``: a PIL image of any mode, a numpy array / tensor (H, W) or (H, W, C) (uint8,
    bool or float).  Colour images use the largest channel value, so any non-black colour
    is a hole; an alpha channel is ignored.  A source pixel is a hole when its value is
    ``> level`` (default 0: any non-zero; use e.g. ``level=127`` for a noisy JPEG mask).
    The binary hole map is then resized (stretched) to ``size`` like the image, with
    antialiased bilinear interpolation (a local average of the hole indicator, i.e. roughly
    the fraction of the target pixel covered by hole), and a target pixel is a hole when that
    value is ``>= threshold`` (default 0.5: majority vote, so antialiased edges and tiny specks
    below a target pixel's size are decided by majority).  Equal sizes are not resampled.
    """
    h, w = _hw(size)
    arr = _to_numpy(image)
    if arr.ndim == 3:
        if arr.shape[2] in (2, 4):  # LA / RGBA: drop alpha
            arr = arr[..., :-1]
        arr = arr.max(axis=2)
    if arr.ndim != 2 or arr.size == 0:
        raise GanfillError(f"mask image must be (H, W) or (H, W, C), got shape {arr.shape}")
    hole = torch.from_numpy((arr > level).astype(np.float32))[None, None]  # (1, 1, h0, w0)
    if hole.shape[-2:] != (h, w):
        hole = F.interpolate(hole, size=(h, w), mode="bilinear", align_corners=False, antialias=True)
        hole = (hole >= threshold).float()
    return 1.0 - hole


def _to_numpy(image) -> np.ndarray:
    if isinstance(image, torch.Tensor):
        return image.detach().cpu().numpy()
    if isinstance(image, np.ndarray):
        return image
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover
        Image = None
    if Image is not None and isinstance(image, Image.Image):
        if image.mode in ("1", "P", "CMYK", "YCbCr", "HSV", "LAB"):
            image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        return np.asarray(image)
    raise GanfillError(f"mask image must be a PIL image, numpy array or tensor, got {type(image).__name__}")


MASKS: dict[str, Callable[..., torch.Tensor]] = {
    "center": center,
    "pattern": random_pattern,
    "random80": random_pixels,
    "half": half,
    "grid": grid,
    "strokes": brush_strokes,
}


def make_mask(name: str, n: int, size, *, generator: torch.Generator | None = None, **options) -> torch.Tensor:
    """``MASKS[name](n, size, generator=generator, **options)`` -> (n, 1, H, W), 1 = known."""
    if name not in MASKS:
        raise GanfillError(f"unknown mask {name!r}: choose one of {', '.join(MASKS)}")
    try:
        return MASKS[name](n, size, generator=generator, **options)
    except TypeError as e:  # an option the mask does not take
        raise GanfillError(f"bad option for mask {name!r}: {e}") from None


def random_box(
    n: int, size, *, min_side: float = 0.2, max_side: float = 0.6, generator: torch.Generator | None = None
) -> torch.Tensor:
    """One axis-aligned rectangular hole per mask, each side a random fraction in
    [``min_side``, ``max_side``] of the image's, at a random position inside the image."""
    n = _check_n(n)
    h, w = _hw(size)
    if not 0.0 < min_side <= max_side <= 1.0:
        raise GanfillError(f"box sides must satisfy 0 < min_side <= max_side <= 1, got {min_side}, {max_side}")
    m = _ones(n, h, w)
    u = torch.rand(n, 4, generator=generator)
    for i in range(n):
        bh = max(1, round(h * (min_side + (max_side - min_side) * float(u[i, 0]))))
        bw = max(1, round(w * (min_side + (max_side - min_side) * float(u[i, 1]))))
        t, l = int(float(u[i, 2]) * (h - bh + 1)), int(float(u[i, 3]) * (w - bw + 1))
        m[i, :, t : t + bh, l : l + bw] = 0.0
    return m


# what amortised models (an encoder of z, a context encoder) are trained on: every test mask kind
# (each half side), plus random boxes, in equal shares
TRAINING_MIX = ("center", "pattern", "random80", "half", "strokes", "box")


def training_masks(n: int, size, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """(n, 1, H, W) masks, each of a kind drawn uniformly from ``TRAINING_MIX`` (halves from a
    random side), all randomness from ``generator``."""
    n = _check_n(n)
    kinds = torch.randint(len(TRAINING_MIX), (n,), generator=generator)
    sides = torch.randint(len(HALF_SIDES), (n,), generator=generator)
    out = _ones(n, *_hw(size))
    for k, kind in enumerate(TRAINING_MIX):
        idx = (kinds == k).nonzero().flatten()
        if not len(idx):
            continue
        if kind == "half":
            out[idx] = torch.cat([half(1, size, side=HALF_SIDES[int(s)]) for s in sides[idx]])
        elif kind == "box":
            out[idx] = random_box(len(idx), size, generator=generator)
        else:
            out[idx] = make_mask(kind, len(idx), size, generator=generator)
    return out
