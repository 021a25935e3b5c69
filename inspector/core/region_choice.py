"""Which boxes Query 2 looks at: the LTE paper's ablations as switches.

* close-up mode — ``located`` (the regions Query 1 found: LTE), ``random`` (the same number of
  boxes of the same sizes, at seeded random places: the paper's "random cropping" ablation) or
  ``none`` (no close-ups, no Query 2: the single-turn baseline).
* region order — which regions are kept when there are more than ``max_regions``: ``answer`` (the
  model's order, LTE's), ``largest`` (by area, the paper's "largest boxes" ablation) or
  ``confidence`` (the regions the model wrote most surely first: :func:`region_confidence`).

Pure functions of the boxes, the image size and a seed; the random boxes of an image depend only
on the seed and the image's SHA-256, so a run can be repeated and an image's close-ups do not
depend on which other images were analysed.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

from inspector.core.geometry import Box, clamp_box

__all__ = [
    "CLOSEUP_MODES",
    "REGION_ORDERS",
    "check_choice",
    "random_stand_ins",
    "region_confidence",
    "region_order",
    "stand_in_key",
]

CLOSEUP_MODES: tuple[str, ...] = ("located", "random", "none")
REGION_ORDERS: tuple[str, ...] = ("answer", "largest", "confidence")


def region_confidence(
    span: tuple[int, int] | None, token_scores: Sequence[tuple[int, float]] | None
) -> float | None:
    """How sure the model was of one region as it wrote it: the geometric mean of the
    probabilities of the tokens that wrote its characters ``span`` (its JSON object, box and
    label), from the backend's ``(end offset, log-probability)`` per token; None without them."""
    if span is None or not token_scores:
        return None
    start, end = span
    logprobs, token_start = [], 0
    for token_end, logprob in token_scores:
        if token_end > start and token_start < end and math.isfinite(logprob):
            logprobs.append(logprob)
        token_start = token_end
        if token_start >= end:
            break
    if not logprobs:
        return None
    return math.exp(sum(logprobs) / len(logprobs))


def region_order(
    boxes: Sequence[Box],
    image_size: tuple[int, int],
    order: str,
    confidences: Sequence[float | None] | None = None,
) -> list[int]:
    """Indices of ``boxes`` in the order regions are considered for a close-up.

    ``answer`` keeps the model's order; ``largest`` sorts by area inside the image, largest first
    (ties keep the model's order; a box with no area inside the image goes last);
    ``confidence`` sorts by ``confidences``, most confident first (ties and unknown ones keep the
    model's order, unknown ones last).
    """
    if order not in REGION_ORDERS:
        raise ValueError(f"region order must be one of {', '.join(REGION_ORDERS)}; got {order!r}")
    indices = list(range(len(boxes)))
    if order == "answer":
        return indices
    if order == "confidence":
        known = list(confidences or [])
        known += [None] * (len(boxes) - len(known))

        def surety(index: int) -> float:
            value = known[index]
            return -value if value is not None else math.inf

        return sorted(indices, key=surety)  # stable: ties keep the answer's order
    width, height = image_size

    def area(index: int) -> float:
        box = clamp_box(boxes[index], width, height)
        return box.area if box is not None else -1.0

    return sorted(indices, key=lambda i: -area(i))  # sorted() is stable: ties keep answer order


def random_stand_ins(boxes: Sequence[Box], image_size: tuple[int, int], key: str) -> list[Box]:
    """One box per box of ``boxes``, of the same width and height (whole pixels, at most the
    image's), at a uniformly random place inside the image, drawn from ``random.Random(key)``.

    The places ignore where the located boxes are (a stand-in may overlap its region), as a
    crop chosen without looking would.
    """
    width, height = image_size
    rng = random.Random(key)
    out: list[Box] = []
    for box in boxes:
        w = min(max(1, round(box.width)), width)
        h = min(max(1, round(box.height)), height)
        x1 = rng.randint(0, width - w)
        y1 = rng.randint(0, height - h)
        out.append(Box(float(x1), float(y1), float(x1 + w), float(y1 + h)))
    return out


def stand_in_key(seed: int, image_sha256: str) -> str:
    """The random generator's key for one image: the user's seed and the image's content."""
    if not image_sha256:
        raise ValueError("random close-ups need the image's SHA-256 (it seeds their places)")
    return f"lte-random-closeups:{seed}:{image_sha256}"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_choice(mode: object, order: object, seed: object) -> None:
    """Raise ValueError with a clear message for an unknown mode or order or a non-integer seed."""
    if mode not in CLOSEUP_MODES:
        raise ValueError(f"close-up mode must be one of {', '.join(CLOSEUP_MODES)}; got {mode!r}")
    if order not in REGION_ORDERS:
        raise ValueError(f"region order must be one of {', '.join(REGION_ORDERS)}; got {order!r}")
    if not _is_int(seed) or not math.isfinite(seed):
        raise ValueError(f"seed must be an integer, got {seed!r}")
