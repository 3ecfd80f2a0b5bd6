"""Clean training images that need no download: sample photos shipped inside scikit-image and matplotlib, and
procedural scenes (dead leaves, text in DejaVu fonts, signs, thin lines, face-like shapes, textures).

Scenes are rendered on the CPU once into a *bank* of uint8 tiles; batches are then cut from the bank on the
training device (random crops, flips, transposes, colour jitter), so a GPU is never waiting for PIL. The held-out
split (its own photos and its own procedural seed stream) is never used for training.
"""

from __future__ import annotations

import math
from functools import lru_cache
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter, ImageFont

TRAIN_PHOTOS = ("skimage:astronaut", "skimage:camera", "skimage:hubble_deep_field", "skimage:retina",
                "skimage:immunohistochemistry", "skimage:brick", "skimage:grass", "skimage:gravel", "skimage:text",
                "skimage:page", "skimage:coins", "skimage:moon", "skimage:logo", "skimage:colorwheel",
                "skimage:cell", "skimage:checkerboard", "mpl:logo2.png", "mpl:Minduka_Present_Blue_Pack.png")
HELDOUT_PHOTOS = ("skimage:coffee", "skimage:rocket", "skimage:chelsea", "mpl:grace_hopper.jpg")
SCENES = ("photo", "dead_leaves", "text", "signs", "lines", "faces", "textures")
SCENE_WEIGHTS = (0.3, 0.15, 0.17, 0.12, 0.08, 0.08, 0.1)
_SPLITS = {"train": 0, "validation": 1, "heldout": 2}
_SUPERSAMPLE = 2  # procedural scenes are drawn at 2x and reduced with antialiasing: clean, alias-free targets
_WORDS = ("EXIT", "MAIN ST", "OPEN", "STOP", "CAFE", "PHARMACY", "NO PARKING", "BUS 42", "Hotel", "Platform 9",
          "Zone B", "Speed 30", "Welcome", "Station Rd", "ONE WAY", "Taxi", "Museum", "Gate 17", "Bakery", "Kiosk")


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


# --- procedural scenes (drawn at _SUPERSAMPLE x, returned at size) ---

@lru_cache(maxsize=None)
def font_files() -> tuple[str, ...]:
    import matplotlib

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    return tuple(sorted(str(path) for path in folder.glob("DejaVu*.ttf")))


@lru_cache(maxsize=256)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


def _colour(rng: np.random.Generator, low: int = 0, high: int = 256) -> tuple[int, int, int]:
    return tuple(int(v) for v in rng.integers(low, high, 3))


def _contrasting(rng: np.random.Generator, background: tuple[int, int, int]) -> tuple[int, int, int]:
    dark = sum(background) / 3 > 127
    return _colour(rng, 0, 90) if dark else _colour(rng, 170, 256)


def _background(rng: np.random.Generator, side: int) -> Image.Image:
    """A smooth gradient between two colours, sometimes with soft blobs."""
    a, b = np.array(_colour(rng), np.float32), np.array(_colour(rng), np.float32)
    angle = rng.uniform(0, 2 * math.pi)
    yy, xx = np.mgrid[0:side, 0:side] / side
    t = np.clip((np.cos(angle) * xx + np.sin(angle) * yy + 1) / 2, 0, 1)[..., None]
    return Image.fromarray((a * (1 - t) + b * t).astype(np.uint8))


def _random_text(rng: np.random.Generator) -> str:
    if rng.random() < 0.5:
        return str(_WORDS[rng.integers(len(_WORDS))])
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    words = ["".join(alphabet[i] for i in rng.integers(len(alphabet), size=rng.integers(2, 9)))
             for _ in range(rng.integers(1, 4))]
    return " ".join(words)


