"""A server that is down is said first, and nothing is made for the analyses before it is.

The server is a real closed port on this machine (bound, then released: nothing listens there).
"""

from __future__ import annotations

import socket

import pytest

from inspector.cli import main
from inspector.core.backends.open import BackendChoice, open_backend
from inspector.core.backends.remote import RemoteConnectionError, RemoteSpec


@pytest.fixture
def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("server_model", [None, "qwen-lte"])
def test_analyze_against_a_closed_port_says_refused_and_makes_no_case(
    closed_port_url, photo_path, tmp_path, capsys, server_model
):
    case = tmp_path / "C"
    args = ["analyze", str(photo_path), "--server", closed_port_url, "--case", str(case),
            "--case-number", "K-1", "--json", str(tmp_path / "out.jsonl")]
    if server_model:
        args += ["--server-model", server_model]
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2, err  # as for any model that cannot be opened
    first_error = next(line for line in err.splitlines() if line.startswith("error:"))
    assert first_error == (f"error: could not reach the server at {closed_port_url}: "
                           "connection refused — is it running?")
    assert "--server-model" not in err
    assert not case.exists(), "a case folder was made for a server that is down"
    assert not (tmp_path / "out.jsonl").exists()


def test_open_backend_says_refused_with_or_without_a_model_name(closed_port_url):
    for model in ("", "qwen-lte"):
        with pytest.raises(RemoteConnectionError, match="connection refused"):
            open_backend(BackendChoice.of_remote(RemoteSpec(closed_port_url, model=model)))
