"""Try the bad and odd inputs of issue 27 against a ganfill source tree and count those handled cleanly.

    .venv/bin/python scripts/probe_bad_inputs.py [SRC]   # SRC: a tree's src/ folder (default: this checkout's)

Each case runs in a fresh subprocess (``python -m ganfill ...`` or a few lines of Python) with a
time limit, on a tiny model and tiny images made here, GANFILL_HOME in a temporary folder. Clean
means: for a bad input, exit 2 with one line ``ganfill: error: ...`` (the Python API: one
GanfillError, TypeError or ValueError of one line), no traceback, nothing written outside or
half-made in the output; for a batch with bad members, exit 3 with the good ones done and each
bad one named; for an odd but valid input, it works. Prints one line per case and the count.
"""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SRC = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else REPO / "src"
LIMIT = 60  # seconds per case: longer is a hang
BIG, HUGE = str(10**30), "1000000000"

W = Path(tempfile.mkdtemp(prefix="ganfill-probe-"))
ENV = os.environ | {"PYTHONPATH": str(SRC), "GANFILL_HOME": str(W / "home"), "OMP_NUM_THREADS": "2"}


def run(args: list[str], *, code: str | None = None, cwd: Path = W) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-c", code] if code is not None else [sys.executable, "-m", "ganfill", *args]
    try:
        return subprocess.run(
            cmd + (args if code is not None else []), capture_output=True, text=True, env=ENV, cwd=cwd, timeout=LIMIT
        )
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(cmd, -9, "", f"(still running after {LIMIT} s: killed)\n")


def one_line(proc) -> bool:
    err = proc.stderr
    return proc.returncode == 2 and err.startswith("ganfill: error:") and err.count("\n") == 1 and "Traceback" not in err


SETUP = """
import sys, numpy as np, torch
from pathlib import Path
from PIL import Image
from ganfill.models import files
from ganfill.models.config import ModelConfig
from ganfill.models.dcgan import GANModel, build
from ganfill.data.datasets import prepare
w = Path(sys.argv[1])
torch.manual_seed(0)
G, D = build(ModelConfig(resolution=32, z_dim=8, g_width=8, d_width=8))
files.save(w / "tiny.safetensors", GANModel.from_nets(G=G, D=D))
rng = np.random.default_rng(0)
for d in ("src", "batch", "masks", "dots"):
    (w / d).mkdir()
for i in range(24):
    Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(w / "src" / f"{i:02d}.png")
prepare(w / "src", w / "data", resolution=32, crop="none", progress=False)
hole = np.zeros((32, 32), np.uint8); hole[8:24, 8:24] = 255
for i in range(6):
    Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(w / "batch" / f"p{i}.png")
    if i < 4:
        Image.fromarray(hole).save(w / "masks" / f"p{i}.png")
(w / "batch" / "p5.png").write_bytes(b"not an image")
Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(w / "dots" / "..png", format="PNG")
frames = [Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)) for _ in range(3)]
(w / "odd").mkdir()
frames[0].save(w / "odd" / "anim.gif", save_all=True, append_images=frames[1:])
frames[1].save(w / "odd" / "scan.tiff")
frames[2].save(w / "odd" / "photo.png.bak", format="PNG")
(w / "odd" / "README").write_text("notes")
Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(w / "photo.png")
"""

API = """
import sys, numpy as np, torch
from ganfill.models import files
from ganfill.inpainting.config import CompleteConfig
from ganfill.inpainting import inpainter
m = files.load(sys.argv[1]); prior = m.prior()
x = np.zeros((2, 32, 32, 3), np.uint8); k = np.ones((2, 32, 32), bool); k[:, 8:24, 8:24] = False
C = CompleteConfig(num_steps=1)
try:
    {call}
except Exception as e:
    from ganfill.core.errors import GanfillError
    ok = isinstance(e, (GanfillError, TypeError, ValueError)) and not isinstance(e, (AttributeError, IndexError))
    print(type(e).__name__, str(e).splitlines()[0] if str(e) else "", file=sys.stderr)
    sys.exit(2 if ok and "\\n" not in str(e) else 1)
print("accepted", file=sys.stderr)
sys.exit(0)
"""