def _text_lines(draw: ImageDraw.ImageDraw, rng: np.random.Generator, box: tuple[int, int, int, int],
                colour: tuple[int, int, int], smallest: int, largest: int) -> None:
    x0, y0, x1, y1 = box
    y = y0 + rng.integers(0, max(1, smallest))
    fonts = font_files()
    while y < y1:
        size = int(rng.integers(smallest, largest + 1))
        font = _font(fonts[rng.integers(len(fonts))], size)
        draw.text((x0 + int(rng.integers(0, max(1, (x1 - x0) // 4))), y), _random_text(rng), fill=colour, font=font)
        y += int(size * rng.uniform(1.1, 1.8))


def text_scene(rng: np.random.Generator, side: int) -> Image.Image:
    """Lines of text in many DejaVu faces and sizes (about 7 to 48 px at the final resolution)."""
    image = _background(rng, side)
    draw = ImageDraw.Draw(image)
    _text_lines(draw, rng, (0, 0, side, side), _contrasting(rng, image.getpixel((side // 2, side // 2))),
                7 * _SUPERSAMPLE, 48 * _SUPERSAMPLE)
    return image


def sign_scene(rng: np.random.Generator, side: int) -> Image.Image:
    """Signs (rounded rectangles, discs, octagons) with borders and lettering, on a cluttered background."""
    image = dead_leaves(rng, side) if rng.random() < 0.5 else _background(rng, side)
    draw = ImageDraw.Draw(image)
    fonts = font_files()
    for _ in range(rng.integers(1, 4)):
        w, h = int(rng.uniform(0.3, 0.8) * side), int(rng.uniform(0.12, 0.4) * side)
        x, y = int(rng.integers(0, side - w + 1)), int(rng.integers(0, side - h + 1))
        fill = [(200, 20, 30), (20, 60, 170), (10, 120, 60), (240, 200, 20), (245, 245, 245), (30, 30, 30)][
            rng.integers(6)]
        border = (255, 255, 255) if sum(fill) < 500 else (20, 20, 20)
        shape = rng.integers(3)
        if shape == 0:
            draw.rounded_rectangle((x, y, x + w, y + h), radius=int(h * 0.2), fill=fill, outline=border,
                                   width=max(2, h // 14))
        elif shape == 1:
            draw.ellipse((x, y, x + h, y + h), fill=fill, outline=border, width=max(2, h // 12))
            w = h
        else:
            draw.regular_polygon((x + h / 2, y + h / 2, h / 2), 8, fill=fill, outline=border)
            w = h
        size = max(8, int(h * rng.uniform(0.25, 0.5)))
        font = _font(fonts[rng.integers(len(fonts))], size)
        text = str(_WORDS[rng.integers(len(_WORDS))])
        length = draw.textlength(text, font=font)
        if length > w * 0.9:
            font = _font(font.path, max(8, int(size * w * 0.9 / length)))
            length = draw.textlength(text, font=font)
        draw.text((x + (w - length) / 2, y + h / 2), text, fill=border, font=font, anchor="lm")
    return image


def line_scene(rng: np.random.Generator, side: int) -> Image.Image:
    """Thin lines: wires, grids, hatching and polylines, 0.5 to 3 px wide at the final resolution."""
    image = _background(rng, side)
    draw = ImageDraw.Draw(image)
    for _ in range(rng.integers(3, 12)):
        colour, width = _colour(rng), int(rng.integers(1, 3 * _SUPERSAMPLE + 1))
        style = rng.integers(3)
        if style == 0:
            points = [tuple(int(v) for v in rng.integers(0, side, 2)) for _ in range(rng.integers(2, 6))]
            draw.line(points, fill=colour, width=width)
        elif style == 1:  # a patch of parallel hatching
            spacing = int(rng.integers(3 * _SUPERSAMPLE, 14 * _SUPERSAMPLE))
            angle = rng.uniform(0, math.pi)
            cx, cy = rng.integers(0, side, 2)
            for k in range(-6, 7):
                ox, oy = -math.sin(angle) * k * spacing, math.cos(angle) * k * spacing
                dx, dy = math.cos(angle) * side / 3, math.sin(angle) * side / 3
                draw.line([(cx + ox - dx, cy + oy - dy), (cx + ox + dx, cy + oy + dy)], fill=colour, width=width)
        else:  # a sagging wire
            x = np.linspace(0, side, 40)
            y = rng.uniform(0, side) + rng.uniform(5, side / 4) * np.sin(np.pi * x / side)
            draw.line(list(zip(x.tolist(), y.tolist())), fill=colour, width=width)
    return image


def face_scene(rng: np.random.Generator, side: int) -> Image.Image:
    """Face-like shapes: head, hair, eyes with iris and pupil, brows, nose and mouth, softly shaded."""
    image = _background(rng, side)
    draw = ImageDraw.Draw(image)
    for _ in range(rng.integers(1, 3)):
        r = side * rng.uniform(0.15, 0.4)
        cx, cy = rng.uniform(r, side - r), rng.uniform(r, side - r)
        tone = np.array([rng.uniform(90, 240), 0, 0])
        tone[1], tone[2] = tone[0] * rng.uniform(0.7, 0.85), tone[0] * rng.uniform(0.55, 0.75)
        skin = tuple(int(v) for v in tone)
        hair = _colour(rng, 0, 120)
        draw.ellipse((cx - r * 0.95, cy - r * 1.25, cx + r * 0.95, cy + r * 0.6), fill=hair)
        draw.ellipse((cx - r * 0.8, cy - r, cx + r * 0.8, cy + r * 1.05), fill=skin)
        for side_sign in (-1, 1):
            ex, ey = cx + side_sign * r * 0.33, cy - r * 0.15
            er = r * rng.uniform(0.1, 0.16)
            draw.ellipse((ex - er * 1.4, ey - er * 0.8, ex + er * 1.4, ey + er * 0.8), fill=(240, 240, 235))
            draw.ellipse((ex - er * 0.7, ey - er * 0.7, ex + er * 0.7, ey + er * 0.7), fill=_colour(rng, 20, 140))
            draw.ellipse((ex - er * 0.3, ey - er * 0.3, ex + er * 0.3, ey + er * 0.3), fill=(10, 10, 10))
            draw.arc((ex - er * 1.6, ey - er * 2.4, ex + er * 1.6, ey - er * 0.6), 200, 340, fill=hair,
                     width=max(2, int(er / 3)))
        draw.line([(cx, cy - r * 0.05), (cx - r * 0.08, cy + r * 0.3), (cx + r * 0.05, cy + r * 0.33)],
                  fill=tuple(int(v * 0.75) for v in skin), width=max(2, int(r / 25)))
        draw.arc((cx - r * 0.35, cy + r * 0.25, cx + r * 0.35, cy + r * 0.7), 20, 160, fill=(150, 40, 50),
                 width=max(2, int(r / 18)))
    return image.filter(ImageFilter.GaussianBlur(radius=0.6 * _SUPERSAMPLE)) if rng.random() < 0.3 else image


def texture_scene(rng: np.random.Generator, side: int) -> Image.Image:
    """Gratings, checkerboards, zone plates and fractal noise: every frequency and orientation."""
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32) / _SUPERSAMPLE
    style = rng.integers(4)
    if style == 0:
        period, angle = rng.uniform(3, 30), rng.uniform(0, math.pi)
        t = np.sin(2 * math.pi * (np.cos(angle) * xx + np.sin(angle) * yy) / period)
        t = np.sign(t) if rng.random() < 0.5 else t
    elif style == 1:
        cell = rng.uniform(3, 24)
        t = ((np.floor(xx / cell) + np.floor(yy / cell)) % 2) * 2 - 1
    elif style == 2:
        cx, cy = rng.uniform(0, side / _SUPERSAMPLE, 2)
        t = np.cos(((xx - cx) ** 2 + (yy - cy) ** 2) * rng.uniform(0.002, 0.02))
    else:
        t = np.zeros_like(xx)
        for octave in range(5):
            cells = 2 ** (octave + 2)
            coarse = rng.standard_normal((cells, cells)).astype(np.float32)
            layer = np.asarray(Image.fromarray(coarse, mode="F").resize((side, side), Image.BICUBIC))
            t += layer / (1.6 ** octave)
        t = t / (np.abs(t).max() + 1e-6)
    a, b = np.array(_colour(rng), np.float32), np.array(_colour(rng), np.float32)
    t = ((t + 1) / 2)[..., None]
    return Image.fromarray(np.clip(a * (1 - t) + b * t, 0, 255).astype(np.uint8))


def dead_leaves(rng: np.random.Generator, side: int) -> Image.Image:
    """Occluding discs and rectangles with power-law sizes: the dead-leaves model of natural image statistics."""
    image = Image.new("RGB", (side, side), _colour(rng))
    draw = ImageDraw.Draw(image)
    r_min, r_max = 2 * _SUPERSAMPLE, side / 3
    for _ in range(int(rng.integers(150, 400))):
        # radius density ~ r^-3 (scale invariance), sampled by inverting its CDF
        u = rng.random()
        r = (r_min ** -2 - u * (r_min ** -2 - r_max ** -2)) ** -0.5
        x, y = rng.uniform(-r, side + r, 2)
        if rng.random() < 0.7:
            draw.ellipse((x - r, y - r, x + r, y + r), fill=_colour(rng))
        else:
            draw.rectangle((x - r, y - r * rng.uniform(0.3, 1), x + r, y + r), fill=_colour(rng))
    return image


_DRAWERS = {"dead_leaves": dead_leaves, "text": text_scene, "signs": sign_scene, "lines": line_scene,
            "faces": face_scene, "textures": texture_scene}


def render_scene(kind: str, rng: np.random.Generator, size: int, photos: tuple[str, ...] = TRAIN_PHOTOS) -> np.ndarray:
    """One clean (size, size, 3) uint8 image of the given kind."""
    if kind == "photo":
        return photo_crop(rng, size, photos)
    image = _DRAWERS[kind](rng, size * _SUPERSAMPLE)
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


# --- the bundled example (README's main command) ---

def example_scene(width: int = 480, height: int = 320, seed: int = 7) -> np.ndarray:
    """A street-like scene with signs and text, drawn for the README example (uint8, height x width x 3)."""
    rng = np.random.default_rng(seed)
    s = _SUPERSAMPLE
    image = Image.new("RGB", (width * s, height * s), (150, 185, 225))
    draw = ImageDraw.Draw(image)
    fonts = {Path(path).stem: path for path in font_files()}
    draw.rectangle((0, int(height * 0.72 * s), width * s, height * s), fill=(90, 90, 95))  # road
    for x0, w, h, colour in ((0, 170, 230, (176, 120, 92)), (160, 150, 280, (205, 196, 170)),
                             (300, 190, 210, (120, 130, 140))):
        draw.rectangle((x0 * s, (height * 0.72 - h) * s, (x0 + w) * s, height * 0.72 * s), fill=colour)
        for wy in range(int(height * 0.72 - h + 16), int(height * 0.72 - 40), 34):
            for wx in range(x0 + 12, x0 + w - 24, 30):
                draw.rectangle((wx * s, wy * s, (wx + 16) * s, (wy + 20) * s), fill=(60, 75, 95),
                               outline=(235, 235, 235), width=s)

    def sign(box, fill, text, font, size, colour=(255, 255, 255)):
        x0, y0, x1, y1 = (v * s for v in box)
        draw.rounded_rectangle((x0, y0, x1, y1), radius=6 * s, fill=fill, outline=colour, width=2 * s)
        draw.text(((x0 + x1) / 2, (y0 + y1) / 2), text, fill=colour, font=_font(fonts[font], size * s), anchor="mm")

    sign((24, 40, 150, 78), (10, 110, 60), "MAIN ST", "DejaVuSans-Bold", 20)
    sign((190, 70, 290, 100), (200, 20, 30), "EXIT 24", "DejaVuSans-Bold", 17)
    sign((330, 48, 460, 82), (20, 60, 170), "Station Rd", "DejaVuSerif-Bold", 17)
    sign((200, 150, 280, 172), (245, 245, 245), "OPEN 8-22", "DejaVuSansMono-Bold", 12, (20, 20, 20))
    sign((40, 230, 140, 252), (240, 200, 20), "CAFE & Bakery", "DejaVuSans", 11, (30, 30, 30))
    sign((350, 170, 440, 200), (30, 30, 30), "BUS 42", "DejaVuSans-Bold", 16, (250, 210, 40))
    draw.rectangle((330 * s, 262 * s, 410 * s, 282 * s), fill=(250, 250, 250), outline=(10, 10, 10), width=s)
    draw.text((370 * s, 272 * s), "CN4 PS21", fill=(10, 10, 10), font=_font(fonts["DejaVuSansMono-Bold"], 13 * s),
              anchor="mm")
    draw.text((190 * s, 200 * s), "No parking - tow zone", fill=(30, 30, 30),
              font=_font(fonts["DejaVuSans-Oblique"], 9 * s))
    for k in range(6):  # thin overhead wires
        y = 14 + 5 * k + float(rng.uniform(0, 3))
        draw.line([(0, y * s), (width * s, (y + 12) * s)], fill=(40, 40, 40), width=1)
    return np.asarray(image.resize((width, height), Image.LANCZOS))


def example_pair(seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """(sharp, blurry): the example scene and the same scene blurred by a camera-shake kernel plus mild noise."""
    from tools.restoration import degrade

    sharp = example_scene(seed=seed)
    generator = torch.Generator().manual_seed(seed)
    kernel = degrade.shake_kernels(1, 15, generator, 7.0, 7.0)  # a 7-pixel shake path
    blurry = degrade.blur(to_tensor(sharp), kernel)
    blurry = degrade.add_noise(blurry, torch.tensor([0.005]), generator)
    return sharp, to_array(blurry)


def _write_example(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    sharp, blurry = example_pair()
    Image.fromarray(sharp).save(folder / "example_sharp.png", optimize=True)
    Image.fromarray(blurry).save(folder / "example_blurry.png", optimize=True)


if __name__ == "__main__":  # python -m tools.restoration.synthdata agent/data  (regenerates the README example)
    import sys

    _write_example(Path(sys.argv[1] if len(sys.argv) > 1 else "agent/data"))
