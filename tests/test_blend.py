import numpy as np
import pytest
import torch

from ganfill.core.errors import GanfillError
from ganfill.data.masks import brush_strokes, center, half
from ganfill.inpainting.blend import blend


def rand_images(n, size=16, amp=0.2, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 3, size, size, generator=g, dtype=dtype) * 2 - 1) * amp


def laplacian(x: np.ndarray) -> np.ndarray:
    """sum over in-image 4-neighbours q of (x_p - x_q), for (..., H, W) (Neumann at the border)."""
    out = np.zeros_like(x)
    out[..., 1:, :] += x[..., 1:, :] - x[..., :-1, :]
    out[..., :-1, :] += x[..., :-1, :] - x[..., 1:, :]
    out[..., :, 1:] += x[..., :, 1:] - x[..., :, :-1]
    out[..., :, :-1] += x[..., :, :-1] - x[..., :, 1:]
    return out


MASKS = {
    "center": center(1, 16),
    "border": half(1, 16, side="top"),  # hole touches the image border
    "strokes": brush_strokes(1, 16, generator=torch.Generator().manual_seed(5)),
}


@pytest.mark.parametrize("method", ["poisson", "paste"])
@pytest.mark.parametrize("mname", sorted(MASKS))
def test_known_pixels_bit_exact_and_range(method, mname):
    mask = MASKS[mname]
    image = rand_images(2, amp=1.0, seed=1, dtype=torch.float32)
    fake = rand_images(2, amp=3.0, seed=2, dtype=torch.float32)  # out of range on purpose
    out = blend(fake, image, mask, method=method)
    assert out.shape == image.shape and out.dtype == image.dtype
    known = (mask > 0.5).expand_as(image)
    assert torch.equal(out[known], image[known])
    assert out.min() >= -1 and out.max() <= 1


@pytest.mark.parametrize("mname", sorted(MASKS))
def test_poisson_identity_when_fake_equals_image(mname):
    image = rand_images(2, amp=0.9)
    out = blend(image.clone(), image, MASKS[mname])
    assert torch.allclose(out, image, atol=1e-10)


@pytest.mark.parametrize("mname", sorted(MASKS))
def test_poisson_keeps_laplacian_in_hole(mname):
    mask = MASKS[mname]
    image = rand_images(2, amp=0.2, seed=3)
    fake = rand_images(2, amp=0.2, seed=4)
    out = blend(fake, image, mask)
    assert out.abs().max() < 0.99  # no clamping happened, so the equation must hold exactly
    hole = (mask[0, 0] < 0.5).numpy()
    lap_out = laplacian(out.numpy())[..., hole]
    lap_fake = laplacian(fake.numpy())[..., hole]
    np.testing.assert_allclose(lap_out, lap_fake, atol=1e-9)
    # and it is not just the paste (whose Laplacian differs at the hole border)
    lap_paste = laplacian(blend(fake, image, mask, method="paste").numpy())[..., hole]
    assert np.abs(lap_paste - lap_fake).max() > 1e-3


@pytest.mark.parametrize("mname", sorted(MASKS))
def test_constant_offset_removed_by_poisson_kept_by_paste(mname):
    mask = MASKS[mname]
    image = rand_images(2, amp=0.5, seed=6)
    fake = image + 0.3
    hole = (mask < 0.5).expand_as(image)
    p = blend(fake, image, mask, method="poisson")
    assert torch.allclose(p, image, atol=1e-9)
    q = blend(fake, image, mask, method="paste")
    assert torch.allclose(q[hole], image[hole] + 0.3, atol=1e-12)


def test_batch_masks_and_broadcast_match_single():
    image = rand_images(3, seed=7, dtype=torch.float32)
    fake = rand_images(3, seed=8, dtype=torch.float32)
    masks = torch.cat([MASKS["center"], MASKS["strokes"], MASKS["center"]])
    out = blend(fake, image, masks)
    for i in range(3):
        single = blend(fake[i : i + 1], image[i : i + 1], masks[i : i + 1])
        assert torch.allclose(out[i : i + 1], single, atol=1e-6)
    shared = blend(fake, image, MASKS["center"])  # (1, 1, H, W) broadcast over the batch
    assert torch.allclose(shared, blend(fake, image, MASKS["center"].expand(3, 1, 16, 16)), atol=0)
    assert torch.allclose(shared[0], out[0], atol=1e-6)


def test_all_known_and_all_missing():
    image = rand_images(1, seed=9)
    fake = rand_images(1, seed=10)
    ones, zeros = torch.ones(1, 1, 16, 16), torch.zeros(1, 1, 16, 16)
    for method in ("poisson", "paste"):
        assert torch.equal(blend(fake, image, ones, method=method), image)
        assert torch.allclose(blend(fake, image, zeros, method=method), fake)


def test_bad_inputs():
    image = rand_images(2)
    with pytest.raises(GanfillError, match="poisson"):
        blend(image, image, MASKS["center"], method="smudge")
    with pytest.raises(GanfillError):
        blend(image, image, torch.ones(2, 3, 16, 16))
    with pytest.raises(GanfillError):
        blend(image[:1], image, MASKS["center"])


def test_poisson_reproduces_a_linear_ramp_exactly():
    # A linear function is harmonic (its discrete Laplacian is 0): guided by a flat fake, the
    # filled hole must be the ramp itself, whatever the fake's level.
    h, w = 12, 14
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")
    ramp = (0.05 * xx - 0.03 * yy + 0.1).float()
    image = ramp.expand(1, 3, h, w).clone()
    mask = torch.ones(1, 1, h, w)
    mask[..., 3:9, 4:11] = 0
    fake = torch.full_like(image, -0.7)
    out = blend(fake, image, mask, method="poisson")
    torch.testing.assert_close(out, image, atol=1e-5, rtol=0)


def test_poisson_matches_a_hand_computed_case():
    # 3x3 image, one missing pixel in the centre: 4 f - (sum of known neighbours) = 4 g_c - (sum of g's neighbours)
    image = torch.zeros(1, 1, 3, 3)
    image[0, 0, 0, 1], image[0, 0, 1, 0], image[0, 0, 1, 2], image[0, 0, 2, 1] = 0.1, 0.2, 0.3, 0.4
    fake = torch.zeros(1, 1, 3, 3)
    fake[0, 0, 1, 1], fake[0, 0, 0, 1] = 0.5, 0.1
    mask = torch.ones(1, 1, 3, 3)
    mask[0, 0, 1, 1] = 0
    out = blend(fake, image, mask, method="poisson")
    # f = ((0.1 + 0.2 + 0.3 + 0.4) + (4 * 0.5 - 0.1)) / 4 = 0.725
    assert abs(out[0, 0, 1, 1].item() - 0.725) < 1e-6
    assert torch.equal(out[mask.expand_as(out) > 0.5], image[mask.expand_as(image) > 0.5])
