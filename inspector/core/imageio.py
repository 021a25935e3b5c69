"""Loading evidence images: read once, hash, decode defensively, normalise to RGB.

Evidence files are opened read-only and read exactly once; the SHA-256 is computed over those
bytes and the decoder sees the same bytes (from memory), so the hash in a report always describes
what was analysed, even if the file changes on disk afterwards. Every failure becomes an
:class:`ImageLoadError` with a machine-readable ``kind`` and a message an investigator can act on.

The photo formats (:data:`~inspector.core.formats.DECODABLE_FORMATS`) are tried first, then every
other format Pillow reads that it can recognise by a signature (PCX, SGI, DDS, ICO, PSD …). What
the decoders say on the side goes to the log, not the terminal: Pillow's warnings (corrupt EXIF, a
malformed MPO) and libtiff's messages (it prints them to stderr).

The concepts live in their own modules, re-exported here: why a file failed
(:mod:`~inspector.core.image_diagnosis`), metadata, orientation and RGB
(:mod:`~inspector.core.image_pixels`), and walking folders (:mod:`~inspector.core.image_files`).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import logging
import os
import stat
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageFile, TiffImagePlugin, UnidentifiedImageError

from inspector.core.formats import DECODABLE_FORMATS
from inspector.core.image_diagnosis import (
    ERROR_KINDS,
    OTHER_FORMATS,
    TRUNCATED_MESSAGE,
    ImageLoadError,
    classify,
    looks_truncated,
)
from inspector.core.image_files import IMAGE_SUFFIXES, iter_image_files
from inspector.core.image_pixels import apply_orientation, exif_summary, frame_count, to_rgb

__all__ = [
    "DEFAULT_MAX_BYTES",
    "ERROR_KINDS",
    "IMAGE_SUFFIXES",
    "ImageLoadError",
    "DecodedImage",
    "LoadedImage",
    "decode_evidence",
    "iter_image_files",
    "load_image",
    "read_evidence",
]

log = logging.getLogger(__name__)

# Files are read whole into memory (so the hash covers exactly what was decoded); this cap keeps a
# mis-dropped disk image or video from exhausting memory. No real photograph comes close.
DEFAULT_MAX_BYTES = 1 << 30


@dataclass
class LoadedImage:
    """A decoded evidence image plus the facts a report needs about the file it came from."""

    path: Path
    image: Image.Image  # mode "RGB", EXIF orientation applied, pixels loaded, detached from file
    sha256: str  # hex digest of the file's bytes exactly as read and decoded
    size_bytes: int
    format: str  # Pillow's format name, e.g. "JPEG"
    width: int  # after orientation
    height: int
    original_mode: str
    frame_count: int
    orientation: int | None  # EXIF orientation value found; None when absent
    exif: dict[str, str] = field(default_factory=dict)
    data: bytes = field(repr=False, default=b"")  # the file's bytes as read and hashed


# --------------------------------------------------------------------------------------------
# Loading


def load_image(
    path: str | Path, max_pixels: int = 100_000_000, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> LoadedImage:
    """Read, hash and decode one evidence file without ever writing to it.

    Images over ``max_pixels`` are refused from the header alone (before any pixel data is
    decoded), so a decompression bomb costs nothing. Raises :class:`ImageLoadError`.
    """
    if max_pixels <= 0 or max_bytes <= 0:
        raise ValueError("max_pixels and max_bytes must be positive")
    p = Path(path)
    data = read_evidence(p, max_bytes)
    digest = hashlib.sha256(data).hexdigest()
    decoded = decode_evidence(p, data, max_pixels=max_pixels)
    return LoadedImage(
        path=p,
        image=decoded.image,
        sha256=digest,
        size_bytes=len(data),
        format=decoded.format,
        width=decoded.image.width,
        height=decoded.image.height,
        original_mode=decoded.original_mode,
        frame_count=decoded.frame_count,
        orientation=decoded.orientation,
        exif=decoded.exif,
        data=data,
    )


@dataclass
class DecodedImage:
    """What :func:`decode_evidence` makes of a file's bytes."""

    image: Image.Image  # RGB, EXIF orientation applied, loaded, detached from the bytes
    format: str
    width: int  # of the full image, after orientation (the image is smaller when drafted)
    height: int
    original_mode: str
    frame_count: int  # 1 for a preview (``draft_side``): not counted
    orientation: int | None
    exif: dict[str, str] = field(default_factory=dict)


