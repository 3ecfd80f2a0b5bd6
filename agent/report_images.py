"""The pictures of a report: the input and the restored image opened safely, previews, and the crop pairs where the
restoration changed the image most, each encoded once (PNG bytes and a data URI)."""

from __future__ import annotations

import base64
import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from agent.errors import InputFileError
from agent.schemas import Answer

PREVIEW_EDGE = 1200  # longest edge of the whole-image previews embedded in a report
CROP_DISPLAY = 240  # crops are enlarged (nearest neighbour, integer factor) to about this many pixels


@dataclass(frozen=True)
class Crop:
    """A square region of the output, in output pixels, and how much restoration changed it."""

    x: int
    y: int
    size: int
    mean_change: float  # mean |after - before| over the crop, in 0..255 grey levels

    @property
    def box(self) -> tuple[int, int, int, int]:
        return (self.x, self.y, self.x + self.size, self.y + self.size)


@dataclass(frozen=True)
class CropPair:
    crop: Crop
    before: Image.Image
    after: Image.Image


def open_image(path: str | os.PathLike[str]) -> Image.Image:
    """An image as a viewer shows it: EXIF orientation applied, first frame, RGB or RGBA, 8 bits per channel."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # restored outputs may be large
            image = Image.open(path)
        with image:
            image.seek(0)
            image = ImageOps.exif_transpose(image)
            if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
                return image.convert("RGBA")
            if image.mode.startswith("I;16") or image.mode == "I":
                # 16-bit greyscale: 0..65535 maps to 0..255 (PIL's own convert would clip at 255).
                array = np.asarray(image, dtype=np.float64)
                return Image.fromarray(np.clip(array / 257, 0, 255).astype(np.uint8)).convert("RGB")
            return image.convert("RGB")
    except FileNotFoundError:
        raise InputFileError(f"image not found: {path}: check the path") from None
    except Image.DecompressionBombError:
        raise InputFileError(f"{path} is too large for a report's pictures: lower --scale or "
                             "CNAPS_RESTORE__MAX_PIXELS, or write the report without the image") from None
    except OSError as error:
        raise InputFileError(f"cannot read image {path} ({error}): pass a readable PNG or JPEG file") from None


def change_crops(before: Image.Image, after: Image.Image, count: int = 2) -> list[Crop]:
    """The `count` non-overlapping square regions where `after` differs most from `before` (brought to the same
    size). The search runs on a copy at most 512 pixels across, then maps back to output pixels."""
    width, height = after.size
    edge = max(1, min(width, height, max(8, min(256, min(width, height) // 4))))
    factor = min(1.0, 512 / max(width, height))
    small = (max(1, round(width * factor)), max(1, round(height * factor)))
    # Both go straight to the small size: no full-resolution copy of the enlarged input is ever made.
    a = np.asarray(before.convert("L").resize(small, Image.Resampling.BICUBIC), dtype=np.float64)
    b = np.asarray(after.convert("L").resize(small, Image.Resampling.BICUBIC), dtype=np.float64)
    diff = np.abs(a - b)  # (h, w)
    k = max(1, min(small[0], small[1], round(edge * factor)))
    integral = np.pad(diff.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    window = integral[k:, k:] - integral[:-k, k:] - integral[k:, :-k] + integral[:-k, :-k]  # (h-k+1, w-k+1)
    scores = window / (k * k)
    crops: list[Crop] = []
    for _ in range(count):
        if not np.isfinite(scores).any():
            break
        row, col = np.unravel_index(int(np.nanargmax(np.where(np.isfinite(scores), scores, -1.0))), scores.shape)
        mean_change = float(scores[row, col])
        x = min(width - edge, round(col / factor))
        y = min(height - edge, round(row / factor))
        crops.append(Crop(x=max(0, x), y=max(0, y), size=edge, mean_change=mean_change))
        # Windows overlapping the chosen one are out of the race.
        scores[max(0, row - k + 1):row + k, max(0, col - k + 1):col + k] = np.nan
    return crops


def crop_pairs(before: Image.Image, after: Image.Image, count: int = 2) -> list[CropPair]:
    """The largest-change crops of `before` (bicubic to the output size) and `after`, enlarged for viewing."""
    sx, sy = before.width / after.width, before.height / after.height
    pairs = []
    for crop in change_crops(before, after, count):
        zoom = max(1, CROP_DISPLAY // crop.size)
        shown = (crop.size * zoom, crop.size * zoom)
        x0, y0, x1, y1 = crop.box
        # The input's matching region, resampled (bicubic) to the crop's output pixels, then enlarged.
        base = before.resize((crop.size, crop.size), Image.Resampling.BICUBIC, box=(x0 * sx, y0 * sy, x1 * sx, y1 * sy))
        pairs.append(CropPair(
            crop=crop,
            before=base.resize(shown, Image.Resampling.NEAREST),
            after=after.crop(crop.box).resize(shown, Image.Resampling.NEAREST),
        ))
    return pairs


@dataclass(frozen=True)
class Picture:
    """One picture of a report, encoded: embedded as a data URI (HTML, PDF) or written as `name` in the folder
    beside a Markdown report."""

    name: str  # e.g. 'before.jpg', 'crop-1-after.png'
    data: bytes
    mime: str

    @property
    def data_uri(self) -> str:
        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode('ascii')}"


def encode_picture(image: Image.Image, stem: str, max_edge: int | None = None) -> Picture:
    """A PNG (small images, transparency) or JPEG (large photos), downscaled to `max_edge` when given."""
    if max_edge and max(image.size) > max_edge:
        factor = max_edge / max(image.size)
        image = image.resize((max(1, round(image.width * factor)), max(1, round(image.height * factor))),
                             Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    if image.width * image.height <= 400_000 or image.mode == "RGBA":
        image.save(buffer, format="PNG", optimize=True)
        return Picture(f"{stem}.png", buffer.getvalue(), "image/png")
    image.convert("RGB").save(buffer, format="JPEG", quality=90)
    return Picture(f"{stem}.jpg", buffer.getvalue(), "image/jpeg")


@dataclass(frozen=True)
class ReportImages:
    before: Picture
    after: Picture
    before_size: tuple[int, int]
    after_size: tuple[int, int]
    crops: list[tuple[Crop, Picture, Picture]]

    @property
    def pictures(self) -> list[Picture]:
        return [self.before, self.after, *(picture for _, *pair in self.crops for picture in pair)]


def report_images(answer: Answer) -> ReportImages | None:
    """Previews and largest-change crops when the answer restored an image whose files are still on disk."""
    run = answer.restoration
    if run is None or not run.input_path or not run.image_path:
        return None
    if not (Path(run.input_path).is_file() and Path(run.image_path).is_file()):
        return None
    before, after = open_image(run.input_path), open_image(run.image_path)
    crops = [(p.crop, encode_picture(p.before, f"crop-{i}-before"), encode_picture(p.after, f"crop-{i}-after"))
             for i, p in enumerate(crop_pairs(before, after), start=1)]
    return ReportImages(before=encode_picture(before, "before", PREVIEW_EDGE),
                        after=encode_picture(after, "after", PREVIEW_EDGE),
                        before_size=before.size, after_size=after.size, crops=crops)
