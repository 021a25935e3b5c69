"""Loading evidence images: read once, hash, decode defensively, normalise to RGB.

Evidence files are opened read-only and read exactly once; the SHA-256 is computed over those
bytes and the decoder sees the same bytes (from memory), so the hash in a report always describes
what was analysed, even if the file changes on disk afterwards. Every failure becomes an
:class:`ImageLoadError` with a machine-readable ``kind`` and a message an investigator can act on.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import logging
import os
import re
import stat
import struct
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, ImageCms, ImageFile, ImageOps, UnidentifiedImageError

from inspector.core.exif import ORIENTATION, ORIENTATION_TRANSPOSE, exif_text
from inspector.core.formats import (
    DECODABLE_FORMATS,
    format_label,
    sniff_format,
    sniff_other_format,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "ERROR_KINDS",
    "IMAGE_SUFFIXES",
    "ImageLoadError",
    "LoadedImage",
    "iter_image_files",
    "load_image",
]

log = logging.getLogger(__name__)

ErrorKind = Literal[
    "not-found",
    "not-a-file",
    "permission",
    "empty",
    "not-an-image",
    "unsupported",
    "truncated",
    "too-large",
    "unreadable",
]
ERROR_KINDS: frozenset[str] = frozenset(ErrorKind.__args__)  # type: ignore[attr-defined]

# Files are read whole into memory (so the hash covers exactly what was decoded); this cap keeps a
# mis-dropped disk image or video from exhausting memory. No real photograph comes close.
DEFAULT_MAX_BYTES = 1 << 30

# MPO (camera multi-picture JPEG) has no opener of its own: the JPEG plugin returns it.
_SUFFIX_FORMATS = set(DECODABLE_FORMATS) | ({"MPO"} if "JPEG" in DECODABLE_FORMATS else set())
IMAGE_SUFFIXES: frozenset[str] = frozenset(
    ext.lower()
    for ext, fmt in Image.registered_extensions().items()
    if fmt in _SUFFIX_FORMATS and ext.lower() != ".pfm"  # .pfm: HDR float maps, not pictures
)

_EXIF_IFD = 0x8769
_GPS_IFD = 0x8825
_EXIF_FIELDS = {  # summary key -> (IFD or None for IFD0, tag)
    "make": (None, 0x010F),
    "model": (None, 0x0110),
    "software": (None, 0x0131),
    "datetime_original": (_EXIF_IFD, 0x9003),
    "datetime": (None, 0x0132),
}
_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})
_UINT16_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})

_TRUNCATION_HINTS = re.compile(
    r"truncated|expected to read \d+ bytes but only got|premature end|unexpected end|"
    r"not enough data|ran out of data",
    re.IGNORECASE,
)
_UNSUPPORTED_HINTS = re.compile(
    r"not available|unsupported|not supported|unknown pixel mode|unknown raw mode|"
    r"unrecognized mode|unknown compression|ghostscript",
    re.IGNORECASE,
)


class ImageLoadError(Exception):
    """An evidence file could not be loaded; ``kind`` says why, ``str()`` says it in plain words."""

    def __init__(self, kind: ErrorKind, path: Path, message: str) -> None:
        if kind not in ERROR_KINDS:
            raise ValueError(f"unknown ImageLoadError kind {kind!r}")
        super().__init__(kind, path, message)
        self.kind: ErrorKind = kind
        self.path = Path(path)
        self.message = message

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"

    def __reduce__(self):  # keep it picklable despite the custom __init__ (worker processes)
        return (type(self), (self.kind, self.path, self.message))


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
    data = _read_evidence(p, max_bytes)
    digest = hashlib.sha256(data).hexdigest()

    try:
        opened = Image.open(io.BytesIO(data), formats=DECODABLE_FORMATS)
    except Exception as exc:
        raise _classify(p, data, exc) from exc

    with opened as im:
        fmt = im.format or "unknown"
        width, height = im.size
        if width * height > max_pixels:
            raise ImageLoadError(
                "too-large", p, _too_large_message(width, height, max_pixels)
            ) from _BombRefused(f"{width}x{height} > {max_pixels} pixels")
        if width <= 0 or height <= 0:
            raise ImageLoadError(
                "unreadable", p, "the image header says it has no pixels."
            ) from ValueError(f"image size {width}x{height}")
        try:
            im.load()
        except Exception as exc:
            raise _classify(p, data, exc, fmt) from exc
        if ImageFile.LOAD_TRUNCATED_IMAGES and _looks_truncated(data):
            # Someone enabled Pillow's global "pad truncated images with grey"; we still refuse.
            raise ImageLoadError("truncated", p, _TRUNCATED_MESSAGE) from EOFError(
                "image data ends early (decoded only because LOAD_TRUNCATED_IMAGES is set)"
            )
        original_mode = im.mode
        exif, orientation = _exif_summary(im)
        try:
            oriented = _apply_orientation(im, orientation)
            rgb = _to_rgb(oriented)
            if rgb is im:  # detach from the file object before counting frames moves it
                rgb = im.copy()
            frame_count = _frame_count(im)
        except Exception as exc:
            raise _classify(p, data, exc, fmt) from exc

    return LoadedImage(
        path=p,
        image=rgb,
        sha256=digest,
        size_bytes=len(data),
        format=fmt,
        width=rgb.width,
        height=rgb.height,
        original_mode=original_mode,
        frame_count=frame_count,
        orientation=orientation,
        exif=exif,
        data=data,
    )


class _BombRefused(Exception):
    """Cause attached to a too-large refusal made by our own header check."""


def _read_evidence(p: Path, max_bytes: int) -> bytes:
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


# --------------------------------------------------------------------------------------------
# Error classification


def _classify(p: Path, data: bytes, exc: BaseException, fmt: str | None = None) -> ImageLoadError:
    """Turn whatever Pillow raised into the ImageLoadError an investigator needs to see."""
    if isinstance(exc, ImageLoadError):
        return exc
    if isinstance(exc, Image.DecompressionBombError | Image.DecompressionBombWarning):
        dims = re.search(r"\((\d+) pixels\) exceeds limit of (\d+)", str(exc))
        detail = (
            f" ({int(dims.group(1)) / 1e6:.1f} megapixels; Pillow's safety limit is "
            f"{int(dims.group(2)) / 1e6:.1f} megapixels)"
            if dims
            else ""
        )
        return ImageLoadError(
            "too-large",
            p,
            f"the image is too large to analyse safely{detail}; it may be a "
            "'decompression bomb' built to exhaust memory.",
        )
    if isinstance(exc, MemoryError):
        return ImageLoadError("too-large", p, "there is not enough memory to decode this image.")
    text = str(exc)
    if isinstance(exc, EOFError) or _TRUNCATION_HINTS.search(text) or _looks_truncated(data):
        return ImageLoadError("truncated", p, _TRUNCATED_MESSAGE)
    if _UNSUPPORTED_HINTS.search(text):
        name = _format_name(fmt, data) or "this"
        return ImageLoadError(
            "unsupported",
            p,
            f"the file is a {name} image stored in a variant this program cannot decode "
            f"({text.strip() or type(exc).__name__}); {_CONVERT_ADVICE}",
        )
    if isinstance(exc, UnidentifiedImageError):
        unsupported = sniff_other_format(data)
        if unsupported:
            return ImageLoadError(
                "unsupported",
                p,
                f"the file is in {unsupported} format, which this program cannot open; "
                f"{_CONVERT_ADVICE}",
            )
        diagnosis = _why_unidentified(data)
        if diagnosis is not None:
            return _classify(p, data, diagnosis[1], diagnosis[0])
        known = _format_name(None, data)
        if known:
            return ImageLoadError(
                "unreadable",
                p,
                f"the file starts like a {known} image but its contents are damaged and cannot "
                "be decoded.",
            )
        what = "text" if _looks_like_text(data) else "data in no image format this program knows"
        return ImageLoadError("not-an-image", p, f"the file is not an image (it contains {what}).")
    name = _format_name(fmt, data) or "image"
    return ImageLoadError(
        "unreadable",
        p,
        f"the {name} data is damaged and cannot be decoded ({text.strip() or type(exc).__name__}).",
    )


def _format_name(fmt: str | None, data: bytes) -> str | None:
    """How a message names the format: the decoder's, else the one the signature claims."""
    name = fmt or sniff_format(data)
    return format_label(name) if name else None


