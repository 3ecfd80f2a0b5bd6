"""Clean training images that need no download: sample photos shipped inside scikit-image and matplotlib, and
procedural scenes (dead leaves, text in DejaVu fonts, signs, thin lines, face-like shapes, textures; drawn by
`procedural_scenes`).

Scenes are rendered on the CPU once into a *bank* of uint8 tiles; batches are then cut from the bank on the
training device (random crops, flips, transposes, colour jitter), so a GPU is never waiting for PIL. The held-out
split (its own photos and its own procedural seed stream) is never used for training.
"""

from __future__ import annotations

from functools import lru_cache
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from tools.restoration.procedural_scenes import DRAWERS, SUPERSAMPLE

TRAIN_PHOTOS = ("skimage:astronaut", "skimage:camera", "skimage:hubble_deep_field", "skimage:retina",
                "skimage:immunohistochemistry", "skimage:brick", "skimage:grass", "skimage:gravel", "skimage:text",
                "skimage:page", "skimage:coins", "skimage:moon", "skimage:logo", "skimage:colorwheel",
                "skimage:cell", "skimage:checkerboard", "mpl:logo2.png", "mpl:Minduka_Present_Blue_Pack.png")
HELDOUT_PHOTOS = ("skimage:coffee", "skimage:rocket", "skimage:chelsea", "mpl:grace_hopper.jpg")
SCENES = ("photo", "dead_leaves", "text", "signs", "lines", "faces", "textures")
SCENE_WEIGHTS = (0.3, 0.15, 0.17, 0.12, 0.08, 0.08, 0.1)
_SPLITS = {"train": 0, "validation": 1, "heldout": 2}


# --- photos shipped in packages ---

def load_photo(name: str) -> np.ndarray:
    """A sample photo as uint8 (H, W, 3). `name` is 'skimage:<function>', 'mpl:<sample file>' or 'file:<path>'."""
    source, _, key = name.partition(":")
    if source == "file":
        with Image.open(key) as image:
            array = np.asarray(image.convert("RGB"))
    elif source == "skimage":
        from skimage import data

        array = np.asarray(getattr(data, key)())
    elif source == "mpl":
        import matplotlib

        path = Path(matplotlib.get_data_path()) / "sample_data" / key
        array = np.asarray(Image.open(path))
    else:
        raise ValueError(f"unknown photo source in '{name}': use 'skimage:', 'mpl:' or 'file:'")
    return _to_rgb8(array)


def _to_rgb8(array: np.ndarray) -> np.ndarray:
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    if array.dtype != np.uint8:
        array = (255 * (array.astype(np.float64) / max(1e-9, float(array.max())))).astype(np.uint8)
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    if array.shape[2] == 4:  # composite on white
        alpha = array[..., 3:4].astype(np.float32) / 255
        array = (array[..., :3] * alpha + 255 * (1 - alpha)).round().astype(np.uint8)
    return np.ascontiguousarray(array[..., :3])


@lru_cache(maxsize=None)
def _photo(name: str) -> np.ndarray:
    return load_photo(name)


def photo_crop(rng: np.random.Generator, size: int, names: tuple[str, ...]) -> np.ndarray:
    """A random (size, size, 3) crop of a randomly rescaled (0.5 to 1x, antialiased) photo."""
    image = Image.fromarray(_photo(names[rng.integers(len(names))]))
    scale = rng.uniform(0.5, 1.0)
    scale = max(scale, size / min(image.size))  # never smaller than the crop
    if scale < 1:
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.LANCZOS)
    array = np.asarray(image)
    if min(array.shape[:2]) < size:  # enlarging would blur the target: tile by reflection instead
        pad_h, pad_w = max(0, size - array.shape[0]), max(0, size - array.shape[1])
        array = np.pad(array, ((0, pad_h), (0, pad_w), (0, 0)), mode="reflect")
    y = rng.integers(array.shape[0] - size + 1)
    x = rng.integers(array.shape[1] - size + 1)
    return np.ascontiguousarray(array[y:y + size, x:x + size])


# --- scenes and banks ---

def render_scene(kind: str, rng: np.random.Generator, size: int, photos: tuple[str, ...] = TRAIN_PHOTOS) -> np.ndarray:
    """One clean (size, size, 3) uint8 image of the given kind."""
    if kind == "photo":
        return photo_crop(rng, size, photos)
    image = DRAWERS[kind](rng, size * SUPERSAMPLE)
    return np.asarray(image.convert("RGB").resize((size, size), Image.LANCZOS))


# With a folder of real photographs most tiles are cut from them; text and signs stay for the cases users ask about.
FOLDER_SCENE_WEIGHTS = (0.8, 0.02, 0.08, 0.06, 0.02, 0.0, 0.02)
PHOTO_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
FOLDER_VALIDATION_EVERY = 10  # every 10th photograph of a folder (sorted by name) is the training's validation split


def folder_photos(folder: Path, split: str) -> tuple[str, ...]:
    """'file:' names of a folder's photographs for one split: 'validation' takes every 10th, 'train' the rest."""
    files = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in PHOTO_SUFFIXES)
    if not files:
        raise ValueError(f"no photographs ({', '.join(PHOTO_SUFFIXES)}) in {folder}")
    chosen = [p for i, p in enumerate(files) if (i % FOLDER_VALIDATION_EVERY == 0) == (split != "train")]
    return tuple(f"file:{p.resolve()}" for p in chosen)


def _scene_rng(seed: int, index: int, split: str) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, index, _SPLITS[split]]))


