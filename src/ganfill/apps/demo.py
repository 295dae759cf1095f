"""`ganfill demo`: the shipped reference models on images they never saw, in one HTML report.

The demo trains nothing. By default it has three sections of images in a model's square, each
completed with the center mask by ganfill in ``ganfill inpaint``'s default mode (``--mode
auto``: faithful for faces64 and faces128, whose context encoders ship beside them, sharp for
glyphs32; ``fill.run``: ``CompleteConfig`` defaults except the number of steps and restarts,
which ``DemoConfig`` sets so the whole demo takes well under a minute on 2 CPU cores) and by
OpenCV's Telea inpainting (``inpainting.baselines.BASELINES``), and a photo repaired where it is
(``photo_section``):

* ``glyphs32``: characters rendered (``data.glyphs.render_chars``) from the fonts bundled with
  matplotlib (DejaVu Sans / Serif / Mono, STIX, Computer Modern), spread over 0-9, A-Z, a-z
  and over the fonts. The glyphs32 model was trained on other fonts: its training fonts
  exclude matplotlib's bundle and Debian's dejavu, stix and cmu folders.
* ``faces64``: NASA's portrait of astronaut Eileen Collins (``skimage.data.astronaut()``,
  public domain), cut to the framing of CelebA's 64x64 aligned crops around the face that the
  LBP frontal-face cascade finds (``face_box``);
* ``faces128``: the same portrait at 128x128, in faces128's framing;
* ``photo``: the whole portrait, 512x512, a hole over the eyes, repaired by ``ganfill.repair``
  (the face found, framed by its landmarks, the model picked by its size).

With ``images``, the user's own images are completed instead, by one model (``faces64``
unless another is named), brought into its square exactly as ``ganfill inpaint`` does.

Everything lands in one folder: ``report.html`` (per model: input, mask, completion, best
fake G(z^), Telea's result and the original, with hole PSNR, SSIM and hole L1 per image and
their means; image paths are relative, so the folder can be moved), ``metrics.json``, and per
model ``NAME/overview.png`` (one column per image; rows: input, best fake, ganfill, Telea,
original), ``NAME/inputs/`` and ``NAME/completions/<image>/`` (``ganfill inpaint``'s outputs
plus ``original.png`` and ``telea.png``).
"""

from __future__ import annotations

import html
import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ganfill.apps import fill
from ganfill.apps.config import DEFAULT_MODELS, IMAGES_MODEL, DemoConfig
from ganfill.core.errors import GanfillError
from ganfill.core.files import atomic_path, output_name, write_json
from ganfill.core.images import grid, save_image
from ganfill.core.runtime import Runtime
from ganfill.data.domain import to_domain
from ganfill.data.framing import crop_box
from ganfill.data.glyphs import GLYPH_CHARS, find_fonts, matplotlib_font_dir, render_chars
from ganfill.data.reading import list_images, load_image
from ganfill.evaluation.judges import detect_faces, faces_found
from ganfill.evaluation.metrics import METRICS, capped
from ganfill.inpainting.baselines import BASELINES
from ganfill.inpainting.config import CompleteConfig
from ganfill.inpainting.inpainter import Inpainter, load_inpainter
from ganfill.models import cards
from ganfill.models import files as checkpoint

METHODS = ("ganfill", "telea")
SHOWN = ("psnr_hole", "ssim", "l1_hole")  # per-image metrics in the report (evaluation.metrics.METRICS)

# CelebA's aligned 64x64 crops (the centre 108x108 of the 178x218 aligned photos) relative to
# the LBP cascade's face box, measured on 76 of the aligned originals: the crop's side is 1.04
# times the box's (median; quartiles 0.97 and 1.09), its centre is level with the box's
# horizontally and 0.15 box sides above it (quartiles 0.13 and 0.17).
FACE_CROP_SCALE = 1.04
FACE_CROP_RAISE = 0.15


# ---- built-in inputs ----------------------------------------------------------------------


