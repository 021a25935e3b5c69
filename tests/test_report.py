"""PDF case reports, checked the way a reader would: with poppler's pdftotext, pdfinfo,
pdfdetach and pdftoppm on the real file (offscreen Qt, real images, a real case store)."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image, ImageStat

from inspector.core.imageio import load_image
from inspector.core.results import (
    Analysis,
    CloseupRecord,
    Evidence,
    ExaminerInput,
    FindingRecord,
    ModelProvenance,
    QueryRecord,
    RegionRecord,
)
from tests.conftest import skimage_photo

POPPLER = ("pdftotext", "pdfinfo", "pdfdetach", "pdftoppm")
needs_poppler = pytest.mark.skipif(
    any(shutil.which(t) is None for t in POPPLER),
    reason="poppler-utils (pdftotext, pdfinfo, pdfdetach, pdftoppm) are not installed",
)

CASE_NUMBER = "2026-0417"
UNICODE_NAME = "证据 café.jpg"
LONG_START, LONG_END = "LONGSTART", "LONGEND"


def _evidence(path: Path, provenance: dict | None = None) -> Evidence:
    loaded = load_image(path)
    ev = Evidence(
        path=str(path), size_bytes=loaded.size_bytes, sha256=loaded.sha256, width=loaded.width,
        height=loaded.height, format=loaded.format, original_mode=loaded.original_mode,
        frame_count=loaded.frame_count, orientation=loaded.orientation, exif=dict(loaded.exif),
    )
    names = {f.name for f in dataclasses.fields(Evidence)}
    if provenance is not None:
        if "provenance" in names:
            ev.provenance = provenance  # type: ignore[attr-defined]
        elif "c2pa" in names:
            ev.c2pa = provenance["c2pa"]  # type: ignore[attr-defined]
    return ev


def _model() -> ModelProvenance:
    return ModelProvenance(
        model_id="tiny-qwen2.5-vl-test", backend="transformers", model_type="qwen2_5_vl",
        revision="0123abcd", weights_sha256="f" * 64, quantization="none", dtype="float32",
        device="cpu", prompts_version="lte-1", generation={"max_new_tokens": 128, "do_sample":
        False}, software_version="0.1.0", is_demo=True,
    )


def _crop(img: Image.Image, box: list[float], scale: float = 2.0) -> Image.Image:
    crop = img.crop(tuple(int(v) for v in box))
    return crop.resize((int(crop.width * scale), int(crop.height * scale)))


def build_analyses(folder: Path) -> tuple[list[Analysis], dict[str, dict[int, Image.Image]]]:
    """Three analyses over real photographs: a changed verdict with a Unicode file name, one with
    an explanation several pages long, one whose examine step was skipped."""
    folder.mkdir(parents=True, exist_ok=True)
    p1 = folder / UNICODE_NAME
    skimage_photo("astronaut").resize((640, 480)).save(p1, quality=90)
    p2 = folder / "long explanation.png"
    skimage_photo("coffee").resize((600, 400)).save(p2)
    p3 = folder / "no regions.jpg"
    skimage_photo("chelsea").save(p3, quality=90)

    closeups: dict[str, dict[int, Image.Image]] = {}
    boxes = [[100.0, 40.0, 260.0, 200.0], [380.0, 250.0, 560.0, 420.0]]
    a1 = Analysis(
        evidence=_evidence(p1, {
            "c2pa": {"status": "absent", "claim_generator": None, "signer": None,
                     "ai_actions": []},
            "digital_source_type": None, "generator_text": None, "software": "GIMP 2.10",
            "notes": ["EXIF camera fields missing"],
        }),
        model=_model(),
        query1=QueryRecord("<raw/>", "Skin and suit look photographic.", "real", 0.21,
                           generated_tokens=80, seconds=1.2, stop_reason="eos"),
        regions=[RegionRecord(1, boxes[0], "face", examined=True),
                 RegionRecord(2, boxes[1], "glove seams — 手套", examined=True)],
        closeups=[CloseupRecord(1, boxes[0], [320, 320], 2.0),
                  CloseupRecord(2, boxes[1], [360, 340], 2.0)],
        query2=QueryRecord("<raw/>", "Close up, both regions show generator artifacts.",
                           "ai-generated", 0.97, generated_tokens=90, seconds=1.4,
                           stop_reason="eos"),
        findings=[FindingRecord(1, "the skin texture repeats in tiles", "ai-generated"),
                  FindingRecord(2, "the seams melt into the fabric", "ai-generated")],
        tags=["texture"],
        examiner=ExaminerInput("D. Example", "Checked against the agency original.", None,
                               "2026-11-22T10:00:00+00:00"),
    )
    with Image.open(p1) as im:
        img1 = im.convert("RGB")
    closeups[a1.id] = {1: _crop(img1, boxes[0]), 2: _crop(img1, boxes[1])}

    words = " ".join(f"The lighting on surface {i} is consistent with a single source"
                     f" and the noise pattern looks like sensor noise." for i in range(260))
    long_text = f"{LONG_START} {words}\n\nSecond paragraph. {words} {LONG_END}"
    a2 = Analysis(
        evidence=_evidence(p2),
        model=_model(),
        query1=QueryRecord("<raw/>", "A cup of coffee.", "ai-generated", None),
        regions=[RegionRecord(1, [200.0, 100.0, 400.0, 300.0], "cup rim", examined=True)],
        closeups=[CloseupRecord(1, [200.0, 100.0, 400.0, 300.0], [400, 400], 2.0)],
        query2=QueryRecord("<raw/>", long_text, "ai-generated", None,
                           problems=["explanation very long"]),
        findings=[FindingRecord(1, "the rim is a perfect ellipse", "ai-generated")],
        examiner=ExaminerInput("D. Example", "Override: the photographer supplied RAW files.\n"
                               "Second line of notes.", "real", "2026-11-22T11:00:00+00:00"),
    )
    with Image.open(p2) as im:
        closeups[a2.id] = {1: _crop(im.convert("RGB"), [200, 100, 400, 300])}
    a3 = Analysis(
        evidence=_evidence(p3),
        model=_model(),
        query1=QueryRecord("<raw/>", "A cat; nothing looks suspicious.", "real", 0.08),
        examine_skipped="no regions located",
    )
    return [a1, a2, a3], closeups


@dataclasses.dataclass
class _Meta:
    number: str = CASE_NUMBER
    title: str = "Flood photos — Tübingen"
    examiner: str = "D. Example"
    created: str = "2026-11-22T09:00:00+00:00"


def _closeup_loader(closeups):
    return lambda aid, n: closeups.get(aid, {}).get(n)


def _run(*args: str) -> str:
    result = subprocess.run(list(args), capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result.stdout.decode("utf-8", errors="replace")


def _pages_text(pdf: Path, layout: bool = True) -> list[str]:
    """Each page's text, as laid out (-layout) or in reading order (a table cell at a time)."""
    text = _run("pdftotext", "-enc", "UTF-8", *(["-layout"] if layout else []), str(pdf), "-")
    pages = text.split("\f")
    return pages[:-1] if pages and not pages[-1].strip() else pages


