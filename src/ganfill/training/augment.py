"""DCGAN training: one loop, as the source documents describe, that can stop and resume exactly.

One *iteration* (the unit of ``steps`` and ``checkpoint_every``) is ``d_steps`` discriminator
updates followed by ``g_steps`` generator updates. The research paper's fix for a
discriminator loss that collapses to zero is 1 D step : 2 G steps, which is the default (it is
also what carpedm20/DCGAN-tensorflow, the code behind Yeh et al.'s models, does).

Randomness is a pure function of (seed, iteration, rank): the data order of epoch e is a
permutation seeded by (seed, e), and every iteration draws its z and flips from a generator
seeded by (seed, iteration, rank). The RNG state at a checkpoint is therefore its step number,
and ``--resume`` reproduces the uninterrupted run's losses exactly.

Run folder::

    RUN/options.json              resolved model and training options, data path
    RUN/log.jsonl                 one line per iteration: losses, D's mean verdicts, images seen,
                                  seconds since this process started training (for throughput)
    RUN/loss.png                  G and D loss curves (as the paper's Figure 4)
    RUN/samples/step-NNNNNNNN.png sample grid from a fixed z at every checkpoint
    RUN/checkpoints/step-NNNNNNNN/{model,state}.safetensors + config.json
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

# ---- augmentation -----------------------------------------------------------------------


def diff_augment(x: torch.Tensor, policy: tuple[str, ...], generator: torch.Generator) -> torch.Tensor:
    """DiffAugment (Zhao et al., NeurIPS 2020) of images (N, C, H, W) in [-1, 1], differentiable in x.

    ``color``: random brightness (+U[-0.5, 0.5]), saturation (x U[0, 2] around the pixel's
    channel mean) and contrast (x U[0.5, 1.5] around the image mean); ``translation``: a shift
    of up to 1/8 of the side in each direction, zeros (mid-grey) coming in; ``cutout``: a
    zeroed square of half the side at a random place.  Every image draws its own parameters
    from ``generator`` (a CPU generator: resumed runs draw the same).
    """
    n, _, h, w = x.shape
    dev = x.device

    def rand(*shape) -> torch.Tensor:
        return torch.rand(*shape, generator=generator).to(dev)

    if "color" in policy:
        x = x + (rand(n, 1, 1, 1) - 0.5)
        mean = x.mean(dim=1, keepdim=True)
        x = (x - mean) * (rand(n, 1, 1, 1) * 2) + mean
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = (x - mean) * (rand(n, 1, 1, 1) + 0.5) + mean
    rows, cols = torch.arange(h, device=dev), torch.arange(w, device=dev)
    if "translation" in policy:
        sy, sx = int(h * 0.125 + 0.5), int(w * 0.125 + 0.5)
        dy = (rand(n) * (2 * sy + 1)).long() - sy  # (N,) in [-sy, sy]
        dx = (rand(n) * (2 * sx + 1)).long() - sx
        padded = F.pad(x, (1, 1, 1, 1))  # a zero border: out-of-image pixels read it
        iy = (rows[None, :] + dy[:, None] + 1).clamp(0, h + 1)  # (N, H)
        ix = (cols[None, :] + dx[:, None] + 1).clamp(0, w + 1)  # (N, W)
        batch = torch.arange(n, device=dev)[:, None, None]
        x = padded.permute(0, 2, 3, 1)[batch, iy[:, :, None], ix[:, None, :]].permute(0, 3, 1, 2)  # (N, C, H, W)
    if "cutout" in policy:
        ch, cw = int(h * 0.5 + 0.5), int(w * 0.5 + 0.5)
        cy = (rand(n) * (h + 1 - ch % 2)).long()  # the square's centre
        cx = (rand(n) * (w + 1 - cw % 2)).long()
        inside_y = ((rows[None, :] - cy[:, None] + ch // 2) >= 0) & ((rows[None, :] - cy[:, None] + ch // 2) < ch)
        inside_x = ((cols[None, :] - cx[:, None] + cw // 2) >= 0) & ((cols[None, :] - cx[:, None] + cw // 2) < cw)
        keep = ~(inside_y[:, :, None] & inside_x[:, None, :])  # (N, H, W)
        x = x * keep[:, None].to(x.dtype)
    return x