def glyph_inputs(n: int, *, resolution: int) -> list[tuple[str, np.ndarray]]:
    """n characters from matplotlib's bundled fonts, spread evenly over the 62 characters and
    over the usable fonts (in file order: DejaVu, STIX, Computer Modern): (name, uint8 (R, R, 3))."""
    if n < 1:
        raise GanfillError(f"--glyphs must be at least 1, got {n}")
    fonts = []
    for path in find_fonts([matplotlib_font_dir()]):
        try:
            render_chars(path, "0", resolution=resolution)  # checks the whole character map
        except GanfillError:
            continue  # symbol and display-only fonts
        fonts.append(path)
    if not fonts:
        raise GanfillError(f"no usable font in matplotlib's font folder {matplotlib_font_dir()}: reinstall matplotlib")
    out = []
    for i in range(n):
        char = GLYPH_CHARS[int(i * len(GLYPH_CHARS) / n)]
        font = fonts[int(i * len(fonts) / n) % len(fonts)]
        kind = "upper" if char.isupper() else "lower" if char.islower() else "digit"
        out.append((f"{i:02d}-{kind}-{char}-{font.stem}", render_chars(font, char, resolution=resolution)[0]))
    return out


def face_box(image: np.ndarray, *, min_face: float = 0.1, min_neighbours: int = 4) -> tuple[int, int, int, int]:
    """The square (left, top, right, bottom) that frames the largest face in a uint8 (H, W, 3)
    photo as CelebA's aligned 64x64 crops frame theirs (may extend past the image's edges).

    Faces are found by OpenCV's LBP frontal-face cascade as scikit-image bundles and runs it,
    the detector of ``evaluation.judges.faces_found``: candidate boxes from ``min_face`` times the
    shorter side up, each needing ``min_neighbours`` overlapping detections; a candidate counts
    only if ``faces_found`` also finds a face in its CelebA-framed crop. The box follows
    ``FACE_CROP_SCALE`` and ``FACE_CROP_RAISE``. ``GanfillError`` if no face is found.
    """
    h, w = image.shape[:2]
    smallest = max(24, int(min_face * min(h, w)))
    hits = detect_faces(image, min_size=smallest, max_size=(w, h), min_neighbours=min_neighbours)
    boxes = []
    for hit in sorted(hits, key=lambda d: -d["width"] * d["height"]):
        side = FACE_CROP_SCALE * hit["width"]
        cx = hit["c"] + hit["width"] / 2
        cy = hit["r"] + hit["height"] / 2 - FACE_CROP_RAISE * hit["width"]
        left, top = int(round(cx - side / 2)), int(round(cy - side / 2))
        boxes.append((left, top, left + int(round(side)), top + int(round(side))))
    if boxes:
        crops = np.stack([to_domain(crop_box(image, b), resolution=64, crop="none") for b in boxes])
        for box, found in zip(boxes, faces_found(crops)):
            if found:
                return box
    raise GanfillError(f"no frontal face found in the {w}x{h} photo")


def face_inputs(*, resolution: int, crop: int = 108) -> list[tuple[str, np.ndarray]]:
    """NASA's portrait of Eileen Collins (skimage.data.astronaut, public domain), framed as the
    centred ``crop`` x ``crop`` box of CelebA's aligned faces (faces64: 108, faces128: 128) at the
    model's resolution."""
    from skimage.data import astronaut

    photo = astronaut()
    left, top, right, bottom = face_box(photo)
    grow = (right - left) * (crop / 108 - 1) / 2  # the same centre, crop / 108 times the side
    box = tuple(int(round(v)) for v in (left - grow, top - grow, right + grow, bottom + grow))
    return [("astronaut-eileen-collins", to_domain(crop_box(photo, box), resolution=resolution, crop="none"))]


BUILT_IN = {  # shipped model -> its built-in inputs(resolution, config)
    "glyphs32": lambda resolution, config: glyph_inputs(config.glyphs, resolution=resolution),
    "faces64": lambda resolution, config: face_inputs(resolution=resolution),
    "faces128": lambda resolution, config: face_inputs(resolution=resolution, crop=128),
}
BUILT_IN_NOTES = {
    "glyphs32": "Characters rendered from the fonts bundled with matplotlib (DejaVu Sans, Serif and Mono, STIX, "
    "Computer Modern), none of which the model saw in training.",
    "faces64": "NASA's portrait of astronaut Eileen Collins (scikit-image's astronaut(), public domain), cut "
    "around the face found by the LBP frontal-face cascade to the framing of CelebA's aligned crops.",
    "faces128": "The same portrait at twice the resolution, cut to faces128's framing (the centre 128x128 of "
    "CelebA's aligned photos: a little more hair and background than faces64's).",
}