def _check_pdf(pdf: Path, pages: int, analyses: list[Analysis], size_label: str,
               tmp: Path) -> list[str]:
    info = _run("pdfinfo", str(pdf))
    assert re.search(rf"^Pages:\s+{pages}$", info, re.M), info
    assert re.search(rf"^Page size:.*\({size_label}\)", info, re.M), info
    assert re.search(r"^Title:\s+LTE Inspector report", info, re.M), info
    assert re.search(r"^Creator:\s+LTE Inspector", info, re.M), info

    texts = _pages_text(pdf)
    assert len(texts) == pages
    flat = "\n".join(texts)
    # In reading order (a table cell at a time), as a reader or a search would take the words.
    joined = re.sub(r"\s+", " ", _run("pdftotext", "-enc", "UTF-8", str(pdf), "-"))
    for a in analyses:
        assert a.evidence.sha256 in flat, f"full SHA-256 of {a.evidence.path} missing"
    for word in ("Real", "AI-generated", CASE_NUMBER, "Real → AI-generated", UNICODE_NAME,
                 "not proof", "DEMO MODEL", "not available", "0.97"):
        assert word in joined, word
    for i, text in enumerate(texts, 1):  # a footer on every page
        assert f"Case {CASE_NUMBER} — page {i} of {pages}" in text, (i, text[-300:])

    # The long explanation wraps across pages.
    start = next(i for i, t in enumerate(texts) if LONG_START in t)
    end = next(i for i, t in enumerate(texts) if LONG_END in t)
    assert end > start

    # The JSON attachment.
    listing = _run("pdfdetach", "-list", str(pdf))
    assert "case-results.json" in listing
    out = tmp / f"{pdf.stem}-attached.json"
    _run("pdfdetach", "-save", "1", "-o", str(out), str(pdf))
    data = json.loads(out.read_text(encoding="utf-8"))
    assert {a["id"] for a in data["analyses"]} == {a.id for a in analyses}
    assert data["case"]["number"] == CASE_NUMBER

    # Every page rasterises; an image page is not blank.
    png_dir = tmp / f"{pdf.stem}-png"
    png_dir.mkdir()
    _run("pdftoppm", "-r", "50", "-png", str(pdf), str(png_dir / "p"))
    pngs = sorted(png_dir.glob("p-*.png"))
    assert len(pngs) == pages
    first_image_page = next(i for i, t in enumerate(texts) if "Image 1 of" in t)
    with Image.open(pngs[first_image_page]) as im:
        stat = ImageStat.Stat(im.convert("L"))
        assert stat.stddev[0] > 20, "the image page looks blank"
        assert stat.extrema[0][0] < 60  # something dark was drawn
    return _pages_text(pdf, layout=False)


