"""Machine-readable exports of analyses: one JSON object per image (JSONL) and the case tables.

The CLI writes these lines as a batch runs (`analyze --json`); `lte-inspect export` and the
window's File › Export write them for a whole case, with the examiner's verdict of record, and log
each export in the case's custody log with the SHA-256 of what was written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from inspector.core.atomic import atomic_write_bytes
from inspector.core.casestore import CaseStore
from inspector.core.file_hash import file_sha256
from inspector.core.forensics.record import forensics_record
from inspector.core.results import Analysis

__all__ = ["analysis_record", "export_case_tables"]


def _verdict_block(verdict, explanation, confidence) -> dict[str, Any]:
    return {"verdict": verdict, "explanation": explanation, "confidence": confidence}


def analysis_record(analysis: Analysis) -> dict[str, Any]:
    """The JSONL line for an analysed image: a summary plus the full analysis."""
    ev = analysis.evidence
    q1 = analysis.query1
    return {
        "file": ev.path,
        "sha256": ev.sha256,
        "width": ev.width,
        "height": ev.height,
        "initial": _verdict_block(q1.verdict, q1.explanation, q1.confidence),
        "final": _verdict_block(
            analysis.final_verdict, analysis.final_explanation, analysis.final_confidence
        ),
        "regions": [
            {"number": r.number, "box": r.box, "label": r.label, "examined": r.examined}
            for r in analysis.regions
        ],
        "changed": analysis.changed,
        # False: the final verdict follows none of Query 2's findings (null: nothing to compare)
        "follows_findings": analysis.follows_findings,
        "verdict_of_record": analysis.verdict_of_record,
        "examiner": {
            "name": analysis.examiner.examiner,
            "override": analysis.examiner.override_verdict,
            "notes": analysis.examiner.notes,
            "updated": analysis.examiner.updated,
        },
        "examine_skipped": analysis.examine_skipped,
        "problems": {
            "query1": q1.problems,
            "query2": analysis.query2.problems if analysis.query2 else [],
        },
        "model": {
            "id": analysis.model.model_id,
            "backend": analysis.model.backend,
            "quantization": analysis.model.quantization,
            "weights_sha256": analysis.model.weights_sha256,
            "is_demo": analysis.model.is_demo,
        },
        "timings": analysis.timings,
        # the forensic analyses' indicators and statements (null: not run), as `forensics` gives
        "forensics": forensics_record(analysis.forensics, ev.format),
        "analysis": analysis.to_dict(),
    }


def export_case_tables(
    store: CaseStore, *, csv: Path | None = None, jsonl: Path | None = None, examiner: str = ""
) -> list[Path]:
    """Write the case's comparison table (CSV) and/or its results (JSONL, one line per evidence
    file, its latest analysis), atomically; each export is logged in the custody log."""
    written = []
    analyses = store.latest()
    if csv is not None:
        store.write_csv(csv)
        written.append(Path(csv))
    if jsonl is not None:
        lines = "".join(json.dumps(analysis_record(a), ensure_ascii=False) + "\n"
                        for a in analyses)
        atomic_write_bytes(jsonl, lines.encode("utf-8"))
        written.append(Path(jsonl))
    for path in written:
        store.log("results-exported", examiner, file_sha256(path), str(path),
                  f"{len(analyses)} evidence file(s), {path.suffix.lstrip('.').upper()}")
    return written