# The photo section: the astronaut's whole 512x512 portrait with a hole over her eyes, repaired in
# place by the photo path (``ganfill.repair``), beside Telea at the photo's resolution.
PHOTO_MODEL = "faces"  # ``apps.config.SIZED``: faces64 or faces128, by the size of the face
PHOTO_HOLE = (slice(88, 118), slice(185, 266))  # rows, columns of the astronaut photo: her eyes
PHOTO_NOTE = (
    "The whole photo (NASA's portrait of Eileen Collins, 512x512) with a hole over the eyes, repaired where it is "
    "by ganfill.repair: the face is found and its landmarks put it into the model's square, the model is picked by "
    "the face's size (faces128 where its square covers 128 photo pixels or more, else faces64), and the fill is "
    "warped back and blended in at the photo's resolution; known pixels untouched. In the best fake's column: "
    "the model's square of the repaired photo, enlarged."
)


def photo_section(out: Path, *, root: Path, config: CompleteConfig, runtime: Runtime, seed: int) -> tuple[list[dict], str]:
    """The photo section's one row (as ``complete_section``'s) and the name of the model used."""
    import cv2
    from skimage.data import astronaut

    from ganfill.apps.api import Repairer

    photo = astronaut()
    hole = np.zeros(photo.shape[:2], bool)
    hole[PHOTO_HOLE] = True
    inpainter, item = Repairer(PHOTO_MODEL, config=config, runtime=runtime).prepare(photo, hole)
    _, finals, _ = fill.complete_items(inpainter, [item], seed=seed)
    masked = photo.copy()
    masked[hole] = fill.HOLE_GREY
    telea = BASELINES["telea"](photo, hole)  # never sees the hole's content
    folder = out / "completions" / "astronaut-photo"
    images = {
        "masked": masked,
        "mask": np.repeat(hole[..., None] * np.uint8(255), 3, axis=2),
        "completed": finals[0],
        "fake": cv2.resize(item.frames[0].to_square(finals[0]), photo.shape[1::-1], interpolation=cv2.INTER_NEAREST),
        "telea": telea,
        "original": photo,
    }
    rel = folder.relative_to(root).as_posix()
    for kind, image in images.items():
        save_image(image, folder / f"{kind}.png")
    row = {
        "name": "astronaut-photo",
        **{k: f"{rel}/{k}.png" for k in images},
        "hole_fraction": float(hole.mean()),
        "scores": {"ganfill": _scores(photo, finals[0], hole), "telea": _scores(photo, telea, hole)},
    }
    return [row], Path(inpainter.sources["checkpoint"]).stem


# ---- one section --------------------------------------------------------------------------


def _scores(original: np.ndarray, result: np.ndarray, hole: np.ndarray) -> dict[str, float]:
    return {name: capped(METRICS[name](original, result, hole)) for name in SHOWN}


def complete_section(
    inpainter: Inpainter, files: list[Path], out: Path, *, root: Path, mask: str, seed: int, progress: bool, echo
) -> list[dict]:
    """Complete files with ganfill (``fill.run`` with ``inpainter``) and Telea, score both
    against the original (the input in the model's square); one row per image, paths relative
    to ``root``."""
    completions = out / "completions"
    counts = fill.run(
        inpainter,
        files,
        completions,
        mask=mask,
        overwrite=True,
        seed=seed,
        progress=progress,
        notify=lambda message: echo(f"ganfill: warning: {message}"),
    )
    masks = fill.MaskSource(mask)
    rows = []
    failed = {f["file"] for f in counts["failed"]}  # each named by a warning
    for path in files:
        if str(path) in failed:
            continue
        folder = completions / output_name(path.stem)
        if json.loads((folder / fill.RECORD).read_text()).get("unchanged"):
            continue  # no hole: nothing to compare
        item = fill.load_item(path, inpainter, masks, seed=seed)
        original, hole = item.x, item.hole
        completed = load_image(folder / "completed.png")
        telea = BASELINES["telea"](original, hole)  # the baseline never sees the hole's content
        save_image(original, folder / "original.png")
        save_image(telea, folder / "telea.png")
        rel = folder.relative_to(root).as_posix()
        rows.append(
            {
                "name": path.stem,
                **{k: f"{rel}/{k}.png" for k in ("masked", "mask", "completed", "fake", "telea", "original")},
                "hole_fraction": float(hole.mean()),
                "scores": {"ganfill": _scores(original, completed, hole), "telea": _scores(original, telea, hole)},
            }
        )
    return rows


