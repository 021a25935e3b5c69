"""`lte-inspect forensics`: the classic forensic analyses alone, without a model.

    lte-inspect forensics PATH... [--json OUT.jsonl] [--maps DIR] [--only NAME,...]

Each file is read and hashed once (``load_image``) and the analyses run on those bytes and pixels.
Every analysis's statement is printed as it finishes; with --json, one JSON object per file is
appended (and flushed to disk) when the file is done::

    {"file", "sha256", "width", "height", "<analysis>": {<its indicators>, "statement", "limits",
     "seconds", "map", "regions", ["error"]}, ...}

The JPEG-structure analyses (jpeg, double_jpeg) are ``null`` for a file that is not a JPEG. With
--maps, each analysis's map is written as ``DIR/<stem>-<sha8>-<analysis>.png`` and its path given
in the JSON. A bad file gets ``{"file", "error"}`` and the batch goes on; the exit code is 1 if
any file or analysis failed, as for `analyze`.

Also here: the pieces `analyze --forensics[=NAMES]` uses (the option, its lines and JSON).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from inspector.core.batch_output import EXIT_INTERRUPTED, EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE

ALL = "all"


# --------------------------------------------------------------------------------------------
# Options
# --------------------------------------------------------------------------------------------


def _analysis_names(text: str) -> tuple[str, ...]:
    """argparse ``type=``: "ela,noise" -> ("noise", "ela"); "all" -> every analysis."""
    from inspector.core.forensics import ANALYSIS_NAMES, parse_only

    if text.strip().lower() == ALL:
        return ANALYSIS_NAMES
    try:
        names = parse_only(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if not names or not text.strip(", "):
        raise argparse.ArgumentTypeError(f"name at least one analysis (or {ALL})")
    return names


def add_forensics_option(analyze: argparse.ArgumentParser) -> None:
    """`analyze --forensics[=NAMES]`: run the forensic analyses after the model."""
    analyze.add_argument(
        "--forensics", type=_analysis_names, default=(), metavar="NAMES",
        help="also run the classic forensic analyses on the same decoded image: all of them "
        "(--forensics alone) or --forensics=NAMES, --forensics NAMES (comma-separated: jpeg, "
        "double_jpeg, spectrum, "
        "copy_move, noise, ela, metadata); shown beside the verdict, never changing it; with "
        "--case their maps are stored in the case",
    )  # fmt: skip


def expand_bare_forensics(argv: Sequence[str]) -> list[str]:
    """Spell ``--forensics`` as ``--forensics=NAMES`` before parsing.

    Alone it means all analyses, so that `analyze --forensics photo.jpg` does not take the photo
    for a list of names; followed by a word made only of analysis names (``--forensics ela,noise``)
    and naming no existing file, it takes that word, as the ``=`` spelling does.
    """
    out: list[str] = []
    index = 0
    while index < len(argv):
        arg = argv[index]
        if arg == "--":  # everything after it is a path
            return out + list(argv[index:])
        if arg != "--forensics":
            out.append(arg)
        elif index + 1 < len(argv) and _is_name_list(argv[index + 1]):
            out.append(f"--forensics={argv[index + 1]}")
            index += 1
        else:
            out.append(f"--forensics={ALL}")
        index += 1
    return out


def _is_name_list(word: str) -> bool:
    """True for "ela", "noise,ela" or "all" (what the option accepts) when no file of that name
    is here."""
    try:
        _analysis_names(word)
    except argparse.ArgumentTypeError:
        return False
    return not Path(word).exists()


def add_forensics_command(sub) -> None:
    f = sub.add_parser(
        "forensics",
        help="run the classic forensic analyses alone (no model)",
        description="Run the classic forensic analyses (JPEG structure, double compression, "
        "spectrum, copy-move, noise, error level, metadata) on images; folders are walked. They "
        "are independent of the model and need no GPU.",
    )
    f.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders")
    f.add_argument("--json", type=Path, metavar="OUT.jsonl",
                   help="append one JSON object per image to this file")
    f.add_argument("--maps", type=Path, metavar="DIR",
                   help="write each analysis's map as DIR/<stem>-<sha8>-<analysis>.png")
    f.add_argument("--only", type=_analysis_names, default=None, metavar="NAME,...",
                   help="run only these analyses, comma-separated: jpeg, double_jpeg, "
                   "spectrum, copy_move, noise, ela, metadata (default: all)")


# --------------------------------------------------------------------------------------------
# Results as JSON and as lines (shared with `analyze --forensics`)
# --------------------------------------------------------------------------------------------


def result_line(data: dict[str, Any]) -> str:
    """``  noise: <statement> (0.12 s)`` — one analysis, readable."""
    text = f"FAILED: {data['error']}" if data.get("error") else data["statement"]
    line = f"  {data['name']}: {text} ({data['seconds']:.2f} s)"
    return line + (f" → {data['map']}" if data.get("map") else "")


def analysis_forensic_lines(analysis) -> list[str]:
    return [result_line(data) for data in (analysis.forensics or {}).values()]


# --------------------------------------------------------------------------------------------
# forensics
# --------------------------------------------------------------------------------------------


def map_file_name(path: Path, sha256: str, name: str) -> str:
    """``<stem>-<sha8>-<analysis>.png``: two files with the same stem do not collide."""
    return f"{path.stem}-{sha256[:8]}-{name}.png"


class _MapWriteError(Exception):
    pass


def cmd_forensics(args: argparse.Namespace) -> int:
    from inspector.core.atomic import atomic_write_bytes
    from inspector.core.batch_output import BatchRun, batch_summary
    from inspector.core.forensics import (
        ANALYSIS_NAMES,
        ForensicInput,
        ForensicResult,
        map_png_bytes,
        run_forensics,
    )
    from inspector.core.forensics.record import JPEG_FORMATS, JPEG_ONLY, contract_entry
    from inspector.core.imageio import ImageLoadError, iter_image_files, load_image

    names = args.only or ANALYSIS_NAMES
    files = list(iter_image_files(args.paths))
    if not files:
        print("error: no image files found in the given paths", file=sys.stderr)
        return EXIT_USAGE
    if args.maps:
        try:
            args.maps.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            print(f"error: cannot create the maps folder {args.maps}: {exc.strerror or exc}",
                  file=sys.stderr)
            return EXIT_USAGE

    run = BatchRun(args.json)  # the first Ctrl-C stops after the running analysis

    def analyse(path: Path, loaded) -> dict[str, Any]:
        evidence = ForensicInput.from_loaded(loaded)
        is_jpeg = loaded.format.upper() in JPEG_FORMATS
        record: dict[str, Any] = {"file": str(path), "sha256": loaded.sha256,
                                  "width": loaded.width, "height": loaded.height}
        for name in names:  # the keys in display order, JPEG-only ones null for other formats
            record[name] = None
            if name in JPEG_ONLY and not is_jpeg:
                print(f"  {name}: not applicable: the file is a {loaded.format}, not a JPEG",
                      flush=True)

        def on_result(result: ForensicResult) -> None:
            map_path = None
            if args.maps and result.map is not None:
                target = args.maps / map_file_name(path, loaded.sha256, result.name)
                try:
                    atomic_write_bytes(target, map_png_bytes(result.map))
                except OSError as exc:
                    raise _MapWriteError(f"cannot write {target}: {exc.strerror or exc}") from exc
                map_path = str(target)
            data = result.to_dict(map_path)
            record[result.name] = contract_entry(data, loaded.format)
            print(result_line(data), flush=True)

        run_forensics(evidence, only=[n for n in names if is_jpeg or n not in JPEG_ONLY],
                      on_result=on_result, is_cancelled=run.is_interrupted)
        return record

    failures = processed = analysis_errors = 0
    with run:
        for number, path in enumerate(files, start=1):
            if run.interrupted:
                break
            print(f"[{number}/{len(files)}] {path}", file=sys.stderr, flush=True)
            try:
                loaded = load_image(path)
            except ImageLoadError as exc:
                failures += 1
                processed += 1
                print(f"{path}: FAILED: {exc.message}", flush=True)
                run.write({"file": str(path), "error": exc.message})
                continue
            print(f"{path}: {loaded.width}×{loaded.height} {loaded.format}, sha256 "
                  f"{loaded.sha256}", flush=True)
            try:
                record = analyse(path, loaded)
            except _MapWriteError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return EXIT_USAGE
            finally:
                del loaded  # a 40-megapixel image is not kept while the next one loads
            if run.interrupted:
                print(f"{path}: cancelled", flush=True)
                break
            processed += 1
            analysis_errors += sum(1 for n in names if (record[n] or {}).get("error"))
            run.write(record)
    print(batch_summary(processed, len(files), failures,
                        [f"{analysis_errors} analyses failed" if analysis_errors else ""],
                        interrupted=run.interrupted), file=sys.stderr)
    if run.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_SOME_FAILED if failures or analysis_errors else EXIT_OK
