"""ganfill: semantic image inpainting with a deep generative prior (Yeh et al., CVPR 2017).

Pipeline: data (prepare, glyphs) -> models (DCGAN presets) -> training -> inpainting -> evaluation
-> apps (cli, web); core holds the plumbing they share.
Tensor convention inside: NCHW float in [-1, 1]; masks are N1HW float with 1 = known pixel.
"""

from ganfill.core.constants import GANFILL_VERSION as __version__

__all__ = ["__version__", "load", "repair"]


def __getattr__(name: str):
    """``ganfill.repair`` and ``ganfill.load`` (``apps.api``), imported on first use so that
    ``import ganfill`` stays free of torch."""
    if name in ("repair", "load"):
        from ganfill.apps import api

        return getattr(api, name)
    raise AttributeError(f"module 'ganfill' has no attribute {name!r}")
