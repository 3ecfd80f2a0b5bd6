"""Image quality figures: PSNR and SSIM against a reference, and a no-reference sharpness figure.

Inputs are PIL images or arrays (H, W, 3) / (H, W) in [0, 255]; figures are on the 0..255 scale, on the Y (luma)
channel by default as deblurring papers report them, or over RGB.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image
from pydantic import BaseModel, Field, field_serializer

from tools.errors import UsageError

_Y_WEIGHTS = np.array([65.481, 128.553, 24.966], dtype=np.float64) / 255.0  # ITU-R BT.601, offset 16 dropped
SSIM_WINDOW = 11  # pixels: the 11x11 Gaussian window of Wang et al. 2004


def _as_array(image: Image.Image | np.ndarray) -> np.ndarray:
    if isinstance(image, Image.Image):
        if image.mode == "I;16":
            return np.asarray(image, dtype=np.float64) / 257.0
        image = image.convert("RGB") if image.mode not in ("L", "RGB") else image
    return np.asarray(image, dtype=np.float64)


def _channels(image: Image.Image | np.ndarray, channel: str) -> np.ndarray:
    """(H, W, C) float64 on 0..255: C=1 for 'y', 3 for 'rgb'."""
    array = _as_array(image)
    if array.ndim == 2:  # gray: its Y is what an RGB image with R=G=B would give
        return (array * (_Y_WEIGHTS.sum()) + 16.0)[..., None] if channel == "y" else array[..., None]
    array = array[..., :3]
    if channel == "y":
        return (array @ _Y_WEIGHTS + 16.0)[..., None]
    if channel == "rgb":
        return array
    raise UsageError(f"unknown channel '{channel}': use 'y' or 'rgb'")


def _pair(a, b, channel: str) -> tuple[np.ndarray, np.ndarray]:
    x, y = _channels(a, channel), _channels(b, channel)
    if x.shape[:2] != y.shape[:2]:
        raise UsageError(
            f"image sizes differ ({x.shape[1]}x{x.shape[0]} vs {y.shape[1]}x{y.shape[0]}): "
            "compare against a reference of the output's size"
        )
    if x.shape[2] != y.shape[2]:
        x, y = _channels(a, "y"), _channels(b, "y")
    return x, y


def psnr(a: Image.Image | np.ndarray, b: Image.Image | np.ndarray, channel: str = "y") -> float:
    """Peak signal-to-noise ratio in dB (inf for identical images)."""
    x, y = _pair(a, b, channel)
    mse = float(np.mean((x - y) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


def _gaussian_blur(array: np.ndarray, sigma: float = 1.5, radius: int = 5) -> np.ndarray:
    """Separable Gaussian filter over axes 0 and 1, 'valid' mode: (H-2r, W-2r, C)."""
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    height, width = array.shape[:2]
    rows = sum(t * array[i:height - 2 * radius + i] for i, t in enumerate(taps))
    return sum(t * rows[:, i:width - 2 * radius + i] for i, t in enumerate(taps))


def ssim(a: Image.Image | np.ndarray, b: Image.Image | np.ndarray, channel: str = "y") -> float:
    """Structural similarity (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5), averaged over channels."""
    x, y = _pair(a, b, channel)
    if min(x.shape[:2]) < SSIM_WINDOW:
        raise UsageError(f"SSIM needs images of at least {SSIM_WINDOW}x{SSIM_WINDOW} pixels: compare larger images")
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_x, mu_y = _gaussian_blur(x), _gaussian_blur(y)
    var_x = _gaussian_blur(x * x) - mu_x**2
    var_y = _gaussian_blur(y * y) - mu_y**2
    cov = _gaussian_blur(x * y) - mu_x * mu_y
    index = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return float(index.mean())


def sharpness(image: Image.Image | np.ndarray) -> float:
    """Variance of the Laplacian of the luma (higher is sharper; compare an image with itself before/after)."""
    luma = _channels(image, "y")[..., 0]
    if min(luma.shape) < 3:
        return 0.0
    laplacian = (luma[:-2, 1:-1] + luma[2:, 1:-1] + luma[1:-1, :-2] + luma[1:-1, 2:] - 4.0 * luma[1:-1, 1:-1])
    return float(laplacian.var())


class Assessment(BaseModel):
    """Figures printed after a restoration: against a reference when one is given, else no-reference sharpness."""

    reference: str | None = Field(None, description="Reference image the output was compared with.")
    psnr_y: float | None = Field(None, description="PSNR of the output against the reference, Y channel, dB; "
                                                   "infinite (null in JSON) when the two are identical.")
    ssim_y: float | None = Field(None, description="SSIM of the output against the reference, Y channel.")
    input_psnr_y: float | None = Field(None, description="PSNR of the (enlarged) input against the reference; "
                                                         "infinite (null in JSON) when the two are identical.")
    sharpness_input: float = Field(description="Variance of the Laplacian of the input (Lanczos-enlarged to the "
                                               "output size when scale > 1).")
    sharpness_output: float = Field(description="Variance of the Laplacian of the output.")

    @field_serializer("psnr_y", "input_psnr_y", when_used="json")
    def _finite(self, value: float | None) -> float | None:
        """JSON has no Infinity: identical images (infinite PSNR) give null, as no reference does."""
        return value if value is not None and math.isfinite(value) else None


def assess(original: Image.Image, restored: Image.Image, reference: Image.Image | None = None,
           reference_name: str | None = None) -> Assessment:
    """Sharpness before/after, plus PSNR/SSIM (and the input's PSNR, as a baseline) when a reference is given."""
    baseline = original
    if baseline.size != restored.size:
        baseline = baseline.convert("RGB").resize(restored.size, Image.Resampling.LANCZOS)
    result = Assessment(sharpness_input=sharpness(baseline), sharpness_output=sharpness(restored))
    if reference is not None:
        result.reference = reference_name
        result.psnr_y, result.ssim_y = psnr(restored, reference), ssim(restored, reference)
        result.input_psnr_y = psnr(baseline, reference)
    return result


def check_reference(reference: Path, source: Path, scale: int, max_pixels: int) -> None:
    """Refuse, before any work, a reference whose size differs from the output's (input size times scale), or an
    output too small for SSIM."""
    from tools.restoration.imageio import open_image

    expected = tuple(side * scale for side in open_image(source, max_pixels).size)
    if min(expected) < SSIM_WINDOW:
        raise UsageError(f"the output will be {expected[0]}x{expected[1]}, smaller than the {SSIM_WINDOW}x{SSIM_WINDOW} "
                         "pixels SSIM needs: compare a larger image, or restore without a reference")
    size = open_image(reference, max_pixels).size
    if size != expected:
        raise UsageError(f"reference {reference} is {size[0]}x{size[1]} but the output will be "
                         f"{expected[0]}x{expected[1]}: compare against a reference of the output's size")
