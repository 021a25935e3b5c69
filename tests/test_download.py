"""Model downloads against a fake hub on loopback (tests/fakehub.py): no internet needed."""

from __future__ import annotations

import shutil
from collections import namedtuple
from pathlib import Path

import pytest

from inspector.core import download as dl
from inspector.core.download import (
    DiskSpaceError,
    DownloadCancelled,
    DownloadError,
    download_model,
    find_downloaded,
    models_dir,
    repo_id_for,
)
from tests.fakehub import FakeHub

REPO = "lte-test/tiny-vl"
PICKLE_REPO = "lte-test/pickles-only"


@pytest.fixture(autouse=True)
def _online(monkeypatch):
    """conftest sets HF_HUB_OFFLINE=1 for the whole suite; these tests talk to loopback only."""
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)


@pytest.fixture(scope="module")
def hub_repos(tmp_path_factory, tiny_model_dir) -> dict[str, Path]:
    """The tiny model as a hub repo (plus pickles that must be skipped), and a pickle-only repo."""
    root = tmp_path_factory.mktemp("hub")
    repo = root / "tiny"
    shutil.copytree(tiny_model_dir, repo)
    (repo / "pytorch_model.bin").write_bytes(b"\x80\x04 pickle, never fetched" * 100)
    (repo / "training_args.pt").write_bytes(b"\x80\x04 pickle")
    (repo / "notes.txt").write_text("read me\n")
    pickles = root / "pickles"
    pickles.mkdir()
    (pickles / "config.json").write_text('{"model_type": "qwen2_5_vl"}')
    (pickles / "pytorch_model.bin").write_bytes(b"\x80\x04 pickle")
    return {REPO: repo, PICKLE_REPO: pickles}


def _downloaded_files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in folder.rglob("*") if p.is_file()}


def test_download_matches_the_repo_skips_pickles_and_loads(hub_repos, tmp_path):
    events = []
    with FakeHub(hub_repos) as hub:
        path = download_model(REPO, dest=tmp_path, endpoint=hub.endpoint,
                              on_progress=events.append)
    source = hub_repos[REPO]
    expected = {n: b for n, b in _downloaded_files(source).items()
                if not n.endswith((".bin", ".pt"))}
    assert _downloaded_files(path) == expected
    assert path == tmp_path / "models--lte-test--tiny-vl" / "snapshots" / hub.commits[REPO]
    assert not any(k.endswith((".bin", ".pt")) for k in hub.served)
    assert find_downloaded(REPO, dest=tmp_path) == path
    assert find_downloaded(REPO, revision=hub.commits[REPO], dest=tmp_path) == path
    # The same layout as a hub cache: huggingface_hub finds it offline.
    from huggingface_hub import snapshot_download

    assert Path(snapshot_download(REPO, cache_dir=tmp_path, local_files_only=True)) == path

    downloading = [e for e in events if e.phase != "planning"]
    done = [e.bytes_done for e in downloading]
    assert done == sorted(done), "progress must never go backwards"
    total = sum(len(b) for b in expected.values())
    assert downloading[-1].phase == "done"
    assert downloading[-1].bytes_done == downloading[-1].bytes_total == total
    assert downloading[-1].files_done == downloading[-1].files_total == len(expected)
    assert "MB" in downloading[-1].describe() or "KB" in downloading[-1].describe()

    from inspector.core.backends.local import LocalBackend, LocalModelSpec

    backend = LocalBackend(LocalModelSpec(source=str(path), device="cpu", hash_weights=False))
    assert backend.provenance.model_type == "qwen2_5_vl"
    assert backend.provenance.revision == hub.commits[REPO]  # the snapshot folder names it


def test_cancel_keeps_partial_and_resume_fetches_only_the_rest(hub_repos, tmp_path):
    weights = f"{REPO}/model.safetensors"
    size = (hub_repos[REPO] / "model.safetensors").stat().st_size
    seen = []

    def cancel_midway() -> bool:
        return bool(seen) and seen[-1].filename == "model.safetensors" and \
            seen[-1].bytes_done - seen[0].bytes_done > 0 and hub.served[weights] > size // 3

    with FakeHub(hub_repos, chunk=1 << 15, delay=0.002) as hub:  # ~16 MB/s: cancel mid-file
        with pytest.raises(DownloadCancelled, match="run it again to resume"):
            download_model(REPO, dest=tmp_path, endpoint=hub.endpoint,
                           on_progress=seen.append, is_cancelled=cancel_midway)
        first_requests = len(hub.requests)
        snapshot = tmp_path / "models--lte-test--tiny-vl" / "snapshots" / hub.commits[REPO]
        finished = {p.name for p in snapshot.iterdir()}
        assert "config.json" in finished and "model.safetensors" not in finished
        partial = next((tmp_path / "models--lte-test--tiny-vl" / ".incomplete").rglob(
            "model.safetensors.incomplete"))
        kept = partial.stat().st_size
        assert 0 < kept < size
        assert find_downloaded(REPO, dest=tmp_path) is None  # not complete: no ref yet

        hub.delay = 0.0
        resumed = []
        path = download_model(REPO, dest=tmp_path, endpoint=hub.endpoint,
                              on_progress=resumed.append)
    second = [r for r in hub.requests[first_requests:] if r[0] == "GET"]
    assert (path / "model.safetensors").read_bytes() == \
        (hub_repos[REPO] / "model.safetensors").read_bytes()
    # Finished files were not fetched again; the weights continued where they stopped.
    fetched = {p.rsplit("/", 1)[-1] for _, p, _ in second if "/resolve/" in p}
    assert fetched and not fetched & finished
    resolve = f"/{REPO}/resolve/{hub.commits[REPO]}/model.safetensors"
    assert [r for r in second if r[1] == resolve] == [("GET", resolve, f"bytes={kept}-")]
    assert (weights, f"bytes={kept}-", size - kept) in hub.transfers
    started = [e for e in resumed if e.phase == "downloading"][0]
    assert started.bytes_done >= kept  # progress counts what was already on disk


