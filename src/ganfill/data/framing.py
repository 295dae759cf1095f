"""Framing: where a model's square sits in a photo, and the warps into it and back.

A ``Frame`` is an affine map (2x3, ``cv2.warpAffine``'s convention) from photo pixels to the
pixels of an R x R square.  These make one:

* ``data.faces.face_frames``: a face model's square, put on each face a hole touches by its landmarks
  (``data.faces``): a similarity transform onto the template the training faces were aligned
  to, refined by the face aligner (``data.align``);
* ``fit_frame``: a box twice the hole's size around it (any other model);
* ``box_frame``: a box given by hand (``--frame X,Y,SIZE``; ``Frame.box`` goes back);
* ``domain_frame``: the box a model's training images were cropped to (``data.domain``), to
  show where the model's square sits when an image is brought into it whole;
* ``recentred``: a face model's square moved to another face model's (another crop of the same
  aligned faces, another resolution);
* ``moved``: a square shifted, scaled and turned about its centre (``SPREAD``: the likely
  errors of a face's square found in a photo, over which ``apps.fill`` averages a fill).

Into the square, the photo is first shrunk with an area filter (no aliasing) and then warped;
back, the square is warped bicubically onto the photo.  Pixels of the square outside the photo
count as missing.  Every warp leaves the photo's known pixels alone: the fill only ever goes
into the hole.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ganfill.core.checks import number
from ganfill.core.errors import GanfillError
from ganfill.data.domain import Domain, domain_box


@dataclass(frozen=True)
class Frame:
    """The model's R x R square in a photo: ``matrix`` (2, 3) maps photo (x, y) to square (x, y).

    kind: how it was found (``face``, ``fit``, ``frame``), for records.
    """

    matrix: np.ndarray
    resolution: int
    kind: str = "frame"

    @property
    def scale(self) -> float:
        """Square pixels per photo pixel."""
        return float(np.sqrt(abs(np.linalg.det(self.matrix[:, :2]))))

    def corners(self) -> np.ndarray:
        """The square's corners in the photo (4, 2): top-left, top-right, bottom-right, bottom-left."""
        r = self.resolution
        inverse = cv2.invertAffineTransform(self.matrix)
        square = np.array([[0, 0], [r, 0], [r, r], [0, r]], np.float64)
        return square @ inverse[:, :2].T + inverse[:, 2]

    def box(self) -> tuple[float, float, float]:
        """(x, y, side): the axis-aligned square box of the photo with this square's centre and
        side (``box_frame``'s arguments; the frame itself when it is not turned)."""
        c = self.corners()
        side = float(np.mean([np.hypot(*(c[1] - c[0])), np.hypot(*(c[3] - c[0]))]))
        cx, cy = c.mean(0)
        return float(cx - side / 2), float(cy - side / 2), side

    def footprint(self, height: int, width: int) -> tuple[int, int, int, int]:
        """The photo box (x0, y0, x1, y1) that the square covers, clipped to the photo."""
        c = self.corners()
        x0, y0 = np.floor(c.min(0)).astype(int) - 2
        x1, y1 = np.ceil(c.max(0)).astype(int) + 2
        return max(0, x0), max(0, y0), min(width, x1), min(height, y1)

    def to_square(self, image: np.ndarray) -> np.ndarray:
        """uint8 or float (H, W[, C]) -> the same in the square (R, R[, C]), antialiased; outside
        the photo: 0."""
        m, shrink = self.matrix, min(1.0, self.scale)
        if shrink < 0.999:  # area-filter down to about the square's scale first, then warp the rest
            h, w = image.shape[:2]
            size = (max(1, round(w * shrink)), max(1, round(h * shrink)))
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            sx, sy = size[0] / w, size[1] / h
            m = m @ np.array([[1 / sx, 0, 0], [0, 1 / sy, 0], [0, 0, 1]])
        r = self.resolution
        return cv2.warpAffine(image, m, (r, r), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)

    def known_in_square(self, hole: np.ndarray) -> np.ndarray:
        """bool (R, R): square pixels that come from the photo and from none of its ``hole``
        (bool (H, W)) pixels."""
        h, w = hole.shape
        inside = self.to_square(np.ones((h, w), np.float32)) > 0.999
        missing = self.to_square(hole.astype(np.float32)) > 1e-3
        return inside & ~missing

    def from_square(self, square: np.ndarray, height: int, width: int) -> np.ndarray:
        """The square's pixels (R, R[, C]) warped back onto a (height, width) photo (bicubic)."""
        flags = cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP
        return cv2.warpAffine(square, self.matrix, (width, height), flags=flags, borderMode=cv2.BORDER_REPLICATE)

    def covers(self, height: int, width: int) -> np.ndarray:
        """bool (height, width): photo pixels inside the square (a pixel's margin in)."""
        r = self.resolution
        inner = np.zeros((r, r), np.uint8)
        inner[1:-1, 1:-1] = 1
        return self.from_square(inner, height, width) > 0

    def to_dict(self) -> dict:
        return {"kind": self.kind, "matrix": np.round(self.matrix, 6).tolist(), "resolution": self.resolution}


def box_frame(left: float, top: float, side: float, resolution: int, *, kind: str = "frame") -> Frame:
    """The axis-aligned square box (left, top, side) of a photo as the model's square: finite
    numbers, the side greater than 0."""
    left, top = (number(v, f"the frame's {name}", lambda v: True, "in pixels") for v, name in ((left, "x"), (top, "y")))
    side = number(side, "a frame's size", lambda v: v > 0, "greater than 0 (a positive size)")
    s = resolution / side
    return Frame(np.array([[s, 0.0, -left * s], [0.0, s, -top * s]]), resolution, kind)


