"""GRPO reward functions (TRL 1.16 signature) and evaluation scores for LTE training.

Every reward is a plain function ``f(completions, **columns) -> list[float | None]``: TRL calls it
with ``prompts``, ``completions``, ``completion_ids`` and every other dataset column as keyword
lists (one entry per completion). A completion is a string or a conversational list
``[{"role": "assistant", "content": text}]`` (content may also be a list of text parts).
Answers are read ONLY with :func:`inspector.core.protocol.parse_locate` / ``parse_examine``, so
training rewards exactly what the app can parse. ``None`` means "does not apply to this sample"
(TRL ignores it in the weighted sum).

Query 1 (locate) — LTE's R_F and R_IoU:
    * :func:`format_reward_locate`: 1 if the answer parses with no problem at all (explanation,
      closed regions list with valid boxes and labels, verdict), else 0.
    * :func:`iou_reward` (LTE): ``R_IoU = 1/|B| · Σ_i max_j IoU(b_i, b̂_j)`` over the PREDICTED
      boxes b_i against the ground truth b̂_j (column ``gt_boxes``, model-space coordinates as
      built by :func:`trainer.conversations.gt_model_boxes`). No prediction → 0; no ground truth
      → None. IoU is computed in model space: both Qwen spaces are axis-wise scalings of the
      image, which leave IoU unchanged (up to the integer rounding of the coordinates).
    * :func:`recall_iou_reward`: the same mean-max taken over the GROUND-TRUTH boxes
      (``1/|B̂| · Σ_j max_i IoU(b_i, b̂_j)``), so missing an annotated region costs reward and
      extra boxes cost none. This recall-oriented variant is OUR definition: the FakeXplainer
      text we have does not define a matching rule beyond the relaxed IoU below.
    * :func:`relaxed_iou_reward` (FakeXplainer §4.3, R_G): ``min(1, η · |R(o) ∩ R_y| / |R(o) ∪
      R_y|)`` where R(o) is the UNION of the predicted boxes and R_y the union of the annotated
      boxes, as point sets (areas computed exactly). The paper prints the fraction upside down
      (|∪|/|∩|, which is ≥ 1 and undefined without overlap); we use the IoU it names. η is not
      given in the text: :data:`DEFAULT_ETA` = 2 is our choice (IoU ≥ 0.5 earns full credit).
      Predicted boxes have their corners ordered, as the app's parser does.

Query 2 (examine) — LTE's R_C and R_BLEU:
    * :func:`format_reward_examine`: 1 if ``parse_examine`` reports no problem (column
      ``region_count``, if present, is passed to it), else 0.
    * :func:`verdict_reward`: R_C against column ``label``: 1 correct / 0 otherwise (an
      unparsable verdict counts as wrong). :func:`make_verdict_reward` gives asymmetric values
      (e.g. FakeXplainer's +2/-1).
    * :func:`locate_verdict_reward`: the same for the INITIAL (Query-1) verdict — not part of
      LTE, which rewards only Query 2's verdict; it exists for the paper's "dual verdict reward"
      ablation (``--locate-weights format=1,iou=1,verdict=1``), which the paper found to hurt
      C-Acc (0.473 against 0.956).
    * :func:`findings_reward` (OURS, not in LTE): the share of the close-ups whose finding points
      where that close-up really does (column ``finding_truth``: per close-up, in order, the
      verdict its content supports — an artifact's close-up the image's label, anything else
      "real"; :func:`trainer.conversations.examined_finding`). A missing finding counts as
      wrong; no close-ups → None. Known only where the ground-truth regions are, as on
      synthetic data; it trains the findings as sampled, where SFT teaches them only
      teacher-forced (decision 0004, E34).
    * :func:`only_on`: a reward applied to one query's rows of a dataset that holds both.
    * :func:`bleu2_reward`: sacrebleu sentence BLEU with max n-gram order 2 (effective order,
      exponential smoothing, sacrebleu's default 13a tokenizer) of the parsed explanation against
      column ``explanation``, scaled to 0..1. No parsable explanation → 0.
    * :func:`rouge_l`: ROUGE-L F1 (rouge-score, stemming on), for evaluation.
    * :func:`bleu2_score` / :func:`rouge_l_score`: the same two scores on plain strings
      (hypothesis, reference), as :mod:`trainer.evaluate` uses them.

FakeXplainer's staged weights: :func:`staged_weights` / :func:`staged_rewards` — see there for
which numbers the paper states and which we had to assume (its Table 1 is not in our copy).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from inspector.core.protocol import parse_examine, parse_locate

__all__ = [
    "DEFAULT_ETA",
    "STAGES",
    "base_reward",
    "bleu2_reward",
    "bleu2_score",
    "completion_text",
    "format_reward_examine",
    "format_reward_locate",
    "iou_reward",
    "make_format_reward_examine",
    "make_format_reward_locate",
    "make_relaxed_iou_reward",
    "make_verdict_reward",
    "make_weighted",
    "mean_best_iou",
    "recall_iou_reward",
    "relaxed_iou_reward",
    "rouge_l",
    "rouge_l_score",
    "staged_rewards",
    "staged_weights",
    "verdict_reward",
]

RewardFn = Callable[..., list[float | None]]
Rect = tuple[float, float, float, float]

DEFAULT_ETA = 2.0


def completion_text(completion: object) -> str | None:
    """The answer text of a completion (string or conversational list); None if there is none."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Mapping):
        completion = [completion]
    if isinstance(completion, Sequence):
        texts: list[str] = []
        for message in completion:
            if not isinstance(message, Mapping) or message.get("role", "assistant") != "assistant":
                continue
            content = message.get("content")
            if isinstance(content, str):
                texts.append(content)
            elif isinstance(content, Sequence):
                texts.extend(
                    p.get("text", "")
                    for p in content
                    if isinstance(p, Mapping) and p.get("type", "text") == "text"
                )
        return "".join(texts) if texts else None
    return None


