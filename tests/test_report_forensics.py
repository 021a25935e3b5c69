"""The forensic analyses in the PDF report: each image's section (titles, statements, key
indicators, map thumbnails from the case folder, regions), the analyses that did not apply or
failed, a map file missing from the case, the limits of each method stated once, and the JSON
attachment carrying the results. Read with pdftotext / pdftoppm like a reader would.

Run as a script to write the sample report and its page images for a look:
``python -m tests.test_report_forensics OUT_DIR``.
"""

from __future__ import annotations

import copy
import io
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inspector.core.casestore import CaseStore
from inspector.core.forensics import ANALYSIS_NAMES, ForensicRegion, ForensicResult, map_png_bytes
from inspector.core.forensics.base import as_map, luminance
from inspector.core.imageio import load_image
from inspector.core.pipeline import evidence_of
from inspector.core.results import Analysis, ModelProvenance, QueryRecord
from tests.test_report_case import flat, page_images, page_lines, pages_text

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "resources" / "samples"
needs_poppler = pytest.mark.skipif(
    any(shutil.which(t) is None for t in ("pdftotext", "pdftoppm", "pdfdetach")),
    reason="poppler-utils (pdftotext, pdftoppm, pdfdetach) are not installed",
)

SECTION = "Forensic analyses (independent of the model)"
ELA_CAVEAT_MARK = "Error level analysis (ELA) is not a test of authenticity."
LIMITS = {  # what each method cannot tell, as an analysis would record it
    "jpeg": "The JPEG structure shows the last save only; any editor can write any tables.",
    "double_jpeg": "Misses a second save at the same quality or on a shifted grid.",
    "spectrum": "Regular textures (fabric, tiles) also make periodic peaks.",
    "copy_move": "Finds areas copied within this image only, not from another image.",
    "noise": "Textureless or saturated areas have no measurable noise.",
    "ela": "ELA brightness follows edges and texture; it is not an edit detector.",
    "metadata": "Metadata can be removed or written by anyone; absence proves nothing.",
}
TITLES = {"jpeg": "JPEG structure", "double_jpeg": "Double JPEG compression",
          "spectrum": "Resampling spectrum", "copy_move": "Copy-move detection",
          "noise": "Noise consistency", "ela": "Error level analysis (ELA)",
          "metadata": "Metadata"}
COPY_SOURCE, COPY_TARGET = [40, 300, 120, 380], [380, 380, 460, 460]


def _model() -> ModelProvenance:
    return ModelProvenance("Qwen/Qwen2.5-VL-7B-Instruct", "transformers", software_version="0.1.0")


def _ela_map(image: Image.Image, quality: int = 90) -> np.ndarray:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality)
    again = np.asarray(Image.open(buf).convert("RGB"), dtype=np.float32)
    return as_map(np.abs(again - np.asarray(image, dtype=np.float32)).max(axis=2))


