"""The browser front end (Gradio 6): ``ganfill serve`` (repair, plus the study with ``--results``)
and ``ganfill study`` (the study alone). It only translates between the page and the library:
images and masks come in, ``fill.make_item`` / ``fill.complete_items`` (``inpainting.inpainter.complete_images``,
the same search, seeding and blending as ``ganfill inpaint``) do the work, ``study`` keeps the
answers.

Repair tab. The photo is uploaded as a file (so that it can be checked before anything decodes
it) and shown in an image editor, on whose layer the hole is painted with the brush; a preset
hole (center, half, ...) can be chosen instead. The *framing* says where the model's square
goes (``data.framing``): *auto* puts a face model's square on each face the hole touches (by
its landmarks), and for other models uses the model's square (the crop and resize its training
images had; the result is at model resolution) unless that square would shrink the photo more
than 2x, in which case it uses *fit* (a box around the hole).  With *face* and *fit* the fill
is blended back at full resolution, every other pixel unchanged.  While the latent search runs
(in a worker thread), what the model sees is streamed every few steps; progress and the queue
position are shown in the status box, never over the images. Stop ends the search early and
still shows and offers the result so far.

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
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path

import gradio as gr
import numpy as np
import torch
from PIL import Image

from ganfill.apps import fill, study
from ganfill.core.constants import BLENDS, MAX_PIXELS
from ganfill.core.errors import GanfillError
from ganfill.core.images import save_image, to_tensor, to_uint8
from ganfill.core.runtime import Runtime
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
PAINTED = "painted with the brush"
BRUSH_COLOUR = "#ff00ff"
FRAMING_CHOICES = (("auto", "auto"), ("face", "face"), ("box around the hole", "fit"), ("model square", "domain"))
PAPER_STEPS = PAPER_SCHEDULE.num_steps
PRIOR_RESTARTS = START_DEFAULTS["prior"]["restarts"]

CSS = """
.ganfill-fill img { width: 100%; height: 100%; object-fit: contain; }
.ganfill-pixels img { image-rendering: pixelated; }
"""
SMALL = 320  # images up to this size are enlarged with visible pixels rather than blurred


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


def make_item(
    image: np.ndarray, name: str, frame: Inpainter, *, hole_choice: str, editor: dict | None, mode: str, seed: int
) -> fill.Item:
    """The page's inputs as a fill.Item in ``frame``'s square (what ``ganfill inpaint`` would
    build from files)."""
    framing = fill.resolve_framing(mode, frame.domain, image.shape[:2], frame.resolution)
    r, path = frame.resolution, Path(name)
    if hole_choice == PAINTED:
        hole = painted_hole(editor, image.shape[:2])
        if not hole.any():
            raise GanfillError("the hole is empty: paint over the part to repair with the brush, or choose a preset hole")
        item = fill.make_item(image, frame, framing=framing, hole=hole, path=path)
        if not item.hole.any():
            raise GanfillError(
                "the painted hole is outside the part of the image the model sees "
                f"(its crop: {frame.domain.crop}): paint inside it, or frame a box around the hole"
            )
        return item
    masks = fill.MaskSource(hole_choice)
    if framing != "domain":
        return fill.make_item(image, frame, framing=framing, hole=masks.hole(path, image.shape[:2], seed), path=path)
    return fill.make_item(image, frame, hole_domain=masks.hole(path, (r, r), seed), path=path)


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
        info[name] = f"{name} ({loaded.config.resolution}x{loaded.config.resolution})"

    stops: dict[str, threading.Event] = {}  # session -> the Stop flag of its running search

    gr.Markdown(
        "Upload a photo, paint over what should be repaired (or pick a preset hole), "
        "choose a model and press **Repair**. The live view shows what the model sees."
    )
    upload_path = gr.State(None)
    with gr.Row():
        with gr.Column(scale=3):
            upload = gr.File(
                label=f"1. Image (jpg, png, webp, bmp; at most {MAX_UPLOAD_BYTES // 2**20} MB "
                f"and {MAX_PIXELS // 1_000_000} megapixels)",
                file_types=["image"],
                type="filepath",
                elem_id="upload",
                height=110,
            )
            editor = gr.ImageEditor(
                label="2. Paint the hole",
                type="numpy",
                image_mode="RGBA",
                sources=(),
                transforms=(),
                layers=False,
                format="png",
                elem_id="editor",
                height=460,
                brush=gr.Brush(colors=[BRUSH_COLOUR], color_mode="fixed"),
                placeholder="Upload an image above",
            )
        with gr.Column(scale=2):
            model = gr.Dropdown(
                choices=[(label, name) for name, label in info.items()], value=next(iter(models)), label="Model", elem_id="model"
            )
            hole = gr.Dropdown(choices=[PAINTED, *MASKS], value=PAINTED, label="Hole", elem_id="hole")
            mode = gr.Radio(
                list(FRAMING_CHOICES),
                value="auto",
                label="Framing",
                elem_id="mode",
                info="where the model's square goes: on the face (face models), a box around the hole, or the whole "
                "image cropped like the training images (result at model resolution)",
            )
            with gr.Row():
                steps = gr.Number(
                    value=0,
                    minimum=0,
                    maximum=100_000,
                    precision=0,
                    label="Iterations",
                    info=f"0 = auto ({PRIOR_STEPS}, or {ENCODER_STEPS} from the model's encoder); "
                    f"the paper uses {PAPER_STEPS} at a constant rate",
                    elem_id="steps",
                )
                restarts = gr.Number(
                    value=0,
                    minimum=0,
                    maximum=64,
                    precision=0,
                    label="Restarts",
                    info=f"the best start is kept; 0 = auto ({PRIOR_RESTARTS} from a random z, 1 from the model's encoder)",
                    elem_id="restarts",
                )
            with gr.Row():
                lam = gr.Number(
                    value=CompleteConfig().lam, minimum=0, label="Lambda", info="weight of the perceptual loss", elem_id="lam"
                )
                seed = gr.Number(value=0, precision=0, label="Seed", info="for the starting z", elem_id="seed")
            method = gr.Radio(
                ["auto", *RUN_MODES],
                value="auto",
                label="Repair",
                elem_id="method",
                info="sharp: the latent search, one realistic completion; faithful: closest to what "
                "was there (adds the context encoder); fast: the context encoder alone, one pass; "
                "auto: faithful where the model has a context encoder, else sharp; the others: "
                "classical methods, for comparison",
            )
            blend = gr.Radio(list(BLENDS), value=BLENDS[0], label="Blending", elem_id="blend")
            with gr.Row():
                run = gr.Button("Repair", variant="primary", elem_id="run")
                stop = gr.Button("Stop", elem_id="stop")
            status = gr.Textbox(label="Status", interactive=False, lines=2, elem_id="status")
    with gr.Row():
        shown = {"format": "png", "interactive": False, "height": 300}
        live = gr.Image(
            label="Live: the model's view", buttons=[], elem_id="live", elem_classes=["ganfill-fill", "ganfill-pixels"], **shown
        )
        result = gr.Image(label="Repaired", buttons=["fullscreen"], elem_id="result", elem_classes=["ganfill-fill"], **shown)
        fake = gr.Image(
            label="The fill: G(z^), or the context encoder's",
            buttons=["fullscreen"],
            elem_id="fake",
            elem_classes=["ganfill-fill", "ganfill-pixels"],
            **shown,
        )
    download = gr.DownloadButton("Download the repaired image", interactive=False, elem_id="download")

    def on_upload(path):
        if not path:
            return None, None, None, ""
        try:
            image = read_upload(path)
        except GanfillError as e:
            return None, None, None, _warn(e)  # the file box is emptied, ready for another file
        h, w = image.shape[:2]
        shown = display_copy(image)
        note = "" if shown is image else f" (shown at {shown.shape[1]}x{shown.shape[0]})"
        brush = gr.Brush(colors=[BRUSH_COLOUR], color_mode="fixed", default_size=max(2, min(shown.shape[:2]) // 32))
        return (
            gr.skip(),
            gr.ImageEditor(value={"background": shown, "layers": [], "composite": shown}, brush=brush),
            path,
            f"{Path(path).name}: {w}x{h}{note}. Paint the hole, then press Repair.",
        )

    def prepare(
        path,
        editor_value,
        model_name,
        hole_choice,
        mode_choice,
        n_steps,
        n_restarts,
        lam_value,
        blend_choice,
        seed_value,
        method_choice="auto",
    ):
        if not path:
            raise GanfillError("upload an image first")
        if None in (n_steps, n_restarts, lam_value, seed_value):
            raise GanfillError("iterations, restarts, lambda and seed need a value each")
        if model_name not in loaded_models:
            raise GanfillError(f"choose a model: {', '.join(loaded_models)}")
        if blend_choice not in BLENDS:
            raise GanfillError(f"choose a blending: {', '.join(BLENDS)}")
        loaded = loaded_models[model_name]
        if method_choice == "auto":
            method_choice = auto_mode(loaded, has_context_encoder=model_name in cnns)
        if method_choice not in RUN_MODES:
            raise GanfillError(f"choose a repair: auto, {', '.join(RUN_MODES)}")
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
        image = read_upload(path, background=loaded.domain.background)
        item = make_item(
            image,
            Path(path).name,
            inpainter,
            hole_choice=hole_choice,
            editor=editor_value,
            mode=mode_choice,
            seed=int(seed_value),
        )
        return inpainter, item

    def on_run(request: gr.Request, *inputs):  # inputs: those of prepare, in its order
        path, seed_value = inputs[0], inputs[9]
        try:
            inpainter, item = prepare(*inputs)
        except GanfillError as e:
            yield {status: _warn(e)}
            return
        r, method_choice, n_total = inpainter.resolution, inpainter.mode, inpainter.steps
        where = f"{item.framing}: {len(item.frames)} square(s) at {r}x{r}" if item.frames else f"model square {r}x{r}"
        masked = item.x.copy()
        masked[~item.mask] = fill.HOLE_GREY
        yield {
            status: f"starting ({where})",
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
                            result: gr.Image(final, elem_classes=_look(final)),
                            fake: best_fake,
                            download: gr.DownloadButton(value=str(file), interactive=True),
                            status: f"{what} · {where} · result {final.shape[1]}x{final.shape[0]}",
                        }
        finally:
            if stops.get(session) is flag:
                del stops[session]

    upload.upload(on_upload, upload, [upload, editor, upload_path, status], show_progress_on=[status])
    upload.clear(lambda: (None, None, ""), None, [editor, upload_path, status], show_progress="hidden")
    run.click(
        on_run,
        [upload_path, editor, model, hole, mode, steps, restarts, lam, blend, seed, method],
        [status, live, result, fake, download],
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
    at MAX_UPLOAD_BYTES (the page refuses larger files before sending them)."""
    try:
        return app.launch(
            server_name=host,
            server_port=port,
            share=False,
            prevent_thread_lock=not block,
            quiet=quiet,
            max_file_size=MAX_UPLOAD_BYTES,
            css=CSS,
            footer_links=[],
            ssr_mode=False,
            pwa=False,
            mcp_server=False,
            enable_monitoring=False,
            run_history=False,
            show_error=True,
        )
    except (OSError, OverflowError) as e:  # in use, not allowed, or not a port at all
        reason = str(e).split(". ")[0]
        raise GanfillError(f"cannot serve on {host}:{port} ({reason}): is the port in use? pick another with --port") from None
