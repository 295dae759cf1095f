"""Priors: what the latent search needs from a generative model, behind one small interface.

``inpainting.search.complete(prior, images, masks)`` only ever calls the ``Prior`` methods
below, so any model that can draw latents, decode them into images and score realism can drive it.  The
built-in one is ``DCGANPrior(G, D)``: the generator decodes, the
discriminator's logits are the realism score of Yeh et al.'s perceptual loss.

``DCGANPrior`` runs *inference copies* of G and D (``models.fast.inference_copy``: frozen,
batch norm folded, weights in the runtime's dtype, two layers rewritten into faster
equivalents), and so does ``OnePass``, the context encoder at inference.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch
from torch import nn

from ganfill.core.constants import LATENT_CLIP
from ganfill.core.errors import GanfillError
from ganfill.core.runtime import Runtime
from ganfill.data.domain import Domain
from ganfill.models.fast import inference_copy

LATENTS = ("normal", "uniform")
ACTIVATIONS = (nn.ReLU, nn.LeakyReLU, nn.Tanh)  # where a block of the generator ends, and a feature of the discriminator


@runtime_checkable
class Prior(Protocol):
    """A generative model as the latent search sees it.

    Tensors: z (N, z_dim) float32; images (N, channels, resolution, resolution) float32 in
    [-1, 1]; logits (N,) float32.  ``decode`` and ``realism_logits`` must be differentiable in
    their input and must not change the model (the search only moves z).
    """

    z_dim: int
    resolution: int
    channels: int
    domain: Domain
    runtime: Runtime

    def sample_z(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """(n, z_dim) float32 latents on the CPU, drawn from the distribution the model was trained with."""

    def project(self, z: torch.Tensor, *, clip: float | None) -> torch.Tensor:
        """Project z onto the latent distribution's support, in place; returns z."""

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(N, z_dim) -> images (N, C, R, R) float32 on the runtime's device."""

    def realism_logits(self, images: torch.Tensor) -> torch.Tensor:
        """images (N, C, R, R) -> (N,) float32 logits: high = looks real."""

    @property
    def has_encoder(self) -> bool:
        """Whether ``encode`` can predict a starting z."""

    def encode(self, images: torch.Tensor, masks: torch.Tensor) -> torch.Tensor | None:
        """A starting z (N, z_dim) float32 predicted from images and masks (N, 1, R, R; 1 = known),
        or None when the model has no encoder (the search then starts from ``sample_z``)."""


@runtime_checkable
class Adaptable(Protocol):
    """A prior whose generator can adapt to each image (``inpainting.adapt``), beyond ``Prior``.

    The generator is a chain of *blocks*, each ending in an activation (five for the 64x64
    dcgan generator: 4x4, 8x8, 16x16, 32x32 and the image).  An *adaptation* of N images holds,
    per block, per-image tensors that change that block's pre-activation h of image i:
    ``h * (1 + scale_i) + shift_i + offset_i`` (scale, shift: (N, C), one per channel, the
    batch norm's affine map made per-image; offset: (N, *h.shape[1:]), a per-image bias of
    every unit).  All zeros is the generator itself, so one shared copy of G serves a whole
    batch of images, each adapting its own tensors; G's weights never change.
    """

    def adaptation(self, n: int) -> list[dict[str, torch.Tensor]]:
        """The identity adaptation of n images: one dict per block, from the first, with
        ``scale``, ``shift`` and ``offset`` float32 zeros on the runtime's device."""

    def decode_adapted(self, z: torch.Tensor, adaptation: list[dict[str, torch.Tensor]]) -> torch.Tensor:
        """``decode`` under an adaptation (any block, or any key of one, may be left out: not
        adapted); differentiable in z and in the adaptation's tensors."""

    def realism_features(self, images: torch.Tensor) -> list[torch.Tensor]:
        """The discriminator's activations of images (N, C, R, R) float32, from the first layer
        on, each (N, ...) float32; differentiable in the images."""


# ----------------------------------------------------------------------------------- latents


