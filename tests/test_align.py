"""The face aligner (``data.align``): its frames' geometry, a refinement that undoes a known
misalignment, the shipped weights, and the finder's rough search guarded by its face score."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganfill.data import align
from ganfill.data.faces import ALIGNER_FILE, FINE_ALIGNER_FILE

from conftest import blob_images


def test_the_aligners_square_is_celebas_centre_108_box():
    # the aligner's square at 64 px is a faces64 model's square; at 128 px for a 108 crop, twice it
    assert np.allclose(align.canonical_to_model(108, 64), np.eye(3))
    assert np.allclose(align.canonical_to_model(108, 128), np.diag([2.0, 2.0, 1.0]))
    # a model on a larger crop sees the same point nearer its centre
    m = align.canonical_to_model(128, 64)
    centre = m @ [32, 32, 1]
    assert np.allclose(centre[:2], 32) and np.isclose(m[0, 0], 108 / 128)


def test_a_prediction_is_the_similarity_it_names():
    assert np.allclose(align.prediction_matrix(np.zeros(4)), np.eye(3))
    shift = align.prediction_matrix([0, 0, 0.25, -0.5])  # in [-1, 1] units: a quarter and half the square
    assert np.allclose(shift[:2, 2], [8, -16]) and np.allclose(shift[:2, :2], np.eye(2))
    turn = align.prediction_matrix([np.cos(0.3) - 1, np.sin(0.3), 0, 0])
    assert np.allclose(turn @ [32, 32, 1], [32, 32, 1])  # turned about the square's centre


class _Oracle(torch.nn.Module):
    """Says the same parameters for every input (and a face)."""

    def __init__(self, p):
        super().__init__()
        self.p = torch.tensor([*p, 5.0])

    def forward(self, x):
        return self.p.expand(len(x), 5)


def test_refinement_composes_the_predicted_correction_with_the_frame():
    image = blob_images(1, 120, seed=0)[0]
    hole = np.zeros((120, 120), bool)
    hole[40:60, 40:80] = True
    frame = np.array([[0.5, 0.0, 2.0], [0.0, 0.5, -3.0]])
    p = [0.0, 0.0, 0.1, 0.0]
    refined, score = align.refine_frame(_Oracle(p), image, hole, frame, steps=2)
    expected = align.prediction_matrix(p) @ align.prediction_matrix(p) @ np.vstack([frame, [0, 0, 1]])
    assert np.allclose(refined, expected[:2]) and score > 0.99
    x = align.aligner_input(image, hole, frame)
    assert x.shape == (4, 64, 64) and x.dtype == np.float32
    assert set(np.unique(x[3])) <= {0.0, 1.0} and (x[:3][:, x[3] == 0] == 0).all()  # the hole's pixels: 0


def test_a_tiny_aligner_saves_as_fp16_and_loads_back(tmp_path):
    torch.manual_seed(0)
    model = align.build_aligner(width=4).eval()
    align.save_aligner(model, tmp_path / "a.safetensors")
    back = align.load_aligner(tmp_path / "a.safetensors")
    x = torch.from_numpy(align.aligner_input(blob_images(1, 64, seed=1)[0], None, np.eye(3)[:2]))[None]
    with torch.no_grad():
        assert torch.allclose(model(x), back(x), atol=2e-2)
    with pytest.raises(Exception, match="cannot read the face aligner"):
        align.load_aligner(tmp_path / "missing.safetensors")


def test_the_shipped_aligner_is_small_and_finds_no_face_in_blobs():
    assert ALIGNER_FILE.stat().st_size < 3e6
    model = align.load_aligner(ALIGNER_FILE)
    xs = [align.aligner_input(im, None, np.array([[64 / 150, 0, 0], [0, 64 / 150, 0]])) for im in blob_images(4, 150, seed=5)]
    with torch.no_grad():
        scores = torch.sigmoid(model(torch.from_numpy(np.stack(xs)))[:, 4])
    assert (scores < 0.5).all(), scores


def test_the_fine_stage_refines_after_the_coarse_passes_and_the_mirror_undoes_a_one_sided_guess():
    image = blob_images(1, 120, seed=0)[0]
    frame = np.array([[0.5, 0.0, 2.0], [0.0, 0.5, -3.0]])
    coarse, fine = [0.0, 0.0, 0.1, 0.0], [0.01, 0.02, 0.05, -0.05]
    refined, score = align.refine_frame(
        _Oracle(coarse), image, None, frame, steps=1, fine=_Oracle(fine), fine_steps=1, flip=False
    )
    expected = align.prediction_matrix(fine) @ align.prediction_matrix(coarse) @ np.vstack([frame, [0, 0, 1]])
    assert np.allclose(refined, expected[:2]) and score > 0.99
    # a guess that says the same for a square and its mirror image: its sideways shift and its
    # turn cancel, its scale and its shift down stay (about the square's mirror axis, x = 31.5)
    flipped, _ = align.refine_frame(_Oracle(coarse), image, None, frame, steps=0, fine=_Oracle(fine), fine_steps=1, flip=True)
    correction = np.vstack([flipped, [0, 0, 1]]) @ np.linalg.inv(np.vstack([frame, [0, 0, 1]]))
    mirror = np.array([[-1.0, 0, 63], [0, 1, 0], [0, 0, 1]])
    p = align.prediction_matrix(fine)
    assert np.allclose(correction, (p + mirror @ p @ mirror) / 2)
    assert np.allclose(correction[:2, :2], 1.01 * np.eye(2))  # the turn cancels, the scale stays
    for y in (0.0, 20.0, 63.0):  # the mirror's axis stays on it, moved down as the guess says
        assert np.allclose(correction @ [31.5, y, 1], [31.5, (p @ [31.5, y, 1])[1], 1])


def test_the_search_tries_squares_around_the_hole_and_keeps_one_only_when_it_is_a_face():
    hole = np.zeros((200, 300), bool)
    hole[90:110, 140:180] = True  # 40 px wide: its centre (159.5, 99.5)
    frames = align.candidate_frames(hole, sizes=(1.5, 2.0), shifts=(-0.25, 0.0, 0.25))
    assert len(frames) == 18
    middle = np.linalg.inv(frames[4])  # size 1.5, not shifted: a 60 px square on the hole's centre
    assert np.allclose(middle[:2] @ [32, 32, 1], [160, 100]) and np.isclose(middle[0, 0] * 64, 60)
    image = blob_images(1, 300, seed=2)[0][:200]
    found = align.search_frame(_Oracle([0.0, 0.0, 0.0, 0.0]), image, hole, steps=1)
    assert found is not None and found[1] > 0.99
    frame, _ = found
    centre = frame @ [159.5, 99.5, 1]
    assert (0 <= centre).all() and (centre < 64).all()  # it holds the hole's centre

    class NoFace(_Oracle):
        def forward(self, x):
            return super().forward(x) * torch.tensor([1.0, 1, 1, 1, -1])

    assert align.search_frame(NoFace([0.0] * 4), image, hole, steps=1) is None


def test_the_shipped_fine_aligner_is_small_and_loads():
    assert FINE_ALIGNER_FILE.stat().st_size < 3e6
    model = align.load_aligner(FINE_ALIGNER_FILE)
    x = torch.from_numpy(align.aligner_input(blob_images(1, 64, seed=1)[0], None, np.eye(3)[:2]))[None]
    with torch.no_grad():
        assert model(x).shape == (1, 5)
