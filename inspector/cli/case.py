"""`lte-inspect report` and `lte-inspect export`: a case folder's PDF report and tables."""

from __future__ import annotations

import sys
from pathlib import Path

from inspector.core.batch_output import EXIT_OK, EXIT_USAGE
from inspector.core.casestore import CaseError, CaseStore
from inspector.core.exports import export_case_tables

PAGE_SIZES = ("A4", "Letter")


def register(sub) -> None:
    """Add the ``report`` and ``export`` commands to lte-inspect's subparsers."""
    r = sub.add_parser(
        "report",
        help="render a case's PDF report",
        description="Render the PDF report of a case folder written by `analyze --case`.",
    )
    r.add_argument("case", type=Path, metavar="DIR", help="the case folder")
    r.add_argument("-o", "--output", type=Path, required=True, metavar="OUT.pdf")
    r.add_argument("--page-size", choices=PAGE_SIZES, default="A4")
    r.add_argument("--examiner", default="", metavar="NAME",
                   help="who exports the report (recorded in the custody log)")
    e = sub.add_parser(
        "export",
        help="write a case's table (CSV) and results (JSONL) with the examiners' verdicts",
        description="Write the comparison table and/or the results of a case folder, one row or "
        "line per evidence file (its latest analysis), with the examiner's verdict of record.",
    )
    e.add_argument("case", type=Path, metavar="DIR", help="the case folder")
    e.add_argument("--csv", type=Path, metavar="OUT.csv")
    e.add_argument("--jsonl", type=Path, metavar="OUT.jsonl")
    e.add_argument("--examiner", default="", metavar="NAME",
                   help="who exports (recorded in the custody log)")


def render_report(store: CaseStore, out_path: Path, page_size: str, examiner: str) -> int:
    try:
        from inspector.report.export import export_case_report
    except ImportError as exc:
        if (exc.name or "").split(".")[0] == "PySide6":
            print(
                "error: PDF reports are drawn with Qt, and PySide6 is not installed. Install it "
                "with: pip install 'lte-inspector[report]'",
                file=sys.stderr,
            )
        else:
            print(f"error: the PDF report renderer is not available: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"Rendering the report of case {store.meta.number} …", file=sys.stderr, flush=True)
    try:  # renders, hashes and records the export in the custody log
        exported = export_case_report(store, Path(out_path), page_size, examiner)
    except Exception as exc:  # the renderer's failure, whatever it is, said in words
        print(f"error: could not export the report {out_path}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"Report: {out_path} ({exported.pages} pages)", file=sys.stderr)
    return EXIT_OK


def cmd_report(args) -> int:
    try:
        store = CaseStore.open(args.case)
    except CaseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for problem in store.problems:
        print(f"note: case {args.case}: {problem}", file=sys.stderr)
    if not store.latest():
        print(f"note: case {args.case} holds no analyses yet", file=sys.stderr)
    return render_report(store, args.output, args.page_size, args.examiner)


def cmd_export(args) -> int:
    if args.csv is None and args.jsonl is None:
        print("error: say what to write: --csv OUT.csv and/or --jsonl OUT.jsonl", file=sys.stderr)
        return EXIT_USAGE
    try:
        store = CaseStore.open(args.case)
        written = export_case_tables(store, csv=args.csv, jsonl=args.jsonl,
                                     examiner=args.examiner)
    except (CaseError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for path in written:
        print(f"Wrote {path} ({len(store.latest())} evidence file(s))", file=sys.stderr)
    return EXIT_OK
