"""PSNR, SSIM and sharpness against known values and an independent implementation (scikit-image)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image, ImageFilter

from agent.errors import UsageError
from tools.restoration.metrics import assess, psnr, sharpness, ssim


def _texture(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:48, 0:64]
    base = 120 + 60 * np.sin(xx / 5.0) * np.cos(yy / 7.0)
    return np.clip(base[..., None] + rng.normal(0, 12, (48, 64, 3)), 0, 255).astype(np.uint8)


def test_psnr_known_values():
    a = _texture()
    assert psnr(a, a) == math.inf
    b = a.astype(np.int16)
    b = np.where(b < 255, b + 1, b - 1).astype(np.uint8)  # every value off by exactly 1
    assert psnr(a, b, channel="rgb") == pytest.approx(10 * math.log10(255**2), abs=1e-9)


def test_ssim_matches_scikit_image():
    structural_similarity = pytest.importorskip("skimage.metrics").structural_similarity
    a = _texture(0)
    b = np.asarray(Image.fromarray(a).filter(ImageFilter.GaussianBlur(1.2)))
    ours = ssim(a, b, channel="rgb")
    theirs = np.mean([structural_similarity(a[..., c].astype(float), b[..., c].astype(float), data_range=255,
                                            gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
                      for c in range(3)])
    assert ours == pytest.approx(theirs, abs=2e-3)
    assert ssim(a, a) == pytest.approx(1.0)
    assert ssim(a, b) < 0.95


def test_sharpness_drops_with_blur_and_assess_reports_both():
    image = Image.fromarray(_texture())
    blurred = image.filter(ImageFilter.GaussianBlur(2))
    assert sharpness(blurred) < 0.5 * sharpness(image)
    report = assess(blurred, image, reference=image, reference_name="ref")
    assert report.sharpness_output > report.sharpness_input and report.psnr_y == math.inf
    assert report.input_psnr_y < 40


def test_size_mismatch_is_a_usage_error():
    with pytest.raises(UsageError, match="sizes differ"):
        psnr(_texture(), _texture()[:10])
