import json
import subprocess
import sys

import numpy as np
from PIL import Image

from ganfill.demo import hole_psnr, telea


def test_hole_psnr_and_telea_baseline():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    hole = np.zeros((16, 16), bool)
    hole[4:12, 4:12] = True
    test = truth.copy()
    test[hole] = np.clip(truth[hole].astype(int) + 10, 0, 255)  # a known error of ~10 levels in the hole
    err = (test[hole].astype(float) - truth[hole]) ** 2
    assert abs(hole_psnr(truth, test, hole) - 10 * np.log10(255**2 / err.mean())) < 1e-9
    flat = np.full((16, 16, 3), 90, np.uint8)
    filled = telea(np.where(hole[..., None], 0, flat).astype(np.uint8), hole)
    assert np.abs(filled.astype(int) - 90).max() <= 2  # a flat image is filled flat
    assert np.array_equal(filled[~hole], flat[~hole])


def test_demo_runs_end_to_end_in_fast_mode(tmp_path):
    out = tmp_path / "demo"
    proc = subprocess.run(
        [sys.executable, "-m", "ganfill", "demo", "--out", str(out), "--quiet", "--train-steps", "8",
         "--images", "4", "--complete-steps", "16", "--restarts", "1", "--width", "8"],
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == f"report: {(out / 'report.html').resolve()}"
    page = (out / "report.html").read_text()
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["images"]) == 4
    for row in metrics["images"]:
        for key in ("masked", "completed", "fake", "telea", "original"):
            assert f"src='{row[key]}'" in page
            assert Image.open(out / row[key]).size == (32, 32)
        assert np.isfinite(row["psnr_ganfill"]) and np.isfinite(row["psnr_telea"])
        # the completion keeps the known pixels of the original
        completed = np.asarray(Image.open(out / row["completed"]).convert("RGB"))
        original = np.asarray(Image.open(out / row["original"]).convert("RGB"))
        assert np.array_equal(completed[:8], original[:8])
