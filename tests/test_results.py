"""Analysis records survive a JSON round trip and refuse newer schema versions."""

from __future__ import annotations

import json

import pytest

from inspector.core.results import (
    SCHEMA_VERSION,
    Analysis,
    CloseupRecord,
    Evidence,
    FindingRecord,
    ModelProvenance,
    QueryRecord,
    RegionRecord,
)


def _analysis(query2: bool = True) -> Analysis:
    q1 = QueryRecord("raw 1", "looks real", "real", 0.2, ["p"], 100, 100, 40, 1.5, "eos")
    q2 = QueryRecord("raw 2", "six fingers", "ai-generated", 0.9, [], 180, 80, 50, 1.0, "eos")
    return Analysis(
        evidence=Evidence("a é.jpg", 10, "ab" * 32, 640, 480, "JPEG", exif={"make": "X"}),
        model=ModelProvenance("m", "transformers", generation={"seed": 0}),
        query1=q1,
        regions=[RegionRecord(1, [1.0, 2.0, 30.5, 40.0], "hand", [1, 2, 30, 40], True)],
        closeups=[CloseupRecord(1, [0, 0, 50, 60], [200, 240], 4.0)],
        query2=q2 if query2 else None,
        findings=[FindingRecord(1, "six fingers", "ai-generated")] if query2 else [],
        tags=["structure"] if query2 else [],
        examine_skipped=None if query2 else "no regions located; the initial verdict stands",
        timings={"total": 2.5},
    )


@pytest.mark.parametrize("query2", [True, False])
def test_json_round_trip(query2):
    analysis = _analysis(query2)
    text = json.dumps(analysis.to_dict(), ensure_ascii=False)
    again = Analysis.from_dict(json.loads(text))
    assert again == analysis
    assert again.to_dict() == analysis.to_dict()


def test_changed_and_final_verdict():
    analysis = _analysis()
    assert (analysis.initial_verdict, analysis.final_verdict, analysis.changed) == (
        "real", "ai-generated", True)
    skipped = _analysis(query2=False)
    assert skipped.final_verdict == "real" and skipped.changed is False
    skipped.query1.verdict = None
    assert skipped.changed is None  # an unparsed verdict is never compared


def test_newer_schema_is_refused_with_a_clear_message():
    data = _analysis().to_dict()
    data["schema_version"] = SCHEMA_VERSION + 1
    with pytest.raises(ValueError, match="update LTE Inspector"):
        Analysis.from_dict(data)
