"""Blur kernels drawn at random, and their convolution with a batch.

Kernels are (N, K, K), non-negative, summing to 1 and centred on their centre of mass: camera-shake trajectories,
linear motion, defocus discs, anisotropic Gaussians and the identity.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from tools.restoration.random_draws import normal, uniform


def rasterize(points: torch.Tensor, size: int) -> torch.Tensor:
    """Splat trajectories (N, T, 2) of (x, y) pixel offsets into (N, size, size) kernels, centred, bilinear."""
    n, steps, _ = points.shape
    points = points - points.mean(dim=1, keepdim=True) + (size - 1) / 2
    points = points.clamp(0, size - 1.001)
    base = points.floor()
    frac = points - base  # (N, T, 2)
    base = base.long()
    kernels = torch.zeros(n, size * size, device=points.device, dtype=points.dtype)
    for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):
        wx = frac[..., 0] if dx else 1 - frac[..., 0]
        wy = frac[..., 1] if dy else 1 - frac[..., 1]
        index = (base[..., 1] + dy) * size + base[..., 0] + dx  # (N, T)
        kernels.scatter_add_(1, index, wx * wy)
    kernels = kernels.view(n, size, size)
    return kernels / kernels.sum(dim=(1, 2), keepdim=True)


def shake_trajectories(n: int, extent: torch.Tensor, generator: torch.Generator, steps: int = 64,
                       dims: int = 2) -> torch.Tensor:
    """Random camera-shake paths (N, steps, dims): a damped random walk with occasional jerks, scaled so that the
    largest coordinate span equals `extent` (N,). In the spirit of Boracchi and Foi's trajectory model."""
    impulses = normal((n, steps, dims), generator)
    jerks = (torch.rand(n, steps, 1, generator=generator, device=generator.device) < 0.05).float()
    impulses = impulses * (1 + 6 * jerks)
    inertia = uniform(n, 0.6, 0.95, generator).view(n, 1)
    velocity = normal((n, dims), generator) * 2  # a drift, so paths are not pure jitter
    path = []
    position = torch.zeros(n, dims, device=generator.device)
    for step in range(steps):
        velocity = inertia * velocity + impulses[:, step]
        position = position + velocity
        path.append(position)
    points = torch.stack(path, dim=1)  # (N, steps, dims)
    span = (points.amax(dim=1) - points.amin(dim=1)).amax(dim=1).clamp_min(1e-6)  # (N,)
    return (points - points.mean(dim=1, keepdim=True)) * (extent / span).view(n, 1, 1)


def shake_kernels(n: int, size: int, generator: torch.Generator, low: float, high: float) -> torch.Tensor:
    extent = uniform(n, low, high, generator)
    path = shake_trajectories(n, extent, generator)  # (N, 64, 2)
    # Densify so that fast jerks still draw a continuous streak: (N, 256, 2).
    dense = F.interpolate(path.transpose(1, 2), scale_factor=4, mode="linear", align_corners=True).transpose(1, 2)
    return rasterize(dense, size)


def linear_kernels(n: int, size: int, generator: torch.Generator, low: float, high: float) -> torch.Tensor:
    length = uniform(n, low, high, generator)
    angle = uniform(n, 0, math.pi, generator)
    t = torch.linspace(-0.5, 0.5, 4 * size, device=generator.device).view(1, -1)
    direction = torch.stack([angle.cos(), angle.sin()], dim=-1)  # (N, 2)
    points = (t * length.view(n, 1)).unsqueeze(-1) * direction.view(n, 1, 2)
    return rasterize(points, size)


def defocus_kernels(n: int, size: int, generator: torch.Generator, low: float, high: float) -> torch.Tensor:
    """Antialiased discs of diameter in [low, high]."""
    radius = uniform(n, low / 2, high / 2, generator).view(n, 1, 1)
    axis = torch.arange(size, device=generator.device, dtype=torch.float32) - (size - 1) / 2
    distance = (axis.view(1, -1, 1) ** 2 + axis.view(1, 1, -1) ** 2).sqrt()
    kernels = (radius + 0.5 - distance).clamp(0, 1)
    return kernels / kernels.sum(dim=(1, 2), keepdim=True)


def gaussian_kernels(n: int, size: int, generator: torch.Generator, low: float, high: float) -> torch.Tensor:
    """Anisotropic Gaussians with standard deviations in [low/4, high/4] along a random angle."""
    sx = uniform(n, low / 4, high / 4, generator).view(n, 1, 1)
    sy = sx * uniform(n, 0.4, 1.0, generator).view(n, 1, 1)
    angle = uniform(n, 0, math.pi, generator).view(n, 1, 1)
    axis = torch.arange(size, device=generator.device, dtype=torch.float32) - (size - 1) / 2
    y, x = axis.view(1, -1, 1), axis.view(1, 1, -1)
    u = x * angle.cos() + y * angle.sin()
    v = -x * angle.sin() + y * angle.cos()
    kernels = torch.exp(-0.5 * ((u / sx) ** 2 + (v / sy) ** 2))
    return kernels / kernels.sum(dim=(1, 2), keepdim=True)


def delta_kernels(n: int, size: int, device: torch.device | str) -> torch.Tensor:
    kernels = torch.zeros(n, size, size, device=device)
    kernels[:, size // 2, size // 2] = 1
    return kernels


# --- applying blur ---

def blur(images: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    """Convolve each image (B, C, H, W) with its own kernel (B, K, K), reflect-padded; same size out."""
    b, c, h, w = images.shape
    k = kernels.shape[-1]
    pad = k // 2
    mode = "reflect" if pad < min(h, w) else "replicate"
    padded = F.pad(images.reshape(1, b * c, h, w), (pad, pad, pad, pad), mode=mode)
    weight = kernels.flip(-1, -2).repeat_interleave(c, dim=0).unsqueeze(1).to(images.dtype)  # (B*C, 1, K, K)
    return F.conv2d(padded, weight, groups=b * c).view(b, c, h, w)

