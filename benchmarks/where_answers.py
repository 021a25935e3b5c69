"""How well does a model answer the locate warm-up's "where?" question? Boxes only, no verdict.

    python benchmarks/where_answers.py MODEL_DIR RECORDS.jsonl [--count 60] [--json OUT]
        [--prompt where|query1|query1-truth|query1-other]

Greedy answers to :data:`trainer.conversations.WHERE_QUESTION` on the first ``--count`` records,
scored in the model's coordinate space against the records' exact boxes: LTE's IoU (mean over the
predicted boxes of each one's best IoU, as ``lte-train eval`` scores Query 1) on the AI-generated
images, the real ones and all, and the artifact counts of ``lte-train eval`` (artifacts a box
overlaps, distinct box sets, every artifact overlapped where there are two). Comparing it with
``lte-train eval`` of the same model after SFT says whether SFT keeps what the locate step taught
(issue 12, docs/decisions/0004-demo-checkpoint.md).

``--prompt`` asks for the same boxes another way, to find what Query 1 loses against the where
answer (decision 0004, E52): ``query1`` is the app's Query 1 (canonical instruction, the model
writes everything); ``query1-truth`` forces the record's own explanation and the model writes
the regions after it; ``query1-other`` forces an explanation of the other class (taken from the
first record of that class), so the boxes' dependence on what the explanation says shows.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


PROMPTS = ("where", "query1", "query1-truth", "query1-other")
BOX_OPENING = '[{"bbox_2d": ['  # where a begun Query-1 answer stops: the first box comes next


def _query1_messages(record, space, image, explanation: str | None) -> list[dict[str, Any]]:
    """The app's Query 1 on ``image``; with ``explanation``, the answer begun with it and the
    regions list up to the first box's first digit, for the model to continue (cut at a token
    boundary of the trained answers: a cut after ``<regions>`` leaves a token SFT never saw)."""
    from trainer.conversations import locate_sample

    messages, _ = locate_sample(record, space, None, image=image)
    if explanation is None:
        return messages
    begun = f"<explanation>{explanation}</explanation>\n<regions>{BOX_OPENING}"
    return [*messages, {"role": "assistant", "content": [{"type": "text", "text": begun}]}]


def answered_boxes(model_dir: Path, records_path: Path, count: int, batch_size: int = 10,
                   max_new_tokens: int = 64, prompt: str = "where") -> list[dict[str, Any]]:
    """One row per record: label, source, ground-truth and predicted boxes (model space)."""
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from trainer.conversations import answer_boxes, load_record_image, where_sample
    from trainer.pointer_losses import all_boxes
    from trainer.records import read_records
    from trainer.rows import model_space

    processor = AutoProcessor.from_pretrained(model_dir)
    processor.tokenizer.padding_side = "left"
    model = AutoModelForImageTextToText.from_pretrained(model_dir, dtype=torch.float32).eval()
    space = model_space(model_dir)
    records = read_records(records_path)[:count]
    # an explanation of each class, for --prompt query1-other
    other = {r.label: r.explanation for r in reversed(records)}
    begun = prompt in ("query1-truth", "query1-other")
    if prompt == "query1":
        max_new_tokens = max(max_new_tokens, 200)  # the explanation comes before the boxes
    rows = []
    for k in range(0, len(records), batch_size):
        batch = records[k : k + batch_size]
        messages = []
        for r in batch:
            image = load_record_image(r, records_path)
            if prompt == "where":
                messages.append(where_sample(r, space, image, grid=0)[0])
            elif prompt == "query1":
                messages.append(_query1_messages(r, space, image, None))
            elif prompt == "query1-truth":
                messages.append(_query1_messages(r, space, image, r.explanation))
            else:  # query1-other
                explanation = next((e for label, e in other.items() if label != r.label), "")
                messages.append(_query1_messages(r, space, image, explanation))
        inputs = processor.apply_chat_template(messages, tokenize=True, return_dict=True,
                                               add_generation_prompt=not begun,
                                               continue_final_message=begun,
                                               processor_kwargs={"padding": True},
                                               return_tensors="pt")
        with torch.no_grad():
            out = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
        answers = processor.batch_decode(out[:, inputs["input_ids"].shape[1]:],
                                         skip_special_tokens=True)
        if begun:
            answers = [BOX_OPENING + a for a in answers]
        for record, answer in zip(batch, answers, strict=True):
            rows.append({"label": record.label, "source": record.source, "answer": answer,
                         "gt_boxes": [b for b, _ in answer_boxes(record, space)],
                         "pred_boxes": all_boxes(answer)})
    return rows


def score(rows: list[dict[str, Any]]) -> dict[str, Any]:
    from inspector.core.protocol import AI_GENERATED, REAL
    from trainer.evaluate import artifact_counts
    from trainer.rewards import mean_best_iou

    def iou(subset: list[dict[str, Any]]) -> float | None:
        values = [mean_best_iou(r["pred_boxes"], r["gt_boxes"]) for r in subset]
        values = [v for v in values if v is not None]
        return round(sum(values) / len(values), 3) if values else None

    ai = [r for r in rows if r["label"] == AI_GENERATED]
    per_source = {s: iou([r for r in ai if r["source"] == s])
                  for s in sorted({r["source"] for r in ai})}
    return {"n": len(rows), "iou_ai": iou(ai), "iou_real": iou([r for r in rows
                                                               if r["label"] == REAL]),
            "iou_all": iou(rows), "iou_ai_per_source": per_source, **artifact_counts(rows)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, metavar="MODEL_DIR")
    parser.add_argument("records", type=Path, metavar="RECORDS.jsonl")
    parser.add_argument("--count", type=int, default=60, metavar="N")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the result here")
    parser.add_argument("--prompt", choices=PROMPTS, default="where",
                        help="the where question (default) or Query 1 (free, or continuing a "
                        "forced explanation of the record's class or the other one)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rows = answered_boxes(args.model, args.records, args.count, prompt=args.prompt)
    result = {"model": str(args.model), "records": str(args.records), "prompt": args.prompt,
              **score(rows),
              "seconds": round(time.perf_counter() - started, 1)}
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps({**result, "rows": rows}, indent=2) + "\n",
                             encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
