"""`lte-inspect analyze PATH... [--model ID_OR_DIR] [--json OUT.jsonl] [--case DIR] ...`

Each image gets a one-line summary on stdout; with --json, one JSON object per line is appended
(and flushed to disk) as soon as that image is done, so an interrupted batch keeps its results.
With --case, each analysis is stored in the case folder (atomically, with its close-ups and a
custody-log line) as soon as it is done; images the case already holds are skipped, so rerunning
an interrupted batch finishes the rest without duplicating. A bad file never stops the batch; the
exit code is 1 if any file failed.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

from inspector.cli import forensics
from inspector.cli.case import PAGE_SIZES, render_report
from inspector.cli.model_loading import load_pipeline, resolve_model
from inspector.core.backends.base import BackendError
from inspector.core.backends.remote import SERVER_MAX_PIXELS, SERVER_MIN_PIXELS
from inspector.core.batch import run_concurrently
from inspector.core.batch_output import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_SOME_FAILED,
    EXIT_USAGE,
    BatchRun,
    batch_summary,
)
from inspector.core.casestore import CaseError, CaseStore
from inspector.core.closeup_options import add_closeup_arguments, closeup_policy_from_args
from inspector.core.comparison import comparison_rows_for, write_comparison_csv
from inspector.core.exports import analysis_record
from inspector.core.file_hash import file_sha256
from inspector.core.imageio import ImageLoadError, iter_image_files
from inspector.core.results import Analysis
from inspector.core.wording import AGAINST_FINDINGS, override_text, p_ai_text, verdict_text


def register(sub) -> None:
    """Add the ``analyze`` command to lte-inspect's subparsers."""
    a = sub.add_parser(
        "analyze",
        help="analyse images and folders",
        description="Analyse images (folders are walked). Query 1 locates suspicious regions and "
        "gives an initial verdict; Query 2 examines close-ups of them and gives the final verdict.",
    )
    a.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders")
    a.add_argument(
        "--model",
        help="hub id or local folder of a Qwen2.5-VL / Qwen3-VL model, or a PEFT adapter folder "
        "(default: the bundled demo checkpoint, when present)",
    )
    a.add_argument("--preset", metavar="NAME",
                   help="a model preset (see `lte-inspect models`): model, precision and image "
                   "bounds in one name; --quant/--dtype/--model override its parts")
    a.add_argument("--adapter", help="PEFT LoRA adapter (folder or hub id) to apply over --model")
    a.add_argument("--quant", choices=["none", "4bit", "8bit"],
                   help="bitsandbytes quantization (default none, or the preset's)")
    a.add_argument("--dtype", choices=["auto", "bfloat16", "float16", "float32"],
                   help="weights precision (default auto: bf16 on GPU, fp32 on CPU)")
    a.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    a.add_argument("--download", action="store_true", help="allow downloading a hub model")
    add_closeup_arguments(a)  # --max-regions, --closeups, --region-order, --closeup-budget
    a.add_argument("--no-examine", action="store_true", help="run Query 1 only")
    a.add_argument("--no-cache-reuse", action="store_true",
                   help="recompute Query 2 from scratch instead of reusing Query 1's KV cache")
    a.add_argument("--max-new-tokens", type=int, default=1024, metavar="N",
                   help="token limit per answer (default 1024)")
    a.add_argument("--prompt-lookup", type=int, default=0, metavar="N",
                   help="Query 2 drafts up to N tokens from the conversation so far and keeps "
                   "what the model confirms: the same answer, faster when Query 2 restates "
                   "Query 1 (greedy, local model; default 0: off)")
    a.add_argument("--json", type=Path, metavar="OUT.jsonl",
                   help="append one JSON object per image to this file")
    a.add_argument("--stream", action="store_true", help="print the model's text as it comes")
    a.add_argument("--batch-size", type=int, metavar="B",
                   help="analyse B images together with a local model (default: 1 on a CPU; "
                   "on a GPU as many as its free memory holds, at most 8)")
    server = a.add_argument_group("remote server (OpenAI-compatible: vLLM, transformers serve)")
    server.add_argument("--server", metavar="URL",
                        help="analyse with the model served at URL instead of loading one here; "
                        "the API key is read from $LTE_API_KEY or the OS keyring")
    server.add_argument("--server-model", metavar="NAME",
                        help="served model name (default: the only model the server lists)")
    server.add_argument("--server-model-type", choices=["qwen2_5_vl", "qwen3_vl"],
                        default="qwen2_5_vl", help="family of the served model (box coordinates)")
    server.add_argument("--min-pixels", type=int, default=SERVER_MIN_PIXELS, metavar="N",
                        help="image resize bounds sent to the server (default 64*28*28)")
    server.add_argument("--max-pixels", type=int, default=SERVER_MAX_PIXELS, metavar="N",
                        help="(default 1024*28*28)")
    server.add_argument("--concurrency", type=int, default=1, metavar="N",
                        help="images in flight at once against the server (default 1)")
    forensics.add_forensics_option(a)
    c = a.add_argument_group("case file")
    c.add_argument("--case", type=Path, metavar="DIR",
                   help="store the analyses, close-ups and custody log in this case folder "
                   "(opened, or created when missing or empty)")
    c.add_argument("--case-number", metavar="TEXT",
                   help="case number for a new case (default: the folder's name)")
    c.add_argument("--case-title", metavar="TEXT", help="title for a new case")
    c.add_argument("--examiner", default="", metavar="NAME",
                   help="who runs the analysis (recorded in the custody log)")
    c.add_argument("--reanalyse", action="store_true",
                   help="analyse images the case already holds again (the earlier analysis is "
                   "kept as history); by default they are skipped")
    c.add_argument("--csv", type=Path, metavar="OUT.csv",
                   help="write the comparison table (initial vs final verdict): of this run, or "
                   "of the whole case with --case")
    c.add_argument("--report", type=Path, metavar="OUT.pdf",
                   help="after the batch, render the case's PDF report (needs --case)")
    c.add_argument("--page-size", choices=PAGE_SIZES, default="A4", help="report page size")


