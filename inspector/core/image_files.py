"""Finding evidence files: expanding the files and folders a user names into images to analyse.

Folders are walked for the formats photographs and generated images come in (the suffixes of
:data:`inspector.core.formats.DECODABLE_FORMATS`); a file named explicitly is always analysed,
whatever its suffix, so that it is reported on rather than silently dropped.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from PIL import Image

from inspector.core.formats import DECODABLE_FORMATS

__all__ = ["IMAGE_SUFFIXES", "iter_image_files"]

log = logging.getLogger(__name__)

# MPO (camera multi-picture JPEG) has no opener of its own: the JPEG plugin returns it.
_SUFFIX_FORMATS = set(DECODABLE_FORMATS) | ({"MPO"} if "JPEG" in DECODABLE_FORMATS else set())
IMAGE_SUFFIXES: frozenset[str] = frozenset(
    ext.lower()
    for ext, fmt in Image.registered_extensions().items()
    if fmt in _SUFFIX_FORMATS and ext.lower() != ".pfm"  # .pfm: HDR float maps, not pictures
)



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
