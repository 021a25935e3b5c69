"""`--region-order confidence`: each region's confidence is how surely the model wrote it (the
geometric mean of its tokens' probabilities), read from the real tiny model's own scores; the
close-ups go to the most confident regions first; a backend without token probabilities keeps
the answer's order and says so."""

from __future__ import annotations

import math

import pytest
from PIL import Image

from inspector.core.backends.base import GenerationSettings
from inspector.core.backends.local import LocalBackend, LocalModelSpec
from inspector.core.backends.remote import token_scores_from_logprobs
from inspector.core.closeups import CloseupPolicy
from inspector.core.geometry import Box
from inspector.core.pipeline import Pipeline, PipelineOptions
from inspector.core.protocol import locate_messages, parse_locate
from inspector.core.region_choice import region_confidence, region_order

ANSWER = ('<explanation>Two places.</explanation><regions>[{"bbox_2d": [1, 2, 30, 40], '
          '"label": "a [b]"}, {"bbox_2d": [50, 60, 90, 99], "label": "c"}]</regions>'
          '<verdict>real</verdict>')


def test_each_region_knows_the_characters_that_wrote_it():
    answer = parse_locate(ANSWER)
    assert [ANSWER[a:b] for a, b in (r.span for r in answer.regions)] == [
        '{"bbox_2d": [1, 2, 30, 40], "label": "a [b]"}',
        '{"bbox_2d": [50, 60, 90, 99], "label": "c"}']


def test_confidence_is_the_geometric_mean_of_the_tokens_over_the_region():
    # tokens end at 5, 10, 15, 20: the region [6, 14) is written by tokens 2 and 3
    scores = [(5, math.log(0.1)), (10, math.log(0.9)), (15, math.log(0.4)), (20, 0.0)]
    assert region_confidence((6, 14), scores) == pytest.approx(0.6)
    assert region_confidence((6, 14), None) is None and region_confidence(None, scores) is None
    assert region_confidence((30, 40), scores) is None  # no token wrote it


def test_confidence_order_puts_the_surest_first_and_unknown_last():
    boxes = [Box(0, 0, 10, 10)] * 4
    assert region_order(boxes, (100, 100), "confidence", [0.2, None, 0.9, 0.2]) == [2, 0, 3, 1]
    assert region_order(boxes, (100, 100), "confidence", None) == [0, 1, 2, 3]


def test_server_logprobs_become_token_scores_only_when_they_spell_the_answer():
    assert token_scores_from_logprobs("ab c", ["ab", " c"], [-0.1, -2.0]) == [(2, -0.1), (4, -2.0)]
    assert token_scores_from_logprobs("ab c", ["ab", "c"], [-0.1, -2.0]) is None
    assert token_scores_from_logprobs("ab", [], []) is None


@pytest.fixture(scope="module")
def backend(taught_case) -> LocalBackend:
    settings = GenerationSettings(max_new_tokens_locate=400, max_new_tokens_examine=400)
    return LocalBackend(LocalModelSpec(source=str(taught_case.model_dir), device="cpu",
                                       hash_weights=False), settings)


def test_the_real_model_scores_its_regions_and_the_surest_is_examined(backend, taught_case):
    policy = CloseupPolicy(region_order="confidence", max_regions=1)
    analysis = Pipeline(backend, PipelineOptions(policy=policy)).analyze(taught_case.image_path)
    confidences = [r.confidence for r in analysis.regions]
    assert len(confidences) >= 2 and all(c is not None and 0 < c <= 1 for c in confidences)
    surest = max(range(len(confidences)), key=lambda i: confidences[i])
    assert [c.region for c in analysis.closeups] == [analysis.regions[surest].number]
    assert analysis.closeup_policy["region_order"] == "confidence"
    assert not any("token probabilities" in p for p in analysis.query1.problems)

    # the scores line up with the text: increasing ends, the last at the end of the answer
    image = Image.open(taught_case.image_path).convert("RGB")
    turn = backend.generate_turn(locate_messages(image, backend.coordinate_space.name),
                                 max_new_tokens=400)
    backend.reset()
    ends = [end for end, _ in turn.token_scores]
    assert ends == sorted(set(ends)) and ends[-1] == len(turn.text)
    assert all(logprob <= 0 for _, logprob in turn.token_scores)
