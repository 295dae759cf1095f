"""Priors: what the latent search needs from a generative model, behind one small interface.

``inpaint.complete(prior, images, masks)`` only ever calls the ``Prior`` methods below, so any
model that can draw latents, decode them into images and score realism can drive it.  The
first (and today the only) one is ``DCGANPrior(G, D)``: the generator decodes, the
discriminator's logits are the realism score of Yeh et al.'s perceptual loss.

``DCGANPrior`` runs *inference copies* of G and D (``inference_copy``): frozen, eval mode,
batch norm folded into the layer before it, weights in the runtime's dtype (bf16 where the
hardware has it, see ``runtime``), channels_last on the CPU, and two layers rewritten into
faster equivalents (the same function up to rounding, checked by the tests):

* the dcgan generator's first layer, a 4x4 transposed convolution of a 1x1 input, is a matrix
  product: ``Linear(z_dim, 16 * C)`` whose output, read as NHWC, is the (N, C, 4, 4) map;
* the generator's last layer (few output channels, which convolution libraries block badly)
  becomes a stride-1 convolution with 4x the output channels followed by a pixel shuffle
  (the sub-pixel form of a stride-2 transposed convolution);
* the dcgan discriminator's head, a 4x4 convolution of the 4x4 map to one logit, is a
  matrix-vector product over the NHWC features, and its first layer (a stride-2 convolution of
  the 3-channel image) computes its input gradient, the search's way back into G, in the same
  sub-pixel form.

Measured on a 2-core CPU with AVX-512 BF16 (benchmarks/bench.py), the rewrites take about a
tenth off every search step; bf16 halves it again.
"""

from __future__ import annotations

import copy
from typing import Protocol, runtime_checkable

import torch
import torch.nn.functional as F
from torch import nn

from ganfill.data import Domain
from ganfill.errors import GanfillError
from ganfill.runtime import Runtime

LATENTS = ("normal", "uniform")


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


# ----------------------------------------------------------------------------------- latents


def sample_latents(n: int, z_dim: int, *, latent: str = "normal", generator: torch.Generator | None = None) -> torch.Tensor:
    """(n, z_dim) draws of N(0, I) (``normal``) or U[-1, 1]^z_dim (``uniform``), on the CPU."""
    if latent == "normal":
        return torch.randn(n, z_dim, generator=generator)
    if latent == "uniform":
        return torch.rand(n, z_dim, generator=generator) * 2.0 - 1.0
    raise GanfillError(f"unknown latent distribution {latent!r}: choose one of {', '.join(LATENTS)}")


@torch.no_grad()
def project_latents(z: torch.Tensor, *, latent: str = "normal", clip: float | None = 3.0) -> torch.Tensor:
    """Project z onto the latent distribution's support, in place, and return it.

    ``uniform``: clamp to [-1, 1], the support (what Yeh et al. did; ``clip`` is ignored).
    ``normal``: N(0, I) has unbounded support; each coordinate is clamped to [-clip, clip]
    (``clip=None`` disables it).  See ``inpaint.CompleteConfig.clip``.
    """
    if latent == "uniform":
        return z.clamp_(-1.0, 1.0)
    if latent == "normal":
        return z if clip is None else z.clamp_(-clip, clip)
    raise GanfillError(f"unknown latent distribution {latent!r}: choose one of {', '.join(LATENTS)}")


# ----------------------------------------------------------------------------------- inference copies


class _NHWCLinear(nn.Module):
    """z (N, Z) -> (N, C, 4, 4) channels_last: a 4x4 transposed convolution of a 1x1 input as one matmul."""

    def __init__(self, conv: nn.ConvTranspose2d):
        super().__init__()
        c_in, c_out, kh, kw = conv.weight.shape  # (Z, C, 4, 4)
        self.shape = (kh, kw, c_out)
        weight = conv.weight.detach().permute(0, 2, 3, 1).reshape(c_in, kh * kw * c_out)  # (Z, (ky, kx, c))
        bias = conv.bias.detach() if conv.bias is not None else torch.zeros(c_out, dtype=weight.dtype, device=weight.device)
        self.weight = nn.Parameter(weight, requires_grad=False)
        self.bias = nn.Parameter(bias.repeat(kh * kw), requires_grad=False)  # (ky, kx, c) order

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        flat = torch.addmm(self.bias, z.flatten(1), self.weight)  # (N, 4*4*C)
        return flat.view(len(z), *self.shape).permute(0, 3, 1, 2)  # (N, C, 4, 4), NHWC in memory


