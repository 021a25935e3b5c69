"""Analysis records survive a JSON round trip and refuse newer schema versions."""

from __future__ import annotations

import json

import pytest

from inspector.core.results import (
    SCHEMA_VERSION,
    Analysis,
)
from tests.conftest import make_analysis


def _analysis(query2: bool = True):
    return make_analysis(examined=query2)


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


def test_a_final_verdict_against_every_finding_is_known_as_such():
    analysis = _analysis()  # Query 2: ai-generated, both findings point to ai-generated
    assert analysis.follows_findings is True
    for finding in analysis.findings:
        finding.points_to = "real"
    assert analysis.follows_findings is False  # what the model saw says real; its verdict AI
    assert analysis.to_dict()["summary"]["follows_findings"] is False
    analysis.findings[1].points_to = "ai-generated"
    assert analysis.follows_findings is True  # one finding supports it
    analysis.findings[1].points_to = None
    assert analysis.follows_findings is False  # a finding without a verdict counts for neither
    analysis.findings[0].points_to = None
    assert analysis.follows_findings is None  # nothing to compare with
    analysis.findings[0].points_to = "real"
    analysis.query2.verdict = None
    assert analysis.follows_findings is None  # an unparsed verdict is never compared
    assert _analysis(query2=False).follows_findings is None  # Query 2 did not run
