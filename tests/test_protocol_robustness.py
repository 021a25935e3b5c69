"""Issue 14: no answer breaks the parser, and streaming parses cost linear time.

Coordinates of any size or kind, a 25,000-answer fuzz run built from the grammar's pieces, and
the incremental RegionStream / streaming_view checked against one-shot parsing at every split.
"""

from __future__ import annotations

import json
import math
import random
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from inspector.core.protocol import (
    AI_GENERATED,
    REAL,
    ExamineAnswer,
    Finding,
    LocateAnswer,
    RawRegion,
    RegionStream,
    StreamingView,
    normalize_verdict,
    parse_examine,
    parse_locate,
    parse_regions,
    serialize_locate,
    streaming_view,
)

VERDICTS = (None, REAL, AI_GENERATED)


def _locate(regions_json: str) -> str:
    return f"<explanation>e</explanation><regions>{regions_json}</regions><verdict>real</verdict>"


def _check_locate(answer: LocateAnswer) -> None:
    assert isinstance(answer, LocateAnswer)
    assert answer.explanation is None or isinstance(answer.explanation, str)
    assert answer.verdict in VERDICTS
    assert all(isinstance(p, str) for p in answer.problems)
    for region in answer.regions:
        assert isinstance(region, RawRegion) and isinstance(region.label, str)
        assert len(region.coords) == 4
        assert all(type(v) is float and math.isfinite(v) for v in region.coords)


def _check_examine(answer: ExamineAnswer) -> None:
    assert isinstance(answer, ExamineAnswer)
    assert answer.explanation is None or isinstance(answer.explanation, str)
    assert answer.verdict in VERDICTS
    assert all(isinstance(p, str) for p in answer.problems)
    assert all(isinstance(t, str) for t in answer.tags)
    for finding in answer.findings:
        assert isinstance(finding, Finding)
        assert type(finding.region) is int and 1 <= finding.region <= 3
        assert isinstance(finding.observation, str) and finding.points_to in VERDICTS


# -- huge numbers --------------------------------------------------------------------------------


def test_an_integer_beyond_the_largest_float_drops_the_region_with_a_problem():
    huge = "1" + "0" * 309
    text = _locate(f'[{{"bbox_2d":[{huge},0,1,1]}}, {{"bbox_2d":[1,2,3,4],"label":"ok"}}]')
    answer = parse_locate(text)
    assert [r.label for r in answer.regions] == ["ok"]
    assert any("region 1" in p and "too large" in p for p in answer.problems)
    # the streaming path the CLI took when it crashed
    assert [r.label for r in RegionStream().feed(text)] == ["ok"]
    stream, seen = RegionStream(), []
    for end in range(1, len(text) + 1):
        seen += stream.feed(text[:end])
    assert [r.label for r in seen] == ["ok"]


