"""The web app (`ganfill serve`) end to end, in a real headless browser.

The server runs as a subprocess (`python -m ganfill serve`, analytics off, one torch thread so
that a loaded 2-core machine stays fast) with a tiny untrained 32x32 model; Debian's chromium
(/usr/bin/chromium) is driven by Playwright. Every request the page makes to a host other than
127.0.0.1 is blocked and fails the test: the app must work offline.

The page is seen at 1400x1000, the size at which everything, results included, must show without
scrolling. The repair tests upload a picture, paint a hole with the mouse and check that the
model's square is drawn on the editor (cyan, FRAME_COLOUR) and that the downloaded result is the
whole picture at its size in which only the hole may change, so "changed pixels lie inside the
painted stroke" can be checked exactly: a 256x256 gradient with the tiny model (a box around the
hole), the astronaut with the shipped faces64 (the face found by its landmarks), and the
glyphs32 example with the square then moved by hand. The painted area is read back from the editor canvas itself (the brush
is magenta and the picture has no magenta), so the check does not depend on how the editor
scales the canvas or on the brush size. Facts of Gradio 6 in a headless browser that the tests
work around: an upload is only shown once the editor canvas has drawn it (wait for it before
painting); streamed frames can arrive faster than Playwright polls, so they are recorded in
the page (a MutationObserver on the live image, a 5 ms poll of the status box).
"""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("gradio", reason="the web app needs Gradio: pip install -e '.[test]'")

from ganfill.apps import (
    fill,
    study,
    web,  # noqa: E402
)
from ganfill.core.errors import GanfillError  # noqa: E402
from ganfill.data.domain import Domain
from ganfill.data.faces import FaceFinder
from ganfill.inpainting.inpainter import load_inpainter
from ganfill.inpainting.search import CompleteConfig  # noqa: E402
from ganfill.models import files as checkpoint

from conftest import blob_images, png_header, tiny_gan  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SIDE = 256  # the uploaded picture
MOUTH = (slice(138, 158), slice(200, 245))  # the astronaut's mouth (skimage.data.astronaut, 512x512)


# ---- fixtures -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return checkpoint.save(tmp_path_factory.mktemp("model") / "tiny.safetensors", tiny_gan())


@pytest.fixture(scope="module")
def results(tiny_model, tmp_path_factory) -> Path:
    """A `ganfill inpaint` output folder: 4 pictures in domain mode and 1 in fit mode."""
    src = tmp_path_factory.mktemp("study-inputs")
    for i, img in enumerate(blob_images(4, 40, seed=5)):
        Image.fromarray(img).save(src / f"small{i}.png")
    Image.fromarray(blob_images(1, 96, seed=6)[0]).save(src / "large.png")
    out = tmp_path_factory.mktemp("study") / "results"
    model = checkpoint.load(tiny_model)
    config = CompleteConfig(num_steps=3)
    fill.run(load_inpainter(model, "sharp", config=config), [src / f"small{i}.png" for i in range(4)], out, progress=False)
    fill.run(load_inpainter(model, "sharp", config=config), [src / "large.png"], out, framing="fit", progress=False)
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tiny_model, results, tmp_path_factory):
    """`ganfill serve` on a free port; yields (url, study database)."""
    tmp = tmp_path_factory.mktemp("server")
    db, port = tmp / "answers.sqlite3", _free_port()
    env = dict(
        os.environ,
        GRADIO_ANALYTICS_ENABLED="False",
        GRADIO_TEMP_DIR=str(tmp / "gradio"),
        OMP_NUM_THREADS="1",
        PYTHONUNBUFFERED="1",
    )
    log = open(tmp / "server.log", "w+")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ganfill",
            "serve",
            "--models",
            f"tiny={tiny_model}",
            "--results",
            str(results),
            "--db",
            str(db),
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(url, timeout=2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    pytest.fail(f"ganfill serve did not start:\n{log.read()[-3000:]}")
                time.sleep(0.25)
        yield url, db
        assert proc.poll() is None, "the server died during the tests"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium (Playwright's own browser download is not used)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is missing: pip install -e '.[test]'")
    with sync_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_FLAGS,
            accept_downloads=True,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser, server):
    """A fresh page on the app; requests to any other host are blocked and reported."""
    outside: list[str] = []

    def route(r):
        if r.request.url.startswith(("http://127.0.0.1", "data:", "blob:")):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    pg = browser.new_page()
    pg.route("**/*", route)
    pg.set_default_timeout(30_000)
    pg.goto(server[0])
    yield pg
    pg.close()
    assert not outside, f"the page fetched from outside: {outside}"


# ---- helpers ------------------------------------------------------------------------------


def _picture() -> np.ndarray:
    """A smooth gradient (no white, no magenta) with a dark square at the centre: a repair of a
    hole over the centre cannot keep that square, whatever the generator."""
    yy, xx = np.mgrid[0:SIDE, 0:SIDE] / SIDE
    img = np.stack([60 + 150 * yy, 40 + 170 * xx, 120 - 60 * yy], axis=-1).astype(np.uint8)
    c = SIDE // 2
    img[c - 4 : c + 4, c - 4 : c + 4] = (10, 60, 10)
    return img


def _screenshot(locator) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(locator.screenshot())).convert("RGB")).astype(int)


