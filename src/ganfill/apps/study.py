"""A human study of repairs, replicating the paper's Table 2 with real raters (no Gradio here).

The paper showed repaired faces to people and asked four questions; its Table 2 reports, per
question, how many answers said so and what share of all answers that is:

    looks like a real face              603  99%
    traces of repair found              376  62%
    can't tell repair from original     442  73%
    obviously repaired                   74  12%

``ganfill study RESULTS_DIR`` (the study tab of ``ganfill serve --results``) asks the same
questions about the images of a ``ganfill inpaint`` output folder, mixed with their originals
as a control, and keeps the same table for both kinds.

Pairing. Every completed image of RESULTS_DIR with a readable original is a *pair*
(``find_pairs``): its repaired version (``completed.png``) and its original, shown exactly as
the repair was made: in domain mode the input file brought into the model's square
(``data.domain.to_domain`` with the record's crop, background and model resolution, so both versions
have the same size and framing), in fit mode the input file itself.  A rater sees each pair
ONCE, in one version only: having seen one version of a picture would make the other easy to
judge.  Per rater, half of the pairs (chosen at random) are shown repaired and the other half
original, in a random order (``sequence``, seeded by the rater's name so that a rater who comes
back resumes the same sequence); across raters every pair is judged in both versions about
equally often.  Nothing shown (image size, file name, order) tells the kinds apart.

Storage. Answers go to an SQLite database (default ``RESULTS_DIR/study.sqlite3``) in WAL mode
with full synchronous commits: one transaction per answer, so several raters (and processes)
can answer at once and an answer, once acknowledged, survives a crash.  A rater answers each
pair once (a unique key on rater and pair): a repeated submission is ignored.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import random
import re
import sqlite3
import time
from collections.abc import Iterable, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ganfill.core.errors import GanfillError
from ganfill.data.domain import to_domain
from ganfill.data.reading import load_image

KINDS = ("repaired", "original")
DB_NAME = "study.sqlite3"
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Question:
    key: str  # column in the database
    text: str  # what the rater is asked ({subject} is filled in)
    row: str  # the Table 2 row ({subject} is filled in)
    counts_yes: bool  # the row counts "yes" answers (else "no" answers)


QUESTIONS = (
    Question("real", "Does this look like a real {subject}?", "looks like a real {subject}", True),
    Question("traces", "Can you find traces of repair?", "traces of repair found", True),
    Question("can_tell", "Can you tell whether this image is repaired or original?", "can't tell repair from original", False),
    Question("obvious", "Is the repair obvious?", "obviously repaired", True),
)
PAPER_TABLE2 = {"real": (603, 99), "traces": (376, 62), "can_tell": (442, 73), "obvious": (74, 12)}


# ---- items --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    """One image of a results folder: where its repaired and original versions come from."""

    name: str  # the results subfolder (the input's stem)
    repaired: Path  # completed.png
    original: Path  # the input file
    mode: str  # "domain" or "fit"
    resolution: int  # the model's
    crop: str  # the model's domain crop
    background: tuple[int, int, int]


@dataclass(frozen=True)
class Shown:
    """What a rater judges: one version of one pair."""

    name: str
    kind: str  # "repaired" or "original"


def _locate(recorded: str, results_dir: Path, originals: Path | None) -> Path | None:
    """The input file of a record: as recorded (absolute, or relative to the current folder or to
    the results folder's parent), else by file name in ``originals``."""
    path = Path(recorded)
    candidates = [path] if path.is_absolute() else [Path.cwd() / path, results_dir.parent / path]
    if originals is not None:
        candidates.append(originals / path.name)
    return next((c for c in candidates if c.is_file()), None)


def find_pairs(results_dir: str | os.PathLike, *, originals: str | os.PathLike | None = None) -> tuple[list[Pair], list[str]]:
    """The pairs of a ``ganfill inpaint`` output folder, sorted by name, and why others were left out.

    A subfolder counts when it has ``record.json`` and ``completed.png``, had a hole, and its
    original input file can be found (see ``_locate``; ``originals`` is a folder to look in by
    file name when the inputs have moved).
    """
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise GanfillError(f"results folder {results_dir} does not exist: give an output folder of `ganfill inpaint`")
    originals = Path(originals) if originals is not None else None
    pairs: list[Pair] = []
    skipped: list[str] = []
    for folder in sorted(p for p in results_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        record_file, completed = folder / "record.json", folder / "completed.png"
        if not (record_file.is_file() and completed.is_file()):
            continue  # not a result (or not finished)
        try:
            record = json.loads(record_file.read_text())
        except (OSError, json.JSONDecodeError):
            skipped.append(f"{folder.name}: unreadable record.json")
            continue
        if not isinstance(record, dict):
            skipped.append(f"{folder.name}: record.json is not a record of `ganfill inpaint` (not a JSON object)")
            continue
        if record.get("unchanged"):
            skipped.append(f"{folder.name}: its mask had no hole")
            continue
        original = _locate(str(record.get("input", "")), results_dir, originals)
        if original is None:
            skipped.append(f"{folder.name}: original {record.get('input')} not found")
            continue
        try:
            pairs.append(_pair(folder, completed, original, record))
        except (KeyError, TypeError, ValueError, AttributeError):
            skipped.append(f"{folder.name}: record.json has no usable model or domain (not written by `ganfill inpaint`?)")
    return pairs, skipped


def _pair(folder: Path, completed: Path, original: Path, record: dict) -> Pair:
    """The Pair a record describes; KeyError, TypeError, ValueError or AttributeError where it lacks a part."""
    domain = record.get("domain") or {}
    framing = record.get("framing", record.get("mode") if record.get("mode") in ("fit", "domain") else "domain")
    return Pair(
        folder.name,
        completed,
        original,
        str(framing),
        int(record["model"]["resolution"]),
        str(domain.get("crop", "none")),
        tuple(int(c) for c in domain.get("background", (255, 255, 255))),
    )


def image_of(pair: Pair, kind: str) -> np.ndarray:
    """The uint8 (H, W, 3) image a rater sees for one version of a pair."""
    if kind == "repaired":
        return load_image(pair.repaired)
    if kind != "original":
        raise ValueError(kind)
    image = load_image(pair.original, background=pair.background)
    if pair.mode != "domain":  # face, fit or a given frame: the whole photo at its size
        return image
    return to_domain(image, resolution=pair.resolution, crop=pair.crop, background=pair.background)


def _seed(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def sequence(names: Sequence[str], rater: str) -> list[Shown]:
    """The order in which ``rater`` sees the pairs, each in one version (see the module docstring).

    Deterministic in (names, rater); half the pairs (rounded at random) are shown repaired.
    """
    rng = random.Random(_seed(rater))
    order = sorted(names)
    rng.shuffle(order)
    first = rng.randrange(2)
    shown = [Shown(name, KINDS[(i + first) % 2]) for i, name in enumerate(order)]
    rng.shuffle(shown)  # else the kinds would alternate
    return shown


def next_item(names: Sequence[str], rater: str, answered: Iterable[str]) -> tuple[Shown | None, int]:
    """The next thing to show ``rater`` (None when done) and how many pairs they have answered.

    A pair answered in either version is never shown again (so a rater never sees both
    versions, even when the results folder grew since they started).
    """
    done = set(answered) & set(names)
    todo = [s for s in sequence(names, rater) if s.name not in done]
    return (todo[0] if todo else None), len(done)


_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|~:])")  # what Markdown reads as markup (< > & go to html.escape)


def markdown_text(text: str) -> str:
    """``text`` as Markdown that shows it as written: markup characters backslash-escaped, HTML's
    ``< > &`` as entities, so a name like ``<script>`` or ``**x**`` is shown, never run or styled.
    Everything a user types goes through it before the page shows it."""
    return html.escape(_MARKDOWN.sub(r"\\\1", str(text)), quote=False)


def clean_rater(name: str | None) -> str:
    """A rater's name as stored: trimmed, 1 to 64 characters."""
    name = " ".join((name or "").split())
    if not name:
        raise GanfillError("enter a rater name (any nickname; use the same one to continue later)")
    if len(name) > 64:
        raise GanfillError("the rater name is too long: use at most 64 characters")
    return name


# ---- storage ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    rater: str
    name: str
    kind: str
    real: bool
    traces: bool
    can_tell: bool
    obvious: bool
    seconds: float | None = None  # time from showing the image to the answer


class Store:
    """Answers in SQLite (WAL, one transaction per answer). Safe to use from several threads and
    processes: every call opens its own short-lived connection."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with closing(sqlite3.connect(self.path, timeout=30)) as db:
                db.execute("PRAGMA journal_mode=WAL")  # persistent: set once, outside a transaction
            with self._connect() as db:
                db.execute("""CREATE TABLE IF NOT EXISTS answers (
                    id INTEGER PRIMARY KEY,
                    rater TEXT NOT NULL,
                    name TEXT NOT NULL,
                    kind TEXT NOT NULL CHECK (kind IN ('repaired', 'original')),
                    real INTEGER NOT NULL CHECK (real IN (0, 1)),
                    traces INTEGER NOT NULL CHECK (traces IN (0, 1)),
                    can_tell INTEGER NOT NULL CHECK (can_tell IN (0, 1)),
                    obvious INTEGER NOT NULL CHECK (obvious IN (0, 1)),
                    seconds REAL,
                    created REAL NOT NULL,
                    UNIQUE (rater, name))""")
                db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except (sqlite3.Error, OSError) as e:
            raise GanfillError(f"cannot open the study database {self.path} ({e}): is it a writable SQLite file?") from None

    @contextmanager
    def _connect(self):
        try:
            with closing(sqlite3.connect(self.path, timeout=30)) as db:
                db.execute("PRAGMA synchronous=FULL")  # durable: a commit survives a power cut
                with db:  # one transaction: committed on success, rolled back on error
                    yield db
        except sqlite3.Error as e:
            raise GanfillError(f"study database {self.path}: {e}") from None

    def add(self, answer: Answer) -> bool:
        """Store one answer atomically; False if this rater already answered this pair (kept as is)."""
        if answer.kind not in KINDS:
            raise ValueError(answer.kind)
        with self._connect() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO answers (rater, name, kind, real, traces, can_tell, obvious, seconds, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    answer.rater,
                    answer.name,
                    answer.kind,
                    int(answer.real),
                    int(answer.traces),
                    int(answer.can_tell),
                    int(answer.obvious),
                    answer.seconds,
                    time.time(),
                ),
            )
            return cursor.rowcount == 1

    def answered(self, rater: str) -> set[str]:
        """Names of the pairs this rater has answered."""
        with self._connect() as db:
            return {row[0] for row in db.execute("SELECT name FROM answers WHERE rater = ?", (rater,))}

    def answers(self) -> list[Answer]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT rater, name, kind, real, traces, can_tell, obvious, seconds FROM answers ORDER BY id"
            ).fetchall()
        return [Answer(r[0], r[1], r[2], bool(r[3]), bool(r[4]), bool(r[5]), bool(r[6]), r[7]) for r in rows]


# ---- Table 2 ------------------------------------------------------------------------------


def table2(answers: Iterable[Answer]) -> dict[str, dict[str, int]]:
    """The paper's Table 2 for each kind: ``{kind: {"n": answers, "real": count, "traces": count,
    "can_tell": count of "can't tell", "obvious": count}}`` (each count as in the row it fills)."""
    table = {kind: {"n": 0} | {q.key: 0 for q in QUESTIONS} for kind in KINDS}
    for a in answers:
        row = table[a.kind]
        row["n"] += 1
        for q in QUESTIONS:
            row[q.key] += int(getattr(a, q.key) == q.counts_yes)
    return table


def _cell(count: int, n: int) -> str:
    return f"{count} ({round(100 * count / n)}%)" if n else "-"


def format_table2(table: dict[str, dict[str, int]], *, subject: str = "face") -> str:
    """Table 2 as Markdown: count (percentage of answers) per row, repaired and original images,
    with the paper's numbers (for its repaired faces) alongside."""
    rep, orig = table["repaired"], table["original"]
    lines = ["| | repaired | original | paper (repaired) |", "|---|---|---|---|"]
    for q in QUESTIONS:
        count, pct = PAPER_TABLE2[q.key]
        lines.append(
            f"| {q.row.format(subject=markdown_text(subject))} | {_cell(rep[q.key], rep['n'])} "
            f"| {_cell(orig[q.key], orig['n'])} | {count} ({pct}%) |"
        )
    lines.append(f"| answers | {rep['n']} | {orig['n']} | |")
    return "\n".join(lines)
