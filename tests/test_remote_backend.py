"""The OpenAI-compatible backend against a real `transformers serve` and a stub HTTP server.

The real server serves the tiny taught Qwen2.5-VL (see conftest.taught_case) on loopback; it is
started once for this module and stopped at teardown. Error paths (401, 404, 413, 500, timeouts)
use a stdlib `http.server` stub that answers with a chosen status.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from PIL import Image

from inspector.core.backends.base import GenerationSettings
from inspector.core.backends.confidence import confidence_from_top_logprobs
from inspector.core.backends.remote import (
    AuthenticationError,
    ModelNotServedError,
    PayloadTooLargeError,
    RemoteBackend,
    RemoteConnectionError,
    RemoteSpec,
    ServerError,
)
from inspector.core.batch import run_concurrently
from inspector.core.closeups import CloseupPolicy
from inspector.core.pipeline import Pipeline, PipelineOptions
from inspector.core.protocol import locate_messages
from trainer.tiny import MAX_PIXELS, MIN_PIXELS

SETTINGS = GenerationSettings(max_new_tokens_locate=400, max_new_tokens_examine=400)
SECRET = "sk-test-5f1e9c0d-never-leak-me"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve_command() -> list[str]:
    script = Path(sys.executable).parent / "transformers"
    exe = str(script) if script.exists() else shutil.which("transformers")
    if exe is None:
        pytest.fail("the `transformers` command is missing")
    return [exe, "serve"]


@pytest.fixture(scope="module")
def served(taught_case, tmp_path_factory):
    """`transformers serve <taught model>` on a free loopback port; yields its base URL."""
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        pytest.fail("transformers serve needs: pip install 'transformers[serving]'")
    port = _free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [*_serve_command(), str(taught_case.model_dir), "--device", "cpu",
             "--host", "127.0.0.1", "--port", str(port)],
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"transformers serve exited early:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"transformers serve not healthy in 120 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.25)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


def _spec(url: str, model: str, **kw) -> RemoteSpec:
    return RemoteSpec(base_url=url, model=model, min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS, **kw)


@pytest.fixture(scope="module")
def remote(served, taught_case):
    backend = RemoteBackend(_spec(served, str(taught_case.model_dir)), SETTINGS)
    yield backend
    backend.close()


# --------------------------------------------------------------------------------------------
# Against the real server
# --------------------------------------------------------------------------------------------


def test_pipeline_over_the_server_matches_the_local_result(remote, taught_case, monkeypatch):
    monkeypatch.setenv("LTE_API_KEY", SECRET)  # transformers serve ignores keys; it must not leak
    backend = RemoteBackend(_spec(remote.url, str(taught_case.model_dir)), SETTINGS)
    tokens = []
    analysis = Pipeline(backend, PipelineOptions(policy=CloseupPolicy())).analyze(
        taught_case.image_path, tokens.append
    )
    assert analysis.query1.raw_text == taught_case.locate_answer
    assert analysis.query2.raw_text == taught_case.examine_answer
    assert analysis.initial_verdict == "real"
    assert analysis.final_verdict == "ai-generated"
    assert analysis.changed is True
    scale = backend.global_scale((320, 240))
    for region, box, label in zip(
        analysis.regions, taught_case.boxes, taught_case.labels, strict=True
    ):
        assert region.label == label
        assert region.box == pytest.approx(list(box), abs=1.0 / scale + 0.01)
        assert region.examined
    assert [f.region for f in analysis.findings] == [1, 2]
    # transformers serve reports usage but ignores logprobs: no confidence is invented
    assert analysis.query1.prompt_tokens > 0 and analysis.query1.generated_tokens > 0
    assert analysis.query1.confidence is None and analysis.query2.confidence is None
    # provenance: backend, model, server without credentials, the pixel bounds
    model = analysis.model
    assert model.backend == "openai" and model.model_id == str(taught_case.model_dir)
    assert model.generation["server_url"] == remote.url
    assert model.generation["min_pixels"] == MIN_PIXELS
    assert model.generation["max_pixels"] == MAX_PIXELS
    assert SECRET not in json.dumps(analysis.to_dict())


def test_confidence_order_over_a_server_without_logprobs_keeps_the_answer_order(
        remote, taught_case):
    policy = CloseupPolicy(region_order="confidence", max_regions=1)
    analysis = Pipeline(remote, PipelineOptions(policy=policy)).analyze(taught_case.image_path)
    assert len(analysis.regions) >= 2 and all(r.confidence is None for r in analysis.regions)
    assert [c.region for c in analysis.closeups] == [1]  # the answer's first region
    assert any("no token probabilities" in p for p in analysis.query1.problems)


def test_server_behaviour_is_recorded_in_details(remote, taught_case):
    image = Image.open(taught_case.image_path).convert("RGB")
    turn = remote.generate_turn(
        locate_messages(image, remote.coordinate_space.name), max_new_tokens=8
    )
    assert turn.stop_reason == "length" and turn.generated_tokens == 8
    assert turn.details["usage"] == "reported by the server"
    assert turn.details["logprobs"].startswith("not returned")
    assert turn.token_scores is None  # so regions get no confidence rather than an invented one
    # transformers serve answers 422 to mm_processor_kwargs: the backend drops the field
    assert turn.details["mm_processor_kwargs"].startswith("not sent")


def test_tokens_stream_progressively(remote, taught_case):
    image = Image.open(taught_case.image_path).convert("RGB")
    pieces = []
    turn = remote.generate_turn(
        locate_messages(image, remote.coordinate_space.name),
        max_new_tokens=400,
        on_token=pieces.append,
    )
    assert len(pieces) > 10
    assert "".join(pieces) == turn.text == taught_case.locate_answer


def test_cancel_stops_the_stream_early(remote, taught_case):
    image = Image.open(taught_case.image_path).convert("RGB")
    pieces = []
    turn = remote.generate_turn(
        locate_messages(image, remote.coordinate_space.name),
        max_new_tokens=400,
        on_token=pieces.append,
        is_cancelled=lambda: len(pieces) >= 3,
    )
    assert turn.stop_reason == "cancelled"
    assert len(pieces) == 3
    assert len(turn.text) < len(taught_case.locate_answer)
    # the server is still usable afterwards
    again = remote.generate_turn(
        locate_messages(image, remote.coordinate_space.name), max_new_tokens=4
    )
    assert again.stop_reason == "length"


def test_several_images_per_message_at_the_geometry_size(remote, taught_case):
    """Each extra image costs exactly the tokens of the size the geometry assumes."""
    image = Image.open(taught_case.image_path).convert("RGB")
    one = locate_messages(image, remote.coordinate_space.name)
    two = locate_messages(image, remote.coordinate_space.name)
    two[1]["content"].insert(0, {"type": "image", "image": image.resize((200, 90))})
    t1 = remote.generate_turn(one, max_new_tokens=1)
    t2 = remote.generate_turn(two, max_new_tokens=1)
    rw, rh = remote.coordinate_space.resized_size((200, 90))
    assert t2.prompt_tokens - t1.prompt_tokens == (rw // 28) * (rh // 28) + 2  # + vision tags


def test_wrong_model_name_is_a_clear_error(served):
    backend = RemoteBackend(_spec(served, "no-such-model"), SETTINGS)
    with pytest.raises(Exception, match="no-such-model"):
        backend.generate_turn([{"role": "user", "content": "hi"}], max_new_tokens=2)


def test_concurrent_analyses_share_one_backend(remote, taught_case):
    pipeline = Pipeline(remote, PipelineOptions(policy=CloseupPolicy()))
    results = {}
    paths = [taught_case.image_path] * 3
    run_concurrently(
        pipeline.analyze, paths, 2, lambda p, a, e: results.setdefault(len(results), (a, e))
    )
    assert len(results) == 3
    for analysis, error in results.values():
        assert error is None and analysis.final_verdict == "ai-generated"


# --------------------------------------------------------------------------------------------
# Error paths, against a stub server
# --------------------------------------------------------------------------------------------


class _Stub:
    def __init__(self, status: int, body: dict | None = None, delay: float = 0.0,
                 models: list[str] | None = None) -> None:
        self.status, self.body, self.delay, self.models = status, body or {}, delay, models
        self.requests: list[tuple[float, str, dict]] = []  # (time, path, headers)
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _reply(self, status, payload):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                stub.requests.append((time.monotonic(), self.path, dict(self.headers)))
                if self.path == "/v1/models" and stub.models is not None:
                    self._reply(200, {"object": "list", "data": [{"id": m} for m in stub.models]})
                else:
                    self._reply(404, {"error": "not found"})

            def do_POST(self):
                stub.requests.append((time.monotonic(), self.path, dict(self.headers)))
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                time.sleep(stub.delay)
                self._reply(stub.status, stub.body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def posts(self):
        return [r for r in self.requests if r[1] == "/v1/chat/completions"]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub():
    servers = []

    def make(*args, **kw):
        servers.append(_Stub(*args, **kw))
        return servers[-1]

    yield make
    for s in servers:
        s.close()


def _ask(url: str, **kw) -> None:
    backend = RemoteBackend(_spec(url, "qwen-lte", **kw), SETTINGS)
    image = Image.new("RGB", (64, 48), "gray")
    backend.generate_turn(locate_messages(image, backend.coordinate_space.name), max_new_tokens=4)


def test_closed_port_says_connection_refused():
    url = f"http://127.0.0.1:{_free_port()}"
    with pytest.raises(RemoteConnectionError) as err:
        _ask(url)
    assert str(err.value) == (
        f"could not reach the server at {url}: connection refused — is it running?"
    )


def test_401_names_the_variable_never_the_key(stub, monkeypatch):
    server = stub(401, {"error": {"message": "invalid api key"}})
    monkeypatch.setenv("LTE_API_KEY", SECRET)
    with pytest.raises(AuthenticationError) as err:
        _ask(server.url)
    assert "LTE_API_KEY" in str(err.value) and "refused the API key" in str(err.value)
    assert SECRET not in str(err.value) and SECRET not in repr(err.value)
    assert server.posts()[0][2]["Authorization"] == f"Bearer {SECRET}"  # it was sent, though
    monkeypatch.delenv("LTE_API_KEY")
    with pytest.raises(AuthenticationError, match="needs an API key.*LTE_API_KEY"):
        _ask(server.url)


def test_key_from_the_os_keyring(stub, monkeypatch):
    keyring = pytest.importorskip("keyring")
    from keyring.backend import KeyringBackend

    class Memory(KeyringBackend):
        priority = 1

        def get_password(self, service, username):
            return SECRET if (service, username) == ("lte-inspector", server.url) else None

        def set_password(self, service, username, password):
            raise NotImplementedError

        def delete_password(self, service, username):
            raise NotImplementedError

    server = stub(403, {})
    monkeypatch.delenv("LTE_API_KEY", raising=False)
    previous = keyring.get_keyring()
    keyring.set_keyring(Memory())
    try:
        with pytest.raises(AuthenticationError) as err:
            _ask(server.url)
    finally:
        keyring.set_keyring(previous)
    assert server.posts()[0][2]["Authorization"] == f"Bearer {SECRET}"
    assert SECRET not in str(err.value)


def test_404_lists_the_served_models(stub):
    server = stub(404, {"error": {"message": "model not found"}}, models=["qwen-a", "qwen-b"])
    with pytest.raises(ModelNotServedError, match="'qwen-lte' is not served.*qwen-a, qwen-b"):
        _ask(server.url)


def test_413_says_to_lower_pixels_or_regions(stub):
    server = stub(413, {})
    with pytest.raises(PayloadTooLargeError, match="lower max pixels or the number of regions"):
        _ask(server.url)
    assert len(server.posts()) == 1  # not retried


def test_500_is_retried_with_backoff_then_reported(stub):
    server = stub(500, {"error": "boom"})
    with pytest.raises(ServerError, match=r"HTTP 500.*gave up after 3 attempts"):
        _ask(server.url, retries=2, backoff=0.1)
    times = [t for t, _, _ in server.posts()]
    assert len(times) == 3
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert gaps[0] >= 0.1 and gaps[1] >= 0.2  # exponential


def test_timeout_is_retried_then_reported(stub):
    server = stub(200, {}, delay=1.0)
    with pytest.raises(ServerError, match=r"did not answer within 0.3 s.*after 2 attempts"):
        _ask(server.url, timeout=0.3, retries=1, backoff=0.01)
    assert len(server.posts()) == 2


def test_credentials_in_the_url_are_refused():
    with pytest.raises(Exception, match="LTE_API_KEY") as err:
        RemoteBackend(_spec(f"http://user:{SECRET}@127.0.0.1:9/v1", "m"), SETTINGS)
    assert SECRET not in str(err.value)


# --------------------------------------------------------------------------------------------
# Confidence from top_logprobs (the vLLM path)
# --------------------------------------------------------------------------------------------


def test_confidence_from_top_logprobs_crossing_the_tag():
    tokens = ["<explanation>x</explanation>\n", "<ver", "dict", ">real", "</verdict>"]
    tops = [{}, {}, {}, {">real": math.log(0.6), ">ai": math.log(0.3), "><": -1.0}, {}]
    assert confidence_from_top_logprobs(tokens, tops) == pytest.approx(0.3 / 0.9)
    tokens = ["<verdict>", "ai", "-generated", "</verdict>"]
    tops = [{}, {"ai": math.log(0.8), " real": math.log(0.2)}, {}, {}]
    assert confidence_from_top_logprobs(tokens, tops) == pytest.approx(0.8)
    assert confidence_from_top_logprobs(["no verdict"], [{}]) is None
    assert confidence_from_top_logprobs([], []) is None


# --------------------------------------------------------------------------------------------
# run_concurrently
# --------------------------------------------------------------------------------------------


def test_run_concurrently_reports_in_completion_order_and_passes_errors():
    delays = {Path("a"): 0.3, Path("b"): 0.05, Path("c"): 0.15, Path("bad"): 0.0}

    def analyze(path):
        time.sleep(delays[path])
        if path.name == "bad":
            raise ValueError("broken file")
        return path.name.upper()

    caller = threading.get_ident()
    seen = []

    def on_done(path, result, error):
        assert threading.get_ident() == caller
        seen.append((path.name, result, type(error).__name__ if error else None))

    run_concurrently(analyze, list(delays), 4, on_done)
    assert seen == [("bad", None, "ValueError"), ("b", "B", None), ("c", "C", None),
                    ("a", "A", None)]


def test_run_concurrently_respects_the_bound_and_stops():
    lock, active, peak = threading.Lock(), [0], [0]

    def analyze(path):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.02)
        with lock:
            active[0] -= 1
        return path

    paths = [Path(str(i)) for i in range(12)]
    done = []
    run_concurrently(analyze, paths, 3, lambda p, r, e: done.append(p))
    assert peak[0] == 3 and sorted(done) == sorted(paths)
    done.clear()
    run_concurrently(analyze, paths, 2, lambda p, r, e: done.append(p),
                     should_stop=lambda: len(done) >= 4)
    assert 4 <= len(done) <= 5  # the ones in flight finish; nothing new starts
    with pytest.raises(ValueError):
        run_concurrently(analyze, paths, 0, lambda p, r, e: None)


def test_cli_batch_against_the_server_with_concurrency(served, taught_case, tmp_path):
    """`lte-inspect analyze --server URL --concurrency 2`: every file reported once."""
    import json
    import shutil

    from tests.test_cli import _lte_inspect

    folder = tmp_path / "evidence"
    folder.mkdir()
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        shutil.copy(taught_case.image_path, folder / name)
    (folder / "d.jpg").write_text("not a picture")
    out = tmp_path / "out.jsonl"
    result = _lte_inspect(
        "analyze", str(folder), "--server", served, "--server-model", str(taught_case.model_dir),
        "--min-pixels", str(MIN_PIXELS), "--max-pixels", str(MAX_PIXELS),
        "--max-new-tokens", "400", "--concurrency", "2", "--json", str(out),
    )
    assert result.returncode == 1, result.stderr  # d.jpg failed
    lines = {Path(x["file"]).name: x for x in map(json.loads, out.read_text().splitlines())}
    assert sorted(lines) == ["a.jpg", "b.jpg", "c.jpg", "d.jpg"]
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        assert (lines[name]["initial"]["verdict"], lines[name]["final"]["verdict"]) == (
            "real", "ai-generated")
        assert lines[name]["model"]["backend"] == "openai"
    assert "not an image" in lines["d.jpg"]["error"]
