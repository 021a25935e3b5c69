"""Training end to end on a tiny model: SFT (full, LoRA, frozen parts), GRPO, resume, settings, CLI.

Everything runs on a tiny random Qwen2.5-VL and 8 synthetic records; the expensive runs (SFT,
LoRA SFT, GRPO) are module fixtures shared by the tests that inspect their results.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file, save_file

from tests.conftest import folder_weights
from trainer.config import load_settings
from trainer.grpo import GRPOSettings, _parts, reward_plan, run_grpo
from trainer.record_images import pixels
from trainer.rewards import staged_rewards
from trainer.sft import SFTSettings, run_sft

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    from trainer.synth import generate
    from trainer.tiny import build_tiny_model

    root = tmp_path_factory.mktemp("training")
    base = build_tiny_model(root / "base", seed=0)
    records = generate(root / "data", count=8, seed=0)
    return SimpleNamespace(root=root, base=base, records=records)


def _run_sft(print_fn=None, **kwargs):
    lines: list[str] = []
    result = run_sft(SFTSettings(**kwargs), print_fn=print_fn or lines.append)
    return result, lines


@pytest.fixture(scope="module")
def sft_full(workspace):
    """Full fine-tuning, vision tower and projector trained (the defaults): 30 steps."""
    return _run_sft(
        model=workspace.base, train=workspace.records, output_dir=workspace.root / "sft-full",
        method="full", learning_rate=3e-3, lr_scheduler="constant", batch_size=2,
        max_steps=30, logging_steps=5, save_steps=1000,
    )


@pytest.fixture(scope="module")
def sft_lora(workspace):
    """LoRA SFT run the way a user types it: relative paths, from the data's parent folder."""
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(workspace.root)
        result, lines = _run_sft(
            model=Path("base"), train=Path("data/records.jsonl"), output_dir=Path("sft-lora"),
            method="lora", learning_rate=1e-2, batch_size=2, max_steps=4, logging_steps=2,
            save_steps=1000,
        )
    return result, workspace.root / "sft-lora"


def _grpo(workspace, model, out, print_fn=None, **kwargs):
    lines: list[str] = []
    settings = GRPOSettings(
        model=model, train=workspace.records, output_dir=out, num_generations=2,
        max_completion_length=48, logging_steps=1, **kwargs,
    )
    return run_grpo(settings, print_fn=print_fn or lines.append), lines


@pytest.fixture(scope="module")
def grpo_both(workspace, sft_full):
    return _grpo(workspace, sft_full[0].output_dir, workspace.root / "grpo-both",
                 method="full", segments="both", steps_locate=1, steps_examine=1)


def _part_of(key: str) -> str:
    """Checkpoint key → vision / projector / language (keys as save_pretrained writes them)."""
    if key.startswith("visual.merger."):
        return "projector"
    if key.startswith("visual."):
        return "vision"
    return "language"


def _changed_by_part(before: dict, after: dict) -> dict[str, list[bool]]:
    assert set(before) == set(after)
    out: dict[str, list[bool]] = {"vision": [], "projector": [], "language": []}
    for key in before:
        out[_part_of(key)].append(not torch.equal(before[key], after[key]))
    assert all(out.values()), "every part has tensors"
    return out


def _completion_loss(model, processor, row) -> float:
    """Cross-entropy on the answer tokens of one prompt-completion row."""
    prompt = processor.apply_chat_template(row["prompt"], tokenize=False,
                                           add_generation_prompt=True)
    full = processor.apply_chat_template(row["prompt"] + row["completion"], tokenize=False)
    assert full.startswith(prompt)
    images = [pixels(image) for image in row["images"]]  # a whole image may be its file
    n_prompt = processor(text=[prompt], images=images, return_tensors="pt")["input_ids"].shape[1]
    inputs = processor(text=[full], images=images, return_tensors="pt")
    labels = inputs["input_ids"].clone()
    labels[:, :n_prompt] = -100
    with torch.no_grad():
        return float(model(**inputs, labels=labels).loss)


# --------------------------------------------------------------------------------------------
# SFT