_CONVERT_ADVICE = (
    "export or convert a copy to PNG or JPEG (keep the original as evidence) and load the copy."
)


def _why_unidentified(data: bytes) -> tuple[str, Exception] | None:
    """Re-run the plugin whose signature matches to learn why Image.open gave up.

    Image.open hides a plugin's reason ("unknown pixel mode", a short read) behind
    "cannot identify image file"; the reason decides between unsupported, truncated and damaged.
    """
    prefix = data[:16]
    for fmt in DECODABLE_FORMATS:
        factory, accept = Image.OPEN[fmt]
        try:
            matches = accept is None or accept(prefix)
        except Exception:
            continue
        if not matches or isinstance(matches, str):
            continue
        try:
            factory(io.BytesIO(data), "").close()
        except UnidentifiedImageError:
            continue
        except Exception as exc:
            return fmt, exc
    return None


_TRUNCATED_MESSAGE = (
    "the file is truncated (the image data ends early); it may be an incomplete download or copy."
)


def _looks_like_text(data: bytes) -> bool:
    sample = data[:4096]
    try:
        decoded = sample.decode("utf-8")
    except UnicodeDecodeError:
        return False
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in decoded)
    return printable >= 0.95 * max(len(decoded), 1)


def _looks_truncated(data: bytes) -> bool:
    """Whether the container structure of a known format ends before it says it should.

    Only consulted after decoding failed, to tell an incomplete copy from damaged data.
    """
    n = len(data)
    try:
        if data.startswith(b"\xff\xd8\xff"):
            return b"\xff\xd9" not in data
        if data.startswith(b"\x89PNG\r\n\x1a\n"):
            pos = 8
            while pos + 8 <= n:
                length, ctype = struct.unpack(">I4s", data[pos : pos + 8])
                if ctype == b"IEND":
                    return False
                pos += 12 + length
            return True
        if data[:6] in (b"GIF87a", b"GIF89a"):
            return not data.rstrip(b"\x00").endswith(b";")
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            return n < 8 + struct.unpack("<I", data[4:8])[0]
        if data[:2] == b"BM" and n >= 6:
            return n < struct.unpack("<I", data[2:6])[0]
        if data[:4] in (b"II*\x00", b"MM\x00*"):
            return _tiff_truncated(data)
        if data[:4] == b"\xff\x4f\xff\x51":
            return not data.rstrip(b"\x00").endswith(b"\xff\xd9")
        if data[4:8] in (b"ftyp", b"jP  "):
            return _boxes_truncated(data)
    except struct.error:
        return True
    return False