def main() -> None:
    setup = run([str(W)], code=SETUP)
    assert setup.returncode == 0, setup.stderr
    tiny, data, photo, out = str(W / "tiny.safetensors"), str(W / "data"), str(W / "photo.png"), W / "out"
    fast = ["--num-steps", "1", "--record-every", "0", "--quiet"]
    evaluate = ["evaluate", tiny, data, "--out", str(out), "-n", "4", "--masks", "center", "--methods", "mean", "--quiet"]
    small = ["--batch-size", "8", "--quiet"]  # a batch the 24 images fill: only the number tried is wrong
    cli_errors = {  # (command args) -> must be a one-line error writing nothing to out
        "inpaint --num-steps 1e30": ["inpaint", tiny, photo, "--out", str(out), "--num-steps", BIG, "--quiet"],
        "inpaint --restarts 1e9": ["inpaint", tiny, photo, "--out", str(out), "--restarts", HUGE, "--quiet"],
        "inpaint --seed 2**64": ["inpaint", tiny, photo, "--out", str(out), "--seed", str(2**64), *fast],
        "inpaint --seed -2**64": ["inpaint", tiny, photo, "--out", str(out), "--seed", str(-(2**64)), *fast],
        "inpaint --mask-level 300": ["inpaint", tiny, photo, "--out", str(out), "--mask-level", "300", *fast],
        "inpaint --mask-level -1": ["inpaint", tiny, photo, "--out", str(out), "--mask-level", "-1", *fast],
        "inpaint --record-every 1e30": ["inpaint", tiny, photo, "--out", str(out), "--record-every", BIG, "--quiet"],
        "inpaint --batch-size 0": ["inpaint", tiny, photo, "--out", str(out), "--batch-size", "0", *fast],
        "inpaint --window 1e9": ["inpaint", tiny, photo, "--out", str(out), "--window", HUGE, *fast],
        "train --steps 1e30": ["train", data, "--out", str(out), *small, "--steps", BIG, "--quiet"],
        "train --d-steps 1e9": ["train", data, "--out", str(out), *small, "--d-steps", HUGE, "--quiet"],
        "train --g-steps 1e9": ["train", data, "--out", str(out), *small, "--g-steps", HUGE, "--quiet"],
        "train --n-samples 1e9": ["train", data, "--out", str(out), *small, "--n-samples", HUGE, "--steps", "1", "--quiet"],
        "train --seed 2**64": ["train", data, "--out", str(out), *small, "--seed", str(2**64), "--steps", "1", "--quiet"],
        "train --checkpoint-every 1e30": ["train", data, "--out", str(out), *small, "--checkpoint-every", BIG, "--quiet"],
        "train-encoder --steps 1e30": ["train-encoder", tiny, data, "--out", str(out), *small, "--steps", BIG, "--quiet"],
        "train-ce --steps 1e30": ["train-ce", data, "--out", str(out), *small, "--steps", BIG, "--quiet"],
        "sample -n 1e9": ["sample", tiny, "-n", HUGE, "--out", str(out / "g.png")],
        "sample --seed 2**64": ["sample", tiny, "--seed", str(2**64), "--out", str(out / "g.png")],
        "evaluate --figure-rows -1": [*evaluate, "--figure-rows", "-1"],
        "evaluate --cnn /etc/passwd": [*evaluate, "--cnn", "/etc/passwd"],
        "evaluate --seed 2**64": ["evaluate", tiny, data, "--out", str(out), "--seed", str(2**64), "--quiet"],
        "demo --steps 1e30": ["demo", "--out", str(out), "--steps", BIG, "--quiet"],
        "serve --port 70000": ["serve", "--models", tiny, "--port", "70000"],
        "serve --port -1": ["serve", "--models", tiny, "--port", "-1"],
        "glyphs --seed 2**64": ["glyphs", str(out), "--seed", str(2**64)],
        "export to an existing folder": ["export", tiny, "src"],
        "export as a shipped name": ["export", tiny, "faces64"],
        "inpaint, one unreadable input": ["inpaint", tiny, str(W / "batch" / "p5.png"), "--out", str(out), *fast],
    }
    results = []

    def record(name: str, clean: bool, proc) -> None:
        results.append(clean)
        last = proc.stderr.strip().splitlines()[-1][:110] if proc.stderr.strip() else ""
        print(f"{'clean' if clean else 'NOT  '}  {name:38s} exit {proc.returncode}: {last}")

    assets = SRC / "ganfill" / "assets" / "models"
    backup = W / "assets-backup"
    shutil.copytree(assets, backup)  # an older tree's `export` writes into its package: put it back after each case

    def restore_assets() -> bool:
        """Put the package's models back as they were; True if nothing had changed."""
        same = True
        for extra in assets.iterdir():
            if not (backup / extra.name).exists():
                extra.unlink()
                same = False
        for kept in backup.iterdir():
            if not filecmp.cmp(kept, assets / kept.name, shallow=False):
                shutil.copy2(kept, assets / kept.name)
                same = False
        return same

    for name, args in cli_errors.items():
        proc = run(args)
        untouched = restore_assets()
        record(name, one_line(proc) and not out.exists() and untouched, proc)
        subprocess.run(["rm", "-rf", str(out)])

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        proc = run(["serve", "--models", tiny, "--port", str(taken.getsockname()[1])])
    record("serve on a port in use", one_line(proc), proc)

    proc = run(["inpaint", tiny, str(W / "batch"), "--out", str(out), *fast])
    done = sorted(p.name for p in out.iterdir()) if out.exists() else []
    record(
        "batch: 1 unreadable of 6", proc.returncode == 3 and done == [f"p{i}" for i in range(5)] and "p5.png" in proc.stderr, proc
    )
    subprocess.run(["rm", "-rf", str(out)])
    (W / "batch" / "p5.png").unlink()
    proc = run(["inpaint", tiny, str(W / "batch"), "--mask", str(W / "masks"), "--out", str(out), *fast])
    done = sorted(p.name for p in out.iterdir()) if out.exists() else []
    record(
        "batch: 1 of 5 without a mask",
        proc.returncode == 3 and done == [f"p{i}" for i in range(4)] and "p4.png" in proc.stderr,
        proc,
    )
    subprocess.run(["rm", "-rf", str(out)])
    proc = run(["inpaint", tiny, photo, "--out", str(out), *fast])
    record("lock file removed when the run ends", proc.returncode == 0 and not (out / ".ganfill.lock").exists(), proc)
    subprocess.run(["rm", "-rf", str(out)])

    proc = run(["inpaint", tiny, str(W / "dots"), "--out", str(out), *fast])
    record("inpaint a folder holding ..png", proc.returncode == 0 and (out / "_." / "record.json").is_file(), proc)
    subprocess.run(["rm", "-rf", str(out)])
    proc = run(["prepare", str(W / "odd"), str(out), "--resolution", "32"])
    manifest = json.loads((out / "manifest.json").read_text()) if (out / "manifest.json").exists() else {}
    listed = sorted(s["file"] for s in manifest.get("skipped", []))
    record(
        "prepare: GIF, TIFF, 2 odd names",
        proc.returncode == 0 and manifest.get("count") == 2 and listed == ["README", "photo.png.bak"],
        proc,
    )
    subprocess.run(["rm", "-rf", str(out)])

    proc = run(["export", tiny, "mine32"])
    record("export NAME: outside the package", proc.returncode == 0 and restore_assets(), proc)

    train = run(
        [
            "train",
            data,
            "--out",
            str(W / "run"),
            "--z-dim",
            "8",
            "--g-width",
            "8",
            "--d-width",
            "8",
            "--batch-size",
            "8",
            "--n-samples",
            "4",
            "--steps",
            "2",
            "--checkpoint-every",
            "1",
            "--quiet",
        ]
    )
    assert train.returncode == 0, train.stderr
    last = W / "run" / "checkpoints" / "step-00000002" / "model.safetensors"
    last.write_bytes(last.read_bytes()[:1000])
    proc = run(["sample", str(W / "run"), "-n", "4", "--out", str(W / "g.png")])
    record(
        "run with a damaged latest checkpoint",
        proc.returncode == 0 and "warning" in proc.stderr and "Traceback" not in proc.stderr,
        proc,
    )

    rater = "from ganfill.apps import study; import sys; sys.exit('<script>' in study.markdown_text('<script>x</script>'))"
    proc = run([], code=rater)
    record("study: a <script> rater name", proc.returncode == 0, proc)

    for name, call in {
        "API: a list of images": "inpainter.complete_images(prior, list(x), k, config=C)",
        "API: None as images": "inpainter.complete_images(prior, None, k, config=C)",
        "API: zero images": "inpainter.complete_images(prior, x[:0], k[:0], config=C)",
        "API: a dict as config": "inpainter.complete_images(prior, x, k, config={'num_steps': 1})",
        "API: None as prior": "inpainter.complete_images(None, x, k, config=C)",
        "API: CompleteConfig(num_steps=2.5)": "CompleteConfig(num_steps=2.5)",
        "API: CompleteConfig(num_steps='10')": "CompleteConfig(num_steps='10')",
        "API: seed=1.5": "inpainter.complete_images(prior, x, k, config=C, seed=1.5)",
        "API: seed=2**64": "inpainter.complete_images(prior, x, k, config=C, seed=2**64)",
        "API: a NaN fill": "inpainter.blend_fill(torch.full((2, 3, 32, 32), float('nan')), x, k, blends=('poisson',))",
        "API: repair(None, hole)": "import ganfill; ganfill.repair(None, ~k[0], model=sys.argv[1])",
        "API: repair(image, None)": "import ganfill; ganfill.repair(x[0], None, model=sys.argv[1])",
    }.items():
        proc = run([tiny], code=API.replace("{call}", call))
        record(name, proc.returncode == 2, proc)

    print(f"\n{sum(results)} of {len(results)} bad or odd inputs handled cleanly ({SRC})")


if __name__ == "__main__":
    main()