def test_disk_space_is_checked_before_downloading(hub_repos, tmp_path, monkeypatch):
    # Mock: shutil.disk_usage reports 1 KB free (the real disk has plenty).
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(dl.shutil, "disk_usage", lambda path: usage(10**12, 10**12, 1000))
    with FakeHub(hub_repos) as hub, pytest.raises(DiskSpaceError, match="not enough disk"):
        download_model(REPO, dest=tmp_path, endpoint=hub.endpoint)
    assert not hub.served  # refused before the first byte


def test_pickle_only_repo_is_refused(hub_repos, tmp_path):
    with FakeHub(hub_repos) as hub:
        with pytest.raises(DownloadError, match="safetensors only"):
            download_model(PICKLE_REPO, dest=tmp_path, endpoint=hub.endpoint)
        with pytest.raises(DownloadError, match="not found"):
            download_model("lte-test/missing", dest=tmp_path, endpoint=hub.endpoint)


def test_offline_mode_refuses_clearly(hub_repos, tmp_path, monkeypatch):
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with FakeHub(hub_repos) as hub, pytest.raises(DownloadError, match="HF_HUB_OFFLINE"):
        download_model(REPO, dest=tmp_path, endpoint=hub.endpoint)
    assert not hub.requests


def test_corrupt_file_is_deleted(hub_repos, tmp_path, monkeypatch):
    with FakeHub(hub_repos) as hub:
        info = hub._info

        def lying(repo_id):  # the Hub's checksum for the weights does not match their bytes
            data = info(repo_id)
            for s in data["siblings"]:
                if s["rfilename"] == "model.safetensors":
                    s["lfs"]["sha256"] = "0" * 64
            return data

        monkeypatch.setattr(hub, "_info", lying)
        with pytest.raises(DownloadError, match="corrupt"):
            download_model(REPO, dest=tmp_path, endpoint=hub.endpoint)
    assert not list(tmp_path.rglob("model.safetensors*"))


def test_models_dir_and_ids(monkeypatch, tmp_path):
    monkeypatch.setenv("LTE_MODELS_DIR", str(tmp_path / "m"))
    assert models_dir() == tmp_path / "m"
    monkeypatch.delenv("LTE_MODELS_DIR")
    assert models_dir().name == "models" and "lte-inspector" in str(models_dir())
    assert repo_id_for("qwen2.5-vl-7b-4bit") == "Qwen/Qwen2.5-VL-7B-Instruct"
    assert repo_id_for("Qwen/Qwen3-VL-8B-Instruct") == "Qwen/Qwen3-VL-8B-Instruct"
    for bad in ("remote-server", "../etc", "a b"):
        with pytest.raises(DownloadError):
            repo_id_for(bad)


def test_cli_download_then_analyze_by_hub_id(hub_repos, tmp_path, photo_path):
    """`lte-inspect download ID`, then `analyze --model ID` finds it offline."""
    import os
    import subprocess
    import sys

    exe = str(Path(sys.executable).with_name("lte-inspect"))
    models = tmp_path / "models"
    with FakeHub(hub_repos) as hub:
        env = dict(os.environ, HF_ENDPOINT=hub.endpoint, HF_HUB_OFFLINE="0",
                   LTE_MODELS_DIR=str(models))
        done = subprocess.run([exe, "download", REPO], capture_output=True, text=True, env=env,
                              timeout=300)
    assert done.returncode == 0, done.stderr
    snapshot = Path(done.stdout.strip().splitlines()[-1])
    assert snapshot.is_dir() and models in snapshot.parents
    assert not list(snapshot.rglob("*.bin"))
    env = dict(os.environ, HF_HUB_OFFLINE="1", LTE_MODELS_DIR=str(models))
    run = subprocess.run(
        [exe, "analyze", str(photo_path), "--model", REPO, "--device", "cpu",
         "--max-new-tokens", "8"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert "memory:" in run.stderr and "fits" in run.stderr  # the check ran before loading
    assert "1 of 1 files processed, 0 failed" in run.stderr