class _NHWCHead(nn.Module):
    """(N, C, k, k) -> logits (N,): a k x k convolution to one output of a k x k map, as one matmul over NHWC."""

    def __init__(self, conv: nn.Conv2d):
        super().__init__()
        _, c, kh, kw = conv.weight.shape  # (1, C, k, k)
        self.weight = nn.Parameter(conv.weight.detach()[0].permute(1, 2, 0).reshape(kh * kw * c, 1), requires_grad=False)
        self.bias = nn.Parameter(conv.bias.detach(), requires_grad=False) if conv.bias is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.permute(0, 2, 3, 1).reshape(len(x), -1)  # (N, k*k*C): a view for channels_last input
        out = flat @ self.weight  # (N, 1)
        return (out + self.bias if self.bias is not None else out)[:, 0]  # (N,)


def subpixel_kernel(weight: torch.Tensor, *, padding: int, output_padding: int, in_size: int) -> tuple[torch.Tensor, tuple]:
    """The sub-pixel form of a square stride-2 transposed convolution with ``weight`` (C_in,
    C_out, k, k): a stride-1 kernel (4 * C_out, C_in, K, K) and its padding (left, right, top,
    bottom), such that ``pixel_shuffle(conv2d(pad(x), kernel), 2)`` equals the transposed
    convolution of an ``in_size`` x ``in_size`` input.

    Output pixel (2i + a, 2j + b) of the transposed convolution is a sum over input pixels
    (i + dy, j + dx) with small offsets; gathering, for every phase (a, b), the kernel taps of
    each offset gives an ordinary K x K convolution with ``4 * C_out`` outputs (phases fastest).
    """
    c_in, c_out, k, k2 = weight.shape
    if k != k2 or (in_size - 1) * 2 - 2 * padding + k + output_padding != 2 * in_size:
        raise ValueError("the transposed convolution does not exactly double the size")
    # tap ky of phase a reads input offset d = (a + p - ky) / 2 when that is an integer
    taps = [(a, ky, (a + padding - ky) // 2) for a in (0, 1) for ky in range(k) if (a + padding - ky) % 2 == 0]
    lo, hi = min(d for *_, d in taps), max(d for *_, d in taps)
    size = hi - lo + 1
    kernel = weight.new_zeros(c_out, 2, 2, c_in, size, size)  # (C_out, a, b, C_in, u, v)
    for a, ky, dy in taps:
        for b, kx, dx in taps:
            kernel[:, a, b, :, dy - lo, dx - lo] = weight[:, :, ky, kx].T
    return kernel.reshape(c_out * 4, c_in, size, size), (-lo, hi, -lo, hi)


def _subpixel_apply(x: torch.Tensor, kernel: torch.Tensor, bias: torch.Tensor | None, pad: tuple) -> torch.Tensor:
    if pad[0] == pad[1]:
        y = F.conv2d(x, kernel, bias, padding=pad[0])  # (N, 4*C_out, H, W)
    else:
        y = F.conv2d(F.pad(x, pad), kernel, bias)
    return F.pixel_shuffle(y, 2)  # (N, C_out, 2H, 2W)


class _SubPixel(nn.Module):
    """A stride-2 transposed convolution (G's last layer) in sub-pixel form (``subpixel_kernel``)."""

    def __init__(self, conv: nn.ConvTranspose2d, in_size: int):
        super().__init__()
        if conv.stride != (2, 2) or conv.dilation != (1, 1) or conv.groups != 1:
            raise ValueError("only stride-2 transposed convolutions have this form here")
        kernel, self.pad = subpixel_kernel(conv.weight.detach(), padding=conv.padding[0],
                                           output_padding=conv.output_padding[0], in_size=in_size)
        self.weight = nn.Parameter(kernel, requires_grad=False)
        bias = conv.bias.detach().repeat_interleave(4) if conv.bias is not None else None  # (C_out * 4,), phases fastest
        self.bias = nn.Parameter(bias, requires_grad=False) if bias is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _subpixel_apply(x, self.weight, self.bias, self.pad)


class _ConvWithSubPixelGrad(torch.autograd.Function):
    """conv2d(x, weight, bias, stride 2) whose input gradient (a stride-2 transposed convolution to
    the few input channels) is computed in sub-pixel form; frozen weights get no gradient."""

    @staticmethod
    def forward(ctx, x, weight, bias, padding, kernel, pad):
        ctx.kernel, ctx.pad = kernel, pad
        return F.conv2d(x, weight, bias, stride=2, padding=padding)

    @staticmethod
    def backward(ctx, grad):
        grad_x = _subpixel_apply(grad, ctx.kernel, None, ctx.pad) if ctx.needs_input_grad[0] else None
        return grad_x, None, None, None, None, None


class _FirstConv(nn.Module):
    """D's first layer (a stride-2 convolution of the 3-channel image): the same forward, a
    faster input gradient (sub-pixel form of its transposed convolution)."""

    def __init__(self, conv: nn.Conv2d, in_size: int):
        super().__init__()
        if conv.stride != (2, 2) or conv.dilation != (1, 1) or conv.groups != 1 or conv.padding[0] != conv.padding[1]:
            raise ValueError("only square stride-2 convolutions have this form here")
        k, p = conv.kernel_size[0], conv.padding[0]
        out_size = (in_size + 2 * p - k) // 2 + 1
        kernel, self.pad = subpixel_kernel(conv.weight.detach(), padding=p, in_size=out_size,
                                           output_padding=in_size - ((out_size - 1) * 2 - 2 * p + k))
        self.padding = p
        self.weight = nn.Parameter(conv.weight.detach(), requires_grad=False)
        self.bias = nn.Parameter(conv.bias.detach(), requires_grad=False) if conv.bias is not None else None
        self.kernel = nn.Parameter(kernel, requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _ConvWithSubPixelGrad.apply(x, self.weight, self.bias, self.padding, self.kernel, self.pad)


def _fold_batch_norm(fast: nn.Module) -> None:
    """Fold every eval-mode batch norm into the convolution before it (an exact per-channel affine map)."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    for seq in [m for m in fast.modules() if isinstance(m, nn.Sequential)]:
        items = list(seq.named_children())
        for (name, conv), (bn_name, bn) in zip(items, items[1:]):
            if isinstance(conv, (nn.Conv2d, nn.ConvTranspose2d)) and isinstance(bn, nn.BatchNorm2d):
                setattr(seq, name, fuse_conv_bn_eval(conv, bn, transpose=isinstance(conv, nn.ConvTranspose2d)))
                setattr(seq, bn_name, nn.Identity())


def _rewrite_generator(fast: nn.Module) -> None:
    """The dcgan generator's first and last layers in their faster equivalent forms (see module docstring)."""
    project = getattr(fast, "project", None)
    if isinstance(project, nn.Sequential) and isinstance(project[0], nn.Unflatten) and isinstance(project[1], nn.ConvTranspose2d):
        conv = project[1]
        if conv.kernel_size == (4, 4) and conv.stride == (1, 1) and conv.padding == (0, 0):
            project[0], project[1] = nn.Identity(), _NHWCLinear(conv)
    body = getattr(fast, "body", None)
    if isinstance(body, nn.Sequential):
        convs = [i for i, m in enumerate(body) if isinstance(m, nn.ConvTranspose2d)]
        if convs:
            last = convs[-1]
            in_size = fast.config.resolution // 2
            try:
                body[last] = _SubPixel(body[last], in_size)
            except ValueError:
                pass  # not of the form: keep the transposed convolution


def _rewrite_discriminator(fast: nn.Module) -> None:
    """The dcgan discriminator's head (a 4x4 convolution of the 4x4 map to one logit) as a matmul,
    and the first layer's input gradient in sub-pixel form."""
    body = getattr(fast, "body", None)
    if isinstance(body, nn.Sequential) and len(body) and isinstance(body[0], nn.Conv2d):
        try:
            body[0] = _FirstConv(body[0], fast.config.resolution)
        except ValueError:
            pass  # not of the form: keep the convolution
    head = getattr(fast, "head", None)
    if isinstance(head, nn.Sequential) and len(head) == 2 and isinstance(head[0], nn.Conv2d) and isinstance(head[1], nn.Flatten):
        conv = head[0]
        if conv.out_channels == 1 and conv.stride == (1, 1) and conv.padding == (0, 0) and conv.groups == 1:
            fast.head = _NHWCHead(conv)


def inference_copy(module: nn.Module, runtime: Runtime = Runtime()) -> nn.Module:
    """A frozen copy of G or D for inference: eval mode, batch norm folded, generator layers
    rewritten (see the module docstring), weights on ``runtime.device`` in ``runtime.dtype``,
    channels_last on the CPU.  The original is untouched (not even its mode)."""
    fast = copy.deepcopy(module).eval().requires_grad_(False)
    _fold_batch_norm(fast)
    if hasattr(fast, "project"):  # a generator
        _rewrite_generator(fast)
    else:
        _rewrite_discriminator(fast)
    fast = fast.to(device=runtime.device, dtype=runtime.dtype)
    if runtime.device.type == "cpu":
        fast = fast.to(memory_format=torch.channels_last)
    return fast.requires_grad_(False)


class DCGANPrior:
    """A DCGAN generator/discriminator pair as a ``Prior``.

    G: z (N, z_dim) -> (N, C, R, R); D: images -> logits (N,).  Both are copied for inference
    (``inference_copy``) once, at construction: G and D themselves are never changed.
    domain: how images are brought into the model's square.  runtime: device and precision of
    the network layers (decode and realism_logits still take and return float32).
    latent: the distribution G was trained with, ``normal`` (N(0, I): every ganfill model) or
    ``uniform`` (U[-1, 1], Yeh et al.'s models).  E: an encoder of z trained for this G
    (``models.Encoder``), or None.
    """

    def __init__(self, G: nn.Module, D: nn.Module, *, domain: Domain = Domain(), runtime: Runtime = Runtime(),
                 latent: str = "normal", E: nn.Module | None = None):
        if latent not in LATENTS:
            raise GanfillError(f"unknown latent distribution {latent!r}: choose one of {', '.join(LATENTS)}")
        cfg = G.config
        self.z_dim, self.resolution, self.channels = int(cfg.z_dim), int(cfg.resolution), int(cfg.channels)
        self.config, self.domain, self.runtime, self.latent = cfg, domain, runtime, latent
        self._G, self._D = inference_copy(G, runtime), inference_copy(D, runtime)
        self._E = inference_copy(E, runtime) if E is not None else None

    @classmethod
    def from_loaded(cls, loaded, runtime: Runtime = Runtime()) -> "DCGANPrior":
        """From what ``checkpoint.load`` returns (with its encoder, when it has one)."""
        return cls(loaded.G, loaded.D, domain=loaded.domain, runtime=runtime, E=getattr(loaded, "E", None))

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

    @torch.no_grad()
    def encode(self, images: torch.Tensor, masks: torch.Tensor) -> torch.Tensor | None:
        if self._E is None:
            return None
        return self._E(self._layout(images), self._layout(masks)).float()  # (N, z_dim)


class OnePass:
    """A context encoder (``models.ContextEncoder``) for inference: the CNN that predicts the
    whole image from the known pixels in one pass, no search.

    The network is an inference copy (``inference_copy``: frozen, batch norm folded, weights in
    the runtime's dtype); ``predict`` takes and returns float32.
    """

    def __init__(self, CE: nn.Module, *, domain: Domain = Domain(), runtime: Runtime = Runtime()):
        cfg = CE.config
        self.resolution, self.channels = int(cfg.resolution), int(cfg.channels)
        self.config, self.domain, self.runtime = cfg, domain, runtime
        self._CE = inference_copy(CE, runtime)

    @classmethod
    def from_loaded(cls, loaded, runtime: Runtime = Runtime()) -> "OnePass":
        """From what ``checkpoint.load_ce`` returns."""
        return cls(loaded.CE, domain=loaded.domain, runtime=runtime)

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
