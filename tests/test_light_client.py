"""The light client: a desktop install without torch (`pip install ".[gui,remote,report]"`).

Every command a client runs -- `analyze --server`, `report`, `forensics`, the window -- runs here
in a subprocess where torch, torchvision, transformers, accelerate, peft, bitsandbytes,
safetensors, tokenizers and huggingface_hub are hidden as if they were not installed (a
``sitecustomize`` on PYTHONPATH swaps the path finder for one that does not see them). The blocker
logs every attempt to import one of them, with its stack; an attempt is a failure, and so is any of
them in ``sys.modules`` at exit. The model runs in a real `transformers serve` started from the full
install (tests/test_remote_backend.served).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.test_remote_backend import served  # noqa: F401  (the fixture: one server per module)
from trainer.tiny import MAX_PIXELS, MIN_PIXELS

# What the `local` and `quant` extras bring (and what they pull in); a client has none of it.
HIDDEN = ("torch", "torchvision", "transformers", "accelerate", "peft", "bitsandbytes",
          "safetensors", "tokenizers", "huggingface_hub")

SITECUSTOMIZE = textwrap.dedent('''
    """Hide the local backend's packages from this process, as if they were not installed."""
    import atexit, importlib.machinery, os, sys, traceback

    HIDDEN = set(os.environ["LTE_HIDDEN"].split(","))
    LOG = os.environ["LTE_HIDDEN_LOG"]

    class _Hiding:
        """The path finder, blind to the hidden packages: importing one is ModuleNotFoundError
        and importlib.util.find_spec says None, as on a machine without them."""

        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in HIDDEN:
                with open(LOG, "a", encoding="utf-8") as fh:
                    stack = "".join(traceback.format_stack(limit=15)[:-1])
                    fh.write(f"attempt: {name}\\n{stack}\\n")
                return None
            return importlib.machinery.PathFinder.find_spec(name, path, target)

        def invalidate_caches(self):
            importlib.machinery.PathFinder.invalidate_caches()

    sys.meta_path[:] = [_Hiding() if f is importlib.machinery.PathFinder else f
                        for f in sys.meta_path]

    @atexit.register
    def _loaded():
        with open(LOG + ".modules", "w", encoding="utf-8") as fh:
            fh.write("\\n".join(m for m in sys.modules if m.partition(".")[0] in HIDDEN))
