"""Model downloads: the only place the application talks to the network.

``download_model("Qwen/Qwen2.5-VL-7B-Instruct")`` fetches a checkpoint into the models folder
(:func:`models_dir`), laid out like a Hugging Face cache so ``snapshot_download(repo,
cache_dir=models_dir(), local_files_only=True)`` finds it::

    <models_dir>/models--Qwen--Qwen2.5-VL-7B-Instruct/
        snapshots/<commit>/...        complete, verified files only
        refs/<revision>               written last: the download is complete
        .incomplete/<commit>/...      partial files (kept on cancel or error; a rerun resumes)

Behaviour:

* plan first (``HfApi.model_info`` with file metadata): only safetensors weights, JSON,
  tokenizer files, chat templates (*.jinja), *.txt and *.md are fetched; a repository whose
  weights exist only as pickles (.bin/.pt/.pth/.ckpt) is refused with a clear message;
* disk-space check before the first byte (``shutil.disk_usage`` >= what is left + 5 %);
* progress aggregated over all files (bytes done / total, speed over the last seconds, ETA);
* cancel between chunks (``is_cancelled``) -> :class:`DownloadCancelled`; partial files stay;
* resume: finished files are not fetched again, partial files continue with an HTTP Range
  request (huggingface_hub 2.4 itself restarts partial files from zero, so the GET is ours);
* every file is verified: SHA-256 for LFS files (weights), the git blob SHA-1 for the others.

Uses huggingface_hub's public API (``HfApi``, ``hf_hub_url``, ``get_hf_file_metadata``,
``get_session``, ``build_hf_headers``), so tokens (``HF_TOKEN``), proxies and ``HF_ENDPOINT``
work as for any hub client. ``HF_HUB_OFFLINE=1`` is respected: downloading then fails clearly.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import os
import re
import shutil
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from inspector.core.extras import missing_extra

__all__ = [
    "ALLOWED_PATTERNS",
    "DiskSpaceError",
    "DownloadCancelled",
    "DownloadError",
    "Progress",
    "download_model",
    "find_downloaded",
    "models_dir",
    "repo_id_for",
]

ALLOWED_PATTERNS = (
    "*.safetensors",
    "*.json",
    "*.jinja",
    "*.txt",
    "*.md",
    "tokenizer.model",
    "*.tiktoken",
)
PICKLE_WEIGHTS = ("*.bin", "*.pt", "*.pth", "*.ckpt", "*.pkl")
DISK_MARGIN = 1.05
CHUNK = 1 << 20
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?$")


class DownloadError(RuntimeError):
    """The download cannot be done (bad id, refused repository, network, checksum)."""


class DiskSpaceError(DownloadError):
    """Not enough free disk space for what is left to download."""


class DownloadCancelled(DownloadError):
    """Cancelled by the caller; partial files are kept so a rerun resumes."""


@dataclass(frozen=True)
class Progress:
    repo_id: str
    filename: str | None  # file being fetched (None while planning or when done)
    files_done: int
    files_total: int
    bytes_done: int  # including bytes already on disk from an earlier run
    bytes_total: int
    speed_bps: float | None  # bytes per second over the last few seconds
    eta_seconds: float | None
    phase: str  # "planning" | "downloading" | "done"

    @property
    def fraction(self) -> float:
        return self.bytes_done / self.bytes_total if self.bytes_total else 1.0

    def describe(self) -> str:
        """One line for a status bar: '1.2 GB / 16.6 GB (7 %), 45.3 MB/s, 5 min 40 s left'."""
        text = (f"{_human(self.bytes_done)} / {_human(self.bytes_total)} "
                f"({self.fraction:.0%}), file {min(self.files_done + 1, self.files_total)} of "
                f"{self.files_total}")
        if self.speed_bps:
            text += f", {_human(self.speed_bps)}/s"
        if self.eta_seconds is not None and self.phase == "downloading":
            text += f", {_duration(self.eta_seconds)} left"
        return text


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def models_dir() -> Path:
    """Where models are downloaded: $LTE_MODELS_DIR, else the per-user data folder + /models."""
    env = os.environ.get("LTE_MODELS_DIR")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("lte-inspector")) / "models"


def repo_id_for(preset_or_id: str) -> str:
    """The hub id a preset downloads, or ``preset_or_id`` itself when it is a hub id."""
    from inspector.core.presets import PRESETS

    preset = PRESETS.get(preset_or_id.strip().lower())
    if preset is not None:
        if not preset.downloadable:
            raise DownloadError(
                f"preset {preset.name} has nothing to download ({preset.title}); give a hub id"
            )
        return preset.model_id  # type: ignore[return-value]
    if not _REPO_ID.match(preset_or_id) or ".." in preset_or_id:
        raise DownloadError(
            f"{preset_or_id!r} is neither a preset ({', '.join(PRESETS)}) nor a hub id like "
            f"Qwen/Qwen2.5-VL-7B-Instruct"
        )
    return preset_or_id


def _repo_folder(root: Path, repo_id: str) -> Path:
    return root / ("models--" + repo_id.replace("/", "--"))


def find_downloaded(repo_id: str, revision: str | None = None, dest: Path | None = None
                    ) -> Path | None:
    """The complete snapshot folder of ``repo_id`` in the models folder, or None. No network."""
    folder = _repo_folder(Path(dest) if dest else models_dir(), repo_id)
    revision = revision or "main"
    if not (folder / "refs").is_dir():
        return None
    if re.fullmatch(r"[0-9a-f]{40}", revision):
        commit = revision if revision in _read_refs(folder) else None
    else:
        try:
            commit = (folder / "refs" / revision).read_text().strip()
        except OSError:
            commit = None
    snapshot = folder / "snapshots" / commit if commit else None
    return snapshot if snapshot is not None and snapshot.is_dir() else None


def _read_refs(folder: Path) -> set[str]:
    refs = set()
    for ref in (folder / "refs").rglob("*"):
        if ref.is_file():
            with contextlib.suppress(OSError):
                refs.add(ref.read_text().strip())
    return refs


def _allowed(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatch(base, pattern) for pattern in ALLOWED_PATTERNS)


@dataclass
class _File:
    name: str
    size: int
    sha256: str | None  # LFS files
    git_sha1: str | None  # regular git blobs


def _plan(api, repo_id: str, revision: str | None) -> tuple[str, list[_File]]:
    from huggingface_hub.errors import (
        GatedRepoError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    try:
        info = api.model_info(repo_id, revision=revision, files_metadata=True)
    except OfflineModeIsEnabled as exc:
        raise DownloadError(
            "downloads are off: HF_HUB_OFFLINE is set; unset it to download models"
        ) from exc
    except GatedRepoError as exc:
        raise DownloadError(
            f"{repo_id} is gated: accept its licence on the Hub and log in "
            f"(huggingface-cli login or HF_TOKEN), then try again"
        ) from exc
    except RevisionNotFoundError as exc:
        raise DownloadError(f"{repo_id} has no revision {revision!r}") from exc
    except RepositoryNotFoundError as exc:
        raise DownloadError(f"model {repo_id} was not found on the Hub (check the id)") from exc
    except Exception as exc:  # network, TLS, proxy, 5xx
        raise DownloadError(f"could not reach the Hub for {repo_id}: {exc}") from exc
    if not info.sha:
        raise DownloadError(f"the Hub did not say which commit {repo_id} is at")
    siblings = info.siblings or []
    names = [s.rfilename for s in siblings]
    if not any(fnmatch.fnmatch(n, "*.safetensors") for n in names):
        pickles = [n for n in names if any(fnmatch.fnmatch(n, p) for p in PICKLE_WEIGHTS)]
        if pickles:
            raise DownloadError(
                f"{repo_id} has weights only as PyTorch pickles ({', '.join(pickles[:3])}); "
                f"LTE Inspector loads safetensors only, because unpickling a file can run code. "
                f"Use a safetensors version of this model."
            )
        raise DownloadError(f"{repo_id} has no *.safetensors weights")
    files = []
    for s in siblings:
        if not _allowed(s.rfilename):
            continue
        if s.size is None:
            raise DownloadError(f"the Hub gave no size for {repo_id}/{s.rfilename}")
        files.append(_File(s.rfilename, int(s.size), s.lfs.sha256 if s.lfs else None,
                           None if s.lfs else s.blob_id))
    return info.sha, files


class _Meter:
    """Aggregate progress with speed over a sliding window of a few seconds."""

    def __init__(self, repo_id, files, done_bytes, callback, window=5.0) -> None:
        self.repo_id = repo_id
        self.total = sum(f.size for f in files)
        self.files_total = len(files)
        self.files_done = 0
        self.done = done_bytes
        self.callback = callback
        self.window = window
        self.samples: deque[tuple[float, int]] = deque([(time.monotonic(), self.done)])
        self.last_emit = 0.0

    def emit(self, filename: str | None, phase: str = "downloading", force=False) -> None:
        if self.callback is None:
            return
        now = time.monotonic()
        if not force and now - self.last_emit < 0.1:
            return
        self.last_emit = now
        self.samples.append((now, self.done))
        while len(self.samples) > 2 and now - self.samples[0][0] > self.window:
            self.samples.popleft()
        t0, b0 = self.samples[0]
        speed = (self.done - b0) / (now - t0) if now - t0 > 0.2 and self.done > b0 else None
        left = self.total - self.done
        eta = left / speed if speed else (0.0 if left == 0 else None)
        self.callback(Progress(self.repo_id, filename, self.files_done, self.files_total,
                               self.done, self.total, speed, eta, phase))


def download_model(
    repo_id: str,
    *,
    revision: str | None = None,
    dest: str | Path | None = None,
    endpoint: str | None = None,
    token: str | bool | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    is_cancelled: Callable[[], bool] | None = None,
) -> Path:
    """Download ``repo_id`` (hub id or preset name) into ``dest`` (default :func:`models_dir`).

    Returns the snapshot folder, loadable with ``LocalModelSpec(source=str(path))``. Raises
    DownloadError (and its subclasses DiskSpaceError, DownloadCancelled) with a message for people.
    """
    missing = missing_extra("downloading models", "local", ("huggingface_hub", "filelock"))
    if missing:
        raise DownloadError(missing)
    from huggingface_hub import HfApi
    from huggingface_hub.errors import OfflineModeIsEnabled

    repo_id = repo_id_for(repo_id)
    root = Path(dest).expanduser() if dest else models_dir()
    cancelled = is_cancelled or (lambda: False)
    if on_progress is not None:
        on_progress(Progress(repo_id, None, 0, 0, 0, 0, None, None, "planning"))
    api = HfApi(endpoint=endpoint, token=token)
    commit, files = _plan(api, repo_id, revision)

    folder = _repo_folder(root, repo_id)
    snapshot = folder / "snapshots" / commit
    partial = folder / ".incomplete" / commit

    def on_disk(f: _File) -> int:
        if (snapshot / f.name).is_file():
            return f.size
        p = partial / (f.name + ".incomplete")
        return min(p.stat().st_size, f.size) if p.is_file() else 0

    have = sum(on_disk(f) for f in files)
    left = sum(f.size for f in files) - have
    root.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(root).free
    if free < left * DISK_MARGIN:
        raise DiskSpaceError(
            f"not enough disk space in {root} for {repo_id}: {_human(left)} left to download "
            f"(+5 % margin) but only {_human(free)} free; free some space or choose another "
            f"models folder (LTE_MODELS_DIR)"
        )

    from filelock import FileLock, Timeout

    lock = FileLock(str(folder) + ".lock")
    try:
        lock.acquire(timeout=0)
    except Timeout as exc:
        raise DownloadError(f"{repo_id} is already being downloaded by another window") from exc
    try:
        meter = _Meter(repo_id, files, have, on_progress)
        for f in files:
            if cancelled():
                raise DownloadCancelled(f"download of {repo_id} cancelled; run it again to resume")
            if not (snapshot / f.name).is_file():
                meter.emit(f.name, force=True)
                try:
                    _fetch(api, repo_id, commit, f, partial, snapshot, endpoint, token, meter,
                           cancelled)
                except OfflineModeIsEnabled as exc:
                    raise DownloadError("downloads are off: HF_HUB_OFFLINE is set") from exc
            meter.files_done += 1
        refs = folder / "refs" / (revision or "main")
        refs.parent.mkdir(parents=True, exist_ok=True)
        refs.write_text(commit)
        shutil.rmtree(partial, ignore_errors=True)
        with contextlib.suppress(OSError):
            (folder / ".incomplete").rmdir()
        (folder / "lte-download.json").write_text(json.dumps(
            {"repo_id": repo_id, "revision": revision or "main", "commit": commit,
             "endpoint": endpoint, "files": [f.name for f in files]}, indent=1))
        meter.emit(None, "done", force=True)
    finally:
        lock.release()
    return snapshot


def _fetch(api, repo_id, commit, f: _File, partial: Path, snapshot: Path, endpoint, token,
           meter: _Meter, cancelled) -> None:
    """Fetch one file into ``partial`` (resuming with Range), verify it, move it into place."""
    from huggingface_hub import get_hf_file_metadata, get_session, hf_hub_url
    from huggingface_hub.utils import build_hf_headers, hf_raise_for_status

    url = hf_hub_url(repo_id, f.name, revision=commit, endpoint=endpoint)
    headers = build_hf_headers(token=token)
    try:
        meta = get_hf_file_metadata(url, token=token, endpoint=endpoint, retry_on_errors=True)
    except Exception as exc:
        raise DownloadError(f"could not get {f.name} from {repo_id}: {exc}") from exc
    location = meta.location or url
    if _origin(location) != _origin(url):
        headers.pop("authorization", None)  # signed CDN URL: the token stays on the Hub
    tmp = partial / (f.name + ".incomplete")
    tmp.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256() if f.sha256 else hashlib.sha1()
    if not f.sha256:
        digest.update(f"blob {f.size}\0".encode())
    start = tmp.stat().st_size if tmp.exists() else 0
    if start > f.size:
        tmp.unlink()
        meter.done -= start - f.size  # counted as on disk; it was garbage
        start = 0
    if start:
        with open(tmp, "rb") as fh:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
    if start < f.size:
        if start:
            headers["Range"] = f"bytes={start}-"
        try:
            with get_session().stream("GET", location, headers=headers, follow_redirects=True,
                                      timeout=60) as response:
                hf_raise_for_status(response)
                mode = "ab"
                if start and response.status_code == 200:  # Range ignored: start over
                    meter.done -= start
                    digest = hashlib.sha256() if f.sha256 else hashlib.sha1()
                    if not f.sha256:
                        digest.update(f"blob {f.size}\0".encode())
                    mode = "wb"
                with open(tmp, mode) as out:
                    for chunk in response.iter_bytes(chunk_size=CHUNK):
                        if cancelled():
                            raise DownloadCancelled(
                                f"download of {repo_id} cancelled; run it again to resume"
                            )
                        out.write(chunk)
                        digest.update(chunk)
                        meter.done += len(chunk)
                        meter.emit(f.name)
                    out.flush()
                    os.fsync(out.fileno())
        except DownloadError:
            raise
        except Exception as exc:  # connection dropped, timeout, HTTP error
            raise DownloadError(
                f"downloading {f.name} from {repo_id} failed: {exc}; run it again to resume"
            ) from exc
    size = tmp.stat().st_size
    expected = f.sha256 or f.git_sha1
    if size != f.size or (expected and digest.hexdigest() != expected):
        tmp.unlink(missing_ok=True)
        raise DownloadError(
            f"{f.name} from {repo_id} is corrupt (size {size} of {f.size} or checksum mismatch); "
            f"it was deleted, run the download again"
        )
    target = snapshot / f.name
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, target)


def _origin(url: str) -> tuple[str, str | None, int | None]:
    from urllib.parse import urlparse

    u = urlparse(url)
    return u.scheme, u.hostname, u.port
