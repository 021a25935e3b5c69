"""Will this model fit? Memory estimate before loading, and a concrete suggestion when not.

The estimate adds four parts (all in GiB, 2**30 bytes, the unit nvidia-smi and torch report):

* weights of the language model: bytes per parameter by dtype (fp32 4, bf16/fp16 2) or
  quantization (bitsandbytes 8-bit ~1.05, nf4 ~0.56 with double-quantization constants); the
  embedding and output head stay in the compute dtype (bitsandbytes quantizes Linear layers and
  the backend skips ``lm_head``);
* the vision tower, always in the compute dtype (the backend never quantizes it);
* the KV cache of the longest conversation, Query 2: ``2 (K and V) x layers x kv_heads x head_dim
  x bytes x tokens`` with tokens = global image (pixels / 28² for Qwen2.5-VL, / 32² for
  Qwen3-VL) + close-ups + ~600 text tokens + both answers;
* activations at prefill (the MLP working set of every prompt token, the vision tower's working
  set over the largest image batch, one dequantized layer when quantized) plus ~0.5 GiB for the
  CUDA context and allocator (1 GiB of process baseline on CPU).

It is a planning figure (roughly ±15 %), good enough to say "this will not fit, try 4-bit"
before a multi-minute load ends in an out-of-memory error. Pure Python: torch and psutil are
imported only by :func:`available_memory`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from inspector.core.presets import PRESETS, QWEN25_MAX_PIXELS, Architecture, Preset

__all__ = [
    "AvailableMemory",
    "MemoryEstimate",
    "MemoryVerdict",
    "Workload",
    "available_memory",
    "check_fits",
    "cpu_caveat",
    "estimate_for_preset",
    "estimate_memory",
]

GIB = 1024**3
BYTES_PER_PARAM = {"float32": 4.0, "bfloat16": 2.0, "float16": 2.0, "8bit": 1.05, "4bit": 0.56}
TEXT_TOKENS = 600  # system prompt, both instructions, close-up captions, chat markup
CUDA_OVERHEAD_GB = 0.5  # CUDA context, cuBLAS workspace, allocator slack
CPU_OVERHEAD_GB = 1.0  # Python, torch, transformers, the processor
SAFETY = 0.95  # use at most this share of the free memory


@dataclass(frozen=True)
class Workload:
    """What one analysis feeds the model (the defaults are the app's)."""

    image_pixels: int = QWEN25_MAX_PIXELS  # the global view after resizing (max_pixels)
    closeups: int = 4  # CloseupPolicy.max_regions
    closeup_pixels: int = 512 * 512  # CloseupPolicy.max_pixels
    max_new_tokens: int = 1024  # per answer (GenerationSettings)


@dataclass(frozen=True)
class MemoryEstimate:
    weights_gb: float  # language model (and output head)
    vision_gb: float  # vision tower + merger
    kv_cache_gb: float
    activations_gb: float  # includes the runtime overhead
    total_gb: float
    breakdown: str  # one human line per part
    tokens: int  # KV-cache length of Query 2
    # What was estimated, so check_fits can re-estimate alternatives for its suggestion.
    arch: Architecture = field(repr=False, compare=False, default=None)  # type: ignore[assignment]
    dtype: str = "bfloat16"
    quantization: str = "none"
    device: str = "cuda"
    workload: Workload = Workload()
    preset_name: str | None = None


@dataclass(frozen=True)
class AvailableMemory:
    kind: str  # "cuda" | "cpu"
    free_gb: tuple[float, ...]  # per GPU (one entry, system RAM, on CPU)
    total_gb: tuple[float, ...]

    @property
    def free_total_gb(self) -> float:
        return sum(self.free_gb)


@dataclass(frozen=True)
class MemoryVerdict:
    fits: bool
    message: str
    suggestion: str | None = None


def _compute_dtype(dtype: str, quantization: str, device: str) -> str:
    if quantization != "none":
        return "bfloat16" if device != "cpu" else "float32"
    if dtype == "auto":
        return "bfloat16" if device != "cpu" else "float32"
    if dtype not in BYTES_PER_PARAM or dtype in ("8bit", "4bit"):
        raise ValueError(f"unknown dtype {dtype!r}")
    return dtype


def estimate_memory(
    model: Preset | Architecture,
    image_pixels: int,
    closeups: int,
    closeup_pixels: int,
    max_new_tokens: int,
    *,
    dtype: str | None = None,
    quantization: str | None = None,
    device: str = "cuda",
    text_tokens: int = TEXT_TOKENS,
) -> MemoryEstimate:
    """Estimate the peak memory of one LTE analysis (see the module docstring).

    ``model`` is a preset with architecture numbers or an :class:`Architecture` (for a folder:
    ``Architecture.from_folder``). ``dtype``/``quantization`` default to the preset's (bf16, none
    for a bare architecture). ``device`` "cpu" makes ``auto`` mean float32, as the backend does.
    """
    preset_name = None
    if isinstance(model, Preset):
        if model.arch is None:
            raise ValueError(
                f"preset {model.name} has no fixed architecture; estimate from the folder "
                f"(Architecture.from_folder)"
            )
        preset_name = model.name
        dtype = dtype or model.dtype
        quantization = quantization or model.quantization
        arch = model.arch
    else:
        arch = model
    dtype = dtype or "bfloat16"
    quantization = quantization or "none"
    if quantization not in ("none", "4bit", "8bit"):
        raise ValueError(f"quantization must be none, 4bit or 8bit; got {quantization!r}")
    for name, value in (("image_pixels", image_pixels), ("closeups", closeups),
                        ("closeup_pixels", closeup_pixels), ("max_new_tokens", max_new_tokens)):
        if value < 0:
            raise ValueError(f"{name} must be >= 0, got {value}")
    compute = _compute_dtype(dtype, quantization, device)
    cb = BYTES_PER_PARAM[compute]

    # Weights.
    vision_params = arch.vision_params_billion * 1e9
    text_params = arch.params_billion * 1e9 - vision_params
    if quantization == "none":
        weights = text_params * cb
    else:
        embed = arch.embedding_params_billion * 1e9
        weights = (text_params - embed) * BYTES_PER_PARAM[quantization] + embed * cb
    vision = vision_params * cb

    # KV cache of Query 2 (it holds Query 1's prompt and answer too).
    ppt = arch.pixels_per_token
    image_tokens = math.ceil(image_pixels / ppt)
    closeup_tokens = closeups * math.ceil(closeup_pixels / ppt)
    tokens = image_tokens + closeup_tokens + text_tokens + 2 * max_new_tokens
    kv_per_token = 2 * arch.text_layers * arch.text_kv_heads * arch.head_dim * cb
    kv = kv_per_token * tokens

    # Activations at prefill: worst case the whole Query-2 prompt at once (no cache reuse).
    prompt_tokens = tokens - max_new_tokens
    lm_act = prompt_tokens * (3 * arch.text_intermediate + 6 * arch.text_hidden) * cb
    patches = max(image_pixels, closeups * closeup_pixels) / arch.patch_size**2
    vis_act = patches * (3 * arch.vision_intermediate + 6 * arch.vision_hidden) * cb
    dequant = arch.text_hidden * arch.text_intermediate * cb if quantization != "none" else 0.0
    overhead = (CPU_OVERHEAD_GB if device == "cpu" else CUDA_OVERHEAD_GB) * GIB
    act = lm_act + vis_act + dequant + overhead

    parts = [weights / GIB, vision / GIB, kv / GIB, act / GIB]
    total = sum(parts)
    wlabel = compute if quantization == "none" else f"{quantization} ({compute} embeddings)"
    breakdown = (
        f"weights {parts[0]:.1f} GiB ({arch.params_billion - arch.vision_params_billion:.2f} B "
        f"params, {wlabel}) + vision tower {parts[1]:.1f} GiB ({compute}) + KV cache "
        f"{parts[2]:.1f} GiB ({tokens} tokens: image {image_tokens}, {closeups} close-ups "
        f"{closeup_tokens}, text {text_tokens}, answers {2 * max_new_tokens}) + activations "
        f"and runtime {parts[3]:.1f} GiB = {total:.1f} GiB"
    )
    return MemoryEstimate(
        weights_gb=parts[0],
        vision_gb=parts[1],
        kv_cache_gb=parts[2],
        activations_gb=parts[3],
        total_gb=total,
        breakdown=breakdown,
        tokens=tokens,
        arch=arch,
        dtype=dtype,
        quantization=quantization,
        device=device,
        workload=Workload(image_pixels, closeups, closeup_pixels, max_new_tokens),
        preset_name=preset_name,
    )


def estimate_for_preset(
    preset: Preset, workload: Workload | None = None, device: str = "cuda"
) -> MemoryEstimate:
    """:func:`estimate_memory` with the app's default workload at the preset's max pixels."""
    w = workload or Workload(image_pixels=preset.max_pixels or Workload.image_pixels)
    return estimate_memory(preset, w.image_pixels, w.closeups, w.closeup_pixels,
                           w.max_new_tokens, device=device)


def available_memory(device: str = "auto") -> AvailableMemory:
    """Free memory now: every visible GPU (torch.cuda.mem_get_info) or, on CPU, available RAM.

    Without torch (a light client, which runs no model here) there is no GPU to ask: the RAM.
    """
    if device != "cpu":
        gpus = _gpu_memory()
        if gpus is not None:
            return gpus
        if device == "cuda":
            raise RuntimeError("device 'cuda' was asked for but no CUDA GPU is available")
    import psutil

    vm = psutil.virtual_memory()
    return AvailableMemory("cpu", (vm.available / GIB,), (vm.total / GIB,))


def _gpu_memory() -> AvailableMemory | None:
    """Free and total memory of every visible CUDA GPU; None without one (or without torch)."""
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    free, total = [], []
    for index in range(torch.cuda.device_count()):
        f, t = torch.cuda.mem_get_info(index)
        free.append(f / GIB)
        total.append(t / GIB)
    return AvailableMemory("cuda", tuple(free), tuple(total)) if free else None


CPU_SLOW_GB = 4.0  # above this estimate (about a 1B-parameter model) a CPU needs minutes per image


def _usable(available: AvailableMemory) -> float:
    return available.free_total_gb * SAFETY


def _where(available: AvailableMemory) -> str:
    if available.kind == "cpu":
        return f"{available.free_gb[0]:.1f} GiB of free RAM"
    if len(available.free_gb) == 1:
        return f"{available.free_gb[0]:.1f} GiB free on the GPU"
    each = " + ".join(f"{f:.1f}" for f in available.free_gb)
    return f"{available.free_total_gb:.1f} GiB free on {len(available.free_gb)} GPUs ({each})"


def check_fits(estimate: MemoryEstimate, available: AvailableMemory) -> MemoryVerdict:
    """Compare an estimate with free memory; when it does not fit, say what would.

    Suggestions, first that fits: 4-bit (or 8-bit) of the same model; fewer close-ups and a
    lower image size (only when weights already fit); a smaller preset; the remote server.
    """
    usable = _usable(available)
    need = estimate.total_gb
    what = estimate.preset_name or "this model"
    if need <= usable:
        note = " (tight: close other GPU programs)" if need > 0.85 * usable else ""
        # a billion-parameter model on a CPU takes minutes per image; a small one does not
        slow = cpu_caveat(estimate) if available.kind == "cpu" else ""
        slow = f" {slow}" if slow else ""
        return MemoryVerdict(
            True,
            f"{what} needs about {need:.1f} GiB; {_where(available)}: fits{note}.{slow}",
            None,
        )
    message = (
        f"{what} needs about {need:.1f} GiB but there is only {_where(available)} "
        f"({estimate.breakdown})."
    )
    return MemoryVerdict(False, message, _suggest(estimate, usable, available))


def cpu_caveat(estimate: MemoryEstimate) -> str:
    """Why a model that fits in RAM is still no good on a CPU ("" for a small one)."""
    if estimate.quantization in ("4bit", "8bit"):
        # bitsandbytes runs k-bit layers on a CPU, but as a test path: dequantising each layer
        # per token makes a billion-parameter model far slower than in bfloat16.
        return (f"bitsandbytes {estimate.quantization} on a CPU is for testing only: expect "
                "many minutes per image (quantization saves memory on a GPU).")
    if estimate.total_gb > CPU_SLOW_GB:
        return "It runs on the CPU, so expect minutes per image."
    return ""


def _redo(e: MemoryEstimate, **changes) -> MemoryEstimate:
    fields = Workload.__dataclass_fields__
    w = replace(e.workload, **{k: v for k, v in changes.items() if k in fields})
    quantization = changes.get("quantization", e.quantization)
    return estimate_memory(e.arch, w.image_pixels, w.closeups, w.closeup_pixels,
                           w.max_new_tokens, dtype=e.dtype, quantization=quantization,
                           device=e.device)


def _suggest(e: MemoryEstimate, usable: float, available: AvailableMemory) -> str:
    # 1. Quantize the same model.
    if e.quantization in ("none", "8bit"):
        for quant in ("8bit", "4bit") if e.quantization == "none" else ("4bit",):
            alt = _redo(e, quantization=quant)
            if alt.total_gb <= usable:
                same = _same_model_preset(e, quant)
                how = f"preset {same}" if same else f"--quant {quant}"
                return (f"load it in {quant} ({how}): about {alt.total_gb:.1f} GiB "
                        f"(needs bitsandbytes, the 'quant' extra)")
    # 2. Trim the workload when only the per-image part is over.
    fixed = e.weights_gb + e.vision_gb
    if fixed < usable:
        w = e.workload
        half = max(w.closeups // 2, 1)
        for closeups, scale in ((half, 1.0), (half, 0.5), (1, 0.25)):
            pixels = max(int(w.image_pixels * scale), 256 * e.arch.pixels_per_token)
            alt = _redo(e, closeups=closeups, image_pixels=pixels,
                        closeup_pixels=int(w.closeup_pixels * max(scale, 0.5)),
                        max_new_tokens=min(w.max_new_tokens, 512))
            if alt.total_gb <= usable:
                return (f"use at most {closeups} regions (--max-regions {closeups}), a max image "
                        f"size of {pixels} pixels and at most {alt.workload.max_new_tokens} new "
                        f"tokens per answer: about {alt.total_gb:.1f} GiB")
    # 3. A smaller preset.
    smaller = []
    for p in PRESETS.values():
        if p.arch is None or p.arch.params_billion >= e.arch.params_billion:
            continue
        alt = estimate_memory(p, e.workload.image_pixels, e.workload.closeups,
                              e.workload.closeup_pixels, e.workload.max_new_tokens,
                              device=e.device)
        if alt.total_gb <= usable:
            # Same family first (same box format), then the biggest model, then the least
            # quantized that fits.
            other_family = p.arch.model_type != e.arch.model_type
            smaller.append((other_family, -p.arch.params_billion, -alt.total_gb, p.name))
    if smaller:
        *_, neg_gb, name = min(smaller)
        gb = -neg_gb
        return f"use the smaller preset {name}: about {gb:.1f} GiB"
    # 4. Someone else's GPU.
    return ("use the remote-server preset: run the model on a vLLM server with enough GPU "
            "memory and connect to it")


def _same_model_preset(e: MemoryEstimate, quant: str) -> str | None:
    for p in PRESETS.values():
        if p.arch == e.arch and p.quantization == quant:
            return p.name
    return None
