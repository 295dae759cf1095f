"""Type and range checks of config values (from the command line, options.json or a
checkpoint's metadata), each a one-line GanfillError that names the value and its range."""

from __future__ import annotations

import math
from collections.abc import Callable
from numbers import Integral, Real

from ganfill.core.errors import GanfillError


def integer(value, name: str, *, lo: int, hi: int | None = None) -> int:
    """``value`` as an int: an integer (not a bool, not 2.5 or "3") from ``lo`` to ``hi`` (None: no upper bound)."""
    if not isinstance(value, Integral) or isinstance(value, bool):
        raise GanfillError(f"{name} must be an integer, got {value!r}")
    if value < lo or (hi is not None and value > hi):
        span = f"at least {lo}" if hi is None else f"from {lo} to {hi}"
        raise GanfillError(f"{name} must be {span}, got {value}")
    return int(value)


def number(value, name: str, ok: Callable[[float], bool], span: str) -> float:
    """``value`` as a float: a finite real number (never NaN or infinity) for which ``ok`` holds;
    ``span`` says which (``"greater than 0"``, ``"in [0, 1)"``)."""
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value) or not ok(float(value)):
        raise GanfillError(f"{name} must be a finite number {span}, got {value!r}")
    return float(value)


def flag(value, name: str) -> bool:
    """``value`` as a bool, which it must be (a JSON ``"false"`` string is not ``False``)."""
    if not isinstance(value, bool):
        raise GanfillError(f"{name} must be true or false, got {value!r}")
    return value