JUNK = st.recursive(
    st.none() | st.booleans() | st.text(max_size=5) | st.integers() | st.floats(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=6,
)
COORDINATE = st.one_of(
    st.integers().map(str),
    # past the largest float (309 digits) and past Python's int-from-string limit (4300 digits)
    st.builds(lambda sign, digits: sign + "1" + "0" * digits, st.sampled_from(["", "-"]),
              st.integers(min_value=300, max_value=5000)),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(
        ["1e999", "-1e999", "1e-999", "NaN", "Infinity", "-Infinity", "nan", "inf", '"nan"',
         '"inf"', '"1e999"', "1.5e308", "0.0", "-0", "true", "null", "[]", "{}", "[[1]]", "1,",
         '"12"', "0x10", "01", "+1", ".5"]
    ),
    JUNK.map(lambda v: json.dumps(v, allow_nan=True)),
)


def _sane(token: str) -> bool:
    """Whether this coordinate token must give a region: a JSON number that is a finite float."""
    try:
        value = json.loads(token)
    except ValueError:
        return False
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


@settings(max_examples=300, deadline=None)
@given(st.lists(COORDINATE, min_size=4, max_size=4))
def test_coordinates_of_any_size_or_kind_never_raise(tokens):
    source = '{"bbox_2d": [' + ", ".join(tokens) + '], "label": "x"}'
    text = _locate(f"[{source}]")
    answer = parse_locate(text)
    _check_locate(answer)
    streamed = RegionStream().feed(text)
    assert streamed == answer.regions
    # an object that is not valid JSON or has other than 4 numbers is reported and dropped
    try:
        obj = json.loads(source)
        kept = len(obj["bbox_2d"]) == 4 and all(map(_sane, tokens))
    except ValueError:
        kept = False
    assert len(answer.regions) == int(kept)
    if not kept:
        assert any(p.startswith("region 1") for p in answer.problems)


# -- fuzz ------------------------------------------------------------------------------------------

TAGS_ = ["explanation", "regions", "verdict", "findings", "tags"]
PIECES = (
    [f"<{t}>" for t in TAGS_]
    + [f"</{t}>" for t in TAGS_]
    + ["<", ">", "</", "<expla", "</verd", "[", "]", "{", "}", '"', "\\", '\\"', ",", ":", " ",
       "\n", '"bbox_2d"', '"bbox"', '"label"', '"region"', '"observation"', '"points_to"',
       "real", "ai-generated", "AI Generated", "fake", "texture", "other", "none", "1e999",
       "NaN", "-Infinity", "null", "true", "1" + "0" * 309, "9" * 5000, "-0.5", "3", "é",
       "\u202e", "\x00", "\ud800", "🙂", "[" * 50, "{" * 50, "]" * 30, "}" * 30, '{"a":' * 30]
)


def _fragment(rng: random.Random) -> str:
    """A JSON-ish fragment: a plausible region/finding object, possibly with junk values."""
    value = rng.choice(
        [rng.randint(-5, 5000), 10 ** rng.randint(300, 330), rng.random() * 1e308, "nan", None,
         [1, [2]], {"x": 1}, True, "a [b] {c} \"d\""]
    )
    if rng.random() < 0.5:
        coords = [rng.choice([value, rng.randint(0, 999)]) for _ in range(rng.choice([3, 4, 4, 5]))]
        obj = {"bbox_2d": coords, "label": rng.choice(["hand", "", 7, None, "é\"]}"])}
    else:
        obj = {"region": rng.choice([1, 2, 3, 0, -1, 10**40, "1", value]),
               "observation": rng.choice(["ok", value]),
               "points_to": rng.choice([REAL, AI_GENERATED, "fake", value])}
    text = json.dumps(obj, ensure_ascii=rng.random() < 0.5)
    return text.replace("Infinity", "1e999") if rng.random() < 0.5 else text


def _fuzz_answer(rng: random.Random, fragments: list[str]) -> str:
    kind = rng.random()
    if kind < 0.4:  # pieces of the grammar, shuffled
        return "".join(rng.choices(PIECES + fragments[:60], k=rng.randint(0, 40)))
    # a well-formed skeleton, then mutated
    regions = ", ".join(rng.choices(fragments, k=rng.randint(0, 4)))
    text = (f"<explanation>x {rng.choice(PIECES)}</explanation><regions>[{regions}]</regions>"
            f"<findings>[{rng.choice(fragments)}]</findings><tags>texture, {rng.choice(PIECES)}"
            f"</tags><verdict>{rng.choice(['real', 'ai-generated', *PIECES])}</verdict>")
    for _ in range(rng.randint(0, 4)):
        i = rng.randint(0, len(text))
        op = rng.random()
        if op < 0.4:
            text = text[:i] + rng.choice(PIECES) + text[i:]
        elif op < 0.7:
            text = text[:i] + text[i + rng.randint(1, 20):]
        else:
            text = text[:i]
    return text


def test_25000_fuzzed_answers_never_raise_and_give_the_right_types():
    rng = random.Random(14)
    fragments = [_fragment(rng) for _ in range(2_000)]
    started = time.perf_counter()
    for _ in range(25_000):
        text = _fuzz_answer(rng, fragments)
        _check_locate(parse_locate(text))
        _check_examine(parse_examine(text, region_count=3))
        stream, view = RegionStream(), StreamingView()
        cut = rng.randint(0, len(text))
        for part in (text[:cut], text):
            for region in stream.feed(part):
                assert isinstance(region, RawRegion) and len(region.coords) == 4
            explanation, verdict = view(part)
            assert isinstance(explanation, str) and verdict in VERDICTS
        explanation, verdict = streaming_view(text)
        assert isinstance(explanation, str) and verdict in VERDICTS
    assert time.perf_counter() - started < 30  # seconds here; a generous bound for slow CI


# -- incremental parsing -------------------------------------------------------------------------


def _reference_regions(text: str) -> list[RawRegion]:
    """What RegionStream reports in total for `text`: the regions body, parsed in one go."""
    start = text.find("<regions>")
    if start < 0:
        return []
    body = text[start + len("<regions>") :]
    end = body.find("</regions>")
    return parse_regions(body if end < 0 else body[:end], [])


def _reference_view(text: str) -> tuple[str, str | None]:
    """streaming_view as it was before it kept state (one full scan per call)."""
    explanation = ""
    start = text.find("<explanation>")
    if start >= 0:
        body = text[start + len("<explanation>") :]
        end = body.find("</explanation>")
        if end >= 0:
            body = body[:end]
        else:
            cut = body.rfind("<")
            if cut >= 0 and ">" not in body[cut:]:
                body = body[:cut]
        explanation = body.strip()
    verdict = None
    v_start = text.find("<verdict>")
    if v_start >= 0:
        v_body = text[v_start + len("<verdict>") :]
        v_end = v_body.find("</verdict>")
        if v_end >= 0:
            verdict = normalize_verdict(v_body[:v_end])
    return explanation, verdict


def _big_answer(size: int) -> str:
    """A canonical answer of about `size` characters, mostly regions."""
    regions = [
        RawRegion([i, i + 1.5, i + 20, i + 30], f'r{i} "q" [x] {{y}} \\ é')
        for i in range(size // 75)
    ]
    return serialize_locate("The hand looks < odd > here. " * 200, regions, "ai-generated")


def test_a_100kb_answer_streamed_4_characters_at_a_time_parses_in_linear_time():
    text = _big_answer(100_000)
    expected = parse_locate(text)
    assert expected.problems == [] and len(expected.regions) > 1000
    stream, view = RegionStream(), StreamingView()
    streamed: list[RawRegion] = []
    so_far, calls = "", 0
    started = time.perf_counter()
    for i in range(0, len(text), 4):
        so_far += text[i : i + 4]  # the whole text so far, as a streamer delivers it
        streamed += stream.feed(so_far)
        shown = view(so_far)
        calls += 1
    elapsed = time.perf_counter() - started
    assert calls >= 25_000
    assert elapsed <= 2.0, f"{calls} calls took {elapsed:.2f} s"
    assert streamed == expected.regions
    assert shown == (expected.explanation, expected.verdict)


TRICKY = (
    "<explanation>  Edges < 3 px; the </ b> tag-like text and a \\ backslash. </explanation>\n"
    '<regions>[{"bbox_2d": [1, 2, 3, 4], "label": "a \\"quoted\\" [b] {c} ]}"}, '
    '{"bbox_2d": [5, 6, 70.5, 80], "label": "back\\\\slash\\\\"}, '
    '{"bbox_2d": [1e999, 0, 1, 1], "label": "inf"}, '
    '{"bbox_2d": [10, 20, 30, 40], "label": "é</regions-ish>\\u00e9"}]</regions>\n'
    "<verdict> AI Generated </verdict>"
)


def test_every_split_position_gives_the_one_shot_result():
    expected = parse_locate(TRICKY)
    assert [r.label for r in expected.regions] == [
        'a "quoted" [b] {c} ]}', "back\\slash\\", "é</regions-ish>é"
    ]
    for i in range(len(TRICKY) + 1):
        stream, view = RegionStream(), StreamingView()
        got = stream.feed(TRICKY[:i])
        assert view(TRICKY[:i]) == _reference_view(TRICKY[:i]), i
        got += stream.feed(TRICKY)
        assert got == expected.regions, i
        assert view(TRICKY) == (expected.explanation, expected.verdict), i
    # and one character at a time, checking the view at every step
    stream, view, got = RegionStream(), StreamingView(), []
    for i in range(len(TRICKY) + 1):
        got += stream.feed(TRICKY[:i])
        assert got == _reference_regions(TRICKY[:i]), i
        assert view(TRICKY[:i]) == _reference_view(TRICKY[:i]), i


STREAM_PIECES = st.sampled_from(
    PIECES[:40] + ['{"bbox_2d": [1, 2, 3, 4], "label": "x"}', '{"bbox_2d": [5, 6, 7, 8]}',
                   ' "s\\"}]" ', "  ", "word", "<explanation> a < b", "</explanation>"]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(STREAM_PIECES, max_size=30), st.data())
def test_incremental_parsing_matches_one_shot_parsing_at_every_step(pieces, data):
    text = "".join(pieces)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(text)), max_size=12)))
    stream, view, got = RegionStream(), StreamingView(), []
    for end in [*cuts, len(text)]:
        got += stream.feed(text[:end])
        assert got == _reference_regions(text[:end])
        assert view(text[:end]) == _reference_view(text[:end])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(STREAM_PIECES, max_size=12).map("".join), min_size=2, max_size=5))
def test_a_text_that_is_not_an_extension_starts_over(texts):
    stream, view, seen = RegionStream(), StreamingView(), 0
    for text in texts:  # unrelated answers one after another: each is parsed from scratch
        regions = _reference_regions(text)
        assert stream.feed(text) == regions[seen:]
        seen = len(regions)
        assert view(text) == _reference_view(text)
        assert streaming_view(text) == _reference_view(text)


def test_non_text_is_harmless():
    assert RegionStream().feed(None) == []  # type: ignore[arg-type]
    assert StreamingView()(None) == ("", None)  # type: ignore[arg-type]