def test_sft_loss_falls_and_the_result_loads(sft_full, workspace):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from inspector.core.closeups import CloseupPolicy
    from trainer.records import read_records
    from trainer.rows import model_space, sft_rows

    result, lines = sft_full
    assert result.steps == 30
    assert result.rows == 16  # a Query-1 and a Query-2 conversation per record
    assert len(result.losses) == 6  # one per 5 steps
    assert result.losses[-1] < 0.7 * result.losses[0], result.losses
    progress = [line for line in lines if "sft step" in line]
    assert len(progress) == 6 and "sft step 30/30" in progress[-1] and "loss" in progress[-1]

    out = result.output_dir
    info = json.loads((out / "training_info.json").read_text(encoding="utf-8"))
    assert info["stage"] == "sft" and info["steps"] == 30
    assert info["losses"] == pytest.approx(result.losses)
    assert info["settings"]["method"] == "full" and info["rows"] == 16

    trained = AutoModelForImageTextToText.from_pretrained(out, local_files_only=True).eval()
    base = AutoModelForImageTextToText.from_pretrained(workspace.base,
                                                       local_files_only=True).eval()
    processor = AutoProcessor.from_pretrained(out, local_files_only=True)
    # the saved folder holds the trained weights: it answers its training data better
    records = read_records(workspace.records)
    row = sft_rows(records[:1], model_space(out), CloseupPolicy(),
                   dataset_path=workspace.records, queries="locate")[0]
    assert _completion_loss(trained, processor, row) < 0.8 * _completion_loss(base, processor, row)


@pytest.mark.parametrize(("train_vision", "train_projector"), [(False, True), (True, False)])
def test_frozen_parts_stay_byte_identical(workspace, train_vision, train_projector):
    result, _ = _run_sft(
        model=workspace.base, train=workspace.records,
        output_dir=workspace.root / f"sft-frozen-{train_vision}-{train_projector}",
        method="full", train_vision=train_vision, train_projector=train_projector,
        learning_rate=3e-3, batch_size=2, max_steps=3, logging_steps=1, save_steps=1000,
    )
    assert (result.trainable["vision"] > 0) == train_vision
    assert (result.trainable["projector"] > 0) == train_projector
    assert result.trainable["language"] > 0
    changed = _changed_by_part(load_file(workspace.base / "model.safetensors"),
                               load_file(result.output_dir / "model.safetensors"))
    assert any(changed["language"])
    for part, trained in (("vision", train_vision), ("projector", train_projector)):
        if trained:
            assert any(changed[part]), f"{part} was trained but did not change"
        else:
            assert not any(changed[part]), f"{part} was frozen but changed"


def test_sft_keeps_a_pointer_head_pointing_on_query_1_rows_only(workspace):
    from trainer.pointer_losses import PointerLosses

    pointer = PointerLosses(places=1.0, attend=1.0, attend_layer=1, read=10.0)
    result, lines = _run_sft(
        model=workspace.base, train=workspace.records, output_dir=workspace.root / "sft-pointer",
        method="full", learning_rate=3e-3, batch_size=4, max_steps=3, logging_steps=1,
        save_steps=1000, pointer_losses=pointer,
    )
    info = json.loads((result.output_dir / "training_info.json").read_text(encoding="utf-8"))
    # both queries' rows are in the batches; every step had Query-1 boxes to point at
    logged = info["pointer_losses"]
    assert set(logged) == {"place", "attend", "read"}
    assert all(len(v) == 3 and all(x > 0 for x in v) for v in logged.values())
    assert any("pointer attention" in line for line in lines)
    saved = load_file(result.output_dir / "model.safetensors")
    assert set(saved) == set(load_file(workspace.base / "model.safetensors"))
    assert "eager" not in (result.output_dir / "config.json").read_text(encoding="utf-8")
    with pytest.raises(ValueError, match="full model"):
        SFTSettings(model=workspace.base, train=workspace.records, output_dir=workspace.root / "x",
                    method="lora", pointer_losses=pointer).validate()


def test_sft_weighs_the_decisive_tokens_beside_the_pointer_losses(workspace):
    """The decisive-token loss is logged per step and composes with the pointer losses."""
    from trainer.pointer_losses import PointerLosses

    result, lines = _run_sft(
        model=workspace.base, train=workspace.records, output_dir=workspace.root / "sft-decisive",
        method="full", learning_rate=3e-3, batch_size=4, max_steps=3, logging_steps=1,
        save_steps=1000, pointer_losses=PointerLosses(places=1.0), decisive_weight=2.0,
    )
    info = json.loads((result.output_dir / "training_info.json").read_text(encoding="utf-8"))
    assert len(info["pointer_losses"]["place"]) == 3
    decisive = info["decisive_losses"]
    # every batch has verdicts and findings; a random model is far from sure of any of them
    assert len(decisive) == 3 and all(value > 0.5 for value in decisive)
    assert info["settings"]["decisive_weight"] == 2.0
    assert any(line.startswith("  decisive-token loss:") for line in lines)
    assert set(load_file(result.output_dir / "model.safetensors")) == set(
        load_file(workspace.base / "model.safetensors"))


def test_default_sft_trains_vision_and_projector_too(sft_full, workspace):
    result, _ = sft_full
    assert all(n > 0 for n in result.trainable.values())
    changed = _changed_by_part(load_file(workspace.base / "model.safetensors"),
                               load_file(result.output_dir / "model.safetensors"))
    assert any(changed["vision"]) and any(changed["projector"]) and any(changed["language"])


