"""Semantic inpainting by searching the latent space of a trained GAN (Yeh et al., CVPR 2017).

    z^ = argmin_z  L_c(z | y, M) + lam * L_p(z),    then blend G(z^) into the hole of y.

* Images are NCHW float in [-1, 1] (the range G's tanh produces; bamos/dcgan-completion uses
  the same range), masks are (N, 1, H, W) with 1 = KNOWN pixel, 0 = hole.
* ``L_c`` (contextual loss) is, per image, a SUM over all pixels and channels, as in the paper,
  so ``lam = 0.003`` weighs the prior exactly as the paper's lambda does.  ``kind="weighted"``
  is the paper's importance-weighted L1, ``"l1"`` is the plain masked L1 of the source report
  and of bamos/dcgan-completion, ``"l2"`` the masked sum of squares.
* ``L_p`` (perceptual / prior loss) = log(1 - D(G(z))), computed from D's logits.
* Per image the objective is ``L_c + lam * L_p``; the batch objective is the SUM over images
  (and restarts), so every z receives exactly its own gradient whatever the batch size.  Adam
  is element-wise and G, D run in eval mode (batch norm uses its running statistics), so the
  images of a batch do not influence each other (except through early stopping, which stops
  the whole batch at once).

The API is modelled on NVlabs stylegan2-ada ``projector.project``: a pure function over tensors
(``complete``) with a frozen config of hyperparameters, no file I/O.  The model is a ``Prior``
(``models.prior.DCGANPrior(G, D)``): it draws z, decodes it and scores realism; the search never
touches anything else of it.  Blending G(z^) into the image is the caller's step
(``blend.blend``); ``inpainting.inpainter.complete_images`` does search and blend for every front end.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import torch
import torch.nn.functional as F

from ganfill.core.errors import GanfillError, GanfillTypeError
from ganfill.data.masks import gaussian_blur
from ganfill.inpainting.blend import paste
from ganfill.inpainting.config import CONTEXTUAL_KINDS, CompleteConfig, check_config
from ganfill.models.prior import Prior

# ----------------------------------------------------------------------------------- losses


def importance_weights(mask: torch.Tensor, *, window: int = 7) -> torch.Tensor:
    """Yeh et al.'s importance weighting W, (N, 1, H, W) -> (N, 1, H, W).

    For a KNOWN pixel i, ``W_i = (number of MISSING pixels in the window x window square
    centred on i) / window**2``; ``W_i = 0`` on missing pixels.  Known pixels far from the hole
    get weight 0 and those bordering it the largest weights: the loss only looks at the
    context right around the hole.  (A public implementation computed the fraction of KNOWN
    neighbours instead, which inverts this.)  Pixels outside the image count as known (not
    missing), as in Yeh et al.'s code: zero padding of the hole indicator, and the
    denominator stays ``window**2`` at the image border.
    """
    if int(window) < 1 or int(window) % 2 == 0:
        raise GanfillError(f"importance window must be a positive odd number, got {window}")
    assert mask.ndim == 4 and mask.shape[1] == 1, mask.shape
    hole = 1.0 - mask  # (N, 1, H, W), 1 = missing
    ones = torch.ones(1, 1, window, window, dtype=mask.dtype, device=mask.device)
    missing = F.conv2d(hole, ones, padding=window // 2)  # (N, 1, H, W) missing-neighbour counts
    return mask * missing / float(window * window)


def context_weights(mask: torch.Tensor, *, kind: str = "weighted", window: int = 7) -> torch.Tensor:
    """Per-pixel weights of the contextual loss, (N, 1, H, W): W for ``weighted``, the mask otherwise."""
    if kind == "weighted":
        return importance_weights(mask, window=window)
    if kind in ("l1", "l2"):
        return mask
    raise GanfillError(f"unknown contextual loss {kind!r}: choose one of {', '.join(CONTEXTUAL_KINDS)}")


def _contextual(G_z: torch.Tensor, y: torch.Tensor, weights: torch.Tensor, kind: str) -> torch.Tensor:
    """(N, C, H, W) x2, weights (N, 1, H, W) >= 0 -> (N,) per-image sums over pixels and channels."""
    diff = G_z - y
    err = diff.square() if kind == "l2" else diff.abs()
    return (weights * err).sum(dim=(1, 2, 3))


def contextual_loss(
    G_z: torch.Tensor, y: torch.Tensor, mask: torch.Tensor, *, kind: str = "weighted", window: int = 7
) -> torch.Tensor:
    """Contextual loss per image, (N,): a SUM over pixels and channels (the paper's normalisation).

    ``weighted``: ``|| W * (G(z) - y) ||_1`` with ``W = importance_weights(mask, window)``
    (Yeh et al.); ``l1``: ``|| M * (G(z) - y) ||_1``; ``l2``: ``|| M * (G(z) - y) ||_2^2``.
    G_z, y: (N, C, H, W); mask: (N, 1, H, W) or (1, 1, H, W), 1 = known.  Values of ``y`` in
    the hole never matter.
    """
    assert G_z.shape == y.shape and G_z.ndim == 4, (G_z.shape, y.shape)
    w = context_weights(mask, kind=kind, window=window)
    y = torch.where(mask > 0.5, y, torch.zeros((), dtype=y.dtype, device=y.device))
    return _contextual(G_z, y, w, kind)


def perceptual_loss(logits: torch.Tensor) -> torch.Tensor:
    """Yeh et al.'s perceptual (prior) loss ``log(1 - D(G(z)))`` from D's logits, (N,) -> (N,).

    With D = sigmoid(l): log(1 - sigmoid(l)) = logsigmoid(-l) = -softplus(l), finite for any l.
    It is <= 0 and decreases as D finds G(z) more real.
    """
    return F.logsigmoid(-logits)


@dataclass
class Result:
    """What ``complete`` returns (all tensors detached, float32, on the prior's device).

    fake: (N, C, H, W) G(z^) of the kept restart (blend it into the image with ``blend.blend``).  z: (N, z_dim) the kept z^.
    restart: (N,) index of the kept restart.
    losses, contextual, perceptual: (steps_run + 1, N) total / L_c / L_p of the kept restart;
        row t is the loss of z after t Adam steps (row 0: the initial z, last row: z^).
    frames: [(step, (N, C, H, W))] every ``record_every`` steps (and the last step): the
        current best restart's G(z) pasted into the known pixels (cheap; no Poisson solve).
    steps_run: number of Adam steps taken (< num_steps after an early stop).
    init: where restart 0 started, ``encoder`` or ``prior``.
    """

    fake: torch.Tensor
    z: torch.Tensor
    restart: torch.Tensor
    losses: torch.Tensor
    contextual: torch.Tensor
    perceptual: torch.Tensor
    frames: list[tuple[int, torch.Tensor]] = field(default_factory=list)
    steps_run: int = 0
    init: str = "prior"


# ----------------------------------------------------------------------------------- search


def check_finite_loss(total: torch.Tensor, step: int, *, lam: float) -> None:
    """Stop a search whose loss is NaN or infinite (weights that are not numbers, or a lambda
    so large that lambda * L_p overflows float32): its result would be a black hole, never a
    repair, so it ends with a GanfillError and nothing is written."""
    if not bool(torch.isfinite(total).all()):
        raise GanfillError(
            f"the latent search's loss became NaN or infinite at step {step} (lambda {lam:g}): "
            "lower lambda (--lam) or the learning rate (--lr), or use another model"
        )


def check_prior(prior) -> Prior:
    """``prior`` itself if it is a ``Prior``; anything else (None, a Model, a generator) is a GanfillTypeError."""
    if not isinstance(prior, Prior):
        raise GanfillTypeError(
            f"the search takes a Prior (e.g. models.files.load('faces64').prior() or DCGANPrior(G, D)), "
            f"got {type(prior).__name__}"
        )
    return prior


def _in_range(t: torch.Tensor) -> bool:
    """Every value of ``t`` in [-1, 1] (to bf16's rounding); NaN is not."""
    return bool(((t >= -1.0 - 1e-3) & (t <= 1.0 + 1e-3)).all())


def _validate(prior: Prior, images: torch.Tensor, masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    check_prior(prior)
    r, c = prior.resolution, prior.channels
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or tuple(images.shape[1:]) != (c, r, r):
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise GanfillError(f"images must be (N, {c}, {r}, {r}) to match the generator, got {shape}: resize them to {r}x{r}")
    if images.shape[0] < 1:
        raise GanfillError("no images to complete")
    if not images.is_floating_point():
        raise GanfillError(f"images must be float in [-1, 1], got {images.dtype}: convert with x / 127.5 - 1")
    n = images.shape[0]
    if (
        not isinstance(masks, torch.Tensor)
        or masks.ndim != 4
        or tuple(masks.shape[1:]) != (1, r, r)
        or masks.shape[0] not in (1, n)
    ):
        shape = tuple(masks.shape) if isinstance(masks, torch.Tensor) else type(masks).__name__
        raise GanfillError(f"masks must be ({n}, 1, {r}, {r}) or (1, 1, {r}, {r}), got {shape}")
    masks = masks.float()
    if not bool(((masks == 0) | (masks == 1)).all()):
        raise GanfillError("mask values must be 0 (hole) or 1 (known): threshold the mask first")
    masks = masks.expand(n, 1, r, r)
    no_hole = [i for i in range(n) if bool((masks[i] > 0.5).all())]
    if no_hole:
        raise GanfillError(f"mask has no hole for image(s) {no_hole}: nothing to fill (holes are 0)")
    known = images[masks.expand_as(images) > 0.5]
    if known.numel() and not _in_range(known):
        raise GanfillError(
            f"image values must be in [-1, 1], got [{known.min().item():.3g}, {known.max().item():.3g}]: "
            "scale 0..255 images with x / 127.5 - 1"
        )
    return images.detach(), masks


def _guide(guide: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """``complete``'s guide checked against its images (N, C, R, R): same shape, finite, in [-1, 1]."""
    if not isinstance(guide, torch.Tensor) or tuple(guide.shape) != tuple(images.shape):
        got = tuple(guide.shape) if isinstance(guide, torch.Tensor) else type(guide).__name__
        raise GanfillError(f"the guide must be a tensor of the images' shape {tuple(images.shape)}, got {got}")
    guide = guide.detach().to(images)
    if not _in_range(guide):
        raise GanfillError("the guide's values must be finite and in [-1, 1], like the images'")
    return guide


def complete(
    prior: Prior,
    images: torch.Tensor,
    masks: torch.Tensor,
    *,
    config: CompleteConfig = CompleteConfig(),
    generator: torch.Generator | None = None,
    z_init: torch.Tensor | None = None,
    guide: torch.Tensor | None = None,
    callback: Callable[[int, torch.Tensor, torch.Tensor], bool | None] | None = None,
) -> Result:
    """Search z^ for the holes of ``images`` (Yeh et al. 2017); see the module docstring.

    prior: the model (``models.prior.DCGANPrior(G, D)``): z is drawn with ``prior.sample_z``, images are
    ``prior.decode(z)``, the perceptual loss scores ``prior.realism_logits``.  The network
    layers run on the prior's runtime (device, bf16 or fp32); the losses, their sums, z and
    Adam's state are float32 whatever the runtime.
    images: (N, C, R, R) float in [-1, 1] (hole content ignored); masks: (N, 1, R, R) or
    (1, 1, R, R), 1 = known, 0 = hole.  Every mask needs a hole (GanfillError otherwise); an
    all-missing mask is allowed (L_c = 0: this just samples a realistic image from G).
    generator: CPU torch.Generator for the initial z (None: torch's global RNG); the search
    itself is deterministic, so a seeded generator reproduces the result.
    z_init: optional initial latents instead of sampling, (N, z_dim) or (N, restarts, z_dim);
    row i*restarts + r of the internal batch is image i, restart r.  With ``config.restarts``
    None (the default) the number of restarts is z_init's: 1 for (N, z_dim).
    guide: optional (N, C, R, R) whole images in [-1, 1] that the encoder's start sees in place of
    the known pixels, every pixel known: e.g. a context encoder's prediction pasted into the
    hole, so that restart 0 starts from a sample with the guide's structure (the faithful
    mode's start).  The loss still sees only the known pixels of ``images``; without an encoder
    start (``config.init`` ``prior``) the guide is not used.
    callback(step, fake, losses): called at step 0, every ``record_every`` steps and at the
    last step (at EVERY step if ``record_every`` is 0) with the current best restart's
    G(z) (N, C, R, R) and total losses (N,); return True to stop the search early.

    Returns G(z^) and the loss curves, not a blended image: ``blend.blend(result.fake, images,
    masks)`` fills the hole (``inpainting.inpainter.complete_images`` does both for uint8 images).
    """
    check_config(config)
    images, masks = _validate(prior, images, masks)
    if z_init is not None and config.restarts is None:  # the starts given say how many there are
        config = replace(config, restarts=z_init.shape[1] if z_init.dim() == 3 else 1)
    cfg = config.resolved(prior)
    images_in = images  # frames paste into it: known pixels keep their exact bits
    device = prior.runtime.device
    n, ch, r = images.shape[0], images.shape[1], images.shape[2]
    R, z_dim = int(cfg.restarts), int(prior.z_dim)

    images = images.to(device=device, dtype=torch.float32)
    masks = masks.to(device=device, dtype=torch.float32)
    guide = None if guide is None else _guide(guide, images)  # (N, C, R, R)
    # y with the hole zeroed: the hole content never enters the loss (even NaN)
    y = torch.where(masks > 0.5, images, torch.zeros((), device=device))  # (N, C, R, R)
    weights = context_weights(masks, kind=cfg.contextual, window=cfg.window)  # (N, 1, R, R)
    y_rep = y.repeat_interleave(R, dim=0)  # (N*R, C, R, R), row i*R + k
    w_rep = weights.repeat_interleave(R, dim=0)  # (N*R, 1, R, R)

    if z_init is None:
        z0 = prior.sample_z(n * R, generator=generator)
    else:
        z0 = z_init.detach()
        if z0.shape not in ((n, R, z_dim), (n, z_dim) if R == 1 else ()):
            raise GanfillError(
                f"z_init must be ({n}, {R}, {z_dim})" + (f" or ({n}, {z_dim})" if R == 1 else "") + f", got {tuple(z0.shape)}"
            )
        z0 = z0.reshape(n * R, z_dim)
    z = z0.to(device=device, dtype=torch.float32).clone()  # (N*R, z_dim)
    if cfg.init == "encoder":  # amortised inversion: restart 0 of every image starts from E(known pixels) or E(guide)
        seen, seen_masks = (y, masks) if guide is None else (guide, torch.ones_like(masks))
        z.view(n, R, z_dim)[:, 0] = prior.encode(seen, seen_masks).to(z)  # (N, z_dim)
    prior.project(z, clip=cfg.clip)
    z.requires_grad_(True)
    opt = torch.optim.Adam([z], lr=cfg.lr, betas=tuple(cfg.betas))
    sched = None
    if cfg.schedule == "cosine" and cfg.num_steps > 0:
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=int(cfg.num_steps))

    hist_total: list[torch.Tensor] = []  # each (N*R,)
    hist_c: list[torch.Tensor] = []
    hist_p: list[torch.Tensor] = []
    frames: list[tuple[int, torch.Tensor]] = []
    best = torch.full((n,), math.inf, dtype=torch.float64)  # early stop: best loss per image
    since = torch.zeros(n, dtype=torch.long)  # steps since the image's best last improved
    every = int(cfg.record_every)
    steps_run = 0
    arange = torch.arange(n, device=device)

    for step in range(int(cfg.num_steps) + 1):
        fake = prior.decode(z)  # (N*R, C, R, R) float32
        if step == 0 and fake.is_contiguous(memory_format=torch.channels_last):  # the loss in G's layout
            y_rep, w_rep = (t.contiguous(memory_format=torch.channels_last) for t in (y_rep, w_rep))
        lc = _contextual(fake, y_rep, w_rep, cfg.contextual)  # (N*R,)
        lp = perceptual_loss(prior.realism_logits(fake))  # (N*R,)
        total = lc + cfg.lam * lp  # (N*R,)
        check_finite_loss(total, step, lam=cfg.lam)
        hist_total.append(total.detach())
        hist_c.append(lc.detach())
        hist_p.append(lp.detach())
        steps_run = step

        last = step == cfg.num_steps
        stop = False
        if cfg.patience is not None:
            cur = total.detach().view(n, R).min(dim=1).values.double().cpu()  # (N,)
            improved = torch.isinf(best) | (cur < best - cfg.tol * best.abs())
            best = torch.where(improved, cur, best)
            since = torch.where(improved, torch.zeros_like(since), since + 1)
            stop = bool((since >= cfg.patience).all())

        if every or callback is not None:
            due = (every == 0) or step % every == 0 or last or stop
            if due:
                k = total.detach().view(n, R).argmin(dim=1)  # (N,) current best restart
                cur_fake = fake.detach().view(n, R, ch, r, r)[arange, k]  # (N, C, R, R)
                if every:
                    frames.append((step, paste(cur_fake.to(images_in), images_in, masks.to(images_in.device))))
                if callback is not None and callback(step, cur_fake, total.detach().view(n, R)[arange, k]):
                    stop = True
        if last or stop:
            break

        opt.zero_grad(set_to_none=True)
        total.sum().backward()  # sum over images: each z gets exactly its own gradient
        opt.step()
        if sched is not None:
            sched.step()
        prior.project(z, clip=cfg.clip)

    # keep, per image, the restart with the lowest final loss
    final = hist_total[-1].view(n, R)
    keep = final.argmin(dim=1)  # (N,)
    fake_final = fake.detach().view(n, R, ch, r, r)[arange, keep]  # (N, C, R, R)
    z_final = z.detach().view(n, R, z_dim)[arange, keep]  # (N, z_dim)

    def pick(hist: list[torch.Tensor]) -> torch.Tensor:
        h = torch.stack(hist).view(len(hist), n, R)  # (T+1, N, R)
        return h[:, arange, keep]  # (T+1, N)

    return Result(
        fake=fake_final,
        z=z_final,
        restart=keep,
        losses=pick(hist_total),
        contextual=pick(hist_c),
        perceptual=pick(hist_p),
        frames=frames,
        steps_run=steps_run,
        init=cfg.init,
    )


# ----------------------------------------------------------------------------------- faithful mode

# the faithful mode's two settings, with the search started from the network's mean (the guide),
# chosen on held-out faces the reports do not use: celeba64/val images 200-1199 and celeba128/val
# 200-999 of the evaluation order (benchmarks/faithful-tuning-faces64-guided.json,
# faithful-tuning-faces128-guided.json; blur 0.8 was already the best of 0.8-1.6 px,
# faithful-tuning-faces128-ce10000.json).  Detail 1.2 is the largest gain measured (0.8-1.6
# in steps of 0.2) at which the fill is more faithful than the network alone on both face
# models and both masks: lower gains are more faithful still and more detectable by the
# texture judge (-detail08.json of both models), higher ones the reverse; the CNN judge ties
# them with the network on faces128 (the README's faces128 section).
FAITHFUL_BLUR = 0.8  # the Gaussian's sigma, in pixels of the model's square
FAITHFUL_DETAIL = 1.2


def faithful_fill(
    prediction: torch.Tensor, fake: torch.Tensor, *, blur: float = FAITHFUL_BLUR, detail: float = FAITHFUL_DETAIL
) -> torch.Tensor:
    """The faithful mode's fill, (N, C, R, R) x2 -> (N, C, R, R): the low frequencies of a
    context encoder's ``prediction`` plus the high frequencies of the searched sample ``fake`` = G(z^).

        fill = g(prediction) + detail * (fake - g(fake)),   g: Gaussian of sigma = ``blur`` pixels

    A network trained on the squared error predicts the *mean* of what the hole may hold: the
    best guess for PSNR, and smooth.  A GAN sample is sharp, but only one of the possibilities.
    The mean's structure under the sample's fine detail is at least as faithful as the
    prediction alone and harder to tell from originals by the texture judge; ``detail`` > 1
    restores some of the texture energy of photographs that the generator's samples lack (the
    measurements that chose ``blur`` and ``detail``: the comment above).  Blend the result into the
    image like any fill (``blend.blend``).
    """
    assert prediction.shape == fake.shape and prediction.ndim == 4, (prediction.shape, fake.shape)
    if not 0 < blur < math.inf:
        raise GanfillError(f"the faithful mode's blur must be a positive number of pixels, got {blur}")
    if not 0 <= detail < math.inf:
        raise GanfillError(f"the faithful mode's detail gain must be a finite number >= 0, got {detail}")
    return gaussian_blur(prediction, blur) + detail * (fake - gaussian_blur(fake, blur))