def _named(fn: RewardFn, name: str) -> RewardFn:
    fn.__name__ = name
    fn.__qualname__ = name
    return fn


def _column(columns: Mapping[str, Any], name: str, n: int) -> list[Any]:
    values = columns.get(name)
    if values is None:
        raise KeyError(f"this reward needs the dataset column {name!r}")
    values = list(values)
    if len(values) != n:
        raise ValueError(f"column {name!r} has {len(values)} entries for {n} completions")
    return values


# --------------------------------------------------------------------------------------------
# Boxes


def _rect(values: Sequence[float]) -> Rect | None:
    if len(values) != 4:
        return None
    try:
        x1, y1, x2, y2 = (float(v) for v in values)
    except (TypeError, ValueError):
        return None
    if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
        return None
    return min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)


def _area(r: Rect) -> float:
    return max(0.0, r[2] - r[0]) * max(0.0, r[3] - r[1])


def _box_iou(a: Rect, b: Rect) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = w * h if w > 0 and h > 0 else 0.0
    union = _area(a) + _area(b) - inter
    return inter / union if union > 0 else 0.0


def _union_iou(pred: Sequence[Rect], gt: Sequence[Rect]) -> float:
    """IoU of the union of ``pred`` and the union of ``gt`` as point sets (exact areas)."""
    xs = sorted({v for r in (*pred, *gt) for v in (r[0], r[2])})
    ys = sorted({v for r in (*pred, *gt) for v in (r[1], r[3])})
    inter = union = 0.0
    for x0, x1 in zip(xs, xs[1:], strict=False):
        cx = (x0 + x1) / 2
        for y0, y1 in zip(ys, ys[1:], strict=False):
            cy = (y0 + y1) / 2
            in_p = any(r[0] <= cx <= r[2] and r[1] <= cy <= r[3] for r in pred)
            in_g = any(r[0] <= cx <= r[2] and r[1] <= cy <= r[3] for r in gt)
            if in_p or in_g:
                cell = (x1 - x0) * (y1 - y0)
                union += cell
                if in_p and in_g:
                    inter += cell
    return inter / union if union > 0 else 0.0


