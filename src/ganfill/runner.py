"""One way to complete a batch of uint8 images in each mode, used by every front end.

``ganfill inpaint`` (``fill``), ``ganfill evaluate``, ``ganfill demo``, the web page and the
Python API all call these: uint8 RGB images in the model's square and boolean known-pixel maps
in, the fill on the model's runtime, then the blends the caller asks for, uint8 out.

``MODES``, named by what they give the user:

* ``sharp`` (``complete_images``): the latent search (``inpaint.complete``): one realistic
  completion that agrees with the context, the paper's method.
* ``faithful`` (``faithful_images``): the closest to what was there: the search's sample with
  the coarse structure of a context encoder's prediction (``inpaint.faithful_fill``); needs
  the GAN and a context encoder trained on the same images.
* ``fast`` (``predict_images``): the context encoder alone, one forward pass (Pathak et al.).

The seeding rule: the starting z of an image is drawn from a generator seeded by ``seed`` and
the image's *known content* (its known pixels and the mask itself, ``latent_seed``), never by
its file name, its index or its batch.  So the same image, mask and seed give the same
completion from every front end, and the hole's old content (a grey fill, the original
pixels) does not matter.  Images of one batch do not influence each other (eval-mode
networks, per-image loss sums, element-wise Adam), except through early stopping
(``CompleteConfig.patience``), which stops a whole batch at once.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from ganfill.blend import BLENDS, blend
from ganfill.errors import GanfillError
from ganfill.images import to_tensor, to_uint8
from ganfill.inpaint import CompleteConfig, Result, complete, faithful_fill
from ganfill.prior import OnePass, Prior


MODES = ("sharp", "faithful", "fast")


def latent_seed(seed: int, image: np.ndarray, known: np.ndarray) -> int:
    """A 63-bit seed from ``seed``, the known pixels of uint8 ``image`` (R, R, 3) and the bool
    ``known`` map (R, R): the hole's content is zeroed first, so it never changes the seed."""
    assert image.dtype == np.uint8 and image.shape[:2] == known.shape, (image.dtype, image.shape, known.shape)
    digest = hashlib.blake2b(digest_size=8)
    digest.update(int(seed).to_bytes(8, "little", signed=True))
    digest.update(np.ascontiguousarray(np.where(known[..., None], image, 0)).tobytes())
    digest.update(np.packbits(known).tobytes())
    return int.from_bytes(digest.digest(), "little") >> 1


def initial_z(prior: Prior, images: np.ndarray, known: np.ndarray, *, restarts: int, seed: int) -> torch.Tensor:
    """(N, restarts, z_dim): each image's starting latents, drawn by the seeding rule above."""
    return torch.stack([prior.sample_z(restarts, generator=torch.Generator().manual_seed(latent_seed(seed, x, k)))
                        for x, k in zip(images, known)])


@dataclass
class Completion:
    """What ``complete_images`` returns.

    fake: uint8 (N, R, R, 3), what was blended into the hole: the best fake G(z^) of each image
        (sharp mode), the context encoder's prediction (fast), their combination (faithful).
    completed: blend method -> uint8 (N, R, R, 3), the fill blended into the hole (known pixels
        exact).  result: the search's ``inpaint.Result`` (z^, loss curves, frames), None in
        the fast mode (no search).
    search_seconds: wall time of the search (or of the network); blend_seconds: per blend method.
    """

    fake: np.ndarray
    completed: dict[str, np.ndarray]
    result: Result | None
    search_seconds: float
    blend_seconds: dict[str, float] = field(default_factory=dict)


