"""What the window shows of an evidence file comes from the analysis's own decoder: the same
checks and words for a bad file, the full size after EXIF orientation, a drafted preview."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from PIL import Image

from inspector.core.imageio import ImageLoadError, load_image
from inspector.core.preview import check_evidence
from tests.conftest import skimage_photo


def _rotated_jpeg(path, size=(3000, 2000)):
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown portrait
    skimage_photo("astronaut").resize(size).save(path, quality=90, exif=exif.tobytes())
    return path


def test_a_preview_is_drafted_turned_and_knows_the_full_size(tmp_path):
    path = _rotated_jpeg(tmp_path / "turned.jpg")
    loaded = load_image(path)
    check = check_evidence(path, loaded.sha256, max_side=512)
    assert check.state == "verified" and check.sha256 == loaded.sha256
    assert (check.width, check.height) == (loaded.width, loaded.height) == (2000, 3000)
    assert max(check.preview.size) <= 512 and check.preview.mode == "RGB"
    assert check.preview.width < check.preview.height  # turned like the analysed pixels
    # the same picture: the full decode scaled down matches the drafted preview closely
    reference = loaded.image.resize(check.preview.size, Image.Resampling.BILINEAR)
    diff = np.abs(np.asarray(reference, np.int16) - np.asarray(check.preview, np.int16))
    assert diff.mean() < 8


def test_a_bad_file_is_said_in_the_same_words_as_for_the_analysis(tmp_path):
    path = _rotated_jpeg(tmp_path / "cut.jpg", (800, 600))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageLoadError) as raised:
        load_image(path)
    check = check_evidence(path, None)
    assert check.state == "unreadable" and check.message == raised.value.message
    # a file changed since its analysis that no longer decodes: still "changed", with its hash
    recorded = hashlib.sha256(data).hexdigest()
    changed = check_evidence(path, recorded)
    assert changed.state == "changed" and changed.message == raised.value.message
    assert changed.sha256 == hashlib.sha256(path.read_bytes()).hexdigest() != recorded
