"""Odd files, as in Pillow's own test images: every format Pillow reads is read, and what cannot
be read is said in words (a missing codec, a decompression bomb, fields that contradict each
other), with the decoders' own chatter in the log, not on the terminal.

Every file is generated here (Pillow writes the formats it can; the rest are put together byte
by byte the way the files in Pillow's Tests/images are built).
"""

from __future__ import annotations

import io
import logging
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from PIL import Image

from inspector.core.imageio import ImageLoadError, load_image

RED = (200, 30, 30)


def _load_error(path: Path) -> ImageLoadError:
    with pytest.raises(ImageLoadError) as info:
        load_image(path)
    return info.value


def _picture(mode: str = "RGB") -> Image.Image:
    im = Image.new("RGB", (40, 30), RED)
    im.paste((255, 255, 255), (20, 0, 40, 30))
    return im.convert(mode)


# ---------------------------------------------------------------------------- every format


def _close(pixel, expected, tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, expected, strict=True))


@pytest.mark.parametrize("fmt, mode, suffix", [
    ("PCX", "RGB", ".pcx"), ("SGI", "RGB", ".sgi"), ("DDS", "RGB", ".dds"),
    ("ICO", "RGBA", ".ico"), ("ICNS", "RGBA", ".icns"), ("QOI", "RGB", ".qoi"),
    ("BLP", "P", ".blp"), ("MSP", "1", ".msp"), ("XBM", "1", ".xbm"),
    ("SPIDER", "F", ".spi"),
])  # fmt: skip
def test_formats_pillow_reads_are_read(tmp_path, fmt, mode, suffix):
    """Each used to be refused as "not an image"."""
    path = tmp_path / f"evidence{suffix}"
    _picture(mode).save(path, fmt)
    loaded = load_image(path)
    assert loaded.format == fmt
    assert loaded.image.mode == "RGB"
    width, height = loaded.image.size  # icons are stored square
    right = loaded.image.getpixel((width * 9 // 10, height // 2))
    left = loaded.image.getpixel((width // 10, height // 2))
    assert _close(right, (255, 255, 255))
    if mode in ("RGB", "RGBA", "P"):
        assert _close(left, RED)
    else:  # one bit, or grey as numbers: darker than the white half
        assert sum(left) < sum(right)


def test_a_format_recognised_without_a_decoder_is_named(tmp_path):
    """Pillow knows BUFR (weather data) by its signature but ships no decoder for it."""
    path = tmp_path / "forecast.bufr"
    path.write_bytes(b"BUFR" + bytes(200))
    err = _load_error(path)
    assert err.kind == "unsupported"
    assert "format BUFR is not supported" in err.message
    assert "not an image" not in err.message


# ------------------------------------------------------------------------------------- TIFF


def _tiff(strips: list[bytes], compression: int, rows_per_strip: int, planar: int = 1,
          width: int = 40, height: int = 30) -> bytes:
    """A little-endian 8-bit RGB TIFF holding ``strips`` as they are."""
    count = 10
    extra_at = 8 + 2 + 12 * count + 4
    extra = struct.pack("<3H", 8, 8, 8)
    offsets_at = extra_at + len(extra)
    extra += struct.pack(f"<{len(strips)}I", *[0] * len(strips))
    counts_at = extra_at + len(extra)
    extra += struct.pack(f"<{len(strips)}I", *map(len, strips))
    data_at = extra_at + len(extra)
    offsets, at = [], data_at
    for strip in strips:
        offsets.append(at)
        at += len(strip)
    extra = extra[:offsets_at - extra_at] + struct.pack(f"<{len(strips)}I", *offsets) + extra[
        counts_at - extra_at:]

    def entry(tag: int, typ: int, n: int, value: bytes) -> bytes:
        return struct.pack("<HHI", tag, typ, n) + value.ljust(4, b"\0")

    def where(at: int) -> bytes:
        return struct.pack("<I", at)

    many = len(strips) > 1
    entries = [
        entry(256, 4, 1, where(width)), entry(257, 4, 1, where(height)),
        entry(258, 3, 3, where(extra_at)), entry(259, 3, 1, struct.pack("<H", compression)),
        entry(262, 3, 1, struct.pack("<H", 2)),
        entry(273, 4, len(strips), where(offsets_at if many else offsets[0])),
        entry(277, 3, 1, struct.pack("<H", 3)), entry(278, 4, 1, where(rows_per_strip)),
        entry(279, 4, len(strips), where(counts_at if many else len(strips[0]))),
        entry(284, 3, 1, struct.pack("<H", planar)),
    ]  # fmt: skip
    return (b"II*\0" + where(8) + struct.pack("<H", count) + b"".join(entries) + bytes(4)
            + extra + b"".join(strips))


def test_the_tiff_writer_here_makes_readable_tiffs(tmp_path):
    path = tmp_path / "plain.tif"
    path.write_bytes(_tiff([_picture().tobytes()], 1, 30))
    assert load_image(path).image.getpixel((5, 5)) == RED


def _libtiff_has_webp() -> bool:
    try:
        _picture().save(io.BytesIO(), "TIFF", compression="webp")
    except OSError:
        return False
    return True


@pytest.mark.skipif(_libtiff_has_webp(), reason="this libtiff decodes WebP")
def test_a_webp_tiff_without_webp_in_libtiff_says_so(tmp_path, capfd, caplog):
    """The strip is a real WebP bitstream (libtiff's layout); this build's libtiff lacks WebP.
    It is not called damaged, and libtiff's own message goes to the log."""
    webp = io.BytesIO()
    _picture().save(webp, "WEBP", lossless=True)
    path = tmp_path / "webp.tif"
    path.write_bytes(_tiff([webp.getvalue()], 50001, 30))
    with caplog.at_level(logging.INFO, logger="inspector.core.imageio"):
        err = _load_error(path)
    assert err.kind == "unsupported"
    assert "compressed with WebP" in err.message and "libtiff" in err.message, err.message
    assert "damaged" not in err.message and "decoder error" not in err.message
    assert "convert" in err.message
    out, terminal = capfd.readouterr()
    assert "WEBP" not in terminal and "compression support" not in terminal, terminal
    assert any("WEBP compression support is not configured" in r.getMessage()
               for r in caplog.records)


def test_strips_that_overflow_the_planes_are_said_in_words(tmp_path):
    """As Pillow's tiff_overflow_rows_per_strip.tif: planes stored apart (planar 2) and a
    RowsPerStrip past 2**31, so the file lists more strips than the image has planes; Pillow
    stumbles with "string index out of range"."""
    plane = bytes(40 * 30)
    path = tmp_path / "overflow.tif"
    path.write_bytes(_tiff([plane] * 6, 1, 2**31 + 1, planar=2))
    err = _load_error(path)
    assert err.kind == "unreadable"
    assert "index out of range" not in err.message
    assert "header fields contradict each other" in err.message, err.message
    assert "TIFF" in err.message


def test_a_decoder_error_code_is_said_in_words(tmp_path):
    path = tmp_path / "garbage-lzw.tif"
    path.write_bytes(_tiff([bytes(range(256)) * 5], 5, 30))
    err = _load_error(path)
    assert err.kind == "unreadable"
    assert "the compressed data is damaged; decoder error -2" in err.message, err.message


# -------------------------------------------------------------------------------------- PNG


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_with(*chunks: bytes) -> bytes:
    png = io.BytesIO()
    _picture().save(png, "PNG")
    data = png.getvalue()
    return data[:33] + b"".join(chunks) + data[33:]  # after IHDR


BOMB = zlib.compress(b"A" * (64 << 20), 9)  # 64 MiB of text in 64 KB, as png_decompression_dos


@pytest.mark.parametrize("name, chunks", [
    ("ztxt", [_chunk(b"zTXt", b"Comment\0\0" + BOMB)]),
    ("iccp", [_chunk(b"iCCP", b"profile\0\0" + BOMB)]),
    ("itxt", [_chunk(b"iTXt", b"Comment\0\1\0\0\0" + BOMB)]),
    ("many-text", [_chunk(b"tEXt", b"k%d\0" % i + b"x" * (1 << 20)) for i in range(70)]),
])  # fmt: skip
def test_png_text_bombs_are_called_decompression_bombs(tmp_path, name, chunks):
    path = tmp_path / f"{name}.png"
    path.write_bytes(_png_with(*chunks))
    err = _load_error(path)
    assert err.kind == "too-large"
    assert "decompression bomb" in err.message, err.message
    assert "damaged" not in err.message


# ---------------------------------------------------------------------------------- warnings


def _jpeg_with_corrupt_exif() -> bytes:
    """A JPEG whose EXIF has a Make tag pointing past the end of the EXIF block: Pillow warns
    "Tag data larger than file" and skips the tag."""
    ifd = struct.pack("<H", 1) + struct.pack("<HHII", 0x010F, 2, 400, 4000) + bytes(4)
    exif = b"Exif\0\0" + b"II*\0" + struct.pack("<I", 8) + ifd
    out = io.BytesIO()
    _picture().save(out, "JPEG", exif=exif)
    return out.getvalue()


def test_pillow_warnings_go_to_the_log_not_the_terminal(tmp_path):
    path = tmp_path / "corrupt-exif.jpg"
    path.write_bytes(_jpeg_with_corrupt_exif())
    code = ("import logging, sys\n"
            "logging.basicConfig(filename=sys.argv[2], level=logging.INFO)\n"
            "from inspector.core.imageio import load_image\n"
            "print(load_image(sys.argv[1]).format)\n")
    log = tmp_path / "app.log"
    result = subprocess.run([sys.executable, "-c", code, str(path), str(log)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "JPEG"
    assert result.stderr == "", result.stderr
    said = log.read_text()
    assert "Pillow: UserWarning: Tag data larger than file. Skipping tag 271" in said, said
    # and with no log set up (the command line), nothing reaches the terminal either
    quiet = subprocess.run([sys.executable, "-c", "import sys\n" + code.split("\n", 2)[2],
                            str(path)],
                           capture_output=True, text=True, timeout=60)
    assert (quiet.returncode, quiet.stderr) == (0, ""), quiet.stderr
