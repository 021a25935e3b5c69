"""Loading a local model's parts: where its folder is, its revision and weights hash, the dtype
and quantization settings, and the image processor's pixel bounds.

Used by :class:`inspector.core.backends.local.LocalBackend`; torch and transformers are imported
inside the functions that need them, so importing this module costs nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

from inspector.core.atomic import atomic_write_bytes
from inspector.core.backends.base import BackendError, ModelNotFoundError
from inspector.core.file_hash import file_sha256

__all__ = [
    "loading_bar_only_where_useful",
    "pin_pixel_bounds",
    "pixel_bounds",
    "quantization_config",
    "resolve_folder",
    "revision_of",
    "torch_dtype",
    "weights_sha256",
]



def resolve_folder(source: str, allow_download: bool) -> Path:
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
def loading_bar_only_where_useful(folder: Path) -> Iterator[None]:
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


def revision_of(folder: Path) -> str | None:
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
            digest = cache[key] = file_sha256(real)
            changed = True
        outer.update(f"{f.name}:{digest}\n".encode())
    if changed:
        try:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(cache_file, json.dumps(cache, indent=1).encode("utf-8"))
        except OSError:
            pass  # the hash is still correct, only not remembered
    return outer.hexdigest()


def torch_dtype(name: str, device: str):
    import torch

    if name == "auto":
        if device != "cpu" and torch.cuda.is_available():
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    return getattr(torch, name)


def quantization_config(quantization: str, compute_dtype):
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
