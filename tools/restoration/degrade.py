"""Degradations made on the fly, in torch, so they run on GPU batches as well as on the CPU.

Every function takes a batch `(B, 3, H, W)` of floats in [0, 1] and a `torch.Generator` that lives on the batch's
device, so a seed fixes every random choice. The kinds match what users bring: camera shake (random trajectories),
linear motion, defocus, Gaussian blur, object motion in front of a still or shaking background, spatially varying
blur, blur made by averaging warped frames (like GoPro, which averages high-speed video frames), and "upscaled"
inputs (antialiased downscale by 2, 3 or 4, then interpolated back) for the enlarge-then-refine workflow. Mild noise
and JPEG come last, as in a camera pipeline.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from pydantic import BaseModel, Field

KINDS = ("shake", "linear", "defocus", "gaussian", "object", "varying", "frames", "upscale", "enlarge", "clean")
BLUR_KINDS = KINDS[:7]
_GAMMA = 2.2  # frames are averaged in (approximately) linear light, as a sensor integrates them


class DegradationRecipe(BaseModel):
    """How often each degradation is drawn and how strong it may be."""

    weights: dict[str, float] = Field(
        default_factory=lambda: {"shake": 0.24, "linear": 0.1, "defocus": 0.1, "gaussian": 0.04, "object": 0.1,
                                 "varying": 0.08, "frames": 0.12, "upscale": 0.22},
        description="Relative frequency of each kind in KINDS.",
    )
    max_blur: float = Field(15.0, description="Largest blur extent in pixels (trajectory length, 2 x disc radius).")
    min_blur: float = Field(3.0, description="Smallest blur extent in pixels.")
    upscale_factors: tuple[int, ...] = Field((2, 3, 4), description="Enlargement factors for the 'upscale' kind.")
    upscale_blur_prob: float = Field(0.3, description="Chance that an 'upscale' input was also mildly blurred.")
    noise_prob: float = Field(0.5, description="Chance of Gaussian noise.")
    noise_max: float = Field(0.02, description="Largest noise standard deviation (images in [0, 1]).")
    jpeg_prob: float = Field(0.3, description="Chance of JPEG compression.")
    jpeg_quality: tuple[int, int] = Field((60, 95), description="JPEG quality range.")

    def kernel_size(self) -> int:
        return 2 * math.ceil(self.max_blur / 2) + 3


RECIPES: dict[str, DegradationRecipe] = {
    "users": DegradationRecipe(),
    "deblur": DegradationRecipe(weights={"shake": 0.35, "linear": 0.15, "defocus": 0.15, "gaussian": 0.05,
                                         "object": 0.1, "varying": 0.1, "frames": 0.1}),
    "upscale": DegradationRecipe(weights={"upscale": 1.0}),
    # Real photographs as users bring them: enlargement inputs made as the restore path makes them (bicubic-reduced
    # 8-bit files, Lanczos back up), blur as it happens in cameras, and sharp photos that must pass unharmed.
    "photos": DegradationRecipe(
        weights={"enlarge": 0.4, "shake": 0.16, "object": 0.08, "frames": 0.08, "defocus": 0.08, "linear": 0.05,
                 "varying": 0.05, "clean": 0.1},
        max_blur=13.0, min_blur=2.0, upscale_blur_prob=0.0, noise_prob=0.3, noise_max=0.01, jpeg_prob=0.2,
        jpeg_quality=(75, 95)),
    # For small crops (64-128 px, CPU runs): the same cases, blur extents scaled to the crop.
    "users-small": DegradationRecipe(
        weights={"shake": 0.3, "linear": 0.1, "defocus": 0.12, "gaussian": 0.05, "object": 0.05, "varying": 0.05,
                 "frames": 0.08, "upscale": 0.25}, max_blur=9.0, min_blur=2.0),
}


def _uniform(n: int, low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator, device=generator.device)


def _normal(shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    return torch.randn(shape, generator=generator, device=generator.device)


# --- kernels: (N, K, K), non-negative, summing to 1, centred on their centre of mass ---

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
    impulses = _normal((n, steps, dims), generator)
    jerks = (torch.rand(n, steps, 1, generator=generator, device=generator.device) < 0.05).float()
    impulses = impulses * (1 + 6 * jerks)
    inertia = _uniform(n, 0.6, 0.95, generator).view(n, 1)
    velocity = _normal((n, dims), generator) * 2  # a drift, so paths are not pure jitter
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
    extent = _uniform(n, low, high, generator)
    path = shake_trajectories(n, extent, generator)  # (N, 64, 2)
    # Densify so that fast jerks still draw a continuous streak: (N, 256, 2).
    dense = F.interpolate(path.transpose(1, 2), scale_factor=4, mode="linear", align_corners=True).transpose(1, 2)
    return rasterize(dense, size)


def linear_kernels(n: int, size: int, generator: torch.Generator, low: float, high: float) -> torch.Tensor:
    length = _uniform(n, low, high, generator)
    angle = _uniform(n, 0, math.pi, generator)
    t = torch.linspace(-0.5, 0.5, 4 * size, device=generator.device).view(1, -1)
    direction = torch.stack([angle.cos(), angle.sin()], dim=-1)  # (N, 2)
    points = (t * length.view(n, 1)).unsqueeze(-1) * direction.view(n, 1, 2)
    return rasterize(points, size)


def defocus_kernels(n: int, size: int, generator: torch.Generator, low: float, high: float) -> torch.Tensor:
    """Antialiased discs of diameter in [low, high]."""
    radius = _uniform(n, low / 2, high / 2, generator).view(n, 1, 1)
    axis = torch.arange(size, device=generator.device, dtype=torch.float32) - (size - 1) / 2
    distance = (axis.view(1, -1, 1) ** 2 + axis.view(1, 1, -1) ** 2).sqrt()
    kernels = (radius + 0.5 - distance).clamp(0, 1)
    return kernels / kernels.sum(dim=(1, 2), keepdim=True)


def gaussian_kernels(n: int, size: int, generator: torch.Generator, low: float, high: float) -> torch.Tensor:
    """Anisotropic Gaussians with standard deviations in [low/4, high/4] along a random angle."""
    sx = _uniform(n, low / 4, high / 4, generator).view(n, 1, 1)
    sy = sx * _uniform(n, 0.4, 1.0, generator).view(n, 1, 1)
    angle = _uniform(n, 0, math.pi, generator).view(n, 1, 1)
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


def _smooth_field(n: int, h: int, w: int, generator: torch.Generator, cells: int = 3) -> torch.Tensor:
    """A smooth random map (N, 1, H, W) in (0, 1): coarse noise, bicubic-upsampled."""
    coarse = _normal((n, 1, cells, cells), generator) * 2.5
    return torch.sigmoid(F.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=True))


def _blob_masks(n: int, h: int, w: int, generator: torch.Generator) -> torch.Tensor:
    """Soft ellipses (N, 1, H, W): a moving object's silhouette."""
    cy = _uniform(n, 0.2, 0.8, generator).view(n, 1, 1) * h
    cx = _uniform(n, 0.2, 0.8, generator).view(n, 1, 1) * w
    ry = _uniform(n, 0.15, 0.45, generator).view(n, 1, 1) * h
    rx = _uniform(n, 0.15, 0.45, generator).view(n, 1, 1) * w
    angle = _uniform(n, 0, math.pi, generator).view(n, 1, 1)
    y = torch.arange(h, device=generator.device, dtype=torch.float32).view(1, -1, 1) - cy
    x = torch.arange(w, device=generator.device, dtype=torch.float32).view(1, 1, -1) - cx
    u = (x * angle.cos() + y * angle.sin()) / rx
    v = (-x * angle.sin() + y * angle.cos()) / ry
    return (1.5 - 1.5 * (u**2 + v**2)).clamp(0, 1).unsqueeze(1)