def overview(root: Path, rows: list[dict], *, min_side: int = 64) -> np.ndarray:
    """One column per image; rows: input with its hole, best fake, ganfill, Telea, original.
    Images smaller than ``min_side`` are enlarged with visible pixels (nearest neighbour)."""
    kinds = ("masked", "fake", "completed", "telea", "original")
    tiles = np.stack([load_image(root / row[kind]) for kind in kinds for row in rows])
    scale = max(1, min_side // tiles.shape[1])
    return grid(tiles.repeat(scale, axis=1).repeat(scale, axis=2), nrow=len(rows))


# ---- the report ---------------------------------------------------------------------------

LABELS = {"psnr_hole": "hole PSNR (dB)", "ssim": "SSIM", "l1_hole": "hole L1 (%)"}


def _number(metric: str, value: float) -> str:
    return f"{100 * value:.1f}" if metric == "l1_hole" else f"{value:.3f}" if metric == "ssim" else f"{value:.2f}"


def means(rows: list[dict]) -> dict[str, dict[str, float]]:
    """Per method, the mean of each shown metric over the images."""
    return {m: {k: float(np.mean([r["scores"][m][k] for r in rows])) for k in SHOWN} for m in METHODS}


def report(out_dir: Path, sections: list[dict], *, title: str, notes: list[str]) -> Path:
    """``report.html`` (self-contained but for the images, referenced by relative path) and
    ``metrics.json``. A section: {"model", "title", "notes", "overview", "rows"}."""
    cols = [
        ("masked", "input (hole grey)"),
        ("mask", "mask (white = hole)"),
        ("completed", "ganfill"),
        ("fake", "best fake G(z^)"),
        ("telea", "OpenCV Telea"),
        ("original", "original"),
    ]
    body = [f"<h1>{html.escape(title)}</h1>"] + [f"<p>{html.escape(n)}</p>" for n in notes]
    for sec in sections:
        rows, mean = sec["rows"], means(sec["rows"])
        body.append(f"<h2 id='{html.escape(sec['model'])}'>{html.escape(sec['title'])}</h2>")
        body += [f"<p>{html.escape(n)}</p>" for n in sec["notes"]]
        body.append(
            "<table class=summary><tr><th>method</th>"
            + "".join(f"<th>mean {LABELS[k]}</th>" for k in SHOWN)
            + "</tr>"
            + "".join(
                f"<tr><td>{'ganfill' if m == 'ganfill' else 'OpenCV Telea'}</td>"
                + "".join(f"<td>{_number(k, mean[m][k])}</td>" for k in SHOWN)
                + "</tr>"
                for m in METHODS
            )
            + "</table>"
        )
        body.append(f"<p><img class=overview src='{html.escape(sec['overview'])}' alt='overview'></p>")
        body.append(
            "<table><tr><th>image</th>"
            + "".join(f"<th>{c}</th>" for _, c in cols)
            + "".join(f"<th>{LABELS[k]}<br>ganfill / Telea</th>" for k in SHOWN)
            + "</tr>"
        )
        for r in rows:
            cells = "".join(f"<td><img src='{html.escape(r[k])}' alt='{k}'></td>" for k, _ in cols)
            ours, telea = r["scores"]["ganfill"], r["scores"]["telea"]
            scores = "".join(f"<td>{_number(k, ours[k])} / {_number(k, telea[k])}</td>" for k in SHOWN)
            body.append(f"<tr><td>{html.escape(r['name'])}</td>{cells}{scores}</tr>")
        body.append("</table>")
    page = (
        "<!doctype html><meta charset=utf-8><title>ganfill demo</title><style>"
        "body{font-family:sans-serif;margin:2em;max-width:80em}td,th{padding:4px;text-align:center}"
        "img{width:96px;image-rendering:pixelated}img.overview{width:auto;max-width:100%}"
        "table.summary td,table.summary th{text-align:left;padding-right:2em}</style>\n" + "\n".join(body) + "\n"
    )
    path = out_dir / "report.html"
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    record = {
        "title": title,
        "notes": notes,
        "sections": [
            {k: sec[k] for k in ("model", "title", "overview")} | {"mean": means(sec["rows"]), "images": sec["rows"]}
            for sec in sections
        ],
    }
    write_json(record, out_dir / "metrics.json")
    return path


# ---- the whole demo -----------------------------------------------------------------------


def run(
    out_dir: str | Path,
    *,
    config: DemoConfig = DemoConfig(),
    model: str | None = None,
    images: str | Path | None = None,
    mask: str = "center",
    runtime: Runtime = Runtime(),
    progress: bool = True,
    echo=print,
) -> Path:
    """Run the demo into out_dir and return the report's path.

    model: one model (a shipped name or any checkpoint ``models.files.resolve`` takes) instead of
    the default sections; without ``images`` it must be a shipped model with built-in inputs.
    images: a folder (or file) of the user's own images, completed by ``model`` (default
    faces64) in its square. mask: any ``ganfill inpaint --mask`` value. runtime: device and
    precision of the search.
    """
    t0 = time.perf_counter()
    out = Path(out_dir)
    fill.MaskSource(mask)  # a bad --mask fails before any work
    if images is not None:
        files = list_images([images])  # an empty folder or a missing path is an error here
        specs = [model or IMAGES_MODEL]
    else:
        specs = [model] if model else list(DEFAULT_MODELS)
        unknown = [s for s in specs if s not in BUILT_IN]
        if unknown:
            checkpoint.resolve(unknown[0])  # an unknown name gets resolve's error, listing the shipped models
            raise GanfillError(
                f"{unknown[0]} has no built-in demo images (those are for {', '.join(BUILT_IN)}): give your own with --images DIR"
            )
    # every model loads before any work, in `ganfill inpaint`'s default mode (auto: faithful
    # where a context encoder is beside the GAN, sharp otherwise)
    complete_config = CompleteConfig(num_steps=config.steps, restarts=config.restarts)
    models = {spec: checkpoint.load(spec) for spec in specs}
    loaded = {spec: load_inpainter(m, "auto", config=complete_config, runtime=runtime) for spec, m in models.items()}
    sections = []
    for spec, inpainter in loaded.items():
        m, mode = models[spec], inpainter.mode
        name = Path(str(spec)).stem  # the shipped name, or the file or folder the model came from
        r = m.config.resolution
        section_dir = out / name
        if images is None:
            inputs = BUILT_IN[spec](r, config)
            files = [save_image(image, section_dir / "inputs" / f"{stem}.png") for stem, image in inputs]
            notes = [BUILT_IN_NOTES[spec]]
        else:
            notes = [
                f"Your images from {images}, brought into the model's {r}x{r} square "
                f"(crop {m.domain.text()}) as `ganfill inpaint` does."
            ]
        echo(f"{name}: completing {len(files)} image(s) at {r}x{r} ...")
        rows = complete_section(
            inpainter, files, section_dir, root=out, mask=mask, seed=config.seed, progress=progress, echo=echo
        )
        if not rows:
            raise GanfillError(f"the mask {mask!r} leaves no hole in any image: nothing to complete")
        save_image(overview(out, rows), section_dir / "overview.png")
        card = cards.card_title(m.path)
        title = f"{name}: {r}x{r}, domain {m.domain.text()}"
        notes += ([f"Model card: {card}."] if card else []) + [f"Model file: {m.path.name}; mode {mode}."]
        sections.append({"model": name, "title": title, "notes": notes, "rows": rows, "overview": f"{name}/overview.png"})
    if images is None and model is None:  # the default demo: a photo repaired where it is
        rows, used = photo_section(out / "photo", root=out, config=complete_config, runtime=runtime, seed=config.seed)
        title = f"photo: 512x512, repaired in place by {used}"
        save_image(overview(out, rows, min_side=256), out / "photo" / "overview.png")
        sections.append({"model": "photo", "title": title, "notes": [PHOTO_NOTE], "rows": rows, "overview": "photo/overview.png"})
    seconds = time.perf_counter() - t0
    steps = f"{config.steps}" if config.steps is not None else "the model's default number of"
    settings = asdict(config) | {"steps": config.steps if config.steps is not None else "the model's default"}
    notes = [
        f"ganfill: Yeh et al.'s latent search ({steps} cosine-decayed Adam steps, {config.restarts} restart(s), "
        "starting from the z of the model's encoder when it has one; "
        "the paper's loss: lambda 0.003, weighted contextual loss, Poisson blending), "
        "against OpenCV's Telea inpainting (radius 3), which never sees the hole. Metrics compare with "
        "the original: PSNR and L1 over the hole, SSIM over the whole image.",
        "Settings: "
        + ", ".join(f"{k} {v}" for k, v in settings.items())
        + f"; mask {mask}; {runtime.describe()}. Wall time: {seconds:.0f} s.",
    ]
    return report(out, sections, title="ganfill demo: the shipped models on images they never saw", notes=notes)