def _tiff_truncated(data: bytes) -> bool:
    """Check that IFD0 and the strips or tiles it points to lie inside the data."""
    n = len(data)
    e = "<" if data[:2] == b"II" else ">"
    (ifd,) = struct.unpack(e + "I", data[4:8])
    if ifd + 2 > n:
        return True
    (count,) = struct.unpack(e + "H", data[ifd : ifd + 2])
    if ifd + 2 + 12 * count > n:
        return True
    sizes = {1: 1, 3: 2, 4: 4, 16: 8}
    values: dict[int, list[int]] = {}
    for i in range(count):
        entry = data[ifd + 2 + 12 * i : ifd + 14 + 12 * i]
        tag, typ, cnt = struct.unpack(e + "HHI", entry[:8])
        if tag not in (273, 279, 324, 325) or typ not in (3, 4):
            continue
        width = sizes[typ]
        if width * cnt <= 4:
            raw, at = entry[8 : 8 + width * cnt], None
        else:
            (at,) = struct.unpack(e + "I", entry[8:12])
            if at + width * cnt > n:
                return True
            raw = data[at : at + width * cnt]
        values[tag] = list(struct.unpack(e + ("H" if typ == 3 else "I") * cnt, raw))
    for offsets_tag, counts_tag in ((273, 279), (324, 325)):
        offsets, counts = values.get(offsets_tag), values.get(counts_tag)
        if offsets and counts and max(o + c for o, c in zip(offsets, counts, strict=False)) > n:
            return True
    return False


