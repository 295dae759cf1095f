"""`ganfill evaluate`: held-out images, every mask, ganfill against the classical baselines.

For each mask type (the same seeded masks for every method) the held-out images are completed
by ganfill and by the baselines, and each completion is scored against the original:

* ``METRICS`` (per image, uint8 RGB truth and test, bool hole map with True = missing):

  ``psnr_full``  PSNR in dB over the WHOLE image (every pixel and channel; known pixels are
                 exact for every method, so it rises with the known fraction).
  ``psnr_hole``  PSNR in dB over the HOLE's pixels only.  This is what Yeh et al.'s Table 1
                 reports: on CelebA 64x64 with the center mask, filling the hole with the mean
                 colour already reaches ~18.6 dB over the whole image and Telea ~24 dB, but
                 Telea only ~18 dB over the hole, against the paper's 19.4 dB.
  ``ssim``       structural similarity of the whole image (scikit-image, 7x7 window,
                 colour channels averaged), 1 = identical.
  ``l1_hole``    mean absolute error over the hole's pixels and channels, as a FRACTION of the
                 0..255 range (0.1 = 25.5 grey levels); tables show it in percent.

  Both PSNRs and SSIM are scikit-image's (``data_range=255``).  The PSNR of two identical
  images is infinite: the metric functions return ``inf``; every aggregate (and every number
  written to JSON) caps a per-image PSNR at ``PSNR_CAP`` = 100 dB before averaging (no uint8
  image up to 128x128 with any error at all reaches 100 dB, so the cap changes only exact
  matches).  Aggregates are means over images of the per-image values.

* ``method_names()``: ``ganfill`` (the latent search, then Poisson blending: the sharp mode) and
  ``ganfill-paste`` (the SAME search result G(z^) pasted into the hole: an ablation of Poisson
  blending that costs no second search), ``ganfill-random`` (the search from a random z, for
  models with an encoder), ``ganfill-faithful`` (the faithful mode: the sample's detail on a
  context encoder's coarse structure), ``context-encoder`` / ``context-encoder-paste`` (the
  CNN alone, one pass, Poisson-blended / pasted as Pathak et al. did; these three need a
  context encoder, ``NEEDS_CNN``), then the ``BASELINES``: OpenCV's ``telea`` and ``navier-stokes``
  (``cv2.inpaint``, radius 3), scikit-image's ``biharmonic`` and ``mean`` (the hole filled
  with the mean colour of the known pixels: the floor every method should beat).  Baselines
  never see the hole's content (it is zeroed) and every method keeps the known pixels exact.
  Seconds per image: wall time of the method over all images / number of images; the two
  ganfill methods both include the whole search (plus their blend).

* Face detection (an automated stand-in for the paper's "looks like a human face"): the
  fraction of completed images in which a frontal-face detector still finds a face, next to
  its rate on the originals (``faces_found``).  The detector is OpenCV's LBP frontal-face
  cascade as bundled and run by scikit-image (``skimage.data.lbp_frontal_face_cascade_filename``):
  OpenCV 5, which ``opencv-python-headless`` now resolves to, no longer ships
  ``CascadeClassifier`` nor ``cv2.data``'s Haar cascades.  Images are upsampled to 128x128 and
  padded by a quarter of their side with their edge pixels (aligned face crops fill the frame;
  the cascade needs some margin).  Only meaningful for faces.

* Detectability (a stand-in for "cannot tell repair from original"), one score per realism
  judge of ``judges.JUDGES`` (``register_judge`` adds one): the held-out accuracy of a
  classifier trained to tell completed images from originals, 50% = indistinguishable, 100% =
  every repair is obvious.  ``texture`` (``judges.detectability``): L2 logistic regression
  (scikit-learn) on texture statistics of the whole image (histograms of the colour gradient
  and Laplacian magnitudes, their mean log-energy and the fraction of exactly flat pixels in
  each cell of a 4x4 grid); it never sees a completed image and its original together (each
  repeat gives it the originals of one half of the images and the completions of the other,
  stratified 5-fold cross-validation).  ``cnn`` (``judges.cnn_detectability``): a small
  convolutional network trained from scratch on the box around the holes and the hole map,
  5 folds by image (an image's original and completion always on the same side).  The
  sanity reference: each judge on two disjoint halves of the originals (near 50%).  Near
  chance a score's standard error is about 50/sqrt(N) points: use 100 images or more.

* Methods with other settings: ``METHOD@name=value`` (``parse_method``) runs METHOD's mode with
  one of the numeric settings the mode registers (``inpainter.Mode.settings``) changed, e.g.
  ``ganfill-faithful@detail=1.2`` (a mode's name stands for its method: ``faithful@detail=1.2``).
  Every result records its ``mode``, ``blend``, resolved ``settings`` and whether the mode is a
  ``peer`` (a classical baseline or the context encoder alone), which is what
  ``tradeoff_figure`` (the perception-distortion picture: hole PSNR against each judge's
  detectability, a mode's setting swept as a curve) draws from.

The module's functions are pure (arrays in, arrays / dicts out) except ``write_report`` and
``run``, which write the run folder: ``results.md``, ``results.json``, ``figure.png``,
``tradeoff.png``, ``options.json``.
"""

from __future__ import annotations