def _noise_map(image: Image.Image) -> np.ndarray:
    y = luminance(image)
    residual = np.abs(y[1:-1, 1:-1] * 4 - y[:-2, 1:-1] - y[2:, 1:-1] - y[1:-1, :-2] - y[1:-1, 2:])
    h, w = (residual.shape[0] // 16) * 16, (residual.shape[1] // 16) * 16
    return as_map(residual[:h, :w].reshape(h // 16, 16, w // 16, 16).mean(axis=(1, 3)))


def _spectrum_map(image: Image.Image) -> np.ndarray:
    y = luminance(image)[:256, :256]
    return as_map(np.log1p(np.abs(np.fft.fftshift(np.fft.fft2(y - y.mean())))))


def _result(name: str, statement: str, indicators: dict, **kw) -> ForensicResult:
    return ForensicResult(name, TITLES[name], statement, LIMITS[name], indicators, **kw)


def photo_results(image: Image.Image) -> tuple[list[ForensicResult], dict[str, np.ndarray]]:
    """All seven on a JPEG with a copied patch; the spectrum analysis failed."""
    results = [
        _result("jpeg", "Quantisation tables match IJG quality 90; 4:2:0 subsampling; baseline.",
                {"quality": 90, "tables": [[1] * 64, [2] * 64], "subsampling": "4:2:0",
                 "progressive": False}),
        _result("double_jpeg", "No sign of an earlier JPEG compression (score 0.12).",
                {"detected": False, "score": 0.12, "first_quality": None},
                map=np.zeros((32, 32), np.float32), map_legend="bright = earlier grid"),
        ForensicResult("spectrum", TITLES["spectrum"],
                       "The analysis could not be completed: ValueError: image too small",
                       LIMITS["spectrum"], error="ValueError: image too small"),
        _result("copy_move", "One area appears twice: 152 matching keypoints, source → target.",
                {"detected": True, "pairs": [{"source": COPY_SOURCE, "target": COPY_TARGET,
                                              "matches": 152}]},
                regions=[ForensicRegion(COPY_SOURCE, "clone source 1"),
                         ForensicRegion(COPY_TARGET, "clone target 1", 152.0)],
                map_legend="bright = matched keypoints"),
        _result("noise", "Noise level is consistent across the image except one region.",
                {"score": 0.31, "regions": 1},
                regions=[ForensicRegion([200, 60, 330, 200], "noise level departs from the rest",
                                        0.31)],
                map_legend="bright = high local noise level"),
        _result("ela", "Error levels are even across the image (mean 2.1 at quality 90).",
                {"quality": 90, "mean": 2.1}, map_legend="bright = large change on re-saving"),
        _result("metadata", "EXIF from a Canon EOS 5D; no XMP, IPTC or ICC profile.",
                # the shape metadata.analyze gives: the tags of each IFD under its name
                {"exif": {"IFD0": {"Make": "Canon", "Model": "Canon EOS 5D",
                                   "Software": "GIMP 2.10"},
                          "Exif": {"DateTimeOriginal": "2024:05:01 10:00:00",
                                   "ExposureTime": "1/125"}},
                 "xmp": None, "iptc": None, "icc": None, "thumbnail": False}),
    ]
    maps = {"double_jpeg": np.zeros((32, 32), np.float32), "noise": _noise_map(image),
            "ela": _ela_map(image), "copy_move": _ela_map(image, 70)}
    return results, maps


def png_results(image: Image.Image) -> tuple[list[ForensicResult], dict[str, np.ndarray]]:
    """On a PNG: the JPEG analyses do not apply; the ELA map will go missing from the case."""
    na = "The file is a PNG, not a JPEG: this analysis does not apply."
    results = [
        _result("jpeg", na, {"quality": None, "tables": None, "subsampling": None,
                             "progressive": None}, applicable=False),
        _result("double_jpeg", na, {"detected": None, "score": None, "first_quality": None},
                applicable=False),
        _result("spectrum", "No periodic resampling peaks (score 0.04).",
                {"score": 0.04, "peaks": []}, map_legend="log magnitude spectrum"),
        _result("ela", "Error levels are even across the image (mean 3.4 at quality 90).",
                {"quality": 90, "mean": 3.4}, map_legend="bright = large change on re-saving"),
    ]
    return results, {"spectrum": _spectrum_map(image), "ela": _ela_map(image)}


def store_analysis(store: CaseStore, path: Path,
                   results: list[ForensicResult], maps: dict[str, np.ndarray]) -> Analysis:
    """An analysis with its forensic results, its maps written into the case folder as
    ``closeups/<id>/forensics-<name>.png`` (8-bit greyscale PNG)."""
    analysis = Analysis(
        evidence=evidence_of(load_image(path)), model=_model(),
        query1=QueryRecord("<raw/>", "A photograph; lighting and texture look natural.", "real",
                           0.2, generated_tokens=30, seconds=1.0, stop_reason="eos"),
        examine_skipped="no regions located")
    forensics = {}
    for r in results:
        rel = None
        if r.name in maps:
            rel = f"closeups/{analysis.id}/forensics-{r.name}.png"
            (store.root / rel).parent.mkdir(parents=True, exist_ok=True)
            (store.root / rel).write_bytes(map_png_bytes(maps[r.name]))
        forensics[r.name] = r.to_dict(rel)
    analysis.forensics = forensics
    store.add_analysis(analysis, {})
    return store.get(analysis.id)


@dataclass
class ForensicCase:
    store: CaseStore
    photo: Analysis  # astronaut.jpg with a copied patch: all seven, spectrum failed
    png: Analysis  # chelsea.png: JPEG analyses not applicable, ELA map missing
    pdf: Path
    pages: int


def build_forensic_case(root: Path) -> ForensicCase:
    from inspector.report.pdf import render_case_report

    evidence = root / "evidence"
    evidence.mkdir(parents=True)
    with Image.open(SAMPLES / "astronaut.jpg") as im:
        photo = im.convert("RGB")
    x1, y1, x2, y2 = COPY_SOURCE
    photo.paste(photo.crop((x1, y1, x2, y2)), tuple(COPY_TARGET[:2]))  # the copy-move itself
    photo.save(evidence / "astronaut.jpg", quality=90)
    with Image.open(SAMPLES / "chelsea.jpg") as im:
        im.convert("RGB").save(evidence / "chelsea.png")
    store = CaseStore.create(root / "case", "2026-0815", "Forensic case", "D. Example")
    made = store_analysis(store, evidence / "astronaut.jpg", *photo_results(photo))
    with Image.open(evidence / "chelsea.png") as im:
        png = store_analysis(store, evidence / "chelsea.png", *png_results(im.convert("RGB")))
    (store.root / png.forensics["ela"]["map"]).unlink()  # lost from the case folder
    pdf = root / "report.pdf"
    pages = render_case_report(store, pdf, "A4")
    return ForensicCase(store, made, png, pdf, pages)


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    return build_forensic_case(tmp_path_factory.mktemp("report-forensics"))


def _image_pages(texts: list[str], name: str) -> str:
    """The text of an image's pages (from its heading to the next image's)."""
    start = next(i for i, t in enumerate(texts) if f": {name}" in t and "Image " in t)
    end = next((i for i in range(start + 1, len(texts)) if "Image " in texts[i]
                and " of 2: " in texts[i]), len(texts))
    return flat(" ".join(texts[start:end]))


@needs_poppler
def test_each_analysis_is_in_the_image_section(case):
    texts = pages_text(case.pdf, layout=False)
    photo = _image_pages(texts, "astronaut.jpg")
    assert SECTION in photo
    section = photo[photo.index(SECTION):]
    for name, r in case.photo.forensics.items():
        assert r["title"] in section, name
        if name != "spectrum":
            assert flat(r["statement"]) in section, name
    for shown in ("Estimated quality: 90", "Chroma subsampling: 4:2:0", "Encoding: baseline",
                  "Double compression: not detected", "Score: 0.12", "Copied areas: detected",
                  "Source → target pairs: 1", "C1: source 40, 300, 120, 380 → target 380, 380, "
                  "460, 460 (152 matches)", "Inconsistency score: 0.31", "N1: noise level",
                  "Re-save quality: 90", "Mean error level: 2.1", "EXIF: 5 tags",
                  "Camera model: Canon EOS 5D", "Software: GIMP 2.10",
                  "Taken: 2024:05:01 10:00:00",
                  "All metadata: in the JSON attachment", "Bright areas are not proof"):
        assert shown in section, shown
    assert "ExposureTime" not in section and "1/125" not in section  # not the whole dump
    # A failed analysis is one line, with its reason.
    assert "Failed — Resampling spectrum: The analysis could not be completed: ValueError: " \
           "image too small" in section
    # The model's own page comes first; the section takes one extra page at most, whole.
    assert photo.index("The model's explanations") < photo.index(SECTION)
    first = next(i for i, t in enumerate(texts) if "Image 1 of 2: astronaut.jpg" in t)
    second = next(i for i, t in enumerate(texts) if "Image 2 of 2: chelsea.png" in t)
    assert second - first <= 2
    assert sum(SECTION in t for t in texts[first:second]) == 1
    holder = next(t for t in texts[first:second] if SECTION in t)
    assert "Failed — Resampling spectrum" in holder  # its last line, on the same page


@needs_poppler
def test_not_applicable_and_missing_map_are_stated(case):
    texts = pages_text(case.pdf, layout=False)
    png = _image_pages(texts, "chelsea.png")
    section = png[png.index(SECTION):]
    for title in ("JPEG structure", "Double JPEG compression"):
        assert f"Not applicable — {title}: The file is a PNG, not a JPEG" in section, title
    rel = case.png.forensics["ela"]["map"]
    said = (f"The map of Error level analysis (ELA) is not shown: the map file {rel} is missing "
            "from the case folder.")
    assert said.replace(" ", "") in section.replace(" ", "")  # the path may wrap
    assert "Periodicity score: 0.04" in section and "Periodic peaks: 0" in section


@needs_poppler
def test_limits_are_stated_once_with_the_ela_caveat(case):
    texts = pages_text(case.pdf, layout=False)
    joined = flat(" ".join(texts))
    front = flat(" ".join(texts[:next(i for i, t in enumerate(texts) if "Summary:" in t) + 1]))
    assert "Limits of the forensic analyses" in front
    for name, limits in LIMITS.items():  # every method used, once, though two images used some
        assert joined.count(limits) == 1, name
        assert limits in front, name
    assert joined.count(ELA_CAVEAT_MARK) == 1 and ELA_CAVEAT_MARK in front
    assert front.index("Limits of the forensic analyses") > front.index("Limitations")
    # Each section points to them.
    page = next(i for i, t in enumerate(texts) if "Limits of the forensic analyses" in t) + 1
    assert joined.count(f"The limits of each method are stated on page {page}") == 2


@needs_poppler
def test_no_forensic_heading_ends_a_page(case):
    for i, ((_w, height), lines) in enumerate(page_lines(case.pdf)):
        body = [ln.text for ln in lines if ln.top < height - 20 * 72 / 25.4]
        assert body[-1] not in (SECTION, "Limits of the forensic analyses"), i + 1


@needs_poppler
def test_the_attachment_carries_the_forensic_results(case, tmp_path):
    out = tmp_path / "attached.json"
    subprocess.run(["pdfdetach", "-save", "1", "-o", str(out), str(case.pdf)], check=True,
                   capture_output=True)
    data = json.loads(out.read_text(encoding="utf-8"))
    by_id = {a["id"]: a for a in data["analyses"]}
    photo = by_id[case.photo.id]["forensics"]
    assert set(photo) == set(ANALYSIS_NAMES)
    assert photo["metadata"]["indicators"]["exif"]["Exif"]["ExposureTime"] == "1/125"  # all of it
    assert photo["copy_move"]["indicators"]["pairs"][0]["target"] == COPY_TARGET
    assert photo["ela"]["map"] == f"closeups/{case.photo.id}/forensics-ela.png"


def _figure_tiles(case: ForensicCase, name: str, out: Path) -> list[np.ndarray]:
    """The pictures drawn side by side at the top of the image's forensic figure (greyscale,
    the top 20 mm of each, found as runs of non-white columns): the picture, then the maps."""
    dpi = 60
    images = page_images(case.pdf, out, dpi=dpi)
    texts = pages_text(case.pdf)
    for i, ((width, _height), lines) in enumerate(page_lines(case.pdf)):
        if not any(ln.text == SECTION for ln in lines) or name not in " ".join(texts[i - 1:i + 1]):
            continue
        heading = next(ln for ln in lines if ln.text == SECTION)
        intro_end = max(ln.bottom for ln in lines if heading.bottom <= ln.top < heading.bottom + 40)
        px = dpi / 72
        mm = 72 / 25.4 * px
        with Image.open(images[i]) as im:
            grey = np.asarray(im.convert("L"), dtype=np.float32)
        top = int((intro_end + 3) * px)
        band = grey[top:top + int(20 * mm), int(18 * mm):int((width - 18 * 72 / 25.4) * px)]
        columns = (band < 250).any(axis=0)  # where something is drawn
        edges = np.flatnonzero(np.diff(np.r_[0, columns.astype(int), 0]))
        return [band[:, a:b] for a, b in zip(edges[::2], edges[1::2], strict=True)
                if b - a > 10 * mm]
    raise AssertionError(f"no forensic section for {name}")


@needs_poppler
def test_the_maps_and_regions_are_drawn(case, tmp_path):
    picture, *maps = _figure_tiles(case, "astronaut.jpg", tmp_path / "png")
    assert picture.std() > 25  # the photograph
    # The four maps (double JPEG: all black; copy-move, noise, ELA: dark with bright detail),
    # not light-grey "missing" placeholders.
    assert len(maps) == 4, len(maps)
    assert all(m.mean() < 150 for m in maps), [m.mean() for m in maps]
    assert sum(m.std() > 20 for m in maps) >= 3, [m.std() for m in maps]


@needs_poppler
def test_the_forensic_regions_are_drawn_on_the_picture(case, tmp_path):
    from inspector.report.pdf import render_report

    with_marks = _figure_tiles(case, "astronaut.jpg", tmp_path / "with")[0]
    plain_analyses = copy.deepcopy(case.store.latest())  # the same without their regions
    for a in plain_analyses:
        for r in (a.forensics or {}).values():
            r["regions"], r["indicators"] = [], {}
    pdf = tmp_path / "plain.pdf"
    render_report(plain_analyses, case.store.meta, pdf, "A4", base_dir=case.store.root)
    plain = _figure_tiles(ForensicCase(case.store, case.photo, case.png, pdf, 0),
                          "astronaut.jpg", tmp_path / "plain")[0]
    assert with_marks.shape == plain.shape
    changed = np.abs(with_marks - plain) > 60
    assert changed.mean() > 0.005  # dash-dot boxes, tags and the copy-move arrow
    assert (with_marks[changed] < 60).mean() > 0.3  # drawn in black (and white halos)


@needs_poppler
def test_a_missing_map_draws_a_placeholder(case, tmp_path):
    picture, *maps = _figure_tiles(case, "chelsea.png", tmp_path / "png")
    assert len(maps) == 2, len(maps)  # the spectrum, and the missing ELA map's placeholder
    spectrum, missing = maps
    assert spectrum.mean() < 150 and spectrum.std() > 20  # a map, not a placeholder
    inside = missing[5:-5, 5:-5]
    assert np.median(inside) > 235 and (inside < 120).mean() < 0.05  # light grey, a few words


WRITTEN = tuple(n for n in ANALYSIS_NAMES
                if (ROOT / "inspector" / "core" / "forensics" / f"{n}.py").is_file())


@pytest.mark.skipif(not WRITTEN, reason="no forensic analysis is written yet")
@needs_poppler
def test_report_of_a_real_forensic_run(tmp_path):
    """The real analyses on a small photo, stored by the case store, in the report."""
    from inspector.core.forensics import ForensicInput, run_forensics
    from inspector.report.pdf import render_case_report

    path = tmp_path / "coffee.jpg"
    with Image.open(SAMPLES / "coffee.jpg") as im:
        im.convert("RGB").crop((0, 0, 400, 300)).save(path, quality=85)
    loaded = load_image(path)
    results = run_forensics(ForensicInput.from_loaded(loaded), only=WRITTEN)
    assert not [r.error for r in results if r.error]
    analysis = Analysis(evidence=evidence_of(loaded), model=_model(),
                        query1=QueryRecord("<raw/>", "A cup.", "real", 0.2),
                        examine_skipped="no regions located",
                        forensics={r.name: r.to_dict() for r in results})
    store = CaseStore.create(tmp_path / "case", "2026-0816")
    store.add_analysis(analysis, {}, forensic_maps={r.name: r.map for r in results
                                                    if r.map is not None})
    pdf = tmp_path / "report.pdf"
    render_case_report(store, pdf, "A4")
    text = flat(" ".join(pages_text(pdf, layout=False)))
    assert SECTION in text
    for r in results:
        assert r.title in text
        assert flat(r.statement) in text
    assert "is not shown" not in text  # every map was found


if __name__ == "__main__":  # python -m tests.test_report_forensics OUT_DIR
    out = Path(sys.argv[1])
    made = build_forensic_case(out)
    print(made.pdf, made.pages, "pages")
    for p in page_images(made.pdf, out / "pages", dpi=60):
        print(p)
