"""A prior that adapts to the image: the generator fitted to each image's known pixels, from z^.

Pan et al. 2020 ("Exploiting Deep Generative Prior for Versatile Image Restoration and
Manipulation", DGP) remove the generator's representation error (no z makes G reproduce this
very face) by fine-tuning G together with z on each image, with a pixel loss on the known
pixels and a loss on the discriminator's features.  Here the adaptation is per image but G is
shared: each image gets its own small set of tensors that act on G's blocks (a per-channel
scale and shift of every hidden block, the batch norm's affine map made per image, and a
per-unit bias of the first blocks; ``models.prior.Adaptable``), so a batch of images adapts
at once through one inference copy of G, in the runtime's precision (bf16 where native),
and the model's weights are never touched.  DGP's progressive schedule (block by block from
the first) is ``AdaptConfig.progressive``; by default all blocks adapt from the first step
(measured: see ``AdaptConfig``).

    loss_i = mean over known pixels of (G_i(z_i) - y_i)^2
             + features * sum over D's layers of mean |D_l(M * G_i(z_i)) - D_l(M * y_i)|

minimised by Adam over z_i (``lr_z``) and image i's adaptation (``lr``) from the search's z^
(M: the mask, y_i with its hole zeroed).  The discriminator-feature term is DGP's; by default
its weight is 0 (measured: see ``AdaptConfig``).

``adapt`` is a pure function over tensors, in the style of the latent search
(``search.complete``, itself after NVlabs stylegan2-ada's ``projector.project``).
``near_weights`` and ``mix`` are how the closest mode (``inpainter.adapt_images``) composes the
adapted sample with the faithful fill: the adapted sample where the hole is near known pixels
(it fits them), the faithful fill deep inside large holes (the context encoder's mean is the
better guess there).  The settings were measured on held-out faces kept apart from the
reports' (``benchmarks/adapt_tuning.py``; results in ``benchmarks/adapt_tuning.json``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from scipy.ndimage import distance_transform_edt

from ganfill.core.checks import Span, check_options, option
from ganfill.core.errors import GanfillError
from ganfill.inpainting.search import _validate, check_finite_loss
from ganfill.models.prior import Adaptable


@dataclass(frozen=True)
class AdaptConfig:
    """The adaptation's settings (see ``benchmarks/adapt_tuning.json`` for the measurements).

    steps: Adam steps.  lr: of the adaptation's tensors; lr_z: of z.
    features: weight of the discriminator-feature loss against the known pixels' squared error
        (0: none, and no pass through D).
    modulate: how many of G's blocks, from the first, get a per-image scale and shift per channel.
    offsets: how many of G's blocks, from the first, get a per-image bias of every unit.
    progressive: 0: every block adapts from the first step; k > 0: DGP's progressive schedule,
        block b (from the first) adapts from step b * k on.
    near: the closest mode's mixing distance in pixels (``near_weights``); detail: the gain of
        the sample's detail in its faithful fill (``search.faithful_fill``).
    """

    steps: int = option(50, "Adam steps of the adaptation", span=Span(0, None))
    lr: float = option(0.01, "Adam's learning rate on the adaptation's tensors", span=Span(0, None, lo_open=True))
    lr_z: float = option(0.001, "Adam's learning rate on z", span=Span(0, None, lo_open=True))
    features: float = option(0.0, "weight of the discriminator-feature loss", span=Span(0, None))
    modulate: int = option(4, "blocks with a per-image scale and shift", span=Span(0, None))
    offsets: int = option(3, "blocks with a per-image bias of every unit", span=Span(0, None))
    progressive: int = option(0, "steps between the start of one block's adaptation and the next's", span=Span(0, None))
    near: float = option(4.0, "mixing distance in pixels", span=Span(0, None, lo_open=True))
    detail: float = option(1.3, "gain of the sample's detail in the faithful fill", span=Span(0, None))

    def __post_init__(self):
        check_options(self, name=lambda n: f"adaptation: {n}")


@dataclass
class Adapted:
    """What ``adapt`` returns (detached, float32, on the prior's device).

    fake: (N, C, R, R) the adapted G(z).  z: (N, z_dim) the adapted z.
    losses: (steps_run + 1, N) the loss of every step (row 0: before the first).
    steps_run: Adam steps taken (fewer than asked when the callback stopped it).
    """

    fake: torch.Tensor
    z: torch.Tensor
    losses: torch.Tensor
    steps_run: int


def _masked_mean(err: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """(N, C, R, R) errors, (N, 1, R, R) weights -> (N,) the weighted mean over pixels and channels."""
    return (err * weights).sum(dim=(1, 2, 3)) / (weights.sum(dim=(1, 2, 3)) * err.shape[1]).clamp(min=1)


def adapt(
    prior: Adaptable,
    images: torch.Tensor,
    masks: torch.Tensor,
    *,
    z_init: torch.Tensor,
    config: AdaptConfig = AdaptConfig(),
    callback: Callable[[int, torch.Tensor, torch.Tensor], bool | None] | None = None,
) -> Adapted:
    """Adapt ``prior``'s generator to each image's known pixels, starting from ``z_init``.

    images: (N, C, R, R) float in [-1, 1] (hole content ignored); masks: (N, 1, R, R) or
    (1, 1, R, R), 1 = known.  z_init: (N, z_dim), e.g. the latent search's z^
    (``search.complete(...).z``).  Images do not influence each other (per-image losses summed,
    Adam element-wise, eval-mode networks), and there is no randomness: the same inputs give
    the same result.  callback(step, fake, losses) is called at every step with the current
    G(z) (N, C, R, R) and losses (N,); return True to stop.
    """
    if not isinstance(prior, Adaptable):
        raise GanfillError(f"{type(prior).__name__} cannot adapt its generator to an image: use another mode")
    images, masks = _validate(prior, images, masks)
    device = prior.runtime.device
    n = len(images)
    if tuple(z_init.shape) != (n, prior.z_dim):
        raise GanfillError(f"z_init must be ({n}, {prior.z_dim}), got {tuple(z_init.shape)}")
    x = images.to(device=device, dtype=torch.float32)
    m = masks.to(device=device, dtype=torch.float32)
    y = torch.where(m > 0.5, x, torch.zeros((), device=device))  # the hole never enters the loss
    z = z_init.detach().to(device=device, dtype=torch.float32).clone().requires_grad_(True)
    blocks = prior.adaptation(n)
    adaptation = [
        {k: t for k, t in block.items() if (k == "offset" and b < config.offsets) or (k != "offset" and b < config.modulate)}
        for b, block in enumerate(blocks)
    ]
    tensors = [t.requires_grad_(True) for block in adaptation for t in block.values()]
    groups = [{"params": [z], "lr": config.lr_z}] + ([{"params": tensors, "lr": config.lr}] if tensors else [])
    opt = torch.optim.Adam(groups)
    with torch.no_grad():
        target = prior.realism_features(y)  # D's features of the masked image
    history = []
    step = 0
    for step in range(int(config.steps) + 1):
        fake = prior.decode_adapted(z, adaptation)  # (N, C, R, R) float32
        loss = _masked_mean((fake - y).square(), m)  # (N,)
        if config.features:
            feats = prior.realism_features(fake * m)
            loss = loss + config.features * sum((f - t).abs().flatten(1).mean(dim=1) for f, t in zip(feats, target))
        check_finite_loss(loss, step, lam=config.features)
        history.append(loss.detach())
        if callback is not None and callback(step, fake.detach(), loss.detach()):
            break
        if step == config.steps:
            break
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()  # each image's tensors get exactly their own gradient
        for block in adaptation[step // config.progressive + 1 :] if config.progressive else []:
            for t in block.values():  # not yet adapting: a zero gradient keeps Adam's step at 0
                t.grad.zero_()
        opt.step()
    return Adapted(fake=fake.detach(), z=z.detach(), losses=torch.stack(history), steps_run=step)


# ----------------------------------------------------------------------------------- the adaptive mode's fill


def near_weights(masks: torch.Tensor, *, near: float) -> torch.Tensor:
    """(N, 1, R, R) masks (1 = known) -> (N, 1, R, R) weights: 1 on known pixels and on hole
    pixels next to one, falling as exp(-(d - 1) / near) with the distance d (pixels) to the
    nearest known pixel.  An image with no known pixel gets 0 everywhere."""
    hole = masks.detach().cpu().numpy()[:, 0] < 0.5  # (N, R, R)
    dist = np.stack([distance_transform_edt(h) if not h.all() else np.full(h.shape, np.inf) for h in hole])
    return torch.from_numpy(np.exp(-np.maximum(dist - 1.0, 0.0) / near)).float()[:, None].to(masks.device)


def mix(near: torch.Tensor, far: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``near`` where the weights are 1, ``far`` where they are 0: far + weights * (near - far).
    Where ``near`` and ``far`` agree (the known pixels of two blends), the result is exactly them."""
    return far + weights * (near - far)
