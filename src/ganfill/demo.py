"""`ganfill demo`: the whole pipeline on a fresh machine, ending in an HTML report.

Until reference models ship with ganfill, the demo builds its own small one: it renders the
built-in glyph dataset from the fonts on the machine (matplotlib's at least), trains a 32x32
DCGAN on the training families for a short while, and completes characters from the held-out
font families (fonts the model never saw) with the center mask, next to OpenCV's Telea
inpainting. Everything lands in one folder; `report.html` shows input, mask, completion, best
fake, Telea's result and hole PSNR per image.
"""

from __future__ import annotations

import html
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ganfill import checkpoint, fill
from ganfill.data import load_image, open_dataset, render_glyphs
from ganfill.evaluate import BASELINES, METRICS
from ganfill.images import atomic_path, grid, save_image
from ganfill.inpaint import CompleteConfig
from ganfill.models import ModelConfig
from ganfill.train import TrainConfig, train


@dataclass(frozen=True)
class DemoConfig:
    """How much work the demo does (the defaults take about a minute on 2 CPU cores).

    train_steps: iterations of the quick glyph model.  images: held-out characters completed.
    complete_steps: Adam steps of the latent search.  restarts: z per image.
    """

    train_steps: int = 400
    images: int = 16
    complete_steps: int = 400
    restarts: int = 2
    resolution: int = 32
    width: int = 32


def _held_out(val_dir: Path, n: int, out: Path) -> list[Path]:
    """Write n held-out glyphs, spread over the 62 characters, as PNG inputs."""
    ds = open_dataset(val_dir)
    idx = np.linspace(0, len(ds) - 1, n).round().astype(int)
    out.mkdir(parents=True, exist_ok=True)
    chars = ds.manifest.get("chars", "")
    paths = []
    for i, img in zip(idx, ds.read(idx)):
        name = f"glyph-{i:05d}" + (f"-{chars[i % len(chars)]}" if chars else "")
        paths.append(save_image(img, out / f"{name}.png"))
    return paths


def report(out_dir: Path, rows: list[dict], *, title: str, notes: list[str]) -> Path:
    """A self-contained HTML page (images referenced by relative path) with a summary table."""
    cols = [("masked", "input (hole grey)"), ("completed", "ganfill"), ("fake", "best fake G(z^)"),
            ("telea", "OpenCV Telea"), ("original", "original")]
    mean = {k: float(np.mean([r[k] for r in rows])) for k in ("psnr_ganfill", "psnr_telea")}
    body = [f"<h1>{html.escape(title)}</h1>"] + [f"<p>{html.escape(n)}</p>" for n in notes]
    body.append("<table class=summary><tr><th>method</th><th>mean PSNR over the hole (dB)</th></tr>"
                f"<tr><td>ganfill</td><td>{mean['psnr_ganfill']:.2f}</td></tr>"
                f"<tr><td>OpenCV Telea</td><td>{mean['psnr_telea']:.2f}</td></tr></table>")
    body.append("<table><tr><th>image</th>" + "".join(f"<th>{c}</th>" for _, c in cols) + "<th>hole PSNR ganfill / Telea</th></tr>")
    for r in rows:
        cells = "".join(f"<td><img src='{html.escape(r[k])}'></td>" for k, _ in cols)
        body.append(f"<tr><td>{html.escape(r['name'])}</td>{cells}<td>{r['psnr_ganfill']:.1f} / {r['psnr_telea']:.1f}</td></tr>")
    body.append("</table>")
    page = ("<!doctype html><meta charset=utf-8><title>ganfill demo</title><style>"
            "body{font-family:sans-serif;margin:2em}td,th{padding:4px;text-align:center}"
            "img{width:96px;image-rendering:pixelated}table.summary td{text-align:left}</style>"
            + "\n".join(body))
    path = out_dir / "report.html"
    with atomic_path(path) as tmp:
        tmp.write_text(page)
    with atomic_path(out_dir / "metrics.json") as tmp:
        tmp.write_text(json.dumps({"mean": mean, "images": rows}, indent=1))
    return path


def run(out_dir: str | Path, *, config: DemoConfig = DemoConfig(), progress: bool = True, echo=print) -> Path:
    out = Path(out_dir)
    t0 = time.perf_counter()
    data = out / "glyphs"
    if not (data / "val" / "manifest.json").is_file():
        echo("rendering the glyph dataset from the fonts on this machine ...")
        render_glyphs(data, resolution=config.resolution, overwrite=True, progress=progress)
    run_dir = out / "model"
    if checkpoint.latest_training_checkpoint(run_dir) is None:
        echo(f"training a {config.resolution}x{config.resolution} glyph DCGAN for {config.train_steps} iterations ...")
        train(data / "train", run_dir,
              model=ModelConfig(resolution=config.resolution, g_width=config.width, d_width=config.width),
              config=TrainConfig(steps=config.train_steps, checkpoint_every=config.train_steps, n_samples=64),
              progress=progress)
    model = checkpoint.load(run_dir)
    inputs = _held_out(data / "val", config.images, out / "inputs")
    echo(f"completing {len(inputs)} characters from held-out fonts ...")
    results = out / "completions"
    cfg = CompleteConfig(num_steps=config.complete_steps, restarts=config.restarts, record_every=config.complete_steps // 8)
    fill.run(model, inputs, results, mask="center", config=cfg, overwrite=True, progress=progress, notify=echo)
    rows = []
    for path in inputs:
        folder = results / path.stem
        original = load_image(path)
        completed = load_image(folder / "completed.png")
        hole = load_image(folder / "mask.png")[..., 0] > 127  # white = hole
        rec = json.loads((folder / "record.json").read_text())
        t = BASELINES["telea"](original, hole)  # the baseline ignores what is in the hole
        save_image(t, folder / "telea.png")
        rows.append({"name": path.stem, "masked": f"completions/{path.stem}/masked.png",
                     "completed": f"completions/{path.stem}/completed.png", "fake": f"completions/{path.stem}/fake.png",
                     "telea": f"completions/{path.stem}/telea.png", "original": f"inputs/{path.name}",
                     "psnr_ganfill": METRICS["psnr_hole"](original, completed, hole),
                     "psnr_telea": METRICS["psnr_hole"](original, t, hole),
                     "steps": rec["steps_run"]})
    save_image(grid(np.stack([load_image(results / p.stem / "completed.png") for p in inputs]), nrow=8),
               out / "completions.png")
    seconds = time.perf_counter() - t0
    notes = [f"Model: 32x32 DCGAN trained by this demo for {config.train_steps} iterations on "
             f"{open_dataset(data / 'train').manifest['count']} characters; inputs are characters from font "
             "families held out of training. Mask: center (a quarter of the area).",
             f"Latent search: {config.complete_steps} Adam steps, {config.restarts} restarts, Poisson blending. "
             f"Wall time of the whole demo: {seconds:.0f} s."]
    page = report(out, rows, title="ganfill demo: completing characters from unseen fonts", notes=notes)
    return page
