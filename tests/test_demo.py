import json
import subprocess
import sys

import numpy as np
from PIL import Image

from ganfill.evaluate import METRICS


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
        # the Telea column and both PSNRs come from ganfill.evaluate's registries (center hole)
        telea = np.asarray(Image.open(out / row["telea"]).convert("RGB"))
        hole = np.zeros((32, 32), bool)
        hole[8:24, 8:24] = True
        assert np.array_equal(telea[~hole], original[~hole])
        assert row["psnr_telea"] == METRICS["psnr_hole"](original, telea, hole)
