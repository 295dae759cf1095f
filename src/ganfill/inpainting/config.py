"""The latent search's settings (torch-free: the command line reads them without importing torch)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ganfill.core.constants import LATENT_CLIP
from ganfill.core.errors import GanfillError

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

    num_steps: int | None = None
    lam: float = 0.003
    lr: float | None = None
    betas: tuple[float, float] = (0.9, 0.999)
    schedule: str = "cosine"
    contextual: str = "weighted"
    window: int = 7
    restarts: int | None = None
    patience: int | None = None
    tol: float = 1e-4
    clip: float | None = LATENT_CLIP
    record_every: int = 0
    init: str = "auto"

    def __post_init__(self):
        def bad(what: str) -> None:
            raise GanfillError(f"inpainting config: {what}")

        if self.num_steps is not None and int(self.num_steps) < 0:
            bad(f"num_steps must be >= 0, got {self.num_steps}")
        if not 0 <= self.lam < math.inf:
            bad(f"lam must be a finite number >= 0, got {self.lam}")
        if self.lr is not None and not 0 < self.lr < math.inf:
            bad(f"lr must be a finite number > 0, got {self.lr}")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            bad(f"betas must be two numbers in [0, 1), got {self.betas}")
        if self.schedule not in SCHEDULES:
            bad(f"unknown schedule {self.schedule!r}: choose one of {', '.join(SCHEDULES)}")
        if self.contextual not in CONTEXTUAL_KINDS:
            bad(f"unknown contextual loss {self.contextual!r}: choose one of {', '.join(CONTEXTUAL_KINDS)}")
        if not 1 <= int(self.window) <= MAX_WINDOW or int(self.window) % 2 == 0:
            bad(f"window must be an odd number from 1 to {MAX_WINDOW}, got {self.window}")
        if self.restarts is not None and int(self.restarts) < 1:
            bad(f"restarts must be >= 1, got {self.restarts}")
        if self.patience is not None and int(self.patience) < 1:
            bad(f"patience must be >= 1 or None, got {self.patience}")
        if not 0 <= self.tol < math.inf:
            bad(f"tol must be a finite number >= 0, got {self.tol}")
        if self.clip is not None and not 0 < self.clip < math.inf:
            bad(f"clip must be > 0 or None, got {self.clip}")
        if int(self.record_every) < 0:
            bad(f"record_every must be >= 0, got {self.record_every}")
        if self.init not in INITS:
            bad(f"unknown init {self.init!r}: choose one of {', '.join(INITS)}")

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


# The settings that depend on where the search starts (measured: see CompleteConfig.num_steps).
START_DEFAULTS = {"prior": {"num_steps": 100, "lr": 0.1, "restarts": 2}, "encoder": {"num_steps": 10, "lr": 0.05, "restarts": 1}}
PRIOR_STEPS, ENCODER_STEPS = START_DEFAULTS["prior"]["num_steps"], START_DEFAULTS["encoder"]["num_steps"]

# Yeh et al.'s schedule as published (with bamos/dcgan-completion's learning rate): 1500 steps
# of Adam at a constant lr 0.01, one restart.
PAPER_SCHEDULE = CompleteConfig(num_steps=1500, lr=0.01, schedule="constant", restarts=1)

# With an encoder of z (amortised inversion) the search starts near the answer and a few steps
# refine it (measured, see num_steps and the README's Speed section).
ENCODER_SCHEDULE = CompleteConfig(num_steps=ENCODER_STEPS, init="encoder")