import inspect
import json
import time
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from ganfill.core.constants import GANFILL_VERSION
from ganfill.core.errors import GanfillError
from ganfill.core.files import atomic_path
from ganfill.core.images import HOLE_GREY, save_image
from ganfill.core.runtime import Runtime
from ganfill.data.datasets import open_dataset
from ganfill.data.domain import to_domain
from ganfill.data.masks import MASKS, make_mask
from ganfill.data.reading import list_images, load_image
from ganfill.evaluation.judges import JUDGES, faces_found
from ganfill.evaluation.metrics import METRICS, PAPER_MASKS, PAPER_PSNR, PSNR_CAP, capped
from ganfill.inpainting.baselines import BASELINES
from ganfill.inpainting.config import CompleteConfig
from ganfill.inpainting.inpainter import LEARNT, MODES, Inpainter, load_inpainter, mode_settings
from ganfill.models import files as checkpoint
from ganfill.models.dcgan import GANModel
from ganfill.models.registry import Model

GANFILL_METHODS = ("ganfill", "ganfill-paste")  # Poisson blend, paste blend (same z^ search)
RANDOM_START = "ganfill-random"  # the same search from a random z: only for models with an encoder
FAITHFUL = "ganfill-faithful"  # the faithful mode: the search's sample on the context encoder's structure
CNN_METHODS = ("context-encoder", "context-encoder-paste")  # the CNN alone (one pass): Poisson blend, paste (Pathak's)
LEARNT_METHODS = GANFILL_METHODS + (RANDOM_START, FAITHFUL) + CNN_METHODS  # ganfill's own models, as evaluated
NEEDS_CNN = (FAITHFUL,) + CNN_METHODS  # methods that need a context encoder (``evaluate(..., cnn=)``)
# the mode each learnt method runs and the blend it reports; any other method is the registered mode of its name, Poisson
METHOD_MODES = {
    GANFILL_METHODS[0]: ("sharp", "poisson"),
    GANFILL_METHODS[1]: ("sharp", "paste"),
    RANDOM_START: ("sharp", "poisson"),
    FAITHFUL: ("faithful", "poisson"),
    CNN_METHODS[0]: ("fast", "poisson"),
    CNN_METHODS[1]: ("fast", "paste"),
}
MODE_METHODS = {"sharp": GANFILL_METHODS[0], "faithful": FAITHFUL, "fast": CNN_METHODS[0]}  # a mode's name as a method
PEER_MODES = ("fast",)  # with the classical baselines: other people's methods (Pathak et al.'s CNN), drawn as peers


def method_names() -> tuple[str, ...]:
    """Every method ``evaluate`` knows: the learnt ones, then every other registered mode by its
    name (the classical baselines, and any mode a plugin registers)."""
    return LEARNT_METHODS + tuple(m for m in MODES if m not in LEARNT)


def parse_method(name: str) -> tuple[str, dict[str, float]]:
    """``METHOD@setting=value@...`` -> (METHOD, {setting: value}); a learnt mode's name stands for
    its method (``faithful@detail=1.2`` -> ``ganfill-faithful``).  A plain name -> (name, {})."""
    base, *parts = name.split("@")
    settings = {}
    for part in parts:
        key, _, value = part.partition("=")
        try:
            settings[key.strip()] = float(value)
        except ValueError:
            raise GanfillError(
                f"method {name!r}: give a mode's setting as METHOD@name=number, e.g. ganfill-faithful@detail=1.2"
            ) from None
    return MODE_METHODS.get(base, base) if parts else base, settings


def describe_method(name: str) -> dict:
    """What a method runs: {"base": its method without settings, "mode", "blend", "settings": the
    mode's settings as run (defaults filled in), "peer": a classical baseline or the context
    encoder alone}.  An unknown method or setting is a GanfillError."""
    base, given = parse_method(name)
    if base not in method_names():
        raise GanfillError(f"unknown method {base!r}: choose from {', '.join(method_names())} (optionally @setting=value)")
    mode, blend = METHOD_MODES.get(base, (base, "poisson"))
    return {
        "base": base,
        "mode": mode,
        "blend": blend,
        "settings": mode_settings(mode, given),
        "peer": mode in PEER_MODES or mode in BASELINES,
    }


def needs_cnn(methods) -> list[str]:
    """The ``methods`` that need a context encoder (``NEEDS_CNN``, with any settings)."""
    return [m for m in methods if parse_method(m)[0] in NEEDS_CNN]


# ------------------------------------------------------------------------------------ data


def _is_dataset(path: Path) -> bool:
    return (path / "manifest.json").is_file() or any((path / s / "manifest.json").is_file() for s in ("train", "val"))


