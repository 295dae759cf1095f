"""The latent search's settings (torch-free: the command line reads them without importing torch)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from numbers import Integral
from typing import TYPE_CHECKING

from ganfill.core.checks import Span, check_options, number, option
from ganfill.core.constants import LATENT_CLIP, MAX_RESTARTS, MAX_SEARCH_STEPS
from ganfill.core.errors import GanfillError, GanfillTypeError

if TYPE_CHECKING:
    from ganfill.models.prior import Prior

CONTEXTUAL_KINDS = ("weighted", "l1", "l2")
MAX_WINDOW = 255  # the importance window's largest side (twice the largest model resolution is already everything)
SCHEDULES = ("constant", "cosine")
INITS = ("auto", "encoder", "prior")


# ----------------------------------------------------------------------------------- config


@dataclass(frozen=True)
class CompleteConfig:
    """Every knob of the latent search: the paper's loss and a faster schedule.

    num_steps, lr, restarts: how long, how fast and from how many starts z is searched; None
        takes the defaults of the search's start (``START_DEFAULTS``: the random-start ones
        and the encoder-start ones were each chosen on held-out faces kept apart from the
        reports', see benchmarks/search_schedule.py and the faces64 model card).
        ``PAPER_SCHEDULE`` is Yeh et al.'s (1500 steps at a constant lr 0.01, one start).
    lam: weight of the perceptual loss (the paper's 0.003, with the contextual loss a per-image sum).
    betas: Adam's; schedule: ``constant`` (the paper) or ``cosine`` (lr decays to 0 at num_steps).
    contextual: ``weighted`` (the paper), ``l1`` or ``l2``; window: the importance window (7).
    restarts: independent z per image searched as one batch; the lowest final loss is kept.
    patience, tol: stop once no image's best loss improved by ``tol * |best|`` for ``patience``
        steps (None: run every step, as the paper).
    clip: z is clamped to [-clip, clip] per coordinate at the start and after every step (the
        analogue of the paper's clip to the uniform prior's support; None: no projection).
    record_every: keep a progress frame (and call ``callback``) every k steps (0: never).
    init: where restart 0 starts: ``encoder`` (the model's encoder's guess of z), ``prior``
        (a random z, as the paper) or ``auto`` (the encoder where the model has one).
    """

    num_steps: int | None = option(None, "Adam steps of the search per start", span=Span(0, MAX_SEARCH_STEPS))
    lam: float = option(0.003, "weight of the perceptual loss (the paper's lambda)", span=Span(0, None))
    lr: float | None = option(None, "Adam's learning rate on z", span=Span(0, None, lo_open=True))
    betas: tuple[float, float] = option((0.9, 0.999), "Adam's betas on z, two numbers in [0, 1)")
    schedule: str = option("cosine", "learning rate: constant (the paper) or cosine (decays to 0)", choices=SCHEDULES)
    contextual: str = option(
        "weighted", "contextual loss: weighted (the paper's importance weights), l1 or l2", choices=CONTEXTUAL_KINDS
    )
    window: int = option(7, "side of the importance weights' window, an odd number", span=Span(1, MAX_WINDOW))
    restarts: int | None = option(None, "z per image searched together, the best kept", span=Span(1, MAX_RESTARTS))
    patience: int | None = option(None, "stop after this many steps without improvement (default: never)", span=Span(1, None))
    tol: float = option(1e-4, "the relative improvement --patience waits for", span=Span(0, None))
    clip: float | None = option(LATENT_CLIP, "clamp z to [-clip, clip] after every step", span=Span(0, None, lo_open=True))
    record_every: int = option(0, "keep a progress frame every k steps (0: never)", span=Span(0, MAX_SEARCH_STEPS))
    init: str = option("auto", "the first start: encoder (the model's guess of z), prior (random) or auto", choices=INITS)

    def __post_init__(self):
        w = self.window
        if isinstance(w, Integral) and not isinstance(w, bool) and (w % 2 == 0 or not 1 <= w <= MAX_WINDOW):
            raise GanfillError(f"window must be an odd number from 1 to {MAX_WINDOW}, got {w}")
        check_options(self, name=lambda n: n)
        if isinstance(self.betas, (str, bytes)) or not hasattr(self.betas, "__len__") or len(self.betas) != 2:
            raise GanfillTypeError(f"betas must be two numbers in [0, 1), got {self.betas!r}")
        for b in self.betas:
            number(b, "betas", lambda v: 0 <= v < 1, "in [0, 1)")

    def resolved(self, prior: Prior) -> CompleteConfig:
        """The concrete settings for ``prior``: ``init="auto"`` becomes ``encoder`` when the prior
        has an encoder (else ``prior``); ``num_steps``, ``lr`` and ``restarts`` left None take
        ``START_DEFAULTS[init]``."""
        init = self.init if self.init != "auto" else ("encoder" if prior.has_encoder else "prior")
        if init == "encoder" and not prior.has_encoder:
            raise GanfillError("this model has no encoder of z: train one with `ganfill train-encoder`, or use --init prior")
        given = {k: getattr(self, k) for k in START_DEFAULTS[init] if getattr(self, k) is not None}
        merged = START_DEFAULTS[init] | given
        return replace(
            self, init=init, num_steps=int(merged["num_steps"]), lr=float(merged["lr"]), restarts=int(merged["restarts"])
        )


def check_config(config) -> CompleteConfig:
    """``config`` itself if it is a ``CompleteConfig``; anything else (a dict, None) is a
    GanfillTypeError that says how to make one."""
    if not isinstance(config, CompleteConfig):
        raise GanfillTypeError(
            f"config must be a CompleteConfig, got {type(config).__name__}: e.g. CompleteConfig(num_steps=100) "
            "(from ganfill.inpainting.config)"
        )
    return config


# The settings that depend on where the search starts (measured: see CompleteConfig.num_steps).
START_DEFAULTS = {"prior": {"num_steps": 100, "lr": 0.1, "restarts": 2}, "encoder": {"num_steps": 10, "lr": 0.05, "restarts": 1}}
PRIOR_STEPS, ENCODER_STEPS = START_DEFAULTS["prior"]["num_steps"], START_DEFAULTS["encoder"]["num_steps"]

# Yeh et al.'s schedule as published (with bamos/dcgan-completion's learning rate): 1500 steps
# of Adam at a constant lr 0.01, one restart.
PAPER_SCHEDULE = CompleteConfig(num_steps=1500, lr=0.01, schedule="constant", restarts=1)

# With an encoder of z (amortised inversion) the search starts near the answer and a few steps
# refine it (measured, see num_steps and the README's Speed section).
ENCODER_SCHEDULE = CompleteConfig(num_steps=ENCODER_STEPS, init="encoder")
