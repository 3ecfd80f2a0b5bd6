"""Read any image into float RGB for the network, and write results back atomically in the input's layout.

The network sees bands of (h, W, 3) float32 in [0, 1] (`Source`), and its output goes band by band into an image
of the input's kind (`Sink`): alpha kept beside the network, 16-bit kept 16-bit where the format allows, ICC
profile kept, grayscale and CMYK rebuilt. No whole-image float copy is ever made.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from tools.errors import ImageError, OutputError
from tools.atomic import atomic_write

_SIXTEEN_BIT = {"I;16", "I;16L", "I;16B", "I;16N", "I"}
_NO_ALPHA_FORMATS = {"JPEG", "BMP", "PPM", "EPS", "PCX", "SGI"}
_SIXTEEN_BIT_FORMATS = {"PNG", "TIFF"}
_BOMB_FIX = "raise the limit with CNAPS_RESTORE__MAX_PIXELS=<pixels> if you trust the file"
_FORMATS_HINT = "pass a complete PNG, JPEG, TIFF, WebP or BMP file"
_CONVERT_HINT = "convert it to an 8- or 16-bit PNG or TIFF first"
_UNREADABLE = (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, IndexError)


def _existing(path: str | Path) -> Path:
    path = Path(path).expanduser()
    if not path.is_file():
        raise ImageError(f"{path} does not exist or is not a file: check the input path")
    if path.stat().st_size == 0:
        raise ImageError(f"{path} is empty (0 bytes): pass a PNG, JPEG, TIFF, WebP or BMP image")
    return path


def _refuse_float(image: Image.Image, what: str) -> None:
    if image.mode == "F":  # no fixed white level: [0, 1], [0, 255] and HDR radiance are all common
        raise ImageError(f"{what} holds 32-bit floating-point samples, which cnaps does not read: {_CONVERT_HINT}")


def check_samples(image: Image.Image, what: str) -> None:
    """Refuse samples that would be lost rather than restored: floating point, and 32-bit integers beyond 16 bits
    (mode 'I' within 0..65535 is read as 16-bit). `what` names the image in the message."""
    _refuse_float(image, what)
    if image.mode == "I":
        low, high = image.getextrema()
        if low < 0 or high > 65535:
            raise ImageError(f"{what} holds 32-bit integer samples from {low} to {high}, beyond the 16 bits cnaps "
                             f"reads: {_CONVERT_HINT}")


@contextmanager
def _opened(path: Path, max_pixels: int) -> Iterator[Image.Image]:
    """`Image.open(path)` checked from its header (pixel limit, float samples); Pillow's errors anywhere in the
    `with` block become one-line `ImageError`s."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise ImageError(f"{path} has {width}x{height} = {width * height:,} pixels, more than the limit "
                                     f"of {max_pixels:,}: {_BOMB_FIX}")
                _refuse_float(image, str(path))
                yield image
    except Image.DecompressionBombError as error:
        # Pillow refuses before cnaps can look, quoting its own internal limit; the user can only change cnaps's.
        declared = re.search(r"\((\d+) pixels\)", str(error))
        size = f"declares {int(declared[1]):,} pixels" if declared else "declares too many pixels to decode safely"
        raise ImageError(f"{path} {size}, more than the limit of {max_pixels:,}: {_BOMB_FIX}") from error
    except _UNREADABLE as error:
        reason = str(error).splitlines()[0][:160] if str(error) else type(error).__name__
        raise ImageError(f"cannot read {path} as an image ({reason}): {_FORMATS_HINT}") from error


def check_image_file(path: str | Path, max_pixels: int) -> tuple[int, int]:
    """The (width, height) of an image file, read from its header only: the cheap check before a slow job.

    Refuses what `open_image` would refuse without decoding pixels (missing, empty, unreadable, too large, float).
    """
    path = _existing(path)
    with _opened(path, max_pixels) as image:
        return image.size