def test_words():
    """The report says verdicts with the shared wording (inspector.core.wording), not its own."""
    import inspector.report.pdf as pdf
    from inspector.core.wording import confidence_text, verdict_text

    assert verdict_text("real") == "Real"
    assert verdict_text("ai-generated") == "AI-generated"
    assert verdict_text("inconclusive") == "Inconclusive"
    assert verdict_text(None) == "unparsed"
    assert verdict_text("maybe") == "unparsed"  # never guessed
    assert confidence_text(None) == "not available"
    assert confidence_text(0.966) == "0.97"
    for own in ("verdict_word", "confidence_text", "changed_text"):
        assert not hasattr(pdf, own), own


def test_layout_wraps_long_words_and_unicode(tmp_path):
    from PySide6.QtGui import QFont, QPdfWriter

    from inspector.report.drawing import ensure_app
    from inspector.report.layout import PageWriter
    from inspector.report.text_lines import clean_text

    ensure_app()
    writer = QPdfWriter(str(tmp_path / "x.pdf"))
    writer.setResolution(300)
    pw = PageWriter(writer)
    font = QFont("DejaVu Sans")
    font.setPointSizeF(10)
    text = "证据 café 🙂 " + "a" * 400
    lines = pw.wrap(text, font, pw.mm(50))
    assert len(lines) > 3
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")  # nothing lost
    assert clean_text("a\nb\udcff", single_line=True) == "a\\nb\\udcff"
    for _ in range(300):
        pw.text("one line", font)
    assert pw.finish() == len(pw.pages) > 1


@needs_poppler
@pytest.mark.parametrize(("page_size", "label"), [("A4", "A4"), ("Letter", "letter")])
def test_report_a4_and_letter(tmp_path, page_size, label):
    from inspector.report import render_report

    analyses, closeups = build_analyses(tmp_path / "evidence")
    pdf = tmp_path / f"report-{page_size}.pdf"
    pages = render_report(analyses, _Meta(), pdf, page_size,
                          closeup_loader=_closeup_loader(closeups),
                          custody=[{"time": "2026-11-22T09:00:00Z", "examiner": "D. Example",
                                    "action": "case-created"}])
    assert pdf.is_file() and pages >= 6
    texts = _check_pdf(pdf, pages, analyses, label, tmp_path)
    joined = " ".join(texts)
    assert "examine step did not run (no regions located)" in re.sub(r"\s+", " ", joined)
    assert "Chain of custody" in joined
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically


