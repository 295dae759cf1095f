"""Every way of filling a hole behind one interface, ``Inpainter``, and the registry of modes.

``load_inpainter(spec, mode=...)`` is what ``ganfill inpaint``, ``ganfill evaluate``, the demo,
the web page and the Python API call: uint8 RGB images (N, R, R, 3) in the model's square
and bool known-pixel maps (N, R, R) in, a ``Completion`` (uint8) out.

``MODES``, named by what they give the user (``register_mode`` adds one):

* ``sharp``: the latent search (``search.complete``): one realistic completion that agrees
  with the context, the paper's method.
* ``faithful``: close to what was there: the search's sample with the coarse structure
  of a context encoder's prediction (``search.faithful_fill``; the mean of its answers for the
  image and its mirror image, ``OnePass.mirror_mean``), which also guides the search's start
  (the encoder of z sees it in the hole, ``search.complete``'s ``guide``); needs the GAN and
  a context encoder trained on the same images.
* ``fast``: the context encoder alone, one forward pass (Pathak et al.).
* ``closest``: the closest to what was there, at a few hundred milliseconds per image: the
  search, then the generator adapted to each image from z^ (``adapt.adapt``, after Pan et
  al.'s deep generative prior), with the context encoder's faithful fill deep inside large
  holes when the model has one (``adapt.near_weights``).
* ``telea``, ``navier-stokes``, ``biharmonic``, ``mean``: the classical baselines
  (``baselines``), which need no model at all.

The seeding rule: the starting z of an image is drawn from a generator seeded by ``seed`` and
the image's *known content* (its known pixels and the mask itself, ``latent_seed``), never by
its file name, its index or its batch.  So the same image, mask and seed give the same
completion from every front end, and the hole's old content (a grey fill, the original
pixels) does not matter.  Images of one batch do not influence each other (eval-mode
networks, per-image loss sums, element-wise Adam), except through early stopping
(``CompleteConfig.patience``), which stops a whole batch at once.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import torch

from ganfill.core.checks import seed as check_seed
from ganfill.core.constants import BLENDS
from ganfill.core.errors import GanfillError, GanfillTypeError
from ganfill.core.images import to_tensor, to_uint8
from ganfill.core.runtime import Runtime
from ganfill.data.domain import Domain
from ganfill.inpainting.adapt import AdaptConfig, adapt, mix, near_weights
from ganfill.inpainting.baselines import BASELINES
from ganfill.inpainting.blend import blend, paste
from ganfill.inpainting.config import CompleteConfig, check_config
from ganfill.inpainting.search import FAITHFUL_BLUR, FAITHFUL_DETAIL, Result, check_prior, complete, faithful_fill
from ganfill.models import files as checkpoint
from ganfill.models.prior import Adaptable, OnePass, Prior
from ganfill.models.registry import Model


def latent_seed(seed: int, image: np.ndarray, known: np.ndarray) -> int:
    """A 63-bit seed from ``seed``, the known pixels of uint8 ``image`` (R, R, 3) and the bool
    ``known`` map (R, R): the hole's content is zeroed first, so it never changes the seed."""
    assert image.dtype == np.uint8 and image.shape[:2] == known.shape, (image.dtype, image.shape, known.shape)
    digest = hashlib.blake2b(digest_size=8)
    digest.update(int(seed).to_bytes(8, "little", signed=True))
    digest.update(np.ascontiguousarray(np.where(known[..., None], image, 0)).tobytes())
    digest.update(np.packbits(known).tobytes())
    return int.from_bytes(digest.digest(), "little") >> 1


def initial_z(prior: Prior, images: np.ndarray, known: np.ndarray, *, restarts: int, seed: int) -> torch.Tensor:
    """(N, restarts, z_dim): each image's starting latents, drawn by the seeding rule above."""
    return torch.stack(
        [
            prior.sample_z(restarts, generator=torch.Generator().manual_seed(latent_seed(seed, x, k)))
            for x, k in zip(images, known)
        ]
    )


