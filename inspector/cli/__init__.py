"""`lte-inspect`: headless analysis from the command line, one module per command.

    lte-inspect analyze PATH... [--model ID_OR_DIR] [--json OUT.jsonl] [--case DIR] ...  (analyze)
    lte-inspect report DIR -o OUT.pdf / export DIR --csv OUT.csv                          (case)
    lte-inspect forensics PATH... [--json OUT.jsonl] [--maps DIR] [--only NAME,...]   (forensics)
    lte-inspect models / download NAME                                                   (models)

``model_loading`` opens the model `analyze` uses. The command line sits beside the window, over
the report and core (import-linter's layers in pyproject.toml).
"""

from __future__ import annotations

import argparse
import sys

from inspector import __version__
from inspector.cli import analyze, case, forensics, models
from inspector.core.batch_output import EXIT_USAGE


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lte-inspect",
        description="Tell whether images are photographs or AI-generated "
        "(Locate-Then-Examine).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    analyze.register(sub)
    case.register(sub)
    models.add_model_commands(sub)
    forensics.add_forensics_command(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = forensics.expand_bare_forensics(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args.command == "analyze":
        if args.max_regions < 0:
            print("error: --max-regions must be 0 or more", file=sys.stderr)
            return EXIT_USAGE
        return analyze.cmd_analyze(args)
    commands = {"report": case.cmd_report, "export": case.cmd_export,
                "models": models.cmd_models, "download": models.cmd_download,
                "forensics": forensics.cmd_forensics}
    return commands[args.command](args) if args.command in commands else EXIT_USAGE

