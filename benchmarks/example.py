"""The bundled example, restored with the shipped weights: PSNR/SSIM against its sharp original, and the figure.

    PYTHONPATH=. python benchmarks/example.py [--weights tools/restoration/weights/mimo-unet.safetensors]
        [--figure benchmarks/results/example_before_after.png]

Runs the same path as `cnaps ask --image agent/data/example_blurry.png` (Restorer, MIMO-UNet, CPU) and prints a
table of PSNR and SSIM (RGB and Y) for the blurred input and the restored output against
agent/data/example_sharp.png. The figure shows blurred input | restored | sharp reference side by side, with a
2x nearest-neighbour crop of each below.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tools.atomic import atomic_write  # noqa: E402
from tools.restoration import Restorer  # noqa: E402
from tools.restoration.metrics import psnr, ssim  # noqa: E402

DATA = REPO / "agent" / "data"
LABEL_HEIGHT = 22
CROP = 120  # crop edge in input pixels, shown at 2x


def figure(panels: list[tuple[str, Image.Image]], crop_box: tuple[int, int, int, int]) -> Image.Image:
    """Panels side by side with their labels, and the same 2x crop of each below."""
    width, height = panels[0][1].size
    crop_edge = 2 * CROP
    sheet = Image.new("RGB", (width * len(panels), LABEL_HEIGHT + height + crop_edge), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (label, image) in enumerate(panels):
        x = i * width
        draw.text((x + 6, 5), label, fill="black")
        sheet.paste(image.convert("RGB"), (x, LABEL_HEIGHT))
        crop = image.convert("RGB").crop(crop_box).resize((crop_edge, crop_edge), Image.Resampling.NEAREST)
        sheet.paste(crop, (x + (width - crop_edge) // 2, LABEL_HEIGHT + height))
    return sheet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, default=None, help="default: the zoo's lookup (shipped weights)")
    parser.add_argument("--figure", type=Path, default=None, help="write the before/after figure here (PNG)")
    options = parser.parse_args()
    blurry = Image.open(DATA / "example_blurry.png").convert("RGB")
    sharp = Image.open(DATA / "example_sharp.png").convert("RGB")
    restorer = Restorer("Deblur-MIMO-UNet", weights=options.weights, device="cpu")
    restored = restorer.restore(blurry)
    weights = restorer.weights
    print(f"weights: {weights.file} ({weights.provenance}, sha256 {weights.sha256[:12]})")
    print(f"{'image':<16} {'PSNR RGB':>9} {'SSIM RGB':>9} {'PSNR Y':>8} {'SSIM Y':>8}")
    for name, image in (("blurred input", blurry), ("restored", restored)):
        print(f"{name:<16} {psnr(image, sharp, 'rgb'):9.2f} {ssim(image, sharp, 'rgb'):9.3f} "
              f"{psnr(image, sharp, 'y'):8.2f} {ssim(image, sharp, 'y'):8.3f}")
    if options.figure is not None:
        width, height = blurry.size
        left, top = (width - CROP) // 2, (height - CROP) // 2
        sheet = figure([("blurred input", blurry), ("project MIMO-UNet", restored), ("sharp reference", sharp)],
                       (left, top, left + CROP, top + CROP))
        options.figure.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(options.figure, lambda stream: sheet.save(stream, format="PNG"))
        print(f"figure: {options.figure}")


if __name__ == "__main__":
    main()