def sample_latents(n: int, z_dim: int, *, latent: str = "normal", generator: torch.Generator | None = None) -> torch.Tensor:
    """(n, z_dim) draws of N(0, I) (``normal``) or U[-1, 1]^z_dim (``uniform``), on the CPU."""
    if latent == "normal":
        return torch.randn(n, z_dim, generator=generator)
    if latent == "uniform":
        return torch.rand(n, z_dim, generator=generator) * 2.0 - 1.0
    raise GanfillError(f"unknown latent distribution {latent!r}: choose one of {', '.join(LATENTS)}")


@torch.no_grad()
def project_latents(z: torch.Tensor, *, latent: str = "normal", clip: float | None = LATENT_CLIP) -> torch.Tensor:
    """Project z onto the latent distribution's support, in place, and return it.

    ``uniform``: clamp to [-1, 1], the support (what Yeh et al. did; ``clip`` is ignored).
    ``normal``: N(0, I) has unbounded support; each coordinate is clamped to [-clip, clip]
    (``clip=None`` disables it).  See ``inpainting.config.CompleteConfig.clip``.
    """
    if latent == "uniform":
        return z.clamp_(-1.0, 1.0)
    if latent == "normal":
        return z if clip is None else z.clamp_(-clip, clip)
    raise GanfillError(f"unknown latent distribution {latent!r}: choose one of {', '.join(LATENTS)}")


