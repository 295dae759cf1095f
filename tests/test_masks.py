import numpy as np
import pytest
import torch
from PIL import Image
from scipy import ndimage

from ganfill.core.errors import GanfillError
from ganfill.data.masks import MASKS, brush_strokes, center, from_image, grid, half, make_mask, random_pattern, random_pixels


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("name", sorted(MASKS))
def test_registry_shapes_values_and_reproducible(name):
    a = make_mask(name, 3, 32, generator=gen(1))
    b = make_mask(name, 3, 32, generator=gen(1))
    assert a.shape == (3, 1, 32, 32) and a.dtype == torch.float32
    assert set(a.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(a, b)
    assert (a == 0).flatten(1).any(1).all(), "every mask must have a hole"
    assert make_mask(name, 2, (16, 24), generator=gen(1)).shape == (2, 1, 16, 24)


def test_unknown_name_lists_valid_names():
    with pytest.raises(GanfillError) as e:
        make_mask("circle", 1, 32)
    for name in MASKS:
        assert name in str(e.value)
    with pytest.raises(GanfillError):
        make_mask("center", 1, 32, no_such_option=3)


def test_center_is_central_32_on_64():
    m = center(2, 64)
    expected = torch.ones(64, 64)
    expected[16:48, 16:48] = 0
    assert torch.equal(m[0, 0], expected) and torch.equal(m[1, 0], expected)
    assert (m == 0).sum().item() == 2 * 32 * 32  # a quarter of the area
    m2 = center(1, 64, scale=0.375)
    assert (m2 == 0).sum().item() == 16 * 16


def test_random80_fraction_and_randomness():
    m = random_pixels(4, 64, generator=gen(0))
    missing = (m == 0).flatten(1).float().mean(1)
    assert torch.allclose(missing, torch.full((4,), 0.8), atol=1 / 4096)
    assert not torch.equal(m[0], m[1])
    assert not torch.equal(m, random_pixels(4, 64, generator=gen(1)))


def test_pattern_is_25_percent_blobs():
    m = random_pattern(4, 64, generator=gen(0))
    missing = (m == 0).flatten(1).float().mean(1)
    assert ((missing - 0.25).abs() < 0.02).all()
    scattered = random_pixels(4, 64, fraction=0.25, generator=gen(0))
    for i in range(4):
        _, blobs = ndimage.label(m[i, 0].numpy() == 0)
        _, specks = ndimage.label(scattered[i, 0].numpy() == 0)
        assert 1 <= blobs <= 40 and blobs * 10 < specks, (blobs, specks)


@pytest.mark.parametrize(
    "side,region",
    [
        ("left", (slice(None), slice(0, 32))),
        ("right", (slice(None), slice(32, 64))),
        ("top", (slice(0, 32), slice(None))),
        ("bottom", (slice(32, 64), slice(None))),
    ],
)
def test_half_sides(side, region):
    m = half(1, 64, side=side)[0, 0]
    expected = torch.ones(64, 64)
    expected[region] = 0
    assert torch.equal(m, expected)


def test_half_bad_side():
    with pytest.raises(GanfillError, match="left"):
        half(1, 64, side="middle")


def test_grid_known_every_kth():
    m = grid(1, 16, k=4)[0, 0]
    known = torch.nonzero(m).tolist()
    assert known == [[i, j] for i in range(0, 16, 4) for j in range(0, 16, 4)]
    assert (grid(1, 9, k=2)[0, 0] == 1).sum().item() == 25
    with pytest.raises(GanfillError):
        grid(1, 16, k=1)


def test_strokes_are_few_connected_lines():
    m = brush_strokes(6, 64, generator=gen(3))
    missing = (m == 0).flatten(1).float().mean(1)
    assert ((missing > 0.005) & (missing < 0.6)).all(), missing
    for i in range(6):
        hole = m[i, 0].numpy() == 0
        _, parts = ndimage.label(hole)
        assert parts <= 4  # at most max_strokes polylines
    assert not torch.equal(m[0], m[1])


def test_from_image_same_size_any_nonzero_is_hole():
    a = np.zeros((8, 8), dtype=np.uint8)
    a[1, 2] = 1  # barely non-zero: still a hole
    a[5:7, 3:6] = 255
    m = from_image(a, 8)
    assert m.shape == (1, 1, 8, 8)
    expected = torch.ones(8, 8)
    expected[1, 2] = 0
    expected[5:7, 3:6] = 0
    assert torch.equal(m[0, 0], expected)
    assert torch.equal(from_image(a, 8, level=127)[0, 0][1, 2], torch.tensor(1.0))


def test_from_image_resize_and_threshold():
    a = np.zeros((10, 10), dtype=np.uint8)
    a[2:6, 2:6] = 255
    up = from_image(a, 20)[0, 0]
    expected = torch.ones(20, 20)
    expected[4:12, 4:12] = 0
    assert torch.equal(up, expected)
    # downsampling: the left half stays the left half; a lone pixel disappears (coverage < 0.5)
    b = np.zeros((64, 64), dtype=np.uint8)
    b[:, :32] = 200
    b[40, 50] = 255
    down = from_image(b, 16)[0, 0]
    expected = torch.ones(16, 16)
    expected[:, :8] = 0
    assert torch.equal(down, expected)
    # a lower threshold also takes pixels only partly covered: a superset of the holes
    low = from_image(b, 16, threshold=0.05)[0, 0]
    assert ((low == 0) | (down == 1)).all() and (low == 0).sum() > (down == 0).sum()


def test_from_image_pil_modes_and_nonsquare():
    rgb = Image.new("RGB", (40, 20), (0, 0, 0))
    rgb.paste((255, 0, 0), (0, 0, 20, 20))  # pure red on the left half
    m = from_image(rgb, 32)[0, 0]
    assert m.shape == (32, 32)
    assert (m[:, :16] == 0).all() and (m[:, 16:] == 1).all()
    one = rgb.convert("L").point(lambda v: 255 if v else 0).convert("1")
    assert torch.equal(from_image(one, 32), from_image(rgb, 32))
    rgba = Image.new("RGBA", (8, 8), (0, 0, 0, 255))  # alpha is ignored
    assert (from_image(rgba, 8) == 1).all()
    with pytest.raises(GanfillError):
        from_image("mask.png", 8)