def _boxes_truncated(data: bytes) -> bool:
    """Walk ISO-BMFF / JP2 top-level boxes; a box running past the end means truncation."""
    n, pos = len(data), 0
    while pos + 8 <= n:
        size, btype = struct.unpack(">I4s", data[pos : pos + 8])
        if size == 1:
            size = struct.unpack(">Q", data[pos + 8 : pos + 16])[0]
        elif size == 0:  # runs to end of file
            return btype == b"jp2c" and not data.rstrip(b"\x00").endswith(b"\xff\xd9")
        if size < 8 or pos + size > n:
            return True
        pos += size
    return pos != n


# --------------------------------------------------------------------------------------------
# Metadata, orientation, colour


def _exif_summary(im: Image.Image) -> tuple[dict[str, str], int | None]:
    """Short EXIF summary and orientation; malformed EXIF must not stop the analysis."""
    summary: dict[str, str] = {}
    try:
        exif = im.getexif()
    except Exception:  # damaged EXIF: the pixels are still evidence
        log.debug("unreadable EXIF", exc_info=True)
        return {"gps_present": "no"}, None
    ifds: dict[int | None, object] = {None: exif}
    for key, (ifd, tag) in _EXIF_FIELDS.items():
        try:
            if ifd not in ifds:
                ifds[ifd] = exif.get_ifd(ifd)
            value = ifds[ifd].get(tag)  # type: ignore[attr-defined]
        except Exception:
            continue
        text = exif_text(value, tag, limit=200, multiline=False)
        if text:
            summary[key] = text
    try:
        gps = bool(exif.get_ifd(_GPS_IFD))
    except Exception:
        gps = _GPS_IFD in exif
    summary["gps_present"] = "yes" if gps else "no"
    raw = exif.get(ORIENTATION)
    orientation: int | None
    try:
        orientation = int(raw[0] if isinstance(raw, tuple | list) else raw)  # type: ignore[index]
    except (TypeError, ValueError, IndexError):
        orientation = None
    return summary, orientation


def _apply_orientation(im: Image.Image, orientation: int | None) -> Image.Image:
    """Show the picture the way the camera meant it (EXIF orientation 2–8)."""
    if orientation not in ORIENTATION_TRANSPOSE:
        return im
    try:
        return ImageOps.exif_transpose(im)
    except Exception:  # odd EXIF that Pillow cannot rewrite: rotate the pixels ourselves
        log.debug("exif_transpose failed; transposing directly", exc_info=True)
        return im.transpose(ORIENTATION_TRANSPOSE[orientation])