class DCGANPrior:
    """A DCGAN generator/discriminator pair as a ``Prior``.

    G: z (N, z_dim) -> (N, C, R, R); D: images -> logits (N,).  Both are copied for inference
    (``inference_copy``) once, at construction: G and D themselves are never changed.
    domain: how images are brought into the model's square.  runtime: device and precision of
    the network layers (decode and realism_logits still take and return float32).
    latent: the distribution G was trained with, ``normal`` (N(0, I): every ganfill model) or
    ``uniform`` (U[-1, 1], Yeh et al.'s models).  E: an encoder of z trained for this G
    (``models.encoder.Encoder``), or None.
    """

    def __init__(
        self,
        G: nn.Module,
        D: nn.Module,
        *,
        domain: Domain = Domain(),
        runtime: Runtime = Runtime(),
        latent: str = "normal",
        E: nn.Module | None = None,
    ):
        if latent not in LATENTS:
            raise GanfillError(f"unknown latent distribution {latent!r}: choose one of {', '.join(LATENTS)}")
        cfg = G.config
        self.z_dim, self.resolution, self.channels = int(cfg.z_dim), int(cfg.resolution), int(cfg.channels)
        self.config, self.domain, self.runtime, self.latent = cfg, domain, runtime, latent
        self._G, self._D = inference_copy(G, runtime), inference_copy(D, runtime)
        self._E = inference_copy(E, runtime) if E is not None else None

    @property
    def has_encoder(self) -> bool:
        return self._E is not None

    def sample_z(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        return sample_latents(n, self.z_dim, latent=self.latent, generator=generator)

    def project(self, z: torch.Tensor, *, clip: float | None) -> torch.Tensor:
        return project_latents(z, latent=self.latent, clip=clip)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self._G(z.to(self.runtime.dtype)).float()  # (N, C, R, R)

    def _layout(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(device=self.runtime.device, dtype=self.runtime.dtype)
        return x.contiguous(memory_format=torch.channels_last) if self.runtime.device.type == "cpu" else x

    def realism_logits(self, images: torch.Tensor) -> torch.Tensor:
        return self._D(self._layout(images)).float()  # (N,)

    # ---- Adaptable: G's blocks adapted per image (inpainting.adapt), D's features

    def _layers(self) -> list[nn.Module]:
        return [*self._G.project, *self._G.body]  # the generator's forward, layer by layer

    @torch.no_grad()
    def adaptation(self, n: int) -> list[dict[str, torch.Tensor]]:
        h = torch.zeros(1, self.z_dim, device=self.runtime.device, dtype=self.runtime.dtype)
        blocks = []
        for layer in self._layers():
            if isinstance(layer, ACTIVATIONS):  # h: this block's pre-activation (1, C, ...)
                zeros = torch.zeros((n, *h.shape[1:]), device=h.device)
                if zeros.dim() == 4 and h.is_contiguous(memory_format=torch.channels_last):
                    zeros = zeros.contiguous(memory_format=torch.channels_last)
                blocks.append(
                    {
                        "scale": h.new_zeros(n, h.shape[1], dtype=torch.float32),
                        "shift": h.new_zeros(n, h.shape[1], dtype=torch.float32),
                        "offset": zeros,
                    }
                )
            h = layer(h)
        return blocks

    def decode_adapted(self, z: torch.Tensor, adaptation: list[dict[str, torch.Tensor]]) -> torch.Tensor:
        h, k = z.to(self.runtime.dtype), 0
        for layer in self._layers():
            if isinstance(layer, ACTIVATIONS) and k < len(adaptation):
                h = _adapt_block(h, adaptation[k])
                k += 1
            h = layer(h)
        return h.float()  # (N, C, R, R)

    def realism_features(self, images: torch.Tensor) -> list[torch.Tensor]:
        h, out = self._layout(images), []
        for layer in self._D.body:
            h = layer(h)
            if isinstance(layer, ACTIVATIONS):
                out.append(h.float())
        return out

    @torch.no_grad()
    def encode(self, images: torch.Tensor, masks: torch.Tensor) -> torch.Tensor | None:
        if self._E is None:
            return None
        return self._E(self._layout(images), self._layout(masks)).float()  # (N, z_dim)


def _adapt_block(h: torch.Tensor, block: dict[str, torch.Tensor]) -> torch.Tensor:
    """h (N, C, ...) * (1 + scale) + shift + offset, each of ``block`` that is given, in h's dtype."""
    per_channel = (len(h), h.shape[1]) + (1,) * (h.dim() - 2)
    if "scale" in block:
        h = h * (1 + block["scale"]).to(h.dtype).view(per_channel)
    if "shift" in block:
        h = h + block["shift"].to(h.dtype).view(per_channel)
    if "offset" in block:
        h = h + block["offset"].to(h.dtype)
    return h


class OnePass:
    """A context encoder (``models.context_encoder.ContextEncoder``) for inference: the CNN that predicts the
    whole image from the known pixels in one pass, no search.

    The network is an inference copy (``inference_copy``: frozen, batch norm folded, weights in
    the runtime's dtype); ``predict`` takes and returns float32.  ``mirrored``: the network was
    trained on left-right flipped images too, so the mirror image of a question is as good a
    question, and ``mirror_mean`` answers with the mean of both answers.
    """

    def __init__(self, CE: nn.Module, *, domain: Domain = Domain(), runtime: Runtime = Runtime(), mirrored: bool = False):
        cfg = CE.config
        self.resolution, self.channels = int(cfg.resolution), int(cfg.channels)
        self.config, self.domain, self.runtime, self.mirrored = cfg, domain, runtime, bool(mirrored)
        self._CE = inference_copy(CE, runtime)

    @torch.no_grad()
    def predict(self, images: torch.Tensor, masks: torch.Tensor, *, batch_size: int = 256) -> torch.Tensor:
        """images (N, C, R, R) in [-1, 1] (hole content ignored), masks (N, 1, R, R), 1 = known ->
        the predicted images (N, C, R, R) float32 on the runtime's device."""
        out = []
        for xb, mb in zip(images.split(batch_size), masks.split(batch_size)):
            xb = xb.to(device=self.runtime.device, dtype=self.runtime.dtype)
            mb = mb.to(device=self.runtime.device, dtype=self.runtime.dtype)
            if self.runtime.device.type == "cpu":
                xb, mb = (t.contiguous(memory_format=torch.channels_last) for t in (xb, mb))
            out.append(self._CE(xb, mb).float())
        return torch.cat(out)

    def mirror_mean(self, images: torch.Tensor, masks: torch.Tensor, *, batch_size: int = 256) -> torch.Tensor:
        """``predict``'s arguments and result: for a ``mirrored`` network, the mean of its prediction
        and of its mirror image's, mirrored back (exactly mirror-symmetric); else the prediction.
        The better estimate of the mean, smoother still: the faithful mode's coarse structure takes
        it, the fast mode shows the one pass (measured: benchmarks/mirror-average-*.json)."""
        if not self.mirrored:
            return self.predict(images, masks, batch_size=batch_size)
        n = len(images)
        both = self.predict(torch.cat([images, images.flip(-1)]), torch.cat([masks, masks.flip(-1)]), batch_size=batch_size)
        return (both[:n] + both[n:].flip(-1)) / 2  # (2N, C, R, R) -> (N, C, R, R)