def test_lora_sft_writes_a_peft_adapter(sft_lora, sft_full, workspace):
    result, adapter = sft_lora
    assert result.steps == 4
    assert (adapter / "adapter_config.json").is_file()
    assert (adapter / "adapter_model.safetensors").is_file()
    assert (adapter / "training_info.json").is_file()
    assert not (adapter / "model.safetensors").exists()  # an adapter, not a copy of the model
    config = json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8"))
    assert config["peft_type"] == "LORA"
    # the base was given as a relative path: the adapter must still find it from anywhere
    recorded = Path(config["base_model_name_or_path"])
    assert recorded.is_absolute() and recorded == workspace.base.resolve()

    # only the adapter is trained, not the whole language model
    assert 0 < result.trainable["language"] < sft_full[0].trainable["language"] / 2
    weights = load_file(adapter / "adapter_model.safetensors")
    lora_b = {k: v for k, v in weights.items() if "lora_B" in k}
    assert any("language_model" in k for k in lora_b)
    assert any(".visual.blocks." in k for k in lora_b)  # vision trained by default: LoRA there
    assert any(".visual.merger." in k and "lora" not in k for k in weights)  # projector in full
    # LoRA B starts at zero: the adapter only does something if training moved it
    assert all(float(v.abs().max()) > 0 for v in lora_b.values())


def test_lora_adapter_runs_in_the_app(sft_lora, workspace):
    from PIL import Image

    from inspector.core.backends.base import GenerationSettings
    from inspector.core.backends.local import LocalBackend, LocalModelSpec
    from inspector.core.closeups import CloseupPolicy
    from inspector.core.pipeline import Pipeline, PipelineOptions
    from inspector.core.protocol import locate_messages

    _, adapter = sft_lora
    settings = GenerationSettings(max_new_tokens_locate=16, max_new_tokens_examine=16)
    plain = LocalBackend(LocalModelSpec(source=str(workspace.base), device="cpu"), settings)
    alone = LocalBackend(LocalModelSpec(source=str(adapter), device="cpu"), settings)
    over = LocalBackend(
        LocalModelSpec(source=str(workspace.base), adapter=str(adapter), device="cpu"), settings
    )
    image_path = workspace.root / "data" / "images" / "00000.png"

    analyses = {}
    for name, backend in (("alone", alone), ("over", over)):
        analysis = Pipeline(backend, PipelineOptions(policy=CloseupPolicy())).analyze(image_path)
        assert analysis.query1.generated_tokens > 0
        analyses[name] = analysis
    # Either way the provenance names the base and the adapter, each with its own weights hash
    # (an investigator's report must tell two adapters over one base apart).
    for analysis in analyses.values():
        assert Path(analysis.model.model_id).resolve() == Path(workspace.base).resolve()
        assert Path(analysis.model.adapter_id).resolve() == Path(adapter).resolve()
        assert analysis.model.weights_sha256 == plain.provenance.weights_sha256
        assert analysis.model.adapter_sha256 and len(analysis.model.adapter_sha256) == 64
    assert analyses["alone"].model.adapter_sha256 == analyses["over"].model.adapter_sha256
    assert plain.provenance.adapter_sha256 is None
    for analysis in analyses.values():
        assert analysis.model.model_type == "qwen2_5_vl"

    # the adapter changes what the model computes; both ways of loading it agree
    image = Image.open(image_path).convert("RGB")
    inputs = plain.processor.apply_chat_template(
        locate_messages(image, plain.coordinate_space.name), tokenize=True,
        add_generation_prompt=True, return_dict=True, return_tensors="pt",
    )
    with torch.no_grad():
        logits = {name: b.model(**inputs).logits
                  for name, b in (("plain", plain), ("alone", alone), ("over", over))}
    assert float((logits["alone"] - logits["plain"]).abs().max()) > 1e-3
    assert torch.allclose(logits["alone"], logits["over"], atol=1e-6)


# --------------------------------------------------------------------------------------------
# GRPO