def _tensors(images: np.ndarray, known: np.ndarray, *, resolution: int, channels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Checked uint8 images (N, R, R, C) and bool known maps (N, R, R) -> x (N, C, R, R) in [-1, 1], m (N, 1, R, R)."""
    r = resolution
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != (r, r, channels):
        raise GanfillError(f"images must be uint8 (N, {r}, {r}, {channels}) for this model, got {images.dtype} {images.shape}")
    if known.shape != images.shape[:3] or known.dtype != bool:
        raise GanfillError(f"known must be bool (N, {r}, {r}) like the images, got {known.dtype} {known.shape}")
    return to_tensor(images), torch.from_numpy(np.ascontiguousarray(known)).float()[:, None]


def _check_blends(blends: tuple[str, ...]) -> None:
    unknown = [b for b in blends if b not in BLENDS]
    if unknown or not blends:
        raise GanfillError(f"unknown blend {unknown[0] if unknown else '(none)'}: choose from {', '.join(BLENDS)}")


def blend_fill(fill: torch.Tensor, images: np.ndarray, known: np.ndarray, *, blends: tuple[str, ...]) -> tuple[dict, dict]:
    """A fill (N, C, R, R) float in [-1, 1] blended into uint8 ``images`` (N, R, R, 3) whose bool
    ``known`` maps are True on known pixels: ({blend: uint8 (N, R, R, 3)}, {blend: seconds})."""
    _check_blends(blends)
    x, m = _tensors(images, known, resolution=images.shape[1], channels=images.shape[3])
    return _blended(fill.cpu(), x, m, blends)


def _blended(fill: torch.Tensor, x: torch.Tensor, m: torch.Tensor, blends: tuple[str, ...]) -> tuple[dict, dict]:
    completed, seconds = {}, {}
    for method in dict.fromkeys(blends):
        t0 = time.perf_counter()
        completed[method] = to_uint8(blend(fill, x, m, method=method))
        seconds[method] = time.perf_counter() - t0
    return completed, seconds


def _search(prior: Prior, images: np.ndarray, known: np.ndarray, x: torch.Tensor, m: torch.Tensor, *,
            config: CompleteConfig, seed: int, callback) -> tuple[Result, float]:
    config = config.resolved(prior)  # the number of restarts this model's start gets
    z0 = initial_z(prior, images, known, restarts=config.restarts, seed=seed)  # (N, restarts, z_dim)
    t0 = time.perf_counter()
    result = complete(prior, x, m, config=config, z_init=z0, callback=callback)
    return result, time.perf_counter() - t0


def complete_images(prior: Prior, images: np.ndarray, known: np.ndarray, *, config: CompleteConfig = CompleteConfig(),
                    seed: int = 0, blends: tuple[str, ...] = ("poisson",),
                    callback: Callable[[int, torch.Tensor, torch.Tensor], bool | None] | None = None) -> Completion:
    """The sharp mode: complete uint8 ``images`` (N, R, R, 3) whose ``known`` (N, R, R) bool
    maps are True on known pixels by the latent search; every image needs a hole.  ``blends``:
    ``poisson`` and/or ``paste`` (the search runs once; each blend is applied to the same
    G(z^)).  ``callback`` is ``inpaint.complete``'s.  Deterministic for a given seed (see the
    module docstring)."""
    _check_blends(blends)
    x, m = _tensors(images, known, resolution=prior.resolution, channels=prior.channels)
    result, search = _search(prior, images, known, x, m, config=config, seed=seed, callback=callback)
    fake = result.fake.cpu()
    completed, seconds = _blended(fake, x, m, blends)
    return Completion(fake=to_uint8(fake), completed=completed, result=result, search_seconds=search,
                      blend_seconds=seconds)


def predict_images(cnn: OnePass, images: np.ndarray, known: np.ndarray, *,
                   blends: tuple[str, ...] = ("poisson",)) -> Completion:
    """The fast mode: the context encoder's one-pass prediction blended into the hole (no search:
    ``result`` is None, ``search_seconds`` the network's time).  Deterministic."""
    _check_blends(blends)
    x, m = _tensors(images, known, resolution=cnn.resolution, channels=cnn.channels)
    t0 = time.perf_counter()
    pred = cnn.predict(x, m).cpu()  # (N, C, R, R)
    seconds = time.perf_counter() - t0
    completed, blend_seconds = _blended(pred, x, m, blends)
    return Completion(fake=to_uint8(pred), completed=completed, result=None, search_seconds=seconds,
                      blend_seconds=blend_seconds)


def faithful_images(prior: Prior, cnn: OnePass, images: np.ndarray, known: np.ndarray, *,
                    config: CompleteConfig = CompleteConfig(), seed: int = 0, blends: tuple[str, ...] = ("poisson",),
                    callback: Callable[[int, torch.Tensor, torch.Tensor], bool | None] | None = None) -> Completion:
    """The faithful mode: the latent search as ``complete_images`` (the same seeding rule), then
    the context encoder's low frequencies under the sample's detail (``inpaint.faithful_fill``),
    blended into the hole.  ``fake`` is that combined fill; ``search_seconds`` includes the CNN."""
    _check_blends(blends)
    if (cnn.resolution, cnn.channels) != (prior.resolution, prior.channels):
        raise GanfillError(f"the context encoder is {cnn.resolution}x{cnn.resolution} but the GAN is "
                           f"{prior.resolution}x{prior.resolution}: give the pair trained on the same images")
    x, m = _tensors(images, known, resolution=prior.resolution, channels=prior.channels)
    result, search = _search(prior, images, known, x, m, config=config, seed=seed, callback=callback)
    t0 = time.perf_counter()
    fill = faithful_fill(cnn.predict(x, m).cpu(), result.fake.cpu())
    search += time.perf_counter() - t0
    completed, seconds = _blended(fill, x, m, blends)
    return Completion(fake=to_uint8(fill), completed=completed, result=result, search_seconds=search,
                      blend_seconds=seconds)