''')


@pytest.fixture(scope="module")
def hider(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("hide-torch")
    (folder / "sitecustomize.py").write_text(SITECUSTOMIZE)
    return folder


def run_hidden(hider: Path, tmp_path: Path, code: str, *args: str, allow_attempts: bool = False,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`python -c code args…` with the local backend's packages hidden; fails on any attempt to
    import one (unless allowed) and on any of them loaded at exit."""
    log = tmp_path / "hidden.log"
    log.unlink(missing_ok=True)
    full_env = dict(
        os.environ, **(env or {}), PYTHONPATH=os.pathsep.join(
            [str(hider), *filter(None, [os.environ.get("PYTHONPATH")])]),
        LTE_HIDDEN=",".join(HIDDEN), LTE_HIDDEN_LOG=str(log), QT_QPA_PLATFORM="offscreen",
        HF_HUB_OFFLINE="1",
    )
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                            timeout=300, env=full_env, cwd=tmp_path)
    if not allow_attempts:
        attempts = log.read_text(encoding="utf-8") if log.exists() else ""
        assert not attempts, f"the client tried to import the local backend:\n{attempts}"
    modules = Path(str(log) + ".modules")
    assert modules.exists(), f"the process did not exit normally:\n{result.stderr[-3000:]}"
    assert modules.read_text(encoding="utf-8") == "", "local-backend modules were loaded"
    return result


CLI = "import sys; from inspector.cli import main; sys.exit(main(sys.argv[1:]))"


def lte_inspect(hider: Path, tmp_path: Path, *args: str, **kw) -> subprocess.CompletedProcess:
    return run_hidden(hider, tmp_path, CLI, *args, **kw)


def test_the_blocker_hides_torch(hider, tmp_path):
    """The blocker works: torch is not importable and find_spec does not see it."""
    code = ("import importlib.util, sys\n"
            "assert importlib.util.find_spec('torch') is None\n"
            "try:\n    import torch\nexcept ModuleNotFoundError:\n    sys.exit(3)\n")
    result = run_hidden(hider, tmp_path, code, allow_attempts=True)
    assert result.returncode == 3, result.stderr
    assert "attempt: torch" in (tmp_path / "hidden.log").read_text()


def test_analyze_report_and_export_against_a_server_without_torch(
    hider, tmp_path, served, taught_case  # noqa: F811
):
    case = tmp_path / "case"
    out = tmp_path / "out.jsonl"
    result = lte_inspect(
        hider, tmp_path, "analyze", str(taught_case.image_path), "--server", served,
        "--server-model", str(taught_case.model_dir), "--min-pixels", str(MIN_PIXELS),
        "--max-pixels", str(MAX_PIXELS), "--max-new-tokens", "400", "--json", str(out),
        "--case", str(case), "--case-number", "LC-1", "--examiner", "client",
    )
    assert result.returncode == 0, result.stderr
    (line,) = map(json.loads, out.read_text().splitlines())
    assert (line["initial"]["verdict"], line["final"]["verdict"]) == ("real", "ai-generated")
    assert line["model"]["backend"] == "openai"

    pdf = tmp_path / "case.pdf"
    result = lte_inspect(hider, tmp_path, "report", str(case), "-o", str(pdf))
    assert result.returncode == 0, result.stderr
    assert pdf.read_bytes().startswith(b"%PDF")

    csv = tmp_path / "case.csv"
    result = lte_inspect(hider, tmp_path, "export", str(case), "--csv", str(csv))
    assert result.returncode == 0, result.stderr
    assert taught_case.image_path.name in csv.read_text(encoding="utf-8")


def test_forensics_without_torch(hider, tmp_path, photo_path):
    out = tmp_path / "forensics.jsonl"
    result = lte_inspect(hider, tmp_path, "forensics", str(photo_path), "--json", str(out))
    assert result.returncode == 0, result.stderr
    (line,) = map(json.loads, out.read_text().splitlines())
    assert Path(line["file"]).name == photo_path.name


def test_help_without_torch(hider, tmp_path):
    result = lte_inspect(hider, tmp_path, "--help")
    assert result.returncode == 0, result.stderr
    assert "analyze" in result.stdout


def test_window_opens_on_a_server_without_torch(hider, tmp_path, served, taught_case):  # noqa: F811
    """The window, configured for the server, starts offscreen with torch hidden."""
    settings = tmp_path / "settings.toml"
    settings.write_text(f'server_url = "{served}"\nserver_model = "{taught_case.model_dir}"\n')
    code = "import sys; from inspector.gui.app import main; sys.exit(main(sys.argv))"
    result = run_hidden(hider, tmp_path, code, "--smoke-test",
                        env={"LTE_SETTINGS": str(settings)})
    assert result.returncode == 0, result.stderr
    assert "window opened: LTE Inspector" in result.stdout, result.stderr


def _model_folder(tmp_path: Path) -> Path:
    """A folder that names a Qwen2.5-VL model: enough to be taken for a local model."""
    model = tmp_path / "model"
    model.mkdir(exist_ok=True)
    (model / "config.json").write_text('{"model_type": "qwen2_5_vl"}')
    return model


EXTRA_HINT = "pip install 'lte-inspector[local]'"


def test_a_local_model_without_torch_names_the_extra(hider, tmp_path, photo_path):
    result = lte_inspect(hider, tmp_path, "analyze", str(photo_path), "--model",
                         str(_model_folder(tmp_path)), "--case", str(tmp_path / "case"),
                         allow_attempts=True)
    assert result.returncode == 2, result.stderr  # as for any model that cannot be loaded
    assert "Traceback" not in result.stderr, result.stderr
    assert "error: running a model on this computer needs the 'local' extra" in result.stderr
    assert "torch, transformers are not installed" in result.stderr, result.stderr
    assert EXTRA_HINT in result.stderr, result.stderr


def test_the_window_names_the_extra_for_a_local_model_without_torch(hider, tmp_path):
    """The window's worker loads the configured local model and says what to install (the line
    the window shows in its load-failure dialog), not an internal error."""
    code = textwrap.dedent("""
        import sys
        from inspector.core.app_settings.schema import AppSettings
        from inspector.gui.app import backend_factory_for
        from inspector.gui.worker import AnalysisWorker

        factory, is_demo, notice = backend_factory_for(
            AppSettings(model_source=sys.argv[1], device="cpu"))
        assert notice is None, notice
        worker, said = AnalysisWorker(), []
        worker.load_failed.connect(said.append)
        worker.loaded.connect(lambda provenance: said.append("loaded"))
        worker.load_backend(factory)
        print("window says:", *said)
    """)
    result = run_hidden(hider, tmp_path, code, str(_model_folder(tmp_path)), allow_attempts=True)
    assert result.returncode == 0, result.stderr
    assert "window says: running a model on this computer needs the 'local' extra" in (
        result.stdout), result.stdout + result.stderr
    assert EXTRA_HINT in result.stdout
    assert "internal error" not in result.stdout and "Traceback" not in result.stderr


def test_download_without_the_hub_library_names_the_extra(hider, tmp_path):
    result = lte_inspect(hider, tmp_path, "download", "Qwen/Qwen2.5-VL-3B-Instruct", "--dest",
                         str(tmp_path / "models"), allow_attempts=True)
    assert result.returncode == 1, result.stderr  # as for any failed download
    assert "Traceback" not in result.stderr, result.stderr
    assert "downloading models needs the 'local' extra" in result.stderr, result.stderr
    assert EXTRA_HINT in result.stderr
    assert not (tmp_path / "models").exists()


def test_models_lists_presets_without_torch(hider, tmp_path):
    result = lte_inspect(hider, tmp_path, "models", allow_attempts=True)
    assert result.returncode == 0, result.stderr
    assert "(RAM)" in result.stdout
    assert "qwen2.5-vl-7b-4bit" in result.stdout
