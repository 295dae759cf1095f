"""Exponential moving averages of a network's weights (the EMA generator, the EMA context encoder)."""

from __future__ import annotations

import copy

import torch
from torch import nn

from ganfill.models.dcgan import Generator


def ema_copy(G: Generator) -> Generator:
    """A frozen copy of G to hold the exponential moving average of its weights."""
    G_ema = copy.deepcopy(G).eval()
    G_ema.requires_grad_(False)
    return G_ema


@torch.no_grad()
def ema_update(G_ema: nn.Module, G: nn.Module, *, decay: float = 0.999) -> None:
    """G_ema <- decay * G_ema + (1 - decay) * G for parameters; buffers (BN statistics) are copied."""
    for p_ema, p in zip(G_ema.parameters(), G.parameters()):
        p_ema.lerp_(p.detach().to(p_ema.dtype), 1.0 - decay)
    for b_ema, b in zip(G_ema.buffers(), G.buffers()):
        b_ema.copy_(b)


def warmed_decay(decay: float, updates: int) -> float:
    """The EMA decay after ``updates`` updates: ``min(decay, (1 + t) / (10 + t))``, so early
    checkpoints are not dominated by the initial weights."""
    return min(decay, (1 + updates) / (10 + updates))
