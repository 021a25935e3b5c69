"""The case store: round trips, history, examiner input, custody log, crash safety, CSV."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PIL import Image

from inspector.core.atomic import atomic_write_bytes, atomic_write_json
from inspector.core.casestore import CaseError, CaseStore
from tests.conftest import make_analysis


def _analysis(path="evidence/a é.jpg", sha="ab" * 32, created="2026-11-22T10:00:00+00:00",
              final="ai-generated", examined=True):
    return make_analysis(path, sha, created, final, examined)


def _closeups(seed: int) -> dict[int, Image.Image]:
    return {
        n: Image.new("RGB", (40 + n, 30), (seed * 40 % 256, n * 60, 200)) for n in (1, 2)
    }


def _case(tmp_path: Path) -> CaseStore:
    return CaseStore.create(tmp_path / "case", "2026-0042", "Flood photos", "A. Examiner")


def test_create_and_reopen_restores_everything(tmp_path):
    store = _case(tmp_path)
    first = _analysis("evidence/a é.jpg", "aa" * 32)
    second = _analysis("evidence/b.png", "bb" * 32, final=None, examined=False)
    p1 = store.add_analysis(first, _closeups(1), examiner="A. Examiner")
    store.add_analysis(second, {}, examiner="A. Examiner")
    assert p1.parent == store.root / "analyses" / ("aa" * 32)
    assert p1.name == f"20261122T100000Z_{first.id}.json"

    again = CaseStore.open(tmp_path / "case")
    assert again.problems == [] and again.stray_temp_files == []
    assert again.meta == store.meta
    assert (again.meta.number, again.meta.title, again.meta.examiner) == (
        "2026-0042", "Flood photos", "A. Examiner")
    case_json = json.loads((store.root / "case.json").read_text())
    assert set(case_json) == {
        "schema_version", "number", "title", "examiner", "created", "software_version"}
    assert again.latest() == [first, second]  # sorted by evidence path; dataclass equality
    assert again.history("aa" * 32) == [first]
    assert again.has_analysis("aa" * 32) and not again.has_analysis("cc" * 32)
    assert again.analysis_ids_for("bb" * 32) == [second.id]
    for n, image in _closeups(1).items():
        path = again.closeup_path(first.id, n)
        assert path == store.root / "closeups" / first.id / f"region-{n}.png"
        with Image.open(path) as im:
            assert im.format == "PNG"
            assert im.convert("RGB").tobytes() == image.tobytes()
    custody = again.custody()
    assert [e["action"] for e in custody] == ["case-created", "analysed", "analysed"]
    for entry in custody:
        assert {"time", "examiner", "action", "sha256", "file", "detail"} <= set(entry)
    assert (custody[1]["sha256"], custody[1]["file"], custody[1]["examiner"]) == (
        "aa" * 32, "evidence/a é.jpg", "A. Examiner")
    assert first.id in custody[1]["detail"]


def test_a_file_is_its_path_a_changed_file_shows_its_newest_analysis(tmp_path):
    store = _case(tmp_path)
    before = _analysis("ev/swap.jpg", sha="01" * 32, created="2026-11-22T10:00:00+00:00")
    copy = _analysis("ev/coffee.jpg", sha="01" * 32, created="2026-11-22T10:01:00+00:00")
    after = _analysis("ev/swap.jpg", sha="02" * 32, created="2026-11-22T11:00:00+00:00",
                      final="real")
    for a in (before, copy, after):
        store.add_analysis(a, {})
    for s in (store, CaseStore.open(store.root)):
        # swap.jpg was overwritten and re-analysed: its first analysis is history; coffee.jpg
        # holds the same bytes as swap.jpg once did, and is a file of its own
        assert [(a.evidence.path, a.id) for a in s.latest()] == [
            ("ev/coffee.jpg", copy.id), ("ev/swap.jpg", after.id)]
        assert [a.id for a in s.history("01" * 32)] == [before.id, copy.id]
        assert len(s.all_analyses()) == 3


def test_reanalysis_keeps_history(tmp_path):
    store = _case(tmp_path)
    sha = "cd" * 32
    old = _analysis(sha=sha, created="2026-11-22T10:00:00+00:00", final="real")
    new = _analysis(sha=sha, created="2026-11-23T09:30:00+00:00", final="ai-generated")
    same_second = _analysis(sha=sha, created="2026-11-23T09:30:00+00:00", final="real")
    store.add_analysis(old, _closeups(1))
    store.add_analysis(new, _closeups(2))
    store.add_analysis(same_second, _closeups(3))  # ties are ordered by the custody log
    for s in (store, CaseStore.open(store.root)):
        assert s.history(sha) == [old, new, same_second]
        assert s.analysis_ids_for(sha) == [old.id, new.id, same_second.id]
        assert s.latest() == [same_second]
    assert len(list((store.root / "analyses" / sha).glob("*.json"))) == 3
    with pytest.raises(CaseError, match="already in the case"):
        store.add_analysis(old, {})


def test_update_examiner_rewrites_one_file_and_logs_it(tmp_path):
    store = _case(tmp_path)
    analysis = _analysis()
    path = store.add_analysis(analysis, _closeups(1))
    store.update_examiner(analysis.id, "B. Reviewer", "Checked the EXIF by hand.", "real")
    again = CaseStore.open(store.root)
    stored = again.latest()[0]
    assert stored.examiner.examiner == "B. Reviewer"
    assert stored.examiner.notes == "Checked the EXIF by hand."
    assert stored.examiner.override_verdict == "real"
    assert stored.examiner.updated
    assert stored.query2 == analysis.query2 and stored.id == analysis.id  # the rest untouched
    assert list(path.parent.iterdir()) == [path]  # rewritten in place, no temp left
    last = again.custody()[-1]
    assert (last["action"], last["examiner"]) == ("examiner-input", "B. Reviewer")
    assert "override real" in last["detail"]
    assert again.comparison_rows()[0]["override"] == "real"
    again.update_examiner(analysis.id, "C. Second", "Neither, on reflection.", "inconclusive")
    stored = CaseStore.open(store.root).latest()[0]
    assert (stored.examiner.override_verdict, stored.verdict_of_record) == (
        "inconclusive", "inconclusive")
    assert "override inconclusive (was real)" in again.custody()[-1]["detail"]
    with pytest.raises(CaseError, match="override verdict .*inconclusive"):
        again.update_examiner(analysis.id, "B", "", "maybe")
    with pytest.raises(CaseError, match="no analysis"):
        again.update_examiner("0" * 32, "B", "", None)


def test_create_refuses_a_foreign_folder_and_open_explains(tmp_path):
    foreign = tmp_path / "holiday"
    foreign.mkdir()
    (foreign / "IMG_0001.jpg").write_bytes(b"x")
    with pytest.raises(CaseError, match="not empty and is not a case"):
        CaseStore.create(foreign, "1")
    with pytest.raises(CaseError, match="not a case folder"):
        CaseStore.open(foreign)
    with pytest.raises(CaseError, match="no case folder"):
        CaseStore.open(tmp_path / "missing")
    store = _case(tmp_path)
    with pytest.raises(CaseError, match="already holds a case"):
        CaseStore.create(store.root, "2")
    assert CaseStore.open_or_create(store.root).meta == store.meta
    fresh = CaseStore.open_or_create(tmp_path / "new-case", title="T")
    assert (fresh.meta.number, fresh.meta.title) == ("new-case", "T")
    (store.root / "case.json").write_text('{"schema_version": 1, "numb')
    with pytest.raises(CaseError, match="corrupt"):
        CaseStore.open(store.root)
    (store.root / "case.json").write_text('{"schema_version": 99, "number": "1"}')
    with pytest.raises(CaseError, match="update LTE Inspector"):
        CaseStore.open(store.root)


def test_atomic_write_replaces_whole_or_not_at_all(tmp_path, monkeypatch):
    target = tmp_path / "data.json"
    atomic_write_json(target, {"v": 1})
    atomic_write_bytes(target, b'{"v": 2}')
    assert json.loads(target.read_text()) == {"v": 2}
    assert list(tmp_path.iterdir()) == [target]

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        atomic_write_bytes(target, b'{"v": 3}')
    monkeypatch.undo()
    assert json.loads(target.read_text()) == {"v": 2}
    assert list(tmp_path.iterdir()) == [target]  # the failed write cleaned up after itself


_KILLED_WRITER = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    sys.path[:0] = [sys.argv[2], sys.argv[3]]
    from PIL import Image
    from inspector.core.casestore import CaseStore
    from tests.test_casestore import _analysis, _closeups

    store = CaseStore.open(sys.argv[1])
    real_replace = os.replace

    def replace(src, dst):
        if str(dst).endswith(".json"):  # the analysis file: die just before it lands
            os.kill(os.getpid(), signal.SIGKILL)
        real_replace(src, dst)

    os.replace = replace
    store.add_analysis(_analysis(sha="ee" * 32), _closeups(5))
    """
)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")
def test_a_writer_killed_mid_analysis_leaves_no_partial_analysis(tmp_path):
    store = _case(tmp_path)
    kept = _analysis(sha="aa" * 32)
    store.add_analysis(kept, _closeups(1))
    repo = Path(__file__).resolve().parent.parent
    script = tmp_path / "writer.py"
    script.write_text(_KILLED_WRITER)
    result = subprocess.run(
        [sys.executable, str(script), str(store.root), str(repo), str(repo / "tests")],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == -signal.SIGKILL, result.stderr
    temps = list(store.root.rglob(".*.tmp"))
    assert len(temps) == 1 and temps[0].parent.name == "ee" * 32  # the half-done write

    again = CaseStore.open(store.root)
    assert again.latest() == [kept]  # the killed analysis is not there, the earlier one is
    assert not again.has_analysis("ee" * 32)
    assert again.stray_temp_files == temps
    assert any("temp file" in p for p in again.problems)
    assert any("close-ups without an analysis" in p for p in again.problems)
    # the case stays usable: the image can be analysed again
    redo = _analysis(sha="ee" * 32)
    again.add_analysis(redo, _closeups(6))
    assert CaseStore.open(store.root).history("ee" * 32) == [redo]


def test_custody_log_is_append_only_and_survives_a_cut_line(tmp_path):
    store = _case(tmp_path)
    store.log("note", "A", "", "", "first")
    before = store.custody_file.read_bytes()
    with open(store.custody_file, "ab") as fh:  # a crash cut the last line short
        fh.write(b'{"time": "2026-11-22T10:00:00", "exam')
    store.log("note", "A", "", "", "after the crash")
    data = store.custody_file.read_bytes()
    assert data.startswith(before)  # never rewritten
    entries = store.custody()
    assert [e["detail"] for e in entries if e["action"] == "note"] == ["first", "after the crash"]
    assert any("incomplete" in p for p in store.problems)
    assert all(line.endswith(b"}") for line in data.split(b"\n")[-2:-1])


def test_comparison_csv(tmp_path):
    store = _case(tmp_path)
    a = _analysis("=cmd.jpg", "aa" * 32)
    b = _analysis("evidence/b é.png", "bb" * 32, final=None)
    c = _analysis("evidence/c.jpg", "cc" * 32, examined=False)
    d = _analysis("evidence/d.jpg", "dd" * 32)
    for finding in d.findings:  # what the model saw close up says real; its verdict AI
        finding.points_to = "real"
    for x in (a, b, c, d):
        store.add_analysis(x, {})
    store.update_examiner(c.id, "=B. Reviewer", "-the shadows fall two ways", "ai-generated")
    store.update_examiner(b.id, "C", "notes only, no override", None)
    rows = store.comparison_rows()
    assert [r["file"] for r in rows] == [
        "=cmd.jpg", "evidence/b é.png", "evidence/c.jpg", "evidence/d.jpg"]
    assert rows[0] == {
        "file": "=cmd.jpg", "sha256": "aa" * 32, "initial": "real",
        "final": "ai-generated", "changed": True, "confidence": 0.9, "regions": 2,
        "seconds": 2.5, "verdict_of_record": "ai-generated", "override": None,
        "override_by": "", "override_at": "", "examiner_notes": "", "follows_findings": True,
    }
    overridden = store.get(c.id).examiner
    assert (rows[2]["verdict_of_record"], rows[2]["override"], rows[2]["override_by"],
            rows[2]["override_at"], rows[2]["examiner_notes"]) == (
        "ai-generated", "ai-generated", "=B. Reviewer", overridden.updated,
        "-the shadows fall two ways")
    assert (rows[1]["verdict_of_record"], rows[1]["override_by"], rows[1]["examiner_notes"]) == (
        None, "", "notes only, no override")
    out = tmp_path / "table.csv"
    store.write_csv(out)
    with open(out, encoding="utf-8-sig", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert list(table[0]) == [
        "file", "sha256", "initial", "final", "changed", "confidence", "regions", "seconds",
        "verdict_of_record", "override", "override_by", "override_at", "examiner_notes",
        "follows_findings"]
    assert table[0]["file"] == "'=cmd.jpg"  # no formula injection from file names
    assert (table[0]["changed"], table[0]["confidence"], table[0]["regions"]) == (
        "yes", "0.9000", "2")
    assert (table[1]["file"], table[1]["final"], table[1]["changed"]) == (
        "evidence/b é.png", "unparsed", "")
    assert (table[2]["initial"], table[2]["final"], table[2]["changed"], table[2]["override"]) == (
        "real", "real", "no", "ai-generated")
    # the override is the verdict of record, with who, when and why; names and notes are
    # untrusted text, so they cannot start a formula either
    assert (table[2]["verdict_of_record"], table[2]["override_by"], table[2]["override_at"],
            table[2]["examiner_notes"]) == (
        "ai-generated", "'=B. Reviewer", overridden.updated, "'-the shadows fall two ways")
    assert (table[0]["verdict_of_record"], table[0]["override"], table[0]["override_by"]) == (
        "ai-generated", "", "")
    assert (table[1]["verdict_of_record"], table[1]["examiner_notes"]) == (
        "unparsed", "notes only, no override")
    # yes / no, and empty where there is nothing to compare (unparsed, Query 2 skipped)
    assert [row["follows_findings"] for row in table] == ["yes", "", "", "no"]


def test_evidence_files_are_never_touched(tmp_path):
    evidence = tmp_path / "evidence.jpg"
    Image.new("RGB", (64, 48), (10, 200, 30)).save(evidence, quality=90)
    os.chmod(evidence, 0o444)
    before = evidence.read_bytes()
    stat = evidence.stat()
    sha = hashlib.sha256(before).hexdigest()

    store = _case(tmp_path)
    analysis = _analysis(str(evidence), sha)
    store.add_analysis(analysis, _closeups(1))
    store.update_examiner(analysis.id, "A", "note", None)
    store.write_csv(tmp_path / "out.csv")
    CaseStore.open(store.root).latest()

    after = evidence.stat()
    assert evidence.read_bytes() == before
    assert (after.st_mtime_ns, after.st_ctime_ns, after.st_size, after.st_mode) == (
        stat.st_mtime_ns, stat.st_ctime_ns, stat.st_size, stat.st_mode)
    assert not any(p.samefile(evidence) for p in store.root.rglob("*") if p.is_file())