def error_record(path: Path, message: str) -> dict[str, Any]:
    return {"file": str(path), "error": message}


def summary_line(analysis: Analysis) -> str:
    """One line per image: initial → final verdict, P(AI-generated), regions, seconds; then the
    examiner's override (the verdict of record) when there is one, and a demo marker."""
    initial = verdict_text(analysis.initial_verdict)
    final = verdict_text(analysis.final_verdict)
    change = {True: "CHANGED", False: "unchanged", None: "not comparable"}[analysis.changed]
    count = len(analysis.regions)
    examined = sum(r.examined for r in analysis.regions)
    skipped = f"; {analysis.examine_skipped}" if analysis.examine_skipped else ""
    line = (
        f"{initial} → {final} ({p_ai_text(analysis.final_confidence)}) [{change}]; "
        f"{count} region{'' if count == 1 else 's'}, {examined} examined{skipped}; "
        f"{analysis.timings.get('total', 0):.1f} s"
    )
    if analysis.follows_findings is False:
        line += f"; WARNING: corrected verdict {AGAINST_FINDINGS}"
    if analysis.overridden:
        line += f"; {override_text(analysis.examiner)}"
    if analysis.model.is_demo:
        line += " [demo model, not a detector]"
    return line


def _file_sha256(path: Path) -> str | None:
    """The file's SHA-256, None when it cannot be read (the analysis then says why)."""
    try:
        return file_sha256(path)
    except OSError:
        return None


def _open_case(args) -> CaseStore:
    store = CaseStore.open_or_create(
        args.case, args.case_number, args.case_title, examiner=args.examiner
    )
    for problem in store.problems:
        print(f"note: case {args.case}: {problem}", file=sys.stderr)
    return store


