"""The options of every training loop (torch-free: the command line reads them without importing torch)."""

from __future__ import annotations

from dataclasses import dataclass, fields

from ganfill.core.checks import Span, check_options, option
from ganfill.core.constants import MAX_BATCH, MAX_SAMPLES, MAX_TRAIN_STEPS, MAX_UPDATES, PRECISIONS, SEEDS
from ganfill.core.errors import GanfillError

# The options every training loop takes: help text (the command line's) and span or choices.
RUN_OPTIONS = {
    "steps": ("iterations to train for, in all (--resume and --init continue up to it)", Span(1, MAX_TRAIN_STEPS)),
    "batch_size": ("images per iteration (per process under torchrun)", Span(1, MAX_BATCH)),
    "lr": ("Adam's learning rate", Span(0, None, lo_open=True)),
    "beta1": ("Adam's beta1", Span(0, 1, hi_open=True)),
    "beta2": ("Adam's beta2", Span(0, 1, hi_open=True)),
    "flip": ("flip real images left-right at random", None),
    "checkpoint_every": ("iterations between checkpoints and sample grids", Span(1, MAX_TRAIN_STEPS)),
    "keep": ("training checkpoints kept, the newest (0: all)", Span(0, None)),
    "seed": ("seeds data order, noise, flips, masks and the fixed samples", Span(*SEEDS)),
    "precision": ("auto: bf16 only where the hardware runs it natively (CUDA, AVX-512 BF16 / AMX CPUs)", PRECISIONS),
    "channels_last": ("NHWC memory layout (faster for these convolutions on CPUs)", None),
    "ema_decay": ("moving average of the trained weights that is saved and used", Span(0, 1, hi_open=True)),
}


def run_option(name: str, default):
    """The field of option ``name`` of ``RUN_OPTIONS`` with ``default`` (each config its own default)."""
    help, span = RUN_OPTIONS[name]
    return option(default, help, choices=span) if isinstance(span, tuple) else option(default, help, span=span)


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    """The options every training loop here takes (``TrainConfig``, ``EncoderConfig``).

    steps: iterations to train for.  batch_size: images per iteration (per D step, per process).
    lr, beta1, beta2: Adam.  flip: random horizontal flips of real images.
    checkpoint_every: iterations between checkpoints and sample grids.
    keep: training checkpoints kept (sample grids are all kept); 0 keeps every checkpoint.
    seed: seeds data order, noise, flips, masks and the fixed samples.
    precision: ``auto`` picks bf16 autocast where the hardware runs it natively (AVX-512 BF16 /
        AMX CPUs, CUDA with bf16), else fp32; ``fp32`` and ``bf16`` force one.
    channels_last: NHWC memory layout (faster on CPU for these convolutions).
    Each is checked for type and range (``RUN_OPTIONS``; options come from the command line or
    options.json), and so are the options of each subclass declared with ``option``.
    """

    steps: int = run_option("steps", 1000)
    batch_size: int = run_option("batch_size", 64)
    lr: float = run_option("lr", 2e-4)
    beta1: float = run_option("beta1", 0.5)
    beta2: float = run_option("beta2", 0.999)
    flip: bool = run_option("flip", True)
    checkpoint_every: int = run_option("checkpoint_every", 1000)
    keep: int = run_option("keep", 3)
    seed: int = run_option("seed", 0)
    precision: str = run_option("precision", "auto")
    channels_last: bool = run_option("channels_last", True)

    def __post_init__(self):
        check_options(self)

    @classmethod
    def recorded(cls, recorded: dict, overrides: dict | None = None):
        """The options recorded in options.json or a model file's metadata (keys of other
        versions ignored), then ``overrides`` (e.g. a larger ``steps``)."""
        names = {f.name for f in fields(cls)}
        return cls(**({k: v for k, v in recorded.items() if k in names} | (overrides or {})))


@dataclass(frozen=True, kw_only=True)
class TrainConfig(RunOptions):
    """GAN training options (and ``RunOptions``'); every default is the source documents' or DCGAN's.

    steps: 20,000 (the report stopped at 50k for characters, 100k for Pokemon).
    batch_size: 64 as DCGAN.  lr, beta1, beta2: 0.0002, 0.5, 0.999 for both nets (Radford et
    al., the paper).  checkpoint_every: 2000 (the report).
    d_steps, g_steps: updates of D then G per iteration (paper: 1 and 2).
    ema_decay: moving average of G's weights used for samples and inpainting; warmed up as
        min(ema_decay, (1 + t) / (10 + t)) after t generator updates, so early checkpoints
        are not dominated by the initial weights.
    n_samples: images in each sample grid (from a fixed z).
    augment: differentiable augmentation of every image D sees, real and fake alike, in D's
        and G's losses (DiffAugment, Zhao et al. 2020; for small datasets): a comma-separated
        subset of ``color``, ``translation``, ``cutout`` (their paper's policy is all three),
        or empty (default: none).
    """

    steps: int = run_option("steps", 20_000)
    checkpoint_every: int = run_option("checkpoint_every", 2000)
    d_steps: int = option(1, "discriminator updates per iteration", span=Span(1, MAX_UPDATES))
    g_steps: int = option(2, "generator updates per iteration (the paper: 2)", span=Span(1, MAX_UPDATES))
    ema_decay: float = run_option("ema_decay", 0.999)
    n_samples: int = option(64, "images in each sample grid", span=Span(1, MAX_SAMPLES))
    augment: str = option("", "DiffAugment of every image D sees: a comma-separated subset of color, translation, cutout")

    def __post_init__(self):
        check_options(self)
        augment_policy(self.augment)  # validates

    @property
    def policy(self) -> tuple[str, ...]:
        return augment_policy(self.augment)


