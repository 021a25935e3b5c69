"""Local backend: Qwen2.5-VL / Qwen3-VL through transformers.

Loads from a hub id (offline unless downloads are allowed) or a folder, in bf16/fp16/fp32 or
bitsandbytes 4-bit/8-bit, optionally spread over GPUs (`device_map="auto"`) and optionally with a
PEFT adapter over its base. Never `trust_remote_code`; safetensors only.

Query 2 continues Query 1's conversation, so by default the backend keeps Query 1's KV cache,
trims it to the longest token prefix the new prompt shares with it, and prefills only the rest:
the new turn's text and the close-ups' vision features (see notes/qwen-vl-on-transformers-5.md).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from inspector import __version__
from inspector.core.atomic import atomic_write_bytes
from inspector.core.backends.base import (
    BackendError,
    CancelCheck,
    GenerationSettings,
    ModelNotFoundError,
    OutOfMemoryError,
    TokenCallback,
    TurnResult,
)
from inspector.core.backends.confidence import VerdictRecorder, token_vocabulary
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

# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def _resolve_folder(source: str, allow_download: bool) -> Path:
    """A local folder for `source`: the folder itself, or the hub snapshot (download if allowed)."""
    path = Path(source).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise ModelNotFoundError(f"{source} is a file; give the model's folder instead")
    if source.startswith((".", "/", "~")) or os.sep in source.strip("/").replace("/", "", 1):
        raise ModelNotFoundError(f"model folder {source} does not exist")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    from inspector.core.download import find_downloaded

    found = find_downloaded(source)  # fetched earlier with `lte-inspect download`
    if found is not None:
        return found

    try:
        return Path(
            snapshot_download(
                source,
                local_files_only=not allow_download,
                allow_patterns=["*.json", "*.safetensors", "*.txt", "*.jinja", "*.model", "*.md"],
            )
        )
    except LocalEntryNotFoundError as exc:
        raise ModelNotFoundError(
            f"model {source} is not in the local model cache and downloads are off; download it "
            f"first (lte-inspect download {source}) or give a local folder"
        ) from exc
    except Exception as exc:  # hub errors: bad id, no network, gated repo
        raise ModelNotFoundError(f"could not get model {source}: {exc}") from exc


# Below this, weights load in about a second and transformers' "Loading weights" bar is noise.
_PROGRESS_BAR_BYTES = 1 << 30


@contextlib.contextmanager
def _loading_bar_only_where_useful(folder: Path) -> Iterator[None]:
    """transformers' "Loading weights" bar only for big weights on an interactive terminal.

    Piped CLI output, the window's worker and the tests would otherwise get a bar per load
    between their own lines.
    """
    from transformers.utils import logging as hf_logging

    size = sum(f.stat().st_size for f in Path(folder).glob("*.safetensors"))
    wanted = size >= _PROGRESS_BAR_BYTES and sys.stderr is not None and sys.stderr.isatty()
    before = hf_logging.is_progress_bar_enabled()
    if before and not wanted:
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if before and not wanted:
            hf_logging.enable_progress_bar()


def _revision_of(folder: Path) -> str | None:
    """The hub commit when the folder is a hub cache snapshot (…/snapshots/<sha>)."""
    if folder.parent.name == "snapshots" and re.fullmatch(r"[0-9a-f]{40}", folder.name):
        return folder.name
    return None


def weights_sha256(folder: Path) -> str | None:
    """SHA-256 over the per-file SHA-256 of every *.safetensors file, cached by size and mtime."""
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        return None
    from platformdirs import user_cache_dir

    cache_file = Path(user_cache_dir("lte-inspector")) / "weights-sha256.json"
    try:
        cache = json.loads(cache_file.read_text())
    except (OSError, ValueError):
        cache = {}
    outer = hashlib.sha256()
    changed = False
    for f in files:
        real = f.resolve()
        stat = real.stat()
        key = f"{real}:{stat.st_size}:{stat.st_mtime_ns}"
        digest = cache.get(key)
        if digest is None:
            h = hashlib.sha256()
            with open(real, "rb") as fh:
                while chunk := fh.read(1 << 22):
                    h.update(chunk)
            digest = cache[key] = h.hexdigest()
            changed = True
        outer.update(f"{f.name}:{digest}\n".encode())
    if changed:
        try:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(cache_file, json.dumps(cache, indent=1).encode("utf-8"))
        except OSError:
            pass  # the hash is still correct, only not remembered
    return outer.hexdigest()


def _torch_dtype(name: str, device: str):
    import torch

    if name == "auto":
        if device != "cpu" and torch.cuda.is_available():
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    return getattr(torch, name)


def _quantization_config(quantization: str, compute_dtype):
    if quantization == "none":
        return None
    try:
        import bitsandbytes  # noqa: F401
    except ImportError as exc:
        raise BackendError(
            f"{quantization} quantization needs bitsandbytes: pip install 'lte-inspector[quant]'"
        ) from exc
    from transformers import BitsAndBytesConfig

    # The vision tower and the output head stay in full precision: they are small and
    # quantizing them costs more accuracy than memory saved.
    skip = ["model.visual", "lm_head"]  # module paths, matched from the start
    if quantization == "4bit":
        return BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=compute_dtype,
            llm_int8_skip_modules=skip,
        )
    return BitsAndBytesConfig(load_in_8bit=True, llm_int8_skip_modules=skip)


def pixel_bounds(image_processor) -> tuple[int, int]:
    """(min_pixels, max_pixels) of a Qwen-VL image processor (the trainer uses it too)."""
    size = getattr(image_processor, "size", None) or {}
    lo = getattr(image_processor, "min_pixels", None) or size.get("shortest_edge")
    hi = getattr(image_processor, "max_pixels", None) or size.get("longest_edge")
    if not lo or not hi:
        raise BackendError("the model's image processor has no pixel bounds (min/max pixels)")
    return int(lo), int(hi)


def pin_pixel_bounds(image_processor, lo: int, hi: int) -> None:
    """Set the resize bounds the processor uses; box conversion assumes exactly these."""
    image_processor.size = {"shortest_edge": lo, "longest_edge": hi}
    if hasattr(image_processor, "min_pixels"):
        image_processor.min_pixels = lo
    if hasattr(image_processor, "max_pixels"):
        image_processor.max_pixels = hi


class _TokenStream:
    """A generate() streamer that decodes new tokens and checks for cancellation per token."""

    def __init__(self, tokenizer, on_token: TokenCallback | None) -> None:
        self.tokenizer = tokenizer
        self.on_token = on_token
        self.ids: list[int] = []
        self.text = ""
        self._prompt_seen = False

    def put(self, value) -> None:
        if not self._prompt_seen:  # generate() first pushes the prompt
            self._prompt_seen = True
            return
        self.ids.extend(int(t) for t in value.reshape(-1).tolist())
        text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        if text.endswith("\ufffd"):  # half of a multi-byte character: wait for the rest
            return
        delta, self.text = text[len(self.text) :], text
        if delta and self.on_token is not None:
            self.on_token(delta)

    def end(self) -> None:
        pass


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
        dtype = _torch_dtype(spec.dtype, "cuda" if on_gpu else "cpu")
        quant = _quantization_config(spec.quantization, dtype)
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
            with _loading_bar_only_where_useful(folder):
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
            revision=_revision_of(folder),
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
        return check_fits(estimate, available_memory(device))

    def _resolve_sources(self) -> tuple[Path, Path | None]:
        spec = self.spec
        folder = _resolve_folder(spec.source, spec.allow_download)
        adapter = spec.adapter
        if adapter is None and (folder / "adapter_config.json").exists():
            adapter, folder = str(folder), None  # the source itself is an adapter
        if adapter is None:
            return folder, None
        adapter_folder = _resolve_folder(adapter, spec.allow_download)
        if folder is None:
            config = json.loads((adapter_folder / "adapter_config.json").read_text())
            base = config.get("base_model_name_or_path")
            if not base:
                raise BackendError(f"adapter {adapter} does not name its base model")
            folder = _resolve_folder(base, spec.allow_download)
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

    def _encode(self, messages: list[dict[str, Any]]):
        inputs = self.processor.apply_chat_template(
            messages,
            tokenize=True,
            add_generation_prompt=True,
            return_dict=True,
            return_tensors="pt",
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
        stream = _TokenStream(self.tokenizer, on_token)
        if self.settings.do_sample:
            torch.manual_seed(self.settings.seed)
            sampling = dict(
                do_sample=True, temperature=self.settings.temperature, top_p=self.settings.top_p
            )
        else:
            sampling = dict(do_sample=False, temperature=None, top_p=None, top_k=None)
        try:
            with torch.inference_mode():
                out = self.model.generate(
                    **kwargs,
                    **sampling,
                    max_new_tokens=max_new_tokens,
                    streamer=stream,
                    stopping_criteria=StoppingCriteriaList([_Cancel()]),
                    logits_processor=LogitsProcessorList([recorder]),
                    return_dict_in_generate=True,
                )
        except torch.cuda.OutOfMemoryError as exc:
            self.reset()
            torch.cuda.empty_cache()
            raise OutOfMemoryError(
                "the GPU ran out of memory while analysing; lower max pixels or the number of "
                "regions, or use 4-bit quantization"
            ) from exc
        sequence = out.sequences[0]
        generated = sequence[prompt_len:].tolist()
        cancelled = bool(is_cancelled and is_cancelled())
        eos_ids = self._eos_ids()
        if cancelled:
            stop_reason = "cancelled"
        elif generated and generated[-1] in eos_ids:
            stop_reason = "eos"
        else:
            stop_reason = "length"
        if not cancelled and self.spec.reuse_cache:
            self._cache = out[_cache_argument()]
            self._cache_ids = sequence[: self._cache.get_seq_length()]
        text = self.tokenizer.decode(generated, skip_special_tokens=True)
        return TurnResult(
            text=text,
            prompt_tokens=prompt_len,
            prefill_tokens=prefill,
            generated_tokens=len(generated),
            seconds=time.perf_counter() - started,
            stop_reason=stop_reason,
            confidence=recorder.confidence(generated),
        )

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
