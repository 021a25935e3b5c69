"""Batch mode of the local backend: B images per `generate`, same answers as one at a time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from inspector.core.backends.base import GenerationSettings, OutOfMemoryError
from inspector.core.backends.local import LocalBackend, LocalModelSpec
from inspector.core.batch import run_concurrently
from inspector.core.batch_pipeline import BatchedPipeline
from inspector.core.batch_size import MAX_BATCH, choose_batch_size, per_image_gb
from inspector.core.closeups import CloseupPolicy
from inspector.core.imageio import ImageLoadError
from inspector.core.memory import AvailableMemory, estimate_for_preset
from inspector.core.pipeline import (
    AnalysisCancelled,
    Pipeline,
    PipelineOptions,
    TokenGenerated,
)
from inspector.core.presets import PRESETS
from tests.conftest import skimage_photo

OPTIONS = PipelineOptions(policy=CloseupPolicy())


@pytest.fixture(scope="module")
def images(tmp_path_factory, taught_case) -> list[Path]:
    """The taught photo and four photographs of other sizes (the taught model answers most of
    them with regions too, so Query 2 runs on several sizes of close-ups)."""
    folder = tmp_path_factory.mktemp("batch")
    paths = [taught_case.image_path]
    for name, size in [("chelsea", (240, 300)), ("coffee", (200, 150)),
                       ("astronaut", (256, 256)), ("rocket", (300, 200))]:
        path = folder / f"{name}_{size[0]}x{size[1]}.png"
        skimage_photo(name).resize(size, Image.LANCZOS).save(path)
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def backend(taught_case) -> LocalBackend:
    return LocalBackend(
        LocalModelSpec(source=str(taught_case.model_dir), hash_weights=False),
        GenerationSettings.with_token_limit(300),
    )


@pytest.fixture(scope="module")
def one_at_a_time(backend, images) -> dict:
    """Each image alone, as the app runs without batch mode (Query 2 reusing the KV cache)."""
    pipeline = Pipeline(backend, OPTIONS)
    results = {}
    for path in images:
        events: list = []
        results[path] = (pipeline.analyze(path, events.append), events)
    return results


def _run_batched(pipeline, paths, on_event=None, is_cancelled=None) -> dict:
    results: dict = {}

    def one(path):
        events: list = []

        def record(event):
            events.append(event)
            if on_event is not None:
                on_event(path, event)

        cancel = (lambda: is_cancelled(path)) if is_cancelled else None
        return pipeline.analyze(path, record, cancel), events

    def done(path, result, error):
        results[path] = error if error is not None else result

    run_concurrently(one, paths, pipeline.batch_size, done)
    return results


def _image_sizes(messages) -> list[tuple[int, int]]:
    return [part["image"].size for message in messages for part in message["content"]
            if isinstance(part, dict) and "image" in part]


def _answers(analysis) -> dict:
    return {
        "initial": analysis.query1.verdict,
        "regions": [(r.label, r.examined) for r in analysis.regions],
        "final": analysis.query2.verdict if analysis.query2 else None,
        "findings": [(f.region, f.observation, f.points_to) for f in analysis.findings],
        "tags": analysis.tags,
        "texts": [analysis.query1.raw_text, analysis.query2 and analysis.query2.raw_text],
        "problems": [analysis.query1.problems, analysis.query2 and analysis.query2.problems],
    }


def test_batch_of_four_answers_as_one_at_a_time(backend, images, one_at_a_time):
    # five images in batches of four: the fifth's Query 1 shares a batch with others' Query 2
    batched = _run_batched(BatchedPipeline(backend, OPTIONS, 4), images)
    examined = 0
    for path in images:
        alone, alone_events = one_at_a_time[path]
        together, events = batched[path]
        assert _answers(together) == _answers(alone), path.name
        assert len(together.regions) == len(alone.regions)
        for a, b in zip(together.regions, alone.regions, strict=True):
            assert max(abs(x - y) for x, y in zip(a.box, b.box, strict=True)) <= 1.0
        examined += together.query2 is not None
        # the same events, per image and in the same order, and the same streamed text
        assert [type(e).__name__ for e in events if not isinstance(e, TokenGenerated)] == [
            type(e).__name__ for e in alone_events if not isinstance(e, TokenGenerated)]
        for query in (1, 2):
            streamed = "".join(e.text for e in events
                               if isinstance(e, TokenGenerated) and e.query == query)
            record = together.query1 if query == 1 else together.query2
            assert streamed == (record.raw_text if record else "")
        assert together.model.generation["batch_size"] == 4
    assert examined >= 3  # Query 2 really ran batched on several images


def test_a_bad_file_fails_alone(backend, images, one_at_a_time, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(images[0].read_bytes()[:200])
    paths = [images[0], broken, images[1]]
    batched = _run_batched(BatchedPipeline(backend, OPTIONS, 3), paths)
    assert isinstance(batched[broken], ImageLoadError)
    for path in (images[0], images[1]):
        assert _answers(batched[path][0]) == _answers(one_at_a_time[path][0])


def test_a_failed_batch_is_answered_one_at_a_time(backend, images, one_at_a_time, monkeypatch):
    # A batch running out of GPU memory cannot happen on this machine: simulated by failing
    # every batch of more than one turn, and the turns of one image even alone.
    real = backend.generate_turns
    doomed = images[2]
    doomed_size = Image.open(doomed).size

    def out_of_memory_for_batches(requests):
        if len(requests) > 1:
            raise OutOfMemoryError("the GPU ran out of memory analysing 2 images together")
        if doomed_size in _image_sizes(requests[0].messages):
            raise RuntimeError("simulated failure of this image alone")
        return real(requests)

    monkeypatch.setattr(backend, "generate_turns", out_of_memory_for_batches)
    paths = images[:3]
    batched = _run_batched(BatchedPipeline(backend, OPTIONS, 3), paths)
    assert "failed on this image" in str(batched[doomed])  # a BackendError, the others go on
    for path in images[:2]:
        analysis = batched[path][0]
        alone = one_at_a_time[path][0]
        assert analysis.query1.raw_text == alone.query1.raw_text
        assert any("answered alone after the batch it was in failed" in p
                   for p in analysis.query1.problems)
        assert analysis.query1.problems[: len(alone.query1.problems)] == alone.query1.problems


def test_cancel_stops_one_image_within_a_token(backend, images, one_at_a_time):
    """One image is cancelled after its third streamed piece; its batch-mate finishes."""
    victim, other = images[0], images[1]
    pieces = {victim: 0, other: 0}
    after_cancel = []

    def on_event(path, event):
        if isinstance(event, TokenGenerated):
            if path == victim and pieces[victim] >= 3:
                after_cancel.append(event)
            pieces[path] += 1

    batched = _run_batched(BatchedPipeline(backend, OPTIONS, 2), [victim, other], on_event,
                           lambda path: path == victim and pieces[victim] >= 3)
    assert isinstance(batched[victim], AnalysisCancelled)
    assert after_cancel == []  # no token after the cancel check said stop
    assert _answers(batched[other][0]) == _answers(one_at_a_time[other][0])


def test_cli_batch_size_gives_the_same_results(taught_case, images, one_at_a_time, tmp_path):
    out = tmp_path / "b3.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "inspector.cli", "analyze", *map(str, images[:3]),
         "--model", str(taught_case.model_dir), "--device", "cpu", "--max-new-tokens", "300",
         "--batch-size", "3", "--json", str(out)],
        capture_output=True, text=True, timeout=600, env=dict(os.environ, HF_HUB_OFFLINE="1"),
    )
    assert done.returncode == 0, done.stderr
    assert "batch: 3 at a time" in done.stderr
    records = {Path(r["file"]).name: r for r in map(json.loads, out.read_text().splitlines())}
    assert len(records) == 3
    for path in images[:3]:
        alone, line = one_at_a_time[path][0], records[path.name]
        assert line["initial"]["verdict"] == alone.query1.verdict
        assert line["final"]["verdict"] == alone.final_verdict
        assert [r["box"] for r in line["regions"]] == [r.box for r in alone.regions]
        assert line["problems"]["query1"] == alone.query1.problems


def test_cli_batch_size_is_for_a_local_model(tmp_path, images):
    done = subprocess.run(
        [sys.executable, "-m", "inspector.cli", "analyze", str(images[0]),
         "--server", "http://127.0.0.1:9", "--batch-size", "2"],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 2
    assert "--batch-size applies to a local model" in done.stderr


# -- choosing B from free memory ---------------------------------------------------------------
# No GPU exists on this machine, so the free GPU memory is given as a figure (AvailableMemory is
# what torch.cuda.mem_get_info would have filled in); the estimate is the real one of a preset.


def _estimate():
    return estimate_for_preset(PRESETS["qwen2.5-vl-7b-bf16"])


def test_batch_size_from_free_gpu_memory():
    estimate = _estimate()
    each = per_image_gb(estimate)
    free = AvailableMemory("cuda", (3.5 * each / 0.95,), (80.0,))
    choice = choose_batch_size(estimate, free)
    assert choice.size == 3
    assert "GiB free on the GPU after loading" in choice.reason
    assert f"{each:.1f} GiB" in choice.reason


def test_batch_size_is_capped_and_never_zero():
    estimate = _estimate()
    huge = AvailableMemory("cuda", (900.0,), (900.0,))
    assert choose_batch_size(estimate, huge).size == MAX_BATCH
    tight = choose_batch_size(estimate, AvailableMemory("cuda", (0.1,), (24.0,)))
    assert tight.size == 1 and tight.reason.startswith("one image at a time")


def test_batch_size_is_one_on_a_cpu(backend):
    assert choose_batch_size(_estimate(), AvailableMemory("cpu", (64.0,), (64.0,))).size == 1
    choice = backend.batch_size_choice()  # the real backend, loaded on this CPU
    assert choice.size == 1 and "CPU" in choice.reason
