"""Uploads, checked before anything else reads them: size in bytes, real type (sniffed by PIL, never the file
name or the declared content type), pixel count, and a full decode so truncated files fail here, not mid-job."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageFile, UnidentifiedImageError

from agent.errors import CnapsError, ImageError, InputFileError
from tools.restoration.imageio import check_samples

# Formats a browser or camera produces (the JPEG opener also yields MPO, a camera JPEG variant). Restricting `Image.open` to these keeps PIL away from decoders that
# shell out (EPS runs Ghostscript) or that nobody uploads on purpose.
IMAGE_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")
EXTENSIONS = {"PNG": "png", "JPEG": "jpg", "MPO": "jpg", "WEBP": "webp", "GIF": "gif", "BMP": "bmp", "TIFF": "tif"}


class TooLargeError(CnapsError):
    http_status = 413


class UnsupportedTypeError(InputFileError):
    http_status = 415


@dataclass(frozen=True)
class CheckedImage:
    data: bytes
    format: str  # PIL's name, e.g. 'PNG'
    size: tuple[int, int]  # (width, height) as stored, before EXIF rotation
    mode: str

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.format]


def check_size(data: bytes, limit: int, what: str) -> None:
    """`data` is read up to `limit` + 1 bytes at most, so a larger upload is said to be "over", not sized."""
    if len(data) > limit:
        raise TooLargeError(
            f"{what} is over this server's limit of {limit:,} bytes: send a smaller file "
            f"(or raise CNAPS_SERVER__MAX_UPLOAD_BYTES / CNAPS_SERVER__MAX_CARD_BYTES)"
        )


def check_image(data: bytes, max_bytes: int, max_pixels: int) -> CheckedImage:
    """Accept `data` only if PIL recognises it as one of IMAGE_FORMATS and decodes it completely."""
    if not data:
        raise ImageError("the image upload is empty (0 bytes): attach a PNG, JPEG, WebP, GIF, BMP or TIFF file")
    check_size(data, max_bytes, "the image")
    # PIL reads this flag at decode time; a library that set it (weasyprint does, on import) would let
    # truncated uploads through, so the upload check insists on the strict default.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=IMAGE_FORMATS)
            width, height = image.size
            if width * height > max_pixels:
                raise TooLargeError(
                    f"the image is {width}x{height} = {width * height:,} pixels, over this server's limit of "
                    f"{max_pixels:,}: downscale it first (or raise CNAPS_RESTORE__MAX_PIXELS)"
                )
            image.load()  # decodes every byte: truncated or corrupt data fails here
            check_samples(image, "the image")
    except UnidentifiedImageError:
        raise UnsupportedTypeError(
            "the upload is not an image this server reads (whatever its name or content type says): "
            "attach a PNG, JPEG, WebP, GIF, BMP or TIFF file"
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise TooLargeError(
            f"the image declares far more pixels than this server's limit of {max_pixels:,} (a decompression "
            "bomb, or a huge scan): downscale it first"
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise ImageError(f"the image could not be decoded ({error}): it may be truncated; upload it again") from None
    return CheckedImage(data=data, format=image.format or "PNG", size=(width, height), mode=image.mode)


def decode_text(data: bytes, max_bytes: int, what: str = "the card") -> str:
    """UTF-8 text of an uploaded card (a BOM is dropped); binary or non-UTF-8 data is refused."""
    check_size(data, max_bytes, what)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnsupportedTypeError(f"{what} is not UTF-8 text: save it as UTF-8 and upload it again") from None
    if "\x00" in text:
        raise UnsupportedTypeError(f"{what} holds binary data (NUL bytes): upload the plain-text card")
    return text