def test_grpo_runs_both_segments_with_lte_rewards(grpo_both, sft_full):
    from transformers import AutoModelForImageTextToText

    result, lines = grpo_both
    out = result.output_dir
    assert [p["name"] for p in result.parts] == ["segment-1-locate", "segment-2-examine"]
    assert [p["query"] for p in result.parts] == ["locate", "examine"]
    assert result.parts[0]["rewards"] == {"format_reward_locate": 1.0, "iou_reward": 1.0}
    # examine: format has weight 0 by default, so it is not computed at all
    assert result.parts[1]["rewards"] == {"verdict_reward": 1.0, "bleu2_reward": 1.0}
    for part in result.parts:
        assert part["steps"] == 1
        assert len(part["reward_mean"]) == 1 and 0.0 <= part["reward_mean"][0] <= 2.0
        folder = out / part["name"]
        info = json.loads((folder / "training_info.json").read_text(encoding="utf-8"))
        assert info["part"]["name"] == part["name"]
        assert (folder / "model.safetensors").is_file()
        assert not list(folder.glob("checkpoint-*"))  # dropped once the part finished
    assert any("GRPO segment-1-locate (format_reward_locate x1, iou_reward x1)" in line
               for line in lines)
    assert any("grpo segment-2-examine step 1/1" in line for line in lines)

    # the final model is the last segment's, in output_dir, and loads
    assert (out / "model.safetensors").read_bytes() == (
        out / "segment-2-examine" / "model.safetensors").read_bytes()
    summary = json.loads((out / "training_info.json").read_text(encoding="utf-8"))
    assert [p["name"] for p in summary["parts"]] == ["segment-1-locate", "segment-2-examine"]
    model = AutoModelForImageTextToText.from_pretrained(out, local_files_only=True)
    assert model.config.model_type == "qwen2_5_vl"


def test_staged_schedule_parts_and_reward_weights(workspace, tmp_path):
    from trainer import rewards

    settings = GRPOSettings(model=workspace.base, train=workspace.records, output_dir=tmp_path,
                            schedule="staged", steps_locate=3, steps_examine=3)
    parts = _parts(settings)
    assert parts == [
        ("segment-1-locate-alpha", "locate", "alpha", 1),
        ("segment-1-locate-beta", "locate", "beta", 1),
        ("segment-1-locate-gamma", "locate", "gamma", 1),
        ("segment-2-examine-alpha", "examine", "alpha", 1),
        ("segment-2-examine-beta", "examine", "beta", 1),
        ("segment-2-examine-gamma", "examine", "gamma", 1),
    ]
    for _, query, stage, _ in parts:
        fns, weights = reward_plan(settings, query, stage)
        want_fns, want_weights = staged_rewards(stage, query)
        names = [f.__name__ for f in fns]
        want_names = [f.__name__ for f in want_fns]
        if query == "examine":  # BLEU-2 added with its configured weight
            assert names == want_names + ["bleu2_reward"]
            assert weights == want_weights + [1.0]
        else:
            assert names == want_names and weights == want_weights
    # FakeXplainer's numbers: alpha weighs the format double, gamma has r_base = -1
    assert reward_plan(settings, "locate", "alpha")[1] == [2.0, 1.0]
    gamma_fns, gamma_weights = reward_plan(settings, "locate", "gamma")
    assert gamma_fns[-1] is rewards.base_reward and gamma_weights[-1] == -1.0

    # uneven steps: the first stages get the remainder; a stage with 0 steps is skipped
    settings.steps_locate, settings.segments = 4, "locate"
    assert [p[3] for p in _parts(settings)] == [2, 1, 1]
    settings.steps_locate = 2
    assert [p[0] for p in _parts(settings)] == ["segment-1-locate-alpha", "segment-1-locate-beta"]
    # no BLEU weight: no BLEU term; recall IoU replaces LTE's IoU
    settings.examine_weights = {"format": 0.0, "verdict": 1.0, "bleu": 0.0}
    names = [f.__name__ for f in reward_plan(settings, "examine", "beta")[0]]
    assert "bleu2_reward" not in names
    settings.iou = "recall"
    assert reward_plan(settings, "locate", "beta")[0][1] is rewards.recall_iou_reward


def test_fixed_reward_plan_follows_weights(workspace, tmp_path):
    from trainer import rewards

    settings = GRPOSettings(model=workspace.base, train=workspace.records, output_dir=tmp_path,
                            locate_weights={"format": 0.5, "iou": 2},
                            examine_weights={"format": 1, "verdict": 2, "bleu": 0})
    assert reward_plan(settings, "locate", None) == (
        [rewards.format_reward_locate, rewards.iou_reward], [0.5, 2.0])
    assert reward_plan(settings, "examine", None) == (
        [rewards.format_reward_examine, rewards.verdict_reward], [1.0, 2.0])
    settings.locate_weights = {"format": 0, "iou": 0}
    with pytest.raises(ValueError, match="every reward weight is 0"):
        reward_plan(settings, "locate", None)
    # LTE's "dual verdict reward" ablation: segment 1 also rewards the Query-1 verdict
    settings.locate_weights = {"format": 1, "iou": 1, "verdict": 1}
    assert reward_plan(settings, "locate", None) == (
        [rewards.format_reward_locate, rewards.iou_reward, rewards.locate_verdict_reward],
        [1.0, 1.0, 1.0])
    settings.schedule = "staged"
    fns, weights = reward_plan(settings, "locate", "beta")
    assert fns[-1] is rewards.locate_verdict_reward and weights[-1] == 1.0
    settings.locate_weights = {"format": 1, "bleu": 1}
    with pytest.raises(ValueError, match="unknown reward 'bleu' .known: format, iou, verdict"):
        settings.validate()


