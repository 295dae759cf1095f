"""The configs that rebuild each network (torch-free: the command line reads them without importing torch)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from numbers import Integral

from ganfill.core.checks import integer
from ganfill.core.constants import RESOLUTIONS
from ganfill.core.errors import GanfillError

ARCHS = ("dcgan", "paper", "gan")
LIMITS = {"z_dim": 4096, "g_width": 1024, "d_width": 1024, "channels": 4}  # the largest sane value of each
CE_WIDTH = 4 * LIMITS["g_width"]  # the largest width, bottleneck and adv_width of a context encoder


def valid_resolution(resolution) -> None:
    """A model's side: one of ``RESOLUTIONS``."""
    if isinstance(resolution, bool) or not isinstance(resolution, Integral) or resolution not in RESOLUTIONS:
        raise GanfillError(f"impossible resolution {resolution}: choose one of {', '.join(map(str, RESOLUTIONS))}")


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild G and D; saved with every checkpoint.

    arch: ``dcgan`` or ``paper``.  resolution: 32, 64 or 128 (square images).
    z_dim: size of the latent vector (100 in both source documents).
    g_width / d_width: channels of G's last hidden layer / D's first layer (64 in DCGAN);
    each step towards 4x4 doubles them.  channels: image channels (3, RGB).
    Every field is checked for type and range (``LIMITS``): a config comes from the command line,
    options.json or a checkpoint's metadata, and z_dim 1e9 would try to allocate terabytes.
    """

    arch: str = "dcgan"
    resolution: int = 64
    z_dim: int = 100
    g_width: int = 64
    d_width: int = 64
    channels: int = 3

    def __post_init__(self):
        if not isinstance(self.arch, str) or self.arch not in ARCHS:
            raise GanfillError(f"unknown preset {self.arch!r}: choose one of {', '.join(ARCHS)}")
        valid_resolution(self.resolution)
        for name, hi in LIMITS.items():
            integer(getattr(self, name), name, lo=1, hi=hi)

    @property
    def n_up(self) -> int:
        """Number of stride-2 layers between 4x4 and the full resolution."""
        return int(math.log2(self.resolution // 4))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        if not isinstance(d, dict):
            raise GanfillError(f"a model config must be a JSON object, got {type(d).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise GanfillError(f"model config has unknown fields {sorted(unknown)}: was it written by a newer ganfill?")
        return cls(**d)


@dataclass(frozen=True)
class CEConfig:
    """Everything needed to rebuild a ``ContextEncoder``; saved with its weights.

    resolution: 32, 64 or 128.  channels: image channels (3).  width: channels of the
    encoder's first layer and of the decoder's last hidden one, doubled at each step towards
    4x4 (64: 64-128-256-512, Pathak et al.'s).  bottleneck: size of the channel-wise fully
    connected code between them (Pathak et al.: 4000; 256 keeps the shipped file at 20 MB in
    fp16, 4000 would be 10x that).  adv_width: width of the DCGAN discriminator of the
    adversarial loss (training only, never shipped; 32 keeps it from costing more than the
    network it trains).
    """

    resolution: int = 64
    channels: int = 3
    width: int = 64
    bottleneck: int = 256
    adv_width: int = 32

    def __post_init__(self):
        valid_resolution(self.resolution)
        integer(self.channels, "channels", lo=1, hi=LIMITS["channels"])
        for name in ("width", "bottleneck", "adv_width"):
            integer(getattr(self, name), name, lo=1, hi=CE_WIDTH)

    @property
    def n_up(self) -> int:
        return int(math.log2(self.resolution // 4))

    def discriminator(self) -> ModelConfig:
        """The config of the adversarial loss's discriminator (a dcgan D of ``adv_width``)."""
        return ModelConfig(resolution=self.resolution, channels=self.channels, d_width=self.adv_width)

    to_dict = ModelConfig.to_dict

    @classmethod
    def from_dict(cls, d: dict) -> CEConfig:
        return ModelConfig.from_dict.__func__(cls, d)
