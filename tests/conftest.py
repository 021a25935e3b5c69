"""Shared fixtures: real photographs, broken files, and tiny Qwen2.5-VL models.

The "taught" model is a tiny random Qwen2.5-VL trained for a few seconds until, on the test photo,
it emits a valid Query-1 answer (initial verdict: real, two regions) and, after seeing the
close-ups the app cuts, a valid Query-2 answer (final verdict: ai-generated). The pipeline then runs
on real model output through the real transformers code path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session", autouse=True)
def _widgets_application():
    """One QApplication for the session, made first: the report makes a bare QGuiApplication
    when none exists (the CLI has no widgets), and widgets over that one abort the process, so
    the order the test files run in must not decide which kind exists."""
    try:
        from PySide6.QtWidgets import QApplication
    except ImportError:  # a client without the gui extra
        yield None
        return
    yield QApplication.instance() or QApplication([])


@pytest.fixture(scope="module")
def one_torch_thread():
    """For training tests: the tiny model's matrices are too small to gain from threads; on a
    busy machine extra threads only stall each other (seconds per step instead of a tenth)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def shared_fixtures() -> Path:
    """The test files kept in the repository (tests/fixtures; C2PA files with their licence), so
    a fresh clone tests itself with nothing beside it."""
    return Path(__file__).resolve().parent / "fixtures"


def folder_weights(folder: Path) -> dict:
    """Every tensor of a model (or adapter) folder's safetensors files, by name."""
    from safetensors.torch import load_file

    return {k: v for f in sorted(folder.glob("*.safetensors")) for k, v in load_file(f).items()}


def skimage_photo(name: str) -> Image.Image:
    """A real photograph shipped by scikit-image (public-domain / CC0 data images)."""
    from skimage import data

    return Image.fromarray(getattr(data, name)()).convert("RGB")


@pytest.fixture(scope="session")
def photo_path(tmp_path_factory) -> Path:
    """A real photograph (scikit-image's astronaut, NASA, public domain) at 320×240."""
    path = tmp_path_factory.mktemp("photos") / "astronaut.jpg"
    skimage_photo("astronaut").resize((320, 240), Image.LANCZOS).save(path, quality=92)
    return path


@dataclass
class TaughtCase:
    model_dir: Path
    image_path: Path
    boxes: list[tuple[float, float, float, float]]  # original pixels
    labels: list[str]
    locate_answer: str
    examine_answer: str


TEACH_BOXES = [(40.0, 30.0, 120.0, 110.0), (180.0, 120.0, 260.0, 200.0)]
TEACH_LABELS = ["face", "glove seams"]


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    from trainer.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", seed=0)


def teach_lte_answers(model_dir: Path, photo_path: Path, model_type: str, min_pixels: int,
                      max_pixels: int) -> TaughtCase:
    """Teach `model_dir` the Query-1 and Query-2 answers for `photo_path` (a few seconds on CPU)."""
    from inspector.core.closeups import CloseupPolicy, plan_closeups, render_closeup
    from inspector.core.geometry import Box, coordinate_space_for
    from inspector.core.imageio import load_image
    from inspector.core.protocol import (
        AI_GENERATED,
        REAL,
        Finding,
        RawRegion,
        examine_messages,
        locate_messages,
        serialize_examine,
        serialize_locate,
    )
    from trainer.teach import TeachSample, teach

    loaded = load_image(photo_path)
    size = (loaded.width, loaded.height)
    space = coordinate_space_for(model_type, min_pixels, max_pixels)
    boxes = [Box(*b) for b in TEACH_BOXES]
    regions = [
        RawRegion([float(v) for v in space.to_model(b, size)], label)
        for b, label in zip(boxes, TEACH_LABELS, strict=True)
    ]
    locate_answer = serialize_locate(
        "Skin and suit look photographic; the face and glove seams deserve a closer look.",
        regions,
        REAL,
    )
    examine_answer = serialize_examine(
        [
            Finding(1, "the skin texture repeats in tiles", AI_GENERATED),
            Finding(2, "the seams melt into the fabric", AI_GENERATED),
        ],
        "Close up, both regions show generator artifacts.",
        AI_GENERATED,
        ["texture"],
    )
    plans = plan_closeups(boxes, size, space.view_scale(size), CloseupPolicy())
    closeups = [(TEACH_LABELS[p.region_index], render_closeup(loaded.image, p)) for p in plans]
    messages1 = locate_messages(loaded.image, space.name)
    messages2 = examine_messages(messages1, locate_answer, closeups)
    report = teach(
        model_dir,
        [TeachSample(messages1, locate_answer), TeachSample(messages2, examine_answer)],
        steps=400,
        seed=0,
    )
    assert report.exact, f"the tiny model did not learn the answers: {report}"
    return TaughtCase(model_dir, photo_path, TEACH_BOXES, TEACH_LABELS, locate_answer,
                      examine_answer)


@pytest.fixture(scope="session")
def taught_case(tmp_path_factory, photo_path) -> TaughtCase:
    """A tiny Qwen2.5-VL taught the two answers for `photo_path`."""
    from trainer.tiny import MAX_PIXELS, MIN_PIXELS, build_tiny_model

    model_dir = build_tiny_model(tmp_path_factory.mktemp("taught") / "model", seed=1)
    return teach_lte_answers(model_dir, photo_path, "qwen2_5_vl", MIN_PIXELS, MAX_PIXELS)


def make_analysis(
    path: str = "evidence/a é.jpg",
    sha: str = "ab" * 32,
    created: str | None = "2026-11-22T10:00:00+00:00",
    final: str | None = "ai-generated",
    examined: bool = True,
    final_confidence: float = 0.9,
):
    """One hand-made Analysis for record, store and panel tests: Query 1 says real; when
    ``examined``, two regions went to Query 2, which says ``final`` with two findings."""
    from inspector.core.results import (
        Analysis,
        CloseupRecord,
        Evidence,
        FindingRecord,
        ModelProvenance,
        QueryRecord,
        RegionRecord,
    )

    q1 = QueryRecord("raw 1", "looks real", "real", 0.2, ["p"], 100, 100, 40, 1.5, "eos")
    q2 = QueryRecord("raw 2", "six fingers", final, final_confidence, [], 180, 80, 50, 1.0, "eos")
    extra = {"created": created} if created is not None else {}
    return Analysis(
        evidence=Evidence(path, 10, sha, 640, 480, "JPEG", exif={"make": "X"}),
        model=ModelProvenance("m", "transformers", generation={"seed": 0}),
        query1=q1,
        regions=[
            RegionRecord(1, [1.0, 2.0, 30.5, 40.0], "hand", [1, 2, 30, 40], examined),
            RegionRecord(2, [100.0, 20.0, 130.0, 60.0], "sign", [100, 20, 130, 60], examined),
        ],
        closeups=[CloseupRecord(1, [0, 0, 50, 60], [200, 240], 4.0),
                  CloseupRecord(2, [90, 10, 140, 70], [200, 240], 4.0)] if examined else [],
        query2=q2 if examined else None,
        findings=[FindingRecord(1, "six fingers", "ai-generated"),
                  FindingRecord(2, "the lettering melts into the wall", "ai-generated")]
        if examined else [],
        tags=["structure"] if examined else [],
        examine_skipped=None if examined else "no regions located; the initial verdict stands",
        timings={"total": 2.5},
        **extra,
    )
