"""Does a model's second look read its close-ups? Each finding against what its close-up holds.

    python benchmarks/closeup_findings.py MODEL_DIR RECORDS.jsonl [--count 100] [--json OUT]
                                          [--closeups located|random]

Runs the app's pipeline (both queries) on the first ``--count`` records and, for every close-up
Query 2 wrote a finding for, compares the finding's ``points_to`` with what the close-up really
shows (:func:`trainer.conversations.examined_finding`: a planted region it covers at least 30 %
of points to the record's label, anything else to "real"). Prints how many artifact close-ups
were called so, how many clean ones were called clean, and on how many images the final verdict
agrees with the findings (any finding pointing to "ai-generated" means AI). Decision 0004 (E20,
E28) uses it: a second look that reads its close-ups gets both counts high, whatever its prior.

``--teacher-forced`` asks instead, on ground-truth Query-2 contexts with half the boxes moved to
decoy places (``rows.sft_rows(decoy_rate=0.5)``), how likely the model finds each close-up clean
(the probability that its observation starts with "natural", as
:data:`trainer.conversations.NOTHING_PLANTED` does) and how well that separates clean close-ups
from artifact ones (AUC; 0.5 = the close-up is not read at all).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def finding_rows(model_dir: Path, records_path: Path, count: int, mode: str = "located",
                 max_new_tokens: int = 256) -> list[dict[str, Any]]:
    """One row per examined close-up: image, label, what it shows, what the finding said."""
    from inspector.core.closeups import CloseupPolicy
    from inspector.core.geometry import Box
    from inspector.core.pipeline import Pipeline, PipelineOptions
    from trainer.conversations import examined_finding
    from trainer.evaluate import open_model
    from trainer.records import read_records, resolve_image

    backend = open_model(model_dir, max_new_tokens, device="cpu")
    pipeline = Pipeline(backend, PipelineOptions(policy=CloseupPolicy(mode=mode)))
    rows: list[dict[str, Any]] = []
    for record in read_records(records_path)[:count]:
        analysis = pipeline.analyze(resolve_image(record, records_path))
        boxes = {c.region: c.box or analysis.regions[c.region - 1].box for c in analysis.closeups}
        final = analysis.query2.verdict if analysis.query2 else None
        for finding in analysis.findings:
            shows = examined_finding(record, Box(*boxes[finding.region]))[1]
            rows.append({"image": record.image, "label": record.label, "shows": shows,
                         "said": finding.points_to, "observation": finding.observation,
                         "final": final})
        if not analysis.findings:
            rows.append({"image": record.image, "label": record.label, "shows": None,
                         "said": None, "observation": None, "final": final})
    return rows


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Artifact close-ups called so, clean ones called clean, verdicts that follow the findings."""
    examined = [r for r in rows if r["shows"] is not None]
    artifact = [r for r in examined if r["shows"] != "real"]
    clean = [r for r in examined if r["shows"] == "real"]
    images: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        images.setdefault(r["image"], []).append(r)
    follows = 0
    judged = 0
    for group in images.values():
        if group[0]["final"] is None or group[0]["shows"] is None:
            continue
        judged += 1
        said_ai = any(r["said"] == "ai-generated" for r in group)
        follows += (group[0]["final"] == "ai-generated") == said_ai
    return {
        "closeups": len(examined),
        "artifact_closeups": len(artifact),
        "artifact_called_ai": sum(r["said"] == "ai-generated" for r in artifact),
        "clean_closeups": len(clean),
        "clean_called_real": sum(r["said"] == "real" for r in clean),
        "images_judged": judged,
        "verdict_follows_findings": follows,
    }


def clean_scores(model_dir: Path, records_path: Path, count: int,
                 seed: int = 123) -> list[tuple[bool, float]]:
    """(close-up is clean, P(observation starts "natural")) for every finding of the records'
    ground-truth Query-2 rows with decoys, teacher-forced up to the observation."""
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from inspector.core.closeups import CloseupPolicy
    from trainer.conversations import NOTHING_PLANTED
    from trainer.records import read_records
    from trainer.rows import model_space, sft_rows

    processor = AutoProcessor.from_pretrained(model_dir)
    model = AutoModelForImageTextToText.from_pretrained(model_dir, dtype=torch.float32).eval()
    records = read_records(records_path)[:count]
    rows = sft_rows(records, model_space(model_dir), CloseupPolicy(), dataset_path=records_path,
                    queries="examine", flip_rate=0.0, grid=28, decoy_rate=0.5, seed=seed)
    first = processor.tokenizer.encode(NOTHING_PLANTED.split()[0])[0]
    opener = '"observation": "'
    scores: list[tuple[bool, float]] = []
    for row in rows:
        target = row["completion"][0]["content"][0]["text"]
        prompt = processor.apply_chat_template(row["prompt"], tokenize=False,
                                               add_generation_prompt=True)
        at = target.find(opener)
        while at >= 0:
            at += len(opener)
            inputs = processor(text=[prompt + target[:at]], images=row["images"],
                               return_tensors="pt")
            with torch.no_grad():
                logits = model(**inputs).logits[0, -1]
            scores.append((target[at:].startswith(NOTHING_PLANTED),
                           torch.softmax(logits, -1)[first].item()))
            at = target.find(opener, at)
    return scores


def auc(scores: list[tuple[bool, float]]) -> float | None:
    """Chance that a clean close-up scores above an artifact one (ties count half)."""
    clean = [p for is_clean, p in scores if is_clean]
    artifact = [p for is_clean, p in scores if not is_clean]
    if not clean or not artifact:
        return None
    wins = sum((a > b) + 0.5 * (a == b) for a in clean for b in artifact)
    return wins / (len(clean) * len(artifact))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", type=Path)
    p.add_argument("records", type=Path)
    p.add_argument("--count", type=int, default=100)
    p.add_argument("--closeups", choices=("located", "random"), default="located")
    p.add_argument("--teacher-forced", action="store_true",
                   help="score P(clean) per close-up on ground-truth contexts with decoys (AUC)")
    p.add_argument("--json", type=Path, help="write the summary and every row here")
    args = p.parse_args(argv)
    if args.teacher_forced:
        scores = clean_scores(args.model, args.records, args.count)
        separation = auc(scores)
        clean = [p for c, p in scores if c]
        artifact = [p for c, p in scores if not c]
        print(f"P(clean) on {len(clean)} clean close-ups {sum(clean) / max(1, len(clean)):.3f}, "
              f"on {len(artifact)} artifact ones {sum(artifact) / max(1, len(artifact)):.3f}; "
              f"AUC {separation}")
        if args.json:
            args.json.write_text(json.dumps({"auc": separation, "scores": scores}) + "\n",
                                 encoding="utf-8")
        return 0
    rows = finding_rows(args.model, args.records, args.count, args.closeups)
    result = summary(rows)
    print(f"artifact close-ups called so: {result['artifact_called_ai']} / "
          f"{result['artifact_closeups']}; clean close-ups called clean: "
          f"{result['clean_called_real']} / {result['clean_closeups']}; final verdict follows "
          f"the findings on {result['verdict_follows_findings']} / {result['images_judged']} "
          f"images")
    if args.json:
        args.json.write_text(json.dumps({"summary": result, "rows": rows}, indent=1) + "\n",
                             encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
