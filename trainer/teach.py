"""Teach a (tiny) model exact answers, so tests and demos run on genuine model output.

``teach`` overfits a model on a handful of (conversation, answer) pairs until greedy decoding
reproduces every answer token for token. It is the small, deterministic cousin of SFT: full
fine-tuning in fp32 with AdamW, loss on the answer tokens only (the answer followed by
``<|im_end|>``), one sample per step in a fixed cycle. With the tiny models of ``trainer.tiny``
a ~100-token answer is learnt in well under a hundred steps on a CPU.

It is not a way to train a detector: there is no data split, no regularisation, no evaluation.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHECK_EVERY = 25  # steps between two "does greedy decoding reproduce every target?" checks
# Linear learning-rate warmup. Without it, at lr 3e-3 two samples that differ only by a busy image
# (e.g. two noise images) often stall at a 50/50 guess on the first answer token; with it they
# are learnt in 50-75 steps, and a single sample still takes ~50.
WARMUP_STEPS = 25


@dataclass
class TeachSample:
    """One conversation and the assistant answer to learn for it.

    ``messages`` are chat messages in the processor's format (system/user turns, possibly earlier
    assistant turns), images given as ``{"type": "image", "image": PIL.Image}`` parts. ``target``
    is the next assistant answer, verbatim.
    """

    messages: list[dict[str, Any]]
    target: str


@dataclass
class TeachReport:
    """What ``teach`` did. ``exact``: greedy decoding reproduced every target at the end."""

    steps: int
    final_loss: float
    exact: bool
    seconds: float
    out_dir: Path
    samples: int = 0
    losses: list[float] = field(default_factory=list, repr=False)
    not_reproduced: list[int] = field(default_factory=list)  # indices of samples still wrong


@dataclass
class _Encoded:
    inputs: dict[str, Any]  # everything the model's forward takes (pixels, grids, mm types, ...)
    labels: Any  # input_ids with everything but the answer tokens set to -100
    prompt: dict[str, Any]  # the generation-prompt encoding, for the exactness check
    answer_ids: list[int]  # target tokens + <|im_end|>


class TeachError(RuntimeError):
    """The samples cannot be taught as given (e.g. the template does not extend the prompt)."""


def _encode(processor, sample: TeachSample, im_end_id: int) -> _Encoded:
    tok = processor.tokenizer
    prompt = processor.apply_chat_template(
        sample.messages,
        tokenize=True,
        add_generation_prompt=True,
        return_dict=True,
        return_tensors="pt",
    )
    answer_turn = {"role": "assistant", "content": [{"type": "text", "text": sample.target}]}
    full = processor.apply_chat_template(
        [*sample.messages, answer_turn],
        tokenize=True,
        add_generation_prompt=False,
        return_dict=True,
        return_tensors="pt",
    )
    answer_ids = [*tok.encode(sample.target, add_special_tokens=False), im_end_id]
    n_prompt = prompt["input_ids"].shape[1]
    ids = full["input_ids"][0].tolist()
    if ids[:n_prompt] != prompt["input_ids"][0].tolist():
        raise TeachError(
            "the chat template does not extend the generation prompt with the answer; "
            "answer tokens cannot be located"
        )
    if ids[n_prompt : n_prompt + len(answer_ids)] != answer_ids:
        raise TeachError(
            "the answer tokenizes differently inside the conversation than on its own "
            f"(target starts {sample.target[:40]!r}); teach cannot make generation reproduce it"
        )
    labels = full["input_ids"].clone()
    labels[:] = -100
    labels[0, n_prompt : n_prompt + len(answer_ids)] = full["input_ids"][0, n_prompt:][
        : len(answer_ids)
    ]
    return _Encoded(inputs=dict(full), labels=labels, prompt=dict(prompt), answer_ids=answer_ids)


def _reproduces(model, enc: _Encoded, pad_id: int | None) -> bool:
    import torch

    with torch.no_grad():
        out = model.generate(
            **enc.prompt,
            max_new_tokens=len(enc.answer_ids),
            do_sample=False,
            num_beams=1,
            pad_token_id=pad_id,
        )
    generated = out[0, enc.prompt["input_ids"].shape[1] :].tolist()
    return generated == enc.answer_ids


def _check_all(model, encoded: list[_Encoded], pad_id: int | None) -> list[int]:
    """Indices of samples whose target greedy decoding does not reproduce."""
    was_training = model.training
    model.eval()
    try:
        return [i for i, enc in enumerate(encoded) if not _reproduces(model, enc, pad_id)]
    finally:
        model.train(was_training)


def _save(model, processor, model_dir: Path, out_dir: Path, note: str) -> None:
    """Save model + processor into ``out_dir`` without writing over files that are still mapped.

    Everything is written to a temporary folder next to ``out_dir`` and then moved in file by
    file (``os.replace``), so overwriting ``model_dir`` itself is safe.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".teach-", dir=out_dir.parent))
    try:
        model.save_pretrained(tmp)
        processor.save_pretrained(tmp)
        card = model_dir / "README.md"
        if card.is_file():
            text = card.read_text(encoding="utf-8")
            (tmp / "README.md").write_text(text.rstrip("\n") + "\n\n" + note + "\n", "utf-8")
        for stale in out_dir.glob("*.safetensors"):  # a shard layout may have changed
            if not (tmp / stale.name).exists():
                stale.unlink()
        for path in tmp.iterdir():
            os.replace(path, out_dir / path.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def teach(
    model_dir: Path,
    samples: list[TeachSample],
    out_dir: Path | None = None,
    steps: int = 150,
    lr: float = 3e-3,
    seed: int = 0,
    until_exact: bool = True,
) -> TeachReport:
    """Fine-tune the model in ``model_dir`` until it answers each sample with its target.

    Loads model and processor from ``model_dir`` in fp32, runs at most ``steps`` AdamW steps (one
    sample per step, cycling through ``samples`` in order; linear warmup over ``WARMUP_STEPS``
    then constant ``lr``), loss on the answer tokens only. With
    ``until_exact`` it checks every ``CHECK_EVERY`` steps (and once a full cycle has been seen)
    whether greedy decoding reproduces every target exactly and stops as soon as it does. Saves
    model + processor to ``out_dir`` (default: overwrite ``model_dir``). Deterministic for a given
    seed on a given machine (same torch build and thread count).
    """
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    if not samples:
        raise ValueError("teach needs at least one sample")
    if steps < 0:
        raise ValueError("steps must be >= 0")
    model_dir = Path(model_dir)
    out_dir = Path(out_dir) if out_dir is not None else model_dir
    started = time.perf_counter()

    torch.manual_seed(seed)
    processor = AutoProcessor.from_pretrained(model_dir)
    model = AutoModelForImageTextToText.from_pretrained(model_dir, dtype=torch.float32)
    tok = processor.tokenizer
    im_end_id = tok.convert_tokens_to_ids("<|im_end|>")
    if im_end_id is None or im_end_id == tok.unk_token_id:
        raise TeachError("the tokenizer has no <|im_end|> token")
    pad_id = tok.pad_token_id
    encoded = [_encode(processor, s, im_end_id) for s in samples]

    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / WARMUP_STEPS)
    )
    losses: list[float] = []
    not_reproduced: list[int] | None = None
    step = 0
    while step < steps:
        enc = encoded[step % len(encoded)]
        out = model(**enc.inputs, labels=enc.labels)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        schedule.step()
        losses.append(float(out.loss.detach()))
        step += 1
        if until_exact and step % CHECK_EVERY == 0 and step >= len(encoded):
            not_reproduced = _check_all(model, encoded, pad_id)
            if not not_reproduced:
                break
            not_reproduced = None  # stale once training continues

    model.eval()
    if not_reproduced is None:
        not_reproduced = _check_all(model, encoded, pad_id)
    exact = not not_reproduced
    note = (
        f"Taught with `trainer.teach` on {len(samples)} fixed answer(s): {step} steps, "
        f"lr {lr}, seed {seed}; exact: {exact}. It recites those answers; it is still not a "
        "detector."
    )
    _save(model, processor, model_dir, out_dir, note)
    return TeachReport(
        steps=step,
        final_loss=losses[-1] if losses else float("nan"),
        exact=exact,
        seconds=time.perf_counter() - started,
        out_dir=out_dir,
        samples=len(samples),
        losses=losses,
        not_reproduced=list(not_reproduced),
    )
