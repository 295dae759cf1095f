"""Automated judges of realism: a frontal-face detector and a classifier two-sample test (detectability)."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ganfill.core.errors import GanfillError

# ------------------------------------------------------------------------------------ face detector


def detect_faces(
    image: np.ndarray, *, min_size: int, max_size: tuple[int, int], scale_factor: float = 1.1, min_neighbours: int = 2
) -> list[dict]:
    """Faces in one uint8 (H, W, 3) image: OpenCV's LBP frontal-face cascade as scikit-image
    bundles and runs it; each hit is a dict with ``r``, ``c`` (top-left), ``width``, ``height``.
    Windows from ``min_size`` up to ``max_size`` (width, height), ``scale_factor`` between
    scales; a face needs ``min_neighbours`` overlapping detections."""
    from skimage.data import lbp_frontal_face_cascade_filename
    from skimage.feature import Cascade

    return Cascade(lbp_frontal_face_cascade_filename()).detect_multi_scale(
        image,
        scale_factor=scale_factor,
        step_ratio=1,
        min_size=(min_size, min_size),
        max_size=max_size,
        min_neighbor_number=min_neighbours,
    )


def faces_found(
    images: np.ndarray,
    *,
    size: int = 128,
    pad: float = 0.25,
    scale_factor: float = 1.1,
    min_face: float = 0.4,
    min_neighbours: int = 2,
) -> np.ndarray:
    """Whether a frontal-face detector finds at least one face, per uint8 image (N, H, W, 3) -> bool (N,).

    The detector is OpenCV's LBP frontal-face cascade, bundled and run by scikit-image.  Each
    image is resized to ``size`` x ``size`` (bicubic) and padded by ``pad * size`` on every side
    with its edge pixels; windows from ``min_face * size`` up to the padded size are searched
    with ``scale_factor`` between scales, and a face needs ``min_neighbours`` overlapping
    detections.  The defaults find a face in ~95% of held-out CelebA 64x64 faces and in none
    of random-noise or flat images.
    """
    from PIL import Image

    p = int(round(pad * size))
    full = size + 2 * p
    found = np.zeros(len(images), dtype=bool)
    for i, image in enumerate(images):
        big = np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.BICUBIC))
        big = np.pad(big, ((p, p), (p, p), (0, 0)), mode="edge")
        hits = detect_faces(
            big, min_size=int(min_face * size), max_size=(full, full), scale_factor=scale_factor, min_neighbours=min_neighbours
        )
        found[i] = len(hits) > 0
    return found


# ------------------------------------------------------------------------------------ detectability

_LEVEL_EDGES = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, np.inf)  # grey levels


def _cell_means(maps: np.ndarray, cells: int) -> np.ndarray:
    """(N, h, w) -> (N, cells*cells): the mean of each cell of a cells x cells grid."""
    _, h, w = maps.shape
    ys, xs = np.linspace(0, h, cells + 1).astype(int), np.linspace(0, w, cells + 1).astype(int)
    return np.stack(
        [maps[:, ys[i] : ys[i + 1], xs[j] : xs[j + 1]].mean(axis=(1, 2)) for i in range(cells) for j in range(cells)], axis=1
    )


def realism_features(images: np.ndarray, *, cells: int = 4) -> np.ndarray:
    """Local-texture features of uint8 images (N, H, W, 3) -> float64 (N, 18 + 3*cells^2).

    g: colour gradient magnitude (forward differences, grey levels); l: |Laplacian| of the grey
    image.  Features: the fraction of pixels of g and of l in each bin of ``_LEVEL_EDGES``
    (0, 0.5, 1, 2, ..., 64, inf levels), then per grid cell the mean of log(1 + g), the mean
    of log(1 + l) and the fraction of pixels with g = 0.  An empty or flat-filled hole shows
    as flat pixels and missing texture; blurry fills as missing high frequencies.
    """
    x = images.astype(np.float32)
    dx = np.diff(x, axis=2)[:, :-1]  # (N, H-1, W-1, 3)
    dy = np.diff(x, axis=1)[:, :, :-1]
    g = np.sqrt((dx * dx + dy * dy).sum(axis=-1))  # (N, H-1, W-1)
    grey = x.mean(axis=-1)
    l = np.abs(
        4 * grey[:, 1:-1, 1:-1] - grey[:, :-2, 1:-1] - grey[:, 2:, 1:-1] - grey[:, 1:-1, :-2] - grey[:, 1:-1, 2:]
    )  # (N, H-2, W-2)
    hist = [((m >= lo) & (m < hi)).mean(axis=(1, 2)) for m in (g, l) for lo, hi in zip(_LEVEL_EDGES[:-1], _LEVEL_EDGES[1:])]
    local = [_cell_means(np.log1p(g), cells), _cell_means(np.log1p(l), cells), _cell_means((g < 0.5).astype(np.float32), cells)]
    return np.concatenate([np.stack(hist, axis=1)] + local, axis=1).astype(np.float64)


def detectability(
    originals: np.ndarray, completed: np.ndarray, *, folds: int = 5, repeats: int = 5, l2: float = 1.0, seed: int = 0
) -> float:
    """Held-out accuracy (0..1) of a classifier telling completed images from originals.

    originals[i] and completed[i] are the same image before and after repair, uint8
    (N, H, W, 3).  Each of ``repeats`` rounds splits the N images at random into two disjoint
    halves: one half gives its originals (label 0), the other its completions (label 1; the
    halves swap roles every other round), and stratified ``folds``-fold cross-validation
    predicts every one of them with scikit-learn's L2 logistic regression (strength ``l2``,
    C = 1/l2) on features standardised with the training folds' statistics.  The result is the fraction of correct
    predictions over all rounds: 0.5 = indistinguishable, 1.0 = obviously repaired.  Needs
    N >= 2 * folds (else nan).  Deterministic for a given ``seed``.
    """
    n = len(originals)
    if len(completed) != n:
        raise GanfillError(f"detectability needs as many completions as originals, got {len(completed)} and {n}")
    half = n // 2
    if half < folds:
        return float("nan")
    f_orig, f_comp = realism_features(originals), realism_features(completed)
    rng = np.random.default_rng(seed)
    y = np.concatenate([np.zeros(half), np.ones(half)])
    judge = make_pipeline(StandardScaler(), LogisticRegression(C=1.0 / l2, max_iter=1000))
    correct = 0
    for r in range(repeats):
        perm = rng.permutation(n)
        a, b = perm[:half], perm[half : 2 * half]
        if r % 2:
            a, b = b, a
        X = np.concatenate([f_orig[a], f_comp[b]])  # (2*half, F): originals of one half, completions of the other
        folds_r = StratifiedKFold(n_splits=folds, shuffle=True, random_state=int(rng.integers(2**31)))
        correct += int((cross_val_predict(judge, X, y, cv=folds_r) == y).sum())
    return correct / (repeats * 2 * half)
