"""The demo's settings (torch-free: the command line reads them without importing torch)."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MODELS = ("glyphs32", "faces64")  # the built-in sections, in report order
IMAGES_MODEL = "faces64"  # the model for --images when none is named


@dataclass(frozen=True)
class DemoConfig:
    """How much work the demo does; the defaults take about 15 s on 2 CPU cores.

    steps: Adam steps of the latent search (``CompleteConfig.num_steps``; None: the model's
        default, 10 from its encoder's z, else 100; the paper: 1500).
    restarts: z per image, the best kept (``CompleteConfig.restarts``).
    glyphs: characters completed in the glyphs32 section.
    seed: seeds z (and random masks) per image.
    """

    steps: int | None = None
    restarts: int = 2
    glyphs: int = 24
    seed: int = 0