def test_grpo_dual_verdict_reward_trains_segment_1(workspace, tmp_path):
    """A real GRPO step with the Query-1 verdict rewarded: TRL calls it and logs its value."""
    result, lines = _grpo(workspace, workspace.base, tmp_path / "dual", method="full",
                          segments="locate", steps_locate=1,
                          locate_weights={"format": 1.0, "iou": 1.0, "verdict": 1.0})
    part = result.parts[0]
    assert part["rewards"] == {"format_reward_locate": 1.0, "iou_reward": 1.0,
                               "locate_verdict_reward": 1.0}
    assert part["steps"] == 1 and 0.0 <= part["reward_mean"][0] <= 3.0
    assert any("locate_verdict_reward x1" in line for line in lines)


def test_grpo_findings_reward_trains_segment_2(workspace, tmp_path):
    """A real GRPO step with the findings reward: TRL passes the finding_truth column to it."""
    result, lines = _grpo(workspace, workspace.base, tmp_path / "findings", method="full",
                          segments="examine", steps_examine=1,
                          examine_weights={"verdict": 1.0, "findings": 1.0})
    part = result.parts[0]
    assert part["rewards"] == {"verdict_reward": 1.0, "findings_reward": 1.0}
    assert part["steps"] == 1 and 0.0 <= part["reward_mean"][0] <= 2.0
    assert any("findings_reward x1" in line for line in lines)


def test_grpo_segment_2_can_hold_the_first_look(workspace, tmp_path):
    """Segment 2 with Query-1 prompts among its own: TRL samples both and each answer gets its
    query's rewards (the others return None for it)."""
    result, lines = _grpo(workspace, workspace.base, tmp_path / "hold", method="full",
                          segments="examine", steps_examine=2, hold_first_look=1.0,
                          examine_weights={"verdict": 1.0, "findings": 1.0})
    part = result.parts[0]
    assert part["rewards"] == {"verdict_reward": 1.0, "findings_reward": 1.0,
                               "format_reward_locate": 1.0, "iou_reward": 1.0}
    assert part["steps"] == 2
    assert any("format_reward_locate x1" in line for line in lines)
    # with every record's Query-1 row in the dataset, 2 steps of 1 prompt (seeded) sampled
    # one Query-1 and one Query-2 prompt: each step logged only its own query's rewards
    means = part["reward_means"]
    assert len(means["iou_reward"]) == len(means["verdict_reward"]) == 2
    for step in range(2):
        first = means["format_reward_locate"][step] is not None
        second = means["verdict_reward"][step] is not None
        assert first != second


def test_grpo_resume_skips_finished_segments(workspace, sft_full):
    out = workspace.root / "grpo-resume"
    start = sft_full[0].output_dir
    first, _ = _grpo(workspace, start, out, method="lora", segments="locate", steps_locate=1)
    assert [p["name"] for p in first.parts] == ["segment-1-locate"]
    seg1 = out / "segment-1-locate"
    seg1_info = (seg1 / "training_info.json").read_bytes()

    # mark segment 1's adapter: the resumed run must continue from it, not from a fresh LoRA
    weights = load_file(seg1 / "adapter_model.safetensors")
    marked = {k: (torch.full_like(v, 0.02) if "lora_B" in k else v) for k, v in weights.items()}
    save_file(marked, seg1 / "adapter_model.safetensors", metadata={"format": "pt"})

    second, lines = _grpo(workspace, start, out, method="lora", segments="both", resume=True,
                          steps_locate=1, steps_examine=1)
    assert [p["name"] for p in second.parts] == ["segment-2-examine"]
    assert any(line.startswith("Resuming: 1 part(s) done") and str(seg1) in line
               for line in lines)
    assert not any("GRPO segment-1-locate" in line for line in lines)
    assert (seg1 / "training_info.json").read_bytes() == seg1_info  # not trained again

    seg2 = load_file(out / "segment-2-examine" / "adapter_model.safetensors")
    lora_b = [v for k, v in seg2.items() if "lora_B" in k]
    assert lora_b and all(torch.allclose(v, torch.full_like(v, 0.02), atol=1e-3) for v in lora_b)
    # the final adapter is segment 2's and still names the SFT model as its base
    config = json.loads((out / "adapter_config.json").read_text(encoding="utf-8"))
    assert Path(config["base_model_name_or_path"]) == start.resolve()
    assert (out / "adapter_model.safetensors").read_bytes() == (
        out / "segment-2-examine" / "adapter_model.safetensors").read_bytes()