def _to_rgb(im: Image.Image) -> Image.Image:
    """Normalise any decoded mode to 8-bit RGB, the one form the model and the GUI use."""
    mode = im.mode
    if mode == "RGB" and "transparency" not in im.info:
        return im
    if mode == "CMYK":
        return _cmyk_to_rgb(im)
    if mode in _UINT16_MODES:
        arr = np.asarray(im).astype(np.uint32)
        return Image.fromarray(((arr + 128) // 257).astype(np.uint8), "L").convert("RGB")
    if mode in ("I", "F"):
        return Image.fromarray(_scale_to_uint8(np.asarray(im), mode == "F"), "L").convert("RGB")
    if mode == "La":
        im = im.convert("LA")  # Pillow cannot convert premultiplied La to RGBA directly
        mode = "LA"
    has_alpha = (
        mode in _ALPHA_MODES
        or "transparency" in im.info
        or (mode == "P" and im.palette is not None and im.palette.mode == "RGBA")
    )
    if has_alpha:
        # Transparent pixels have arbitrary hidden colours; white is what a viewer shows.
        rgba = im.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return im.convert("RGB")


def _cmyk_to_rgb(im: Image.Image) -> Image.Image:
    icc = im.info.get("icc_profile")
    if icc:
        try:
            return ImageCms.profileToProfile(
                im,
                ImageCms.ImageCmsProfile(io.BytesIO(icc)),
                ImageCms.createProfile("sRGB"),
                outputMode="RGB",
            )
        except Exception:  # broken or mismatched profile: naive conversion beats refusing
            log.debug("CMYK ICC conversion failed; using plain conversion", exc_info=True)
    return im.convert("RGB")


def _scale_to_uint8(arr: np.ndarray, is_float: bool) -> np.ndarray:
    """Map 32-bit int / float samples to 0–255 by scaling, never by clipping to white."""
    values = arr.astype(np.float32, copy=False)
    finite = np.isfinite(values)
    if not finite.any():
        return np.zeros(arr.shape, np.uint8)
    lo = float(values[finite].min())
    hi = float(values[finite].max())
    values = np.where(finite, values, lo)
    if is_float and lo >= 0.0 and hi <= 1.0:
        out = values * 255.0
    elif lo >= 0.0 and hi <= 255.0:
        out = values
    elif lo >= 0.0 and hi <= 65535.0:
        out = values / 257.0
    elif hi > lo:
        out = (values - lo) * (255.0 / (hi - lo))
    else:
        out = np.zeros_like(values)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _frame_count(im: Image.Image) -> int:
    try:
        return max(1, int(getattr(im, "n_frames", 1)))
    except EOFError:
        return 1


# --------------------------------------------------------------------------------------------
# Finding files


def iter_image_files(
    paths: Iterable[str | Path],
    on_error: Callable[[Path, OSError], None] | None = None,
) -> Iterator[Path]:
    """Expand files and folders into the image files to analyse, each once, in a stable order.

    Explicit files (and missing paths) are yielded as given, whatever their suffix, so a file the
    user named is reported on rather than silently dropped. Folders are walked recursively in
    sorted order, keeping files with an image suffix and skipping hidden entries. A folder that
    cannot be listed is passed to ``on_error`` (default: logged as a warning).
    """
    report = on_error or _log_walk_error
    seen: set[str] = set()
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            candidates: Iterable[Path] = _walk(p, report, set())
        else:
            candidates = (p,)
        for candidate in candidates:
            key = _identity(candidate)
            if key not in seen:
                seen.add(key)
                yield candidate


def _log_walk_error(path: Path, exc: OSError) -> None:
    log.warning("cannot list folder %s: %s", path, exc.strerror or exc)


def _identity(p: Path) -> str:
    try:
        resolved = str(p.resolve())
    except (OSError, RuntimeError):  # symlink loops and the like
        resolved = os.path.abspath(p)
    return os.path.normcase(resolved)


def _walk(
    folder: Path, report: Callable[[Path, OSError], None], visited: set[tuple[int, int]]
) -> Iterator[Path]:
    try:
        st = folder.stat()
        key = (st.st_dev, st.st_ino)
        if key in visited:  # a symlink back up the tree
            return
        visited.add(key)
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: (e.name.casefold(), e.name))
    except OSError as exc:
        report(folder, exc)
        return
    for entry in entries:
        if _is_hidden(entry):
            continue
        child = folder / entry.name
        try:
            is_dir = entry.is_dir()
            is_file = not is_dir and entry.is_file()
        except OSError:
            continue
        if is_dir:
            yield from _walk(child, report, visited)
        elif is_file and os.path.splitext(entry.name)[1].lower() in IMAGE_SUFFIXES:
            yield child


def _is_hidden(entry: os.DirEntry[str]) -> bool:
    if entry.name.startswith("."):
        return True
    attrs = 0
    with contextlib.suppress(OSError):
        attrs = getattr(entry.stat(follow_symlinks=False), "st_file_attributes", 0)
    return bool(attrs & getattr(stat, "FILE_ATTRIBUTE_HIDDEN", 0))
