"""Evaluate a model the way the app uses it: LTE's metrics over a test set, per degradation.

Every test image goes through the app's own pipeline (:class:`inspector.core.pipeline.Pipeline`:
Query 1 → close-ups → Query 2), once per degradation (:mod:`trainer.degrade`). Evidence files are
only read; degraded copies are written to a work folder (a temporary one unless given).

Metrics, overall and per record ``source``, for each degradation. ``n`` counts the samples that
were analysed; images that raised (unreadable file, SHA-256 differing from the record, backend
error) are counted in ``failures`` and left out of every other metric.

* **Acc**: share of samples whose FINAL verdict (Query 2's; Query 1's when Query 2 was skipped)
  equals the label. An unparsed verdict counts as wrong.
* **I-Acc**: the same for the INITIAL (Query 1) verdict.
* **C-Cases**: share of samples whose final verdict differs from the initial one. An unparsed
  verdict is a value of its own here, so ``unparsed → real`` and ``real → unparsed`` are changes;
  a skipped Query 2 is no change.
* **C-Acc**: accuracy on the changed cases: among the C-Cases samples, the share whose final
  verdict is correct (None / "n/a" when no sample changed). The LTE paper calls it "corrected
  verdict accuracy (correction step accuracy)" without a formula; this is OUR reading of it. It
  answers "when the close-up made the model change its mind, how often was the new verdict
  right?"; 1 - C-Acc is the share of changes that broke a correct verdict (or lost it to an
  unparsed answer).
* **IoU**: LTE's localisation score, per sample ``1/|B| · Σ_i max_j IoU(b_i, b̂_j)`` over the
  PREDICTED boxes b_i (all Query-1 regions the app kept, original pixels of the analysed image)
  against the ground-truth boxes b̂_j (moved with the degradation), then averaged over samples.
  Samples without ground-truth boxes (e.g. real photos, or a crop that cut every box away) are
  left out; a sample with ground truth but no predicted box scores 0.
* **BLEU-2** / **ROUGE-L**: of the final explanation (Query 2's; Query 1's when Query 2 was
  skipped) against the record's explanation, via :func:`trainer.rewards.bleu2_score` (sacrebleu
  sentence BLEU-2) and :func:`trainer.rewards.rouge_l_score` (rouge-score ROUGE-L F1), each
  0..1; a missing explanation scores 0. Averaged over samples.
* **Artifact counts** (issue 12's goals; AI-generated samples only, their ground-truth boxes being
  planted artifacts): ``artifacts`` and ``artifacts_hit``, the ground-truth boxes and how many of
  them some predicted box overlaps (IoU > :data:`HIT_IOU`); ``ai_images`` and ``ai_box_sets``,
  the samples and how many distinct predicted box sets they got (answers tied to the image, not
  one box for all); ``two_artifact_images`` and ``both_hit``, the samples with two or more
  artifacts and how many of those have every one overlapped (a box per artifact).
* ``findings_compared`` / ``against_findings``: the answers whose Query-2 findings name a
  verdict, and how many of them have a final verdict that follows none of those findings
  (:attr:`inspector.core.results.Analysis.follows_findings`; the app flags them).
* ``seconds``: mean wall-clock seconds per analysed image (pipeline call, image load included).
* ``parse_problem_rate``: share of samples where either query's answer had a parse problem (or
  was cut off at the token limit).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from inspector.core.atomic import atomic_write_bytes
from inspector.core.closeup_options import add_closeup_arguments, closeup_policy_from_args
from inspector.core.closeups import CloseupPolicy
from inspector.core.protocol import AI_GENERATED
from inspector.core.region_choice import CLOSEUP_MODES
from trainer.degrade import DEGRADATIONS, degrade_to_bytes
from trainer.records import Record, read_records, resolve_image
from trainer.rewards import bleu2_score, mean_best_iou, rouge_l_score

T = TypeVar("T")

__all__ = [
    "ABLATION_COLUMNS",
    "COLUMNS",
    "ablation_table",
    "aggregate",
    "artifact_counts",
    "artifact_line",
    "evaluate",
    "evaluate_ablations",
    "findings_line",
    "markdown_table",
    "mean_best_iou",
    "register",
    "summarize",
    "write_report",
]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

# (key in a metrics dict, column title) of the markdown table, in order
COLUMNS: tuple[tuple[str, str], ...] = (
    ("acc", "Acc"),
    ("i_acc", "I-Acc"),
    ("c_acc", "C-Acc"),
    ("c_cases", "C-Cases"),
    ("iou", "IoU"),
    ("bleu2", "BLEU-2"),
    ("rouge_l", "ROUGE-L"),
    ("n", "n"),
)

# the columns of the ablation table (issue: the LTE paper's ablations as switches)
ABLATION_COLUMNS: tuple[tuple[str, str], ...] = tuple(
    (k, t) for k, t in COLUMNS if k in ("acc", "i_acc", "c_acc", "c_cases", "iou", "n")
)
# The LTE paper's ablation figures (LTE-32B on its test set), shown under the ablation table.
PAPER_ABLATIONS = (
    "LTE paper (32B, its own test set): full LTE Acc 0.972, C-Acc 0.956, IoU 0.359; random "
    "cropping Acc 0.842, C-Acc 0.421, C-Cases 19.6 %; single-turn variants 3.6 (7B) to 5.8 "
    "(32B) points of Acc below LTE."
)

# --------------------------------------------------------------------------------------------
# Scores and aggregation (pure)


def _mean(values: Iterable[float]) -> float | None:
    values = list(values)
    return sum(values) / len(values) if values else None


# a predicted box "overlaps" a ground-truth box above this IoU (the artifact counts)
HIT_IOU = 0.1


def artifact_counts(rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """The artifact counts of analysed sample rows (see the module doc)."""
    ai = [r for r in rows if r["label"] == AI_GENERATED]
    artifacts = hit = two = both = 0
    for r in ai:
        gt, pred = r.get("gt_boxes") or [], r.get("pred_boxes") or []
        overlapped = [any((mean_best_iou([p], [g]) or 0.0) > HIT_IOU for p in pred) for g in gt]
        artifacts += len(gt)
        hit += sum(overlapped)
        if len(gt) >= 2:
            two += 1
            both += all(overlapped)
    box_sets = {tuple(sorted(tuple(b) for b in r.get("pred_boxes") or [])) for r in ai}
    return {"artifacts": artifacts, "artifacts_hit": hit, "ai_images": len(ai),
            "ai_box_sets": len(box_sets) if ai else 0, "two_artifact_images": two,
            "both_hit": both}


def aggregate(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The metrics of a set of sample rows (as :func:`evaluate` writes them; see the module doc).

    Rows with an ``error`` are counted in ``failures`` only. Rates are 0..1 (C-Cases too); a
    metric with nothing to average is None.
    """
    ok = [r for r in rows if not r.get("error")]
    n = len(ok)
    changed = [r for r in ok if r["changed"]]
    ious = [r["iou"] for r in ok if r.get("iou") is not None]
    return {
        "n": n,
        "failures": len(rows) - n,
        "acc": _mean(float(r["final"] == r["label"]) for r in ok),
        "i_acc": _mean(float(r["initial"] == r["label"]) for r in ok),
        "c_cases": _mean(float(bool(r["changed"])) for r in ok),
        "changed": len(changed),
        "c_acc": _mean(float(r["final"] == r["label"]) for r in changed),
        "iou": _mean(ious),
        "iou_n": len(ious),
        "bleu2": _mean(r["bleu2"] for r in ok),
        "rouge_l": _mean(r["rouge_l"] for r in ok),
        "seconds": _mean(r["seconds"] for r in ok),
        "parse_problem_rate": _mean(float(bool(r.get("problems"))) for r in ok),
        # answers whose findings name a verdict, and those whose final verdict follows none
        "findings_compared": sum(r.get("follows_findings") is not None for r in ok),
        "against_findings": sum(r.get("follows_findings") is False for r in ok),
        **artifact_counts(ok),
    }


