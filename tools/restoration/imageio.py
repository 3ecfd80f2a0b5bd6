"""Read any image into float RGB for the network, and write results back atomically in the input's layout.

The network sees (H, W, 3) float32 in [0, 1]. What it must not see travels beside it in a `Picture`: the alpha
channel (resized on its own), the bit depth (16-bit stays 16-bit where the format allows), the ICC profile, and
whether the image was grayscale or CMYK, so the output goes back to the same kind of image.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from agent.errors import ImageError, OutputError
from tools.atomic import atomic_write

_SIXTEEN_BIT = {"I;16", "I;16L", "I;16B", "I;16N", "I"}
_NO_ALPHA_FORMATS = {"JPEG", "BMP", "PPM", "EPS", "PCX", "SGI"}
_SIXTEEN_BIT_FORMATS = {"PNG", "TIFF"}
_BOMB_FIX = "raise the limit with CNAPS_RESTORE__MAX_PIXELS=<pixels> if you trust the file"


@dataclass
class Picture:
    """An image taken apart for the network: rgb (H, W, 3) float32 in [0, 1] plus what travels beside it."""

    rgb: np.ndarray
    alpha: np.ndarray | None = None  # (H, W) float32 in [0, 1]
    kind: str = "RGB"  # 'RGB', 'L' or 'CMYK': the layout the output goes back to
    bits: int = 8
    icc_profile: bytes | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)"""
        return self.rgb.shape[1], self.rgb.shape[0]