@dataclass
class Completion:
    """What ``complete_images`` returns.

    fake: uint8 (N, R, R, 3), what was blended into the hole: the best fake G(z^) of each image
        (sharp mode), the context encoder's prediction (fast), their combination (faithful).
    completed: blend method -> uint8 (N, R, R, 3), the fill blended into the hole (known pixels
        exact).  result: the search's ``inpainting.search.Result`` (z^, loss curves, frames), None in
        the fast mode (no search).
    search_seconds: wall time of the search (or of the network); blend_seconds: per blend method.
    """

    fake: np.ndarray
    completed: dict[str, np.ndarray]
    result: Result | None
    search_seconds: float
    blend_seconds: dict[str, float] = field(default_factory=dict)


def _tensors(images: np.ndarray, known: np.ndarray, *, resolution: int, channels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Checked uint8 images (N, R, R, C) and bool known maps (N, R, R) -> x (N, C, R, R) in [-1, 1], m (N, 1, R, R):
    anything else (a list, None, no image at all) is a one-line error, a GanfillTypeError for the wrong type."""
    r = resolution
    for name, value in (("images", images), ("known", known)):
        if not isinstance(value, np.ndarray):
            raise GanfillTypeError(f"{name} must be a numpy array (np.stack a list of images), got {type(value).__name__}")
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != (r, r, channels):
        raise GanfillError(f"images must be uint8 (N, {r}, {r}, {channels}) for this model, got {images.dtype} {images.shape}")
    if known.shape != images.shape[:3] or known.dtype != bool:
        raise GanfillError(f"known must be bool (N, {r}, {r}) like the images, got {known.dtype} {known.shape}")
    if len(images) == 0:
        raise GanfillError("no images to complete: images holds 0 of them")
    return to_tensor(images), torch.from_numpy(np.ascontiguousarray(known)).float()[:, None]


def _check_blends(blends: tuple[str, ...]) -> None:
    if isinstance(blends, str) or not isinstance(blends, (tuple, list)):
        raise GanfillTypeError(f"blends must be a tuple of names ({', '.join(BLENDS)}), got {blends!r}")
    unknown = [b for b in blends if b not in BLENDS]
    if unknown or not blends:
        raise GanfillError(f"unknown blend {unknown[0] if unknown else '(none)'}: choose from {', '.join(BLENDS)}")


def blend_fill(fill: torch.Tensor, images: np.ndarray, known: np.ndarray, *, blends: tuple[str, ...]) -> tuple[dict, dict]:
    """A fill (N, C, R, R) float in [-1, 1] blended into uint8 ``images`` (N, R, R, 3) whose bool
    ``known`` maps are True on known pixels: ({blend: uint8 (N, R, R, 3)}, {blend: seconds})."""
    _check_blends(blends)
    x, m = _tensors(images, known, resolution=images.shape[1], channels=images.shape[3])
    return _blended(fill.cpu(), x, m, blends)


def _blended(fill: torch.Tensor, x: torch.Tensor, m: torch.Tensor, blends: tuple[str, ...]) -> tuple[dict, dict]:
    completed, seconds = {}, {}
    for method in dict.fromkeys(blends):
        t0 = time.perf_counter()
        completed[method] = to_uint8(blend(fill, x, m, method=method))
        seconds[method] = time.perf_counter() - t0
    return completed, seconds


def _search(
    prior: Prior,
    images: np.ndarray,
    known: np.ndarray,
    x: torch.Tensor,
    m: torch.Tensor,
    *,
    config: CompleteConfig,
    seed: int,
    callback,
    guide: torch.Tensor | None = None,
) -> tuple[Result, float]:
    config = config.resolved(prior)  # the number of restarts this model's start gets
    z0 = initial_z(prior, images, known, restarts=config.restarts, seed=seed)  # (N, restarts, z_dim)
    t0 = time.perf_counter()
    result = complete(prior, x, m, config=config, z_init=z0, guide=guide, callback=callback)
    return result, time.perf_counter() - t0


def _check_pair(prior: Prior, cnn: OnePass | None) -> None:
    if cnn is not None and (cnn.resolution, cnn.channels) != (prior.resolution, prior.channels):
        raise GanfillError(
            f"the context encoder is {cnn.resolution}x{cnn.resolution} but the GAN is "
            f"{prior.resolution}x{prior.resolution}: give the pair trained on the same images"
        )


def _checked(prior, images, known, *, cnn, config, seed, blends) -> tuple[torch.Tensor, torch.Tensor, int]:
    """What the search-based modes check before they start (a one-line error for each): the
    prior, the config, the seed, the blends, the GAN and context encoder as a pair, the images;
    returns ``_tensors``' x and m and the seed."""
    check_prior(prior)
    check_config(config)
    seed = check_seed(seed)
    _check_blends(blends)
    _check_pair(prior, cnn)
    return *_tensors(images, known, resolution=prior.resolution, channels=prior.channels), seed


def complete_images(
    prior: Prior,
    images: np.ndarray,
    known: np.ndarray,
    *,
    cnn: OnePass | None = None,
    detail: float = FAITHFUL_DETAIL,
    blur: float = FAITHFUL_BLUR,
    config: CompleteConfig = CompleteConfig(),
    seed: int = 0,
    blends: tuple[str, ...] = ("poisson",),
    callback: Callable[[int, torch.Tensor, torch.Tensor], bool | None] | None = None,
) -> Completion:
    """Complete uint8 ``images`` (N, R, R, 3) whose ``known`` (N, R, R) bool maps are True on
    known pixels by the latent search (every image needs a hole): the sharp mode, or with the
    context encoder ``cnn`` the faithful one, its low frequencies (below ``blur``) under the
    sample's detail times ``detail`` (``inpainting.search.faithful_fill``; ``fake`` is then that
    combined fill and ``search_seconds`` includes the CNN), the search started from the encoder
    of z's guess for the image with the network's mean in the hole (``search.complete``'s
    ``guide``).  ``blends``: ``poisson`` and/or ``paste`` (the search runs once; each blend is
    applied to the same fill).  ``callback`` is
    ``inpainting.search.complete``'s.  Deterministic for a given seed (see the module docstring)."""
    x, m, seed = _checked(prior, images, known, cnn=cnn, config=config, seed=seed, blends=blends)
    t0 = time.perf_counter()
    mean = cnn.mirror_mean(x, m).cpu() if cnn is not None else None  # (N, C, R, R)
    network = time.perf_counter() - t0
    # with a network, the encoder's start sees its mean in the hole (the guide): G's sample then
    # has the mean's structure, and its detail lies on the mean's features, not beside them
    guide = paste(mean, x, m) if mean is not None else None
    result, search = _search(prior, images, known, x, m, config=config, seed=seed, callback=callback, guide=guide)
    fill = result.fake.cpu()
    if mean is not None:
        t0 = time.perf_counter()
        fill = faithful_fill(mean, fill, blur=blur, detail=detail)
        search += network + time.perf_counter() - t0
    completed, seconds = _blended(fill, x, m, blends)
    return Completion(fake=to_uint8(fill), completed=completed, result=result, search_seconds=search, blend_seconds=seconds)


def adapt_images(
    prior: Prior,
    images: np.ndarray,
    known: np.ndarray,
    *,
    cnn: OnePass | None = None,
    config: CompleteConfig = CompleteConfig(),
    adaptation: AdaptConfig = AdaptConfig(),
    seed: int = 0,
    blends: tuple[str, ...] = ("poisson",),
    callback: Callable[[int, torch.Tensor, torch.Tensor], bool | None] | None = None,
) -> Completion:
    """The closest mode: the latent search (``complete_images``' seeding), then ``prior``'s
    generator adapted to each image from its z^ (``adapt.adapt``).  Without a context encoder
    the adapted sample is the fill; with ``cnn``, each blend of it is mixed with the same blend
    of its faithful fill (``search.faithful_fill`` with ``adaptation.detail``): the adapted
    sample near the known pixels, the faithful fill deep inside large holes
    (``adapt.near_weights``; known pixels stay exact).  ``callback`` sees the search's steps,
    then the adaptation's numbered on after them; a stop ends both (the search's sample is then
    the fill).  ``result`` is the search's; ``search_seconds`` covers search, adaptation and network."""
    x, m, seed = _checked(prior, images, known, cnn=cnn, config=config, seed=seed, blends=blends)
    stopped = [False]

    def on_search(step, fake, losses):
        stopped[0] = bool(callback(step, fake, losses))
        return stopped[0]

    result, seconds = _search(prior, images, known, x, m, config=config, seed=seed, callback=on_search if callback else None)
    t0 = time.perf_counter()
    near = result.fake
    if not stopped[0]:
        base = result.steps_run

        def on_adapt(step, fake, losses):
            return callback(base + step, fake, losses) if step else None

        near = adapt(prior, x, m, z_init=result.z, config=adaptation, callback=on_adapt if callback else None).fake
    near = near.cpu()
    far = faithful_fill(cnn.mirror_mean(x, m).cpu(), near, detail=adaptation.detail) if cnn is not None else None
    seconds += time.perf_counter() - t0
    if far is None:
        completed, blend_seconds = _blended(near, x, m, blends)
        return Completion(
            fake=to_uint8(near), completed=completed, result=result, search_seconds=seconds, blend_seconds=blend_seconds
        )
    w = near_weights(m, near=adaptation.near)
    completed, blend_seconds = {}, {}
    for method in dict.fromkeys(blends):
        t1 = time.perf_counter()
        completed[method] = to_uint8(mix(blend(near, x, m, method=method), blend(far, x, m, method=method), w))
        blend_seconds[method] = time.perf_counter() - t1
    return Completion(
        fake=to_uint8(mix(near, far, w)), completed=completed, result=result, search_seconds=seconds, blend_seconds=blend_seconds
    )


def predict_images(cnn: OnePass, images: np.ndarray, known: np.ndarray, *, blends: tuple[str, ...] = ("poisson",)) -> Completion:
    """The fast mode: the context encoder's one-pass prediction blended into the hole (no search:
    ``result`` is None, ``search_seconds`` the network's time).  Deterministic."""
    _check_blends(blends)
    x, m = _tensors(images, known, resolution=cnn.resolution, channels=cnn.channels)
    t0 = time.perf_counter()
    pred = cnn.predict(x, m).cpu()  # (N, C, R, R)
    seconds = time.perf_counter() - t0
    completed, blend_seconds = _blended(pred, x, m, blends)
    return Completion(fake=to_uint8(pred), completed=completed, result=None, search_seconds=seconds, blend_seconds=blend_seconds)


# ---- the interface ----------------------------------------------------------------------


@runtime_checkable
class Inpainter(Protocol):
    """A way of filling holes, as every front end sees it.

    resolution, channels, domain: the square the images must be in (and how a photo is brought
    into it).  mode: the registry name.  blends: how the fill goes into the hole, one entry of
    ``Completion.completed`` each (``poisson``, ``paste``).  steps: search iterations per image
    (0 without a search), for progress bars.
    """

    mode: str
    resolution: int
    channels: int
    domain: Domain
    blends: tuple[str, ...]
    steps: int

    def __call__(
        self,
        images: np.ndarray,
        known: np.ndarray,
        *,
        seed: int = 0,
        callback: Callable[[int, torch.Tensor, torch.Tensor], bool | None] | None = None,
    ) -> Completion:
        """Fill the holes of uint8 ``images`` (N, R, R, C) where bool ``known`` (N, R, R) is False."""

    def describe(self) -> dict:
        """What a result's record notes of the inpainter: mode, model files, runtime, settings."""


@dataclass
class Sharp:
    """The sharp mode: the latent search of ``prior`` (``complete_images``)."""

    prior: Prior
    config: CompleteConfig = CompleteConfig()
    blends: tuple[str, ...] = ("poisson",)
    sources: dict = field(default_factory=dict)  # model files, for ``describe``
    mode = "sharp"

    def __post_init__(self):
        _check_blends(self.blends)
        self.config = check_config(self.config).resolved(check_prior(self.prior))
        self.resolution, self.channels, self.domain = self.prior.resolution, self.prior.channels, self.prior.domain
        self.steps = self.config.num_steps

    def __call__(self, images, known, *, seed=0, callback=None) -> Completion:
        return complete_images(self.prior, images, known, config=self.config, seed=seed, blends=self.blends, callback=callback)

    def describe(self) -> dict:
        return {"mode": self.mode, **self.sources, "runtime": self.prior.runtime.to_dict(), "config": asdict(self.config)}


@dataclass
class Faithful(Sharp):
    """The faithful mode: the latent search, then the context encoder ``cnn``'s coarse structure
    under the sample's detail times ``detail`` (``complete_images`` with ``cnn``)."""

    cnn: OnePass | None = None
    detail: float = FAITHFUL_DETAIL
    blur: float = FAITHFUL_BLUR
    mode = "faithful"

    def __post_init__(self):
        super().__post_init__()
        if self.cnn is None:
            raise GanfillError("the faithful mode needs a GAN and a context encoder")

    def __call__(self, images, known, *, seed=0, callback=None) -> Completion:
        return complete_images(
            self.prior,
            images,
            known,
            cnn=self.cnn,
            detail=self.detail,
            blur=self.blur,
            config=self.config,
            seed=seed,
            blends=self.blends,
            callback=callback,
        )

    def describe(self) -> dict:
        return super().describe() | {"detail": self.detail, "blur": self.blur}


@dataclass
class Closest(Sharp):
    """The closest mode: the latent search, then the generator adapted to each image, composed
    with the context encoder ``cnn``'s faithful fill when there is one (``adapt_images``)."""

    cnn: OnePass | None = None
    adaptation: AdaptConfig = AdaptConfig()
    mode = "closest"

    def __post_init__(self):
        super().__post_init__()
        if not isinstance(self.prior, Adaptable):
            raise GanfillError(
                f"--mode closest adapts the generator to each image, which this model's prior "
                f"({type(self.prior).__name__}) cannot do: use --mode sharp"
            )
        self.steps = self.config.num_steps + self.adaptation.steps

    def __call__(self, images, known, *, seed=0, callback=None) -> Completion:
        return adapt_images(
            self.prior,
            images,
            known,
            cnn=self.cnn,
            config=self.config,
            adaptation=self.adaptation,
            seed=seed,
            blends=self.blends,
            callback=callback,
        )

    def describe(self) -> dict:
        return super().describe() | {"adaptation": asdict(self.adaptation)}


@dataclass
class Fast:
    """The fast mode: the context encoder ``cnn`` alone, one pass (``predict_images``)."""

    cnn: OnePass
    blends: tuple[str, ...] = ("poisson",)
    sources: dict = field(default_factory=dict)
    mode = "fast"
    steps = 0

    def __post_init__(self):
        _check_blends(self.blends)
        self.resolution, self.channels, self.domain = self.cnn.resolution, self.cnn.channels, self.cnn.domain

    def __call__(self, images, known, *, seed=0, callback=None) -> Completion:
        return predict_images(self.cnn, images, known, blends=self.blends)

    def describe(self) -> dict:
        return {"mode": self.mode, **self.sources, "runtime": self.cnn.runtime.to_dict()}


@dataclass
class Classical:
    """A classical method ``fill(image uint8 (R, R, C), hole bool (R, R)) -> uint8`` (``baselines``):
    it fills the hole itself and keeps the known pixels, so every blend gives its result."""

    mode: str
    fill: Callable[[np.ndarray, np.ndarray], np.ndarray]
    resolution: int
    channels: int = 3
    domain: Domain = Domain()
    blends: tuple[str, ...] = ("poisson",)
    sources: dict = field(default_factory=dict)
    steps = 0

    def __post_init__(self):
        _check_blends(self.blends)

    def __call__(self, images, known, *, seed=0, callback=None) -> Completion:
        x, _ = _tensors(images, known, resolution=self.resolution, channels=self.channels)
        t0 = time.perf_counter()
        out = np.stack([self.fill(image, ~k) for image, k in zip(images, known)])  # the hole's content never read
        seconds = time.perf_counter() - t0
        return Completion(
            fake=out,
            completed={b: out for b in self.blends},
            result=None,
            search_seconds=seconds,
            blend_seconds={b: 0.0 for b in self.blends},
        )

    def describe(self) -> dict:
        return {"mode": self.mode, **self.sources}


# ---- the registry of modes --------------------------------------------------------------


class Sources:
    """What a mode may draw on: the model a spec names and, for a GAN, the context encoder that
    goes with it (``cnn`` when given, else the one beside it, ``NAME-ce``), loaded when asked for;
    ``settings``: the mode's own settings (``Mode.settings``, defaults filled in)."""

    def __init__(
        self,
        model: Model,
        *,
        mode: str,
        cnn: str | os.PathLike | Model | None = None,
        config: CompleteConfig,
        runtime: Runtime,
        blends: tuple[str, ...],
        settings: dict | None = None,
    ):
        self.model, self.mode, self._cnn, self.config, self.runtime, self.blends = model, mode, cnn, config, runtime, blends
        self.settings = dict(settings or {})

    @property
    def is_gan(self) -> bool:
        return self.model.kind != "context-encoder"

    def companion(self) -> Path | None:
        """The context encoder's file: ``cnn``, or the one beside a GAN's file (None: none)."""
        if isinstance(self._cnn, Model):
            return self._cnn.path
        if self._cnn is not None:
            return checkpoint.resolve(self._cnn)
        return checkpoint.context_encoder_for(self.model.path) if self.is_gan else None

    def gan(self) -> Model:
        if not self.is_gan:
            raise GanfillError(
                f"{self.model.path} is a context encoder, which only completes in the fast mode: "
                f"give the GAN it goes with for --mode {self.mode}"
            )
        return self.model

    def context_encoder(self) -> Model:
        if not self.is_gan:
            return self.model
        path = self.companion()
        if path is None:
            raise GanfillError(
                f"--mode {self.mode} needs a context encoder and {self.model.path.name} has none beside it: "
                "train one with `ganfill train-ce` and give it with --cnn, or use --mode sharp"
            )
        ce = self._cnn if isinstance(self._cnn, Model) else checkpoint.load(path, kind="context-encoder")
        if ce.config.resolution != self.model.config.resolution:
            raise GanfillError(
                f"the context encoder {ce.path.name} is {ce.config.resolution}px but the GAN is "
                f"{self.model.config.resolution}px: give the pair trained on the same images"
            )
        return ce

    def files(self, *models: Model) -> dict:
        return {
            "checkpoint": str(self.model.path),
            "model": self.model.config.to_dict(),
            "domain": self.model.domain.to_dict(),
            "context_encoder": next((str(m.path) for m in models if m is not self.model), None),
        }


def _sharp(s: Sources) -> Inpainter:
    gan = s.gan()
    return Sharp(gan.prior(s.runtime), s.config, s.blends, s.files(gan))


def _faithful(s: Sources) -> Inpainter:
    gan, ce = s.gan(), s.context_encoder()
    return Faithful(gan.prior(s.runtime), s.config, s.blends, s.files(gan, ce), cnn=ce.predictor(s.runtime), **s.settings)


def _closest(s: Sources) -> Inpainter:
    gan = s.gan()
    ce = s.context_encoder() if s.companion() is not None else None
    sources = s.files(gan, *([ce] if ce is not None else []))
    return Closest(gan.prior(s.runtime), s.config, s.blends, sources, cnn=ce.predictor(s.runtime) if ce is not None else None)


def _fast(s: Sources) -> Inpainter:
    ce = s.context_encoder()
    return Fast(ce.predictor(s.runtime), s.blends, s.files(ce))


def _classical(name: str) -> Callable[[Sources], Inpainter]:
    def build(s: Sources) -> Inpainter:
        m = s.model
        return Classical(name, BASELINES[name], m.config.resolution, m.config.channels, m.domain, s.blends, s.files())

    return build


@dataclass(frozen=True)
class Mode:
    """A registered mode: ``build(sources) -> Inpainter``, a few words for help texts, and the
    numeric ``settings`` it takes with their defaults (name -> value; ``Sources.settings`` holds
    them, a caller may give others: ``load_inpainter(..., settings=)``, ``ganfill evaluate``'s
    ``METHOD@name=value``)."""

    name: str
    build: Callable[[Sources], Inpainter]
    help: str = ""
    settings: dict[str, float] = field(default_factory=dict)


MODES: dict[str, Mode] = {
    "sharp": Mode("sharp", _sharp, "the latent search, one realistic completion"),
    "faithful": Mode(
        "faithful",
        _faithful,
        "close to what was there (search + context encoder)",
        {"detail": FAITHFUL_DETAIL, "blur": FAITHFUL_BLUR},
    ),
    "fast": Mode("fast", _fast, "the context encoder alone, one pass"),
    "closest": Mode("closest", _closest, "the closest to what was there: the generator adapts to each image (slower)"),
    **{name: Mode(name, _classical(name), "a classical method, no model") for name in BASELINES},
}
LEARNT = ("sharp", "faithful", "fast")  # the modes of ganfill's own models


def register_mode(
    name: str, build: Callable[[Sources], Inpainter], *, help: str = "", settings: dict[str, float] | None = None
) -> None:
    """Add (or replace) the mode ``name``: ``build`` makes its Inpainter from the ``Sources``;
    ``settings``: the numeric settings it takes (name -> default), read from ``Sources.settings``."""
    if not isinstance(name, str) or not name or name == "auto" or "@" in name:
        raise ValueError("a mode needs a name other than 'auto', without '@'")
    MODES[name] = Mode(name, build, help, dict(settings or {}))


def mode_settings(mode: str, given: dict[str, float] | None = None) -> dict[str, float]:
    """The settings of the registered ``mode``: its defaults with the ``given`` ones in their
    place; a setting it does not take, or a value that is not a finite number, is a GanfillError."""
    defaults = MODES[mode].settings
    given = dict(given or {})
    unknown = [k for k in given if k not in defaults]
    if unknown:
        takes = f"it takes {', '.join(defaults)}" if defaults else "it takes none"
        raise GanfillError(f"the {mode} mode has no setting {unknown[0]!r}: {takes}")
    for k, v in given.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise GanfillError(f"the {mode} mode's {k} must be a finite number, got {v!r}")
    return defaults | {k: float(v) for k, v in given.items()}


def register_baseline(name: str, fill: Callable[[np.ndarray, np.ndarray], np.ndarray], *, help: str = "") -> None:
    """Add the classical method ``name``, ``fill(image uint8 (H, W, C), hole bool (H, W)) ->
    uint8`` (known pixels kept, the hole's content never read), as a mode of its own."""
    BASELINES[name] = fill
    register_mode(name, _classical(name), help=help or "a classical method, no model")


def auto_mode(model: Model, *, has_context_encoder: bool) -> str:
    """What ``auto`` means: ``fast`` for a context encoder; for a GAN ``faithful`` when it has a
    context encoder (1-2 dB more faithful than the sharp mode on held-out faces and Pokemon,
    see the README's Modes), else ``sharp``."""
    if model.kind == "context-encoder":
        return "fast"
    return "faithful" if has_context_encoder else "sharp"


def load_inpainter(
    spec: str | os.PathLike | Model,
    mode: str = "auto",
    *,
    cnn: str | os.PathLike | Model | None = None,
    config: CompleteConfig = CompleteConfig(),
    runtime: Runtime = Runtime(),
    blends: tuple[str, ...] = ("poisson",),
    settings: dict[str, float] | None = None,
) -> Inpainter:
    """The Inpainter of ``mode`` (a name of ``MODES`` or ``auto``) for the model ``spec`` names
    (anything ``models.files.resolve`` takes, or a loaded ``Model``); ``cnn``: the context
    encoder of the faithful and fast modes (default: the one beside the GAN); ``settings``:
    the mode's own settings that differ from its defaults (``mode_settings``).  A mode that
    needs what the model lacks is a one-line error."""
    if not isinstance(mode, str) or (mode != "auto" and mode not in MODES):
        raise GanfillError(f"unknown mode {mode!r}: choose one of auto, {', '.join(MODES)}")
    check_config(config)
    model = spec if isinstance(spec, Model) else checkpoint.load(spec)
    if model.kind == "context-encoder" and mode in ("sharp", "faithful"):
        raise GanfillError(
            f"{model.path} is a context encoder, which only completes in the fast mode: "
            f"give the GAN it goes with for --mode {mode}"
        )
    sources = Sources(model, mode=mode, cnn=cnn, config=config, runtime=runtime, blends=tuple(blends))
    if mode == "auto":
        mode = sources.mode = auto_mode(model, has_context_encoder=sources.companion() is not None)
    sources.settings = mode_settings(mode, settings)
    return MODES[mode].build(sources)
