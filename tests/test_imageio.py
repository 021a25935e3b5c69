"""Evidence loading, on real files written with Pillow into tmp_path and shipped photographs."""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import random
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFile

from inspector.core import imageio
from inspector.core.imageio import (
    ERROR_KINDS,
    IMAGE_SUFFIXES,
    ImageLoadError,
    LoadedImage,
    iter_image_files,
    load_image,
)
from tests.conftest import shared_fixtures

C2PA = shared_fixtures() / "c2pa"
RED, BLUE, WHITE = (255, 0, 0), (0, 0, 255), (255, 255, 255)


# ---------------------------------------------------------------------------------- helpers


def close(pixel, expected, tol=12) -> bool:
    return all(abs(a - b) <= tol for a, b in zip(pixel, expected, strict=True))


def corner_image(width=40, height=20) -> Image.Image:
    """Blue image with a red block in the stored top-left corner."""
    im = Image.new("RGB", (width, height), BLUE)
    im.paste(RED, (0, 0, 8, 8))
    return im


def camera_exif(orientation: int | None = None, gps: bool = True) -> Image.Exif:
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    exif[0x010F] = "Canon"
    exif[0x0110] = "Canon EOS R5"
    exif[0x0131] = "Firmware 1.8.1\x00"
    exif[0x0132] = "2024:05:06 07:08:09"
    exif.get_ifd(0x8769)[0x9003] = "2024:05:06 07:08:00"
    if gps:
        exif.get_ifd(0x8825)[1] = "N"
    return exif


def save(tmp_path: Path, name: str, im: Image.Image, fmt: str | None = None, **kw) -> Path:
    path = tmp_path / name
    im.save(path, fmt, **kw)
    return path


