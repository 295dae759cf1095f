"""Automated judges of realism: a frontal-face detector and classifier two-sample tests (detectability):
logistic regression on texture statistics, and a small CNN (``JUDGES``, ``register_judge``)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ganfill.core.errors import GanfillError
from ganfill.core.runtime import Runtime

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


# ------------------------------------------------------------------------------------ the CNN judge


def hole_box(holes: np.ndarray | None, size: tuple[int, int], *, margin: int) -> tuple[slice, slice]:
    """Rows and columns of the box around every hole of bool ``holes`` (N, H, W) together, grown
    by ``margin`` pixels and clamped to ``size`` (H, W): where every image is cropped, originals
    and completions alike.  None or no hole at all: the whole image."""
    h, w = size
    if holes is None or not holes.any():
        return slice(0, h), slice(0, w)
    rows, cols = np.flatnonzero(holes.any(axis=(0, 2))), np.flatnonzero(holes.any(axis=(0, 1)))
    return (
        slice(max(rows[0] - margin, 0), min(rows[-1] + 1 + margin, h)),
        slice(max(cols[0] - margin, 0), min(cols[-1] + 1 + margin, w)),
    )


def _critic(width: int, generator: torch.Generator) -> torch.nn.Sequential:
    """A small fully convolutional classifier of any input size (RGB and the hole map): three
    4x4 stride-2 convolutions to ``width``, 2 ``width`` and 4 ``width`` channels (batch norm
    after the last two, LeakyReLU 0.2), the global average and a linear layer to one logit;
    weights drawn from ``generator``."""
    w = width
    net = torch.nn.Sequential(
        torch.nn.Conv2d(4, w, 4, 2, 1),
        torch.nn.LeakyReLU(0.2),
        torch.nn.Conv2d(w, 2 * w, 4, 2, 1),
        torch.nn.BatchNorm2d(2 * w),
        torch.nn.LeakyReLU(0.2),
        torch.nn.Conv2d(2 * w, 4 * w, 4, 2, 1),
        torch.nn.BatchNorm2d(4 * w),
        torch.nn.LeakyReLU(0.2),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(4 * w, 1),
    )
    for layer in net:
        if isinstance(layer, (torch.nn.Conv2d, torch.nn.Linear)):
            torch.nn.init.kaiming_uniform_(layer.weight, a=0.2, generator=generator)
            torch.nn.init.zeros_(layer.bias)
    return net


def _train_critic(
    real: torch.Tensor,
    fake: torch.Tensor,
    *,
    width: int,
    steps: int,
    pairs: int,
    lr: float,
    generator: torch.Generator,
    runtime: Runtime,
) -> torch.nn.Sequential:
    """A critic trained to give originals ``real`` negative and their completions ``fake``
    (both (N, 4, h, w): RGB and the hole map in [-1, 1], on ``runtime``'s device) positive
    logits: ``steps`` of Adam at ``lr`` on the logistic loss, each on ``pairs`` images (epochs of
    a fresh random order, as many as it takes) with both the original and the completion of
    each, every picture flipped left-right at random; the network in ``runtime``'s precision,
    the loss in float32.  Returned in eval mode."""
    net = _critic(width, generator).to(runtime.device)
    amp = torch.autocast(runtime.device.type, runtime.dtype, enabled=runtime.dtype != torch.float32)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    n, pairs = len(real), min(pairs, len(real))
    x = torch.cat([real, fake])
    y = torch.cat([torch.zeros(pairs), torch.ones(pairs)]).to(runtime.device)
    epochs = -(-steps * pairs // n)
    order = torch.cat([torch.randperm(n, generator=generator) for _ in range(epochs)]).to(runtime.device)
    flips = (torch.rand(steps, 2 * pairs, generator=generator) < 0.5).to(runtime.device)
    for step in range(steps):
        idx = order[step * pairs : (step + 1) * pairs]
        idx = torch.cat([idx, idx + n])
        xb = torch.where(flips[step, :, None, None, None], x[idx].flip(-1), x[idx])
        with amp:
            logits = net(xb)[:, 0]
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return net.eval()


@contextmanager
def _torch_threads(threads: int):
    """torch's intra-op threads set to ``threads`` for the block, then put back."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def cnn_detectability(
    originals: np.ndarray,
    completed: np.ndarray,
    holes: np.ndarray | None = None,
    *,
    folds: int = 5,
    repeats: int = 1,
    width: int = 8,
    steps: int = 200,
    pairs: int = 16,
    lr: float = 2e-3,
    margin: int = 4,
    threads: int = 1,
    seed: int = 0,
    runtime: Runtime = Runtime(),
) -> float:
    """Held-out accuracy (0..1) of a small CNN trained to tell completed images from originals.

    originals[i] and completed[i] are the same image before and after repair, uint8
    (N, H, W, 3); ``holes`` bool (N, H, W), True = missing, or None.  Every picture is cropped
    to the box around all the holes grown by ``margin`` pixels (``hole_box``; the whole image
    without holes) and seen at its own resolution, with its hole map as a fourth channel (the
    judge knows where to look; originals and completions get the same map).  Each of
    ``repeats`` rounds splits the N images at random into ``folds`` folds; for each fold a
    fresh ``_critic`` of ``width`` is trained (``_train_critic``: ``steps`` of ``pairs``
    pairs, ``lr``) on the original and the completion of every image of the other folds, then
    predicts the original and the completion of each held-out image, each picture on its own.  An image's two pictures are
    always on the same side of a split.  The result is the fraction of correct predictions
    over all rounds: 0.5 = indistinguishable, 1.0 = obviously repaired.  Needs N >= 2 * folds
    (else nan).  The network runs on ``runtime`` with torch at ``threads`` intra-op threads
    (put back afterwards).  Deterministic for a given ``seed``, runtime and thread count.  The
    defaults were chosen on held-out faces (the README's "Two realism judges",
    ``benchmarks/cnn_judge.py``).
    """
    from sklearn.model_selection import KFold

    from ganfill.core.images import to_tensor

    n = len(originals)
    if completed.shape != originals.shape:
        raise GanfillError(
            f"the CNN judge needs completions shaped like the originals, got {completed.shape} and {originals.shape}"
        )
    if holes is not None and holes.shape != originals.shape[:3]:
        raise GanfillError(f"the CNN judge needs one hole map per image, bool {originals.shape[:3]}, got {holes.shape}")
    if n < 2 * folds:
        return float("nan")
    rows, cols = hole_box(holes, originals.shape[1:3], margin=margin)
    hole = holes[:, rows, cols] if holes is not None else np.zeros((n, *originals.shape[1:3]), bool)
    where = torch.from_numpy(np.ascontiguousarray(hole)).float()[:, None] * 2 - 1  # (N, 1, h, w): 1 missing, -1 known
    real = torch.cat([to_tensor(originals[:, rows, cols]), where], 1).to(runtime.device)
    fake = torch.cat([to_tensor(completed[:, rows, cols]), where], 1).to(runtime.device)
    rng = np.random.default_rng(seed)
    generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
    correct = 0
    with _torch_threads(threads):
        for _ in range(repeats):
            split = KFold(n_splits=folds, shuffle=True, random_state=int(rng.integers(2**31)))
            for train, test in split.split(np.arange(n)):
                net = _train_critic(
                    real[train], fake[train], width=width, steps=steps, pairs=pairs, lr=lr, generator=generator, runtime=runtime
                )
                with torch.no_grad():
                    correct += int((net(real[test])[:, 0] <= 0).sum()) + int((net(fake[test])[:, 0] > 0).sum())
    return correct / (repeats * 2 * n)


# ------------------------------------------------------------------------------------ the registry of judges


def texture_detectability(
    originals: np.ndarray, completed: np.ndarray, holes: np.ndarray | None = None, *, seed: int = 0, runtime: Runtime = Runtime()
) -> float:
    """``detectability`` as a judge: texture statistics of the whole image (it needs no holes nor runtime)."""
    return detectability(originals, completed, seed=seed)


# fn(originals uint8 (N, H, W, 3), completed uint8 (N, H, W, 3), holes bool (N, H, W) or None, *, seed, runtime)
# -> held-out accuracy 0..1 (0.5 = cannot be told apart) or nan (too few images)
JUDGES: dict[str, Callable[..., float]] = {"texture": texture_detectability, "cnn": cnn_detectability}


def register_judge(name: str, fn: Callable[..., float]) -> None:
    """Add (or replace) the realism judge ``name``: ``fn(originals, completed, holes, *, seed,
    runtime) -> float``, the held-out accuracy of telling completions from originals (every
    ``ganfill evaluate`` result then has ``detectability_<name>``, every table its column)."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"a judge's name is a plain identifier, got {name!r}")
    JUDGES[name] = fn