def _bank_item(args: tuple[int, int, int, str, tuple[str, ...] | None]) -> np.ndarray:
    seed, index, size, split, folder = args
    rng = _scene_rng(seed, index, split)
    weights = np.array(FOLDER_SCENE_WEIGHTS if folder else SCENE_WEIGHTS)
    kind = SCENES[rng.choice(len(SCENES), p=weights / weights.sum())]
    photos = TRAIN_PHOTOS if split == "train" else HELDOUT_PHOTOS
    if folder and kind == "photo" and rng.random() < 0.9:  # the package photos stay as one tile in ten
        photos = folder
    return render_scene(kind, rng, size, photos)


def build_bank(count: int, size: int, seed: int, split: str = "train", workers: int = 1,
               photos: Path | None = None) -> np.ndarray:
    """`count` clean tiles (count, size, size, 3) uint8, a mix of photos and procedural scenes; deterministic in
    (seed, split) whatever `workers` is. Train tiles use only TRAIN_PHOTOS and the train seed stream; with a
    `photos` folder, most tiles come from its photographs of that split (see `folder_photos`)."""
    folder = folder_photos(photos, split) if photos is not None else None
    jobs = [(seed, index, size, split, folder) for index in range(count)]
    if workers > 1:
        with get_context("spawn").Pool(workers) as pool:
            tiles = pool.map(_bank_item, jobs, chunksize=16)
    else:
        tiles = [_bank_item(job) for job in jobs]
    return np.stack(tiles)


def sample_batch(bank: torch.Tensor, batch: int, crop: int, generator: torch.Generator) -> torch.Tensor:
    """Random crops (B, 3, crop, crop) in [0, 1] from a bank (N, 3, S, S) uint8 on the generator's device, with
    flips, transposes and colour jitter (brightness, contrast, saturation, gamma, channel order)."""
    device = generator.device
    n, _, side, _ = bank.shape

    def rand(*shape: int) -> torch.Tensor:
        return torch.rand(shape, generator=generator, device=device)

    index = torch.randint(n, (batch,), generator=generator, device=device)
    oy = torch.randint(side - crop + 1, (batch,), generator=generator, device=device)
    ox = torch.randint(side - crop + 1, (batch,), generator=generator, device=device)
    span = torch.arange(crop, device=device)
    rows = (oy.view(-1, 1) + span).view(batch, 1, crop, 1)
    cols = (ox.view(-1, 1) + span).view(batch, 1, 1, crop)
    channels = torch.arange(3, device=device).view(1, 3, 1, 1)
    images = bank[index.view(-1, 1, 1, 1), channels, rows, cols].float() / 255  # (B, 3, crop, crop)

    flips = rand(batch, 3) < 0.5
    images = torch.where(flips[:, 0].view(-1, 1, 1, 1), images.flip(-1), images)
    images = torch.where(flips[:, 1].view(-1, 1, 1, 1), images.flip(-2), images)
    images = torch.where(flips[:, 2].view(-1, 1, 1, 1), images.transpose(-1, -2), images)

    jitter = rand(batch, 5)
    grey = images.mean(dim=1, keepdim=True)
    saturation = (0.6 + 0.7 * jitter[:, 0]).view(-1, 1, 1, 1)
    images = grey + (images - grey) * saturation
    mean = images.mean(dim=(1, 2, 3), keepdim=True)
    contrast = (0.8 + 0.4 * jitter[:, 1]).view(-1, 1, 1, 1)
    brightness = (0.85 + 0.3 * jitter[:, 2]).view(-1, 1, 1, 1)
    images = ((images - mean) * contrast + mean) * brightness
    gamma = (0.8 + 0.45 * jitter[:, 3]).view(-1, 1, 1, 1)
    images = images.clamp(0, 1) ** gamma
    permute = jitter[:, 4] < 0.3
    order = torch.randperm(3, generator=generator, device=device)
    images = torch.where(permute.view(-1, 1, 1, 1), images[:, order], images)
    return images.contiguous()


def bank_tensor(tiles: np.ndarray, device: torch.device | str) -> torch.Tensor:
    """(N, S, S, 3) uint8 numpy -> (N, 3, S, S) uint8 tensor on `device`."""
    return torch.from_numpy(tiles).permute(0, 3, 1, 2).contiguous().to(device)


def heldout_images(size: int = 192, procedural: int = 4, seed: int = 0) -> list[tuple[str, np.ndarray]]:
    """Clean images never used for training: centre crops of the held-out photos and procedural scenes from the
    held-out seed stream (text, signs, faces, dead leaves...)."""
    images = []
    for name in HELDOUT_PHOTOS:
        photo = Image.fromarray(load_photo(name))
        scale = max(size / min(photo.size), min(1.0, 2 * size / min(photo.size)))
        photo = photo.resize((round(photo.width * scale), round(photo.height * scale)), Image.LANCZOS)
        array = np.asarray(photo)
        y, x = (array.shape[0] - size) // 2, (array.shape[1] - size) // 2
        images.append((name.split(":")[1].split(".")[0], np.ascontiguousarray(array[y:y + size, x:x + size])))
    kinds = ("text", "signs", "faces", "dead_leaves", "lines", "textures")
    for index in range(procedural):
        kind = kinds[index % len(kinds)]
        images.append((f"{kind}-{index}", render_scene(kind, _scene_rng(seed, index, "heldout"), size,
                                                       HELDOUT_PHOTOS)))
    return images


def to_tensor(array: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, H, W) float in [0, 1]."""
    return torch.from_numpy(np.array(array, dtype=np.uint8, copy=True)).permute(2, 0, 1).float().div(255).unsqueeze(0)


def to_array(image: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) or (3, H, W) float in [0, 1] -> (H, W, 3) uint8."""
    image = image.detach().float().cpu().squeeze(0).clamp(0, 1)
    return (image.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)

