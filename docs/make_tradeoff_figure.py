"""The perception-distortion picture for the README, from ``ganfill evaluate``'s results.

    .venv/bin/python docs/make_tradeoff_figure.py RUN/results.json [MORE/results.json ...] \
        [--out docs/perception-distortion-faces64.png] [--title TEXT] [--leave-out mean,...]

Per mask (columns) and realism judge (rows), hole PSNR against detectability: every method of
the results is a point (peers grey, ganfill's modes in colour) and a method run with one
setting swept (``ganfill evaluate ... --methods all,faithful@detail=0.8,...``) a curve
(``evaluation.evaluate.tradeoff_figure``, the same picture ``evaluate`` writes as
``tradeoff.png``).  Several results files of the same images and holes are drawn together
(a later file's method replaces an earlier one's); ``--leave-out`` drops methods (the mean-colour
floor squeezes the axes).  Writes the PNG and, beside it, a JSON of the points drawn and the
commands that measured them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ganfill.core.files import atomic_path
from ganfill.evaluation.evaluate import tradeoff_figure

KEEP = ("method", "mask", "images", "psnr_hole", "seconds_per_image", "base", "mode", "blend", "settings", "peer")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results", type=Path, nargs="+", help="results.json of ganfill evaluate runs")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "perception-distortion-faces64.png")
    ap.add_argument("--title", default="")
    ap.add_argument("--leave-out", default="", help="comma-separated methods not to draw")
    args = ap.parse_args()
    by, commands, references = {}, [], []
    for path in args.results:
        record = json.loads(path.read_text())
        by |= {(r["method"], r["mask"]): r for r in record["results"]}
        commands.append(record["options"].get("command"))
        references.append(record["reference"])
    leave_out = {m.strip() for m in args.leave_out.split(",") if m.strip()}
    results = [r for (m, _), r in by.items() if m not in leave_out]
    with atomic_path(args.out) as tmp:
        tradeoff_figure(results, title=args.title).savefig(tmp, format="png", dpi=110)
    points = [{k: r[k] for k in KEEP} | {k: v for k, v in r.items() if k.startswith("detectability_")} for r in results]
    summary = {"commands": commands, "reference": references, "points": points}
    with atomic_path(args.out.with_suffix(".json")) as tmp:
        tmp.write_text(json.dumps(summary, indent=1))
    print(f"wrote {args.out} and {args.out.with_suffix('.json')}: {len(points)} points")


if __name__ == "__main__":
    main()
