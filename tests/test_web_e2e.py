"""The web app (`ganfill serve`) end to end, in a real headless browser.

The server runs as a subprocess (`python -m ganfill serve`, analytics off, one torch thread so
that a loaded 2-core machine stays fast) with a tiny untrained 32x32 model; Debian's chromium
(/usr/bin/chromium) is driven by Playwright. Every request the page makes to a host other than
127.0.0.1 is blocked and fails the test: the app must work offline.

The repair test uploads a 256x256 picture and runs in fit mode: the result is the full 256x256
picture in which only the hole may change, so "changed pixels lie inside the painted stroke"
can be checked exactly. The painted area is read back from the editor canvas itself (the brush
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
            viewport={"width": 1280, "height": 1100},
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
    top, bottom = _longest_run(ink[:, left:right].mean(1) > 0.9) if right > left else (0, 0)
    square = right - left > 100 and abs((right - left) - (bottom - top)) <= 3
    return (left, top, right, bottom) if square else None


def _magenta(shot: np.ndarray) -> np.ndarray:
    return (shot[..., 0] > 200) & (shot[..., 1] < 60) & (shot[..., 2] > 200)


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
    assert set(shipped) - set(web.shipped_models()) == {"faces64-ce", "pokemon64-ce"}


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


def test_study_only_app_builds(results, tmp_path):
    app = web.build_app({}, results_dir=results, db=tmp_path / "a.sqlite3")
    assert app.title == "ganfill"
    with pytest.raises(GanfillError, match="nothing to serve"):
        web.build_app({})


# ---- in the browser -----------------------------------------------------------------------


def test_repair_paint_stream_download(page, tmp_path):
    """Upload, paint a stroke with the mouse, run 40 steps, see frames stream, download, check pixels."""
    picture = _picture()
    Image.fromarray(picture).save(tmp_path / "picture.png")
    _upload(page, tmp_path / "picture.png")
    _expect_status(page, "Paint the hole")
    canvas = page.locator("#editor canvas").first
    rect = _poll(lambda: _image_rect(_screenshot(canvas)), timeout=20)
    assert rect is not None, "the uploaded picture never appeared on the editor canvas"
    left, top, right, bottom = rect
    scale = SIDE / (right - left)  # picture pixels per screen pixel

    box = canvas.bounding_box()
    y = box["y"] + (top + bottom) / 2
    x0, x1 = box["x"] + left + 0.35 * (right - left), box["x"] + left + 0.65 * (right - left)

    def stroke_on_screen():
        painted = _magenta(_screenshot(canvas))[top:bottom, left:right]
        return painted if painted.any() else None

    for _attempt in range(3):  # a stroke drawn while the editor is still settling can be lost: redraw it
        page.mouse.move(x0, y)
        page.mouse.down()
        for k in range(1, 5):
            page.mouse.move(x0 + (x1 - x0) * k / 4, y)
        page.mouse.up()
        painted = _poll(stroke_on_screen, timeout=3)
        if painted is not None:
            break
    assert painted is not None, "the stroke never appeared on the editor canvas"
    ys, xs = np.nonzero(painted)
    margin = 4  # the stroke's antialiased rim is painted too but is not pure magenta on screen
    region = np.zeros((SIDE, SIDE), bool)
    region[
        max(0, int(ys.min() * scale) - margin) : int((ys.max() + 1) * scale) + margin,
        max(0, int(xs.min() * scale) - margin) : int((xs.max() + 1) * scale) + margin,
    ] = True
    assert region.mean() < 0.25, "the stroke should be a small part of the picture"

    page.locator("#mode").get_by_label("box around the hole").check()
    page.locator("#steps input").fill("40")
    page.evaluate(RECORDER)
    t0 = time.monotonic()
    page.click("#run")
    _expect_status(page, r"^done: 40 steps", timeout=45_000)
    seconds = time.monotonic() - t0
    frames = page.evaluate("window.frames_seen")
    statuses = page.evaluate("window.statuses_seen")
    assert len(frames) >= 4, f"expected intermediate images to stream into the live view, saw {len(frames)}"
    assert sum(s.startswith("step ") for s in statuses) >= 3, statuses
    assert seconds < 40

    with page.expect_download() as info:
        page.click("#download")
    assert info.value.suggested_filename == "picture-repaired.png"
    info.value.save_as(tmp_path / "repaired.png")
    repaired = np.asarray(Image.open(tmp_path / "repaired.png").convert("RGB"))
    assert repaired.shape == picture.shape  # fit mode: full resolution
    changed = (repaired != picture).any(-1)
    assert changed.any()
    assert not changed[~region].any(), "pixels changed outside the painted stroke"
    c = SIDE // 2
    assert changed[c - 4 : c + 4, c - 4 : c + 4].mean() > 0.9, "the dark square under the stroke should be repaired"
    assert page.locator("#result img").count() == 1 and page.locator("#fake img").count() == 1


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
    # still serving: a preset hole runs to the end
    page.locator("#hole input").click()
    page.get_by_role("option", name="center", exact=True).click()
    page.locator("#steps input").fill("5")
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
