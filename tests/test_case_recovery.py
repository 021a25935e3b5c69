"""What a crash leaves in a case is moved into its recovered folder on open: once, with one
custody entry, nothing deleted; opening again says nothing more.

The leftovers are made by a real writer process killed (SIGKILL) just before its analysis file
lands, as in tests/test_casestore.py; their modification times are then set back two minutes,
as when the case is opened some time after the crash.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from inspector.core.case_recovery import LEFTOVER_MIN_AGE
from inspector.core.casestore import CaseStore
from tests.test_casestore import _KILLED_WRITER, _analysis, _case, _closeups

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")


def _kill_a_writer(store: CaseStore, tmp_path: Path) -> None:
    script = tmp_path / "writer.py"
    script.write_text(_KILLED_WRITER)
    result = subprocess.run(
        [sys.executable, str(script), str(store.root), str(REPO), str(REPO / "tests")],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == -signal.SIGKILL, result.stderr


def _age(root: Path, seconds: float = 2 * LEFTOVER_MIN_AGE) -> None:
    """Set every file and folder back ``seconds``: the case is opened a while after the crash."""
    past = time.time() - seconds
    for path in [root, *root.rglob("*")]:
        os.utime(path, (past, past))


def _contents(root: Path) -> dict[str, str]:
    """Every file under ``root`` (relative path → SHA-256), to show nothing was lost."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def crashed_case(tmp_path) -> CaseStore:
    """A case with one analysis, then a save killed twice mid-way (and a stray temp file of a
    rewrite of case.json): 2 close-up folders without an analysis and 3 temp files."""
    store = _case(tmp_path)
    store.add_analysis(_analysis(sha="aa" * 32), _closeups(1))
    _kill_a_writer(store, tmp_path)
    _kill_a_writer(store, tmp_path)
    (store.root / ".case.json.0123456789ab.tmp").write_text('{"half": ')
    _age(store.root)
    return store


def test_leftovers_move_to_the_recovered_folder_once(crashed_case):
    root = crashed_case.root
    orphans = sorted(p.name for p in (root / "closeups").iterdir()
                     if p.name not in {a.id for a in crashed_case.all_analyses()})
    assert len(orphans) == 2
    before = _contents(root)
    custody_before = len(crashed_case.custody())

    opened = CaseStore.open(root)
    (note,) = opened.problems
    assert "moved 3 temp files and 2 close-up folders without an analysis" in note
    assert "(nothing deleted)" in note and opened.stray_temp_files == []
    (recovered,) = (root / "recovered").iterdir()
    assert str(recovered) in note
    # nothing deleted: every file is still there, same bytes, under recovered/<time>/ now
    after = _contents(root)
    moved = {k: v for k, v in before.items() if k not in after}
    assert len(moved) == 3 + 2 * 2  # 3 temp files, 2 close-ups in each orphaned folder
    prefix = recovered.relative_to(root).as_posix() + "/"
    assert {prefix + k: v for k, v in moved.items()} == {
        k: v for k, v in after.items() if k.startswith(prefix)}
    assert not list(root.glob("**/.*.tmp")) or all(
        "recovered" in p.parts for p in root.glob("**/.*.tmp"))
    assert sorted(p.name for p in (root / "closeups").iterdir()) == sorted(
        a.id for a in opened.all_analyses())
    # one custody entry names the folder and every path moved
    entries = opened.custody()
    assert len(entries) == custody_before + 1
    entry = entries[-1]
    assert entry["action"] == "recovered-leftovers" and entry["file"] == prefix.rstrip("/")
    assert all(f"closeups/{name}" in entry["detail"] for name in orphans)
    assert entry["detail"].count(".tmp") == 3
    # the case is intact and usable
    assert [a.evidence.sha256 for a in opened.latest()] == ["aa" * 32]
    redo = _analysis(sha="ee" * 32)
    opened.add_analysis(redo, _closeups(6))

    again = CaseStore.open(root)  # says nothing more, logs nothing more
    assert again.problems == [] and again.stray_temp_files == []
    assert len(again.custody()) == custody_before + 1 + 1  # + the redo's "analysed"
    assert again.history("ee" * 32) == [redo]


def test_a_save_that_may_be_under_way_is_left_in_place(tmp_path):
    """Leftovers younger than a minute may be another window's save in progress: noted, not
    moved."""
    store = _case(tmp_path)
    _kill_a_writer(store, tmp_path)
    opened = CaseStore.open(store.root)
    assert not (store.root / "recovered").exists()
    assert len(opened.stray_temp_files) == 1
    assert any("close-ups without an analysis" in p for p in opened.problems)
    assert all(e["action"] != "recovered-leftovers" for e in opened.custody())


def test_close_ups_of_an_analysis_this_version_cannot_read_stay(tmp_path):
    """An analysis file from a newer version is not read, but its close-ups are not orphans."""
    store = _case(tmp_path)
    analysis = _analysis(sha="aa" * 32)
    path = store.add_analysis(analysis, _closeups(1))
    data = json.loads(path.read_text())
    data["schema_version"] = 99
    path.write_text(json.dumps(data))
    _age(store.root)
    opened = CaseStore.open(store.root)
    assert (store.root / "closeups" / analysis.id).is_dir()
    assert not (store.root / "recovered").exists()
    assert any("unreadable" in p or "newer" in p for p in opened.problems)


def test_report_says_the_move_once(crashed_case, tmp_path):
    """`lte-inspect report` on the crashed case: one note about the move (it used to print every
    leftover twice, on every run), none on the next run."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    run = [sys.executable, "-c", "import sys; from inspector.cli import main; "
           "sys.exit(main(sys.argv[1:]))", "report", str(crashed_case.root), "-o",
           str(tmp_path / "case.pdf")]
    first = subprocess.run(run, capture_output=True, text=True, timeout=120, env=env, cwd=REPO)
    assert first.returncode == 0, first.stderr
    notes = [line for line in first.stderr.splitlines() if "interrupted" in line]
    assert len(notes) == 1 and notes[0].startswith("note: case ") and "moved" in notes[0], (
        first.stderr)
    second = subprocess.run(run, capture_output=True, text=True, timeout=120, env=env, cwd=REPO)
    assert second.returncode == 0, second.stderr
    assert "note:" not in second.stderr and "interrupted" not in second.stderr, second.stderr