def object_motion(images: torch.Tensor, generator: torch.Generator, recipe: DegradationRecipe) -> torch.Tensor:
    """A moving object (linear motion) over a background that is still or mildly shaken."""
    b, _, h, w = images.shape
    k = recipe.kernel_size()
    fg = linear_kernels(b, k, generator, recipe.min_blur, recipe.max_blur)
    bg_shaken = shake_kernels(b, k, generator, 1.0, max(1.5, recipe.max_blur / 4))
    still = torch.rand(b, generator=generator, device=generator.device) < 0.5
    bg = torch.where(still.view(b, 1, 1), delta_kernels(b, k, images.device), bg_shaken)
    mask = blur(_blob_masks(b, h, w, generator), fg)  # the object's footprint smears with its motion
    return blur(images, fg) * mask + blur(images, bg) * (1 - mask)


def spatially_varying(images: torch.Tensor, generator: torch.Generator, recipe: DegradationRecipe) -> torch.Tensor:
    """Two shake kernels blended by a smooth random map: blur that changes across the frame."""
    b, _, h, w = images.shape
    k = recipe.kernel_size()
    first = shake_kernels(b, k, generator, recipe.min_blur, recipe.max_blur)
    second = shake_kernels(b, k, generator, 1.0, recipe.max_blur)
    weight = _smooth_field(b, h, w, generator)
    return blur(images, first) * weight + blur(images, second) * (1 - weight)