def cmd_analyze(args) -> int:
    from inspector.core.pipeline import (
        AnalysisCancelled,
        CloseupReady,
        ForensicResultReady,
        TokenGenerated,
    )

    if args.report and not args.case:
        print(
            "error: --report renders a case, so it needs --case DIR (the case folder to store "
            "the analyses in); or run `lte-inspect report DIR -o OUT.pdf` on an existing case",
            file=sys.stderr,
        )
        return EXIT_USAGE
    model = args.server or resolve_model(args)
    if args.concurrency < 1:
        print("error: --concurrency must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    if args.concurrency > 1 and not args.server:
        print("note: --concurrency applies to --server; a local model analyses one image at a "
              "time", file=sys.stderr)
        args.concurrency = 1
    if args.batch_size is not None and (args.batch_size < 1 or args.server):
        print("error: --batch-size must be at least 1" if args.batch_size < 1 else
              "error: --batch-size applies to a local model; use --concurrency with --server",
              file=sys.stderr)
        return EXIT_USAGE
    if model is None:
        print(
            "error: no model given and no demo checkpoint is bundled. Pass --model with a hub id "
            "or a folder (for a quick trial: lte-train init-tiny /tmp/tiny && "
            "lte-inspect analyze IMAGE --model /tmp/tiny).",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if args.max_regions == 0:  # nothing to examine: Query 1 only
        args.no_examine = True
    try:
        policy = closeup_policy_from_args(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if policy.mode == "random":
        print(f"note: --closeups random is a research ablation: Query 2 sees boxes at random "
              f"places (seed {policy.seed}), not the regions the model located", file=sys.stderr)
    files = list(iter_image_files(args.paths))
    if not files:
        print("error: no image files found in the given paths", file=sys.stderr)
        return EXIT_USAGE

    pipeline = None
    if args.server:  # connecting costs nothing: a server that is down is said before a case is made
        pipeline = load_pipeline(args, model, policy)
        if pipeline is None:
            return EXIT_USAGE

    store: CaseStore | None = None
    hashes: dict[Path, str | None] = {}
    if args.case:
        try:
            store = _open_case(args)
        except CaseError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        hashes = {path: _file_sha256(path) for path in files}

    def already_in_case(path: Path) -> bool:
        sha = hashes.get(path)
        return bool(store and not args.reanalyse and sha and store.has_analysis(sha))

    if pipeline is None and any(not already_in_case(path) for path in files):
        pipeline = load_pipeline(args, model, policy)
        if pipeline is None:
            return EXIT_USAGE
        from inspector.core.batch_pipeline import batched_for

        pipeline, batch = batched_for(pipeline, args.batch_size)  # B threads, turns batched
        print(f"batch: {batch.reason}", file=sys.stderr)
        args.concurrency = batch.size

    run = BatchRun(args.json)  # the first Ctrl-C cancels the running image, then stops
    failures = skipped = processed = 0
    case_failed = False
    run_analyses: list[Analysis] = []
    started = {"count": 0}
    lock = threading.Lock()

    def analyze_one(path: Path):
        """Runs in a worker thread: the analysis and its close-ups, nothing written."""
        with lock:
            started["count"] += 1
            print(f"[{started['count']}/{len(files)}] {path}", file=sys.stderr, flush=True)
        closeups: dict[int, Any] = {}
        maps: dict[str, Any] = {}  # forensic maps, stored with the case

        def on_event(event):
            if isinstance(event, CloseupReady):
                closeups[event.closeup.region] = event.image
            elif isinstance(event, ForensicResultReady) and event.result.map is not None:
                maps[event.result.name] = event.result.map
            elif args.stream and args.concurrency == 1 and isinstance(event, TokenGenerated):
                sys.stderr.write(event.text)
                sys.stderr.flush()

        return pipeline.analyze(path, on_event, run.is_interrupted), closeups, maps

    class _StopBatch(Exception):
        pass

    def on_done(path: Path, result, error: BaseException | None) -> None:
        """Runs in this thread, one image at a time: print, store, write JSON."""
        nonlocal failures, processed, case_failed
        if isinstance(error, AnalysisCancelled):
            print(f"{path}: cancelled", flush=True)
            run.interrupted = True
            return
        if isinstance(error, ImageLoadError | BackendError):
            failures += 1
            processed += 1
            message = error.message if isinstance(error, ImageLoadError) else str(error)
            print(f"{path}: FAILED: {message}", flush=True)
            run.write(error_record(path, message))
            if store:
                store.log("analysis-failed", args.examiner, hashes.get(path) or "",
                          str(path), message)
            return
        if error is not None:
            raise error
        analysis, closeups, maps = result
        processed += 1
        if store:
            try:
                store.add_analysis(analysis, closeups, examiner=args.examiner,
                                   forensic_maps=maps)
            except (OSError, CaseError) as exc:
                print(f"error: could not store the analysis of {path} in the case "
                      f"{args.case}: {exc}", file=sys.stderr)
                case_failed = True
                raise _StopBatch from exc
        run_analyses.append(analysis)
        print("\n".join([f"{path}: {summary_line(analysis)}",
                         *forensics.analysis_forensic_lines(analysis)]), flush=True)
        run.write(analysis_record(analysis))

    to_analyze = []
    for path in files:
        if already_in_case(path):
            latest = store.analysis_ids_for(hashes[path])[-1]
            print(f"{path}: already in the case (analysis {latest}); skipped — pass "
                  "--reanalyse to analyse it again", flush=True)
            skipped += 1
            processed += 1
        else:
            to_analyze.append(path)
    with run:
        try:
            if to_analyze:
                run_concurrently(analyze_one, to_analyze, args.concurrency, on_done,
                                 run.is_interrupted)
        except _StopBatch:
            pass
    print(batch_summary(processed, len(files), failures,
                        [f"{skipped} skipped (already in the case)" if skipped else ""],
                        interrupted=run.interrupted), file=sys.stderr)
    if case_failed:
        return EXIT_USAGE

    if args.csv:
        try:
            if store:
                store.write_csv(args.csv)
                store.log("csv-exported", args.examiner, _file_sha256(args.csv) or "",
                          str(args.csv.resolve()), "comparison table")
            else:
                write_comparison_csv(args.csv, comparison_rows_for(run_analyses))
        except OSError as exc:
            print(f"error: could not write {args.csv}: {exc}", file=sys.stderr)
            return EXIT_USAGE
        print(f"Comparison table: {args.csv}", file=sys.stderr)
    if args.report:
        if run.interrupted:
            print("note: interrupted, so the report was not rendered", file=sys.stderr)
        else:
            code = render_report(store, args.report, args.page_size, args.examiner)
            if code != EXIT_OK:
                return code
    if run.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_SOME_FAILED if failures else EXIT_OK
