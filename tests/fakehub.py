"""A fake Hugging Face Hub on loopback: serves local folders laid out like hub repositories.

Only the routes huggingface_hub 2.4 (and inspector.core.download) call:

* ``GET /api/models/{repo}`` and ``/api/models/{repo}/revision/{rev}`` — model info with
  ``sha`` (the commit) and ``siblings`` (``rfilename``, ``size``, ``blobId``, ``lfs``: size,
  sha256, pointerSize; weights are "LFS" files, as on the Hub);
* ``HEAD``/``GET /{repo}/resolve/{rev}/{path}`` — with ``X-Repo-Commit``, ``ETag`` (sha256 for
  LFS files, the git blob sha1 otherwise), ``X-Linked-Size``/``X-Linked-Etag`` for LFS files,
  ``Accept-Ranges`` and ``Range: bytes=N-``/``N-M`` (206 + ``Content-Range``);
* 404s carry ``X-Error-Code: RepoNotFound`` / ``EntryNotFound`` / ``RevisionNotFound`` so
  huggingface_hub raises its typed errors.

It counts the body bytes served per file (``served``) and per GET (``transfers``) and can
throttle (``chunk``/``delay``) so a test can cancel mid-file. Standard library only.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt")


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class FakeHub:
    """``with FakeHub({"org/name": folder}) as hub: hub.endpoint`` -> http://127.0.0.1:PORT."""

    def __init__(self, repos: dict[str, Path], chunk: int = 1 << 16, delay: float = 0.0):
        self.repos = {rid: Path(folder) for rid, folder in repos.items()}
        self.commits = {rid: hashlib.sha1(rid.encode()).hexdigest() for rid in self.repos}
        self.chunk = chunk
        self.delay = delay
        self.served: Counter[str] = Counter()  # "repo/file" -> body bytes sent by GET
        self.requests: list[tuple[str, str, str | None]] = []  # (method, path, Range)
        self.transfers: list[tuple[str, str | None, int]] = []  # GET ("repo/file", Range, bytes)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeHub:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- repository view -----------------------------------------------------------------------

    def files(self, repo_id: str) -> list[str]:
        root = self.repos[repo_id]
        return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())

    def _info(self, repo_id: str) -> dict:
        siblings = []
        for name in self.files(repo_id):
            data = (self.repos[repo_id] / name).read_bytes()
            entry = {"rfilename": name, "size": len(data), "blobId": git_blob_sha1(data)}
            if name.endswith(LFS_SUFFIXES):
                entry["lfs"] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                                "pointerSize": 134}
            siblings.append(entry)
        return {"id": repo_id, "modelId": repo_id, "sha": self.commits[repo_id],
                "private": False, "siblings": siblings}

    def _handler(self):
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def _error(self, code: int, error_code: str) -> None:
                body = json.dumps({"error": error_code}).encode()
                self.send_response(code)
                self.send_header("X-Error-Code", error_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _route(self):
                path = unquote(urlparse(self.path).path)
                with hub._lock:
                    hub.requests.append((self.command, path, self.headers.get("Range")))
                m = re.fullmatch(r"/api/models/([^/]+/[^/]+|[^/]+)(?:/revision/(.+))?", path)
                if m:
                    return ("info", m.group(1), m.group(2), None)
                m = re.fullmatch(r"/([^/]+/[^/]+|[^/]+)/resolve/([^/]+)/(.+)", path)
                if m:
                    return ("file", m.group(1), m.group(2), m.group(3))
                return None

            def _check(self, repo_id, rev) -> bool:
                if repo_id not in hub.repos:
                    self._error(404, "RepoNotFound")
                    return False
                if rev not in (None, "main", hub.commits[repo_id]):
                    self._error(404, "RevisionNotFound")
                    return False
                return True

            def do_HEAD(self) -> None:
                self.do_GET()

            def do_GET(self) -> None:
                route = self._route()
                if route is None:
                    return self._error(404, "NotFound")
                kind, repo_id, rev, name = route
                if not self._check(repo_id, rev):
                    return
                if kind == "info":
                    body = json.dumps(hub._info(repo_id)).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    if self.command == "GET":
                        self.wfile.write(body)
                    return
                file = hub.repos[repo_id] / name
                if name not in hub.files(repo_id):
                    return self._error(404, "EntryNotFound")
                data = file.read_bytes()
                start, end = 0, len(data) - 1
                rng = self.headers.get("Range")
                status = 200
                if rng:
                    m = re.fullmatch(r"bytes=(\d+)-(\d*)", rng.strip())
                    if not m or int(m.group(1)) >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    start = int(m.group(1))
                    end = min(int(m.group(2)), end) if m.group(2) else end
                    status = 206
                lfs = name.endswith(LFS_SUFFIXES)
                etag = hashlib.sha256(data).hexdigest() if lfs else git_blob_sha1(data)
                self.send_response(status)
                self.send_header("X-Repo-Commit", hub.commits[repo_id])
                self.send_header("ETag", f'"{etag}"')
                if lfs:
                    self.send_header("X-Linked-Etag", f'"{etag}"')
                    self.send_header("X-Linked-Size", str(len(data)))
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("Content-Type", "application/octet-stream")
                if status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
                self.send_header("Content-Length", str(end - start + 1))
                self.end_headers()
                if self.command == "HEAD":
                    return
                pos = start
                try:
                    while pos <= end:
                        piece = data[pos : min(pos + hub.chunk, end + 1)]
                        self.wfile.write(piece)
                        self.wfile.flush()
                        with hub._lock:
                            hub.served[f"{repo_id}/{name}"] += len(piece)
                        pos += len(piece)
                        if hub.delay:
                            time.sleep(hub.delay)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True
                finally:
                    with hub._lock:
                        hub.transfers.append((f"{repo_id}/{name}", rng, pos - start))

        return Handler