AUGMENTS = ("color", "translation", "cutout")


def augment_policy(text: str) -> tuple[str, ...]:
    """``"color,translation,cutout"`` -> ("color", "translation", "cutout"); "" -> ()."""
    policy = tuple(dict.fromkeys(t.strip() for t in str(text).split(",") if t.strip()))
    bad = [t for t in policy if t not in AUGMENTS]
    if bad:
        raise GanfillError(f"unknown augmentation {bad[0]!r} in --augment: use a comma-separated subset of {', '.join(AUGMENTS)}")
    return policy


@dataclass(frozen=True, kw_only=True)
class EncoderConfig(RunOptions):
    """Training options of an encoder of z (``models.encoder.Encoder``) for a fixed, frozen G (and ``RunOptions``').

    Each iteration takes a batch of ``batch_size``: a ``real_fraction`` of real images and the
    rest G's own samples G(z) (z ~ N(0, I) clamped to [-3, 3], so their z is known), each with
    a hole from ``data.masks.training_masks`` (every test mask kind and random boxes).  The encoder
    sees the known pixels and the mask and predicts z^; the loss is
    ``latent_weight * mean((z^ - z)^2)`` on G's samples (keeps z^ where the prior lives) plus
    ``pixel_weight * mean|G(z^) - x|`` over ALL pixels of both halves (the hole too: the
    encoder learns to guess what is missing, so the search starts near the answer).
    """

    steps: int = run_option("steps", 4000)
    lr: float = run_option("lr", 5e-4)
    beta1: float = run_option("beta1", 0.9)
    checkpoint_every: int = run_option("checkpoint_every", 500)
    real_fraction: float = option(0.5, "share of real images in a batch (the rest: G's samples)", span=Span(0, 1))
    latent_weight: float = option(1.0, "weight of the latent loss (z^ - z)^2 on G's samples", span=Span(0, None))
    pixel_weight: float = option(1.0, "weight of the pixel loss |G(z^) - x| on every image", span=Span(0, None))

    def __post_init__(self):
        check_options(self)
        if self.latent_weight + self.pixel_weight == 0:
            raise GanfillError("--latent-weight and --pixel-weight cannot both be 0: the encoder would learn nothing")


@dataclass(frozen=True, kw_only=True)
class CETrainConfig(RunOptions):
    """Training options of a ``models.context_encoder.ContextEncoder`` (and ``RunOptions``'): Pathak et al. 2016.

    Every iteration takes ``batch_size`` real images with holes (``masks``: ``mix``, the
    default, draws each from ``data.masks.training_masks``: every test mask kind and random boxes,
    so one model repairs any hole; or one mask kind of ``data.masks.MASKS`` for a specialist).
    The loss is ``(1 - adv_weight) * L_rec + adv_weight * L_adv``: L_rec the mean squared
    error over the hole's pixels, L_adv the non-saturating GAN loss of a dcgan discriminator
    that sees the completed image (the prediction pasted into the known pixels) against real
    images; Pathak et al. weigh them 0.999 and 0.001 and train with Adam 2e-4, beta1 0.5.
    ema_decay: the network that is saved and used is a moving average of the trained one's
    weights (warmed up as the GAN's EMA generator), which at a constant learning rate is the
    cheap way to the accuracy a decaying one would reach.
    """

    steps: int = run_option("steps", 8000)
    checkpoint_every: int = run_option("checkpoint_every", 1000)
    adv_weight: float = option(0.001, "weight of the adversarial loss (Pathak et al.: 0.001)", span=Span(0, 1, hi_open=True))
    masks: str = option(
        "mix", "the holes trained on: mix (every kind, one model for any hole) or one kind (center, pattern, random80, ...)"
    )
    ema_decay: float = run_option("ema_decay", 0.999)

    def __post_init__(self):
        from ganfill.data.masks import MASKS

        check_options(self)
        if self.masks != "mix" and self.masks not in MASKS:
            raise GanfillError(f"unknown --masks {self.masks!r}: choose mix or one of {', '.join(MASKS)}")