def load_images(data: str | Path, model: GANModel, *, n: int, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """The first ``n`` held-out images in a seeded random order: uint8 (n, R, R, 3) and their names.

    ``data``: a prepared dataset folder (``manifest.json``; images at another resolution are
    resized) or a folder of image files, brought into the model's domain with its crop policy.
    """
    path = Path(data)
    r = model.config.resolution
    if n < 1:
        raise GanfillError(f"-n must be at least 1, got {n}")
    if not path.exists():
        raise GanfillError(f"{path} does not exist: give a dataset folder (made by `ganfill prepare`) or a folder of images")
    rng = np.random.default_rng(seed)
    if path.is_dir() and _is_dataset(path):
        ds = open_dataset(path)
        order = rng.permutation(len(ds))[:n]
        images = ds.read(order)
        if ds.resolution != r:
            images = np.stack([to_domain(im, resolution=r, crop="none") for im in images])
        sources = ds.manifest.get("sources", [])
        names = [str(sources[i]["file"]) if len(sources) == len(ds) else f"#{i}" for i in order]
        return images, names
    if not path.is_dir():
        raise GanfillError(f"{path} is not a folder: give a dataset folder or a folder of images")
    files = list_images([path])
    order = rng.permutation(len(files))[:n]
    images = np.stack([model.domain.square(load_image(files[i], background=model.domain.background), r) for i in order])
    return images, [files[i].relative_to(path).as_posix() for i in order]


# ------------------------------------------------------------------------------------ evaluation


@dataclass
class Evaluation:
    """What ``evaluate`` returns: inputs, masks, every completion and every number.

    images: uint8 (N, R, R, 3) originals.  holes: mask name -> bool (N, R, R), True = missing.
    completed: (method, mask) -> uint8 (N, R, R, 3).  seconds: (method, mask) -> s per image.
    rows: one dict per (method, mask, image) with the capped per-image METRICS.
    results: one dict per (method, mask) with the means, the face rate, ``detectability_<judge>``
    for each judge and what the method runs (``describe_method``).
    reference: the originals' own face rate and each judge on the originals against themselves
    (the sanity reference), and each judge's mean seconds per method and mask.
    """

    images: np.ndarray
    names: list[str]
    holes: dict[str, np.ndarray]
    completed: dict[tuple[str, str], np.ndarray]
    seconds: dict[tuple[str, str], float]
    rows: list[dict] = field(default_factory=list)
    results: list[dict] = field(default_factory=list)
    reference: dict = field(default_factory=dict)
    config: CompleteConfig | None = None  # the latent search's settings as run (resolved for the model)


def _seed(seed: int, *parts) -> int:
    return (seed * 1_000_003 + zlib.crc32("/".join(map(str, parts)).encode())) % (2**63 - 1)


def make_holes(name: str, n: int, resolution: int, *, seed: int = 0) -> np.ndarray:
    """The seeded holes of one mask type, bool (n, R, R), True = missing (the same for every method)."""
    holes = make_mask(name, n, resolution, generator=torch.Generator().manual_seed(_seed(seed, "mask", name)))[:, 0].numpy() < 0.5
    empty = [i for i in range(n) if not holes[i].any()]
    if empty:
        raise GanfillError(f"mask {name!r} left image(s) {empty[:5]} without a hole: choose another mask or seed")
    return holes


def complete_ganfill(
    inpainter: Inpainter,
    images: np.ndarray,
    holes: np.ndarray,
    *,
    batch_size: int = 64,
    seed: int = 0,
    on_step: Callable[[float], None] | None = None,
) -> dict:
    """Complete with the sharp ``inpainter``'s latent search once per batch: {"ganfill": (uint8,
    s/img) Poisson-blended, "ganfill-paste": the same G(z^) pasted}.  (The faithful mode searches
    from its own, guided start: it runs on its own, ``complete_once``.)

    One search per batch, with the seeding rule of every front end (z depends on ``seed`` and
    each image's known content only, so results do not depend on the batch size); every result
    is blended from the same G(z^).  Seconds per image of each method: the search plus its own
    blend.
    ``on_step(images)`` receives progress in images (fractions while a batch is searched).
    """
    if inpainter.mode != "sharp":
        raise GanfillError(f"complete_ganfill runs the sharp mode's search, not the {inpainter.mode} mode's")
    steps = inpainter.steps
    n = len(images)
    names = (("ganfill", "poisson"), ("ganfill-paste", "paste"))
    out = {m: np.empty_like(images) for m, _ in names}
    seconds = {m: 0.0 for m, _ in names}
    for start in range(0, n, batch_size):
        idx = np.arange(start, min(start + batch_size, n))
        last = [0]

        def callback(step, fake, losses, last=last, k=len(idx)):
            if steps:
                on_step(k * (step - last[0]) / steps)
            last[0] = step

        done = inpainter(images[idx], ~holes[idx], seed=seed, callback=callback if on_step is not None else None)
        if on_step is not None and steps == 0:
            on_step(len(idx))
        for method, blend_name in names:
            out[method][idx] = done.completed[blend_name]
            seconds[method] += done.search_seconds + done.blend_seconds[blend_name]
    return {m: (out[m], seconds[m] / n) for m in out}


def complete_once(inpainter: Inpainter, images: np.ndarray, holes: np.ndarray, *, seed: int = 0) -> dict:
    """Any other inpainter (no search to share): {blend: (uint8, s/img)} for each of its blends."""
    done = inpainter(images, ~holes, seed=seed)
    n = len(images)
    return {b: (done.completed[b], (done.search_seconds + done.blend_seconds[b]) / n) for b in inpainter.blends}


def _check_methods(given) -> list[str]:
    """The methods given (default: every one), each known with settings its mode takes (``describe_method``)."""
    given = list(dict.fromkeys(given if given is not None else method_names()))
    if not given:
        raise GanfillError(f"no method given: choose from {', '.join(method_names())}")
    for m in given:
        describe_method(m)
    return given


def _check_names(kind: str, given, known) -> list[str]:
    given = list(dict.fromkeys(given))
    bad = [g for g in given if g not in known]
    if bad or not given:
        raise GanfillError(f"unknown {kind} {', '.join(map(repr, bad)) or '(none given)'}: choose from {', '.join(known)}")
    return given


def _mean(values) -> float | None:
    values = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(values)) if values else None


