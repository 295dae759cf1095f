"""Type and range checks of config values (from the command line, options.json, a checkpoint's
metadata or the Python API), each a one-line GanfillError that names the value and its range.

The options of a config dataclass carry their range, choices and help text in their field
(``option``), and ``check_options`` checks them: the command line builds its click options
(ranges and choices checked at parse time, shown in ``--help``) from the very same fields, so
the two never disagree.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from numbers import Integral, Real

from ganfill.core.constants import SEEDS
from ganfill.core.errors import GanfillError, GanfillTypeError


def integer(value, name: str, *, lo: int, hi: int | None = None) -> int:
    """``value`` as an int: an integer (not a bool, not 2.5 or "3") from ``lo`` to ``hi`` (None: no upper bound)."""
    if not isinstance(value, Integral) or isinstance(value, bool):
        raise GanfillTypeError(f"{name} must be an integer, got {value!r}")
    if value < lo or (hi is not None and value > hi):
        span = f"at least {lo}" if hi is None else f"from {lo} to {hi}"
        raise GanfillError(f"{name} must be {span}, got {value}")
    return int(value)


def seed(value, name: str = "seed") -> int:
    """A seed: an integer that fits in 64 signed bits (``constants.SEEDS``), what torch and the
    seeding rule of the search take."""
    return integer(value, name, lo=SEEDS[0], hi=SEEDS[1])


def number(value, name: str, ok: Callable[[float], bool], span: str) -> float:
    """``value`` as a float: a finite real number (never NaN or infinity) for which ``ok`` holds;
    ``span`` says which (``"greater than 0"``, ``"in [0, 1)"``)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise GanfillTypeError(f"{name} must be a finite number {span}, got {value!r}")
    if not math.isfinite(value) or not ok(float(value)):
        raise GanfillError(f"{name} must be a finite number {span}, got {value!r}")
    return float(value)


def flag(value, name: str) -> bool:
    """``value`` as a bool, which it must be (a JSON ``"false"`` string is not ``False``)."""
    if not isinstance(value, bool):
        raise GanfillTypeError(f"{name} must be true or false, got {value!r}")
    return value


def _g(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


@dataclass(frozen=True)
class Span:
    """The numbers an option takes: from ``lo`` to ``hi`` (None: unbounded on that side), each
    end included unless ``lo_open`` / ``hi_open``."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False

    def holds(self, v: float) -> bool:
        lo_ok = self.lo is None or (v > self.lo if self.lo_open else v >= self.lo)
        hi_ok = self.hi is None or (v < self.hi if self.hi_open else v <= self.hi)
        return lo_ok and hi_ok

    def text(self) -> str:
        """``greater than 0``, ``at least 1``, ``in [0, 1)``, ``from 1 to 100``."""
        if self.lo is not None and self.hi is not None:
            if self.lo_open or self.hi_open:
                return f"in {'(' if self.lo_open else '['}{_g(self.lo)}, {_g(self.hi)}{')' if self.hi_open else ']'}"
            return f"from {_g(self.lo)} to {_g(self.hi)}"
        if self.lo is not None:
            return f"greater than {_g(self.lo)}" if self.lo_open else f"at least {_g(self.lo)}"
        if self.hi is not None:
            return f"less than {_g(self.hi)}" if self.hi_open else f"at most {_g(self.hi)}"
        return "of any size"


def option(default, help: str, *, span: Span | None = None, choices: tuple[str, ...] | None = None):
    """A field of a config dataclass with what the command line and ``check_options`` need: its
    ``help`` text, the ``span`` of a number or the ``choices`` of a name."""
    return field(default=default, metadata={"help": help, "span": span, "choices": choices})


def kind_of(f) -> str:
    """The type of a config field as a word: ``int``, ``float``, ``bool``, ``str`` or ``tuple``
    (``int | None`` is ``int``; annotations are strings under ``from __future__ import annotations``)."""
    text = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    return text.split("|")[0].split("[")[0].strip()


def check_options(config, *, name: Callable[[str], str] = lambda n: "--" + n.replace("_", "-")) -> None:
    """Check every field of the dataclass ``config`` declared with ``option``: booleans are
    booleans, integers integers, numbers finite, each in its span, names among their choices.
    A field whose type allows None (``int | None``) may be None.  ``name``: how messages name a field."""
    for f in fields(config):
        value, meta = getattr(config, f.name), f.metadata
        if "help" not in meta or (value is None and "None" in str(f.type)):
            continue
        label, kind = name(f.name), kind_of(f)
        if kind == "bool":
            flag(value, label)
        elif meta["choices"] is not None:
            if not isinstance(value, str) or value not in meta["choices"]:
                raise GanfillError(f"unknown {label} {value!r}: choose one of {', '.join(meta['choices'])}")
        elif meta["span"] is not None:
            span = meta["span"]
            if kind == "int":
                integer(value, label, lo=span.lo if span.lo is not None else -math.inf, hi=span.hi)
            else:
                number(value, label, span.holds, span.text())
