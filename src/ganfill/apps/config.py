"""The apps' names and the demo's settings (torch-free: the command line reads them without importing torch)."""

from __future__ import annotations

from dataclasses import dataclass

from ganfill.core.checks import Span, check_options, option
from ganfill.core.constants import MAX_RESTARTS, MAX_SEARCH_STEPS, SEEDS

DEFAULT_MODELS = ("glyphs32", "faces64", "faces128")  # the built-in sections, in report order
IMAGES_MODEL = "faces64"  # the model for --images when none is named
# A name standing for several shipped models of one subject, lowest resolution first: each photo
# gets the one its face's size calls for (``apps.fill.pick``); ``ganfill.repair``'s default,
# ``ganfill inpaint faces``.
SIZED = {"faces": ("faces64", "faces128")}


@dataclass(frozen=True)
class DemoConfig:
    """How much work the demo does; the defaults take about 15 s on 2 CPU cores.

    steps: Adam steps of the latent search (``CompleteConfig.num_steps``; None: the model's
        default, 10 from its encoder's z, else 100; the paper: 1500).
    restarts: z per image, the best kept (``CompleteConfig.restarts``).
    glyphs: characters completed in the glyphs32 section.
    seed: seeds z (and random masks) per image.
    """

    steps: int | None = option(None, "Adam steps of the latent search per start", span=Span(1, MAX_SEARCH_STEPS))
    restarts: int = option(2, "z per image, the best kept", span=Span(1, MAX_RESTARTS))
    glyphs: int = option(24, "characters completed in the glyphs32 section", span=Span(1, 1000))
    seed: int = option(0, "seeds z (and random masks) per image", span=Span(*SEEDS))

    def __post_init__(self):
        check_options(self)
