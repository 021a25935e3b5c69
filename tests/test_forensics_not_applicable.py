"""A file an analysis does not apply to gets a result that says why, in the JSON contract's form:
``applicable`` false, no map, no regions and the analysis's indicator keys left empty."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from inspector.core.forensics import double_jpeg, jpeg, noise, spectrum
from inspector.core.forensics.base import ForensicInput
from inspector.core.forensics.record import contract_entry


def png(image: Image.Image) -> ForensicInput:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return ForensicInput(Path("evidence.png"), buf.getvalue(), image, "PNG", "")


CASES = [
    (jpeg, png(Image.new("RGB", (200, 150), "grey")), {"quality", "tables", "subsampling"},
     "Not a JPEG file (PNG)"),
    (double_jpeg, png(Image.new("RGB", (200, 150), "grey")), {"detected", "score", "first_quality"},
     "Not a JPEG file; double JPEG"),
    (spectrum, png(Image.new("RGB", (40, 30), "grey")), {"score", "peaks"},
     "Not analysed: the image is smaller than 64 pixels"),
    (noise, png(Image.new("RGB", (60, 200), "grey")), {"score", "regions"},
     "Noise consistency was not analysed: the image is smaller than 64x64"),
    (noise, png(Image.new("RGB", (300, 200), "white")), {"score", "regions"},
     "Noise consistency was not analysed: almost the whole image is saturated"),
]  # fmt: skip


@pytest.mark.parametrize(("module", "evidence", "keys", "why"), CASES)
def test_not_applicable_result(module, evidence, keys, why):
    result = module.analyze(evidence)
    assert result.applicable is False and result.error is None
    assert result.name == module.NAME and result.title == module.TITLE
    assert result.limits == module.LIMITS
    assert result.statement.startswith(why)
    assert result.map is None and result.regions == []
    assert keys <= set(result.indicators)
    assert all(value in (None, []) for value in result.indicators.values())
    if module in (spectrum, noise):  # the JPEG analyses are null for a PNG in the contract
        entry = contract_entry(result.to_dict(), evidence.format)
        assert entry["applicable"] is False and entry["statement"] == result.statement