def _boxes_for(completions, columns) -> list[tuple[list[Rect], list[Rect] | None]]:
    gts = _column(columns, "gt_boxes", len(completions))
    out: list[tuple[list[Rect], list[Rect] | None]] = []
    for completion, gt in zip(completions, gts, strict=True):
        gt_rects = [r for r in (_rect(b) for b in (gt or [])) if r is not None and _area(r) > 0]
        answer = parse_locate(completion_text(completion))
        pred = [r for r in (_rect(reg.coords) for reg in answer.regions) if r is not None]
        out.append((pred, gt_rects or None))
    return out


def mean_best_iou(
    predicted: Sequence[Sequence[float]],
    ground_truth: Sequence[Sequence[float]],
    over: str = "predicted",
) -> float | None:
    """LTE's IoU of one sample: mean, over the predicted (or ground-truth) boxes, of each one's
    best IoU with a box on the other side. Boxes are ``[x1, y1, x2, y2]`` in the same space.

    None without ground truth (the sample does not count); 0.0 with ground truth but no
    prediction. Used by the rewards (model space) and by evaluation (original pixels).
    """
    gt = [r for r in (_rect(b) for b in ground_truth) if r is not None]
    if not gt:
        return None
    pred = [r for r in (_rect(b) for b in predicted) if r is not None]
    if not pred:
        return 0.0
    sources, targets = (pred, gt) if over == "predicted" else (gt, pred)
    return sum(max(_box_iou(a, b) for b in targets) for a in sources) / len(sources)


def _mean_best_iou(completions: Sequence[Any], columns: dict, over: str) -> list[float | None]:
    """:func:`mean_best_iou` of each completion against its ``gt_boxes``."""
    return [mean_best_iou(pred, gt or [], over) for pred, gt in _boxes_for(completions, columns)]


def iou_reward(completions: Sequence[Any], **columns: Any) -> list[float | None]:
    """LTE's R_IoU: mean over predicted boxes of the best IoU with a ground-truth box."""
    return _mean_best_iou(completions, columns, over="predicted")


def recall_iou_reward(completions: Sequence[Any], **columns: Any) -> list[float | None]:
    """Mean over ground-truth boxes of the best IoU with a predicted box (our recall variant)."""
    return _mean_best_iou(completions, columns, over="ground truth")


def make_relaxed_iou_reward(eta: float = DEFAULT_ETA) -> RewardFn:
    """FakeXplainer's R_G = min(1, η · IoU(∪ predicted, ∪ annotated)) with the given η."""
    if not (isinstance(eta, int | float) and math.isfinite(eta) and eta > 0):
        raise ValueError(f"eta must be a finite number > 0, got {eta!r}")

    def relaxed(completions: Sequence[Any], **columns: Any) -> list[float | None]:
        scores: list[float | None] = []
        for pred, gt in _boxes_for(completions, columns):
            if gt is None:
                scores.append(None)
            elif not pred:
                scores.append(0.0)
            else:
                scores.append(min(1.0, eta * _union_iou(pred, gt)))
        return scores

    return _named(relaxed, "relaxed_iou_reward" if eta == DEFAULT_ETA else f"relaxed_iou_x{eta:g}")


relaxed_iou_reward = make_relaxed_iou_reward()


# --------------------------------------------------------------------------------------------
# Format and verdict