def decode_evidence(
    p: Path, data: bytes, *, max_pixels: int, draft_side: int | None = None
) -> DecodedImage:
    """Decode an evidence file's bytes defensively: the one decoder of the analysis and the view.

    Refuses images over ``max_pixels`` from the header, empty ones, and truncated data; applies
    the EXIF orientation and converts to RGB. With ``draft_side``, a JPEG is decoded at the
    smallest DCT scale (1/2, 1/4, 1/8) that keeps both sides at least that long — a preview, not
    the pixels an analysis sees. Raises :class:`ImageLoadError` with the reason in words.
    """
    opened = _open(p, data)
    with opened as im:
        fmt = im.format or "unknown"
        width, height = im.size
        if width * height > max_pixels:
            raise ImageLoadError(
                "too-large", p, _too_large_message(width, height, max_pixels)
            ) from _BombRefused(f"{width}x{height} > {max_pixels} pixels")
        # A stub (BUFR, GRIB, HDF5, WMF) has no size until a handler loads it; without one,
        # loading says the format is not supported.
        if (width <= 0 or height <= 0) and not isinstance(im, ImageFile.StubImageFile):
            raise ImageLoadError(
                "unreadable", p, "the image header says it has no pixels."
            ) from ValueError(f"image size {width}x{height}")
        compression = _tiff_compression(im)
        with _library_messages(fmt == "TIFF") as said:
            try:
                if draft_side is not None and fmt == "JPEG":
                    im.draft("RGB", (draft_side, draft_side))
                im.load()
            except Exception as exc:
                failure: Exception | None = exc
            else:
                failure = None
        if failure is not None:
            raise classify(p, data, failure, fmt, compression=compression,
                           library_messages=said) from failure
        if ImageFile.LOAD_TRUNCATED_IMAGES and looks_truncated(data):
            # Someone enabled Pillow's global "pad truncated images with grey"; we still refuse.
            raise ImageLoadError("truncated", p, TRUNCATED_MESSAGE) from EOFError(
                "image data ends early (decoded only because LOAD_TRUNCATED_IMAGES is set)"
            )
        original_mode = im.mode
        try:
            exif, orientation = exif_summary(im)
            oriented = apply_orientation(im, orientation)
            rgb = to_rgb(oriented)
            if rgb is im:  # detach from the file object before counting frames moves it
                rgb = im.copy()
            # counting frames walks an animation's whole file: the analysis needs it, a preview
            # shown at every selection does not
            frames = frame_count(im) if draft_side is None else 1
        except Exception as exc:
            raise classify(p, data, exc, fmt) from exc
    if draft_side is None:
        width, height = rgb.size
    elif orientation in (5, 6, 7, 8):  # the header's size, turned as the pixels were
        width, height = height, width
    return DecodedImage(rgb, fmt, width, height, original_mode, frames, orientation, exif)


def _open(p: Path, data: bytes) -> Image.Image:
    """Image.open over the photo formats, then over the other formats Pillow reads."""
    try:
        try:
            return Image.open(io.BytesIO(data), formats=DECODABLE_FORMATS)
        except UnidentifiedImageError:
            if not OTHER_FORMATS:
                raise
            return Image.open(io.BytesIO(data), formats=OTHER_FORMATS)
    except Exception as exc:
        raise classify(p, data, exc) from exc


def _tiff_compression(im: Image.Image) -> str | None:
    """The compression a TIFF declares ("webp", "tiff_lzw" …), for messages; None otherwise."""
    if not isinstance(im, TiffImagePlugin.TiffImageFile):
        return None
    code = im.tag_v2.get(TiffImagePlugin.COMPRESSION)
    return TiffImagePlugin.COMPRESSION_INFO.get(code, str(code)) if code is not None else None


_PILLOW_DIR = os.path.dirname(os.path.abspath(Image.__file__))


def _route_pillow_warnings() -> None:
    """Show Pillow's warnings in the log instead of on the terminal, for the whole process.

    They are about odd evidence files ("Corrupt EXIF data", "malformed MPO", a large image);
    the loader decides what the user is told. Only the display is replaced: the caller's filters
    still apply first (``simplefilter("error")`` still raises), and other warnings are shown as
    before. Installed once, when this module is imported.
    """
    shown = warnings.showwarning
    if getattr(shown, "routes_pillow", False):
        return

    def showwarning(message, category, filename, lineno, file=None, line=None):
        if os.path.dirname(os.path.abspath(filename)) == _PILLOW_DIR:
            log.info("Pillow: %s: %s (%s:%s)", category.__name__, message,
                        os.path.basename(filename), lineno)
            return
        shown(message, category, filename, lineno, file, line)

    showwarning.routes_pillow = True  # type: ignore[attr-defined]
    warnings.showwarning = showwarning


_route_pillow_warnings()


_STDERR_LOCK = threading.Lock()