def open_image(path: str | Path, max_pixels: int) -> Image.Image:
    """Decode an image file fully: first frame, EXIF orientation applied, ICC profile kept in `.info`.

    Notes for the user (first frame of an animation...) are in `image.info['cnaps_notes']`.
    """
    path = _existing(path)
    notes: list[str] = []
    # Some libraries (weasyprint) switch on Pillow's process-wide "accept truncated files"; a truncated input must
    # still be refused, never restored from half its pixels.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    with _opened(path, max_pixels) as image:
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
        check_samples(image, str(path))
        decoded = ImageOps.exif_transpose(image)
    if icc:
        decoded.info["icc_profile"] = icc
    decoded.info["cnaps_notes"] = notes
    return decoded


class Source:
    """A PIL image of any mode, read for the network band by band: float RGB rows in [0, 1], `scale` times larger.

    Only the rows asked for are converted, so a huge image never exists as float. With `scale` > 1 the planes are
    held as float at the input's own size and each band is Lanczos-enlarged on its own (Pillow's `box` resize: the
    same filter taps as enlarging the whole image). What the network must not see travels beside the rows: the
    alpha channel (enlarged on its own), the bit depth, the ICC profile, and whether the image was grayscale or
    CMYK, so `Sink` can rebuild the same kind of image.
    """

    def __init__(self, image: Image.Image, scale: int = 1) -> None:
        self.notes: list[str] = list(image.info.get("cnaps_notes", []))
        self.icc_profile: bytes | None = image.info.get("icc_profile")
        self.kind, self.bits, self.has_alpha, self.scale = "RGB", 8, False, scale
        mode = image.mode
        if mode in _SIXTEEN_BIT:
            self.kind, self.bits = "L", 16
        elif mode == "P":
            image = image.convert("RGBA" if "transparency" in image.info else "RGB")
            self.notes.append("palette image: the output is full-colour (a palette cannot hold restored colours)")
            self.has_alpha = image.mode == "RGBA"
        elif mode in ("L", "LA", "1"):
            self.kind, self.has_alpha = "L", mode == "LA"
        elif mode == "CMYK":
            self.kind = "CMYK"
        elif mode in ("RGBA", "RGBa", "PA", "La") or "transparency" in image.info:
            self.has_alpha = True
        self.image = image
        width, height = image.size
        self.size = (width * scale, height * scale)  # (width, height) of the rows handed out
        self._planes: list[Image.Image] = []
        self._alpha_plane: Image.Image | None = None
        if scale > 1:  # float planes at the input's size; bands are enlarged from them
            rgb = self._read(0, height)
            channels = 1 if self.kind == "L" else 3
            self._planes = [Image.fromarray(np.ascontiguousarray(rgb[..., i]), "F") for i in range(channels)]
            del rgb
            if self.has_alpha:
                alpha = self._read_alpha(0, height).astype(np.float32) / 255.0
                self._alpha_plane = Image.fromarray(alpha, "F")

    def _crop(self, top: int, bottom: int) -> Image.Image:
        return self.image.crop((0, top, self.image.width, bottom))

    def _read(self, top: int, bottom: int) -> np.ndarray:
        """Rows [top, bottom) of the input at its own size: (h, W, 3) float32 in [0, 1]."""
        band = self._crop(top, bottom)
        if self.bits == 16:
            gray = np.clip(np.asarray(band, dtype=np.float32), 0, 65535) / 65535.0
        elif self.kind == "L":
            gray = np.asarray(band.getchannel("L") if band.mode == "LA" else band.convert("L"), np.float32) / 255.0
        else:
            rgb = np.array(band.convert("RGB"), dtype=np.float32)
            rgb /= 255.0
            return rgb
        return np.repeat(gray[..., None], 3, axis=2)

    def _read_alpha(self, top: int, bottom: int) -> np.ndarray:
        band = self._crop(top, bottom)
        return np.asarray(band.getchannel("A") if band.mode in ("LA", "RGBA") else band.convert("RGBA").getchannel("A"))

    def _enlarge(self, plane: Image.Image, top: int, bottom: int) -> np.ndarray:
        box = (0, top / self.scale, plane.width, bottom / self.scale)
        band = plane.resize((self.size[0], bottom - top), Image.Resampling.LANCZOS, box=box)
        return np.clip(np.asarray(band, dtype=np.float32), 0.0, 1.0)

    def rgb(self, top: int, bottom: int) -> np.ndarray:
        """Output rows [top, bottom) as the network's input: (h, W, 3) float32 in [0, 1]."""
        if self.scale == 1:
            return self._read(top, bottom)
        planes = [self._enlarge(plane, top, bottom) for plane in self._planes]
        return np.repeat(planes[0][..., None], 3, axis=2) if len(planes) == 1 else np.stack(planes, axis=2)

    def alpha(self, top: int, bottom: int) -> np.ndarray | None:
        """Output rows [top, bottom) of the alpha channel, (h, W) uint8, or None."""
        if not self.has_alpha:
            return None
        if self._alpha_plane is None:
            return self._read_alpha(top, bottom)
        return np.rint(self._enlarge(self._alpha_plane, top, bottom) * 255.0).astype(np.uint8)


