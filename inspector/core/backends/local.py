"""Local backend: Qwen2.5-VL / Qwen3-VL through transformers.

Loads from a hub id (offline unless downloads are allowed) or a folder, in bf16/fp16/fp32 or
bitsandbytes 4-bit/8-bit, optionally spread over GPUs (`device_map="auto"`) and optionally with a
PEFT adapter over its base. Never `trust_remote_code`; safetensors only.

Query 2 continues Query 1's conversation, so by default the backend keeps Query 1's KV cache,
trims it to the longest token prefix the new prompt shares with it, and prefills only the rest:
the new turn's text and the close-ups' vision features (see notes/qwen-vl-on-transformers-5.md).

`generate_turns` answers several independent turns in one left-padded `generate` (batch mode,
driven by `backends/batching.py`); there every prompt is computed whole.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from inspector import __version__
from inspector.core.backends.base import (
    BackendError,
    CancelCheck,
    GenerationSettings,
    OutOfMemoryError,
    TokenCallback,
    TurnResult,
)
from inspector.core.backends.batching import TurnRequest
from inspector.core.backends.confidence import VerdictRecorder, token_vocabulary
from inspector.core.backends.local_loading import (
    loading_bar_only_where_useful,
    pin_pixel_bounds,
    pixel_bounds,
    quantization_config,
    resolve_folder,
    revision_of,
    torch_dtype,
    weights_sha256,
)
from inspector.core.backends.local_streams import PerRow, Row, RowsStop, RowsStream, TokenStream
from inspector.core.backends.lookup_decoding import continue_greedy, supports_lookup
from inspector.core.backends.spec import (  # noqa: F401  (re-exported: the spec's old home)
    DEVICES,
    DTYPES,
    QUANTIZATIONS,
    LocalModelSpec,
)
from inspector.core.demo_model import is_demo_folder
from inspector.core.geometry import PROCESSOR_MAX_PIXELS, coordinate_space_for
from inspector.core.protocol import PROMPTS_VERSION
from inspector.core.results import ModelProvenance

log = logging.getLogger(__name__)

class LocalBackend:
    """A model loaded in this process. Not thread-safe: one analysis at a time."""

    backend_name = "transformers"

    def __init__(
        self,
        spec: LocalModelSpec,
        settings: GenerationSettings | None = None,
        on_message: Callable[[str], None] | None = None,
    ) -> None:
        """`on_message` receives status lines for the user (the memory check before loading)."""
        spec.validate()
        self.spec = spec
        self.settings = settings or GenerationSettings()
        self.on_message = on_message
        self._cache = None
        self._cache_ids = None  # 1-D tensor of the token ids the cache holds
        self.memory_estimate = None  # MemoryEstimate of one analysis, when the layout is known
        self._load()

    # -- loading ------------------------------------------------------------------------------

    def _load(self) -> None:
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor

        spec = self.spec
        folder, adapter_folder = self._resolve_sources()
        device = spec.device
        if device == "cuda" and not torch.cuda.is_available():
            raise BackendError("device 'cuda' was asked for but no CUDA GPU is available")
        on_gpu = device != "cpu" and torch.cuda.is_available()
        dtype = torch_dtype(spec.dtype, "cuda" if on_gpu else "cpu")
        quant = quantization_config(spec.quantization, dtype)
        self.memory_check = self._check_memory(folder, "cuda" if on_gpu else "cpu")
        if self.memory_check is not None and self.on_message is not None:
            text = self.memory_check.message
            if self.memory_check.suggestion:
                text += " " + self.memory_check.suggestion
            self.on_message(text)
        kwargs: dict[str, Any] = dict(
            dtype=dtype, trust_remote_code=False, use_safetensors=True, local_files_only=True
        )
        if quant is not None:
            kwargs["quantization_config"] = quant
        if on_gpu:
            kwargs["device_map"] = "auto"
        try:
            self.processor = AutoProcessor.from_pretrained(folder, trust_remote_code=False)
            with loading_bar_only_where_useful(folder):
                model = AutoModelForImageTextToText.from_pretrained(folder, **kwargs)
        except torch.cuda.OutOfMemoryError as exc:
            raise OutOfMemoryError(
                f"not enough GPU memory to load {spec.source}; try 4-bit quantization "
                f"(--quant 4bit) or a smaller model"
            ) from exc
        except (OSError, ValueError) as exc:
            raise BackendError(f"could not load the model from {folder}: {exc}") from exc
        model_type = model.config.model_type
        if adapter_folder is not None:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, adapter_folder, is_trainable=False)
        model.eval()
        self.model = model
        self.core = model.get_base_model() if adapter_folder is not None else model
        self.tokenizer = self.processor.tokenizer
        self.tokenizer.padding_side = "left"
        ip = self.processor.image_processor
        if spec.min_pixels is not None:
            pin_pixel_bounds(ip, spec.min_pixels, spec.max_pixels)
        self.min_pixels, self.max_pixels = pixel_bounds(ip)
        pin_pixel_bounds(ip, self.min_pixels, self.max_pixels)
        try:
            self.coordinate_space = coordinate_space_for(
                model_type, self.min_pixels, self.max_pixels
            )
        except ValueError as exc:
            raise BackendError(f"{spec.source}: {exc}") from exc
        self.device = next(self.core.parameters()).device
        self._vocabulary: list[str] | None = None  # filled on first use (_token_texts)
        adapter_as_source = adapter_folder is not None and spec.adapter is None
        self.provenance = ModelProvenance(
            # An adapter folder given as the model is recorded as what it is: base + adapter.
            model_id=str(folder) if adapter_as_source else spec.source,
            backend=self.backend_name,
            model_type=model_type,
            revision=revision_of(folder),
            weights_sha256=weights_sha256(folder) if spec.hash_weights else None,
            adapter_id=str(adapter_folder) if adapter_as_source else spec.adapter,
            adapter_sha256=(
                weights_sha256(adapter_folder)
                if adapter_folder is not None and spec.hash_weights else None
            ),
            quantization=spec.quantization,
            dtype=str(dtype).removeprefix("torch."),
            device=str(self.device) if not on_gpu else "cuda (device_map=auto)",
            prompts_version=PROMPTS_VERSION,
            generation={
                **self.settings.to_dict(),
                "min_pixels": self.min_pixels,
                "max_pixels": self.max_pixels,
                "kv_cache_reuse": spec.reuse_cache,
            },
            software_version=__version__,
            is_demo=is_demo_folder(folder),
        )

    def _check_memory(self, folder: Path, device: str):
        """Estimate the memory an analysis needs and compare with what is free; None if unknown."""
        from inspector.core.memory import available_memory, check_fits, estimate_memory
        from inspector.core.presets import Architecture, PresetError

        try:
            arch = Architecture.from_folder(folder)
        except (PresetError, OSError, ValueError, KeyError):
            return None  # not a layout we can read without loading: no estimate, no warning
        spec = self.spec
        # the processor is not loaded yet: assume its largest possible global view
        pixels = spec.max_pixels or PROCESSOR_MAX_PIXELS
        estimate = estimate_memory(
            arch, pixels, 4, 512 * 512,
            max(self.settings.max_new_tokens_locate, self.settings.max_new_tokens_examine),
            dtype=spec.dtype, quantization=spec.quantization, device=device,
        )
        self.memory_estimate = estimate
        return check_fits(estimate, available_memory(device))

    def batch_size_choice(self):
        """How many images to analyse together (`inspector.core.batch_size`), from the memory
        free now that the model is loaded."""
        from inspector.core.batch_size import choose_batch_size
        from inspector.core.memory import available_memory

        on_gpu = self.device.type == "cuda"
        free = available_memory("cuda") if on_gpu else None
        return choose_batch_size(self.memory_estimate, free)

    def _resolve_sources(self) -> tuple[Path, Path | None]:
        spec = self.spec
        folder = resolve_folder(spec.source, spec.allow_download)
        adapter = spec.adapter
        if adapter is None and (folder / "adapter_config.json").exists():
            adapter, folder = str(folder), None  # the source itself is an adapter
        if adapter is None:
            return folder, None
        adapter_folder = resolve_folder(adapter, spec.allow_download)
        if folder is None:
            config = json.loads((adapter_folder / "adapter_config.json").read_text())
            base = config.get("base_model_name_or_path")
            if not base:
                raise BackendError(f"adapter {adapter} does not name its base model")
            folder = resolve_folder(base, spec.allow_download)
        if not (adapter_folder / "adapter_config.json").exists():
            raise BackendError(f"{adapter} is not a PEFT adapter (no adapter_config.json)")
        return folder, adapter_folder

    # -- generation ---------------------------------------------------------------------------

    def _token_texts(self) -> list[str]:
        if self._vocabulary is None:
            self._vocabulary = token_vocabulary(self.tokenizer)
        return self._vocabulary

    def global_scale(self, image_size: tuple[int, int]) -> float:
        return self.coordinate_space.view_scale(image_size)

    def reset(self) -> None:
        self._cache = None
        self._cache_ids = None

    def _encode(self, messages: list[dict[str, Any]] | list[list[dict[str, Any]]]):
        """Model inputs for one conversation, or for several (a list of them: left-padded)."""
        inputs = self.processor.apply_chat_template(
            messages,
            tokenize=True,
            add_generation_prompt=True,
            return_dict=True,
            return_tensors="pt",
            processor_kwargs={"padding": True},
        )
        inputs = inputs.to(self.device)
        if "pixel_values" in inputs and inputs["pixel_values"].is_floating_point():
            inputs["pixel_values"] = inputs["pixel_values"].to(self.core.dtype)
        return inputs

    def _reuse_plan(self, inputs) -> tuple[int, dict[str, Any]] | None:
        """How much of the cache to keep and what to pass instead of all pixels; None: no reuse."""
        import torch

        if self._cache is None or self._cache_ids is None:
            return None
        new_ids = inputs["input_ids"][0]
        n = min(len(new_ids), len(self._cache_ids))
        same = (new_ids[:n] == self._cache_ids[:n]).to(torch.int64)
        common = int(same.cumprod(0).sum())
        if common == 0:
            return None
        common = min(common, len(new_ids) - 1)  # at least one token must be fed
        image_runs = _image_token_runs(inputs["mm_token_type_ids"][0])
        # an image split by the boundary must be re-encoded whole: move the boundary before it
        for start, end in image_runs:
            if start < common < end:
                common = start
        cached_images = sum(1 for _, end in image_runs if end <= common)
        extra: dict[str, Any] = {}
        grids = inputs.get("image_grid_thw")
        if grids is not None and cached_images < len(grids):
            rows = grids.prod(-1)
            first_row = int(rows[:cached_images].sum())
            new_pixels = inputs["pixel_values"][first_row:]
            with torch.inference_mode():
                features = self.core.model.get_image_features(
                    new_pixels, grids[cached_images:], return_dict=True
                )
            extra["mm_encoder_outputs"] = {"image": features}
        return common, extra

    def generate_turn(
        self,
        messages: list[dict[str, Any]],
        *,
        max_new_tokens: int,
        on_token: TokenCallback | None = None,
        is_cancelled: CancelCheck | None = None,
    ) -> TurnResult:
        import torch
        from transformers import LogitsProcessorList, StoppingCriteria, StoppingCriteriaList

        started = time.perf_counter()
        try:
            inputs = self._encode(messages)
        except (ValueError, TypeError) as exc:
            raise BackendError(f"could not prepare the model input: {exc}") from exc
        prompt_len = int(inputs["input_ids"].shape[1])
        kwargs: dict[str, Any] = dict(inputs)
        prefill = prompt_len
        lookup = self._prompt_lookup(messages)
        plan = self._reuse_plan(inputs) if self.spec.reuse_cache else None
        if plan is not None:
            common, extra = plan
            self._cache.crop(common - self._cache.get_seq_length())
            kwargs.pop("pixel_values", None)
            kwargs.update(extra, **{_cache_argument(): self._cache})
            prefill = prompt_len - common
        self.reset()

        class _Cancel(StoppingCriteria):
            def __call__(self, input_ids, scores, **kw):
                stop = bool(is_cancelled and is_cancelled())
                return torch.full((input_ids.shape[0],), stop, dtype=torch.bool)

        recorder = VerdictRecorder(self.tokenizer, self._token_texts)
        stream = TokenStream(self.tokenizer, on_token, is_cancelled)
        eos_ids = self._eos_ids()
        details: dict[str, Any] = {}
        try:
            with torch.inference_mode():
                # with prompt lookup, generate computes the prompt and the first token only
                out = self.model.generate(
                    **kwargs,
                    **self._sampling(),
                    max_new_tokens=1 if lookup else max_new_tokens,
                    streamer=stream,
                    stopping_criteria=StoppingCriteriaList([_Cancel()]),
                    logits_processor=LogitsProcessorList([recorder]),
                    return_dict_in_generate=True,
                )
            ids = out.sequences[0].tolist()
            cache = out[_cache_argument()]
            if lookup and ids[-1] not in eos_ids and len(ids) - prompt_len < max_new_tokens:
                new, stats = continue_greedy(
                    self.model, cache, _cache_argument(), ids,
                    generated=len(ids) - prompt_len, max_new_tokens=max_new_tokens,
                    draft_tokens=lookup, eos_ids=eos_ids,
                    processors=[*self._greedy_penalty(), recorder],
                    on_tokens=lambda tokens: stream.put(torch.tensor(tokens)),
                    is_cancelled=lambda: bool(is_cancelled and is_cancelled()),
                )
                ids += new
                details = {"lookup_forwards": stats.forwards, "lookup_drafted": stats.drafted,
                           "lookup_accepted": stats.accepted}
        except torch.cuda.OutOfMemoryError as exc:
            self.reset()
            torch.cuda.empty_cache()
            raise OutOfMemoryError(
                "the GPU ran out of memory while analysing; lower max pixels or the number of "
                "regions, or use 4-bit quantization"
            ) from exc
        generated = ids[prompt_len:]
        cancelled = bool(is_cancelled and is_cancelled())
        if cancelled:
            stop_reason = "cancelled"
        elif generated and generated[-1] in eos_ids:
            stop_reason = "eos"
        else:
            stop_reason = "length"
        if not cancelled and self.spec.reuse_cache:
            self._cache = cache
            self._cache_ids = torch.tensor(ids[: cache.get_seq_length()], device=self.device)
        text = self.tokenizer.decode(generated, skip_special_tokens=True)
        return TurnResult(
            text=text,
            prompt_tokens=prompt_len,
            prefill_tokens=prefill,
            generated_tokens=len(generated),
            seconds=time.perf_counter() - started,
            stop_reason=stop_reason,
            confidence=recorder.confidence(generated),
            token_scores=recorder.token_scores(generated),
            details=details,
        )

    def generate_turns(self, requests: list[TurnRequest]) -> list[TurnResult]:
        """Answer several independent turns in one `generate` (left padding, attention masks).

        Each prompt is computed whole (no KV reuse) and the cache is left untouched. Rows stop on
        their own: at end of sequence, at their own token limit, or within one token of their own
        cancel check. Greedy answers equal `generate_turn`'s for the same prompts; sampling draws
        differ. An exception means the batch as a whole failed (the caller can retry one at a
        time).
        """
        import torch
        from transformers import LogitsProcessorList, StoppingCriteriaList

        if not requests:
            return []
        started = time.perf_counter()
        try:
            inputs = self._encode([r.messages for r in requests])
        except (ValueError, TypeError) as exc:
            raise BackendError(f"could not prepare the model input: {exc}") from exc
        padded_len = int(inputs["input_ids"].shape[1])
        eos_ids = self._eos_ids()
        rows = [Row(self.tokenizer, r, eos_ids) for r in requests]
        recorders = [VerdictRecorder(self.tokenizer, self._token_texts) for _ in requests]
        try:
            with torch.inference_mode():
                out = self.model.generate(
                    **inputs,
                    **self._sampling(),
                    max_new_tokens=max(r.max_new_tokens for r in requests),
                    streamer=RowsStream(rows),
                    stopping_criteria=StoppingCriteriaList([RowsStop(rows)]),
                    logits_processor=LogitsProcessorList([PerRow(recorders)]),
                    return_dict_in_generate=True,
                )
        except torch.cuda.OutOfMemoryError as exc:
            torch.cuda.empty_cache()
            raise OutOfMemoryError(
                f"the GPU ran out of memory analysing {len(requests)} images together"
            ) from exc
        seconds = time.perf_counter() - started
        prompt_lengths = inputs["attention_mask"].sum(-1).tolist()
        results = []
        for i, row in enumerate(rows):
            generated = out.sequences[i, padded_len:].tolist()[: row.length()]
            if row.request.is_cancelled is not None and row.request.is_cancelled():
                row.stop_reason = "cancelled"
            results.append(TurnResult(
                text=self.tokenizer.decode(generated, skip_special_tokens=True),
                prompt_tokens=int(prompt_lengths[i]),
                prefill_tokens=int(prompt_lengths[i]),
                generated_tokens=len(generated),
                seconds=seconds,
                stop_reason=row.stop_reason or "length",
                confidence=recorders[i].confidence(generated),
                token_scores=recorders[i].token_scores(generated),
                details={"batch_size": len(requests)},
            ))
        return results

    def _sampling(self) -> dict[str, Any]:
        if self.settings.do_sample:
            import torch

            torch.manual_seed(self.settings.seed)
            return dict(
                do_sample=True, temperature=self.settings.temperature, top_p=self.settings.top_p
            )
        return dict(do_sample=False, temperature=None, top_p=None, top_k=None)

    def _prompt_lookup(self, messages: list[dict[str, Any]]) -> int:
        """Draft length of prompt-lookup decoding for this turn (0: off). Only for a turn that
        continues a conversation (Query 2), whose answer copies phrases of the earlier answer
        and region labels; greedy only, where it changes the speed, never the tokens (see
        lookup_decoding.py). Cancel is checked before every verifying forward."""
        n = self.settings.prompt_lookup_tokens
        continues = any(m.get("role") == "assistant" for m in messages)
        if n <= 0 or self.settings.do_sample or not continues:
            return 0
        if not supports_lookup(self.core.generation_config):
            log.info("prompt lookup off: the model's generation config shapes the logits")
            return 0
        return n

    def _greedy_penalty(self) -> list:
        """The repetition penalty of the model's generation config, as generate applies it."""
        from transformers import RepetitionPenaltyLogitsProcessor

        penalty = self.core.generation_config.repetition_penalty
        return [] if penalty in (None, 1.0) else [RepetitionPenaltyLogitsProcessor(penalty)]

    def _eos_ids(self) -> set[int]:
        eos = self.core.generation_config.eos_token_id
        if eos is None:
            return set()
        return set(eos) if isinstance(eos, list) else {eos}


def _image_token_runs(mm_token_type_ids) -> list[tuple[int, int]]:
    """(start, end) of each contiguous run of image tokens, in order."""
    flags = mm_token_type_ids.tolist()
    runs, start = [], None
    for i, flag in enumerate(flags + [0]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            runs.append((start, i))
            start = None
    return runs


def _cache_argument() -> str:
    """What generate() calls the KV cache: ``cache`` since transformers 5.24 (``past_key_values``
    still works there but warns on every image and goes in 6.0), ``past_key_values`` before."""
    import transformers

    major, minor = (int(part) for part in transformers.__version__.split(".")[:2])
    return "cache" if (major, minor) >= (5, 24) else "past_key_values"
