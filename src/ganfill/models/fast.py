"""Inference copies of the networks: what ``models.prior.DCGANPrior`` (the prior that
``inpainting.search.complete`` drives) and ``models.prior.OnePass`` run.

``inference_copy`` makes an *inference copy* of G or D: frozen, eval mode, batch norm folded
into the layer before it, weights in the runtime's dtype (bf16 where the hardware has it, see
``core.runtime``), channels_last on the CPU, and two layers rewritten into faster equivalents
(the same function up to rounding, checked by the tests):

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

import torch
import torch.nn.functional as F
from torch import nn

from ganfill.core.runtime import Runtime

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
        kernel, self.pad = subpixel_kernel(
            conv.weight.detach(), padding=conv.padding[0], output_padding=conv.output_padding[0], in_size=in_size
        )
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
        kernel, self.pad = subpixel_kernel(
            conv.weight.detach(), padding=p, in_size=out_size, output_padding=in_size - ((out_size - 1) * 2 - 2 * p + k)
        )
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