def png_bytes(width: int, height: int, idat: bytes | None = None) -> bytes:
    """A hand-built 8-bit RGB PNG whose header can claim any size."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    if idat is None:
        idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def cmyk_icc_profile(lab=(200, 128, 128)) -> bytes:
    """Minimal ICC v2 CMYK profile whose A2B0 maps every ink mix to one neutral Lab grey.

    If the loader honours the profile, pure red ink comes out grey; a plain conversion gives red.
    """

    def s15(x: float) -> bytes:
        return struct.pack(">i", round(x * 65536))

    text = b"test CMYK\x00"
    desc = b"desc" + bytes(4) + struct.pack(">I", len(text)) + text + bytes(8 + 3 + 67)
    wtpt = b"XYZ " + bytes(4) + s15(0.9642) + s15(1.0) + s15(0.8249)
    cprt = b"text" + bytes(4) + b"none\x00"
    identity = b"".join(s15(v) for v in (1, 0, 0, 0, 1, 0, 0, 0, 1))
    ramp = bytes(range(256))
    a2b0 = b"mft1" + bytes(4) + bytes([4, 3, 2, 0]) + identity + ramp * 4 + bytes(lab) * 16
    a2b0 += ramp * 3
    tags = [(b"desc", desc), (b"wtpt", wtpt), (b"cprt", cprt), (b"A2B0", a2b0)]
    offset = 128 + 4 + 12 * len(tags)
    table, body = struct.pack(">I", len(tags)), b""
    for sig, blob in tags:
        blob += bytes(-len(blob) % 4)
        table += sig + struct.pack(">II", offset + len(body), len(blob))
        body += blob
    header = (
        struct.pack(">I", offset + len(body))
        + bytes(4)
        + bytes([2, 0x10, 0, 0])
        + b"prtrCMYKLab "
        + bytes(12)
        + b"acsp"
        + bytes(24)
        + bytes(4)
        + s15(0.9642)
        + s15(1.0)
        + s15(0.8249)
        + bytes(48)
    )
    assert len(header) == 128
    return header + table + body


def load_error(path: Path | str, **kw) -> ImageLoadError:
    with pytest.raises(ImageLoadError) as info:
        load_image(path, **kw)
    err = info.value
    assert err.kind in ERROR_KINDS
    assert err.__cause__ is not None, "ImageLoadError must be raised from the lower error"
    assert Path(path).name in str(err), f"message does not name the file: {err}"
    assert str(err).startswith(f"{Path(path)}: ")
    return err


# ---------------------------------------------------------------------------------- success paths


@pytest.mark.parametrize("fmt, suffix", [("JPEG", ".jpg"), ("PNG", ".png")])
@pytest.mark.parametrize(
    "orientation, size, red_corner",
    [
        # 6: the camera was rotated clockwise; the stored top-left is displayed top-right.
        (6, (20, 40), (19 - 2, 2)),
        # 8: rotated counter-clockwise; the stored top-left is displayed bottom-left.
        (8, (20, 40), (2, 39 - 2)),
        (3, (40, 20), (39 - 2, 19 - 2)),
        (1, (40, 20), (2, 2)),
    ],
)
def test_exif_orientation_is_applied(tmp_path, fmt, suffix, orientation, size, red_corner):
    path = save(
        tmp_path,
        f"o{orientation}{suffix}",
        corner_image(),
        fmt,
        exif=camera_exif(orientation),
        **({"quality": 95} if fmt == "JPEG" else {}),
    )
    loaded = load_image(path)
    assert loaded.orientation == orientation
    assert (loaded.width, loaded.height) == size == loaded.image.size
    assert close(loaded.image.getpixel(red_corner), RED)
    assert loaded.image.mode == "RGB"
    assert loaded.format == fmt
    # the rest of the picture is still blue: the whole image turned, not just the corner
    w, h = size
    assert close(loaded.image.getpixel((w // 2, h // 2)), BLUE)


def test_exif_summary(tmp_path):
    path = save(tmp_path, "cam.jpg", corner_image(), exif=camera_exif(6))
    assert load_image(path).exif == {
        "make": "Canon",
        "model": "Canon EOS R5",
        "software": "Firmware 1.8.1",
        "datetime": "2024:05:06 07:08:09",
        "datetime_original": "2024:05:06 07:08:00",
        "gps_present": "yes",
    }
    no_gps = save(tmp_path, "nogps.jpg", corner_image(), exif=camera_exif(gps=False))
    assert load_image(no_gps).exif["gps_present"] == "no"


def test_no_exif(tmp_path):
    loaded = load_image(save(tmp_path, "plain.png", corner_image()))
    assert loaded.orientation is None
    assert loaded.exif == {"gps_present": "no"}
    assert loaded.frame_count == 1
    assert loaded.original_mode == "RGB"


def test_result_is_detached_and_loaded(tmp_path):
    loaded = load_image(save(tmp_path, "plain.png", corner_image()))
    assert isinstance(loaded, LoadedImage)
    assert type(loaded.image) is Image.Image  # not a lazily decoded ImageFile tied to a stream
    assert loaded.image.getpixel((2, 2)) == RED


def test_cmyk_jpeg_without_profile(tmp_path):
    path = save(tmp_path, "cmyk.jpg", Image.new("CMYK", (16, 16), (0, 255, 255, 0)), quality=95)
    loaded = load_image(path)
    assert loaded.original_mode == "CMYK"
    assert loaded.image.mode == "RGB"
    assert close(loaded.image.getpixel((8, 8)), RED)


def test_cmyk_jpeg_uses_embedded_icc_profile(tmp_path):
    im = Image.new("CMYK", (16, 16), (0, 255, 255, 0))
    path = save(tmp_path, "cmyk_icc.jpg", im, quality=95, icc_profile=cmyk_icc_profile())
    r, g, b = load_image(path).image.getpixel((8, 8))
    assert max(r, g, b) - min(r, g, b) <= 3, "the profile (all grey) was not used"
    assert 100 < r < 230


def test_cmyk_with_broken_profile_falls_back(tmp_path):
    im = Image.new("CMYK", (16, 16), (0, 255, 255, 0))
    path = save(tmp_path, "cmyk_bad.jpg", im, quality=95, icc_profile=b"not a profile" * 20)
    assert close(load_image(path).image.getpixel((8, 8)), RED)


def test_16bit_png_keeps_mid_grey(tmp_path):
    arr = np.zeros((8, 8), np.uint16)
    arr[:, :2] = 0
    arr[:, 2:4] = 32768
    arr[:, 4:6] = 65535
    arr[:, 6:] = 1000
    path = tmp_path / "grey16.png"
    Image.fromarray(arr).save(path)
    loaded = load_image(path)
    assert loaded.original_mode.startswith("I")
    px = np.asarray(loaded.image)
    assert px.dtype == np.uint8 and px.shape == (8, 8, 3)
    assert (px[:, 0] == 0).all()
    assert (np.abs(px[:, 2].astype(int) - 128) <= 1).all()  # mid-grey stays mid-grey
    assert (px[:, 4] == 255).all()
    assert (px[:, 6] == 4).all()  # 1000 / 257: dark stays dark (scaled, not stretched)


@pytest.mark.parametrize(
    "array, expected",
    [
        (np.array([[0, 40000, 65535]], np.int32), [0, 156, 255]),  # 16-bit data in mode I
        (np.array([[-10, 0, 10]], np.int32), [0, 128, 255]),  # outside 16 bits: min-max
        (np.array([[0.0, 0.5, 1.0]], np.float32), [0, 128, 255]),  # normalised float
        (np.array([[-1.0, np.nan, 3.0]], np.float32), [0, 0, 255]),  # NaN does not poison
    ],
)
def test_32bit_and_float_are_scaled(tmp_path, array, expected):
    path = tmp_path / "wide.tif"
    Image.fromarray(array).save(path)
    loaded = load_image(path)
    assert loaded.original_mode in ("I", "F")
    assert np.asarray(loaded.image)[0, :, 0].tolist() == expected


def test_palette_with_transparency_over_white(tmp_path):
    im = Image.new("P", (10, 10), 0)
    im.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    im.paste(1, (0, 0, 5, 10))  # left half red, right half index 0 (transparent black)
    for name in ("pal.png", "pal.gif"):
        path = save(tmp_path, name, im, transparency=0)
        loaded = load_image(path)
        assert loaded.original_mode == "P"
        assert loaded.image.getpixel((2, 5)) == RED
        assert loaded.image.getpixel((8, 5)) == WHITE


def test_rgba_and_la_composited_over_white(tmp_path):
    rgba = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    rgba.paste((255, 0, 0, 255), (0, 0, 5, 10))
    rgba.paste((0, 0, 0, 128), (5, 0, 10, 5))
    loaded = load_image(save(tmp_path, "rgba.png", rgba))
    assert loaded.original_mode == "RGBA"
    assert loaded.image.getpixel((2, 2)) == RED
    assert loaded.image.getpixel((7, 8)) == WHITE  # fully transparent black shows as white
    assert close(loaded.image.getpixel((7, 2)), (127, 127, 127), tol=2)  # half-transparent black

    la = Image.new("LA", (4, 4), (0, 0))
    assert load_image(save(tmp_path, "la.png", la)).image.getpixel((1, 1)) == WHITE


def test_one_bit(tmp_path):
    im = Image.new("1", (8, 8), 0)
    im.paste(1, (0, 0, 4, 8))
    loaded = load_image(save(tmp_path, "bw.png", im))
    assert loaded.original_mode == "1"
    assert loaded.image.getpixel((1, 1)) == WHITE
    assert loaded.image.getpixel((6, 1)) == (0, 0, 0)


def test_greyscale_becomes_rgb(tmp_path):
    loaded = load_image(save(tmp_path, "l.jpg", Image.new("L", (8, 8), 77), quality=100))
    assert loaded.image.mode == "RGB"
    assert close(loaded.image.getpixel((1, 1)), (77, 77, 77), tol=2)


@pytest.mark.parametrize("fmt, name", [("GIF", "a.gif"), ("PNG", "a.png"), ("WEBP", "a.webp")])
def test_animation_first_frame_and_frame_count(tmp_path, fmt, name):
    frames = [Image.new("RGB", (16, 16), c) for c in (RED, (0, 255, 0), BLUE)]
    extra = {"lossless": True} if fmt == "WEBP" else {}
    path = tmp_path / name
    frames[0].save(path, fmt, save_all=True, append_images=frames[1:], duration=100, **extra)
    loaded = load_image(path)
    assert loaded.frame_count == 3
    assert loaded.format == fmt
    assert close(loaded.image.getpixel((8, 8)), RED)


def test_mpo_stereo_pair(tmp_path):
    left, right = Image.new("RGB", (16, 16), RED), Image.new("RGB", (16, 16), BLUE)
    path = tmp_path / "stereo.mpo"
    left.save(path, "MPO", save_all=True, append_images=[right])
    loaded = load_image(path)
    assert (loaded.format, loaded.frame_count) == ("MPO", 2)
    assert close(loaded.image.getpixel((8, 8)), RED)


# ---------------------------------------------------------------------------------- size limits


def test_bomb_refused_from_header_without_decoding(tmp_path, monkeypatch):
    # The pixel data is garbage: decoding would fail with a different error.
    path = tmp_path / "bomb.png"
    path.write_bytes(png_bytes(5000, 4000, idat=b"garbage"))

    def no_decoding(self):
        raise AssertionError("pixel data was decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    err = load_error(path, max_pixels=1_000_000)
    assert err.kind == "too-large"
    assert "5000 × 4000" in str(err)


def test_small_limit_refuses_real_image(tmp_path):
    path = save(tmp_path, "big.jpg", corner_image(40, 20))
    assert load_error(path, max_pixels=799).kind == "too-large"
    assert load_image(path, max_pixels=800).width == 40


def test_pillow_bomb_error_becomes_too_large(tmp_path):
    # 30000 × 30000 is past twice Pillow's own limit, so Image.open itself raises.
    path = tmp_path / "huge.png"
    path.write_bytes(png_bytes(30000, 30000))
    err = load_error(path, max_pixels=10**12)
    assert err.kind == "too-large"
    assert isinstance(err.__cause__, Image.DecompressionBombError)


def test_pillow_bomb_warning_as_error_becomes_too_large(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 40 × 40 is over 1× but under 2×
    path = save(tmp_path, "warn.png", corner_image(40, 40))
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        err = load_error(path)
    assert err.kind == "too-large"
    assert isinstance(err.__cause__, Image.DecompressionBombWarning)


def test_file_size_cap(tmp_path):
    path = save(tmp_path, "a.png", corner_image())
    err = load_error(path, max_bytes=10)
    assert err.kind == "too-large"


# ---------------------------------------------------------------------------------- failures


@pytest.fixture(scope="module")
def photo_bytes() -> dict[str, bytes]:
    """A real photograph (scikit-image's astronaut) in several encodings."""
    skdata = pytest.importorskip("skimage.data")
    im = Image.fromarray(skdata.astronaut()).resize((256, 256))
    out = {}
    for fmt, kw in [
        ("JPEG", {"quality": 90}),
        ("PNG", {}),
        ("GIF", {}),
        ("WEBP", {}),
        ("TIFF", {}),
        ("TIFF", {"compression": "tiff_deflate"}),
        ("BMP", {}),
    ]:
        buf = io.BytesIO()
        im.save(buf, fmt, **kw)
        out[fmt + ("-deflate" if kw.get("compression") else "")] = buf.getvalue()
    buf = io.BytesIO()
    im.save(buf, "JPEG", progressive=True)
    out["JPEG-progressive"] = buf.getvalue()
    return out


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data:UserWarning")
@pytest.mark.parametrize(
    "key", ["JPEG", "JPEG-progressive", "PNG", "GIF", "WEBP", "TIFF", "TIFF-deflate", "BMP"]
)
@pytest.mark.parametrize("keep", [0.02, 0.5, 0.97])
def test_truncated(tmp_path, photo_bytes, key, keep):
    data = photo_bytes[key]
    path = tmp_path / f"holiday.{key.split('-')[0].lower()}"
    path.write_bytes(data[: max(int(len(data) * keep), 12)])
    err = load_error(path)
    assert err.kind == "truncated", str(err)
    assert "truncated" in str(err) and "incomplete download or copy" in str(err)


def test_truncated_jpeg_missing_only_end_marker(tmp_path, photo_bytes):
    path = tmp_path / "cut.jpg"
    path.write_bytes(photo_bytes["JPEG"][:-2])
    assert load_error(path).kind == "truncated"


def test_truncated_never_enables_pillow_global(tmp_path, photo_bytes):
    path = tmp_path / "cut.jpg"
    path.write_bytes(photo_bytes["JPEG"][:5000])
    load_error(path)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


@pytest.mark.parametrize("key", ["JPEG", "PNG", "GIF"])
def test_truncated_even_if_pillow_global_was_enabled(tmp_path, photo_bytes, monkeypatch, key):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)  # as some other code might
    path = tmp_path / f"cut.{key.lower()}"
    path.write_bytes(photo_bytes[key][: len(photo_bytes[key]) // 2])
    assert load_error(path).kind == "truncated"


def test_damaged_png_is_unreadable(tmp_path, photo_bytes):
    data = bytearray(photo_bytes["PNG"])
    at = data.find(b"IDAT") + 200
    data[at : at + 50] = bytes(50)
    path = tmp_path / "damaged.png"
    path.write_bytes(bytes(data))
    err = load_error(path)
    assert err.kind == "unreadable"
    assert "damaged" in str(err)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    key=st.sampled_from(["JPEG", "PNG", "GIF", "WEBP", "TIFF", "TIFF-deflate", "BMP"]),
    edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), max_size=6),
    keep=st.floats(0.01, 1.0),
)
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_damaged_files_only_ever_raise_image_load_error(tmp_path, photo_bytes, key, edits, keep):
    data = bytearray(photo_bytes[key])
    for where, value in edits:
        data[int(where * len(data))] = value
    path = tmp_path / "fuzz.bin"
    path.write_bytes(bytes(data[: max(1, int(len(data) * keep))]))
    try:
        loaded = load_image(path)
    except ImageLoadError as err:
        assert err.kind in ERROR_KINDS and "fuzz.bin" in str(err)
    else:
        assert loaded.image.mode == "RGB" and loaded.image.size == (loaded.width, loaded.height)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.jpg"
    path.touch()
    err = load_error(path)
    assert err.kind == "empty"
    assert "empty" in str(err)


