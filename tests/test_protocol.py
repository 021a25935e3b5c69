"""The answer protocol: the parser is total and incremental; serialize → parse round-trips."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from inspector.core.protocol import (
    AI_GENERATED,
    REAL,
    TAGS,
    Finding,
    RawRegion,
    RegionStream,
    examine_messages,
    locate_messages,
    normalize_verdict,
    parse_examine,
    parse_locate,
    scan_json_objects,
    serialize_examine,
    serialize_locate,
)

LOCATE = (
    "<explanation>The hand has six fingers and the sign text is garbled.</explanation>\n"
    '<regions>[{"bbox_2d": [10, 20, 110, 140], "label": "hand with six fingers"}, '
    '{"bbox_2d": [200, 40, 260, 90], "label": "sign [text]"}]</regions>\n'
    "<verdict>ai-generated</verdict>"
)
EXAMINE = (
    '<findings>[{"region": 1, "observation": "six fingers", "points_to": "ai-generated"}, '
    '{"region": 2, "observation": "letters melt", "points_to": "ai-generated"}]</findings>\n'
    "<explanation>Both close-ups show generator artifacts.</explanation>\n"
    "<tags>structure, texture</tags>\n"
    "<verdict>ai-generated</verdict>"
)


def test_parse_locate_reads_every_field():
    answer = parse_locate(LOCATE)
    assert answer.problems == []
    assert answer.explanation.startswith("The hand has six fingers")
    assert [r.coords for r in answer.regions] == [[10, 20, 110, 140], [200, 40, 260, 90]]
    assert answer.regions[1].label == "sign [text]"  # brackets inside strings do not confuse it
    assert answer.verdict == AI_GENERATED


def test_parse_examine_reads_every_field():
    answer = parse_examine(EXAMINE, region_count=2)
    assert answer.problems == []
    assert [(f.region, f.points_to) for f in answer.findings] == [
        (1, AI_GENERATED),
        (2, AI_GENERATED),
    ]
    assert answer.tags == ["structure", "texture"]
    assert answer.verdict == AI_GENERATED


def test_unknown_verdict_is_unparsed_never_guessed():
    for word in ("fake", "generated", "probably real", "", "REAL-ish", "synthetic"):
        answer = parse_locate(LOCATE.replace("ai-generated</verdict>", f"{word}</verdict>"))
        assert answer.verdict is None, word
        assert any("verdict" in p for p in answer.problems)


def test_verdict_spelling_variants_are_accepted():
    assert normalize_verdict(" Real. ") == REAL
    assert normalize_verdict("AI generated") == AI_GENERATED
    assert normalize_verdict("ai_generated") == AI_GENERATED


def test_truncated_answer_keeps_what_closed_and_reports_the_cut():
    cut = LOCATE[: LOCATE.index('{"bbox_2d": [200')] + '{"bbox_2d": [200, 4'
    answer = parse_locate(cut)
    assert [r.label for r in answer.regions] == ["hand with six fingers"]
    assert answer.verdict is None
    assert any("not closed" in p for p in answer.problems)
    assert any("no <verdict>" in p for p in answer.problems)


def test_one_bad_region_does_not_lose_the_others():
    text = (
        "<explanation>x</explanation><regions>["
        '{"bbox_2d": [1, 2, 3], "label": "three numbers"}, '
        '{"bbox_2d": [1, 2, 30, 40], "label": "good"}, '
        '{"bbox_2d": [1, "a", 3, 4], "label": "text"}, '
        '{"bbox_2d": [5, 6, 70, 80], "label": "good too"},]'  # trailing comma
        "</regions><verdict>real</verdict>"
    )
    answer = parse_locate(text)
    assert [r.label for r in answer.regions] == ["good", "good too"]
    assert answer.verdict == REAL
    assert sum("region" in p for p in answer.problems) == 2


def test_findings_pointing_at_missing_regions_are_dropped():
    answer = parse_examine(EXAMINE, region_count=1)
    assert [f.region for f in answer.findings] == [1]
    assert any("no region 2" in p for p in answer.problems)


def test_out_of_order_and_duplicate_sections_are_reported():
    text = "<verdict>real</verdict><explanation>e</explanation><regions>[]</regions>"
    assert any("order" in p for p in parse_locate(text).problems)
    text = LOCATE + "\n<verdict>real</verdict>"
    answer = parse_locate(text)
    assert answer.verdict == AI_GENERATED
    assert any("more than once" in p for p in answer.problems)


def test_region_stream_reports_each_region_when_its_object_closes():
    stream = RegionStream()
    seen: list[str] = []
    for end in range(1, len(LOCATE) + 1):
        for region in stream.feed(LOCATE[:end]):
            seen.append(region.label)
            # a region is reported exactly when its closing brace has arrived
            assert LOCATE[:end].endswith("}")
    assert seen == ["hand with six fingers", "sign [text]"]


def test_scan_json_objects_ignores_braces_in_strings():
    objects, finished = scan_json_objects('[{"a": "}{"}, {"b": "\\"}"}]')
    assert finished and [json.loads(o) for o in objects] == [{"a": "}{"}, {"b": '"}'}]


def test_conversations_keep_query1_as_the_prefix_of_query2():
    image, closeup = object(), object()
    q1 = locate_messages(image, "qwen2_5_vl_absolute_pixels")
    q2 = examine_messages(q1, LOCATE, [("hand", closeup)])
    assert q2[: len(q1)] == q1
    assert q2[len(q1)]["role"] == "assistant"
    parts = q2[-1]["content"]
    assert parts[0]["text"].startswith("Close-up 1: hand")
    assert parts[1] == {"type": "image", "image": closeup}
    assert "pixels" in q1[1]["content"][1]["text"]
    assert "0-1000" in locate_messages(image, "qwen3_vl_relative")[1]["content"][1]["text"]


# -- property tests ----------------------------------------------------------------------------

FUZZ_ALPHABET = st.sampled_from(
    list('<>/{}[]",:0123456789 \n\\') + ["<verdict>", "</verdict>", "<regions>", "</regions>",
    "<explanation>", "</explanation>", "<findings>", "</findings>", "<tags>", "</tags>",
    '"bbox_2d"', '"region"', "real", "ai-generated", "é", "\x00"]
)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(), st.lists(FUZZ_ALPHABET, max_size=60).map("".join)))
def test_parsers_never_raise(text):
    locate = parse_locate(text)
    examine = parse_examine(text, region_count=3)
    assert locate.verdict in (None, REAL, AI_GENERATED)
    assert examine.verdict in (None, REAL, AI_GENERATED)
    for region in locate.regions:
        assert len(region.coords) == 4
    RegionStream().feed(text)


@given(st.one_of(st.none(), st.integers(), st.binary(), st.lists(st.text())))
def test_parsers_accept_non_text(value):
    assert parse_locate(value).problems == ["the answer is not text"]
    assert parse_examine(value).problems == ["the answer is not text"]


TEXT = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="<>"), min_size=1
).filter(lambda s: s.strip())
COORD = st.integers(min_value=0, max_value=5000)
VERDICT = st.sampled_from([REAL, AI_GENERATED])


@given(
    TEXT,
    st.lists(st.tuples(st.lists(COORD, min_size=4, max_size=4), TEXT), max_size=6),
    VERDICT,
)
def test_locate_round_trip(explanation, regions, verdict):
    raw = [RawRegion([float(v) for v in c], label.strip()) for c, label in regions]
    answer = parse_locate(serialize_locate(explanation, raw, verdict))
    assert answer.problems == []
    assert answer.explanation == explanation.strip()
    assert answer.regions == raw
    assert answer.verdict == verdict


@given(
    st.lists(st.tuples(st.integers(1, 6), TEXT, VERDICT), max_size=6),
    TEXT,
    st.lists(st.sampled_from(TAGS), unique=True),
    VERDICT,
)
def test_examine_round_trip(findings, explanation, tags, verdict):
    items = [Finding(r, obs.strip(), p) for r, obs, p in findings]
    answer = parse_examine(serialize_examine(items, explanation, verdict, tags), region_count=6)
    assert answer.problems == []
    assert answer.findings == items
    assert answer.tags == list(tags)
    assert answer.verdict == verdict
