"""Any image file opens into network RGB and goes back to its own layout; outputs are written atomically."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageCms

from agent.errors import ImageError, OutputError
from tools.restoration.imageio import Sink, Source, check_image_file, open_image, rebuild, save_image_atomic

LIMIT = 10_000_000


def _noise(width: int, height: int, mode: str = "RGB") -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), "RGB").convert(mode)


def test_exif_orientation_is_applied(tmp_path):
    image = _noise(40, 20)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    path = tmp_path / "rotated.jpg"
    image.save(path, exif=exif)
    opened = open_image(path, LIMIT)
    assert opened.size == (20, 40)
    assert opened.getexif().get(0x0112, 1) == 1


def test_icc_profile_is_kept_through_a_round_trip(tmp_path):
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    source = tmp_path / "icc.png"
    _noise(8, 8).save(source, icc_profile=icc)
    picture = Source(open_image(source, LIMIT))
    out = save_image_atomic(rebuild(picture.rgb(0, 8), picture), tmp_path / "out.png")
    assert Image.open(out).info.get("icc_profile") == icc


def test_animated_gif_gives_first_frame_and_a_note(tmp_path):
    frames = [Image.new("RGB", (6, 6), color) for color in ("red", "blue", "green")]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    opened = open_image(path, LIMIT)
    assert opened.convert("RGB").getpixel((0, 0)) == (255, 0, 0)
    assert "3 frames" in opened.info["cnaps_notes"][0]
    assert "3 frames" in Source(opened).notes[0]


def test_decompression_bomb_is_refused_with_the_fix(tmp_path):
    path = tmp_path / "big.png"
    Image.new("L", (300, 200)).save(path)
    with pytest.raises(ImageError) as caught:
        open_image(path, max_pixels=50_000)
    assert "CNAPS_RESTORE__MAX_PIXELS" in str(caught.value) and "60,000" in str(caught.value)


@pytest.mark.parametrize("content", [b"", b"hello, not an image", "truncated"])
def test_unreadable_files_give_one_line_errors(tmp_path, content):
    path = tmp_path / "bad.png"
    if content == "truncated":
        _noise(64, 64).save(path)
        path.write_bytes(path.read_bytes()[:300])
    else:
        path.write_bytes(content)
    with pytest.raises(ImageError) as caught:
        open_image(path, LIMIT)
    assert "\n" not in str(caught.value) and str(path) in str(caught.value)
    with pytest.raises(ImageError, match="does not exist"):
        open_image(tmp_path / "absent.png", LIMIT)


@pytest.mark.parametrize(
    ("mode", "kind", "has_alpha"),
    [("RGB", "RGB", False), ("RGBA", "RGB", True), ("L", "L", False), ("LA", "L", True),
     ("P", "RGB", False), ("CMYK", "CMYK", False), ("1", "L", False)],
)
def test_every_mode_round_trips_through_network_rgb(mode, kind, has_alpha):
    image = _noise(9, 7, mode)
    picture = Source(image)
    rgb = picture.rgb(0, 7)
    assert rgb.shape == (7, 9, 3) and rgb.dtype == np.float32
    assert 0.0 <= rgb.min() and rgb.max() <= 1.0
    assert picture.kind == kind and (picture.alpha(0, 7) is not None) == has_alpha
    back = rebuild(rgb, picture)
    expected_mode = {"P": "RGB", "1": "L"}.get(mode, mode)
    assert back.mode == expected_mode
    if mode in ("RGB", "RGBA", "L", "LA", "P"):
        assert np.array_equal(np.asarray(back), np.asarray(image.convert(expected_mode)))


def test_sixteen_bit_stays_sixteen_bit_where_the_format_allows(tmp_path):
    values = (np.arange(30 * 20, dtype=np.uint32).reshape(20, 30) * 101 % 65536).astype(np.uint16)
    source = tmp_path / "deep.png"
    Image.fromarray(values).save(source)
    picture = Source(open_image(source, LIMIT))
    assert picture.bits == 16
    back = rebuild(picture.rgb(0, 20), picture)
    assert back.mode == "I;16" and np.array_equal(np.asarray(back), values)
    png = Image.open(save_image_atomic(back, tmp_path / "out.png"))
    assert png.mode == "I;16" and np.array_equal(np.asarray(png), values)
    jpg = Image.open(save_image_atomic(back, tmp_path / "out.jpg"))
    assert jpg.mode == "L"


def test_palette_with_transparency_keeps_alpha():
    image = Image.new("P", (4, 4), 0)
    image.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    image.putpixel((1, 1), 1)
    image.info["transparency"] = 1
    picture = Source(image)
    alpha = picture.alpha(0, 4)
    assert alpha is not None and alpha[1, 1] == 0 and alpha[0, 0] == 255
    assert "palette" in picture.notes[0]


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "CMYK", "I;16"])
@pytest.mark.parametrize("scale", [1, 3])
def test_bands_equal_the_whole_image(mode, scale):
    """Reading and writing in bands gives the same image as one whole-image pass, enlarged or not."""
    image = _noise(23, 19, "RGB")
    image = (Image.fromarray((np.asarray(image.convert("L"), dtype=np.uint16) * 257)) if mode == "I;16"
             else image.convert(mode))
    source = Source(image, scale)
    width, height = source.size
    assert (width, height) == (23 * scale, 19 * scale)
    whole = source.rgb(0, height)
    cuts = [0, 5, 6, 17, height]
    bands = np.concatenate([source.rgb(a, b) for a, b in zip(cuts, cuts[1:])])
    np.testing.assert_allclose(bands, whole, atol=1e-5)
    if scale == 1:
        np.testing.assert_array_equal(whole, Source(image).rgb(0, height))
    else:  # the band enlargement is Pillow's whole-image Lanczos, plane by plane
        plane = Image.fromarray(np.ascontiguousarray(Source(image).rgb(0, 19)[..., 0]), "F")
        expected = np.clip(np.asarray(plane.resize((width, height), Image.Resampling.LANCZOS)), 0, 1)
        np.testing.assert_allclose(whole[..., 0], expected, atol=1e-5)
    sink = Sink(source)
    for a, b in zip(cuts, cuts[1:]):
        sink.write(a, whole[a:b].copy(), source.alpha(a, b))
    banded = sink.image()
    once = rebuild(whole.copy(), source)
    assert banded.mode == once.mode and np.array_equal(np.asarray(banded), np.asarray(once))


def test_refuses_to_overwrite_input_or_existing_output(tmp_path):
    source = tmp_path / "in.png"
    _noise(4, 4).save(source)
    with pytest.raises(OutputError, match="is the input"):
        save_image_atomic(_noise(4, 4), source, overwrite=True, source=source)
    existing = tmp_path / "out.png"
    existing.write_bytes(b"keep me")
    with pytest.raises(OutputError, match="--overwrite"):
        save_image_atomic(_noise(4, 4), existing)
    assert existing.read_bytes() == b"keep me"
    save_image_atomic(_noise(4, 4), existing, overwrite=True)
    assert Image.open(existing).size == (4, 4)


def test_alpha_into_jpeg_and_unknown_suffix_are_refused(tmp_path):
    with pytest.raises(OutputError, match="png"):
        save_image_atomic(_noise(4, 4, "RGBA"), tmp_path / "out.jpg")
    with pytest.raises(OutputError, match="cannot write"):
        save_image_atomic(_noise(4, 4), tmp_path / "out.xyz")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("failure", [KeyboardInterrupt, OSError])
def test_failed_write_leaves_no_file(tmp_path, monkeypatch, failure):
    def broken_save(self, fp, format=None, **params):
        fp.write(b"partial")
        raise failure("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    raised = OutputError if failure is OSError else KeyboardInterrupt
    with pytest.raises(raised):
        save_image_atomic(_noise(4, 4), tmp_path / "out.png")
    assert list(tmp_path.iterdir()) == []


def _png_rgb16(path, width=5, height=3):
    """A 16-bit-per-channel RGB PNG written by hand (Pillow cannot write one)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + np.full((width, 3), 40000, ">u2").tobytes() for _ in range(height))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
    return path


