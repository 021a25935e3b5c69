"""Ctrl-C in a batch: the first one stops the batch after (forensics) or within (analyze) the
running file, every finished file's JSON line is kept whole, the summary says "interrupted" and
the exit code is 130. Real subprocesses and a real SIGINT."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import skimage_photo

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def _start(*args: str) -> subprocess.Popen:
    exe = Path(sys.executable).with_name("lte-inspect")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "inspector.cli"]
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    return subprocess.Popen(command + list(args), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def _interrupt_when(proc: subprocess.Popen, marker: str, timeout: float = 300) -> list[str]:
    """Read stderr until ``marker`` appears, then send one SIGINT; the lines read so far."""
    seen: list[str] = []
    end = time.monotonic() + timeout
    for line in proc.stderr:
        seen.append(line)
        if marker in line:
            proc.send_signal(signal.SIGINT)
            return seen
        if time.monotonic() > end:
            break
    proc.kill()
    raise AssertionError(f"never saw {marker!r}: {''.join(seen)[-2000:]}")


def _photos(folder: Path, count: int, size=(1600, 1200)) -> list[Path]:
    folder.mkdir()
    base = skimage_photo("astronaut").resize(size)
    paths = []
    for i in range(count):
        path = folder / f"{i:02d}.jpg"
        base.rotate(i * 3).save(path, quality=90)  # each its own bytes
        paths.append(path)
    return paths


def test_ctrl_c_stops_forensics_after_the_running_file(tmp_path):
    _photos(tmp_path / "evidence", 40)
    out = tmp_path / "out.jsonl"
    proc = _start("forensics", str(tmp_path / "evidence"), "--json", str(out))
    _interrupt_when(proc, "[2/40]")
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "— interrupted" in stderr
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert 1 <= len(lines) < 40  # the finished files, each whole
    assert all(line["sha256"] and "ela" in line for line in lines)


def test_ctrl_c_cancels_the_running_analysis_and_keeps_the_finished_ones(tmp_path):
    _photos(tmp_path / "evidence", 12, size=(400, 300))
    out = tmp_path / "out.jsonl"
    proc = _start("analyze", str(tmp_path / "evidence"), "--device", "cpu",
                  "--max-new-tokens", "256", "--json", str(out))  # the bundled demo model
    _interrupt_when(proc, "[3/12]")
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "— interrupted" in stderr
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert 2 <= len(lines) < 12 and all(line["final"] for line in lines)
    # the image running at the Ctrl-C is cancelled (or had just finished): never half-written
    cancelled = [line.split(": cancelled")[0] for line in stdout.splitlines()
                 if line.endswith(": cancelled")]
    assert not set(cancelled) & {line["file"] for line in lines}
