"""A record's image as training rows hold it: decoded, or left on disk when it can be.

A row that shows an image whole (Query 1, the where question, the warm-up's read question, the
whole image of Query 2) needs its pixels only when the trainer batches it. :func:`row_image`
returns an :class:`ImageFile` for a file whose plain decode is what the app sees (an RGB PNG of
one frame without EXIF, as ``lte-train synth`` writes them): the training set then stores its
path and the trainer decodes it per step — no pixels held, none re-encoded. Decoding and
re-encoding 8000 448-px images held 21 GB and took four minutes in each locate step
(decision 0004, E67). Any other file is decoded by the app's decoder and stored as PNG bytes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from trainer.records import Record, resolve_image

__all__ = ["ImageFile", "load_record_image", "pixels", "row_image"]


@dataclass(frozen=True)
class ImageFile:
    """A record's image on disk whose plain decode is the app's (see :func:`row_image`)."""

    path: Path
    width: int
    height: int

    @property
    def size(self) -> tuple[int, int]:
        return (self.width, self.height)

    def decode(self) -> Image.Image:
        """The pixels, by the app's decoder."""
        from inspector.core.imageio import load_image

        return load_image(self.path).image


def load_record_image(record: Record, dataset_path: str | Path | None = None) -> Image.Image:
    """The record's image as the app sees it (RGB, EXIF orientation applied).

    Raises ValueError when its size differs from the record's (the boxes would not fit).
    """
    from inspector.core.imageio import load_image

    loaded = load_image(resolve_image(record, dataset_path))
    if (loaded.width, loaded.height) != (record.width, record.height):
        raise ValueError(
            f"{record.image}: image is {loaded.width}x{loaded.height} but the record says "
            f"{record.width}x{record.height}"
        )
    return loaded.image


def row_image(record: Record, dataset_path: str | Path | None = None) -> Image.Image | ImageFile:
    """The record's image for a row: an :class:`ImageFile` when the file can stay on disk, else
    decoded (:func:`load_record_image`). Raises ValueError on a size that is not the record's."""
    path = resolve_image(record, dataset_path)
    if _plain_png(path, (record.width, record.height)):
        return ImageFile(path.absolute(), record.width, record.height)  # whatever the cwd then
    return load_record_image(record, dataset_path)


def pixels(image: Image.Image | ImageFile) -> Image.Image:
    """The decoded image of a :func:`row_image` result."""
    return image.decode() if isinstance(image, ImageFile) else image


def _plain_png(path: Path, size: tuple[int, int]) -> bool:
    """Whether Pillow's plain decode of ``path`` (what the training set's loader does) gives the
    app's pixels: an RGB PNG of ``size``, one frame, no EXIF (whose orientation the app applies;
    an eXIf chunk may follow the pixel data, so the bytes are searched, not the header)."""
    try:
        data = path.read_bytes()
        with Image.open(io.BytesIO(data)) as im:
            plain = (im.format == "PNG" and im.mode == "RGB" and im.size == size
                     and not getattr(im, "is_animated", False))
    except (OSError, ValueError, Image.DecompressionBombError):
        return False  # the app's decoder says what is wrong with it
    return plain and b"eXIf" not in data
