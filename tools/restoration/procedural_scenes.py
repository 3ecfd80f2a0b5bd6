"""Procedural training scenes: dead leaves, text in DejaVu fonts, signs, thin lines, face-like shapes, textures.

Each scene is drawn at SUPERSAMPLE times its final size; `synthdata.render_scene` reduces it with antialiasing.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

SUPERSAMPLE = 2  # procedural scenes are drawn at 2x and reduced with antialiasing: clean, alias-free targets
_WORDS = ("EXIT", "MAIN ST", "OPEN", "STOP", "CAFE", "PHARMACY", "NO PARKING", "BUS 42", "Hotel", "Platform 9",
          "Zone B", "Speed 30", "Welcome", "Station Rd", "ONE WAY", "Taxi", "Museum", "Gate 17", "Bakery", "Kiosk")


@lru_cache(maxsize=None)
def font_files() -> tuple[str, ...]:
    import matplotlib

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    return tuple(sorted(str(path) for path in folder.glob("DejaVu*.ttf")))


@lru_cache(maxsize=256)
def load_font(path: str, size: int) -> ImageFont.FreeTypeFont:
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
        font = load_font(fonts[rng.integers(len(fonts))], size)
        draw.text((x0 + int(rng.integers(0, max(1, (x1 - x0) // 4))), y), _random_text(rng), fill=colour, font=font)
        y += int(size * rng.uniform(1.1, 1.8))


def text_scene(rng: np.random.Generator, side: int) -> Image.Image:
    """Lines of text in many DejaVu faces and sizes (about 7 to 48 px at the final resolution)."""
    image = _background(rng, side)
    draw = ImageDraw.Draw(image)
    _text_lines(draw, rng, (0, 0, side, side), _contrasting(rng, image.getpixel((side // 2, side // 2))),
                7 * SUPERSAMPLE, 48 * SUPERSAMPLE)
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
        font = load_font(fonts[rng.integers(len(fonts))], size)
        text = str(_WORDS[rng.integers(len(_WORDS))])
        length = draw.textlength(text, font=font)
        if length > w * 0.9:
            font = load_font(font.path, max(8, int(size * w * 0.9 / length)))
            length = draw.textlength(text, font=font)
        draw.text((x + (w - length) / 2, y + h / 2), text, fill=border, font=font, anchor="lm")
    return image


def line_scene(rng: np.random.Generator, side: int) -> Image.Image:
    """Thin lines: wires, grids, hatching and polylines, 0.5 to 3 px wide at the final resolution."""
    image = _background(rng, side)
    draw = ImageDraw.Draw(image)
    for _ in range(rng.integers(3, 12)):
        colour, width = _colour(rng), int(rng.integers(1, 3 * SUPERSAMPLE + 1))
        style = rng.integers(3)
        if style == 0:
            points = [tuple(int(v) for v in rng.integers(0, side, 2)) for _ in range(rng.integers(2, 6))]
            draw.line(points, fill=colour, width=width)
        elif style == 1:  # a patch of parallel hatching
            spacing = int(rng.integers(3 * SUPERSAMPLE, 14 * SUPERSAMPLE))
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
    return image.filter(ImageFilter.GaussianBlur(radius=0.6 * SUPERSAMPLE)) if rng.random() < 0.3 else image


def texture_scene(rng: np.random.Generator, side: int) -> Image.Image:
    """Gratings, checkerboards, zone plates and fractal noise: every frequency and orientation."""
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32) / SUPERSAMPLE
    style = rng.integers(4)
    if style == 0:
        period, angle = rng.uniform(3, 30), rng.uniform(0, math.pi)
        t = np.sin(2 * math.pi * (np.cos(angle) * xx + np.sin(angle) * yy) / period)
        t = np.sign(t) if rng.random() < 0.5 else t
    elif style == 1:
        cell = rng.uniform(3, 24)
        t = ((np.floor(xx / cell) + np.floor(yy / cell)) % 2) * 2 - 1
    elif style == 2:
        cx, cy = rng.uniform(0, side / SUPERSAMPLE, 2)
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
    r_min, r_max = 2 * SUPERSAMPLE, side / 3
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


DRAWERS = {"dead_leaves": dead_leaves, "text": text_scene, "signs": sign_scene, "lines": line_scene,
            "faces": face_scene, "textures": texture_scene}

