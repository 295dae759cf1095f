"""A face's frame refined by a small CNN that sees past the hole.

dlib's landmarks under a hole are guesses (Telea's fill is no face), so the similarity transform
fitted to them puts the photo into the model's square a few pixels, degrees and per cent off.
The aligner looks at the photo in the estimated frame (the CelebA-aligned centre 108 box at
``SIZE`` px, the hole's pixels 0 and a channel that says which are known: 1 = known) and
regresses the similarity that takes that square onto the true one; twice, coarse to fine.  It
also says whether a face is there at all (a logit), which guards a face found on a rough box.
A second network of the same shape, trained only on the small errors the coarse passes leave
(the *fine* aligner), then refines the frame twice more, each correction averaged with the one
for the mirrored square.  Where no detector finds a face, ``search_frame`` looks for one with the
aligner alone, in squares around the hole.

Trained by ``benchmarks/train_aligner.py`` on ``celeba128/train`` (jittered aligned faces,
random holes); its weights ship as ``assets/face_aligner.safetensors`` (fp16,
``data.faces.ALIGNER_FILE``), the fine one's as ``assets/face_aligner_fine.safetensors``
(``data.faces.FINE_ALIGNER_FILE``, ``train_aligner.py --stage fine``).

A *canonical frame* is a 2x3 affine map (``cv2.warpAffine``'s) from photo pixels to the
aligner's square: the centre 108 x 108 box of CelebA's 178 x 218 aligned frame at ``SIZE`` px.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from ganfill.core.errors import GanfillError

SIZE = 64  # the aligner's square (px)
CROP = 108  # ... is this centre box of the 178 x 218 aligned frame
ALIGNED = (178, 218)


def build_aligner(*, width: int = 16) -> nn.Module:
    """The aligner: (N, 4, SIZE, SIZE) -> (N, 5): the similarity's (a - 1, b, tx, ty) in the
    square's coordinates scaled to [-1, 1], and the face logit."""
    w = width

    def block(cin, cout, stride):
        return [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

    return nn.Sequential(
        *block(4, w, 2),  # 32
        *block(w, 2 * w, 2),  # 16
        *block(2 * w, 2 * w, 1),
        *block(2 * w, 4 * w, 2),  # 8
        *block(4 * w, 4 * w, 1),
        *block(4 * w, 8 * w, 2),  # 4
        nn.Flatten(),
        nn.Linear(8 * w * (SIZE // 16) ** 2, 8 * w),
        nn.ReLU(inplace=True),
        nn.Linear(8 * w, 5),
    )


def load_aligner(path: str | Path) -> nn.Module:
    """The aligner saved at ``path`` (``save_aligner``'s), float32, eval mode."""
    from safetensors.torch import load_file

    try:
        state = load_file(str(path))
    except (OSError, ValueError) as e:
        raise GanfillError(f"cannot read the face aligner {path}: {e}") from None
    width = int(state["0.weight"].shape[0])
    model = build_aligner(width=width)
    model.load_state_dict({k: v.float() for k, v in state.items()})
    return model.eval()


def save_aligner(model: nn.Module, path: str | Path) -> None:
    """Write ``model``'s weights as fp16 safetensors."""
    from safetensors.torch import save_file

    save_file({k: v.detach().half().contiguous() for k, v in model.state_dict().items() if v.dtype.is_floating_point}, str(path))


def _normalise() -> np.ndarray:
    """3x3: square pixels -> [-1, 1]."""
    h = SIZE / 2
    return np.array([[1 / h, 0, -1.0], [0, 1 / h, -1.0], [0, 0, 1]])


def prediction_matrix(p: np.ndarray) -> np.ndarray:
    """(..., 4) predicted parameters -> (..., 3, 3) maps of the estimated square's pixels onto
    the true square's."""
    p = np.asarray(p, np.float64)
    m = np.zeros(p.shape[:-1] + (3, 3))
    m[..., 0, 0] = m[..., 1, 1] = 1 + p[..., 0]
    m[..., 0, 1], m[..., 1, 0] = -p[..., 1], p[..., 1]
    m[..., 0, 2], m[..., 1, 2] = p[..., 2], p[..., 3]
    m[..., 2, 2] = 1
    n = _normalise()
    return np.linalg.inv(n) @ m @ n


def canonical_to_model(crop: int, resolution: int) -> np.ndarray:
    """3x3: the aligner's square -> a face model's square (the centre ``crop`` box of the
    aligned frame at ``resolution`` px)."""
    s = CROP / SIZE  # aligner px -> aligned frame px
    to_aligned = np.array([[s, 0, (ALIGNED[0] - CROP) / 2], [0, s, (ALIGNED[1] - CROP) / 2], [0, 0, 1]])
    t = resolution / crop
    to_model = np.array([[t, 0, -(ALIGNED[0] - crop) / 2 * t], [0, t, -(ALIGNED[1] - crop) / 2 * t], [0, 0, 1]])
    return to_model @ to_aligned


def aligner_input(image: np.ndarray, hole: np.ndarray | None, frame: np.ndarray) -> np.ndarray:
    """float32 (4, SIZE, SIZE): uint8 ``image`` (H, W, 3) in canonical ``frame`` (2x3), in
    [-1, 1] with its hole (bool (H, W)) and the pixels outside the photo 0, and the known map."""
    from ganfill.data.framing import Frame

    f = Frame(np.asarray(frame, np.float64), SIZE)
    hole = np.zeros(image.shape[:2], bool) if hole is None else hole
    known = f.known_in_square(hole)
    x = f.to_square(image).astype(np.float32) / 127.5 - 1
    x[~known] = 0
    return np.concatenate([x.transpose(2, 0, 1), known[None].astype(np.float32)])


def _predict(aligner: nn.Module, image: np.ndarray, hole: np.ndarray | None, frames: list, *, flip: bool = False):
    """The aligner's corrections (3x3 maps of each square's pixels onto the true square's) and
    face logits for canonical ``frames`` (3x3 each); with ``flip``, each correction the mean of
    the one for the square and the mirrored one for its mirror image."""
    x = torch.from_numpy(np.stack([aligner_input(image, hole, m[:2]) for m in frames]))
    if flip:
        x = torch.cat([x, x.flip(-1)])
    with torch.no_grad():
        out = aligner(x).double().numpy()
    n = len(frames)
    corrections = prediction_matrix(out[:n, :4])
    if flip:
        mirror = np.array([[-1.0, 0, SIZE - 1], [0, 1, 0], [0, 0, 1]])  # the square's pixels mirrored (cv2's)
        corrections = (corrections + mirror @ prediction_matrix(out[n:, :4]) @ mirror) / 2
    return corrections, out[:n, 4]


def refine_frame(
    aligner: nn.Module,
    image: np.ndarray,
    hole: np.ndarray | None,
    frame: np.ndarray,
    *,
    steps: int = 2,
    fine: nn.Module | None = None,
    fine_steps: int = 2,
    flip: bool = True,
) -> tuple[np.ndarray, float]:
    """Canonical ``frame`` (2x3) of the face in uint8 ``image`` (H, W, 3) refined ``steps``
    times by ``aligner``, then ``fine_steps`` times by the ``fine`` aligner (trained on the small
    errors the coarse passes leave; each of its corrections averaged with the mirrored square's
    when ``flip``); and the face probability ``aligner`` gives at the coarse passes' frame."""
    m = np.vstack([np.asarray(frame, np.float64), [0, 0, 1]])
    logit = 0.0
    for step in range(steps + 1):
        correction, logits = _predict(aligner, image, hole, [m])
        logit = float(logits[0])
        if step < steps:
            m = correction[0] @ m
    for _ in range(fine_steps if fine is not None else 0):
        m = _predict(fine, image, hole, [m], flip=flip)[0][0] @ m
    return m[:2], float(1 / (1 + np.exp(-logit)))


def candidate_frames(
    hole: np.ndarray, *, sizes: tuple[float, ...] = (1.2, 1.5, 1.9, 2.4, 3.0), shifts: tuple[float, ...] = (-0.25, 0.0, 0.25)
) -> list[np.ndarray]:
    """Canonical frames (3x3) of upright squares around ``hole`` (bool (H, W)): ``sizes`` times
    the side of its bounding box, centred on its centre shifted by ``shifts`` of the square's side
    across and down (a face's square holds its hole)."""
    ys, xs = np.nonzero(hole)
    side = max(np.ptp(ys) + 1, np.ptp(xs) + 1)
    cx, cy = (xs.min() + xs.max() + 1) / 2, (ys.min() + ys.max() + 1) / 2
    frames = []
    for k in sizes:
        s = SIZE / (side * k)
        for dy in shifts:
            for dx in shifts:
                x0, y0 = cx + (dx - 0.5) * side * k, cy + (dy - 0.5) * side * k
                frames.append(np.array([[s, 0, -x0 * s], [0, s, -y0 * s], [0, 0, 1.0]]))
    return frames


def search_frame(
    aligner: nn.Module, image: np.ndarray, hole: np.ndarray, *, steps: int = 2, min_score: float = 0.98, top: int = 8
) -> tuple[np.ndarray, float] | None:
    """A face's canonical frame (2x3) near ``hole`` found without a detector: every square of
    ``candidate_frames`` refined ``steps`` times by ``aligner``; of those that still hold the
    hole's centre and that it calls a face with probability ``min_score`` or more, the ``top``
    likeliest vote: the one nearest the others (their corners' median distance) wins.  Its frame
    and face probability; None when no square is a face."""
    frames = candidate_frames(hole)
    for step in range(steps + 1):
        corrections, logits = _predict(aligner, image, hole, frames)
        if step < steps:
            frames = list(corrections @ np.stack(frames))
    ys, xs = np.nonzero(hole)
    centre = np.array([(xs.min() + xs.max()) / 2, (ys.min() + ys.max()) / 2, 1.0])
    min_logit = np.log(min_score / (1 - min_score))
    ok = [
        i
        for i, m in enumerate(frames)
        if logits[i] >= min_logit and (0 <= m[:2] @ centre).all() and (m[:2] @ centre < SIZE).all()
    ]
    if not ok:
        return None
    ok = sorted(ok, key=lambda i: -logits[i])[:top]
    square = np.array([[0, 0, 1], [SIZE, 0, 1], [SIZE, SIZE, 1], [0, SIZE, 1]], np.float64).T
    corners = np.stack([np.linalg.inv(frames[i])[:2] @ square for i in ok])  # (k, 2, 4) in the photo
    scale = np.sqrt(abs(np.linalg.det(frames[ok[0]][:2, :2])))  # square px per photo px
    dist = np.linalg.norm(corners[:, None] - corners[None], axis=2).mean(-1) * scale
    best = ok[int(np.argmin(np.median(dist, axis=1)))]
    return frames[best][:2], float(1 / (1 + np.exp(-logits[best])))
