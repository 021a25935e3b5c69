"""benchmarks/where_answers.py --prompt: Query 1 begun with a forced explanation (decision 0004,
E52) must stop at a token boundary of the answers SFT trained on, or the model continues from a
token it never saw (the first version cut after ``<regions>`` and the answers came out garbled)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_a_begun_query1_answer_ends_with_the_trained_tokens_before_the_first_box(tmp_path):
    from transformers import AutoProcessor

    from benchmarks.where_answers import BOX_OPENING, _query1_messages, answered_boxes
    from trainer.conversations import load_record_image, locate_sample
    from trainer.records import read_records
    from trainer.rows import model_space
    from trainer.synth import generate
    from trainer.tiny import build_tiny_model

    model = build_tiny_model(tmp_path / "model", seed=0)
    path = generate(tmp_path / "data", count=2, seed=0)
    processor = AutoProcessor.from_pretrained(model)
    space = model_space(model)
    for record in read_records(path):
        image = load_record_image(record, path)
        prompt = processor.apply_chat_template(
            _query1_messages(record, space, image, record.explanation), tokenize=True,
            return_dict=True, continue_final_message=True)["input_ids"]
        prompt = list(prompt[0]) if hasattr(prompt[0], "__len__") else list(prompt)
        _, target = locate_sample(record, space, None, image=image, grid=28)
        trained = processor.tokenizer(target)["input_ids"]
        begun = target[: target.index(BOX_OPENING) + len(BOX_OPENING)]
        k = len(processor.tokenizer(begun)["input_ids"])
        assert prompt[-k:] == trained[:k]
        assert processor.tokenizer.decode(trained[k]).strip().isdigit()  # the first corner next
    rows = answered_boxes(model, path, 2, prompt="query1-truth", max_new_tokens=4)
    assert [r["answer"][: len(BOX_OPENING)] for r in rows] == [BOX_OPENING] * 2
