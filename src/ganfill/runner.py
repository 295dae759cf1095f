"""One way to complete a batch of uint8 images, used by every front end.

``ganfill inpaint`` (``fill``), ``ganfill evaluate``, ``ganfill demo``, the web page and the
Python API all call ``complete_images``: uint8 RGB images in the model's square and boolean
known-pixel maps in, the latent search (``inpaint.complete``) on the prior's runtime, then the
blends the caller asks for, uint8 out.

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
from ganfill.inpaint import CompleteConfig, Result, complete
from ganfill.prior import Prior


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

    fake: uint8 (N, R, R, 3), the best fake G(z^) of each image.
    completed: blend method -> uint8 (N, R, R, 3), G(z^) blended into the hole (known pixels
        exact).  result: the search's ``inpaint.Result`` (z^, loss curves, frames).
    search_seconds: wall time of the search; blend_seconds: per blend method.
    """

    fake: np.ndarray
    completed: dict[str, np.ndarray]
    result: Result
    search_seconds: float
    blend_seconds: dict[str, float] = field(default_factory=dict)


def complete_images(prior: Prior, images: np.ndarray, known: np.ndarray, *, config: CompleteConfig = CompleteConfig(),
                    seed: int = 0, blends: tuple[str, ...] = ("poisson",),
                    callback: Callable[[int, torch.Tensor, torch.Tensor], bool | None] | None = None) -> Completion:
    """Complete uint8 ``images`` (N, R, R, 3) whose ``known`` (N, R, R) bool maps are True on
    known pixels; every image needs a hole.  ``blends``: ``poisson`` and/or ``paste`` (the
    search runs once; each blend is applied to the same G(z^)).  ``callback`` is
    ``inpaint.complete``'s.  Deterministic for a given seed (see the module docstring)."""
    unknown = [b for b in blends if b not in BLENDS]
    if unknown or not blends:
        raise GanfillError(f"unknown blend {unknown[0] if unknown else '(none)'}: choose from {', '.join(BLENDS)}")
    r = prior.resolution
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != (r, r, prior.channels):
        raise GanfillError(f"images must be uint8 (N, {r}, {r}, {prior.channels}) for this model, got {images.dtype} {images.shape}")
    if known.shape != images.shape[:3] or known.dtype != bool:
        raise GanfillError(f"known must be bool (N, {r}, {r}) like the images, got {known.dtype} {known.shape}")
    x = to_tensor(images)  # (N, 3, R, R) in [-1, 1]
    m = torch.from_numpy(np.ascontiguousarray(known)).float()[:, None]  # (N, 1, R, R), 1 = known
    z0 = initial_z(prior, images, known, restarts=config.restarts, seed=seed)  # (N, restarts, z_dim)
    t0 = time.perf_counter()
    result = complete(prior, x, m, config=config, z_init=z0, callback=callback)
    search = time.perf_counter() - t0
    fake = result.fake.cpu()
    completed, seconds = {}, {}
    for method in dict.fromkeys(blends):
        t0 = time.perf_counter()
        completed[method] = to_uint8(blend(fake, x, m, method=method))
        seconds[method] = time.perf_counter() - t0
    return Completion(fake=to_uint8(fake), completed=completed, result=result, search_seconds=search,
                      blend_seconds=seconds)