def test_grpo_resume_retrains_a_segment_that_ran_without_its_predecessor(workspace, sft_full):
    """A segment-2 folder from an earlier examine-only run is not a finished prefix."""
    out = workspace.root / "grpo-out-of-order"
    start = sft_full[0].output_dir
    _grpo(workspace, start, out, method="full", segments="examine", steps_examine=1)
    result, lines = _grpo(workspace, start, out, method="full", segments="both", resume=True,
                          steps_locate=1, steps_examine=1)
    assert [p["name"] for p in result.parts] == ["segment-1-locate", "segment-2-examine"]
    assert not any(line.startswith("Resuming") for line in lines)


# --------------------------------------------------------------------------------------------
# Settings


def test_load_settings_from_toml_and_flags(tmp_path):
    folder = tmp_path / "configs"
    folder.mkdir()
    toml = folder / "sft.toml"
    absolute = tmp_path / "elsewhere" / "train.jsonl"
    toml.write_text(
        'model = "models/base"\n'
        f'train = "{absolute.as_posix()}"\n'
        'output_dir = "../runs/sft"\n'
        'method = "full"\n'
        "learning_rate = 2e-4\n"
        "epochs = 2\n"
        "train_vision = false\n"
        "max_length = 512\n"
        "extra = { max_grad_norm = 0.5 }\n",
        encoding="utf-8",
    )
    s = load_settings(SFTSettings, toml, {"learning_rate": 1e-3, "method": None,
                                          "val": Path("val.jsonl")})
    assert s.model == folder / "models/base"  # relative to the TOML's folder
    assert s.train == absolute
    assert s.output_dir == folder / "../runs/sft"
    assert s.method == "full"  # a flag that was not given does not override
    assert s.learning_rate == 1e-3  # a given flag wins
    assert s.epochs == 2.0 and isinstance(s.epochs, float)
    assert s.train_vision is False and s.train_projector is True  # default kept
    assert s.max_length == 512 and s.extra == {"max_grad_norm": 0.5}
    assert s.val == Path("val.jsonl")  # flags stay relative to the working directory

    g = tmp_path / "grpo.toml"
    g.write_text('model = "m"\ntrain = "t.jsonl"\noutput_dir = "o"\n'
                 'locate_weights = { format = 1, iou = 2.5 }\nsegments = "examine"\n',
                 encoding="utf-8")
    gs = load_settings(GRPOSettings, g, {})
    assert gs.locate_weights == {"format": 1, "iou": 2.5} and gs.segments == "examine"
    assert gs.model == tmp_path / "m"