class Sink:
    """The output image, filled band by band from the network's RGB in `source`'s layout (mode, depth, ICC)."""

    def __init__(self, source: Source) -> None:
        self.source = source
        if source.kind == "L":
            mode = "LA" if source.has_alpha else ("I;16" if source.bits == 16 else "L")
        else:
            mode = "RGBA" if source.has_alpha else "RGB"
        self.mode = mode
        self.out = Image.new("CMYK" if source.kind == "CMYK" else mode, source.size)

    def write(self, top: int, rgb: np.ndarray, alpha: np.ndarray | None = None) -> None:
        """Rows from `top`: rgb (h, W, 3) float (clipped in place, may be overwritten), alpha (h, W) uint8."""
        rgb = np.clip(rgb, 0.0, 1.0, out=rgb)
        if self.source.kind == "L":
            gray = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601 luma, as PIL's convert('L')
            if self.mode == "I;16":
                band = Image.fromarray(np.rint(gray * 65535.0).astype(np.uint16))  # mode I;16
            else:
                pixels = np.rint(gray * 255.0).astype(np.uint8)
                band = Image.fromarray(pixels if alpha is None else np.stack([pixels, alpha], axis=2))
        else:
            rgb *= 255.0
            pixels = np.rint(rgb, out=rgb).astype(np.uint8)
            band = Image.fromarray(pixels if alpha is None else np.concatenate([pixels, alpha[..., None]], axis=2))
        if self.source.kind == "CMYK":
            band = band.convert("CMYK")
        self.out.paste(band, (0, top))

    def image(self) -> Image.Image:
        if self.source.icc_profile:
            self.out.info["icc_profile"] = self.source.icc_profile
        return self.out


def rebuild(rgb: np.ndarray, source: Source) -> Image.Image:
    """A whole image from full-size network RGB (h, W, 3), with `source`'s alpha and layout."""
    sink = Sink(source)
    sink.write(0, rgb, source.alpha(0, source.size[1]))
    return sink.image()


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
    make_folder(path.parent)
    atomic_write(path, lambda stream: image.save(stream, format=fmt, **options), replace=overwrite)
    return path


def make_folder(folder: Path) -> Path:
    """Create `folder` (and its parents) for outputs, or fail with an OutputError saying to choose another."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"cannot write into {folder} ({error.strerror or error}): choose a writable folder") \
            from error
    return folder


@contextmanager
def folder_kept_only_if_used(folder: Path | None) -> Iterator[None]:
    """Run the block; when it fails, remove what it created of `folder` (and of its missing parents) if left
    empty, so a refused input never leaves an empty output folder behind. What existed before is never touched."""
    missing: list[Path] = []  # deepest first
    if folder is not None:
        level = Path(folder).expanduser().absolute()
        while not level.exists() and level != level.parent:
            missing.append(level)
            level = level.parent
    try:
        yield
    except BaseException:
        for level in missing:
            try:
                level.rmdir()  # an empty folder only
            except OSError:
                break
        raise


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp", ".gif")


def check_not_reference(output: Path, reference: Path | None) -> None:
    """Refuse an output (file or folder) that is the `--compare` reference: writing it would destroy the reference
    and compare the result with itself."""
    if reference is None:
        return
    output, reference = Path(output).expanduser(), Path(reference).expanduser()
    if same_file(output, reference) or output.resolve() == reference.resolve():
        kind = "folder" if reference.is_dir() else "file"
        raise OutputError(f"output {output} is the --compare reference {kind}: choose a different output path")


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
