"""The bundled example (README's main command): a street-like scene with signs and text, and its shaken copy.

    python -m tools.restoration.readme_example agent/data   # regenerates example_sharp.png and example_blurry.png
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from tools.restoration.blur_kernels import blur, shake_kernels
from tools.restoration.noise_and_jpeg import add_noise
from tools.restoration.procedural_scenes import SUPERSAMPLE, font_files, load_font
from tools.restoration.synthdata import to_array, to_tensor


def example_scene(width: int = 480, height: int = 320, seed: int = 7) -> np.ndarray:
    """A street-like scene with signs and text, drawn for the README example (uint8, height x width x 3)."""
    rng = np.random.default_rng(seed)
    s = SUPERSAMPLE
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
        draw.text(((x0 + x1) / 2, (y0 + y1) / 2), text, fill=colour, font=load_font(fonts[font], size * s), anchor="mm")

    sign((24, 40, 150, 78), (10, 110, 60), "MAIN ST", "DejaVuSans-Bold", 20)
    sign((190, 70, 290, 100), (200, 20, 30), "EXIT 24", "DejaVuSans-Bold", 17)
    sign((330, 48, 460, 82), (20, 60, 170), "Station Rd", "DejaVuSerif-Bold", 17)
    sign((200, 150, 280, 172), (245, 245, 245), "OPEN 8-22", "DejaVuSansMono-Bold", 12, (20, 20, 20))
    sign((40, 230, 140, 252), (240, 200, 20), "CAFE & Bakery", "DejaVuSans", 11, (30, 30, 30))
    sign((350, 170, 440, 200), (30, 30, 30), "BUS 42", "DejaVuSans-Bold", 16, (250, 210, 40))
    draw.rectangle((330 * s, 262 * s, 410 * s, 282 * s), fill=(250, 250, 250), outline=(10, 10, 10), width=s)
    draw.text((370 * s, 272 * s), "CN4 PS21", fill=(10, 10, 10), font=load_font(fonts["DejaVuSansMono-Bold"], 13 * s),
              anchor="mm")
    draw.text((190 * s, 200 * s), "No parking - tow zone", fill=(30, 30, 30),
              font=load_font(fonts["DejaVuSans-Oblique"], 9 * s))
    for k in range(6):  # thin overhead wires
        y = 14 + 5 * k + float(rng.uniform(0, 3))
        draw.line([(0, y * s), (width * s, (y + 12) * s)], fill=(40, 40, 40), width=1)
    return np.asarray(image.resize((width, height), Image.LANCZOS))


def example_pair(seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """(sharp, blurry): the example scene and the same scene blurred by a camera-shake kernel plus mild noise."""
    sharp = example_scene(seed=seed)
    generator = torch.Generator().manual_seed(seed)
    kernel = shake_kernels(1, 15, generator, 7.0, 7.0)  # a 7-pixel shake path
    blurry = blur(to_tensor(sharp), kernel)
    blurry = add_noise(blurry, torch.tensor([0.005]), generator)
    return sharp, to_array(blurry)


def _write_example(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    sharp, blurry = example_pair()
    Image.fromarray(sharp).save(folder / "example_sharp.png", optimize=True)
    Image.fromarray(blurry).save(folder / "example_blurry.png", optimize=True)


if __name__ == "__main__":  # python -m tools.restoration.readme_example agent/data
    import sys

    _write_example(Path(sys.argv[1] if len(sys.argv) > 1 else "agent/data"))