def summarize(
    rows: Sequence[dict[str, Any]], degradations: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """``{degradation: {"overall": metrics, "per_source": {source: metrics}}}`` (sources sorted)."""
    out: dict[str, dict[str, Any]] = {}
    for name in degradations:
        mine = [r for r in rows if r["degradation"] == name]
        sources = sorted({r["source"] for r in mine})
        out[name] = {
            "overall": aggregate(mine),
            "per_source": {s: aggregate([r for r in mine if r["source"] == s]) for s in sources},
        }
    return out


# --------------------------------------------------------------------------------------------
# Running the pipeline


def _row_base(index: int, record: Record, name: str) -> dict[str, Any]:
    return {
        "index": index,
        "image": record.image,
        "source": record.source,
        "degradation": name,
        "label": record.label,
    }


def _rounded(boxes: Iterable[Sequence[float]]) -> list[list[float]]:
    return [[round(float(v), 2) for v in b] for b in boxes]


def _sample_row(base: dict[str, Any], record: Record, analysis, gt: list[list[float]],
                seconds: float) -> dict[str, Any]:
    initial, final = analysis.initial_verdict, analysis.final_verdict
    predicted = [r.box for r in analysis.regions]
    problems = [f"query 1: {p}" for p in analysis.query1.problems]
    if analysis.query2 is not None:
        problems += [f"query 2: {p}" for p in analysis.query2.problems]
    explanation = analysis.final_explanation
    score = mean_best_iou(predicted, gt)
    return {
        **base,
        "initial": initial,
        "final": final,
        "changed": initial != final,
        "correct": final == record.label,
        "iou": None if score is None else round(score, 6),
        "bleu2": round(bleu2_score(explanation, record.explanation), 6),
        "rouge_l": round(rouge_l_score(explanation, record.explanation), 6),
        "seconds": round(seconds, 3),
        "gt_boxes": _rounded(gt),
        "pred_boxes": _rounded(predicted),
        "examine_skipped": analysis.examine_skipped,
        "follows_findings": analysis.follows_findings,
        "problems": problems,
    }


def _error_text(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _verdict(v: str | None) -> str:
    return v if v is not None else "unparsed"


def analyse_each(
    at_once: int,
    count: int,
    analyse_one: Callable[[int, Callable[[], bool]], T],
    on_done: Callable[[int, T], None],
    is_cancelled: Callable[[], bool] | None = None,
) -> None:
    """``analyse_one(i, cancelled)`` for i in 0..count-1, ``at_once`` of them running together
    (the batch size :func:`~inspector.core.batch_pipeline.batched_for` chose);
    ``on_done(i, result)`` in this thread as each finishes. The first error (or Ctrl-C) is
    raised here, and the analyses still running see ``cancelled()`` turn true, so they end
    within a token instead of finishing images nobody will read."""
    from inspector.core.batch import run_concurrently

    asked = is_cancelled or (lambda: False)
    stopping = threading.Event()

    def cancelled() -> bool:
        return stopping.is_set() or asked()

    def report(index: int, result: T | None, error: BaseException | None) -> None:
        if error is not None:
            raise error
        on_done(index, result)

    try:
        run_concurrently(lambda i: analyse_one(i, cancelled), list(range(count)), at_once,
                         report)
    except BaseException:
        stopping.set()
        raise


def evaluate(
    backend,
    records_path: Path,
    degradations: Sequence[str] = ("clean",),
    policy: CloseupPolicy | None = None,
    limit: int | None = None,
    seed: int = 0,
    work_dir: Path | None = None,
    on_progress: Callable[[str], None] | None = None,
    is_cancelled: Callable[[], bool] | None = None,
    examine: bool = True,
    batch_size: int | None = 1,
) -> dict[str, Any]:
    """Run the app's pipeline with ``backend`` over the records in ``records_path`` (the first
    ``limit``), once per degradation, and return the JSON-serializable report.

    ``clean`` analyses the evidence file itself; other degradations analyse a degraded copy
    written under ``work_dir/<degradation>/`` (kept) or, when ``work_dir`` is None, to a
    temporary folder (each copy deleted once analysed). The crop of an image is drawn from
    ``random.Random(f"{seed}:{name}:{sha256}")``, so it does not depend on the order or number
    of records. A failing image becomes a row with an ``error`` and the run goes on;
    ``is_cancelled`` (polled between tokens and images) raises
    :class:`inspector.core.pipeline.AnalysisCancelled`; KeyboardInterrupt propagates.
    ``examine=False`` runs Query 1 only. ``batch_size`` B > 1 analyses B records at once, their
    model turns batched (the app's batch mode; greedy answers equal one at a time); None lets
    the backend choose (1 on a CPU). Rows and progress keep the records' order either way.
    """
    from inspector.core.batch_pipeline import batched_for
    from inspector.core.imageio import load_image
    from inspector.core.pipeline import AnalysisCancelled, Pipeline, PipelineOptions

    degradations = list(dict.fromkeys(degradations))
    unknown = [d for d in degradations if d not in DEGRADATIONS]
    if unknown or not degradations:
        raise ValueError(
            f"degradations must be among {', '.join(DEGRADATIONS)}; got {list(degradations)!r}"
        )
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    records_path = Path(records_path)
    records = read_records(records_path)
    if limit is not None:
        records = records[:limit]
    policy = policy or CloseupPolicy()
    pipeline, batch = batched_for(
        Pipeline(backend, PipelineOptions(policy=policy, examine=examine)), batch_size)
    progress = on_progress or (lambda text: None)
    total = len(records) * len(degradations)
    finished: dict[int, list[tuple[dict[str, Any], str]]] = {}
    model: dict[str, Any] | None = None
    started = time.perf_counter()

    keep = work_dir is not None
    folder = contextlib.nullcontext(str(work_dir)) if keep else tempfile.TemporaryDirectory(
        prefix="lte-eval-"
    )

    def analyse_record(index: int, work: Path,
                       cancelled: Callable[[], bool]) -> list[tuple[dict[str, Any], str]]:
        """The rows of one record, one per degradation, each with its progress note."""
        nonlocal model
        record = records[index]
        path = resolve_image(record, records_path)
        gt = [list(map(float, r.box)) for r in record.regions]
        loaded, load_error = None, None
        try:
            loaded = load_image(path)
            if loaded.sha256 != record.sha256:
                raise ValueError(
                    f"{path}: the file's SHA-256 ({loaded.sha256[:12]}…) differs from the "
                    f"record's ({record.sha256[:12]}…); the image changed since the record "
                    "was made"
                )
        except Exception as exc:
            load_error = _error_text(exc)
        rows: list[tuple[dict[str, Any], str]] = []
        for name in degradations:
            if cancelled():
                raise AnalysisCancelled("evaluation cancelled")
            base = _row_base(index, record, name)
            if load_error is not None:
                rows.append(({**base, "error": load_error}, f"FAILED: {load_error}"))
                continue
            t0 = time.perf_counter()
            try:
                if name == "clean":
                    target, boxes = path, gt
                else:
                    rng = random.Random(f"{seed}:{name}:{record.sha256}")
                    data, boxes, suffix = degrade_to_bytes(loaded.image, gt, name, rng)
                    target = work / name / f"{index:06d}{suffix}"
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(data)
                try:
                    analysis = pipeline.analyze(target, is_cancelled=cancelled)
                finally:
                    if not keep and target != path:  # a temporary copy: free the disk
                        target.unlink(missing_ok=True)
            except AnalysisCancelled:
                raise
            except Exception as exc:
                error = _error_text(exc)
                rows.append(({**base, "error": error,
                              "seconds": round(time.perf_counter() - t0, 3)}, f"FAILED: {error}"))
                continue
            if model is None:
                model = dataclasses.asdict(analysis.model)
            row = _sample_row(base, record, analysis, boxes, time.perf_counter() - t0)
            mark = "correct" if row["correct"] else "wrong"
            rows.append((row, f"{_verdict(row['initial'])} -> {_verdict(row['final'])} "
                              f"(label {record.label}, {mark})"))
        return rows

    with folder as work_name:
        work = Path(work_name)
        # progress lines in the records' order, whatever order they finish in
        reported, next_record = 0, 0

        def on_done(index: int, rows: list[tuple[dict[str, Any], str]]) -> None:
            nonlocal reported, next_record
            finished[index] = rows
            while next_record in finished:
                for row, note in finished[next_record]:
                    reported += 1
                    progress(f"[{reported}/{total}] {row['degradation']} {row['image']}: {note}")
                next_record += 1

        analyse_each(batch.size, len(records), lambda i, stop: analyse_record(i, work, stop),
                     on_done, is_cancelled)

    rows = [row for index in sorted(finished) for row, _ in finished[index]]
    if model is None and getattr(backend, "provenance", None) is not None:
        model = dataclasses.asdict(backend.provenance)
    return {
        "model": model,
        "records": str(records_path.resolve()),
        "n_records": len(records),
        "seed": seed,
        "examine": examine and policy.mode != "none",
        "policy": dataclasses.asdict(policy),
        "seconds_total": round(time.perf_counter() - started, 3),
        "degradations": summarize(rows, degradations),
        "samples": rows,
    }


def evaluate_ablations(
    backend,
    records_path: Path,
    policy: CloseupPolicy | None = None,
    modes: Sequence[str] = CLOSEUP_MODES,
    on_progress: Callable[[str], None] | None = None,
    done: Mapping[str, dict[str, Any]] | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """:func:`evaluate` once per close-up mode (``located``, ``random``, ``none``) on the same
    images with the same model, everything else of ``policy`` unchanged. Returns
    ``{"ablations": True, "model", "records", "policy", "runs": {mode: report}}``; each run is a
    full :func:`evaluate` report (samples included). ``kwargs`` go to :func:`evaluate`.
    ``done`` holds reports of modes already run with this model, records and settings (the
    demo's last stage evaluation is the ``located`` run); they are taken as they are."""
    policy = policy or CloseupPolicy()
    progress = on_progress or (lambda text: None)
    runs: dict[str, dict[str, Any]] = {}
    for mode in modes:
        if done and mode in done:
            runs[mode] = done[mode]
            continue
        runs[mode] = evaluate(
            backend, records_path, policy=dataclasses.replace(policy, mode=mode),
            on_progress=lambda text, mode=mode: progress(f"[{mode}] {text}"), **kwargs,
        )
    first = next(iter(runs.values()))
    return {
        "ablations": True,
        "model": first["model"],
        "records": first["records"],
        "n_records": first["n_records"],
        "policy": dataclasses.asdict(policy),
        # the time of the runs made here (a ``done`` run's time is in its own report)
        "seconds_total": round(sum(r["seconds_total"] for m, r in runs.items()
                                   if not (done and m in done)), 3),
        "runs": runs,
    }


# --------------------------------------------------------------------------------------------
# Output


def format_cell(key: str, value: Any) -> str:
    """One metric as the tables show it (3 decimals, C-Cases in %, n/a when undefined)."""
    if value is None:
        return "n/a"
    if key == "n":
        return str(value)
    if key == "c_cases":
        return f"{100 * value:.1f}%"
    return f"{value:.3f}"


def artifact_line(metrics: dict[str, Any]) -> str:
    """The artifact counts of one metrics dict in words."""
    return (f"{metrics['artifacts_hit']} of {metrics['artifacts']} artifacts overlapped by a box "
            f"(IoU > {HIT_IOU:g}); {metrics['ai_box_sets']} distinct box sets among "
            f"{metrics['ai_images']} images; every artifact overlapped on {metrics['both_hit']} "
            f"of {metrics['two_artifact_images']} images with two or more")


def findings_line(metrics: dict[str, Any]) -> str:
    """How often the final verdict follows none of the answer's own findings, in words."""
    return (f"the final verdict follows none of its own findings on {metrics['against_findings']} "
            f"of {metrics['findings_compared']} answers whose findings name a verdict")


def markdown_table(report: dict[str, Any]) -> str:
    """One markdown table: a row per degradation × (overall, then each source), the columns of
    :data:`COLUMNS`; rates to 3 decimals, C-Cases as a percentage, "n/a" where nothing applies.
    Failures (not counted in n), when there are any, are listed under the table."""
    header = ["Degradation", "Subset", *(title for _, title in COLUMNS)]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * 2 + ["---:"] * len(
        COLUMNS)) + "|"]
    failures: list[str] = []
    counts: list[str] = []
    against: list[str] = []
    for name, block in report["degradations"].items():
        subsets = [("overall", block["overall"]), *block["per_source"].items()]
        for subset, metrics in subsets:
            cells = [name, subset, *(format_cell(k, metrics.get(k)) for k, _ in COLUMNS)]
            lines.append("| " + " | ".join(cells) + " |")
        if block["overall"]["failures"]:
            failures.append(f"{name} {block['overall']['failures']}")
        if block["overall"].get("ai_images"):
            counts.append(f"- {name}: {artifact_line(block['overall'])}")
        if block["overall"].get("findings_compared"):
            against.append(f"- {name}: {findings_line(block['overall'])}")
    text = "\n".join(lines) + "\n"
    if counts:
        text += "\nBoxes on the AI-generated images:\n\n" + "\n".join(counts) + "\n"
    if against:
        text += "\nFinal verdicts and Query 2's own findings:\n\n" + "\n".join(against) + "\n"
    if failures:
        text += f"\nFailed images (not counted in n): {', '.join(failures)}.\n"
    return text


def ablation_table(report: dict[str, Any]) -> str:
    """The ablation table of :func:`evaluate_ablations`: a row per close-up mode (and per
    degradation when there are several), the columns of :data:`ABLATION_COLUMNS`, with the
    paper's figures under it."""
    header = ["Close-ups", "Degradation", *(title for _, title in ABLATION_COLUMNS)]
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join(["---"] * 2 + ["---:"] * len(ABLATION_COLUMNS)) + "|"]
    failures: list[str] = []
    for mode, run in report["runs"].items():
        for name, block in run["degradations"].items():
            metrics = block["overall"]
            cells = [mode, name, *(format_cell(k, metrics.get(k)) for k, _ in ABLATION_COLUMNS)]
            lines.append("| " + " | ".join(cells) + " |")
            if metrics["failures"]:
                failures.append(f"{mode}/{name} {metrics['failures']}")
    text = "\n".join(lines) + "\n"
    text += ("\nlocated: the regions Query 1 found (LTE); random: boxes of the same sizes at "
             "seeded random places; none: Query 2 skipped (the initial verdict stands). IoU "
             "scores Query 1's boxes, the same in every row.\n")
    if failures:
        text += f"\nFailed images (not counted in n): {', '.join(failures)}.\n"
    return text + f"\n{PAPER_ABLATIONS}\n"