def domain_frame(domain: Domain, height: int, width: int, resolution: int) -> Frame:
    """Where ``domain``'s crop (``data.domain.domain_box``) puts the model's square on a (height,
    width) image: the box the training images were cut to, resized to the square (not square
    for the crop ``none`` of a non-square image)."""
    left, top, right, bottom = domain_box(width, height, crop=domain.crop)
    sx, sy = resolution / (right - left), resolution / (bottom - top)
    return Frame(np.array([[sx, 0.0, -left * sx], [0.0, sy, -top * sy]]), resolution, "domain")


def parse_frame(spec: str, resolution: int) -> Frame:
    """``X,Y,SIZE`` (the top-left corner and side of a square box, photo pixels) -> a Frame."""
    try:
        x, y, side = (float(v) for v in spec.split(","))
    except ValueError:
        raise GanfillError(f"--frame takes X,Y,SIZE (the square's top-left corner and side in pixels), got {spec!r}") from None
    return box_frame(x, y, side, resolution)


def fit_frame(hole: np.ndarray, resolution: int, *, context: float = 2.0) -> Frame:
    """A square ``context`` times the side of the hole's bounding box, around it, at least
    ``resolution`` pixels (context is never upsampled), kept inside the photo where it fits."""
    ys, xs = np.nonzero(hole)
    h, w = hole.shape
    side = max(np.ptp(ys) + 1, np.ptp(xs) + 1)
    side = int(min(max(resolution, round(side * context)), max(h, w)))
    cy, cx = (ys.min() + ys.max() + 1) / 2, (xs.min() + xs.max() + 1) / 2
    top, left = int(round(cy - side / 2)), int(round(cx - side / 2))
    top = min(max(top, 0), max(h - side, 0)) if side <= h else (h - side) // 2
    left = min(max(left, 0), max(w - side, 0)) if side <= w else (w - side) // 2
    return box_frame(left, top, side, resolution, kind="fit")


def recentred(frame: Frame, crop: int, to_crop: int, to_resolution: int) -> Frame:
    """``frame``, the square of a model trained on the centred ``crop`` x ``crop`` box of aligned
    images, moved to the square of one trained on the centred ``to_crop`` box of the same aligned
    images at ``to_resolution`` (e.g. faces64's square, center:108 at 64, to faces128's,
    center:128 at 128): the same face in the same place, with more or less around it."""
    k = (crop / frame.resolution) * (to_resolution / to_crop)  # square pixels -> aligned-frame pixels -> new square
    shift = (to_crop - crop) / 2 * to_resolution / to_crop
    a = np.array([[k, 0.0, shift], [0.0, k, shift], [0.0, 0.0, 1.0]])
    return Frame((a @ np.vstack([frame.matrix, [0.0, 0.0, 1.0]]))[:2], to_resolution, frame.kind)


# A face's square found in a photo is a pixel or two and a few per cent off the one the model was
# trained on (benchmarks/aligner-calibration.json), and a faithful fill is sensitive to it.  The
# moves (shift across, shift down, as fractions of the square's side; scale - 1; turn in degrees)
# whose fills ``apps.fill`` averages with the found square's; measured against wider and turned
# sets in benchmarks/frame-spread.json (benchmarks/frame_spread.py).
SPREAD = (
    (0.0, 0.0, 0.03, 0.0),
    (0.0, 0.0, -0.03, 0.0),
    (0.01, 0.0, 0.0, 0.0),
    (-0.01, 0.0, 0.0, 0.0),
    (0.0, 0.01, 0.0, 0.0),
    (0.0, -0.01, 0.0, 0.0),
)


def moved(frame: Frame, across: float, down: float, scale: float, turn: float) -> Frame:
    """``frame``'s square shifted by (``across``, ``down``) of its side, scaled by 1 + ``scale``
    and turned by ``turn`` degrees about its centre (what the square shows moves the other way)."""
    r = frame.resolution
    c = (r - 1) / 2  # the square's centre (pixel centres at integers, as cv2)
    a, s = np.deg2rad(turn), 1.0 + scale
    about = np.array([[s * np.cos(a), -s * np.sin(a), 0.0], [s * np.sin(a), s * np.cos(a), 0.0], [0.0, 0.0, 1.0]])
    to_centre = np.array([[1.0, 0.0, -c], [0.0, 1.0, -c], [0.0, 0.0, 1.0]])
    back = np.array([[1.0, 0.0, c + across * r], [0.0, 1.0, c + down * r], [0.0, 0.0, 1.0]])
    return Frame((back @ about @ to_centre @ np.vstack([frame.matrix, [0.0, 0.0, 1.0]]))[:2], r, frame.kind)


def square_to_square(frame: Frame, other: Frame) -> np.ndarray:
    """2x3: ``frame``'s square pixels -> ``other``'s (two squares on one photo)."""
    return (np.vstack([other.matrix, [0.0, 0.0, 1.0]]) @ np.linalg.inv(np.vstack([frame.matrix, [0.0, 0.0, 1.0]])))[:2]


def crop_box(array: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """Cut ``box`` (left, top, right, bottom) out of (H, W[, C]); parts outside the image repeat
    the edge pixels."""
    left, top, right, bottom = box
    h, w = array.shape[:2]
    ys = np.clip(np.arange(top, bottom), 0, h - 1)
    xs = np.clip(np.arange(left, right), 0, w - 1)
    return array[ys][:, xs]