def make_format_reward_locate(valid: float = 1.0, invalid: float = 0.0) -> RewardFn:
    """Query-1 format reward with chosen values (FakeXplainer uses e.g. +1/-1, +0.5/-1)."""

    def format_locate(completions: Sequence[Any], **columns: Any) -> list[float | None]:
        return [
            valid if not parse_locate(completion_text(c)).problems else invalid
            for c in completions
        ]

    name = "format_reward_locate" if (valid, invalid) == (1.0, 0.0) else (
        f"format_reward_locate_{valid:g}_{invalid:g}"
    )
    return _named(format_locate, name)


def make_format_reward_examine(valid: float = 1.0, invalid: float = 0.0) -> RewardFn:
    """Query-2 format reward with chosen values."""

    def format_examine(completions: Sequence[Any], **columns: Any) -> list[float | None]:
        counts = columns.get("region_count")
        counts = list(counts) if counts is not None else [None] * len(completions)
        return [
            valid if not parse_examine(completion_text(c), region_count=n).problems else invalid
            for c, n in zip(completions, counts, strict=True)
        ]

    name = "format_reward_examine" if (valid, invalid) == (1.0, 0.0) else (
        f"format_reward_examine_{valid:g}_{invalid:g}"
    )
    return _named(format_examine, name)


def make_verdict_reward(
    correct: float = 1.0, wrong: float = 0.0, query: str = "examine"
) -> RewardFn:
    """R_C with asymmetric values: ``correct`` when the verdict equals column ``label``.

    ``query="examine"`` reads the final (Query-2) verdict; ``query="locate"`` the initial
    (Query-1) one, for LTE's "dual verdict reward" ablation. A missing or unparsable verdict
    counts as wrong.
    """
    if query not in ("locate", "examine"):
        raise ValueError(f"query must be 'locate' or 'examine', got {query!r}")
    parse = parse_locate if query == "locate" else parse_examine

    def verdict(completions: Sequence[Any], **columns: Any) -> list[float | None]:
        labels = _column(columns, "label", len(completions))
        return [
            correct if parse(completion_text(c)).verdict == y else wrong
            for c, y in zip(completions, labels, strict=True)
        ]

    name = "verdict_reward" if (correct, wrong) == (1.0, 0.0) else (
        f"verdict_reward_{correct:g}_{wrong:g}"
    )
    if query == "locate":
        name = name.replace("verdict_reward", "locate_verdict_reward")
    return _named(verdict, name)


def findings_reward(completions: Sequence[Any], **columns: Any) -> list[float | None]:
    truths = _column(columns, "finding_truth", len(completions))
    out: list[float | None] = []
    for completion, truth in zip(completions, truths, strict=True):
        if not truth:
            out.append(None)
            continue
        said = {f.region: f.points_to
                for f in parse_examine(completion_text(completion), len(truth)).findings}
        out.append(sum(said.get(n) == t for n, t in enumerate(truth, start=1)) / len(truth))
    return out


def only_on(query: str, fn: RewardFn) -> RewardFn:
    """``fn`` on the rows whose ``query`` column is ``query`` ("locate" or "examine"), None
    (does not apply) on the others: one GRPO segment can train both queries, each answer
    scored by its own query's rewards (:class:`trainer.grpo.GRPOSettings`'s
    ``hold_first_look``). Keeps ``fn``'s name, which TRL logs."""
    def scoped(completions: Sequence[Any], **columns: Any) -> list[float | None]:
        n = len(completions)
        picked = [i for i, q in enumerate(_column(columns, "query", n)) if q == query]
        out: list[float | None] = [None] * n
        if not picked:
            return out
        # per-completion columns are lists of n entries; anything else (TRL's trainer_state)
        # passes through
        sub = {k: [v[i] for i in picked] if isinstance(v, list) and len(v) == n else v
               for k, v in columns.items()}
        for i, score in zip(picked, fn([completions[i] for i in picked], **sub), strict=True):
            out[i] = score
        return out

    return _named(scoped, fn.__name__)


format_reward_locate = make_format_reward_locate()
format_reward_examine = make_format_reward_examine()
verdict_reward = make_verdict_reward()
locate_verdict_reward = make_verdict_reward(query="locate")