def test_sixteen_bit_colour_is_read_as_eight_bit_with_a_note(tmp_path):
    opened = open_image(_png_rgb16(tmp_path / "rgb16.png"), LIMIT)
    assert opened.mode == "RGB" and opened.size == (5, 3)
    assert opened.getpixel((0, 0)) == (156, 156, 156)  # Pillow keeps the high byte: 40000 >> 8
    assert "16-bit colour" in opened.info["cnaps_notes"][0]


def test_float_samples_are_refused_with_how_to_convert(tmp_path):
    path = tmp_path / "float.tif"
    Image.fromarray(np.random.default_rng(0).random((8, 8), dtype=np.float32)).save(path)
    for read in (open_image, check_image_file):
        with pytest.raises(ImageError, match="floating-point.*8- or 16-bit PNG or TIFF"):
            read(path, LIMIT)


def test_wide_32_bit_integers_are_refused_and_16_bit_ones_read_as_16_bit(tmp_path):
    wide = tmp_path / "wide.tif"
    Image.fromarray(np.arange(64, dtype=np.int32).reshape(8, 8) * 15_000).save(wide)
    with pytest.raises(ImageError, match="0 to 945000.*8- or 16-bit PNG or TIFF"):
        open_image(wide, LIMIT)
    narrow = tmp_path / "narrow.tif"
    values = np.arange(64, dtype=np.int32).reshape(8, 8) * 1000
    Image.fromarray(values).save(narrow)
    picture = Source(open_image(narrow, LIMIT))
    assert picture.bits == 16 and np.allclose(picture.rgb(0, 8)[..., 0] * 65535, values, atol=0.5)


def test_header_check_gives_the_size_without_decoding_and_refuses_non_images(tmp_path):
    path = tmp_path / "photo.png"
    _noise(40, 20).save(path)
    path.write_bytes(path.read_bytes()[:200])  # truncated: the header alone still reads
    assert check_image_file(path, LIMIT) == (40, 20)
    with pytest.raises(ImageError, match="more than the limit"):
        check_image_file(path, 100)
    (tmp_path / "notimage.png").write_text("hello")
    with pytest.raises(ImageError, match="cannot read .*notimage.png as an image"):
        check_image_file(tmp_path / "notimage.png", LIMIT)