def test_text_renamed_jpg(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("Meeting notes\nThis is not a picture.\n" * 20, encoding="utf-8")
    err = load_error(path)
    assert err.kind == "not-an-image"
    assert "text" in str(err)


def test_random_bytes(tmp_path):
    path = tmp_path / "noise.png"
    path.write_bytes(random.Random(1234).randbytes(4096))
    assert load_error(path).kind == "not-an-image"


@pytest.mark.parametrize(
    "name, data",
    [
        ("phone.heic", struct.pack(">I", 24) + b"ftypheic" + b"\x00\x00\x00\x00mif1heic"),
        ("drawing.svg", b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>'),
        ("doc.jpg", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + bytes(100)),
        ("art.jxl", b"\xff\x0a" + bytes(64)),
    ],
)
def test_recognised_but_unsupported(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    err = load_error(path)
    assert err.kind == "unsupported", str(err)
    assert "convert" in str(err)


def test_pillow_format_outside_the_allowed_list_is_unsupported(tmp_path):
    path = save(tmp_path, "old.tga", corner_image(), "TGA")
    err = load_error(path)
    assert err.kind == "unsupported"
    assert "TGA" in str(err)


def test_directory(tmp_path):
    folder = tmp_path / "photos.jpg"
    folder.mkdir()
    err = load_error(folder)
    assert err.kind == "not-a-file"
    assert "folder" in str(err)


def test_missing(tmp_path):
    err = load_error(tmp_path / "gone.jpg")
    assert err.kind == "not-found"
    assert "does not exist" in str(err)


def test_broken_symlink_is_not_found(tmp_path):
    link = tmp_path / "link.jpg"
    link.symlink_to(tmp_path / "nowhere.jpg")
    assert load_error(link).kind == "not-found"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_not_a_file(tmp_path):
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    assert load_error(fifo).kind == "not-a-file"  # and does not block waiting for a writer


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root can read unreadable files"
)
def test_permission_denied_real(tmp_path):
    path = save(tmp_path, "secret.png", corner_image())
    path.chmod(0)
    try:
        assert load_error(path).kind == "permission"
    finally:
        path.chmod(0o600)


def test_permission_denied_mapping(tmp_path, monkeypatch):
    # Tests usually run as root in containers, where chmod cannot deny reading.
    path = save(tmp_path, "secret.png", corner_image())

    def denied(p, limit):
        raise PermissionError(13, "Permission denied", str(p))

    monkeypatch.setattr(imageio, "_read_file", denied)
    err = load_error(path)
    assert err.kind == "permission"
    assert "not allowed to read" in str(err)


def test_error_is_picklable_and_readable(tmp_path):
    err = load_error(tmp_path / "holiday.jpg")
    copy = pickle.loads(pickle.dumps(err))
    assert (copy.kind, copy.path, str(copy)) == (err.kind, err.path, str(err))
    with pytest.raises(ValueError):
        ImageLoadError("bogus", Path("x"), "nope")


# ---------------------------------------------------------------------------------- integrity


def test_hash_matches_and_file_untouched(tmp_path):
    path = save(tmp_path, "evidence.jpg", corner_image(), exif=camera_exif(6))
    old = 1_600_000_000
    os.utime(path, (old, old + 100))  # atime older than mtime: a relatime mount would update it
    before_bytes = path.read_bytes()
    os.utime(path, (old, old + 100))
    before = path.stat()

    loaded = load_image(path)

    after = path.stat()
    assert loaded.sha256 == hashlib.sha256(before_bytes).hexdigest()
    assert loaded.size_bytes == len(before_bytes) == after.st_size
    assert path.read_bytes() == before_bytes
    assert after.st_mtime_ns == before.st_mtime_ns
    assert after.st_ctime_ns == before.st_ctime_ns
    if hasattr(os, "O_NOATIME"):
        assert after.st_atime_ns == before.st_atime_ns


def test_decodes_exactly_the_hashed_bytes(tmp_path, monkeypatch):
    """The file is read once; swapping it on disk afterwards cannot change the result."""
    path = save(tmp_path, "a.png", corner_image())
    other = save(tmp_path, "b.png", Image.new("RGB", (3, 3), BLUE))
    original = path.read_bytes()
    calls = []
    real_read = imageio._read_file

    def read_then_swap(p, limit):
        calls.append(p)
        data = real_read(p, limit)
        path.write_bytes(other.read_bytes())
        return data

    monkeypatch.setattr(imageio, "_read_file", read_then_swap)
    loaded = load_image(path)
    assert len(calls) == 1
    assert loaded.image.size == (40, 20)
    assert loaded.sha256 == hashlib.sha256(original).hexdigest()
    assert loaded.image.getpixel((2, 2)) == RED


@pytest.mark.skipif(not (C2PA / "A.jpg").exists(), reason="C2PA fixtures not present")
def test_real_camera_jpeg():
    path = C2PA / "A.jpg"
    loaded = load_image(path)
    assert loaded.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (loaded.format, loaded.width, loaded.height) == ("JPEG", 1024, 683)
    assert loaded.exif["make"] == "Canon"
    assert loaded.exif["model"] == "Canon EOS REBEL T3"
    assert loaded.exif["software"].startswith("Adobe Lightroom")
    assert loaded.exif["gps_present"] == "no"
    assert loaded.orientation is None


def test_real_skimage_files():
    skimage = pytest.importorskip("skimage")
    data_dir = Path(skimage.__file__).parent / "data"
    astronaut = load_image(data_dir / "astronaut.png")
    assert (astronaut.width, astronaut.height, astronaut.image.mode) == (512, 512, "RGB")
    gif = load_image(data_dir / "no_time_for_that_tiny.gif")
    assert gif.frame_count > 1
    pages = load_image(data_dir / "multipage.tif")
    assert pages.frame_count == 2
    # 64-bit float planar RGB: a valid TIFF that Pillow cannot decode
    err = load_error(data_dir / "multipage_rgb.tif")
    assert err.kind == "unsupported"
    assert "TIFF" in str(err)
    camera = load_image(data_dir / "camera.png")
    assert camera.original_mode == "L" and camera.image.mode == "RGB"


# ---------------------------------------------------------------------------------- suffixes


def test_image_suffixes():
    for ext in (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif", ".mpo"):
        assert ext in IMAGE_SUFFIXES
    assert all(ext == ext.lower() and ext.startswith(".") for ext in IMAGE_SUFFIXES)
    for ext in (".txt", ".pdf", ".svg", ".tga", ".psd"):
        assert ext not in IMAGE_SUFFIXES
    registered = Image.registered_extensions()
    assert all(ext in registered for ext in IMAGE_SUFFIXES)  # only what Pillow decodes here


# ---------------------------------------------------------------------------------- finding files


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_iter_walks_sorted_recursive_and_filters(tmp_path):
    root = tmp_path / "case"
    for rel in [
        "b.JPG",
        "a.png",
        "C.webp",
        "notes.txt",
        "sub/z.tiff",
        "sub/a.gif",
        "Sub2/x.jpeg",
        ".hidden.jpg",
        ".cache/in_hidden.png",
        "sub/.git/obj.png",
        "noext",
    ]:
        touch(root / rel)
    found = [p.relative_to(root).as_posix() for p in iter_image_files([root])]
    assert found == ["a.png", "b.JPG", "C.webp", "sub/a.gif", "sub/z.tiff", "Sub2/x.jpeg"]
    assert all(isinstance(p, Path) for p in iter_image_files([str(root)]))


def test_iter_keeps_explicit_files_missing_paths_and_dedups(tmp_path):
    root = tmp_path / "case"
    a = touch(root / "a.png")
    odd = touch(tmp_path / "evidence.dat")
    hidden = touch(tmp_path / ".secret.jpg")
    missing = tmp_path / "gone.jpg"
    found = list(
        iter_image_files(
            [odd, str(a), missing, root, root / ".." / "case" / "a.png", hidden, odd, root]
        )
    )
    assert found == [odd, a, missing, hidden]
    with pytest.raises(ImageLoadError) as info:
        load_image(found[2])
    assert info.value.kind == "not-found"


def test_iter_dedups_symlinks_and_survives_loops(tmp_path):
    root = tmp_path / "case"
    a = touch(root / "a.png")
    (root / "alias.png").symlink_to(a)
    (root / "loop").symlink_to(root, target_is_directory=True)
    found = list(iter_image_files([root]))
    assert found == [a]


def test_iter_reports_unlistable_folder(tmp_path, monkeypatch):
    root = tmp_path / "case"
    touch(root / "a.png")
    touch(root / "locked" / "b.png")
    real_scandir = os.scandir

    def scandir(path):
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(imageio.os, "scandir", scandir)
    errors = []
    found = list(iter_image_files([root], on_error=lambda p, e: errors.append(p)))
    assert found == [root / "a.png"]
    assert errors == [root / "locked"]
