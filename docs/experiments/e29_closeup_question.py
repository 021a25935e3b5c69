"""E29 (decision 0004): can the language model read a close-up inside Query 2's context?

    python docs/experiments/e29_closeup_question.py START_MODEL TRAIN.jsonl VAL.jsonl OUT STEPS

Rows are Query 2's conversation built on the ground truth with half the boxes moved to decoy
places (``rows.sft_rows(decoy_rate=0.5)``), on AI-generated images only, whose last instruction
is replaced by "Does close-up k show a generator artifact? Answer yes or no." (k drawn per row;
"yes" when the close-up shows the planted region), so the one-token answer can come from close-up
k alone. Prints the held-out AUC of logit(yes) - logit(no) before and after STEPS steps of SFT
(tower frozen) and saves the model to OUT. Run with OMP_NUM_THREADS=1 or 2; about 10 minutes.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import torch

from inspector.core.closeups import CloseupPolicy
from inspector.core.protocol import EXAMINE_INSTRUCTION, parse_examine
from trainer.records import read_records
from trainer.rows import model_space, sft_rows, to_dataset

QUESTION = "Does close-up {k} show a generator artifact? Answer yes or no."


def _text(message: dict) -> str:
    return message["content"][0]["text"]


def question_rows(model_dir: Path, path: Path, count: int, seed: int) -> list[dict]:
    """One row per AI-generated record (the first ``count``) with at least one close-up."""
    records = [r for r in read_records(path) if r.label == "ai-generated"][:count]
    rows = sft_rows(records, model_space(model_dir), CloseupPolicy(), dataset_path=path,
                    queries="examine", flip_rate=0.0, grid=28, decoy_rate=0.5, seed=seed)
    rng = random.Random(seed)
    out = []
    for row in rows:
        closeups = len(row["images"]) - 1
        if closeups < 1:
            continue
        finding = rng.choice(parse_examine(_text(row["completion"][0]),
                                           region_count=closeups).findings)
        prompt = [dict(m) for m in row["prompt"]]
        content = list(prompt[-1]["content"])
        assert content[-1]["text"] == EXAMINE_INSTRUCTION
        content[-1] = {"type": "text", "text": QUESTION.format(k=finding.region)}
        prompt[-1] = dict(prompt[-1], content=content)
        answer = "yes" if finding.points_to == "ai-generated" else "no"
        out.append({"prompt": prompt, "images": row["images"],
                    "completion": [{"role": "assistant",
                                    "content": [{"type": "text", "text": answer}]}]})
    return out


def auc_of(model, processor, rows: list[dict]) -> tuple[float, float]:
    """(AUC, accuracy) of logit(yes) - logit(no) against the rows' answers."""
    yes, no = (processor.tokenizer.encode(word)[0] for word in ("yes", "no"))
    scores = []
    model.eval()
    for row in rows:
        text = processor.apply_chat_template(row["prompt"], tokenize=False,
                                             add_generation_prompt=True)
        inputs = processor(text=[text], images=row["images"], return_tensors="pt")
        with torch.no_grad():
            logits = model(**inputs).logits[0, -1]
        scores.append((_text(row["completion"][0]) == "yes", (logits[yes] - logits[no]).item()))
    pos = [s for y, s in scores if y]
    neg = [s for y, s in scores if not y]
    auc = sum((a > b) + 0.5 * (a == b) for a in pos for b in neg) / (len(pos) * len(neg))
    return auc, sum((s > 0) == y for y, s in scores) / len(scores)


def main() -> None:
    from transformers import AutoModelForImageTextToText, AutoProcessor
    from trl import SFTConfig, SFTTrainer

    start, train, val_path, out = (Path(a) for a in sys.argv[1:5])
    steps = int(sys.argv[5])
    processor = AutoProcessor.from_pretrained(start)
    model = AutoModelForImageTextToText.from_pretrained(start, dtype=torch.float32)
    val = question_rows(start, val_path, 50, 7)
    print("before: held-out AUC, accuracy", auc_of(model, processor, val), flush=True)
    rows = question_rows(start, train, 2000, 11)
    print(f"{len(rows)} training rows, "
          f"{sum(_text(r['completion'][0]) == 'yes' for r in rows)} answered yes", flush=True)
    for name, param in model.named_parameters():
        if ".visual." in f".{name}" and "merger" not in name:
            param.requires_grad_(False)
    config = SFTConfig(output_dir=str(out), max_steps=steps, learning_rate=3e-4,
                       per_device_train_batch_size=4, logging_steps=20, save_strategy="no",
                       report_to=[], use_cpu=True, disable_tqdm=True,
                       lr_scheduler_type="cosine", warmup_steps=10, seed=0)
    trainer = SFTTrainer(model=model, args=config, train_dataset=to_dataset(rows),
                         processing_class=processor)
    trainer.train()
    print("losses", [round(h["loss"], 3) for h in trainer.state.log_history if "loss" in h])
    print("after: held-out AUC, accuracy", auc_of(model, processor, val), flush=True)
    trainer.save_model(str(out))
    processor.save_pretrained(out)


if __name__ == "__main__":
    main()
