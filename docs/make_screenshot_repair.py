"""The repair page at 1400x1000 after a repair: docs/screenshot-repair.png.

    .venv/bin/python docs/make_screenshot_repair.py [--out docs/screenshot-repair.png]

Serves the shipped models (`ganfill serve` without --models) on a free local port, opens the
page in Debian's chromium (/usr/bin/chromium, driven by Playwright, as tests/test_web_e2e.py
does), clicks the first example (the astronaut, a hole over the eyes: the face's square is
drawn), presses Repair with the page's defaults (faces64, faithful), moves the before/after
divider onto the face and saves the window. Nothing is fetched from outside 127.0.0.1.
"""

import argparse
import os
import re
import socket
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from playwright.sync_api import expect, sync_playwright  # noqa: E402

from ganfill.apps import web  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--out", default=str(Path(__file__).with_name("screenshot-repair.png")))
ap.add_argument("--divider", type=float, default=0.44, help="where the before/after divider goes (fraction of the width)")
args = ap.parse_args()

with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
app = web.build_app(web.shipped_models())
web.launch(app, port=port, block=False, quiet=True)
try:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.route(
            "**/*", lambda r: r.continue_() if r.request.url.startswith(("http://127.0.0.1", "data:", "blob:")) else r.abort()
        )
        page.goto(f"http://127.0.0.1:{port}/")
        status = page.locator("#status textarea")
        page.locator("#examples img").first.click()
        expect(status).to_have_value(re.compile("Press Repair"), timeout=120_000)
        page.click("#run")
        expect(status).to_have_value(re.compile("^done"), timeout=300_000)
        image = page.locator("#result img").last.bounding_box()
        y = image["y"] + image["height"] * 0.8  # below the face: the divider's line, not its handle
        page.mouse.move(image["x"] + image["width"] / 2, y)
        page.mouse.down()
        page.mouse.move(image["x"] + image["width"] * args.divider, y, steps=8)
        page.mouse.up()
        page.mouse.move(5, 995)
        page.wait_for_timeout(1000)
        page.screenshot(path=args.out)
        browser.close()
    print(f"wrote {args.out}")
finally:
    app.close()