@needs_poppler
def test_missing_evidence_file_is_reported(tmp_path):
    from inspector.report import render_report

    analyses, closeups = build_analyses(tmp_path / "evidence")
    Path(analyses[2].evidence.path).unlink()
    pdf = tmp_path / "report.pdf"
    pages = render_report(analyses, _Meta(), pdf, "A4",
                          closeup_loader=_closeup_loader(closeups))
    joined = re.sub(r"\s+", " ", " ".join(_pages_text(pdf)))
    assert "could not be read" in joined
    assert analyses[2].evidence.sha256 in joined
    assert re.search(rf"^Pages:\s+{pages}$", _run("pdfinfo", str(pdf)), re.M)


@needs_poppler
def test_report_from_real_case_store(tmp_path):
    from inspector.core.casestore import CaseStore
    from inspector.report import render_case_report

    analyses, closeups = build_analyses(tmp_path / "evidence")
    store = CaseStore.create(tmp_path / "case", CASE_NUMBER, "Flood photos — Tübingen",
                             "D. Example")
    for a in analyses:
        store.add_analysis(a, closeups.get(a.id, {}))
    pdf = tmp_path / "case-report.pdf"
    pages = render_case_report(store, pdf, "A4")
    texts = _check_pdf(pdf, pages, analyses, "A4", tmp_path)
    joined = " ".join(texts)
    assert "close-up not stored" not in joined  # the stored PNG close-ups were drawn
    assert "analysed" in joined  # custody log entries
    data = json.loads(
        subprocess.run(["pdfdetach", "-save", "1", "-o", "/dev/stdout", str(pdf)],
                       capture_output=True, check=True).stdout
    )
    assert len(data["custody"]) == len(store.custody())


@needs_poppler
def test_a_region_says_how_surely_the_model_wrote_it(tmp_path):
    from inspector.report import render_report

    analyses, closeups = build_analyses(tmp_path / "evidence")
    analyses[0].regions[0].confidence = 0.8125
    pdf = tmp_path / "report.pdf"
    render_report(analyses[:1], _Meta(), pdf, "A4", closeup_loader=_closeup_loader(closeups))
    joined = re.sub(r"\s+", " ", " ".join(_pages_text(pdf, layout=False)))
    assert "written with surety 0.81" in joined


@needs_poppler
def test_a_corrected_verdict_against_all_its_findings_is_flagged_in_the_report(tmp_path):
    from inspector.report import render_report

    analyses, closeups = build_analyses(tmp_path / "evidence")
    against = analyses[0]  # changed to ai-generated; its two findings now both say real
    for finding in against.findings:
        finding.points_to = "real"
    pdf = tmp_path / "report.pdf"
    render_report(analyses, _Meta(), pdf, "A4", closeup_loader=_closeup_loader(closeups))
    texts = [re.sub(r"\s+", " ", t) for t in _pages_text(pdf, layout=False)]
    summary = next(t for t in texts if "Summary: initial, corrected" in t)
    assert ("3 image(s): 1 changed verdict after the close look, 1 overridden by the examiner, "
            "0 with an unparsed verdict, 1 whose corrected verdict follows none of the model's "
            "own findings.") in summary
    # in the table, under that image's corrected verdict (a narrow cell: the words wrap)
    assert summary.count("against its") == 1
    flagged = [t for t in texts if "follows none of the model's own findings: all 2 of its "
               "findings point to Real" in t]
    assert len(flagged) == 1 and UNICODE_NAME in flagged[0]  # on that image's page only

    for finding in against.findings:  # supported again: nothing said anywhere
        finding.points_to = "ai-generated"
    render_report(analyses, _Meta(), pdf, "A4", closeup_loader=_closeup_loader(closeups))
    joined = re.sub(r"\s+", " ", " ".join(_pages_text(pdf, layout=False)))
    assert "follows none" not in joined
    # only "How to read this report" names the mark, where it says what it means
    assert joined.count("against its own findings") == 1
    assert 'marked "against its own findings": what the model says it saw' in joined