def open_image(path: str | Path, max_pixels: int) -> Image.Image:
    """Decode an image file fully: first frame, EXIF orientation applied, ICC profile kept in `.info`.

    Notes for the user (first frame of an animation...) are in `image.info['cnaps_notes']`.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise ImageError(f"{path} does not exist or is not a file: check the input path")
    if path.stat().st_size == 0:
        raise ImageError(f"{path} is empty (0 bytes): pass a PNG, JPEG, TIFF, WebP or BMP image")
    notes: list[str] = []
    # Some libraries (weasyprint) switch on Pillow's process-wide "accept truncated files"; a truncated input must
    # still be refused, never restored from half its pixels.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise ImageError(
                        f"{path} has {width}x{height} = {width * height:,} pixels, more than the limit of "
                        f"{max_pixels:,}: {_BOMB_FIX}"
                    )
                frames = getattr(image, "n_frames", 1)
                if getattr(image, "is_animated", False) and frames > 1:
                    image.seek(0)
                    notes.append(f"animated image with {frames} frames: only the first frame was restored")
                icc = image.info.get("icc_profile")
                raw_mode = str(image.tile[0][3]) if image.tile and len(image.tile[0]) > 3 else ""
                if image.mode in ("RGB", "RGBA") and "16" in raw_mode:
                    notes.append("16-bit colour was read as 8-bit: Pillow has no 48-bit RGB mode "
                                 "(16-bit grayscale stays 16-bit)")
                image.load()
                decoded = ImageOps.exif_transpose(image)
    except ImageError:
        raise
    except Image.DecompressionBombError as error:
        raise ImageError(f"{path} is too large to decode safely ({error}): {_BOMB_FIX}") from error
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, IndexError) as error:
        reason = str(error).splitlines()[0][:160] if str(error) else type(error).__name__
        raise ImageError(
            f"cannot read {path} as an image ({reason}): pass a complete PNG, JPEG, TIFF, WebP or BMP file"
        ) from error
    if icc:
        decoded.info["icc_profile"] = icc
    decoded.info["cnaps_notes"] = notes
    return decoded


def to_picture(image: Image.Image) -> Picture:
    """Split a PIL image of any mode into network RGB, alpha and what is needed to rebuild the same layout."""
    notes = list(image.info.get("cnaps_notes", []))
    picture = Picture(rgb=np.zeros((1, 1, 3), np.float32), icc_profile=image.info.get("icc_profile"), notes=notes)
    mode = image.mode
    if mode in _SIXTEEN_BIT:
        values = np.asarray(image, dtype=np.float32)
        gray = np.clip(values, 0, 65535) / 65535.0
        picture.rgb = np.repeat(gray[..., None], 3, axis=2)
        picture.kind, picture.bits = "L", 16
        return picture
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        picture.notes.append("palette image: the output is full-colour (a palette cannot hold restored colours)")
        mode = image.mode
    if mode in ("L", "LA", "1"):
        gray = np.asarray(image.getchannel("L") if mode == "LA" else image.convert("L"), dtype=np.float32) / 255.0
        picture.rgb = np.repeat(gray[..., None], 3, axis=2)
        picture.kind = "L"
        if mode == "LA":
            picture.alpha = np.asarray(image.getchannel("A"), dtype=np.float32) / 255.0
        return picture
    if mode == "CMYK":
        picture.kind = "CMYK"
        image = image.convert("RGB")
    elif mode in ("RGBA", "RGBa", "PA", "La") or "transparency" in image.info:
        image = image.convert("RGBA")
        picture.alpha = np.asarray(image.getchannel("A"), dtype=np.float32) / 255.0
    rgb = np.array(image.convert("RGB"), dtype=np.float32)
    rgb /= 255.0  # in place: a 3000x2000 photo is 72 MB per float copy
    picture.rgb = rgb
    return picture


def from_picture(rgb: np.ndarray, picture: Picture) -> Image.Image:
    """Rebuild a PIL image from the network's RGB output (clipped and scaled in place) in `picture`'s layout."""
    rgb = np.clip(rgb, 0.0, 1.0, out=rgb)  # in place: no second whole-image float copy
    if picture.kind == "L":
        gray = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601 luma, as PIL's convert('L')
        if picture.bits == 16 and picture.alpha is None:
            image = Image.fromarray(np.rint(gray * 65535.0).astype(np.uint16))  # mode I;16
        else:
            image = Image.fromarray(np.rint(gray * 255.0).astype(np.uint8), "L")
    else:
        rgb *= 255.0
        image = Image.fromarray(np.rint(rgb, out=rgb).astype(np.uint8), "RGB")
    del rgb
    if picture.alpha is not None:
        alpha = Image.fromarray(np.rint(np.clip(picture.alpha, 0, 1) * 255.0).astype(np.uint8), "L")
        image = Image.merge("LA" if image.mode == "L" else "RGBA", [*image.split(), alpha])
    elif picture.kind == "CMYK":
        image = image.convert("CMYK")
    if picture.icc_profile:
        image.info["icc_profile"] = picture.icc_profile
    return image


def output_format(path: Path) -> str:
    """The PIL format name for an output path, from its suffix."""
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None or fmt not in Image.SAVE:
        raise OutputError(f"cannot write '{path.suffix or path.name}' files: name the output .png, .jpg, .tif or .webp")
    return fmt


def _fit_format(image: Image.Image, fmt: str, path: Path) -> Image.Image:
    if image.mode in ("RGBA", "LA") and fmt in _NO_ALPHA_FORMATS:
        raise OutputError(f"{fmt} cannot hold the transparency of this image: write {path.stem}.png instead")
    if image.mode == "I;16" and fmt not in _SIXTEEN_BIT_FORMATS:
        eight_bit = np.rint(np.asarray(image, dtype=np.float32) / 257.0).astype(np.uint8)
        image = Image.fromarray(eight_bit, "L")
    if image.mode == "CMYK" and fmt not in ("JPEG", "TIFF"):
        image = image.convert("RGB")  # the CMYK ICC profile no longer applies
        image.info.pop("icc_profile", None)
    return image


def same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_output(path: Path, overwrite: bool = False, source: str | Path | None = None) -> str:
    """Refuse an output that is the input, a folder, or an existing file (unless overwrite); returns its format."""
    path = Path(path).expanduser()
    if source is not None and (same_file(path, Path(source)) or path.resolve() == Path(source).resolve()):
        raise OutputError(f"output {path} is the input file: choose a different output path")
    if path.is_dir():
        raise OutputError(f"{path} is a folder: give an output file name such as {path}/restored.png")
    if path.exists() and not overwrite:
        raise OutputError(f"{path} already exists: pass --overwrite or choose another output path")
    return output_format(path)


def save_image_atomic(image: Image.Image, path: str | Path, overwrite: bool = False,
                      source: str | Path | None = None, quality: int = 95) -> Path:
    """Write `image` to `path` through a temp file in the same folder and a rename: never a partial file.

    Refuses to write over `source` (the input) and over an existing file unless `overwrite`.
    """
    path = Path(path).expanduser()
    fmt = check_output(path, overwrite, source)
    image = _fit_format(image, fmt, path)
    options: dict = {}
    if image.info.get("icc_profile"):
        options["icc_profile"] = image.info["icc_profile"]
    if fmt in ("JPEG", "WEBP"):
        options["quality"] = quality
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"cannot write into {path.parent} ({error.strerror or error}): choose a writable folder") \
            from error
    atomic_write(path, lambda stream: image.save(stream, format=fmt, **options))
    return path


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp", ".gif")


def batch_pairs(input_dir: Path, output_dir: Path) -> list[tuple[Path, Path]]:
    """(input, output) for every image directly in `input_dir`, sorted; outputs keep the input's name."""
    input_dir, output_dir = Path(input_dir), Path(output_dir)
    if output_dir.exists() and not output_dir.is_dir():
        raise OutputError(f"{output_dir} is a file: when INPUT is a folder, give a folder (new or existing) as OUTPUT")
    if output_dir.exists() and same_file(input_dir, output_dir):
        raise OutputError(f"output folder {output_dir} is the input folder: choose a different output folder")
    images = sorted(p for p in input_dir.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise ImageError(f"{input_dir} holds no images ({', '.join(IMAGE_SUFFIXES)}): pass a folder of images")
    return [(image, output_dir / image.name) for image in images]
