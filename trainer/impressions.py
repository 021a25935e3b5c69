"""A model's own Query-1 answers over training records ("first impressions"), for Query 2.

SFT's and GRPO's Query-2 rows put the ground-truth Query-1 answer in the context (or another
class's words, ``flip_rate``) and cut the close-ups from the ground-truth boxes, so every
close-up of an AI-generated training image shows its artifact. The app gives Query 2 the model's
own answer and close-ups of the model's boxes, which often miss the artifact: a Query 2 trained
on perfect close-ups reads "nothing in the close-ups" as "real" and turns right verdicts into
wrong ones (decision 0004, E15). Rows built from the model's own answers
(:func:`trainer.conversations.examine_sample` with ``model_answer``) teach the second look on
what it will see in the app.

``lte-train impressions MODEL RECORDS -o FILE`` asks Query 1 of every record with the app's
pipeline and appends one JSON line per record (``sha256``, ``image``, ``answer``) as it goes, so
an interrupted run resumes where it stopped; ``sft``/``grpo --impressions FILE`` use them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from trainer.records import read_records, resolve_image

__all__ = ["generate_impressions", "read_impressions"]


def read_impressions(path: str | Path) -> dict[str, str]:
    """sha256 → the model's Query-1 answer, from an impressions file (a missing file: none).

    A line cut short by a crash (the last one) is ignored: it is asked again on resume.
    """
    path = Path(path)
    answers: dict[str, str] = {}
    if not path.is_file():
        return answers
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            item = json.loads(line)
            answers[item["sha256"]] = item["answer"]
        except (ValueError, KeyError, TypeError):
            continue
    return answers


def generate_impressions(
    backend,
    records_path: str | Path,
    out: str | Path,
    *,
    limit: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    batch_size: int | None = 1,
) -> dict[str, str]:
    """Ask Query 1 of each record (the first ``limit``) not yet in ``out``; return the answers
    ``out`` holds for these records (sha256 → answer). Answers are appended and flushed one by
    one, as they finish. ``batch_size`` as :func:`trainer.evaluate.evaluate`'s (B images at
    once, their turns batched; None: the backend's choice)."""
    from inspector.core.batch_pipeline import batched_for
    from inspector.core.closeups import CloseupPolicy
    from inspector.core.pipeline import Pipeline, PipelineOptions
    from trainer.evaluate import analyse_each

    records_path = Path(records_path)
    records = read_records(records_path)[:limit]
    out = Path(out)
    done = read_impressions(out)
    pipeline, batch = batched_for(
        Pipeline(backend, PipelineOptions(policy=CloseupPolicy(), examine=False)), batch_size)
    out.parent.mkdir(parents=True, exist_ok=True)
    cut_short = False
    if out.is_file() and out.stat().st_size:
        with out.open("rb") as existing:
            existing.seek(-1, 2)
            cut_short = existing.read(1) != b"\n"
    to_ask = [r for r in records if r.sha256 not in done]

    def ask(index: int, cancelled: Callable[[], bool]) -> str:
        record = to_ask[index]
        analysis = pipeline.analyze(resolve_image(record, records_path), is_cancelled=cancelled)
        if analysis.evidence.sha256 != record.sha256:
            raise ValueError(f"{record.image}: the file changed since the record was made")
        return analysis.query1.raw_text

    with out.open("a", encoding="utf-8") as sink:
        if cut_short:  # a crash mid-line: the next answer starts on a line of its own
            sink.write("\n")

        answered = len(records) - len(to_ask)

        def keep(index: int, answer: str) -> None:
            nonlocal answered
            record = to_ask[index]
            done[record.sha256] = answer
            sink.write(json.dumps({"sha256": record.sha256, "image": record.image,
                                   "answer": answer}) + "\n")
            sink.flush()
            answered += 1
            if on_progress is not None:
                on_progress(answered, len(records))

        analyse_each(batch.size, len(to_ask), ask, keep)
    if on_progress is not None and not to_ask:
        on_progress(len(records), len(records))
    return {r.sha256: done[r.sha256] for r in records}


def register(subparsers) -> None:
    """Add ``impressions`` to lte-train's subparsers."""
    from trainer.evaluate import add_batch_size_argument

    p = subparsers.add_parser(
        "impressions",
        help="record a model's own Query-1 answers over training records (for Query 2)",
        description="Ask MODEL the app's Query 1 for every image of RECORDS.jsonl and append its "
        "answer to FILE (one JSON line per image: sha256, image, answer). 'lte-train sft' and "
        "'grpo' with --impressions FILE then build each covered record's Query-2 conversation "
        "on that answer and on close-ups of its boxes, as the app does, so the second look is "
        "trained on what it will see. Use images the model was not trained on, so its first "
        "impressions are as often wrong as on new images. An interrupted run resumes: answers "
        "already in FILE are kept.",
    )
    p.add_argument("model", metavar="MODEL_DIR", help="model folder")
    p.add_argument("records", type=Path, metavar="RECORDS.jsonl")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="FILE",
                   help="impressions file to write or complete")
    p.add_argument("--limit", type=int, metavar="N", help="only the first N records")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                   help="where to run the model (default auto: GPUs when present)")
    p.add_argument("--max-new-tokens", type=int, default=1024, metavar="N",
                   help="token limit of each answer (default 1024)")
    add_batch_size_argument(p)
    p.set_defaults(func=_cmd_impressions)


def _cmd_impressions(args) -> int:
    import sys

    from inspector.core.backends.base import BackendError
    from trainer.evaluate import EXIT_OK, EXIT_USAGE, open_model, records_to_run

    def fail(message: str) -> int:
        print(f"lte-train impressions: error: {message}", file=sys.stderr)
        return EXIT_USAGE

    try:
        total = len(records_to_run(args))
    except ValueError as exc:
        return fail(str(exc))
    try:
        backend = open_model(args.model, args.max_new_tokens, device=args.device)
    except BackendError as exc:
        return fail(str(exc))
    step = max(1, total // 20)

    def progress(done: int, n: int) -> None:
        if done % step == 0 or done == n:
            print(f"  [{done}/{n}]", file=sys.stderr, flush=True)

    try:
        held = generate_impressions(backend, args.records, args.output, limit=args.limit,
                                    on_progress=progress, batch_size=args.batch_size)
    except (OSError, ValueError) as exc:
        return fail(str(exc))
    print(f"{len(held)} first impressions in {args.output}")
    return EXIT_OK