# --------------------------------------------------------------------------------------------
# Explanation quality


@functools.lru_cache(maxsize=1)
def _bleu2():
    from sacrebleu.metrics import BLEU

    return BLEU(max_ngram_order=2, effective_order=True)


@functools.lru_cache(maxsize=1)
def _rouge():
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)


def _explanations(completions, columns) -> list[tuple[str | None, str]]:
    refs = _column(columns, "explanation", len(completions))
    return [
        (parse_examine(completion_text(c)).explanation, str(ref or ""))
        for c, ref in zip(completions, refs, strict=True)
    ]


def bleu2_score(hypothesis: str | None, reference: str | None) -> float:
    """Sentence BLEU-2 (0..1) of ``hypothesis`` against one ``reference`` (sacrebleu, max n-gram
    order 2, effective order, exponential smoothing, 13a tokenizer). Empty text on either side
    → 0."""
    if not hypothesis or not reference or not reference.strip():
        return 0.0
    return _bleu2().sentence_score(hypothesis, [reference]).score / 100.0


def rouge_l_score(hypothesis: str | None, reference: str | None) -> float:
    """ROUGE-L F1 (0..1) of ``hypothesis`` against ``reference`` (rouge-score, stemming on).
    Empty text on either side → 0."""
    if not hypothesis or not reference or not reference.strip():
        return 0.0
    return _rouge().score(reference, hypothesis)["rougeL"].fmeasure


def bleu2_reward(completions: Sequence[Any], **columns: Any) -> list[float | None]:
    """LTE's R_BLEU: sentence BLEU-2 (0..1) of the parsed explanation vs column ``explanation``."""
    return [bleu2_score(hyp, ref) for hyp, ref in _explanations(completions, columns)]


def rouge_l(completions: Sequence[Any], **columns: Any) -> list[float | None]:
    """ROUGE-L F1 (0..1) of the parsed explanation vs column ``explanation`` (evaluation)."""
    return [rouge_l_score(hyp, ref) for hyp, ref in _explanations(completions, columns)]


# --------------------------------------------------------------------------------------------
# Weighting and FakeXplainer's stages


def make_weighted(
    reward_fns: Sequence[RewardFn],
    weights: Sequence[float] | Mapping[str, float],
    base: float = 0.0,
) -> RewardFn:
    """One reward ``base + Σ w_i · f_i``; a term that is None for a sample is left out.

    ``weights`` is a list aligned with ``reward_fns`` or a mapping from function name to weight.
    The result is None when every term is None. (With TRL you can also pass the functions
    separately and set ``GRPOConfig.reward_weights``; this helper gives a single logged score.)
    """
    fns = list(reward_fns)
    if isinstance(weights, Mapping):
        missing = [f.__name__ for f in fns if f.__name__ not in weights]
        if missing:
            raise ValueError(f"no weight for {', '.join(missing)}")
        w = [float(weights[f.__name__]) for f in fns]
    else:
        w = [float(x) for x in weights]
        if len(w) != len(fns):
            raise ValueError(f"{len(w)} weights for {len(fns)} reward functions")

    def weighted(completions: Sequence[Any], **columns: Any) -> list[float | None]:
        per_fn = [fn(completions=completions, **columns) for fn in fns]
        out: list[float | None] = []
        for i in range(len(completions)):
            terms = [wt * s[i] for wt, s in zip(w, per_fn, strict=True) if s[i] is not None]
            out.append(base + sum(terms) if terms else None)
        return out

    return _named(weighted, "weighted_" + "+".join(f.__name__ for f in fns))


def base_reward(completions: Sequence[Any], **columns: Any) -> list[float | None]:
    """A constant 1.0 per completion: with a weight, FakeXplainer's stage base reward r_base.

    A constant shifts every completion of a group equally, so it does not change GRPO's
    advantages; it only moves the logged reward.
    """
    return [1.0] * len(completions)


