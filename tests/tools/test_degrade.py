"""Degradations: kernels are proper blur kernels, every kind blurs, seeds fix everything, codecs behave."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tools.restoration import blur_kernels, degrade, noise_and_jpeg

CLEAN = degrade.DegradationRecipe(noise_prob=0.0, jpeg_prob=0.0, upscale_blur_prob=0.0)


def _texture(n: int = 2, size: int = 48, seed: int = 0) -> torch.Tensor:
    """A sharp test batch: random blocks plus fine stripes (lots of high frequencies)."""
    g = torch.Generator().manual_seed(seed)
    blocks = torch.rand(n, 3, size // 8, size // 8, generator=g).repeat_interleave(8, -1).repeat_interleave(8, -2)
    stripes = (torch.arange(size) % 4 < 2).float().view(1, 1, 1, size)
    return (0.7 * blocks + 0.3 * stripes).clamp(0, 1)


def _gradient_energy(x: torch.Tensor) -> float:
    return float((x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (x[..., :, 1:] - x[..., :, :-1]).abs().mean())


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return 10 * math.log10(1 / max(float(((a - b) ** 2).mean()), 1e-12))


@pytest.mark.parametrize("maker", [blur_kernels.shake_kernels, blur_kernels.linear_kernels,
                                   blur_kernels.defocus_kernels, blur_kernels.gaussian_kernels])
def test_kernels_are_normalised_centred_and_non_negative(maker):
    kernels = maker(6, 21, torch.Generator().manual_seed(1), 3.0, 12.0)
    assert kernels.shape == (6, 21, 21)
    assert kernels.min() >= 0
    assert torch.allclose(kernels.sum(dim=(1, 2)), torch.ones(6), atol=1e-5)
    axis = torch.arange(21.0)
    centre_y = (kernels.sum(2) * axis).sum(1)
    centre_x = (kernels.sum(1) * axis).sum(1)
    assert torch.allclose(centre_y, torch.full((6,), 10.0), atol=0.75)
    assert torch.allclose(centre_x, torch.full((6,), 10.0), atol=0.75)
    assert (kernels > 1e-3).sum(dim=(1, 2)).min() > 1  # really a blur, not a delta


def test_linear_kernel_length_matches_request():
    kernels = blur_kernels.linear_kernels(1, 31, torch.Generator().manual_seed(0), 15.0, 15.0)
    rows, cols = (kernels[0] > 1e-3).nonzero(as_tuple=True)
    extent = math.hypot(int(rows.max() - rows.min()), int(cols.max() - cols.min()))
    assert 13 <= extent <= 17


def test_delta_kernel_leaves_image_unchanged():
    images = _texture()
    out = blur_kernels.blur(images, blur_kernels.delta_kernels(2, 9, "cpu"))
    assert torch.allclose(out, images, atol=1e-6)


def test_blur_keeps_flat_images_flat():
    flat = torch.full((2, 3, 32, 32), 0.4)
    kernels = blur_kernels.shake_kernels(2, 15, torch.Generator().manual_seed(0), 5.0, 12.0)
    assert torch.allclose(blur_kernels.blur(flat, kernels), flat, atol=1e-5)


@pytest.mark.parametrize("kind", [kind for kind in degrade.KINDS if kind != "clean"])
def test_every_kind_removes_detail_and_keeps_shape(kind):
    images = _texture()
    out = degrade.apply(kind, images, torch.Generator().manual_seed(3), CLEAN)
    assert out.shape == images.shape
    assert out.min() >= 0 and out.max() <= 1
    assert _gradient_energy(out) < 0.85 * _gradient_energy(images)


def test_a_clean_sample_is_the_photo_stored_as_8_bit():
    images = _texture()
    out = degrade.apply("clean", images, torch.Generator().manual_seed(3), CLEAN)
    assert torch.equal(out, (images * 255).round() / 255)


@pytest.mark.parametrize("size", [(37, 53), (12, 12), (1, 5)])
@pytest.mark.parametrize("factor", [2, 3, 4])
def test_lanczos_enlargement_matches_pillow_on_float_planes(size, factor):
    from PIL import Image

    plane = np.random.default_rng(factor).random(size).astype(np.float32)
    expected = np.asarray(Image.fromarray(plane, "F").resize((size[1] * factor, size[0] * factor),
                                                            Image.Resampling.LANCZOS))
    got = degrade.lanczos_enlarge(torch.from_numpy(plane)[None, None], factor)[0, 0].numpy()
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() < 1e-5


def test_the_enlargement_input_is_made_as_the_restore_path_makes_it():
    """Reduced by the factor, stored as 8-bit, then enlarged by Lanczos and clipped, as imageio.Source does."""
    images = _texture(2, 48)
    for factor in (2, 3, 4):
        out = degrade.restore_path_input(images, factor)
        small = torch.nn.functional.interpolate(images, size=(48 // factor, 48 // factor), mode="bicubic",
                                                antialias=True, align_corners=False).clamp(0, 1)
        levels = (small * 255).round()
        assert torch.allclose(out, degrade.lanczos_enlarge(levels / 255, factor).clamp(0, 1), atol=1e-6)
        assert out.shape == images.shape


def test_same_seed_same_degradation_other_seed_another():
    images = _texture(4)
    a, kinds_a = degrade.degrade(images, torch.Generator().manual_seed(5))
    b, kinds_b = degrade.degrade(images, torch.Generator().manual_seed(5))
    c, _ = degrade.degrade(images, torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and kinds_a == kinds_b
    assert not torch.equal(a, c)
    assert set(kinds_a) <= set(degrade.KINDS)


def test_recipe_weights_choose_the_kinds():
    only_defocus = degrade.DegradationRecipe(weights={"defocus": 1.0})
    _, kinds = degrade.degrade(_texture(3), torch.Generator().manual_seed(0), only_defocus)
    assert kinds == ["defocus"] * 3


def test_larger_enlargement_loses_more():
    images = _texture(2, 96)
    scores = [_psnr(degrade.upscaled(images, factor), images) for factor in (2, 3, 4)]
    assert scores[0] > scores[1] > scores[2]


def test_frames_without_motion_return_the_image():
    still = degrade.DegradationRecipe(min_blur=0.0, max_blur=0.0, noise_prob=0.0, jpeg_prob=0.0)
    images = _texture()
    out = degrade.frame_average(images, torch.Generator().manual_seed(0), still)
    assert _psnr(out, images) > 40


def test_jpeg_quality_orders_the_error():
    images = _texture(1, 64)
    high = noise_and_jpeg.jpeg(images, torch.tensor([95]))
    low = noise_and_jpeg.jpeg(images, torch.tensor([10]))
    assert high.shape == images.shape
    assert _psnr(high, images) > _psnr(low, images) + 5
    assert _psnr(high, images) > 30


def test_noise_strength_follows_sigma():
    flat = torch.full((2, 3, 64, 64), 0.5)
    noisy = noise_and_jpeg.add_noise(flat, torch.tensor([0.0, 0.02]), torch.Generator().manual_seed(0))
    assert torch.equal(noisy[0], flat[0])
    assert 0.01 < float((noisy[1] - flat[1]).std()) < 0.04


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown degradation"):
        degrade.apply("smear", _texture(), torch.Generator(), CLEAN)


def test_example_image_is_blurred_scene():
    from tools.restoration import readme_example, synthdata

    sharp, blurry = readme_example.example_pair()
    assert sharp.shape == blurry.shape == (320, 480, 3)
    assert np.abs(sharp.astype(int) - blurry.astype(int)).mean() > 3
    assert _gradient_energy(synthdata.to_tensor(blurry)) < 0.7 * _gradient_energy(synthdata.to_tensor(sharp))


@pytest.mark.parametrize("name", sorted(degrade.RECIPES))
def test_every_recipe_draws_known_kinds_within_its_blur_range(name):
    recipe = degrade.RECIPES[name]
    assert set(recipe.weights) <= set(degrade.KINDS) and sum(recipe.weights.values()) == pytest.approx(1.0)
    assert 0 < recipe.min_blur < recipe.max_blur and recipe.kernel_size() % 2 == 1
    assert recipe.kernel_size() >= recipe.max_blur + 2  # the longest blur fits inside its kernel
    images = _texture(4)
    out, kinds = degrade.degrade(images, torch.Generator().manual_seed(1), recipe)
    assert out.shape == images.shape and out.min() >= 0 and out.max() <= 1
    assert set(kinds) <= set(recipe.weights)
