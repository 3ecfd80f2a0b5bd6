"""The sensor and the codec: Gaussian noise and a simulated baseline JPEG, in torch on any device."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from tools.restoration.random_draws import normal


def add_noise(images: torch.Tensor, sigma: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Gaussian noise with a per-image standard deviation sigma (B,), mostly luminance, some chroma."""
    b, c, h, w = images.shape
    luma = normal((b, 1, h, w), generator)
    chroma = normal((b, c, h, w), generator)
    noise = (0.8 * luma + 0.6 * chroma) * sigma.view(b, 1, 1, 1)
    return (images + noise.to(images.dtype)).clamp(0, 1)


_LUMA_TABLE = [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
               14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
               49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99]
_CHROMA_TABLE = [17, 18, 24, 47] + [99] * 4 + [18, 21, 26, 66] + [99] * 4 + [24, 26, 56] + [99] * 5 + [47, 66] + [
    99] * 38


def _dct_matrix(device: torch.device) -> torch.Tensor:
    n = torch.arange(8, device=device, dtype=torch.float32)
    matrix = torch.cos((2 * n.view(1, -1) + 1) * n.view(-1, 1) * math.pi / 16) * math.sqrt(2 / 8)
    matrix[0] /= math.sqrt(2)
    return matrix  # orthonormal DCT-II, (8, 8)


def jpeg(images: torch.Tensor, quality: torch.Tensor) -> torch.Tensor:
    """Simulated baseline JPEG (YCbCr, 8x8 DCT, IJG quantisation tables, no chroma subsampling) at per-image
    quality (B,) in 1..100. Runs on any device; a stand-in for a real codec, close in its artefacts."""
    b, _, h, w = images.shape
    ph, pw = (-h) % 8, (-w) % 8
    x = F.pad(images, (0, pw, 0, ph), mode="replicate") * 255
    r, g, bl = x[:, 0], x[:, 1], x[:, 2]
    ycc = torch.stack([0.299 * r + 0.587 * g + 0.114 * bl,
                       -0.168736 * r - 0.331264 * g + 0.5 * bl + 128,
                       0.5 * r - 0.418688 * g - 0.081312 * bl + 128], dim=1) - 128
    hh, ww = ycc.shape[-2:]
    blocks = ycc.view(b, 3, hh // 8, 8, ww // 8, 8).permute(0, 1, 2, 4, 3, 5)  # (B, 3, H/8, W/8, 8, 8)
    dct = _dct_matrix(images.device)
    coeffs = dct @ blocks @ dct.T
    q = quality.float().clamp(1, 100).view(b, 1)
    scale = torch.where(q < 50, 5000 / q, 200 - 2 * q)  # IJG quality scaling
    tables = torch.tensor([_LUMA_TABLE, _CHROMA_TABLE, _CHROMA_TABLE], device=images.device, dtype=torch.float32)
    tables = ((tables.view(1, 3, 64) * scale.view(b, 1, 1) + 50) / 100).floor().clamp(1, 255)
    tables = tables.view(b, 3, 1, 1, 8, 8)
    blocks = dct.T @ (torch.round(coeffs / tables) * tables) @ dct
    ycc = blocks.permute(0, 1, 2, 4, 3, 5).reshape(b, 3, hh, ww) + 128
    y, cb, cr = ycc[:, 0], ycc[:, 1] - 128, ycc[:, 2] - 128
    rgb = torch.stack([y + 1.402 * cr, y - 0.344136 * cb - 0.714136 * cr, y + 1.772 * cb], dim=1) / 255
    return rgb[..., :h, :w].clamp(0, 1).to(images.dtype)
