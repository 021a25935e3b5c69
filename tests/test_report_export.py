"""Exporting a case report records it in the custody log (one function for the CLI and the
window); who and what the report names when the case leaves fields empty; headings stay with
what follows them."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from inspector.core.case_meta import CaseMeta
from inspector.core.casestore import CaseStore
from inspector.core.imageio import load_image
from inspector.core.pipeline import evidence_of
from inspector.core.results import Analysis, ExaminerInput, ModelProvenance, QueryRecord
from inspector.report.case_facts import case_facts, custody_examiner

ROOT = Path(__file__).resolve().parent.parent
needs_pdftotext = pytest.mark.skipif(shutil.which("pdftotext") is None,
                                     reason="poppler-utils (pdftotext) is not installed")


def _analysis(path: Path, examiner: ExaminerInput | None = None) -> Analysis:
    return Analysis(
        evidence=evidence_of(load_image(path)),
        model=ModelProvenance("tiny-qwen2.5-vl-test", "transformers", is_demo=True),
        query1=QueryRecord("<raw/>", "A cat photographed indoors.", "real", 0.12,
                           generated_tokens=20, seconds=0.5, stop_reason="eos"),
        examine_skipped="no regions located",
        examiner=examiner or ExaminerInput(),
    )


def _text(pdf: Path) -> str:
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True,
                         check=True).stdout.decode("utf-8")
    return re.sub(r"\s+", " ", out)


def _case(tmp_path: Path, **kw) -> CaseStore:
    image = tmp_path / "chelsea.jpg"
    shutil.copyfile(ROOT / "resources" / "samples" / "chelsea.jpg", image)
    store = CaseStore.create(tmp_path / "case", "2026-0417", **kw)
    store.add_analysis(_analysis(image), {}, examiner=kw.get("examiner", ""))
    return store


@needs_pdftotext
def test_export_renders_hashes_and_logs_with_the_examiner(tmp_path):
    from inspector.report.export import ReportExport, export_case_report

    store = _case(tmp_path, title="Flood photos", examiner="D. Example")
    out = tmp_path / "out" / "report.pdf"
    out.parent.mkdir()
    first = export_case_report(store, out, "Letter", examiner="J. Doe")
    assert isinstance(first, ReportExport)
    assert first.path == out.resolve() and first.pages >= 3
    assert first.sha256 == hashlib.sha256(out.read_bytes()).hexdigest()
    entry = store.custody()[-1]
    assert entry["action"] == "report-exported" and entry["examiner"] == "J. Doe"
    assert entry["sha256"] == first.sha256 and entry["file"] == str(out.resolve())
    assert f"{first.pages} pages, Letter" in entry["detail"]

    # The next report lists the first export, by whom, and names its own exporter on the cover.
    second = export_case_report(store, tmp_path / "again.pdf", examiner="J. Doe")
    text = _text(tmp_path / "again.pdf")
    assert "Case 2026-0417 — Flood photos" in text
    assert "Examiner D. Example" in text and "Report exported by J. Doe" in text
    assert "PDF report exported" in text and first.sha256 in text
    assert "(case examiner)" not in text  # every entry of this case names its examiner
    assert len(store.custody()) == 4 and second.sha256 != first.sha256


def test_export_failure_logs_nothing(tmp_path):
    from inspector.report.export import export_case_report

    store = _case(tmp_path)
    before = len(store.custody())
    with pytest.raises(ValueError, match="page size"):
        export_case_report(store, tmp_path / "r.pdf", "A5", examiner="J. Doe")
    assert len(store.custody()) == before and not (tmp_path / "r.pdf").exists()


@needs_pdftotext
def test_cli_report_exports_through_the_shared_function(tmp_path, capsys):
    from inspector.cli import main

    store = _case(tmp_path)
    pdf = tmp_path / "cli.pdf"
    assert main(["report", str(store.root), "-o", str(pdf), "--examiner", "J. Doe"]) == 0
    entries = [json.loads(line) for line in store.custody_file.read_text().splitlines()]
    assert entries[-1]["action"] == "report-exported" and entries[-1]["examiner"] == "J. Doe"
    assert entries[-1]["sha256"] == hashlib.sha256(pdf.read_bytes()).hexdigest()
    assert "pages)" in capsys.readouterr().err
    text = _text(pdf)
    # The case names no examiner and no title: the exporter and the folder stand in, marked.
    assert "Examiner J. Doe (exported this report; the case file names no examiner)" in text
    assert "Case title case (no title given; the case folder's name)" in text
    assert "Examiner not recorded" not in text and "Who: not recorded" not in text


def test_case_facts_fall_back_in_order(tmp_path):
    named = ExaminerInput("A. Analyst", "notes", "real", "2026-12-02T17:00:00+00:00")
    other = ExaminerInput("B. Second", "", None, None)

    class _A:  # only the examiner input is read
        def __init__(self, ex):
            self.examiner = ex

    meta = CaseMeta("session-20261202", title="", examiner="")
    folder = tmp_path / "session-20261202"
    facts = case_facts(meta, [_A(named), _A(other), _A(named)], [], folder, "C. Export")
    assert facts.examiner == "A. Analyst, B. Second"
    assert "examiner's notes" in facts.examiner_line
    assert facts.heading == "Case session-20261202"  # the folder's name would only repeat it
    assert facts.title == "session-20261202" and not facts.title_given

    custody = [{"time": "t", "examiner": "", "action": "case-created"},
               {"time": "t", "examiner": "L. Logger", "action": "analysed"}]
    facts = case_facts(meta, [_A(ExaminerInput())], custody, tmp_path / "flood", "C. Export")
    assert facts.examiner == "L. Logger" and "custody log" in facts.examiner_line
    assert facts.heading == "Case session-20261202 — flood"
    assert custody_examiner(custody[0], facts) == "L. Logger (case examiner)"
    assert custody_examiner(custody[1], facts) == "L. Logger"

    facts = case_facts(meta, [], [], None, "C. Export")
    assert facts.examiner == "C. Export" and "exported this report" in facts.examiner_line
    facts = case_facts(meta, [], [], None, "")
    assert facts.examiner == "" and custody_examiner({}, facts) == "not named"

    given = case_facts(CaseMeta("2026-0417", "Flood photos", "D. Example"), [_A(named)], [],
                       folder)
    assert given.examiner_line == "D. Example" and given.title_line == "Flood photos"
    assert given.heading == "Case 2026-0417 — Flood photos"


def test_a_heading_moves_with_the_picture_below_it(tmp_path):
    from PySide6.QtGui import QFont, QPdfWriter

    from inspector.report.drawing import ensure_app
    from inspector.report.layout import PageWriter

    ensure_app()
    writer = QPdfWriter(str(tmp_path / "x.pdf"))
    writer.setResolution(300)
    pw = PageWriter(writer)
    font = QFont("DejaVu Sans")
    font.setPointSizeF(10)
    while pw.remaining > pw.mm(60):
        pw.text("filler", font)
    pw.heading("Image and located regions", font, anchor="image")
    pw.block(pw.mm(80), lambda p, r: None)  # does not fit below: both go to page 2
    assert pw.anchors["image"] == 1 == pw.page_index
    pw.heading("Short", font, anchor="short")
    pw.text("one line", font)  # fits: stays on page 2
    assert pw.anchors["short"] == 1
    pw.finish()


def test_lines_do_not_end_inside_a_hyphenated_word(tmp_path):
    from PySide6.QtGui import QFont, QPdfWriter

    from inspector.report.drawing import ensure_app
    from inspector.report.text_lines import wrap_text

    ensure_app()
    writer = QPdfWriter(str(tmp_path / "x.pdf"))
    writer.setResolution(300)
    font = QFont("DejaVu Sans")
    font.setPointSizeF(9.5)
    text = "The model's P(AI-generated) is read at the verdict; AI-generated or real. " * 6
    for width_mm in range(30, 90, 3):
        lines = wrap_text(text, font, width_mm * 300 / 25.4, writer)
        assert " ".join(lines).split() == text.split()  # nothing lost, hyphens kept
        assert not any(line.endswith("-") for line in lines), (width_mm, lines)
    long_word = "ab-cd" * 40  # longer than a line: still broken, nothing lost
    lines = wrap_text(long_word, font, 300, writer)
    assert len(lines) > 1 and "".join(lines) == long_word


@needs_pdftotext
def test_a_report_says_when_the_closeups_were_random_boxes(tmp_path):
    """An ablation run's close-ups carry the located regions' labels; the report must not let
    them pass for the model's own regions."""
    from inspector.report.export import export_case_report

    image = tmp_path / "chelsea.jpg"
    shutil.copyfile(ROOT / "resources" / "samples" / "chelsea.jpg", image)
    store = CaseStore.create(tmp_path / "case", "2026-0418")
    located, shuffled = _analysis(image), _analysis(image)
    located.closeup_policy = {"mode": "located", "seed": 0}
    shuffled.closeup_policy = {"mode": "random", "seed": 3}
    store.add_analysis(located, {})
    export_case_report(store, tmp_path / "located.pdf")
    assert "ABLATION" not in _text(tmp_path / "located.pdf")
    store.add_analysis(shuffled, {})  # the latest analysis of the file is reported
    export_case_report(store, tmp_path / "random.pdf")
    text = re.sub(r"\s+", " ", _text(tmp_path / "random.pdf"))
    assert "ABLATION: Query 2 examined random boxes" in text and "(seed 3)" in text
