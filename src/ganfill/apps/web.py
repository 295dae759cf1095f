"""The browser front end (Gradio 6): ``ganfill serve`` (repair, plus the study with ``--results``)
and ``ganfill study`` (the study alone). It only translates between the page and the library:
images and masks come in, ``fill.find_frames`` / ``fill.make_item`` / ``fill.complete_items``
(``inpainting.inpainter.complete_images``, the same framing, search, seeding and blending as
``ganfill inpaint`` and ``ganfill.repair``) do the work, ``study`` keeps the answers.

Repair tab, three columns: the photo, the settings, the result.  The photo is uploaded as a
file (so that it can be checked before anything decodes it), or one of the examples (generated:
NASA's public-domain astronaut portrait from scikit-image, upright and turned, and a word set in
matplotlib's DejaVu font) is clicked; it is shown in an image editor, on whose layer the hole is
painted with the brush (a preset hole, center, half, ..., can be chosen instead).  The model's
square (``data.framing.Frame``) is drawn on the photo in cyan: on each face the hole touches
(found by its landmarks) for a face model, a box around the hole for any other; *model square*
is the crop of the training images (the result is then at model resolution), and *by hand* is
the square X, Y, Size of the sliders (``--frame X,Y,SIZE`` of the command line).  It is drawn
when an example is chosen, when Show the frame or Repair is pressed, and when the framing, the
model, the hole choice or a slider changes (not at each brush stroke: redrawing the editor sends
the painted layer back, and a stroke made meanwhile would be lost); moving a slider switches the
framing to *by hand*, starting from the square last shown.  These redraws run one at a time.  A
face model on a hole that touches no face says so and what to do.  The page's *auto* keeps the
photo at its size for every model (``fill.resolve_framing(..., fit_above=0)``, as
``ganfill.repair`` does).

The result is the whole photo at its size (only the hole changes), shown against the photo in
a before/after slider and offered for download as PNG.  While the latent search runs (in a
worker thread), what the model sees is streamed every few steps; progress and the queue
position are shown in the status box, never over the images.  Stop ends the search early and
still shows and offers the result so far.  At 1400x1000 the page fits the window.

Limits: an upload may have at most ``MAX_UPLOAD_BYTES`` (20 MB) and ``MAX_PIXELS`` (40
megapixels, read from the file header before decoding); larger files, files that are not
images and empty holes get a message in the status box. Requests are queued: by default one
latent search runs at a time per process (``concurrency``), the others wait and see their place
in the queue.

Offline: Gradio's analytics are off (``Blocks(analytics_enabled=False)``; the CLI also sets
GRADIO_ANALYTICS_ENABLED=False before Gradio is imported), the default theme's fonts are the
ones bundled with Gradio, no page asset comes from outside, there is no share link; the server
binds to 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import os
import queue
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import gradio as gr
import numpy as np
import torch
from PIL import Image, ImageDraw

from ganfill.apps import fill, study
from ganfill.apps.config import SIZED
from ganfill.core.constants import BLENDS, MAX_PIXELS
from ganfill.core.errors import GanfillError
from ganfill.core.images import save_image, to_tensor, to_uint8
from ganfill.core.runtime import Runtime
from ganfill.data.domain import Domain
from ganfill.data.framing import Frame, box_frame
from ganfill.data.masks import MASKS
from ganfill.data.reading import load_image
from ganfill.inpainting.blend import paste
from ganfill.inpainting.config import ENCODER_STEPS, PAPER_SCHEDULE, PRIOR_STEPS, START_DEFAULTS, CompleteConfig
from ganfill.inpainting.inpainter import MODES as RUN_MODES
from ganfill.inpainting.inpainter import Inpainter, auto_mode, load_inpainter
from ganfill.models import files as checkpoint

MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # 20 MB
DISPLAY_SIDE = 1024  # the editor shows larger photos scaled down to this; the hole is scaled back up
FRAMES = 30  # about this many live frames per run
PAINTED = "painted"  # the Hole choice for the one painted on the editor
BRUSH_RGB = (255, 0, 255)  # magenta: the hole as painted
BRUSH_COLOUR = "#{:02x}{:02x}{:02x}".format(*BRUSH_RGB)
FRAME_COLOUR = (0, 225, 255)  # the model's square drawn on the photo (cyan: the brush is magenta)
BY_HAND = "frame"  # the page's framing for the square of the sliders (--frame X,Y,SIZE)
FRAMING_INFO = (
    "auto: on the face (face models), else a box around the hole; model square: cropped like the "
    "training images (result at model resolution); by hand: X, Y, Size"
)
METHOD_INFO = (
    "sharp: the latent search; faithful: close to what was there (adds the context encoder); closest: the "
    "generator adapted to the photo (slower); fast: the context encoder alone; the others: classical methods, for comparison"
)
FRAMING_CHOICES = (("auto", "auto"), ("box around the hole", "fit"), ("model square", "domain"), ("by hand", BY_HAND))
NO_FACE = (
    "the hole touches no face the detector found: set Framing to 'by hand' and move the cyan square "
    "onto the face (X, Y, Size), or choose 'box around the hole'"
)
PAPER_STEPS = PAPER_SCHEDULE.num_steps
PRIOR_RESTARTS = START_DEFAULTS["prior"]["restarts"]

CSS = """
.ganfill-fill img { width: 100%; height: 100%; object-fit: contain; }
.ganfill-pixels img { image-rendering: pixelated; }
"""
SERVING = {  # what every launch serves: a local page, no share link, no monitoring or MCP endpoints
    "share": False,
    "css": CSS,
    "max_file_size": MAX_UPLOAD_BYTES,
    "footer_links": [],
    "ssr_mode": False,
    "pwa": False,
    "mcp_server": False,
    "enable_monitoring": False,
    "run_history": False,
    "show_error": True,
}
SMALL = 320  # images up to this size are enlarged with visible pixels rather than blurred


def _count(label: str, elem_id: str, *, hi: int, info: str) -> gr.Number:
    """A whole-number field from 0 to ``hi`` whose 0 means auto."""
    return gr.Number(value=0, minimum=0, maximum=hi, precision=0, label=label, info=info, elem_id=elem_id)


def _look(image: np.ndarray) -> list[str]:
    """CSS classes for an image output: fill the box; keep pixels sharp when it is small."""
    return ["ganfill-fill", "ganfill-pixels"] if max(image.shape[:2]) <= SMALL else ["ganfill-fill"]


# ---- models -------------------------------------------------------------------------------


def shipped_models() -> dict[str, Path]:
    """The GANs that ship with ganfill (package data ``ganfill/assets/models/*.safetensors``) and
    the user's (``ganfill export RUN NAME``), by stem; their context encoders (``NAME-ce``) come
    with them as the faithful and fast methods."""
    return {name: path for name, path in checkpoint.named_models().items() if checkpoint.describe(path).kind == "gan"}


def _model_name(path: Path) -> str:
    if path.suffix != ".safetensors":  # a run or checkpoint folder
        return path.name or str(path)
    return path.parent.name if path.name == checkpoint.MODEL_FILE else path.stem


def parse_models(specs: Iterable[str]) -> dict[str, Path]:
    """``--models`` values: ``NAME=PATH`` or ``PATH`` (named after the file's stem, or the folder's
    name for run folders, checkpoint folders and ``model.safetensors`` files)."""
    models: dict[str, Path] = {}
    for spec in specs:
        name, sep, rest = spec.partition("=")
        if sep and name and not Path(spec).exists():
            path = Path(rest)
        else:
            name, path = "", Path(spec)
        name = name.strip() or _model_name(path)
        if name in models:
            raise GanfillError(f"two models are named {name!r}: name them with NAME=PATH")
        models[name] = path
    return models


# ---- inputs -------------------------------------------------------------------------------


def read_upload(path: str | os.PathLike, *, background=(255, 255, 255)) -> np.ndarray:
    """An uploaded image as uint8 (H, W, 3), checked against the limits (bytes, then the header's
    pixel count: ``core.constants.MAX_PIXELS``) before it is decoded. Messages name the file, never the
    server's temporary folder."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError:
        raise GanfillError(f"the upload {path.name} is gone from the server (uploads are kept a day): upload it again") from None
    if size > MAX_UPLOAD_BYTES:
        raise GanfillError(f"{path.name} is {size / 2**20:.1f} MB: the limit is {MAX_UPLOAD_BYTES / 2**20:.0f} MB")
    return load_image(path, background=background, max_pixels=MAX_PIXELS, name=path.name)


def display_copy(image: np.ndarray) -> np.ndarray:
    """The image as the editor shows it: at most DISPLAY_SIDE on its longer side."""
    h, w = image.shape[:2]
    scale = DISPLAY_SIDE / max(h, w)
    if scale >= 1:
        return image
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BICUBIC))


def painted_hole(editor: dict | None, size: tuple[int, int]) -> np.ndarray:
    """bool (H, W) at ``size``: True where any editor layer was painted (alpha > 0)."""
    h, w = size
    hole = np.zeros((h, w), bool)
    for layer in (editor or {}).get("layers") or []:
        layer = np.asarray(layer)
        if layer.ndim != 3 or layer.shape[2] != 4:
            continue
        painted = layer[..., 3] > 0
        if painted.shape != (h, w):  # drawn on the display copy: scale up, keeping every touched pixel
            up = Image.fromarray(painted.astype(np.uint8) * 255).resize((w, h), Image.Resampling.BILINEAR)
            painted = np.asarray(up) > 0
        hole |= painted
    return hole


def page_hole(image: np.ndarray, name: str, *, hole_choice: str, editor: dict | None, seed: int) -> np.ndarray:
    """bool (H, W), True = missing: the hole painted on the editor, or the preset ``hole_choice``
    (``data.masks.MASKS``) drawn over the whole image."""
    if hole_choice == PAINTED:
        return painted_hole(editor, image.shape[:2])
    return fill.MaskSource(hole_choice).hole(Path(name), image.shape[:2], seed)


def page_frames(
    image: np.ndarray, hole: np.ndarray, domain: Domain, resolution: int, *, framing: str, box=None, finder=None
) -> tuple[str, list[Frame]]:
    """The page's ``framing`` resolved and the model's squares on the photo.

    ``auto`` keeps the photo at its size (``fill.resolve_framing`` with ``fit_above=0``: a face
    model's squares on the faces the hole touches, a box around the hole for other models);
    the squares come from ``fill.find_frames``; ``BY_HAND`` is the square ``box`` (x, y, side).
    A face model on a hole that touches no face: ``NO_FACE``."""
    if framing == BY_HAND:
        if box is None or None in box:
            raise GanfillError("give the square by hand: its X, Y and Size")
        return BY_HAND, [box_frame(*box, resolution)]
    resolved = fill.resolve_framing(framing, domain, image.shape[:2], resolution, fit_above=0)
    frames = fill.find_frames(image, hole, domain, resolution, resolved, finder=finder)
    if resolved == "face" and hole.any() and not frames:
        raise GanfillError(NO_FACE)
    return resolved, frames


def reaches(frames: list[Frame], hole: np.ndarray) -> bool:
    """Whether some frame's square holds part of ``hole`` (bool (H, W))."""
    return any((f.covers(*hole.shape) & hole).any() for f in frames)


def draw_frames(shown: np.ndarray, frames: list[Frame], scale: float = 1.0) -> np.ndarray:
    """``shown`` (uint8 (h, w, 3): the editor's copy of the photo, ``scale`` of its pixels a
    photo pixel) with each frame's square outlined in ``FRAME_COLOUR``."""
    out = Image.fromarray(shown)
    draw = ImageDraw.Draw(out)
    width = max(2, round(max(shown.shape[:2]) / 200))
    for frame in frames:
        draw.polygon([tuple(p) for p in frame.corners() * scale], outline=FRAME_COLOUR, width=width)
    return np.asarray(out)


def frame_sliders(shape: tuple[int, int], box: tuple[float, float, float] | None = None) -> list:
    """The X, Y and Size sliders for a photo of ``shape`` (H, W): ranges that let the square
    reach past every edge, values ``box`` (x, y, side; the middle half of the photo if None)."""
    h, w = shape
    ranges = ((-w // 2, w), (-h // 2, h), (8, 2 * max(h, w)))
    if box is None:
        side = min(h, w) / 2
        box = ((w - side) / 2, (h - side) / 2, side)
    return [gr.Slider(minimum=lo, maximum=hi, value=int(round(min(max(v, lo), hi)))) for (lo, hi), v in zip(ranges, box)]


# ---- examples -----------------------------------------------------------------------------


def _astronaut(turn: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """NASA's portrait of Eileen Collins (scikit-image's ``astronaut()``, public domain, 512x512),
    turned by ``turn`` degrees about the face and shrunk a little, with a hole over the eyes
    (upright) or the mouth (turned)."""
    import cv2
    from skimage.data import astronaut

    photo, hole = astronaut(), np.zeros((512, 512), np.uint8)
    if not turn:
        hole[88:118, 185:266] = 1  # the eyes
        return photo, hole.astype(bool)
    hole[134:162, 195:252] = 1  # the mouth
    m = cv2.getRotationMatrix2D((225, 130), turn, 0.8)
    photo = cv2.warpAffine(photo, m, (512, 512), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return photo, cv2.warpAffine(hole, m, (512, 512), flags=cv2.INTER_NEAREST) > 0


def _word() -> tuple[np.ndarray, np.ndarray]:
    """``GAN`` in DejaVu Sans Bold (bundled with matplotlib), black on white, with a hole in the A."""
    from PIL import ImageFont

    from ganfill.data.glyphs import matplotlib_font_dir

    page = Image.new("RGB", (480, 160), "white")
    font = ImageFont.truetype(str(matplotlib_font_dir() / "DejaVuSans-Bold.ttf"), 110)
    ImageDraw.Draw(page).text((240, 80), "GAN", font=font, fill="black", anchor="mm")
    hole = np.zeros((160, 480), bool)
    hole[53:105, 212:265] = True
    return np.asarray(page), hole


@dataclass(frozen=True)
class Example:
    """A picture to start from: its file name, caption, the model it suits, and the function that
    makes it and its hole (uint8 (H, W, 3), bool (H, W))."""

    name: str
    caption: str
    model: str
    make: Callable[[], tuple[np.ndarray, np.ndarray]]


EXAMPLES = (
    Example("astronaut.png", "faces64: the eyes", "faces64", _astronaut),
    Example("astronaut-turned.png", "faces64: the mouth, the face turned", "faces64", lambda: _astronaut(20.0)),
    Example("gan.png", "glyphs32: a letter", "glyphs32", _word),
)


def write_examples(folder: Path, models: Iterable[str]) -> list[tuple[Example, Path, Path]]:
    """The examples whose model is in ``models``, written to ``folder``: (example, the picture,
    a thumbnail with its hole painted as the brush paints it)."""
    written = []
    for example in EXAMPLES:
        if example.model not in models:
            continue
        image, hole = example.make()
        shown = image.copy()
        shown[hole] = BRUSH_RGB
        picture, thumbnail = folder / example.name, folder / f"thumbnail-{example.name}"
        Image.fromarray(image).save(picture)
        Image.fromarray(shown).save(thumbnail)
        written.append((example, picture, thumbnail))
    return written


def hole_layer(hole: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """uint8 RGBA (h, w, 4) at ``size`` (the editor's copy): ``hole`` painted in the brush's colour."""
    h, w = size
    painted = np.asarray(Image.fromarray(hole.astype(np.uint8) * 255).resize((w, h), Image.Resampling.NEAREST)) > 0
    layer = np.zeros((h, w, 4), np.uint8)
    layer[painted] = (*BRUSH_RGB, 255)
    return layer


def make_item(
    image: np.ndarray,
    name: str,
    frame: Inpainter,
    *,
    hole_choice: str,
    editor: dict | None,
    framing: str,
    frames: list[Frame],
    seed: int,
) -> fill.Item:
    """The page's inputs as a fill.Item in ``frame``'s square (what ``ganfill inpaint`` would
    build from files): ``framing`` and ``frames`` are ``page_frames``'; in ``domain`` framing
    a preset hole is drawn in the model's square."""
    path = Path(name)
    if framing == "domain" and hole_choice != PAINTED:
        r = frame.resolution
        return fill.make_item(image, frame, hole_domain=fill.MaskSource(hole_choice).hole(path, (r, r), seed), path=path)
    hole = page_hole(image, name, hole_choice=hole_choice, editor=editor, seed=seed)
    if not hole.any():
        raise GanfillError("the hole is empty: paint over the part to repair with the brush, or choose a preset hole")
    if not reaches(frames, hole):
        raise GanfillError(
            "the hole lies outside the model's square (drawn in cyan): paint inside it, "
            "or choose Framing 'auto' or move the square over the hole ('by hand')"
        )
    if framing == "domain":
        return fill.make_item(image, frame, hole=hole, path=path)
    return fill.make_item(image, frame, hole=hole, frames=frames, path=path)


# ---- the latent search, streamed ----------------------------------------------------------


def stream_completion(
    inpainter: Inpainter, item: fill.Item, *, seed: int, stop: threading.Event | None = None
) -> Iterator[tuple]:
    """Complete one item with ``inpainter`` (``fill.complete_items``, as ``ganfill inpaint`` does) in a worker thread
    and yield its progress as it comes: ``("frame", step, image, loss)`` (the model's view, hole
    filled with the current G(z)), then ``("done", final, fake, result, seconds)`` or
    ``("error", exception)``. Setting ``stop`` ends the search at its next frame (the result so
    far is still composed and returned); closing the iterator stops it too."""
    x = to_tensor(item.xs)  # (F, 3, R, R), for the live frames (the first square's)
    m = torch.from_numpy(item.masks).float()[:, None]  # (F, 1, R, R), 1 = known
    messages: queue.Queue = queue.Queue()
    stop = stop or threading.Event()

    def callback(step, fake, losses):
        messages.put(("frame", step, to_uint8(paste(fake.cpu(), x, m))[0], float(losses[0])))
        return stop.is_set()

    def work():
        try:
            t0 = time.perf_counter()
            done, finals, _ = fill.complete_items(inpainter, [item], seed=seed, callback=callback)
            messages.put(("done", finals[0], done.fake[0], done.result, time.perf_counter() - t0))
        except Exception as e:  # noqa: BLE001 - handed to the page
            messages.put(("error", e))

    worker = threading.Thread(target=work, name="ganfill-complete", daemon=True)
    worker.start()
    try:
        while True:
            message = messages.get()
            yield message
            if message[0] != "frame":
                return
    finally:
        stop.set()
        worker.join()


# ---- the app ------------------------------------------------------------------------------


def _warn(error: Exception) -> str:
    return f"⚠ {error}"


def _repair_tab(models: dict[str, Path], *, concurrency: int, runtime: Runtime) -> None:
    info, loaded_models, cnns = {}, {}, {}
    for name, path in models.items():
        loaded = loaded_models[name] = checkpoint.load(path, kind="gan")  # fail at start, not at the first request
        loaded.prior(runtime)  # its inference copies, built once and shared by all requests
        companion = checkpoint.context_encoder_for(loaded.path)
        if companion is not None:
            cnns[name] = checkpoint.load(companion, kind="context-encoder")
            cnns[name].predictor(runtime)
        info[name] = f"{name} ({loaded.resolution}x{loaded.resolution})"
    sized = {name: group for name, group in SIZED.items() if all(m in loaded_models for m in group)}
    for name, group in sized.items():  # e.g. faces: faces64 or faces128, by the face's size (fill.pick)
        info[name] = f"{name} ({' or '.join(group)} by the face's size)"
    first = next(iter(models))  # the page opens on it, or on the sized name that holds it (faces)
    opening = next((name for name, group in sized.items() if first in group), first)
    finder = None
    if any(m.domain.faces for m in loaded_models.values()):
        from ganfill.data.faces import FaceFinder

        finder = FaceFinder()  # dlib's detectors and landmarks, loaded once
    finding = threading.Lock()  # one request at a time uses them
    examples_dir = tempfile.TemporaryDirectory(prefix="ganfill-examples-")  # removed with the app
    examples = write_examples(Path(examples_dir.name), loaded_models)

    stops: dict[str, threading.Event] = {}  # session -> the Stop flag of its running search

    gr.Markdown(
        "Upload a photo or click an example, paint over what should be repaired and press **Repair**. "
        "The cyan square is what the model looks at: on the face for a face model; move it with the sliders."
    )
    upload_path = gr.State(None)
    with gr.Row(equal_height=False):
        with gr.Column(scale=5, min_width=380):
            upload = gr.File(
                label=f"1. Photo (jpg, png, webp, bmp; at most {MAX_UPLOAD_BYTES // 2**20} MB "
                f"and {MAX_PIXELS // 1_000_000} megapixels)",
                file_types=["image"],
                type="filepath",
                elem_id="upload",
                height=90,
            )
            editor = gr.ImageEditor(
                label="2. Paint the hole (magenta); the model's square is drawn in cyan",
                type="numpy",
                image_mode="RGBA",
                sources=(),
                transforms=(),
                layers=False,
                format="png",
                elem_id="editor",
                height=470,
                canvas_size=(1, 1),  # the canvas takes the photo's size (else Gradio centres the layers the page sets in it)
                brush=gr.Brush(colors=[BRUSH_COLOUR], color_mode="fixed"),
                placeholder="Upload a photo above, or click an example below",
            )
            gallery = gr.Gallery(
                [(str(thumbnail), example.caption) for example, _, thumbnail in examples],
                label="Examples (click one)",
                columns=max(1, len(examples)),
                height=150,
                allow_preview=False,
                object_fit="contain",
                format="png",
                elem_id="examples",
                visible=bool(examples),
            )
        with gr.Column(scale=4, min_width=300):
            with gr.Row():
                model = gr.Dropdown(
                    choices=[(label, name) for name, label in info.items()],
                    value=opening,
                    label="Model",
                    elem_id="model",
                    min_width=120,
                )
                hole = gr.Dropdown(choices=[PAINTED, *MASKS], value=PAINTED, label="Hole", elem_id="hole", min_width=120)
            framing = gr.Radio(
                list(FRAMING_CHOICES),
                value="auto",
                label="Framing: where the model's square goes",
                elem_id="framing",
                info=FRAMING_INFO,
            )
            with gr.Row():
                x = gr.Slider(0, 1024, value=256, step=1, label="X", elem_id="frame-x", min_width=90)
                y = gr.Slider(0, 1024, value=256, step=1, label="Y", elem_id="frame-y", min_width=90)
                size = gr.Slider(8, 2048, value=512, step=1, label="Size", elem_id="frame-size", min_width=90)
            show = gr.Button("Show the frame", size="sm", elem_id="show")
            with gr.Row():
                run = gr.Button("Repair", variant="primary", elem_id="run")
                stop = gr.Button("Stop", elem_id="stop")
            status = gr.Textbox(label="Status", interactive=False, lines=2, elem_id="status")
            with gr.Accordion("Method and search settings", open=False, elem_id="settings"):
                method = gr.Dropdown(
                    [("auto: faithful with a context encoder, else sharp", "auto"), *RUN_MODES],
                    value="auto",
                    label="Method",
                    elem_id="method",
                    info=METHOD_INFO,
                )
                with gr.Row():
                    steps = _count(
                        "Iterations",
                        "steps",
                        hi=100_000,
                        info=f"0 = auto ({PRIOR_STEPS}, or {ENCODER_STEPS} from the model's encoder); "
                        f"the paper uses {PAPER_STEPS} at a constant rate",
                    )
                    restarts = _count(
                        "Restarts",
                        "restarts",
                        hi=64,
                        info=f"the best start is kept; 0 = auto ({PRIOR_RESTARTS} from a random z, 1 from the encoder)",
                    )
                with gr.Row():
                    lam = gr.Number(
                        value=CompleteConfig().lam, minimum=0, label="Lambda", info="weight of the perceptual loss", elem_id="lam"
                    )
                    seed = gr.Number(value=0, precision=0, label="Seed", info="for the starting z", elem_id="seed")
                blend = gr.Radio(list(BLENDS), value=BLENDS[0], label="Blending", elem_id="blend")
        with gr.Column(scale=5, min_width=380):
            result = gr.ImageSlider(
                label="3. Before / after: the whole photo, only the hole repaired",
                type="numpy",
                format="png",
                interactive=False,
                buttons=["fullscreen"],
                height=440,
                max_height=440,
                elem_id="result",
            )
            download = gr.DownloadButton("Download the repaired photo (PNG, full size)", interactive=False, elem_id="download")
            with gr.Row():
                shown = {"format": "png", "interactive": False, "height": 190}
                live = gr.Image(
                    label="Live: the model's view",
                    buttons=[],
                    elem_id="live",
                    elem_classes=["ganfill-fill", "ganfill-pixels"],
                    **shown,
                )
                fake = gr.Image(
                    label="The fill: G(z^), or the context encoder's",
                    buttons=["fullscreen"],
                    elem_id="fake",
                    elem_classes=["ganfill-fill", "ganfill-pixels"],
                    **shown,
                )

    def shown_copy(image: np.ndarray) -> tuple[np.ndarray, float]:
        copy = display_copy(image)
        return copy, copy.shape[1] / image.shape[1]

    def editor_with(image: np.ndarray, frames: list[Frame], layers) -> dict:
        """The editor's value: the photo's copy with ``frames`` drawn, the painted ``layers`` kept."""
        copy, scale = shown_copy(image)
        return {"background": draw_frames(copy, frames, scale), "layers": list(layers or []), "composite": None}

    def look(path, editor_value, model_name, hole_choice, framing_choice, box, seed_value):
        """The photo, its hole, the resolved framing, the model's squares and the model, as the
        Repair button would use them: for a name of ``SIZED``, the one the face's size calls for
        (a square given by hand keeps the first, whose square it is)."""
        if not path:
            raise GanfillError("upload a photo first")
        names = sized.get(model_name, (model_name,))
        if names[0] not in loaded_models:
            raise GanfillError(f"choose a model: {', '.join(info)}")
        loaded = loaded_models[names[0]]
        image = read_upload(path, background=loaded.domain.background)
        holes = page_hole(image, Path(path).name, hole_choice=hole_choice, editor=editor_value, seed=int(seed_value or 0))
        with finding:
            resolved, frames = page_frames(
                image, holes, loaded.domain, loaded.resolution, framing=framing_choice, box=box, finder=finder
            )
        if len(names) > 1 and frames and resolved == "face":
            models = [loaded_models[n] for n in names]
            chosen, frames = fill.pick(models, frames)
            return image, holes, resolved, frames, names[models.index(chosen)]
        return image, holes, resolved, frames, names[0]

    def framed_outputs(image, holes, resolved, frames, layers, r):
        """Editor, sliders and status for frames just found: the sliders take the first square, to
        be moved from there (left alone when they gave it: they may be moving still)."""
        box = frames[0].box() if frames else None
        sliders = [gr.skip()] * 3 if resolved == BY_HAND else frame_sliders(image.shape[:2], box)
        if frames:
            where = f"{resolved}: {len(frames)} square(s) at {r}x{r}, drawn in cyan"
            if holes.any() and not reaches(frames, holes):
                where += " · ⚠ the hole lies outside it"
        else:
            where = f"{resolved}: the square is drawn once the hole is painted"
        return [editor_with(image, frames, layers), *sliders, where]

    def on_show(path, editor_value, model_name, hole_choice, framing_choice, x_value, y_value, size_value, seed_value):
        if not path:
            return [gr.skip()] * 5
        try:
            image, holes, resolved, frames, chosen = look(
                path, editor_value, model_name, hole_choice, framing_choice, (x_value, y_value, size_value), seed_value
            )
        except GanfillError as e:
            return [gr.skip()] * 4 + [_warn(e)]
        layers = (editor_value or {}).get("layers")
        return framed_outputs(image, holes, resolved, frames, layers, loaded_models[chosen].resolution)

    def on_slide(*inputs):  # a slider moved: the square by hand, from where it is
        path, editor_value, model_name, hole_choice, _, *rest = inputs
        return [BY_HAND, *on_show(path, editor_value, model_name, hole_choice, BY_HAND, *rest)]

    def on_upload(path):
        if not path:
            return [None, None, None, gr.skip(), gr.skip(), gr.skip(), ""]
        try:
            image = read_upload(path)
        except GanfillError as e:
            return [None, None, None, gr.skip(), gr.skip(), gr.skip(), _warn(e)]  # the file box is emptied
        h, w = image.shape[:2]
        copy, _ = shown_copy(image)
        note = "" if copy is image else f" (shown at {copy.shape[1]}x{copy.shape[0]})"
        brush = gr.Brush(colors=[BRUSH_COLOUR], color_mode="fixed", default_size=max(2, min(copy.shape[:2]) // 32))
        return [
            gr.skip(),
            gr.ImageEditor(value={"background": copy, "layers": [], "composite": copy}, brush=brush),
            path,
            *frame_sliders((h, w)),
            f"{Path(path).name}: {w}x{h}{note}. Paint the hole, then press Repair (or Show the frame).",
        ]

    def on_example(evt: gr.SelectData, seed_value):
        example = examples[evt.index][0]
        picture = str(Path(examples_dir.name) / example.name)  # (the folder lives as long as this handler)
        image = read_upload(picture)
        copy, _ = shown_copy(image)
        layer = hole_layer(example.make()[1], copy.shape[:2])
        editor_value = {"background": copy, "layers": [layer], "composite": None}
        try:
            image, holes, resolved, frames, _ = look(picture, editor_value, example.model, PAINTED, "auto", None, seed_value)
            value, *sliders, where = framed_outputs(
                image, holes, resolved, frames, [layer], loaded_models[example.model].resolution
            )
            where = f"{example.name}: {where}. Press Repair, or paint more."
        except GanfillError as e:
            value, sliders, where = editor_value, frame_sliders(image.shape[:2]), _warn(e)
        brush = gr.Brush(colors=[BRUSH_COLOUR], color_mode="fixed", default_size=max(2, min(copy.shape[:2]) // 32))
        return [picture, gr.ImageEditor(value=value, brush=brush), picture, example.model, PAINTED, "auto", *sliders, where]

    def prepare(
        path,
        editor_value,
        model_name,
        hole_choice,
        framing_choice,
        x_value,
        y_value,
        size_value,
        n_steps,
        n_restarts,
        lam_value,
        blend_choice,
        seed_value,
        method_choice="auto",
    ):
        if None in (n_steps, n_restarts, lam_value, seed_value):
            raise GanfillError("iterations, restarts, lambda and seed need a value each")
        if blend_choice not in BLENDS:
            raise GanfillError(f"choose a blending: {', '.join(BLENDS)}")
        image, _, resolved, frames, model_name = look(
            path, editor_value, model_name, hole_choice, framing_choice, (x_value, y_value, size_value), seed_value
        )
        loaded = loaded_models[model_name]
        if method_choice == "auto":
            method_choice = auto_mode(loaded, has_context_encoder=model_name in cnns)
        if method_choice not in RUN_MODES:
            raise GanfillError(f"choose a method: auto, {', '.join(RUN_MODES)}")
        if method_choice in ("faithful", "fast") and model_name not in cnns:
            raise GanfillError(
                f"{model_name} has no context encoder beside it ({model_name}-ce): "
                f"the {method_choice} repair needs one; use sharp"
            )
        config = CompleteConfig(num_steps=int(n_steps) or None, lam=float(lam_value), restarts=int(n_restarts) or None)
        config = config.resolved(loaded.prior(runtime))
        config = replace(config, record_every=max(1, round(config.num_steps / FRAMES)))
        inpainter = load_inpainter(
            loaded, method_choice, cnn=cnns.get(model_name), config=config, runtime=runtime, blends=(blend_choice,)
        )
        item = make_item(
            image,
            Path(path).name,
            inpainter,
            hole_choice=hole_choice,
            editor=editor_value,
            framing=resolved,
            frames=frames,
            seed=int(seed_value),
        )
        return inpainter, item, resolved, frames

    def on_run(request: gr.Request, *inputs):  # inputs: those of prepare, in its order
        path, editor_value, seed_value = inputs[0], inputs[1], inputs[12]
        try:
            inpainter, item, resolved, frames = prepare(*inputs)
        except GanfillError as e:
            yield {status: _warn(e)}
            return
        r, method_choice, n_total = inpainter.resolution, inpainter.mode, inpainter.steps
        where = f"{resolved}: {len(item.frames)} square(s) at {r}x{r}" if item.frames else f"model square {r}x{r}"
        masked = item.x.copy()
        masked[~item.mask] = fill.HOLE_GREY
        before = item.image if item.frames else item.x
        yield {
            status: f"starting ({where})",
            editor: editor_with(item.image, frames, (editor_value or {}).get("layers")),
            live: masked,
            result: None,
            fake: None,
            download: gr.DownloadButton(value=None, interactive=False),
        }
        session, flag = request.session_hash, threading.Event()
        stops[session] = flag
        try:
            with tempfile.TemporaryDirectory(prefix="ganfill-web-") as tmp:  # the download's copy (Gradio caches its own)
                for kind, *data in stream_completion(inpainter, item, seed=int(seed_value), stop=flag):
                    if kind == "frame":
                        step, frame, loss = data
                        yield {live: frame, status: f"step {step}/{n_total} · loss {loss:.2f} · {where}"}
                    elif kind == "error":
                        if not isinstance(data[0], GanfillError):
                            raise data[0]
                        yield {status: _warn(data[0])}
                    else:
                        final, best_fake, res, seconds = data
                        file = save_image(final, Path(tmp) / f"{Path(path).stem}-repaired.png")
                        if res is None:  # no search: one pass of the context encoder, or a classical method
                            what = f"done: {method_choice} in {seconds:.2f} s"
                        else:
                            how = "done" if res.steps_run == n_total else "stopped"
                            what = (
                                f"{how}: {res.steps_run} steps in {seconds:.1f} s, final loss "
                                f"{float(res.losses[-1, 0]):.2f} · {method_choice}"
                            )
                        yield {
                            result: (before, final),
                            fake: best_fake,
                            download: gr.DownloadButton(value=str(file), interactive=True),
                            status: f"{what} · {where} · result {final.shape[1]}x{final.shape[0]}",
                        }
        finally:
            if stops.get(session) is flag:
                del stops[session]

    sliders = [x, y, size]
    framed = [editor, *sliders, status]
    upload.upload(on_upload, upload, [upload, editor, upload_path, *sliders, status], show_progress_on=[status])
    upload.clear(lambda: (None, None, ""), None, [editor, upload_path, status], show_progress="hidden")
    # the events that redraw the editor run one at a time (each sends the painted layers back)
    one = {"concurrency_limit": 1, "concurrency_id": "frame"}
    gallery.select(
        on_example, seed, [upload, editor, upload_path, model, hole, framing, *sliders, status], show_progress_on=[status], **one
    )
    looked = [upload_path, editor, model, hole, framing, *sliders, seed]
    show.click(on_show, looked, framed, show_progress_on=[status], **one)
    for control in (framing, model, hole):
        control.input(on_show, looked, framed, show_progress="hidden", trigger_mode="always_last", **one)
    for slider in sliders:
        slider.release(on_slide, looked, [framing, *framed], show_progress="hidden", trigger_mode="always_last", **one)
    run.click(
        on_run,
        [upload_path, editor, model, hole, framing, *sliders, steps, restarts, lam, blend, seed, method],
        [status, editor, live, result, fake, download],
        show_progress="full",
        show_progress_on=[status],
        concurrency_limit=concurrency,
        concurrency_id="complete",
    )

    def on_stop(request: gr.Request):
        flag = stops.get(request.session_hash)
        if flag is not None:
            flag.set()

    stop.click(on_stop, None, None, show_progress="hidden", queue=False)


def _study_tab(results_dir: Path, *, db: Path | None, originals: Path | None, subject: str) -> None:
    pairs, _ = study.find_pairs(results_dir, originals=originals)
    if not pairs:
        raise GanfillError(
            f"{results_dir} holds no completed image whose original can be found: "
            "run `ganfill inpaint ... --out` into it first (or give --originals)"
        )
    store = study.Store(db or results_dir / study.DB_NAME)
    by_name = {p.name: p for p in pairs}
    names = sorted(by_name)

    gr.Markdown(
        f"Each picture is either an original or a repaired image. Look at it and answer the "
        f"four questions; there are {len(names)} pictures. Use the same name to continue later."
    )
    state = gr.State(None)
    with gr.Row():
        rater = gr.Textbox(label="Your name (any nickname)", elem_id="rater", scale=3)
        start = gr.Button("Start / continue", elem_id="start", scale=1)
    with gr.Row():
        picture = gr.Image(
            label="Picture",
            show_label=False,
            format="png",
            interactive=False,
            buttons=[],
            height=SMALL,
            elem_id="picture",
            elem_classes=["ganfill-fill"],
        )
        with gr.Column():
            where = gr.Markdown(elem_id="where")
            answers = [
                gr.Radio(["Yes", "No"], label=q.text.format(subject=subject), elem_id=f"q-{q.key}") for q in study.QUESTIONS
            ]
            submit = gr.Button("Submit", variant="primary", elem_id="submit")
            message = gr.Markdown(elem_id="message")

    def current_table():
        return study.format_table2(study.table2(store.answers()), subject=subject)

    with gr.Accordion("Results so far (the paper's Table 2)", open=False):
        table = gr.Markdown(current_table, elem_id="table")  # a function: computed on every page load
        refresh = gr.Button("Refresh", size="sm", elem_id="refresh")

    def show_next(name: str, note: str = ""):
        shown, done = study.next_item(names, name, store.answered(name))
        cleared = [None] * len(answers)
        shown_name = study.markdown_text(name)  # as typed, never as markup
        if shown is None:
            return [None, None, f"**{shown_name}**: all {len(names)} pictures answered. Thank you!", *cleared, note]
        image = study.image_of(by_name[shown.name], shown.kind)  # both versions of a pair: same size, same look
        current = {"rater": name, "name": shown.name, "kind": shown.kind, "since": time.time()}
        return [
            current,
            gr.Image(image, elem_classes=_look(image)),
            f"**{shown_name}**: picture {done + 1} of {len(names)}",
            *cleared,
            note,
        ]

    outputs = [state, picture, where, *answers, message]

    def on_start(name):
        try:
            return show_next(study.clean_rater(name))
        except GanfillError as e:
            return [None, None, "", *[None] * len(answers), _warn(e)]

    def on_submit(current, *values):
        if current is None:
            return [gr.skip()] * (len(outputs) - 1) + [_warn("enter your name and press Start first")]
        if any(v is None for v in values):
            return [gr.skip()] * (len(outputs) - 1) + [_warn("please answer all four questions")]
        yes = {q.key: v == "Yes" for q, v in zip(study.QUESTIONS, values)}
        try:
            stored = store.add(
                study.Answer(
                    current["rater"], current["name"], current["kind"], **yes, seconds=round(time.time() - current["since"], 1)
                )
            )
        except GanfillError as e:
            return [gr.skip()] * (len(outputs) - 1) + [_warn(e)]
        return show_next(current["rater"], "saved" if stored else "already answered: kept the first answer")

    start.click(on_start, rater, outputs)
    rater.submit(on_start, rater, outputs)
    submit.click(on_submit, [state, *answers], outputs).then(current_table, None, table)
    refresh.click(current_table, None, table)


def build_app(
    models: dict[str, Path | str],
    *,
    results_dir: Path | str | None = None,
    db: Path | str | None = None,
    originals: Path | str | None = None,
    subject: str = "face",
    concurrency: int = 1,
    runtime: Runtime = Runtime(),
) -> gr.Blocks:
    """The Gradio app: a Repair tab when ``models`` (name -> checkpoint) is not empty, a Study tab
    over ``results_dir`` (an output folder of ``ganfill inpaint``) when given.

    db: the study's SQLite file (default RESULTS_DIR/study.sqlite3); originals: a folder where
    the study looks for input files by name when they moved; subject: what the study asks about
    ("Does this look like a real face?"); concurrency: latent searches run at once; runtime:
    device and precision of the search (``core.runtime.resolve``).
    """
    if not models and results_dir is None:
        raise GanfillError("nothing to serve: give models (--models) or a results folder (--results)")
    if concurrency < 1:
        raise GanfillError(f"concurrency must be at least 1, got {concurrency}")
    models = {name: Path(path) for name, path in models.items()}
    sections = [("Repair", lambda: _repair_tab(models, concurrency=concurrency, runtime=runtime))] if models else []
    if results_dir is not None:
        sections.append(
            (
                "Study",
                lambda: _study_tab(
                    Path(results_dir),
                    db=Path(db) if db else None,
                    originals=Path(originals) if originals else None,
                    subject=subject,
                ),
            )
        )
    with gr.Blocks(title="ganfill", analytics_enabled=False, delete_cache=(3600, 86400)) as app:
        gr.Markdown("# ganfill: semantic image inpainting with a GAN prior")
        if len(sections) == 1:
            sections[0][1]()
        else:
            with gr.Tabs():
                for title, make in sections:
                    with gr.Tab(title, elem_id=f"tab-{title.lower()}"):
                        make()
    app.queue(max_size=64, default_concurrency_limit=4)
    return app


def launch(app: gr.Blocks, *, host: str = "127.0.0.1", port: int = 7860, block: bool = True, quiet: bool = False):
    """Serve the app on host:port: no share link, no monitoring or MCP endpoints, uploads capped
    at MAX_UPLOAD_BYTES (the page refuses larger files before sending them); ``SERVING``."""
    try:
        return app.launch(server_name=host, server_port=port, prevent_thread_lock=not block, quiet=quiet, **SERVING)
    except (OSError, OverflowError) as e:  # in use, not allowed, or not a port at all
        reason = str(e).split(". ")[0]
        raise GanfillError(f"cannot serve on {host}:{port} ({reason}): is the port in use? pick another with --port") from None