@contextlib.contextmanager
def _library_messages(active: bool) -> Iterator[list[str]]:
    """Catch what C libraries print on the process's stderr meanwhile (libtiff prints its
    warnings and errors there): the lines go to the log, and to the caller, which reads them for
    the reason a decode failed. Inactive: nothing is redirected."""
    said: list[str] = []
    if not active:
        yield said
        return
    with _STDERR_LOCK, tempfile.TemporaryFile() as sink:
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        try:
            saved = os.dup(2)
        except OSError:  # no stderr at all (a windowed app on Windows): nothing to catch
            yield said
            return
        os.dup2(sink.fileno(), 2)
        try:
            yield said
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            text = sink.read().decode("utf-8", "replace")
            said.extend(line for line in text.splitlines() if line.strip())
            for line in said:
                log.info("decoder said: %s", line)


class _BombRefused(Exception):
    """Cause attached to a too-large refusal made by our own header check."""


def read_evidence(p: Path, max_bytes: int) -> bytes:
    """Return the file's bytes, opened read-only (and without touching atime where allowed)."""
    try:
        st = p.stat()
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise ImageLoadError(
            "not-found", p, "the file does not exist (it may have been moved, renamed or deleted)."
        ) from exc
    except PermissionError as exc:
        raise ImageLoadError("permission", p, _PERMISSION_MESSAGE) from exc
    except OSError as exc:
        raise ImageLoadError("unreadable", p, _read_error_message(exc)) from exc
    if stat.S_ISDIR(st.st_mode):
        raise ImageLoadError(
            "not-a-file", p, "this is a folder, not a file; choose the images inside it."
        ) from IsADirectoryError(str(p))
    if not stat.S_ISREG(st.st_mode):
        raise ImageLoadError("not-a-file", p, _NOT_REGULAR_MESSAGE) from _NotRegularFile(
            f"not a regular file: {p}"
        )
    if st.st_size > max_bytes:
        raise ImageLoadError(
            "too-large",
            p,
            f"the file is too large to load ({_human_bytes(st.st_size)}; "
            f"the limit is {_human_bytes(max_bytes)}).",
        ) from _BombRefused(f"{st.st_size} bytes > {max_bytes}")
    try:
        data = _read_file(p, max_bytes + 1)
    except PermissionError as exc:
        raise ImageLoadError("permission", p, _PERMISSION_MESSAGE) from exc
    except FileNotFoundError as exc:
        raise ImageLoadError(
            "not-found", p, "the file disappeared while it was being opened."
        ) from exc
    except IsADirectoryError as exc:
        raise ImageLoadError("not-a-file", p, "this is a folder, not a file.") from exc
    except _NotRegularFile as exc:
        raise ImageLoadError("not-a-file", p, _NOT_REGULAR_MESSAGE) from exc
    except OSError as exc:
        raise ImageLoadError("unreadable", p, _read_error_message(exc)) from exc
    if not data:
        raise ImageLoadError(
            "empty", p, "the file is empty (0 bytes); it may be an incomplete download or copy."
        ) from EOFError("0 bytes read")
    if len(data) > max_bytes:  # grew since stat()
        raise ImageLoadError(
            "too-large", p, f"the file is too large to load (over {_human_bytes(max_bytes)})."
        ) from _BombRefused(f"more than {max_bytes} bytes")
    return data


def _read_file(p: Path, limit: int) -> bytes:
    """Read up to ``limit`` bytes through a read-only descriptor; O_NOATIME keeps atime intact."""
    # O_NONBLOCK: if the path was swapped for a FIFO after stat(), open must not hang.
    flags = os.O_RDONLY
    for name in ("O_BINARY", "O_CLOEXEC", "O_NONBLOCK"):
        flags |= getattr(os, name, 0)
    noatime = getattr(os, "O_NOATIME", 0)
    try:
        fd = os.open(p, flags | noatime)
    except PermissionError:
        if not noatime:
            raise
        fd = os.open(p, flags)  # O_NOATIME needs ownership; fall back to a plain read-only open
    with os.fdopen(fd, "rb") as fh:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "Is a directory", str(p))
        if not stat.S_ISREG(mode):
            raise _NotRegularFile(f"not a regular file: {p}")
        return fh.read(limit)


class _NotRegularFile(OSError):
    """The path turned into a device, pipe or socket between stat() and open()."""


_NOT_REGULAR_MESSAGE = "this is not an ordinary file (it is a device, pipe or socket)."
_PERMISSION_MESSAGE = (
    "the file cannot be opened because this user account is not allowed to read it "
    "(ask for read access, or copy it somewhere you can read)."
)


def _read_error_message(exc: OSError) -> str:
    reason = exc.strerror or type(exc).__name__
    return f"the file could not be read from disk ({reason}); check the drive or network share."


def _human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} bytes"  # pragma: no cover


def _too_large_message(width: int, height: int, limit: int) -> str:
    return (
        f"the image is too large to analyse safely ({width} × {height} = "
        f"{width * height / 1e6:.1f} megapixels; the limit is {limit / 1e6:.1f} megapixels)."
    )