def evaluate(
    model: GANModel,
    images: np.ndarray,
    *,
    names: list[str] | None = None,
    masks: tuple[str, ...] | list[str] = PAPER_MASKS,
    methods: tuple[str, ...] | list[str] | None = None,
    config: CompleteConfig = CompleteConfig(),
    batch_size: int = 64,
    seed: int = 0,
    face_detector: bool | None = None,
    face_threshold: float = 0.5,
    judges: tuple[str, ...] | list[str] | None = None,
    judge_seeds: int = 1,
    runtime: Runtime = Runtime(),
    progress: bool = False,
    cnn: str | Path | Model | None = None,
) -> Evaluation:
    """Complete ``images`` (uint8 (N, R, R, 3), the model's resolution) under every mask with every method and score them.

    face_detector: True / False, or None (default) = on when the detector finds a face in at
    least ``face_threshold`` of the originals (the data looks like frontal faces).
    judges: names of ``judges.JUDGES`` (default: every one).  The masks are seeded by ``seed`` and
    the mask name, ganfill's z by ``seed`` and each image's known content
    (``inpainting.inpainter``'s rule), the judges by ``seed``.  judge_seeds: each judge runs
    with seeds ``seed``, ``seed + 1``, ... this many; its score is their mean (a row's
    ``judge_runs`` holds each and ``detectability_<judge>_se`` their mean's standard error,
    where more than one).  runtime: device and precision of
    the latent search and the CNN judge.  ``methods``: names of ``method_names()``, each
    optionally with settings (``parse_method``).  cnn: the context encoder of ``NEEDS_CNN``'s methods
    (a loaded model or anything ``models.files.resolve`` takes; default: the one beside
    the model).  Every method is an Inpainter of ``load_inpainter``: ``ganfill`` the sharp mode,
    ``ganfill-faithful`` the faithful, ``context-encoder`` the fast, any other registered mode
    (the baselines, a plugin's) by its name.
    """
    from tqdm import tqdm

    masks = _check_names("mask", masks, tuple(MASKS))
    methods = _check_methods(methods)
    judges = _check_names("judge", judges if judges is not None else tuple(JUDGES), tuple(JUDGES))
    if judge_seeds < 1:
        raise GanfillError(f"--judge-seeds must be at least 1, got {judge_seeds}")
    r = model.config.resolution
    if images.ndim != 4 or images.shape[1:] != (r, r, 3) or images.dtype != np.uint8:
        raise GanfillError(f"images must be uint8 (N, {r}, {r}, 3) for this model, got {images.dtype} {images.shape}")
    if batch_size < 1:
        raise GanfillError(f"--batch-size must be at least 1, got {batch_size}")
    n = len(images)
    names = list(names) if names is not None else [f"#{i}" for i in range(n)]

    ev = Evaluation(images=images, names=names, holes={}, completed={}, seconds={})
    if cnn is None and checkpoint.context_encoder_for(model.path) is None and needs_cnn(methods):
        raise GanfillError(f"{', '.join(needs_cnn(methods))} need a context encoder: give it (--cnn), or leave those methods out")
    search = replace(config, record_every=0)
    both = ("poisson", "paste")

    def inpainter(mode: str, config: CompleteConfig = search, settings: dict | None = None) -> Inpainter:
        return load_inpainter(model, mode, cnn=cnn, config=config, runtime=runtime, blends=both, settings=settings)

    def other(method: str) -> tuple[Inpainter, str]:  # any other method: its mode (with its settings) and its blend
        d = describe_method(method)
        config = replace(search, init="prior") if d["base"] == RANDOM_START else search
        return inpainter(d["mode"], config, d["settings"]), d["blend"]

    ganfill = [m for m in GANFILL_METHODS if m in methods]
    searcher = inpainter("sharp") if ganfill else None
    faithful = inpainter("faithful") if FAITHFUL in methods else None
    fast = inpainter("fast") if any(m in CNN_METHODS for m in methods) else None
    if fast is not None and fast.resolution != r:
        raise GanfillError(f"the context encoder is {fast.resolution}px but the model is {r}px")
    ev.config = next((i.config for i in (searcher, faithful) if i is not None), None)
    random = inpainter("sharp", replace(search, init="prior")) if RANDOM_START in methods else None
    if random is not None and not random.prior.has_encoder:
        raise GanfillError(
            f"{RANDOM_START} is the search from a random z, which is what `ganfill` does for a model "
            "without an encoder: leave it out"
        )
    others = {m: other(m) for m in methods if m not in LEARNT_METHODS}
    bar = tqdm(
        total=len(masks) * len(methods) * n,
        unit="img",
        disable=not progress,
        desc="evaluate",
        dynamic_ncols=True,
        bar_format="{l_bar}{bar}| {n:.0f}/{total_fmt} [{elapsed}<{remaining}{postfix}]",
    )
    with bar:
        for mask in masks:
            holes = ev.holes[mask] = make_holes(mask, n, r, seed=seed)
            if searcher is not None:  # one search for the sharp mode's two blends
                bar.set_postfix_str(f"{mask}: ganfill search")
                done = complete_ganfill(
                    searcher, images, holes, batch_size=batch_size, seed=seed, on_step=lambda k: bar.update(k * len(ganfill))
                )
                for m in ganfill:
                    ev.completed[m, mask], ev.seconds[m, mask] = done[m]
            if faithful is not None:
                bar.set_postfix_str(f"{mask}: faithful")
                done = complete_once(faithful, images, holes, seed=seed)
                ev.completed[FAITHFUL, mask], ev.seconds[FAITHFUL, mask] = done["poisson"]
                bar.update(n)
            if random is not None:
                bar.set_postfix_str(f"{mask}: search from a random z")
                done = complete_ganfill(random, images, holes, batch_size=batch_size, seed=seed, on_step=lambda k: bar.update(k))
                ev.completed[RANDOM_START, mask], ev.seconds[RANDOM_START, mask] = done["ganfill"]
            if fast is not None:
                bar.set_postfix_str(f"{mask}: context encoder")
                done = complete_once(fast, images, holes)
                for m, b in zip(CNN_METHODS, both):
                    if m in methods:
                        ev.completed[m, mask], ev.seconds[m, mask] = done[b]
                        bar.update(n)
            for m, (fill, blend_name) in others.items():
                bar.set_postfix_str(f"{mask}: {m}")
                ev.completed[m, mask], ev.seconds[m, mask] = complete_once(fill, images, holes, seed=seed)[blend_name]
                bar.update(n)

    # per-image metrics
    for mask in masks:
        holes = ev.holes[mask]
        for m in methods:
            out = ev.completed[m, mask]
            for i in range(n):
                row = {"method": m, "mask": mask, "image": names[i], "hole_fraction": float(holes[i].mean())}
                row |= {k: capped(fn(images[i], out[i], holes[i])) for k, fn in METRICS.items()}
                ev.rows.append(row)

    # face detector and the realism judges
    face_orig = faces_found(images) if face_detector is not False else None
    use_faces = face_detector if face_detector is not None else bool(face_orig.mean() >= face_threshold)
    ev.reference = {
        "images": n,
        "face_rate_originals": float(face_orig.mean()) if face_orig is not None else None,
        "face_detector": "on" if use_faces else "off",
        "face_detector_rule": (
            "forced by option" if face_detector is not None else f"auto: on when the originals' rate >= {face_threshold:.0%}"
        ),
    }
    total = len(judges) * len(masks) * (len(methods) + 1) * judge_seeds
    judged = tqdm(total=total, disable=not progress, desc="judge", dynamic_ncols=True)
    seconds = {j: 0.0 for j in judges}

    def runs(name: str, originals: np.ndarray, completed: np.ndarray, holes: np.ndarray) -> list[float]:
        """The judge ``name``'s score under each of the ``judge_seeds`` seeds."""
        scores = []
        for s in range(seed, seed + judge_seeds):
            scores.append(JUDGES[name](originals, completed, holes, seed=s, runtime=runtime))
            judged.update(1)
        return scores

    def judge(name: str, originals: np.ndarray, completed: np.ndarray, holes: np.ndarray) -> float | None:
        return _nan_none(float(np.mean(runs(name, originals, completed, holes))))

    half = n // 2  # the reference: the originals of one half of the images against those of the other
    with judged:
        ev.reference["detectability_originals"] = {
            j: {k: judge(j, images[:half], images[half : 2 * half], ev.holes[k][:half]) for k in masks} for j in judges
        }
        for mask in masks:
            for m in methods:
                res, every = _result(ev, m, mask, use_faces=use_faces), {}
                for j in judges:
                    t0 = time.perf_counter()
                    every[j] = runs(j, images, ev.completed[m, mask], ev.holes[mask])
                    res[f"detectability_{j}"] = _nan_none(float(np.mean(every[j])))
                    seconds[j] += time.perf_counter() - t0
                if judge_seeds > 1:
                    res["judge_runs"] = {j: [_nan_none(v) for v in scores] for j, scores in every.items()}
                    res |= {f"detectability_{j}_se": _nan_none(_standard_error(scores)) for j, scores in every.items()}
                ev.results.append(res)
    ev.reference["judge_seconds"] = {j: seconds[j] / (len(masks) * len(methods) * judge_seeds) for j in judges}
    return ev