def frame_average(images: torch.Tensor, generator: torch.Generator, recipe: DegradationRecipe,
                  frames: int = 13) -> torch.Tensor:
    """Average `frames` copies warped along a shake path of translation, rotation and zoom, in linear light.

    Rotation and zoom make the blur vary across the frame, as a real camera's does.
    """
    b, _, h, w = images.shape
    extent = _uniform(b, recipe.min_blur, recipe.max_blur, generator)
    path = shake_trajectories(b, extent, generator, steps=frames, dims=4)  # (B, frames, 4) pixels
    half = max(h, w) / 2
    shift = path[..., :2] * torch.tensor([2 / w, 2 / h], device=images.device)  # normalised coordinates
    angle = path[..., 2] / half * _uniform(b, 0, 1, generator).view(b, 1)  # edge moves <= extent px
    zoom = 1 + path[..., 3] / half * _uniform(b, 0, 0.5, generator).view(b, 1)
    linear = images.clamp(0, 1) ** _GAMMA
    total = torch.zeros_like(images)
    for t in range(frames):
        cos, sin = angle[:, t].cos() / zoom[:, t], angle[:, t].sin() / zoom[:, t]
        theta = torch.stack([torch.stack([cos, -sin, shift[:, t, 0]], -1),
                             torch.stack([sin, cos, shift[:, t, 1]], -1)], dim=1)  # (B, 2, 3)
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        total = total + F.grid_sample(linear, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    return (total / frames).clamp_min(0) ** (1 / _GAMMA)


def upscaled(images: torch.Tensor, factor: int, generator: torch.Generator | None = None,
             recipe: DegradationRecipe | None = None) -> torch.Tensor:
    """Downscale by `factor` with antialiasing (optionally after mild blur, with noise/JPEG at the low resolution),
    then bicubic-interpolate back to the original size: the input of the enlarge-then-refine workflow."""
    b, _, h, w = images.shape
    if generator is not None and recipe is not None and recipe.upscale_blur_prob > 0:
        k = recipe.kernel_size()
        soft = gaussian_kernels(b, k, generator, 1.0, 4.0)
        chosen = torch.rand(b, generator=generator, device=generator.device) < recipe.upscale_blur_prob
        images = torch.where(chosen.view(b, 1, 1, 1), blur(images, soft), images)
    small = F.interpolate(images, size=(max(1, round(h / factor)), max(1, round(w / factor))), mode="bicubic",
                          antialias=True, align_corners=False).clamp(0, 1)  # (B, 3, H/f, W/f)
    if generator is not None and recipe is not None:
        small = camera_noise(small, generator, recipe)
    return F.interpolate(small, size=(h, w), mode="bicubic", align_corners=False).clamp(0, 1)


def _lanczos3(x: torch.Tensor) -> torch.Tensor:
    """The Lanczos window of support 3: sinc(x) * sinc(x / 3) inside |x| < 3."""
    return torch.where(x.abs() < 3, torch.sinc(x) * torch.sinc(x / 3), torch.zeros_like(x))


def lanczos_matrix(size: int, factor: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """(size * factor, size) weights that enlarge one axis exactly as Pillow's LANCZOS resize does.

    Written out because torch has no Lanczos mode and the restore path enlarges with Pillow: Pillow centres output
    pixel i at (i + 0.5) / factor, takes the input pixels whose centres lie within 3 of it (the window is cut, not
    mirrored, at the border) and normalises the weights to sum to 1.
    """
    out = torch.arange(size * factor, dtype=torch.float64, device=device)
    centre = (out + 0.5) / factor  # (O,)
    first = (centre - 3 + 0.5).floor().clamp_min(0)
    last = (centre + 3 + 0.5).floor().clamp_max(size)
    taps = torch.arange(size, dtype=torch.float64, device=device)  # (I,)
    inside = (taps[None] >= first[:, None]) & (taps[None] < last[:, None])
    weights = torch.where(inside, _lanczos3(taps[None] - centre[:, None] + 0.5), torch.zeros(1, dtype=torch.float64,
                                                                                           device=device))
    return (weights / weights.sum(dim=1, keepdim=True)).float()


def lanczos_enlarge(images: torch.Tensor, factor: int) -> torch.Tensor:
    """(B, C, h, w) -> (B, C, h * factor, w * factor), matching Pillow's LANCZOS on float planes (no clamping)."""
    _, _, h, w = images.shape
    rows = lanczos_matrix(h, factor, images.device)  # (H, h)
    cols = lanczos_matrix(w, factor, images.device)  # (W, w)
    return rows @ images @ cols.T


def quantize8(images: torch.Tensor) -> torch.Tensor:
    """Round to the 256 levels of an 8-bit file, as saving and reopening a photo does."""
    return (images.clamp(0, 1) * 255).round() / 255


def restore_path_input(images: torch.Tensor, factor: int, generator: torch.Generator | None = None,
                       recipe: DegradationRecipe | None = None) -> torch.Tensor:
    """The enlargement input exactly as `cnaps restore --scale` makes it from a small photo.

    The small photo is the sharp crop reduced by `factor` with antialiased bicubic (as the BSD100 and Urban100
    low-resolution files were made), with the recipe's noise/JPEG at its own size, stored as 8-bit; the restore
    path then enlarges it with Lanczos and clips to [0, 1]. `(B, 3, H, W)` with H and W multiples of `factor` ->
    the same shape.
    """
    b, _, h, w = images.shape
    small = F.interpolate(images, size=(h // factor, w // factor), mode="bicubic", antialias=True,
                          align_corners=False).clamp(0, 1)  # (B, 3, H/f, W/f)
    if generator is not None and recipe is not None:
        small = camera_noise(small, generator, recipe)
    return lanczos_enlarge(quantize8(small), factor).clamp(0, 1)


# --- sensor and codec ---

def add_noise(images: torch.Tensor, sigma: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Gaussian noise with a per-image standard deviation sigma (B,), mostly luminance, some chroma."""
    b, c, h, w = images.shape
    luma = _normal((b, 1, h, w), generator)
    chroma = _normal((b, c, h, w), generator)
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


def camera_noise(images: torch.Tensor, generator: torch.Generator, recipe: DegradationRecipe) -> torch.Tensor:
    """Noise, then JPEG, each with the recipe's probability."""
    b = images.shape[0]
    rand = torch.rand(b, 3, generator=generator, device=generator.device)
    sigma = rand[:, 1] * recipe.noise_max * (rand[:, 0] < recipe.noise_prob).float()
    images = add_noise(images, sigma, generator)
    lo, hi = recipe.jpeg_quality
    quality = _uniform(b, lo, hi, generator).round()
    chosen = rand[:, 2] < recipe.jpeg_prob
    if bool(chosen.any()):
        images = torch.where(chosen.view(b, 1, 1, 1), jpeg(images, quality), images)
    return images


# --- the whole degradation ---

def _kernel_blur(kind: str, images: torch.Tensor, generator: torch.Generator,
                 recipe: DegradationRecipe) -> torch.Tensor:
    makers = {"shake": shake_kernels, "linear": linear_kernels, "defocus": defocus_kernels,
              "gaussian": gaussian_kernels}
    kernels = makers[kind](images.shape[0], recipe.kernel_size(), generator, recipe.min_blur, recipe.max_blur)
    return blur(images, kernels)


def apply(kind: str, images: torch.Tensor, generator: torch.Generator, recipe: DegradationRecipe,
          factor: int | None = None) -> torch.Tensor:
    """Degrade a whole batch with one kind (noise and JPEG included). `factor` fixes the 'upscale' factor."""
    if kind not in KINDS:
        raise ValueError(f"unknown degradation '{kind}': use one of {', '.join(KINDS)}")
    if kind == "upscale":
        if factor is not None:
            return upscaled(images, factor, generator, recipe)
        choice = torch.randint(len(recipe.upscale_factors), (images.shape[0],), generator=generator,
                               device=generator.device).cpu()
        out = torch.empty_like(images)
        for index, each in enumerate(recipe.upscale_factors):
            rows = (choice == index).nonzero().flatten().to(images.device)
            if len(rows):
                out[rows] = upscaled(images[rows], each, generator, recipe)
        return out
    if kind == "enlarge":
        factors = recipe.upscale_factors if factor is None else (factor,)
        choice = torch.randint(len(factors), (1,), generator=generator, device=generator.device).item()
        return restore_path_input(images, factors[choice], generator, recipe)
    if kind == "clean":  # a sharp photo must come back as it is (noise/JPEG aside): the network must not harm it
        return quantize8(camera_noise(images, generator, recipe))
    if kind == "object":
        out = object_motion(images, generator, recipe)
    elif kind == "varying":
        out = spatially_varying(images, generator, recipe)
    elif kind == "frames":
        out = frame_average(images, generator, recipe)
    else:
        out = _kernel_blur(kind, images, generator, recipe)
    return camera_noise(out.clamp(0, 1), generator, recipe)


def degrade(images: torch.Tensor, generator: torch.Generator,
            recipe: DegradationRecipe | None = None) -> tuple[torch.Tensor, list[str]]:
    """Degrade each image of a batch (B, 3, H, W) with a kind drawn from the recipe's weights.

    Returns the degraded batch (same shape, in [0, 1]) and the kind used for each image. Images of one kind are
    processed together, so a GPU batch costs a handful of kernel launches per kind.
    """
    recipe = recipe or RECIPES["users"]
    names = [name for name in KINDS if recipe.weights.get(name, 0) > 0]
    weights = torch.tensor([recipe.weights[name] for name in names], device=generator.device)
    choice = torch.multinomial(weights, images.shape[0], replacement=True, generator=generator).cpu()
    out = torch.empty_like(images)
    kinds = [names[int(i)] for i in choice]
    for index, name in enumerate(names):
        rows = (choice == index).nonzero().flatten().to(images.device)
        if len(rows):
            out[rows] = apply(name, images[rows], generator, recipe)
    return out, kinds
