"""Model kinds: every model file records its kind, and one registry rebuilds any of them.

A *kind* is a ``Model`` subclass: the name stored in the file (``kind``), the config class that
rebuilds its networks, the networks by *role* (the tensor prefix in the file: ``G``, ``D``,
``E`` for a GAN, ``CE`` for a context encoder), and what inference needs from it
(``prior`` for the latent search, ``predictor`` for a one-pass CNN).  ``models.files`` saves,
loads, exports and describes every kind through this one interface, and ``models.cards``
writes every kind's model card from ``card_rows``.

A new kind is one file with one ``Model`` subclass and one ``register_kind`` call (or one
line in ``BUILT_IN``); see tests/plugins/fake_prior.py for a complete one in 20 lines.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ganfill.core.errors import GanfillError
from ganfill.data.domain import Domain

if TYPE_CHECKING:
    from torch import nn

    from ganfill.core.runtime import Runtime

# kind name -> "module:class", imported when a file of that kind is first read
BUILT_IN = {"gan": "ganfill.models.dcgan:GANModel", "context-encoder": "ganfill.models.context_encoder:ContextEncoderModel"}
LEGACY_KIND = "gan"  # files written before kinds were recorded are GANs


class Model:
    """What a model file rebuilds: its networks by role (eval mode, float32), the config that
    built them, the domain its images were prepared in, where it came from and how it was trained.

    Subclasses set ``kind``, ``config_class`` (``from_dict`` / ``to_dict``), ``title`` (a few
    words: "DCGAN", "context encoder") and ``roles`` (the networks every file of the kind holds)
    and implement ``networks``; ``config_key`` is the metadata entry of the config.
    """

    kind: ClassVar[str]
    title: ClassVar[str]
    config_class: ClassVar[type]
    config_key: ClassVar[str] = "config"
    roles: ClassVar[tuple[str, ...]]

    def __init__(
        self,
        config: Any,
        nets: dict[str, nn.Module],
        *,
        domain: Domain = Domain(),
        path: Path | None = None,
        info: dict | None = None,
        meta: dict | None = None,
    ):
        missing = [r for r in self.roles if r not in nets]
        if missing:
            raise GanfillError(f"a {self.title} needs its {', '.join(missing)} network(s)")
        self.config, self.nets, self.domain = config, dict(nets), domain
        self.path = Path(path) if path is not None else Path(f"(unsaved {self.kind})")
        self.info = info or {}  # config.json of a training checkpoint, {} for a bare model file
        self.meta = meta or {}  # the file's other metadata, JSON-decoded (step, images_seen, train, ...)
        self._inference: dict = {}  # (what, runtime) -> its inference copy, built once

    @property
    def resolution(self) -> int:
        """The side of the model's square (its config's)."""
        return int(self.config.resolution)

    @property
    def training_options(self) -> dict:
        """The options it was trained with: a training checkpoint's (its config.json) or a model
        file's (its metadata); {} where neither says."""
        return dict(self.info.get("train") or self.meta.get("train") or {})

    def inference(self, what: str, runtime: Runtime, build):
        """``build()`` once per (what, runtime): a model's inference copies are frozen, so every
        request of a server (and every mode) can share them."""
        key = (what, runtime)
        if key not in self._inference:
            self._inference[key] = build()
        return self._inference[key]

    @classmethod
    def networks(cls, config: Any, roles: set[str], meta: dict) -> dict[str, nn.Module]:
        """Freshly built networks for ``config``: every role of ``roles`` (the prefixes a file
        holds) that this kind knows, to load the file's tensors into."""
        raise NotImplementedError

    def file_meta(self) -> dict:
        """Metadata entries of this kind beyond its config and domain (JSON-encodable values)."""
        return {}

    def prior(self, runtime: Runtime) -> Any:
        """The ``models.prior.Prior`` of the latent search."""
        raise GanfillError(f"{self.path.name} is a {self.title}: it has no generator to search or sample; give a GAN model here")

    def predictor(self, runtime: Runtime) -> Any:
        """The one-pass predictor (``models.prior.OnePass``) of the fast mode."""
        raise GanfillError(
            f"{self.path.name} is a {self.title}, not a context encoder: give a model trained with `ganfill train-ce`"
        )

    def card_rows(self, sizes: dict[str, int]) -> list[str]:
        """Rows of the model card's "Model" table (``sizes``: parameters per role)."""
        return [f"| parameters | {', '.join(f'{r} {n:,}' for r, n in sizes.items())} |"]


_KINDS: dict[str, type[Model] | str] = dict(BUILT_IN)


def register_kind(cls: type[Model]) -> type[Model]:
    """Make ``cls`` the kind named ``cls.kind`` (usable as a class decorator)."""
    if not (isinstance(cls, type) and issubclass(cls, Model)) or not isinstance(getattr(cls, "kind", None), str):
        raise TypeError("register_kind takes a Model subclass with a `kind` name")
    _KINDS[cls.kind] = cls
    return cls


def kind_class(name: str) -> type[Model]:
    """The ``Model`` subclass of kind ``name``; a one-line error for a kind nobody registered."""
    entry = _KINDS.get(name)
    if entry is None:
        raise GanfillError(
            f"unknown model kind {name!r} (known: {', '.join(sorted(_KINDS))}): "
            "was the file written by a newer ganfill, or by a plugin that is not loaded?"
        )
    if isinstance(entry, str):
        module, _, attr = entry.partition(":")
        entry = _KINDS[name] = getattr(importlib.import_module(module), attr)
    return entry


def kinds() -> list[str]:
    return sorted(_KINDS)
