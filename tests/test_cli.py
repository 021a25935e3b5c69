"""`lte-inspect analyze` as a user runs it: a real process, real photos, broken files, JSONL out."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import skimage_photo


def _lte_inspect(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("lte-inspect")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "inspector.cli"]
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    return subprocess.run(
        command + list(args), capture_output=True, text=True, timeout=600, cwd=cwd, env=env
    )


@pytest.fixture(scope="module")
def evidence_folder(tmp_path_factory, taught_case) -> Path:
    folder = tmp_path_factory.mktemp("evidence")
    shutil.copy(taught_case.image_path, folder / "a_astronaut.jpg")
    sub = folder / "more"
    sub.mkdir()
    skimage_photo("coffee").resize((300, 200)).save(sub / "coffee.png")
    skimage_photo("chelsea").save(sub / "chelsea photo é.jpg", quality=85)
    (folder / "b_empty.jpg").write_bytes(b"")
    data = (folder / "a_astronaut.jpg").read_bytes()
    (folder / "c_truncated.jpg").write_bytes(data[: len(data) // 2])
    (folder / "d_notes.jpg").write_text("meeting notes, not a picture\n")
    (folder / "readme.txt").write_text("not an image suffix: skipped by the folder walk")
    return folder


def test_batch_writes_one_line_per_file_and_survives_broken_ones(
    evidence_folder, taught_case, tmp_path
):
    out = tmp_path / "results.jsonl"
    result = _lte_inspect(
        "analyze", str(evidence_folder), "--model", str(taught_case.model_dir),
        "--device", "cpu", "--max-new-tokens", "300", "--json", str(out),
    )
    assert result.returncode == 1, result.stderr  # some files failed
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    by_name = {Path(line["file"]).name: line for line in lines}
    assert sorted(by_name) == sorted([
        "a_astronaut.jpg", "coffee.png", "chelsea photo é.jpg",
        "b_empty.jpg", "c_truncated.jpg", "d_notes.jpg",
    ])
    for name in ("a_astronaut.jpg", "coffee.png", "chelsea photo é.jpg"):
        line = by_name[name]
        assert "error" not in line
        assert line["sha256"] == hashlib.sha256(Path(line["file"]).read_bytes()).hexdigest()
        with Image.open(line["file"]) as im:
            assert (line["width"], line["height"]) == im.size
        for key in ("initial", "final", "regions", "changed", "model", "timings"):
            assert key in line
        for region in line["regions"]:
            x1, y1, x2, y2 = region["box"]
            assert 0 <= x1 < x2 <= line["width"] and 0 <= y1 < y2 <= line["height"]
    taught = by_name["a_astronaut.jpg"]
    assert (taught["initial"]["verdict"], taught["final"]["verdict"]) == ("real", "ai-generated")
    assert taught["changed"] is True and len(taught["regions"]) == 2
    assert 0.0 <= taught["final"]["confidence"] <= 1.0
    assert "empty" in by_name["b_empty.jpg"]["error"]
    assert "truncated" in by_name["c_truncated.jpg"]["error"]
    assert "not an image" in by_name["d_notes.jpg"]["error"]
    # the human summary and the progress
    assert "Real → AI-generated" in result.stdout and "CHANGED" in result.stdout
    assert "[6/6]" in result.stderr
    assert "6 of 6 files processed, 3 failed" in result.stderr


def test_no_examine_and_exit_code_zero_when_all_good(taught_case, tmp_path):
    out = tmp_path / "one.jsonl"
    result = _lte_inspect(
        "analyze", str(taught_case.image_path), "--model", str(taught_case.model_dir),
        "--device", "cpu", "--no-examine", "--json", str(out),
    )
    assert result.returncode == 0, result.stderr
    # nothing but the app's own lines: no warnings, no transformers progress bar between them
    assert "Loading weights" not in result.stderr and "Warning" not in result.stderr
    line = json.loads(out.read_text())
    assert line["initial"]["verdict"] == line["final"]["verdict"] == "real"
    assert line["changed"] is False and "turned off" in line["examine_skipped"]


def test_clear_errors_for_a_missing_model_and_no_images(tmp_path, taught_case):
    result = _lte_inspect("analyze", str(taught_case.image_path), "--model", str(tmp_path / "x"))
    assert result.returncode == 2 and "does not exist" in result.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    result = _lte_inspect("analyze", str(empty), "--model", str(taught_case.model_dir))
    assert result.returncode == 2 and "no image files" in result.stderr


def test_analyze_into_a_case_with_report_and_csv(taught_case, tmp_path):
    if not shutil.which("pdftotext") or not shutil.which("pdfdetach"):
        pytest.skip("poppler-utils (pdftotext, pdfdetach) not installed")
    case, pdf, csv_path = tmp_path / "case", tmp_path / "report.pdf", tmp_path / "table.csv"
    result = _lte_inspect(
        "analyze", str(taught_case.image_path), "--model", str(taught_case.model_dir),
        "--device", "cpu", "--case", str(case), "--case-number", "2026-0417",
        "--examiner", "J. Doe", "--report", str(pdf), "--csv", str(csv_path),
    )
    assert result.returncode == 0, result.stderr
    sha = hashlib.sha256(taught_case.image_path.read_bytes()).hexdigest()
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    assert sha in text and "2026-0417" in text
    assert "Real" in text and "AI-generated" in text
    attachments = subprocess.run(["pdfdetach", "-list", str(pdf)], capture_output=True,
                                 text=True).stdout
    assert "case-results.json" in attachments
    assert sha in csv_path.read_text(encoding="utf-8-sig")
    custody = [json.loads(line) for line in (case / "custody.jsonl").read_text().splitlines()]
    assert {"analysed", "report-exported"} <= {c["action"] for c in custody}
    assert all(c["examiner"] == "J. Doe" for c in custody if c["action"] == "analysed")


def _overridden_analysis():
    from inspector.core.results import (
        Analysis,
        Evidence,
        ExaminerInput,
        ModelProvenance,
        QueryRecord,
        RegionRecord,
    )

    q1 = QueryRecord("raw 1", "looks real", "real", 0.2, [], 100, 100, 40, 1.5, "eos")
    q2 = QueryRecord("raw 2", "six fingers", "ai-generated", 0.87, [], 180, 80, 50, 1.0, "eos")
    return Analysis(
        evidence=Evidence("evidence/a.jpg", 10, "ab" * 32, 640, 480, "JPEG"),
        model=ModelProvenance("m", "transformers"),
        query1=q1,
        regions=[RegionRecord(1, [1.0, 2.0, 30.0, 40.0], "hand", [1, 2, 30, 40], True)],
        query2=q2,
        timings={"total": 2.5},
        examiner=ExaminerInput("J. Doe", "The shadows fall two ways.", "inconclusive",
                               "2026-11-22T10:00:00+00:00"),
    )


def test_summary_line_and_record_carry_the_override():
    from inspector.cli.analyze import analysis_record, summary_line

    analysis = _overridden_analysis()
    line = summary_line(analysis)
    assert line.startswith("Real → AI-generated (P(AI-generated) 0.87) [CHANGED]; 1 region, ")
    assert line.endswith(
        "; Examiner override: Inconclusive — by J. Doe, 2026-11-22 10:00 UTC")
    record = analysis_record(analysis)
    assert record["verdict_of_record"] == "inconclusive"
    assert record["final"]["verdict"] == "ai-generated"  # the model's verdict stays as it was
    assert record["examiner"] == {
        "name": "J. Doe", "override": "inconclusive", "notes": "The shadows fall two ways.",
        "updated": "2026-11-22T10:00:00+00:00",
    }
    json.dumps(record)  # one JSON line

    analysis.examiner.override_verdict = None
    analysis.query2.confidence = None
    analysis.model.is_demo = True
    line = summary_line(analysis)
    assert "override" not in line and "P(AI-generated) not available" in line
    assert line.endswith("[demo model, not a detector]")
    assert analysis_record(analysis)["verdict_of_record"] == "ai-generated"
    assert "findings" not in line and analysis_record(analysis)["follows_findings"] is None


def test_summary_line_and_record_flag_a_verdict_against_all_its_findings():
    from inspector.cli.analyze import analysis_record, summary_line
    from tests.conftest import make_analysis

    analysis = make_analysis()  # Query 2: ai-generated, both findings too
    assert "WARNING" not in summary_line(analysis)
    assert analysis_record(analysis)["follows_findings"] is True
    for finding in analysis.findings:
        finding.points_to = "real"
    line = summary_line(analysis)
    assert line.endswith("; WARNING: corrected verdict against its own findings")
    record = analysis_record(analysis)
    assert record["follows_findings"] is False
    assert record["analysis"]["summary"]["follows_findings"] is False