def test_load_settings_errors_name_the_key_and_file(tmp_path):
    def write(text: str) -> Path:
        path = tmp_path / "bad.toml"
        path.write_text('model = "m"\ntrain = "t"\noutput_dir = "o"\n' + text, encoding="utf-8")
        return path

    path = write("learning_rte = 1e-5\n")
    with pytest.raises(ValueError, match="learning_rte") as info:
        load_settings(SFTSettings, path, {})
    assert str(path) in str(info.value) and "learning_rate" in str(info.value)  # lists known

    for text, key in (('lora_r = "16"\n', "lora_r"), ("train_vision = 1\n", "train_vision"),
                      ("batch_size = true\n", "batch_size"), ("method = 3\n", "method"),
                      ("learning_rate = false\n", "learning_rate")):
        with pytest.raises(ValueError, match=key) as info:
            load_settings(SFTSettings, write(text), {})
        assert str(tmp_path / "bad.toml") in str(info.value)

    bad_toml = tmp_path / "broken.toml"
    bad_toml.write_text("model = \n", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid TOML") as info:
        load_settings(SFTSettings, bad_toml, {})
    assert str(bad_toml) in str(info.value)

    with pytest.raises(ValueError, match="lora_r"):
        load_settings(SFTSettings, None, {"model": "m", "train": "t", "output_dir": "o",
                                          "lora_r": "8"})
    with pytest.raises(ValueError, match="unknown setting 'nope'"):
        load_settings(SFTSettings, None, {"model": "m", "train": "t", "output_dir": "o",
                                          "nope": 1})

    only = tmp_path / "only.toml"
    only.write_text('output_dir = "o"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="missing settings: model, train"):
        load_settings(SFTSettings, only, {})
    with pytest.raises(ValueError, match="missing settings: model, train, output_dir"):
        load_settings(GRPOSettings, None, {"method": "full"})


def test_settings_validate_with_clear_errors(workspace, tmp_path):
    common = dict(model=workspace.base, train=workspace.records, output_dir=tmp_path)
    SFTSettings(**common).validate()
    GRPOSettings(**common).validate()
    cases = [
        (SFTSettings(**common, quantization="4bit", method="full"), "QLoRA.*lora"),
        (SFTSettings(**common, method="adapter"), "method must be one of lora, full"),
        (SFTSettings(**common, batch_size=0), "batch_size must be at least 1"),
        (SFTSettings(**common, epochs=0), "epochs > 0 or max_steps > 0"),
        (SFTSettings(**{**common, "train": tmp_path / "missing.jsonl"}),
         "training records not found: .*missing.jsonl"),
        (SFTSettings(**common, val=tmp_path / "noval.jsonl"), "validation records not found"),
        (SFTSettings(**common, box_grid=-28), "box_grid must be 0 .* or a grid in pixels"),
        (SFTSettings(**common, own_first_look=True), "own_first_look .* give the impressions"),
        (SFTSettings(**common, truth_contexts=True), "truth_contexts .* needs own_first_look"),
        (SFTSettings(**common, decoy_rate=-0.1), "decoy_rate must be between 0 and 1"),
        (SFTSettings(**common, decisive_weight=-1), "decisive_weight must be >= 0"),
        (GRPOSettings(**common, quantization="4bit", method="full"), "QLoRA"),
        (GRPOSettings(**common, locate_weights={"format": 1, "bleu": 1}),
         "locate_weights: unknown reward 'bleu'"),
        (GRPOSettings(**common, examine_weights={"iou": 1}), "examine_weights: unknown reward"),
        (GRPOSettings(**common, num_generations=1), "num_generations must be at least 2"),
        (GRPOSettings(**common, segments="all"), "segments must be one of both, locate, examine"),
        (GRPOSettings(**common, steps_locate=-1), "steps_locate must be >= 0"),
        (GRPOSettings(**{**common, "train": tmp_path / "missing.jsonl"}),
         "training records not found"),
    ]
    for settings, message in cases:
        with pytest.raises(ValueError, match=message):
            settings.validate()
    with pytest.raises(ValueError, match="nothing to train"):
        run_grpo(GRPOSettings(**common, steps_locate=0, steps_examine=0), print_fn=lambda s: None)


# --------------------------------------------------------------------------------------------
# Command line


def test_cli_sft_from_config_with_flags(workspace, capfd):
    """`lte-train sft` from a config file and flags; it trains in a process of its own with the
    allocator that keeps its memory, as the recipe's steps do (its output reaches the terminal:
    captured here at the file descriptor)."""
    from trainer.cli import main

    folder = workspace.root / "cli"
    folder.mkdir()
    toml = folder / "sft.toml"
    toml.write_text(
        'model = "../base"\ntrain = "../data/records.jsonl"\noutput_dir = "out"\n'
        'method = "full"\nqueries = "locate"\nbatch_size = 2\nlogging_steps = 1\n'
        "max_steps = 50\nlearning_rate = 1e-4\n",
        encoding="utf-8",
    )
    code = main(["sft", "--config", str(toml), "--max-steps", "2", "--learning-rate", "1e-3",
                 "--train-vision", "false"])
    captured = capfd.readouterr()
    assert code == 0, captured.err
    out = folder / "out"
    assert "SFT done" in captured.out and "2 steps on 8 conversations" in captured.out
    assert f"saved to {out}" in captured.out
    assert "sft step 2/2" in captured.out
    info = json.loads((out / "training_info.json").read_text(encoding="utf-8"))
    assert info["steps"] == 2
    assert info["settings"]["learning_rate"] == 1e-3  # flag over file
    assert info["settings"]["train_vision"] is False
    assert info["settings"]["queries"] == "locate"  # from the file
    assert info["allocator"] in ("tcmalloc", "glibc, kept")  # not this process's glibc as is
    assert (out / "model.safetensors").is_file()


def test_cli_help_and_usage_errors(workspace, capsys):
    from trainer.cli import main

    assert main(["grpo", "--help"]) == 0
    text = capsys.readouterr().out
    assert "--steps-locate" in text and "--schedule" in text and "--config" in text

    code = main(["sft", "--model", str(workspace.base)])
    err = capsys.readouterr().err
    assert code != 0
    assert "missing settings" in err and "train" in err and "output_dir" in err

    code = main(["sft", "--model", str(workspace.base), "--train", str(workspace.records),
                 "--output-dir", str(workspace.root / "never"), "--train-vision", "maybe"])
    assert code == 2 and "expected true or false" in capsys.readouterr().err
    code = main(["grpo", "--model", str(workspace.base), "--train", str(workspace.records),
                 "--output-dir", str(workspace.root / "never"), "--locate-weights", "fmt=1"])
    assert code == 1 and "unknown reward 'fmt'" in capsys.readouterr().err
    assert not (workspace.root / "never").exists()



def test_vision_warmup_phases_and_the_result_fine_tunes(workspace):
    # The warm-up (the demo's stand-in for a pre-trained vision encoder): phase 1 changes only
    # the tower and projector; phase 2 (the one-word question) also trains the language model;
    # SFT starts from the result.
    from trainer.warmup import WarmupSettings, run_warmup

    lines: list[str] = []
    see_only = run_warmup(WarmupSettings(
        model=workspace.base, train=workspace.records, output_dir=workspace.root / "warm-see",
        epochs=1, batch_size=4, read_steps=0,
    ), print_fn=lines.append)
    changed = _changed_by_part(load_file(workspace.base / "model.safetensors"),
                               load_file(see_only.output_dir / "model.safetensors"))
    assert any(changed["vision"]) and any(changed["projector"])
    assert not any(changed["language"]), "phase 1 must not touch the language model"
    assert see_only.read_losses == []

    lines = []
    result = run_warmup(WarmupSettings(
        model=workspace.base, train=workspace.records, output_dir=workspace.root / "warm",
        epochs=3, batch_size=4, logging_steps=1, read_steps=4, read_batch_size=2,
    ), print_fn=lines.append)
    assert result.examples > 8  # every image and its ground-truth close-ups
    assert result.steps == -(-result.examples // 4) * 3
    assert 0.0 <= result.train_accuracy <= 1.0
    assert any("warm-up step" in line and "loss" in line for line in lines)
    assert any("warm-up (read) step 4/4" in line for line in lines)
    # the read phase takes only the examples its steps consume (4 x 2), not every image and
    # close-up (all of them, at 448 px, ran the 24 GiB machine out of memory)
    assert any("4 steps on 8 examples" in line for line in lines)
    assert len(result.read_losses) == 4
    changed = _changed_by_part(load_file(workspace.base / "model.safetensors"),
                               load_file(result.output_dir / "model.safetensors"))
    assert any(changed["language"]) and any(changed["vision"])
    info = json.loads((result.output_dir / "training_info.json").read_text(encoding="utf-8"))
    assert info["stage"] == "vision-warmup" and info["examples"] == result.examples
    assert not (result.output_dir / "warmup-run").exists()

    sft, _ = _run_sft(
        model=result.output_dir, train=workspace.records, output_dir=workspace.root / "warm-sft",
        method="full", train_vision=False, learning_rate=3e-3, batch_size=2, max_steps=2,
        logging_steps=1, save_steps=1000,
    )
    after = load_file(sft.output_dir / "model.safetensors")
    warmed = load_file(result.output_dir / "model.safetensors")
    assert not any(_changed_by_part(warmed, after)["vision"])


def test_a_step_run_twice_with_one_seed_gives_the_same_weights(workspace):
    # `lte-train demo` is one command that must make the same model again. The warm-up's heads,
    # a LoRA adapter and the pointer losses' heads are built before the Trainer seeds, so each
    # step seeds first (trainer.runs.seed_run); before that, two warm-ups of 15 steps on the same
    # images differed in 54 of 105 tensors (decision 0004, E69). Scrambling torch's generator
    # before each run stands in for the state a new step process starts with.
    from trainer.pointer_losses import PointerLosses
    from trainer.warmup import WarmupSettings, run_warmup

    def warm(name: str, scramble: int) -> dict:
        torch.manual_seed(scramble)
        run_warmup(WarmupSettings(
            model=workspace.base, train=workspace.records, output_dir=workspace.root / name,
            epochs=1, batch_size=4, read_steps=2, read_batch_size=2, cells=True,
        ), print_fn=lambda _line: None)
        return folder_weights(workspace.root / name)

    def lora(name: str, scramble: int) -> dict:
        torch.manual_seed(scramble)
        _run_sft(model=workspace.base, train=workspace.records, output_dir=workspace.root / name,
                 method="lora", learning_rate=3e-3, batch_size=2, max_steps=2, save_steps=1000)
        return folder_weights(workspace.root / name)

    def pointing(name: str, scramble: int) -> dict:
        torch.manual_seed(scramble)
        _run_sft(model=workspace.base, train=workspace.records, output_dir=workspace.root / name,
                 method="full", learning_rate=3e-3, batch_size=2, max_steps=2, save_steps=1000,
                 pointer_losses=PointerLosses(places=1.0, places_layer=1, read=1.0))
        return folder_weights(workspace.root / name)

    differ = {}
    for run in (warm, lora, pointing):
        first, second = run(f"{run.__name__}-a", 1), run(f"{run.__name__}-b", 2)
        assert first.keys() == second.keys() and first
        differ[run.__name__] = sum(not torch.equal(first[k], second[k]) for k in first)
    assert differ == {"warm": 0, "lora": 0, "pointing": 0}


def test_vision_warmup_refuses_an_adapter(tmp_path, workspace):
    from trainer.warmup import WarmupSettings, run_warmup

    (tmp_path / "adapter_config.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ValueError, match="adapter"):
        run_warmup(WarmupSettings(model=tmp_path, train=workspace.records, output_dir=tmp_path))