def write_report(report: dict[str, Any], out_json: Path, out_md: Path) -> None:
    """Write the report as JSON and its markdown table (the ablation table for an ablation
    report), each atomically."""
    for path in (out_json, out_md):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    table = ablation_table(report) if report.get("ablations") else markdown_table(report)
    atomic_write_bytes(out_json, (json.dumps(report, indent=2, ensure_ascii=False) + "\n").encode())
    atomic_write_bytes(out_md, table.encode("utf-8"))


# --------------------------------------------------------------------------------------------
# lte-train eval


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``eval`` subcommand to lte-train's subparsers; ``args.func(args)`` runs it."""
    p = subparsers.add_parser(
        "eval",
        help="evaluate a model on test records with the app's pipeline (LTE metrics)",
        description="Analyse every image of TEST.jsonl with the app's own Locate-Then-Examine "
        "pipeline and report, overall and per source, for each degradation: Acc (final "
        "verdict), I-Acc (initial verdict), C-Acc (accuracy of the cases whose verdict "
        "changed), C-Cases (share that changed), IoU (mean over predicted boxes of the best "
        "IoU with a ground-truth box), BLEU-2 and ROUGE-L of the final explanation. Writes "
        "OUT.json (metrics and every sample) and OUT.md (the table, also printed). Evidence "
        "files are only read; degraded copies go to a temporary folder. Definitions: "
        "trainer/evaluate.py.",
    )
    p.add_argument("model", metavar="MODEL_DIR",
                   help="model folder (or a hub id in the local cache)")
    p.add_argument("records", type=Path, metavar="TEST.jsonl", help="test records to evaluate")
    p.add_argument("--adapter", metavar="DIR", help="PEFT LoRA adapter to load over the model")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--degradations", nargs="+", choices=DEGRADATIONS, default=["clean"],
                       metavar="NAME",
                       help=f"degradations to run: {', '.join(DEGRADATIONS)} (default clean)")
    group.add_argument("--all-degradations", action="store_true",
                       help="run every degradation")
    p.add_argument("--limit", type=int, metavar="N", help="only the first N records")
    add_closeup_arguments(p)  # --max-regions, --closeups, --region-order, --closeup-budget
    p.add_argument("--ablations", action="store_true",
                   help="run the close-up ablation: located vs random vs none on the same images "
                   "in one run, and write one table (Acc, I-Acc, C-Acc, C-Cases, IoU) instead; "
                   "--closeups is then ignored")
    p.add_argument("--quant", choices=["none", "4bit", "8bit"], default="none",
                   help="bitsandbytes quantization (default none)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                   help="where to run the model (default auto: GPUs when present)")
    p.add_argument("--max-new-tokens", type=int, default=1024, metavar="N",
                   help="token limit of each answer (default 1024)")
    p.add_argument("--seed", type=int, default=0, metavar="N",
                   help="seed of the random crops (default 0)")
    add_batch_size_argument(p)
    p.add_argument("-o", "--output", type=Path, required=True, metavar="OUT.json",
                   help="report to write; the markdown table goes next to it as OUT.md")
    p.set_defaults(func=_cmd_eval)
    return p


def _md_path(out_json: Path) -> Path:
    md = out_json.with_suffix(".md")
    return md if md != out_json else out_json.with_name(out_json.name + ".md")


def open_model(model: str | Path, max_new_tokens: int, *, adapter: str | None = None,
               quantization: str = "none", device: str = "auto"):
    """The app's local backend for ``model`` with a token limit per answer (memory notes go to
    stderr). Raises :class:`inspector.core.backends.base.BackendError`."""
    from inspector.core.backends.base import GenerationSettings
    from inspector.core.backends.open import BackendChoice, open_backend
    from inspector.core.backends.spec import LocalModelSpec

    choice = BackendChoice.of_local(LocalModelSpec(
        source=str(model), adapter=adapter, quantization=quantization, device=device))
    return open_backend(choice, GenerationSettings.with_token_limit(max_new_tokens),
                        on_message=lambda text: print(f"memory: {text}", file=sys.stderr))


def add_batch_size_argument(parser: argparse.ArgumentParser) -> None:
    """``--batch-size B`` of the model commands (``eval``, ``impressions``)."""
    parser.add_argument("--batch-size", type=int, metavar="B",
                        help="analyse B images together, their model turns batched (greedy "
                        "answers equal one at a time; the demo model on 2 CPU cores: 85 s for "
                        "100 images one at a time, 33 s at 16); default: 1 on a CPU, on a GPU "
                        "as many as its free memory holds, at most 8")


def records_to_run(args: argparse.Namespace) -> list[Record]:
    """The records a model command (``eval``, ``impressions``) will run on, checked before a
    model is loaded: ``--limit``, ``--max-new-tokens`` and ``--batch-size`` at least 1, a
    readable records file that holds records. Raises ValueError with the message for the
    user."""
    from trainer.records import RecordError

    if args.limit is not None and args.limit < 1:
        raise ValueError("--limit must be at least 1")
    if args.batch_size is not None and args.batch_size < 1:
        raise ValueError("--batch-size must be at least 1")
    if args.max_new_tokens < 1:
        raise ValueError("--max-new-tokens must be at least 1")
    try:
        records = read_records(args.records)
    except (OSError, RecordError) as exc:
        raise ValueError(str(exc)) from exc
    if not records:
        raise ValueError(f"{args.records} holds no records")
    return records[:args.limit]


def _cmd_eval(args: argparse.Namespace) -> int:
    from inspector.core.backends.base import BackendError

    def usage(message: str) -> int:
        print(f"lte-train eval: error: {message}", file=sys.stderr)
        return EXIT_USAGE

    try:
        n = len(records_to_run(args))
        policy = closeup_policy_from_args(args)
    except ValueError as exc:
        return usage(str(exc))
    if args.ablations and args.max_regions == 0:
        return usage("--ablations compares close-up modes; it needs --max-regions of 1 or more")
    degradations = list(DEGRADATIONS) if args.all_degradations else list(args.degradations)

    print(f"Loading model {args.model} …", file=sys.stderr, flush=True)
    try:
        backend = open_model(args.model, args.max_new_tokens, adapter=args.adapter,
                             quantization=args.quant, device=args.device)
    except BackendError as exc:
        print(f"lte-train eval: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if backend.provenance.is_demo:
        print("NOTE: this is the demo checkpoint, not a detector.", file=sys.stderr)
    print(f"Evaluating {n} records x {len(degradations)} degradations "
          f"({', '.join(degradations)})", file=sys.stderr, flush=True)
    common: dict[str, Any] = dict(
        degradations=degradations, limit=args.limit, seed=args.seed, batch_size=args.batch_size,
        on_progress=lambda text: print(text, file=sys.stderr, flush=True),
    )
    if args.ablations:
        report = evaluate_ablations(backend, args.records, policy=policy, **common)
        blocks = [b for run in report["runs"].values() for b in run["degradations"].values()]
        table, expected = ablation_table(report), n * len(degradations) * len(report["runs"])
    else:
        report = evaluate(backend, args.records, policy=policy, **common)
        blocks = list(report["degradations"].values())
        table, expected = markdown_table(report), n * len(degradations)
    out_md = _md_path(args.output)
    write_report(report, args.output, out_md)
    print(table, end="")
    failures = sum(b["overall"]["failures"] for b in blocks)
    analysed = sum(b["overall"]["n"] for b in blocks)
    print(
        f"Analysed {analysed} of {expected} images in {report['seconds_total']:.1f} s"
        f" ({failures} failed); wrote {args.output} and {out_md}",
        file=sys.stderr,
    )
    return EXIT_FAILED if failures else EXIT_OK
