"""A batch writing into a case is killed with SIGKILL midway; the case survives and a rerun
finishes the rest without duplicating. A real process, a real (tiny, taught) model, real photos."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from inspector.core.casestore import CaseStore
from tests.conftest import skimage_photo


def _command() -> list[str]:
    exe = Path(sys.executable).with_name("lte-inspect")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "inspector.cli"]


def _env() -> dict[str, str]:
    return dict(os.environ, HF_HUB_OFFLINE="1")


def _lte_inspect(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        _command() + list(args), capture_output=True, text=True, timeout=600, env=_env()
    )


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory, taught_case) -> Path:
    """Eight real photographs with distinct bytes (re-encoded at other qualities and sizes)."""
    folder = tmp_path_factory.mktemp("batch")
    shutil.copy(taught_case.image_path, folder / "01_astronaut.jpg")
    with Image.open(taught_case.image_path) as im:
        base = im.convert("RGB")
    base.save(folder / "02_astronaut_q70.jpg", quality=70)
    base.resize((288, 216)).save(folder / "03_astronaut_small.jpg", quality=88)
    base.save(folder / "04_astronaut.png")
    skimage_photo("coffee").resize((300, 200)).save(folder / "05_coffee.jpg", quality=90)
    skimage_photo("chelsea").resize((300, 200)).save(folder / "06_chelsea.jpg", quality=80)
    skimage_photo("rocket").resize((200, 300)).save(folder / "07_rocket.jpg", quality=85)
    skimage_photo("coffee").resize((240, 160)).save(folder / "08_coffee_small.png")
    digests = {hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}
    assert len(digests) == 8
    return folder


def _analysis_files(case: Path) -> list[Path]:
    return sorted(p for p in (case / "analyses").rglob("*.json") if not p.name.startswith("."))


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")
def test_kill_9_midway_then_rerun_finishes_without_duplicates(photo_folder, taught_case, tmp_path):
    case = tmp_path / "case"
    args = [
        "analyze", str(photo_folder), "--case", str(case), "--case-number", "2026-0007",
        "--examiner", "K. Test", "--model", str(taught_case.model_dir), "--device", "cpu",
        "--max-new-tokens", "300",
    ]
    log = tmp_path / "first-run.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(_command() + args, stdout=out, stderr=subprocess.STDOUT,
                                env=_env())
        deadline = time.monotonic() + 240
        try:
            while len(_analysis_files(case)) < 2:
                assert proc.poll() is None, f"the batch ended early:\n{log.read_text()}"
                assert time.monotonic() < deadline, "no analyses appeared in time"
                time.sleep(0.02)
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    finished = _analysis_files(case)
    print(f"killed after {len(finished)} of 8 analyses")
    assert 2 <= len(finished) < 8, "the kill should land midway through the batch"

    # The case reopens; every finished analysis is whole, with its close-ups.
    store = CaseStore.open(case)
    analyses = store.all_analyses()
    assert len(analyses) == len(finished)  # no temp file is taken for an analysis
    assert {a.id for a in analyses} == {p.stem.split("_", 1)[1] for p in finished}
    for path in finished:
        json.loads(path.read_text(encoding="utf-8"))
    for analysis in analyses:
        assert analysis.evidence.sha256 == hashlib.sha256(
            Path(analysis.evidence.path).read_bytes()).hexdigest()
        for closeup in analysis.closeups:
            with Image.open(store.closeup_path(analysis.id, closeup.region)) as im:
                assert list(im.size) == closeup.output_size
    for problem in store.problems:  # only what a crash may leave behind is reported
        assert "temp file" in problem or "close-ups without an analysis" in problem

    # Rerun: the finished ones are skipped, the rest are analysed, nothing is duplicated.
    table = tmp_path / "table.csv"
    result = _lte_inspect(*args, "--csv", str(table))
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("already in the case") == len(finished)
    assert "8 of 8 files processed, 0 failed" in result.stderr
    store = CaseStore.open(case)
    photos = sorted(photo_folder.iterdir())
    for photo in photos:
        sha = hashlib.sha256(photo.read_bytes()).hexdigest()
        assert len(store.history(sha)) == 1, photo
    assert len(store.latest()) == len(_analysis_files(case)) == 8
    lines = (case / "custody.jsonl").read_text(encoding="utf-8").splitlines()
    entries = [json.loads(line) for line in lines]  # every line is whole, valid JSON
    analysed = [e["analysis_id"] for e in entries if e["action"] == "analysed"]
    assert len(analysed) == len(set(analysed)) >= 7  # at most one may be lost to the kill
    assert {e["examiner"] for e in entries} == {"K. Test"}
    assert entries[0]["action"] == "case-created"
    with open(table, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(Path(r["file"]).name for r in rows) == [p.name for p in photos]
    taught = next(r for r in rows if Path(r["file"]).name == "01_astronaut.jpg")
    assert (taught["initial"], taught["final"], taught["changed"]) == (
        "real", "ai-generated", "yes")


def test_report_needs_a_case_and_report_refuses_a_non_case(tmp_path, photo_path):
    result = _lte_inspect("analyze", str(photo_path), "--report", str(tmp_path / "r.pdf"))
    assert result.returncode == 2 and "--report" in result.stderr and "--case" in result.stderr
    result = _lte_inspect("report", str(tmp_path), "-o", str(tmp_path / "r.pdf"))
    assert result.returncode == 2 and "not a case folder" in result.stderr
    assert not (tmp_path / "r.pdf").exists()
