"""Per-image metrics of a completion against its original (uint8 RGB truth and test, bool hole map, True = missing)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

PAPER_MASKS = ("center", "pattern", "random80", "half")
PSNR_CAP = 100.0  # dB; a per-image PSNR is capped here before averaging or writing JSON

# Yeh et al. 2017, Table 1 (CelebA, PSNR in dB; over the hole, see the module docstring)
PAPER_PSNR = {
    "Yeh et al. 2017 (paper)": {"center": 19.4, "pattern": 17.4, "random80": 22.8, "half": 13.7},
    "Context Encoder (paper)": {"center": 21.3, "pattern": 19.2, "random80": 20.6, "half": 15.5},
}

# ------------------------------------------------------------------------------------ metrics


def psnr_full(truth: np.ndarray, test: np.ndarray, hole: np.ndarray) -> float:
    """PSNR in dB over the whole image (all pixels and channels), data range 255; inf if identical."""
    with np.errstate(divide="ignore"):
        return float(peak_signal_noise_ratio(truth, test, data_range=255))


def psnr_hole(truth: np.ndarray, test: np.ndarray, hole: np.ndarray) -> float:
    """PSNR in dB over the hole's pixels (all channels) only, data range 255; inf if identical there."""
    with np.errstate(divide="ignore"):
        return float(peak_signal_noise_ratio(truth[hole], test[hole], data_range=255))


def ssim(truth: np.ndarray, test: np.ndarray, hole: np.ndarray) -> float:
    """SSIM of the whole image (scikit-image: 7x7 window, mean over the colour channels)."""
    return float(structural_similarity(truth, test, channel_axis=2, data_range=255))


def l1_hole(truth: np.ndarray, test: np.ndarray, hole: np.ndarray) -> float:
    """Mean absolute error over the hole's pixels and channels, as a fraction of 255 (0..1)."""
    return float(np.abs(truth[hole].astype(np.float64) - test[hole]).mean() / 255.0)


# fn(truth uint8 (H, W, 3), test uint8 (H, W, 3), hole bool (H, W), True = missing) -> float
METRICS: dict[str, Callable[[np.ndarray, np.ndarray, np.ndarray], float]] = {
    "psnr_hole": psnr_hole,
    "psnr_full": psnr_full,
    "ssim": ssim,
    "l1_hole": l1_hole,
}


def register_metric(name: str, fn: Callable[[np.ndarray, np.ndarray, np.ndarray], float]) -> None:
    """Add (or replace) the per-image metric ``name``: ``fn(truth, test, hole) -> float``, as
    ``METRICS``' (every ``ganfill evaluate`` row then has it, and every results table its mean)."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"a metric's name is a plain identifier, got {name!r}")
    METRICS[name] = fn


def capped(value: float) -> float:
    """A per-image metric as aggregated and written: PSNRs above ``PSNR_CAP`` (inf) become the cap."""
    return min(float(value), PSNR_CAP)