def _longest_run(flags: np.ndarray) -> tuple[int, int]:
    """[start, end) of the longest run of True in a 1-D bool array ((0, 0) if none)."""
    best, start = (0, 0), None
    for i, flag in enumerate([*flags, False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            best, start = max(best, (start, i), key=lambda r: r[1] - r[0]), None
    return best


def _image_rect(shot: np.ndarray) -> tuple[int, int, int, int] | None:
    """(left, top, right, bottom) of the uploaded (square) picture in a screenshot of the editor
    canvas: the longest runs of columns, then rows, that are mostly not white (the toolbars and
    borders around it are thin)."""
    ink = np.abs(shot - 255).sum(-1) > 60
    left, right = _longest_run(ink.mean(0) > 0.5)
    top, bottom = _longest_run(ink[:, left:right].mean(1) > 0.6) if right > left else (0, 0)
    square = right - left > 100 and abs((right - left) - (bottom - top)) <= 3
    return (left, top, right, bottom) if square else None


def _magenta(shot: np.ndarray) -> np.ndarray:
    return (shot[..., 0] > 200) & (shot[..., 1] < 60) & (shot[..., 2] > 200)


def _cyan(shot: np.ndarray) -> np.ndarray:
    """The model's square as drawn on the editor (web.FRAME_COLOUR, blurred a little by the canvas)."""
    return (shot[..., 0] < 90) & (shot[..., 1] > 160) & (shot[..., 2] > 200)


def _picture_on_canvas(page):
    """The editor's canvas and the (left, top, right, bottom) of the (square) picture in it, once drawn."""
    canvas = page.locator("#editor canvas").first
    rect = _poll(lambda: _image_rect(_screenshot(canvas)), timeout=30)
    assert rect is not None, "the uploaded picture never appeared on the editor canvas"
    return canvas, rect


def _paint(page, canvas, rect, *, y: float, x0: float, x1: float) -> np.ndarray:
    """Paint a horizontal stroke with the mouse at picture fractions y, x0..x1; returns the painted
    (magenta) pixels of the canvas inside the picture (screen pixels)."""
    left, top, right, bottom = rect
    box = canvas.bounding_box()
    sy = box["y"] + top + y * (bottom - top)
    sx0, sx1 = box["x"] + left + x0 * (right - left), box["x"] + left + x1 * (right - left)

    before = _magenta(_screenshot(canvas))[top:bottom, left:right]  # the toolbar's colour swatch is magenta too

    def stroke_on_screen():
        painted = _magenta(_screenshot(canvas))[top:bottom, left:right] & ~before
        return painted if painted.sum() > 20 else None

    for _attempt in range(3):  # a stroke drawn while the editor is still settling can be lost: redraw it
        page.mouse.move(sx0, sy)
        page.mouse.down()
        for k in range(1, 5):
            page.mouse.move(sx0 + (sx1 - sx0) * k / 4, sy)
        page.mouse.up()
        painted = _poll(stroke_on_screen, timeout=3)
        if painted is not None:
            return painted
    raise AssertionError("the stroke never appeared on the editor canvas")


def _region(painted: np.ndarray, scale: float, shape: tuple[int, int], margin: int = 4) -> np.ndarray:
    """bool (H, W) in picture pixels: the painted stroke's bounding box, grown by ``margin`` (the
    stroke's antialiased rim is painted too but is not pure magenta on screen)."""
    ys, xs = np.nonzero(painted)
    region = np.zeros(shape, bool)
    region[
        max(0, int(ys.min() * scale) - margin) : int((ys.max() + 1) * scale) + margin,
        max(0, int(xs.min() * scale) - margin) : int((xs.max() + 1) * scale) + margin,
    ] = True
    return region


def _square_drawn(canvas, rect, scale: float):
    """(x0, y0, x1, y1) in picture pixels of the cyan square drawn on the editor, once it shows."""
    left, top, right, bottom = rect

    def drawn():
        cyan = _cyan(_screenshot(canvas))[top:bottom, left:right]
        if cyan.sum() < 20:
            return None
        ys, xs = np.nonzero(cyan)
        return xs.min() * scale, ys.min() * scale, (xs.max() + 1) * scale, (ys.max() + 1) * scale

    return _poll(drawn, timeout=30)


def _settings(page, **values) -> None:
    """Open the method and search settings and fill in ``values`` (steps=..., seed=...)."""
    from playwright.sync_api import expect

    if not page.locator("#steps input").is_visible():  # (its fields are made when it is first opened)
        page.get_by_text("Method and search settings").click()
    for name, value in values.items():
        field = page.locator(f"#{name} input")
        expect(field).to_be_visible()
        time.sleep(0.5)  # a field filled while the accordion still opens is set back
        field.fill(str(value))
        field.press("Tab")
        expect(field).to_have_value(str(value))


def _download(page, path: Path, name: str) -> np.ndarray:
    """The result, downloaded with the download button under ``name``."""
    with page.expect_download() as info:
        page.click("#download")
    assert info.value.suggested_filename == name
    info.value.save_as(path)
    return np.asarray(Image.open(path).convert("RGB"))


def _in_view(page, *selectors) -> None:
    """Each element lies wholly inside the 1400x1000 window, the page scrolled to its top."""
    page.evaluate("window.scrollTo(0, 0)")  # (filling a field scrolls the page to it)
    for selector in selectors:
        box = page.locator(selector).bounding_box()
        assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 1000, (selector, box)
        assert box["x"] >= 0 and box["x"] + box["width"] <= 1400, (selector, box)


def _poll(predicate, *, timeout: float):
    """predicate()'s first value that is not None, or None after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value is not None:
            return value
        time.sleep(0.1)
    return None


def _status(page) -> str:
    return page.locator("#status textarea").input_value()


def _expect_status(page, pattern: str, timeout: float = 30_000):
    from playwright.sync_api import expect

    expect(page.locator("#status textarea")).to_have_value(re.compile(pattern), timeout=timeout)


def _upload(page, path: Path) -> None:
    page.locator("#upload input[type=file]").set_input_files(str(path))


RECORDER = """() => {
    window.frames_seen = []; window.statuses_seen = [];
    const live = document.querySelector('#live');
    new MutationObserver(() => {
        const img = live.querySelector('img');
        if (img && img.src && !window.frames_seen.includes(img.src)) window.frames_seen.push(img.src);
    }).observe(live, {subtree: true, childList: true, attributes: true});
    setInterval(() => {
        const v = document.querySelector('#status textarea')?.value;
        if (v && window.statuses_seen[window.statuses_seen.length - 1] !== v) window.statuses_seen.push(v);
    }, 5);
}"""


# ---- helpers of web.py, no browser needed -------------------------------------------------


def test_parse_models_names_and_errors(tmp_path):
    run = tmp_path / "faces64"
    (run / "checkpoints" / "step-00000001").mkdir(parents=True)
    models = web.parse_models(
        [
            f"a={tmp_path / 'x.safetensors'}",
            str(tmp_path / "y.safetensors"),
            str(run),
            str(run / "checkpoints" / "step-00000001" / "model.safetensors"),
        ]
    )
    assert list(models) == ["a", "y", "faces64", "step-00000001"]
    with pytest.raises(GanfillError, match="two models are named"):
        web.parse_models(["m=a.safetensors", "m=b.safetensors"])
    # the page offers every shipped GAN; a context encoder comes with the GAN it belongs to
    shipped = checkpoint.shipped_models()
    assert web.shipped_models() == {n: p for n, p in shipped.items() if checkpoint.describe(p).kind == "gan"}
    assert set(shipped) - set(web.shipped_models()) == {"faces64-ce", "faces128-ce", "pokemon64-ce"}


def test_the_page_opens_on_faces_where_both_face_models_are_served(tiny_model):
    def opening(models):
        app = web.build_app(models)
        (model,) = [c for c in app.blocks.values() if getattr(c, "elem_id", None) == "model"]
        return model.value, [name for _, name in model.choices]

    shipped = web.shipped_models()
    value, choices = opening({n: shipped[n] for n in ("faces128", "faces64", "pokemon64")})
    assert value == "faces" and choices == ["faces128", "faces64", "pokemon64", "faces"]  # by the face's size
    assert opening({"tiny": tiny_model, **{n: shipped[n] for n in ("faces64", "faces128")}})[0] == "tiny"  # given first
    assert opening({"faces64": shipped["faces64"]}) == ("faces64", ["faces64"])  # no faces128: no `faces`


def test_read_upload_limits(tmp_path):
    (tmp_path / "text.png").write_text("not an image at all\n")
    (tmp_path / "bomb.png").write_bytes(png_header(20000, 20000))
    (tmp_path / "large.png").write_bytes(png_header(8000, 6000))  # 48 MP: over the limit, under Pillow's
    (tmp_path / "heavy.png").write_bytes(png_header(10, 10) + b"\0" * (web.MAX_UPLOAD_BYTES + 1))
    with pytest.raises(GanfillError, match="not an image"):
        web.read_upload(tmp_path / "text.png")
    with pytest.raises(GanfillError, match="too many pixels"):
        web.read_upload(tmp_path / "bomb.png")
    with pytest.raises(GanfillError, match="8000x6000 = 48 megapixels: the limit is 40"):
        web.read_upload(tmp_path / "large.png")
    with pytest.raises(GanfillError, match="the limit is 20 MB"):
        web.read_upload(tmp_path / "heavy.png")
    Image.fromarray(_picture()).save(tmp_path / "ok.png")
    assert np.array_equal(web.read_upload(tmp_path / "ok.png"), _picture())


def test_painted_hole_scales_the_layer_up():
    layer = np.zeros((50, 100, 4), np.uint8)
    layer[10:20, 30:40, 3] = 255
    hole = web.painted_hole({"background": None, "layers": [layer], "composite": None}, (100, 200))
    ys, xs = np.nonzero(hole)
    assert hole.shape == (100, 200) and ys.min() <= 20 and ys.max() >= 39 and xs.min() <= 60 and xs.max() >= 79
    assert ys.min() >= 18 and ys.max() <= 41 and xs.min() >= 58 and xs.max() <= 81  # grown by at most a pixel or two
    assert not web.painted_hole(None, (4, 4)).any()


def test_page_frames_and_their_drawing():
    picture = _picture()
    hole = np.zeros((SIDE, SIDE), bool)
    hole[100:140, 90:150] = True
    framing, frames = web.page_frames(picture, hole, Domain(), 32, framing=web.BY_HAND, box=(150, 150, 80))
    assert framing == "frame" and len(frames) == 1 and np.allclose(frames[0].box(), (150, 150, 80))
    assert not web.reaches(frames, hole)  # the square by hand can miss the hole: the page says so
    with pytest.raises(GanfillError, match="X, Y and Size"):
        web.page_frames(picture, hole, Domain(), 32, framing=web.BY_HAND, box=(None, 20, 100))
    framing, frames = web.page_frames(picture, hole, Domain(), 32, framing="auto")  # any model: the photo at its size
    assert framing == "fit" and web.reaches(frames, hole)
    assert web.page_frames(picture, hole & False, Domain(), 32, framing="auto") == ("fit", [])  # no hole yet
    with pytest.raises(GanfillError, match="the hole touches no face the detector found: set Framing to 'by hand'"):
        web.page_frames(picture, hole, Domain("center:108", faces="celeba"), 64, framing="auto", finder=FaceFinder())
    # drawn on the editor's copy (here at half size): the square's outline in FRAME_COLOUR, nothing else
    half = picture[::2, ::2].copy()
    (square,) = web.page_frames(picture, hole, Domain(), 32, framing=web.BY_HAND, box=(20, 40, 100))[1]
    drawn = web.draw_frames(half, [square], 0.5)
    line = (drawn != half).any(-1)
    assert (drawn[line] == web.FRAME_COLOUR).all()
    ys, xs = np.nonzero(line)
    assert abs(xs.min() - 10) <= 2 and abs(ys.min() - 20) <= 2 and abs(xs.max() - 60) <= 2 and abs(ys.max() - 70) <= 2
    assert not line[25:65, 15:55].any()  # an outline


def test_the_examples_and_their_holes(tmp_path):
    written = web.write_examples(tmp_path, {"glyphs32": None, "tiny": None})  # only those of the models served
    assert [example.name for example, _, _ in written] == ["gan.png"]
    example, picture, thumbnail = written[0]
    image, hole = example.make()
    assert np.array_equal(np.asarray(Image.open(picture)), image) and 0 < hole.mean() < 0.1
    assert (np.asarray(Image.open(thumbnail))[hole] == (255, 0, 255)).all()  # the hole shows as the brush paints it
    # given to the editor as a painted layer at the size it shows the picture, it is the hole again
    layer = web.hole_layer(hole, (80, 240))
    back = web.painted_hole({"layers": [layer]}, image.shape[:2])
    assert back[hole].all() and (back & ~hole).sum() < 0.1 * hole.sum()
    assert {e.model for e in web.EXAMPLES} <= set(web.shipped_models())


def test_study_only_app_builds(results, tmp_path):
    app = web.build_app({}, results_dir=results, db=tmp_path / "a.sqlite3")
    assert app.title == "ganfill"
    with pytest.raises(GanfillError, match="nothing to serve"):
        web.build_app({})


# ---- in the browser -----------------------------------------------------------------------


def test_repair_paint_stream_download(page, tmp_path):
    """Upload, paint a stroke with the mouse, run 40 steps, see frames stream and the square drawn
    around the hole, download, check pixels."""
    picture = _picture()
    Image.fromarray(picture).save(tmp_path / "picture.png")
    _upload(page, tmp_path / "picture.png")
    _expect_status(page, "Paint the hole")
    canvas, rect = _picture_on_canvas(page)
    left, top, right, bottom = rect
    scale = SIDE / (right - left)  # picture pixels per screen pixel
    painted = _paint(page, canvas, rect, y=0.5, x0=0.35, x1=0.65)
    region = _region(painted, scale, (SIDE, SIDE))
    assert region.mean() < 0.25, "the stroke should be a small part of the picture"

    page.locator("#framing").get_by_label("box around the hole").check()
    _settings(page, steps=40)
    page.evaluate(RECORDER)
    t0 = time.monotonic()
    page.click("#run")
    _expect_status(page, r"^done: 40 steps.* fit: 1 square", timeout=45_000)
    seconds = time.monotonic() - t0
    frames = page.evaluate("window.frames_seen")
    statuses = page.evaluate("window.statuses_seen")
    assert len(frames) >= 4, f"expected intermediate images to stream into the live view, saw {len(frames)}"
    assert sum(s.startswith("step ") for s in statuses) >= 3, statuses
    assert seconds < 40
    # the model's square, a box around the hole, is drawn on the photo
    square = _square_drawn(canvas, rect, scale)
    assert square is not None, "the model's square was not drawn on the editor"
    ys, xs = np.nonzero(region)
    x0, y0, x1, y1 = square
    assert x0 <= xs.min() and y0 <= ys.min() and x1 >= xs.max() and y1 >= ys.max(), (square, xs.min(), xs.max())

    repaired = _download(page, tmp_path / "repaired.png", "picture-repaired.png")
    assert repaired.shape == picture.shape  # the whole picture at its size
    changed = (repaired != picture).any(-1)
    assert changed.any()
    assert not changed[~region].any(), "pixels changed outside the painted stroke"
    c = SIDE // 2
    assert changed[c - 4 : c + 4, c - 4 : c + 4].mean() > 0.9, "the dark square under the stroke should be repaired"
    assert page.locator("#result img").count() == 2 and page.locator("#fake img").count() == 1  # before | after


def test_a_face_is_framed_by_its_landmarks_and_the_photo_comes_back_at_its_size(page, tmp_path):
    """The shipped faces64 on the astronaut: paint over the mouth, see the square on the face, repair,
    download the 512x512 photo with only the hole changed; all of it in a 1400x1000 window."""
    from skimage.data import astronaut

    photo = astronaut()
    Image.fromarray(photo).save(tmp_path / "astronaut.png")
    _upload(page, tmp_path / "astronaut.png")
    _expect_status(page, "Paint the hole")
    page.locator("#model input").click()
    page.get_by_role("option", name="faces64 (64x64)").click()
    canvas, rect = _picture_on_canvas(page)
    left, top, right, bottom = rect
    scale = 512 / (right - left)
    painted = _paint(page, canvas, rect, y=148 / 512, x0=200 / 512, x1=245 / 512)  # (a stroke over both eyes
    region = _region(painted, scale, (512, 512))  # often hides the face from the detectors: see the README)
    assert region[MOUTH].mean() > 0.4 and region.mean() < 0.05

    page.click("#show")
    _expect_status(page, r"^face: 1 square\(s\) at 64x64, drawn in cyan")
    square = _square_drawn(canvas, rect, scale)
    assert square is not None, "the face's square was not drawn on the editor"
    x0, y0, x1, y1 = square  # CelebA's centre 108 box around the face: eyes (88-118, 185-266) and the stroke (148) inside
    assert x0 < 185 and x1 > 266 and y0 < 88 and y1 > 150 and 90 < x1 - x0 < 200, square

    _settings(page, steps=3)
    page.click("#run")
    _expect_status(page, r"^done: 3 steps.* face: 1 square.* result 512x512", timeout=60_000)
    _in_view(page, "#editor", "#result", "#download", "#status", "#run")
    repaired = _download(page, tmp_path / "repaired.png", "astronaut-repaired.png")
    assert repaired.shape == photo.shape
    changed = (repaired != photo).any(-1)
    assert changed[region].any() and not changed[~region].any(), "pixels changed outside the painted stroke"

    # `faces`: the model the face's size calls for, here faces128 (its square spans over 128 photo pixels)
    page.locator("#model input").click()
    page.get_by_role("option", name="faces (faces64 or faces128 by the face's size)").click()
    page.click("#show")
    _expect_status(page, r"^face: 1 square\(s\) at 128x128, drawn in cyan")
    page.click("#run")
    _expect_status(page, r"^done: 3 steps.* face: 1 square\(s\) at 128x128.* result 512x512", timeout=60_000)


def test_an_example_then_the_square_moved_by_hand(page, tmp_path):
    """The glyphs32 example: a box around its hole is drawn; moving a slider makes the square one given
    by hand (drawn where it is asked to be), which the repair then uses."""
    page.locator("#examples img").nth(2).click()
    _expect_status(page, r"^gan.png: fit: 1 square\(s\) at 32x32, drawn in cyan")
    example = next(e for e in web.EXAMPLES if e.name == "gan.png")
    image, hole = example.make()
    canvas = page.locator("#editor canvas").first

    def picture_box():  # the white picture on the white page: find it by its black letters
        ink = _screenshot(canvas).sum(-1) < 100  # (the label and the toolbars are grey)
        top, bottom = _longest_run(ink.sum(1) > 5)
        if bottom - top < 20:
            return None
        xs = np.nonzero(ink[top:bottom].any(0))[0]
        return xs.min(), top, xs.max() + 1, bottom

    letters = _poll(picture_box, timeout=20)
    assert letters is not None
    ink = (image.sum(-1) < 200).nonzero()
    scale = (ink[1].max() + 1 - ink[1].min()) / (letters[2] - letters[0])  # picture pixels per screen pixel
    origin = (letters[0] - ink[1].min() / scale, letters[1] - ink[0].min() / scale)  # the picture's corner on screen

    def cyan_box():
        cyan = _cyan(_screenshot(canvas))
        if cyan.sum() < 20:
            return None
        ys, xs = np.nonzero(cyan)
        return ((xs.min() - origin[0]) * scale, (ys.min() - origin[1]) * scale, (xs.max() + 1 - origin[0]) * scale)

    fit = _poll(cyan_box, timeout=20)
    assert fit is not None
    ys, xs = np.nonzero(hole)
    assert fit[0] <= xs.min() + 3 and fit[1] <= ys.min() + 3 and fit[2] >= xs.max() - 3, fit

    from playwright.sync_api import expect

    wanted = list(fit)
    for i, (name, value) in enumerate((("x", 180), ("y", 20), ("size", 130))):
        field = page.locator(f"#frame-{name} input[type=number]")
        field.fill(str(value))
        field.press("Tab")  # (a slider's number is taken when it loses the focus, as its handle when let go)
        wanted[i] = value if name != "size" else wanted[0] + value
        if name == "x":
            wanted[2] = 180 + (fit[2] - fit[0])  # moved, the same size
            expect(page.locator("#framing").get_by_label("by hand")).to_be_checked(timeout=30_000)

        def moved():
            box = cyan_box()
            return box if box is not None and np.allclose(box, wanted, atol=6) else None

        assert _poll(moved, timeout=20) is not None, f"the square is not at {wanted} after {name}: {cyan_box()}"
    _expect_status(page, r"^frame: 1 square\(s\) at 32x32")

    _settings(page, steps=3)
    page.click("#run")
    _expect_status(page, r"^done: 3 steps.* frame: 1 square.* result 480x160", timeout=60_000)
    repaired = _download(page, tmp_path / "repaired.png", "gan-repaired.png")
    assert repaired.shape == image.shape
    changed = (repaired != image).any(-1)
    assert changed.any() and not changed[~hole].any()


def test_bad_input_gets_a_message_and_the_server_keeps_serving(page, tmp_path):
    (tmp_path / "notes.png").write_text("this is a text file, renamed\n")
    (tmp_path / "huge.png").write_bytes(png_header(20000, 20000))
    (tmp_path / "heavy.png").write_bytes(png_header(10, 10) + os.urandom(web.MAX_UPLOAD_BYTES + 1024))
    Image.fromarray(_picture()).save(tmp_path / "picture.png")

    _upload(page, tmp_path / "notes.png")
    _expect_status(page, "⚠ cannot read image notes.png: not an image")
    _upload(page, tmp_path / "huge.png")
    _expect_status(page, "⚠ huge.png has too many pixels")
    _upload(page, tmp_path / "heavy.png")  # refused by the page before it is sent
    from playwright.sync_api import expect

    expect(page.locator(".toast-body").filter(has_text="maximum allowed size")).to_be_visible()
    _upload(page, tmp_path / "picture.png")
    _expect_status(page, "Paint the hole")
    page.click("#run")
    _expect_status(page, "⚠ the hole is empty")
    # a face model on a hole that touches no face says what to do
    page.locator("#hole input").click()
    page.get_by_role("option", name="center", exact=True).click()
    page.locator("#model input").click()
    page.get_by_role("option", name="faces64 (64x64)").click()
    page.click("#run")
    _expect_status(page, "⚠ the hole touches no face the detector found: set Framing to 'by hand'")
    # still serving: the tiny model and a preset hole run to the end
    page.locator("#model input").click()
    page.get_by_role("option", name="tiny (32x32)").click()
    _expect_status(page, r"^fit: 1 square\(s\) at 32x32, drawn in cyan")  # a box around the hole, for any other model
    _settings(page, steps=5)
    page.click("#run")
    _expect_status(page, r"^done: 5 steps")


def test_study_answers_are_stored_and_tabulated(page, server, results):
    _url, db = server
    pairs, _ = study.find_pairs(results)
    names = [p.name for p in pairs]
    assert len(names) == 5
    page.get_by_role("tab", name="Study").click()
    given = {
        "alice": [("Yes", "No", "No", "No"), ("No", "Yes", "Yes", "Yes"), ("Yes", "Yes", "No", "No")],
        "bob": [("Yes", "No", "No", "No")],
    }
    from playwright.sync_api import expect

    for rater, answers in given.items():
        page.locator("#rater").get_by_role("textbox").fill(rater)
        page.click("#start")
        expect(page.locator("#where")).to_contain_text(f"{rater}: picture 1 of 5")
        for k, values in enumerate(answers):
            expect(page.locator("#picture img")).to_have_count(1)
            for q, value in zip(study.QUESTIONS, values):
                page.locator(f"#q-{q.key}").get_by_label(value, exact=True).check()
            page.click("#submit")
            expect(page.locator("#where")).to_contain_text(f"{rater}: picture {k + 2} of 5")

    stored = study.Store(db).answers()
    assert [(a.rater, a.name, a.kind) for a in stored] == [
        (rater, shown.name, shown.kind)
        for rater, answers in given.items()
        for shown in study.sequence(names, rater)[: len(answers)]
    ]
    for a, values in zip(stored, [v for answers in given.values() for v in answers]):
        assert (a.real, a.traces, a.can_tell, a.obvious) == tuple(v == "Yes" for v in values)
        assert a.seconds is not None and a.seconds >= 0

    page.get_by_text("Results so far").click()
    page.click("#refresh")
    table = study.table2(stored)
    rows = page.locator("#table tr")
    expect(rows).to_have_count(6)
    for i, q in enumerate(study.QUESTIONS):
        cells = rows.nth(i + 1).locator("td")
        expect(cells.nth(0)).to_have_text(q.row.format(subject="face"))
        for j, kind in enumerate(study.KINDS):
            n, count = table[kind]["n"], table[kind][q.key]
            expect(cells.nth(j + 1)).to_have_text(f"{count} ({round(100 * count / n)}%)" if n else "-")
    expect(rows.nth(5).locator("td").nth(1)).to_have_text(str(table["repaired"]["n"]))
    assert table["repaired"]["n"] + table["original"]["n"] == 4