# FakeXplainer §4.4: R = r_base + ω_G·R_G + ω_C·R_C + ω_F·R_F, with asymmetric values for R_C and
# R_F. Our copy of the paper lacks Table 1; the values below follow the text of §4.4:
#  * alpha: "prioritizes correct formatting by assigning it a higher reward weight" (the number is
#    not given: ω_F = 2 is OUR assumption); "balanced weighting for IoU and label (+1/-1)".
#  * beta: "IoU weighting increased (1.5x)" → ω_G = 1.5; "reward for correct labeling is doubled"
#    → R_C = +2/-1; "penalizes wrong predictions and wrong formats" → R_F wrong = -1.
#  * gamma: "IoU weight (2.0x)" → ω_G = 2; labelling and formatting "both 0.5/-1"; "a correct
#    label and format lead to a reward of 0" → r_base = -1 (derived: -1 + 0.5 + 0.5 = 0).
#  * r_base for alpha and beta and ω_F for beta/gamma are not stated: 0 and 1 are OUR assumptions;
#    R_F = +1/-1 in alpha/beta follows §4.3's definition.
STAGES: dict[str, dict[str, Any]] = {
    "alpha": {
        "base": 0.0, "format": 2.0, "iou": 1.0, "verdict": 1.0,
        "format_values": (1.0, -1.0), "verdict_values": (1.0, -1.0),
    },
    "beta": {
        "base": 0.0, "format": 1.0, "iou": 1.5, "verdict": 1.0,
        "format_values": (1.0, -1.0), "verdict_values": (2.0, -1.0),
    },
    "gamma": {
        "base": -1.0, "format": 1.0, "iou": 2.0, "verdict": 1.0,
        "format_values": (0.5, -1.0), "verdict_values": (0.5, -1.0),
    },
}
_STAGE_ALIASES = {"α": "alpha", "β": "beta", "γ": "gamma"}


def staged_weights(stage: str) -> dict[str, Any]:
    """FakeXplainer's stage settings: weights ``base`` (r_base), ``format`` (ω_F), ``iou`` (ω_G),
    ``verdict`` (ω_C) and the (correct, wrong) values ``format_values`` / ``verdict_values``.

    See the comment above :data:`STAGES` for what is from the paper and what is assumed.
    """
    key = _STAGE_ALIASES.get(stage, stage)
    if key not in STAGES:
        raise ValueError(f"stage must be one of alpha, beta, gamma, got {stage!r}")
    return dict(STAGES[key])


def staged_rewards(
    stage: str, query: str = "locate", relaxed: bool = False, eta: float = DEFAULT_ETA
) -> tuple[list[RewardFn], list[float]]:
    """``(reward_funcs, reward_weights)`` for ``GRPOTrainer`` / ``GRPOConfig`` in a stage.

    LTE splits rewards by query (Q1: format + IoU; Q2: format + verdict), as its ablation shows
    rewarding the Query-1 verdict hurts; FakeXplainer scores one answer with all terms. Here
    ``query="locate"`` gives format + IoU (+ base) and ``query="examine"`` format + verdict (+
    base). ``relaxed`` picks FakeXplainer's relaxed IoU instead of LTE's mean-max.
    """
    s = staged_weights(stage)
    if query == "locate":
        fns = [
            make_format_reward_locate(*s["format_values"]),
            make_relaxed_iou_reward(eta) if relaxed else iou_reward,
        ]
        weights = [s["format"], s["iou"]]
    elif query == "examine":
        fns = [
            make_format_reward_examine(*s["format_values"]),
            make_verdict_reward(*s["verdict_values"]),
        ]
        weights = [s["format"], s["verdict"]]
    else:
        raise ValueError(f"query must be 'locate' or 'examine', got {query!r}")
    if s["base"]:
        fns.append(base_reward)
        weights.append(s["base"])
    return fns, weights
