"""The human study's logic (ganfill.apps.study): pairs from a results folder, per-rater sequences,
SQLite storage, the paper's Table 2."""

import json
import sqlite3
import threading
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganfill.apps import fill, study
from ganfill.core.errors import GanfillError
from ganfill.data.domain import Domain, to_domain
from ganfill.data.reading import load_image
from ganfill.inpainting.config import CompleteConfig
from ganfill.inpainting.inpainter import load_inpainter
from ganfill.models import files as checkpoint

from conftest import blob_images, tiny_gan


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Results of `ganfill inpaint` with a tiny model: 3 pictures in domain mode (one of them with
    no hole), 1 in fit mode; inputs given by absolute path."""

    root = tmp_path_factory.mktemp("study")
    model = checkpoint.load(checkpoint.save(root / "tiny.safetensors", tiny_gan(domain=Domain("center:36"))))
    src = root / "inputs"
    src.mkdir()
    for i, img in enumerate(blob_images(3, 48, seed=2)):
        Image.fromarray(img).resize((48, 40)).save(src / f"face{i}.png")
    Image.fromarray(blob_images(1, 80, seed=3)[0]).save(src / "photo.png")
    Image.new("L", (48, 40), 0).save(root / "no-hole.png")
    out = root / "results"
    config = CompleteConfig(num_steps=2)
    fill.run(load_inpainter(model, "sharp", config=config), [src / "face0.png", src / "face1.png"], out, progress=False)
    fill.run(
        load_inpainter(model, "sharp", config=config),
        [src / "face2.png"],
        out,
        mask=str(root / "no-hole.png"),
        progress=False,
        notify=lambda message: None,
    )
    fill.run(load_inpainter(model, "sharp", config=config), [src / "photo.png"], out, framing="fit", progress=False)
    return out


def test_find_pairs_and_what_raters_see(results):
    pairs, skipped = study.find_pairs(results)
    assert [p.name for p in pairs] == ["face0", "face1", "photo"]
    assert skipped == ["face2: its mask had no hole"]
    face = pairs[0]
    assert (face.mode, face.resolution, face.crop) == ("domain", 32, "center:36")
    original, repaired = study.image_of(face, "original"), study.image_of(face, "repaired")
    assert original.shape == repaired.shape == (32, 32, 3)
    assert np.array_equal(original, to_domain(load_image(face.original), resolution=32, crop="center:36"))
    # the original is framed exactly as the repair was made: outside the hole they are identical
    hole = np.asarray(Image.open(results / "face0" / "mask.png").convert("L")) > 127
    assert np.array_equal(original[~hole], repaired[~hole]) and not np.array_equal(original, repaired)
    photo = pairs[2]
    assert photo.mode == "fit"
    assert np.array_equal(study.image_of(photo, "original"), load_image(photo.original))
    assert study.image_of(photo, "repaired").shape == (80, 80, 3)


def test_find_pairs_when_the_originals_moved(results, tmp_path):
    moved = tmp_path / "results"
    moved.mkdir()
    for name in ("face0", "face1"):
        (moved / name).mkdir()
        record = json.loads((results / name / "record.json").read_text())
        (moved / name / "completed.png").write_bytes((results / name / "completed.png").read_bytes())
        (moved / name / "record.json").write_text(json.dumps(record | {"input": f"gone/{name}.png"}))
    (moved / "half-written").mkdir()  # no record.json yet: not a result, not mentioned
    pairs, skipped = study.find_pairs(moved)
    assert pairs == [] and skipped == ["face0: original gone/face0.png not found", "face1: original gone/face1.png not found"]
    inputs = Path(json.loads((results / "face0" / "record.json").read_text())["input"]).parent
    pairs, skipped = study.find_pairs(moved, originals=inputs)
    assert [p.name for p in pairs] == ["face0", "face1"] and skipped == []
    with pytest.raises(GanfillError, match="does not exist"):
        study.find_pairs(tmp_path / "nowhere")


def test_sequence_shows_every_pair_once_half_of_them_repaired():
    names = [f"img{i:02d}" for i in range(11)]
    seq = study.sequence(names, "alice")
    assert sorted(s.name for s in seq) == names
    kinds = Counter(s.kind for s in seq)
    assert set(kinds) == set(study.KINDS) and abs(kinds["repaired"] - kinds["original"]) == 1
    assert study.sequence(list(reversed(names)), "alice") == seq  # deterministic per rater
    assert study.sequence(names, "bob") != seq
    # over many raters, every pair is judged in both versions about equally often
    shown = Counter((s.name, s.kind) for r in range(400) for s in study.sequence(names, f"rater{r}"))
    assert all(120 <= shown[(n, k)] <= 280 for n in names for k in study.KINDS)
    # and the position does not give the kind away
    first = Counter(study.sequence(names, f"rater{r}")[0].kind for r in range(400))
    assert 120 <= first["repaired"] <= 280


def test_next_item_skips_pairs_answered_in_either_version():
    names = ["a", "b", "c"]
    seq = study.sequence(names, "carol")
    assert study.next_item(names, "carol", []) == (seq[0], 0)
    assert study.next_item(names, "carol", [seq[0].name]) == (seq[1], 1)
    assert study.next_item(names, "carol", ["a", "b", "c", "gone"]) == (None, 3)
    # the folder grew: the new pair is shown, the answered ones never again, whatever their kind now
    shown, done = study.next_item(names + ["d"], "carol", names)
    assert shown.name == "d" and done == 3


def test_clean_rater():
    assert study.clean_rater("  Ada \t Lovelace ") == "Ada Lovelace"
    with pytest.raises(GanfillError, match="enter a rater name"):
        study.clean_rater("   ")
    with pytest.raises(GanfillError, match="too long"):
        study.clean_rater("x" * 65)


def _answer(rater="alice", name="a", kind="repaired", real=True, traces=False, can_tell=False, obvious=False):
    return study.Answer(rater, name, kind, real, traces, can_tell, obvious, seconds=1.5)


def test_store_is_durable_wal_and_keeps_first_answers(tmp_path):
    db = tmp_path / "sub" / "answers.sqlite3"
    store = study.Store(db)
    assert store.add(_answer()) is True
    assert store.add(_answer(real=False, kind="original")) is False  # same rater, same pair: kept as first given
    assert store.add(_answer(rater="bob")) is True
    reopened = study.Store(db)  # another process would see the same
    assert reopened.answers() == [_answer(), _answer(rater="bob")]
    assert reopened.answered("alice") == {"a"} and reopened.answered("nobody") == set()
    with sqlite3.connect(db) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with pytest.raises(ValueError):
        store.add(_answer(kind="fake"))


def test_store_takes_answers_from_many_threads(tmp_path):
    store = study.Store(tmp_path / "answers.sqlite3")

    def rate(rater):
        for i in range(15):
            store.add(_answer(rater=rater, name=f"img{i}", kind=study.KINDS[i % 2]))

    threads = [threading.Thread(target=rate, args=(f"r{k}",)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    answers = store.answers()
    assert len(answers) == 90 and len({(a.rater, a.name) for a in answers}) == 90


def test_store_on_a_file_that_is_not_a_database(tmp_path):
    (tmp_path / "notes.txt").write_text("hello " * 1000)
    with pytest.raises(GanfillError, match="cannot open the study database"):
        study.Store(tmp_path / "notes.txt")


def test_table2_counts_and_format():
    answers = [
        _answer(name="a", real=True, traces=True, can_tell=False, obvious=False),
        _answer(name="b", real=True, traces=False, can_tell=False, obvious=False),
        _answer(name="c", real=False, traces=True, can_tell=True, obvious=True),
        _answer(name="d", kind="original", real=True, traces=False, can_tell=True, obvious=False),
    ]
    table = study.table2(answers)
    assert table["repaired"] == {"n": 3, "real": 2, "traces": 2, "can_tell": 2, "obvious": 1}
    assert table["original"] == {"n": 1, "real": 1, "traces": 0, "can_tell": 0, "obvious": 0}
    text = study.format_table2(table, subject="character")
    assert "| looks like a real character | 2 (67%) | 1 (100%) | 603 (99%) |" in text
    assert "| can't tell repair from original | 2 (67%) | 0 (0%) | 442 (73%) |" in text
    assert "| obviously repaired | 1 (33%) | 0 (0%) | 74 (12%) |" in text
    assert "| answers | 3 | 1 | |" in text
    empty = study.format_table2(study.table2([]))
    assert "| looks like a real face | - | - | 603 (99%) |" in empty