def _result(ev: Evaluation, m: str, mask: str, *, use_faces: bool) -> dict:
    """One result row without the judges: means of the per-image metrics, seconds, face rate, what ``m`` runs."""
    n = len(ev.images)
    sel = [row for row in ev.rows if row["method"] == m and row["mask"] == mask]
    res = {"method": m, "mask": mask, "images": n, "hole_fraction": float(ev.holes[mask].mean())}
    res |= {k: _mean(row[k] for row in sel) for k in METRICS}
    res["seconds_per_image"] = ev.seconds[m, mask]
    if use_faces:
        rate = float(faces_found(ev.completed[m, mask]).mean())
        base = ev.reference["face_rate_originals"]
        res |= {"face_rate": rate, "face_ratio": rate / base if base else None}
    else:
        res |= {"face_rate": None, "face_ratio": None}
    return res | describe_method(m)


def _standard_error(values: list[float]) -> float:
    """The standard error of the mean of ``values`` (two or more; nan where any is nan)."""
    return float(np.std(values, ddof=1) / np.sqrt(len(values)))


def _nan_none(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


AREA_BINS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def area_bins(rows: list[dict], *, edges: tuple[float, ...] = AREA_BINS) -> list[dict]:
    """Mean metrics per method and hole-area bin ([lo, hi) of the hole fraction; the last bin
    includes 1.0), pooled over every mask; empty bins are left out."""
    out = []
    for m in dict.fromkeys(row["method"] for row in rows):
        mine = [row for row in rows if row["method"] == m]
        for j, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
            last = j == len(edges) - 2
            sel = [row for row in mine if lo <= row["hole_fraction"] < hi or (last and row["hole_fraction"] == hi)]
            if sel:
                out.append(
                    {
                        "method": m,
                        "bin": f"{lo:.0%}-{hi:.0%}",
                        "lo": lo,
                        "hi": hi,
                        "images": len(sel),
                        "masks": sorted(set(row["mask"] for row in sel)),
                    }
                    | {k: _mean(row[k] for row in sel) for k in METRICS}
                )
    return out


# ------------------------------------------------------------------------------------ report

DEFINITIONS = {
    "psnr_hole": "PSNR in dB over the hole's pixels only (all channels), scikit-image, data range 255; "
    "Yeh et al.'s Table 1 reports this one",
    "psnr_full": "PSNR in dB over the whole image (known pixels are exact for every method)",
    "ssim": "SSIM of the whole image, scikit-image (7x7 window, mean over channels), 1 = identical",
    "l1_hole": "mean absolute error over the hole's pixels and channels, as a fraction of 255 (tables: percent)",
    "psnr_cap": f"per-image PSNRs are capped at {PSNR_CAP:g} dB (identical images have infinite PSNR) before averaging",
    "seconds_per_image": "wall time of the method over all images / images; ganfill and ganfill-paste share one "
    "latent search and each include all of it",
    "face_rate": "fraction of completed images in which the frontal-face detector (OpenCV's LBP cascade, run by "
    "scikit-image, image upsampled to 128 px and edge-padded) finds a face; face_ratio = face_rate / the "
    "originals' rate (1 = as face-like as the originals); only meaningful for faces",
    "detectability_texture": "the texture judge: held-out accuracy of a logistic-regression classifier (scikit-learn) "
    "on local-texture features of the whole image telling completed images from originals (disjoint images in the "
    "two classes, stratified 5-fold, 5 rounds); 50% = indistinguishable, 100% = obviously repaired. Near chance "
    "its standard error is about 50/sqrt(N) points: use 100 images or more (+-5 points)",
    "detectability_cnn": "the CNN judge: held-out accuracy of a small convolutional network trained from scratch on "
    "the box around the holes (4 pixels of margin, at the model's resolution) and the hole map, telling completions "
    "from originals (5 folds by image: an image's original and completion always on the same side of a split); "
    "50% = indistinguishable. It sees the picture's structure where the texture judge sees its statistics; "
    "at 200 images its standard deviation over seeds (the folds and the training) is about 3.5 points at 64x64 "
    "and 3.5-8 at 128x128: compare with --judge-seeds",
    "detectability_originals": "each judge on the originals of one half of the images against those of the "
    "other half (with the first half's holes): the sanity reference, near 50%",
    "judge_seconds": "each judge's mean wall time per method and mask (training and scoring every fold)",
    "settings": "a method's mode settings as run (METHOD@name=value changes one: ganfill-faithful@detail=1.2)",
}


def definitions(judges) -> dict[str, str]:
    """``DEFINITIONS`` with a line for every judge (a judge registered from outside: its docstring's first line)."""
    own = {f"detectability_{j}": (JUDGES[j].__doc__ or j).strip().split("\n")[0] for j in judges if j in JUDGES}
    return own | DEFINITIONS


def _fmt(value, spec: str, scale: float = 1.0, unit: str = "") -> str:
    return "n/a" if value is None else format(value * scale, spec) + unit


def _detectable(row: dict, judge: str) -> str:
    """A judge's cell: its mean %, with its standard error over the judge's seeds where there were several."""
    se = row.get(f"detectability_{judge}_se")
    return _fmt(row[f"detectability_{judge}"], ".1f", 100) + ("" if se is None else f" ± {100 * se:.1f}")


def _seconds(value: float) -> str:
    return f"{value:.3f}" if value >= 0.001 else "<0.001"


def markdown(ev: Evaluation, *, bins: list[dict], title: str, notes: list[str]) -> str:
    """The report as Markdown: a Table-1-style summary, one table per mask, the area bins, definitions."""
    masks = list(ev.holes)
    methods = list(dict.fromkeys(r["method"] for r in ev.results))
    by = {(r["method"], r["mask"]): r for r in ev.results}
    ref = ev.reference
    lines = [f"# {title}", ""] + [f"{note}  " for note in notes] + [""]
    lines += ["## PSNR hole (dB), Table 1 style", "", "| method | " + " | ".join(masks) + " |", "|---|" + "---:|" * len(masks)]
    for m in methods:
        lines.append(f"| {m} | " + " | ".join(_fmt(by[m, k]["psnr_hole"], ".2f") for k in masks) + " |")
    for paper, values in PAPER_PSNR.items():
        if any(k in values for k in masks):
            lines.append(f"| *{paper}* | " + " | ".join(_fmt(values.get(k), ".1f") for k in masks) + " |")
    lines += ["", "Paper rows are the numbers Yeh et al. (CVPR 2017, Table 1) report on CelebA, not measured here.", ""]
    face = ref["face_detector"] == "on"
    judges = list(ref["detectability_originals"])
    lines += ["## Reference", ""]
    for j in judges:
        per_mask = ", ".join(f"{k} {_fmt(v, '.1f', 100, '%')}" for k, v in ref["detectability_originals"][j].items())
        lines.append(
            f"- {j} judge, originals against originals (disjoint halves): {per_mask}; "
            f"{ref['judge_seconds'][j]:.1f} s per method and mask"
        )
    lines += [
        f"- faces found in the originals: {_fmt(ref['face_rate_originals'], '.1f', 100, '%')} "
        f"(face detector {ref['face_detector']}, {ref['face_detector_rule']})",
        "",
    ]
    head = ["method", "PSNR hole (dB)", "PSNR full (dB)", "SSIM", "L1 hole (%)", "s / image"]
    head += ["faces found (%)", "vs originals"] if face else []
    head += [f"detectable: {j} (%)" for j in judges]
    for k in masks:
        lines += [
            f"## Mask `{k}` ({ev.holes[k].mean():.0%} of the pixels missing, {len(ev.images)} images)",
            "",
            "| " + " | ".join(head) + " |",
            "|---|" + "---:|" * (len(head) - 1),
        ]
        for m in methods:
            r = by[m, k]
            cells = [
                m,
                _fmt(r["psnr_hole"], ".2f"),
                _fmt(r["psnr_full"], ".2f"),
                _fmt(r["ssim"], ".3f"),
                _fmt(r["l1_hole"], ".2f", 100),
                _seconds(r["seconds_per_image"]),
            ]
            cells += [_fmt(r["face_rate"], ".1f", 100), _fmt(r["face_ratio"], ".2f")] if face else []
            cells += [_detectable(r, j) for j in judges]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    lines += [
        "## By hole area (all masks pooled)",
        "",
        "| method | hole area | images | masks | PSNR hole (dB) | PSNR full (dB) | SSIM | L1 hole (%) |",
        "|---|---|---:|---|---:|---:|---:|---:|",
    ]
    for b in bins:
        lines.append(
            f"| {b['method']} | {b['bin']} | {b['images']} | {', '.join(b['masks'])} | {_fmt(b['psnr_hole'], '.2f')} | "
            f"{_fmt(b['psnr_full'], '.2f')} | {_fmt(b['ssim'], '.3f')} | {_fmt(b['l1_hole'], '.2f', 100)} |"
        )
    lines += ["", "## What the numbers mean", ""] + [f"- **{k}**: {v}" for k, v in definitions(judges).items()] + [""]
    return "\n".join(lines)


def figure(ev: Evaluation, *, rows: int = 4) -> np.ndarray:
    """uint8 figure: per mask, ``rows`` images; columns masked input, each method, original."""
    from PIL import Image, ImageDraw, ImageFont

    methods = list(dict.fromkeys(r["method"] for r in ev.results))
    n, r = len(ev.images), ev.images.shape[1]
    rows = max(1, min(rows, n))
    s = r * max(1, 128 // r)  # shown size
    pad, cap, label = 4, 20, 80
    cols = ["masked"] + methods + ["original"]
    masks = list(ev.holes)
    width = label + len(cols) * (s + pad) + pad
    height = cap + len(masks) * (rows * (s + pad) + pad)
    out = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(out)
    font = ImageFont.load_default(size=13)
    for j, c in enumerate(cols):
        x = label + pad + j * (s + pad) + s // 2
        draw.text((x, 3), c, fill="black", font=font, anchor="ma")  # centred over its column
    for g, mask in enumerate(masks):
        y0 = cap + g * (rows * (s + pad) + pad)
        draw.text((4, y0 + pad + s // 2 - 7), mask, fill="black", font=font)
        for i in range(rows):
            masked = ev.images[i].copy()
            masked[ev.holes[mask][i]] = HOLE_GREY
            panels = [masked] + [ev.completed[m, mask][i] for m in methods] + [ev.images[i]]
            for j, p in enumerate(panels):
                big = Image.fromarray(p).resize((s, s), Image.Resampling.NEAREST)
                out.paste(big, (label + pad + j * (s + pad), y0 + pad + i * (s + pad)))
    return np.asarray(out)


PEER_COLOUR = "0.55"  # grey: the classical baselines and the context encoder alone


def _swept(group: list[dict]) -> str | None:
    """The setting whose value differs between the results of one method's base (None: none does)."""
    keys = sorted({k for r in group for k in r["settings"]})
    return next((k for k in keys if len({r["settings"].get(k) for r in group}) > 1), None)


def tradeoff_figure(results: list[dict], *, title: str = ""):
    """The perception-distortion picture of ``evaluate``'s results (``Evaluation.results`` or
    results.json's ``results``) as a matplotlib Figure: one column of panels per mask, one row
    per realism judge; in each, hole PSNR (dB; up = more faithful) against the judge's
    detectability (%; left = harder to tell from originals, 50 = chance), with a bar of one
    standard error where the judge ran with several seeds.  Every method is a
    point: the peers (classical baselines, the context encoder alone) in grey, ganfill's modes
    in colour; the methods of one base run with one setting swept (``METHOD@name=value``) are
    joined in the order of that setting, each point labelled with its value."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    masks = list(dict.fromkeys(r["mask"] for r in results))
    judges = [k.removeprefix("detectability_") for k in results[0] if k.startswith("detectability_") and not k.endswith("_se")]
    bases = list(dict.fromkeys(r["base"] for r in results))
    ours = [b for b in bases if not next(r["peer"] for r in results if r["base"] == b)]
    colours = {b: f"C{i % 10}" for i, b in enumerate(ours)}
    markers = dict(zip([b for b in bases if b not in colours], "s^vDPX<>ph*" * 3))
    style = {b: dict(color=colours.get(b, PEER_COLOUR), marker=markers.get(b, "o")) for b in bases}
    fig = Figure(figsize=(3.3 * len(masks) + 0.4, 3.0 * len(judges) + 1.2), layout="constrained")
    axes = fig.subplots(len(judges), len(masks), squeeze=False)
    for row, judge in enumerate(judges):
        for col, mask in enumerate(masks):
            ax = axes[row][col]
            ax.axvline(50, color="0.8", lw=1, ls="--")
            for b in bases:
                group = [r for r in results if r["mask"] == mask and r["base"] == b and r[f"detectability_{judge}"] is not None]
                key = _swept(group)
                if key is not None:
                    group.sort(key=lambda r: r["settings"][key])
                xs = [100 * r[f"detectability_{judge}"] for r in group]
                ys = [r["psnr_hole"] for r in group]
                ax.plot(xs, ys, ls="-" if key else "none", ms=6, lw=1.2, mfc="white" if b in markers else None, **style[b])
                errors = [100 * (r.get(f"detectability_{judge}_se") or 0) for r in group]  # the judge's seeds' spread
                if any(errors):
                    ax.errorbar(xs, ys, xerr=errors, ls="none", lw=0.8, capsize=2, color=style[b]["color"])
                if key is not None:
                    for r, x, y in zip(group, xs, ys):
                        ax.annotate(f"{r['settings'][key]:g}", (x, y), xytext=(3, 3), textcoords="offset points", fontsize=7)
            ax.set_title(f"{mask}" if row == 0 else "", fontsize=10)
            ax.set_xlabel(f"detectable, {judge} judge (%)", fontsize=8)
            ax.set_ylabel("hole PSNR (dB)" if col == 0 else "", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
    handles = [Line2D([], [], ls="none", ms=6, mfc="white" if b in markers else None, **style[b]) for b in bases]
    labels = []
    for b in bases:
        swept = {_swept([r for r in results if r["base"] == b and r["mask"] == k]) for k in masks} - {None}
        labels.append(b + (f" ({', '.join(sorted(swept))} swept)" if swept else ""))
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(bases), 5), fontsize=8, frameon=False)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def write_report(
    ev: Evaluation, out_dir: str | Path, *, options: dict, figure_rows: int = 4, title: str = "ganfill evaluate"
) -> dict[str, Path]:
    """Write results.md, results.json, figure.png, tradeoff.png and options.json into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    bins = area_bins(ev.rows)
    cfg = options.get("complete", {})
    notes = [
        f"Checkpoint: `{options.get('checkpoint')}`; data: `{options.get('data')}` "
        f"({len(ev.images)} images, the first in a random order seeded {options.get('seed')}"
        + ("; the model's own training images, not held out: the scores flatter it)." if options.get("trained_on") else ")."),
        f"ganfill: {cfg.get('num_steps')} Adam steps, lambda {cfg.get('lam')}, {cfg.get('restarts')} restart(s); "
        "`ganfill` blends with Poisson, `ganfill-paste` pastes the same G(z^).",
        f"Command: `{options['command']}`" if options.get("command") else "",
    ]
    paths = {
        "md": out / "results.md",
        "json": out / "results.json",
        "figure": out / "figure.png",
        "tradeoff": out / "tradeoff.png",
        "options": out / "options.json",
    }
    with atomic_path(paths["options"]) as tmp:
        tmp.write_text(json.dumps(options, indent=1))
    record = {
        "ganfill_version": GANFILL_VERSION,
        "options": options,
        "definitions": definitions(ev.reference["detectability_originals"]),
        "reference": ev.reference,
        "results": ev.results,
        "bins": bins,
        "images": ev.rows,
    }
    with atomic_path(paths["json"]) as tmp:
        tmp.write_text(json.dumps(record, indent=1, allow_nan=False))
    with atomic_path(paths["md"]) as tmp:
        tmp.write_text(markdown(ev, bins=bins, title=title, notes=[n for n in notes if n]))
    save_image(figure(ev, rows=figure_rows), paths["figure"])
    with atomic_path(paths["tradeoff"]) as tmp:
        tradeoff_figure(ev.results, title=title).savefig(tmp, format="png", dpi=110)
    return paths


def run(
    model: GANModel,
    data: str | Path,
    out_dir: str | Path,
    *,
    num_images: int = 100,
    figure_rows: int = 4,
    command: str | None = None,
    **options,
) -> tuple[Evaluation, dict[str, Path]]:
    """`ganfill evaluate`: load ``num_images`` images of ``data`` (held-out ones for a fair score;
    the report says when they are the model's own training data), ``evaluate`` them
    (``options``: its keyword arguments), write the run folder (``write_report``)."""
    import cv2
    import skimage

    bound = inspect.signature(evaluate).bind(model, None, **options)
    bound.apply_defaults()
    a = bound.arguments  # every option of evaluate, given or default
    masks = _check_names("mask", a["masks"], tuple(MASKS))
    methods = _check_methods(a["methods"])
    judges = _check_names("judge", a["judges"] if a["judges"] is not None else tuple(JUDGES), tuple(JUDGES))
    images, names = load_images(data, model, n=num_images, seed=a["seed"])
    cnn = a["cnn"]
    trained_on = model.info.get("data")  # a training checkpoint records its data folder
    record = {
        "checkpoint": str(model.path),
        "data": str(data),
        "trained_on": bool(trained_on) and Path(trained_on).resolve() == Path(data).resolve(),
        "num_images": len(images),
        "masks": list(masks),
        "methods": list(methods),
        "judges": judges,
        "judge_seeds": a["judge_seeds"],
        "seed": a["seed"],
        "batch_size": a["batch_size"],
        "face_detector": {None: "auto", True: "on", False: "off"}[a["face_detector"]],
        "figure_rows": figure_rows,
        "complete": {k: v for k, v in asdict(a["config"]).items() if k != "record_every"},
        "runtime": a["runtime"].to_dict(),
        "model": model.config.to_dict(),
        "domain": model.domain.to_dict(),
        "context_encoder": str(getattr(cnn, "path", cnn)) if cnn is not None else None,
        "versions": {
            "ganfill": GANFILL_VERSION,
            "torch": torch.__version__,
            "scikit-image": skimage.__version__,
            "opencv": cv2.__version__,
            "numpy": np.__version__,
        },
        "command": command,
    }
    ev = evaluate(model, images, **(options | {"names": names, "masks": masks, "methods": methods, "judges": judges}))
    if ev.config is not None:
        record["complete"] = {k: v for k, v in asdict(ev.config).items() if k != "record_every"}
    return ev, write_report(ev, out_dir, options=record, figure_rows=figure_rows)
