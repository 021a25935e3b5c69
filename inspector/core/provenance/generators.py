"""Generator text: what image generators write into metadata, and how to say what it means.

Stable Diffusion front ends write their ``parameters`` into a PNG text chunk, ComfyUI its node
graph, other tools their names into EXIF Software or XMP CreatorTool. The IPTC digital source types
say the same in a standard vocabulary. Pure string work: nothing here reads a file.
"""

from __future__ import annotations

import re

__all__ = [
    "AI_SOURCE_TYPES",
    "MAX_TEXT_CHARS",
    "describe_generator_text",
    "generator_text",
    "short_source_type",
]

MAX_TEXT_CHARS = 2000  # kept per generator text value (reports stay readable)

# IPTC digital source types that say a machine, not a camera, made (part of) the picture.
# Values complete "the image was …".
AI_SOURCE_TYPES: dict[str, str] = {
    "trainedAlgorithmicMedia": "created by a trained algorithm",
    "compositeWithTrainedAlgorithmicMedia": (
        "composited with elements created by a trained algorithm"
    ),
    "algorithmicMedia": "created purely by an algorithm, not captured by a camera",
    "compositeSynthetic": "composited from elements that may include synthetic ones",
}

# PNG text keys that image generators write (compared case-insensitively) -> who writes them.
_GENERATOR_KEYS: dict[str, str] = {
    "parameters": "a Stable Diffusion-style generator",
    "prompt": "an image generator",
    "workflow": "ComfyUI",
    "dream": "InvokeAI",
    "sd-metadata": "InvokeAI",
    "invokeai_metadata": "InvokeAI",
    "invokeai_graph": "InvokeAI",
    "fooocus_scheme": "Fooocus",
    "generation_data": "an online image generator",
}
_GENERATOR_NAMES = re.compile(
    r"(?<![\w-])(stable[ _-]?diffusion|sdxl|automatic1111|a1111|comfyui|invokeai|novelai|"
    r"midjourney|dall[-·‧ ]?e(?:[ -]?[23])?|firefly|dreamstudio|fooocus|flux\.1|leonardo\.ai|"
    r"ideogram|craiyon|nightcafe|stability\.?ai|gpt-image-\d|google imagen|bing image creator|"
    r"draw things|diffusers)(?![\w-])",
    re.IGNORECASE,
)
_A1111_PARAMS = re.compile(r"\bSteps:\s*\d+.{0,400}?\b(?:Sampler|CFG scale|Seed):", re.DOTALL)
_COMFY_GRAPH = re.compile(r'"class_type"\s*:|"nodes"\s*:\s*\[|"last_node_id"\s*:')
_SD_MODEL = re.compile(r"\bModel:\s*([^,\n]{1,100})")
_COMFY_MODEL = re.compile(r'"(?:ckpt_name|unet_name)"\s*:\s*"([^"]{1,100})"')


def short_source_type(value: str | None) -> str | None:
    """An IPTC digital source type URI in short: ``…/digitalCapture`` -> ``digitalCapture``."""
    if not value:
        return None
    text = str(value).strip().rstrip("/")
    short = text.rsplit("/", 1)[-1].rsplit("#", 1)[-1].strip()
    return short if re.fullmatch(r"[A-Za-z][A-Za-z0-9]{1,79}", short) else None


def generator_text(texts: list[tuple[str, str]]) -> dict[str, str]:
    found: dict[str, str] = {}
    for where, text in texts:
        if not text or not text.strip():
            continue
        if where.lower() not in _GENERATOR_KEYS and not _names_generator(text):
            continue
        key, n = where, 2
        while key in found:
            key, n = f"{where} ({n})", n + 1
        found[key] = _clip(text)
    return found


def _names_generator(text: str) -> bool:
    return bool(
        _GENERATOR_NAMES.search(text) or _A1111_PARAMS.search(text) or _COMFY_GRAPH.search(text)
    )


def _clip(text: str) -> str:
    text = text.replace("\x00", " ")
    if len(text) <= MAX_TEXT_CHARS:
        return text
    return f"{text[:MAX_TEXT_CHARS]} […; {len(text)} characters in all]"


def describe_generator_text(key: str, value: str) -> str:
    """One sentence about one generator text entry (works on clipped values too)."""
    # Bare keys are PNG text chunks; other places are named in full ("EXIF Software").
    where = f"PNG text chunk '{key}'" if " " not in key else key
    base = key.lower()
    comfy = _COMFY_GRAPH.search(value)
    if comfy and (base in ("prompt", "workflow") or " " in key or base not in _GENERATOR_KEYS):
        model = _COMFY_MODEL.search(value)
        extra = f", model '{model.group(1)}'" if model else ""
        return f"{where} holds a ComfyUI node graph (written by ComfyUI{extra})"
    if base == "parameters" or _A1111_PARAMS.search(value):
        model = _SD_MODEL.search(value)
        extra = f" (model '{model.group(1).strip()}')" if model else ""
        return f"{where} written by a Stable Diffusion-style generator{extra}"
    if base == "prompt":
        return f"{where} holds a text prompt, as image generators write"
    if base in _GENERATOR_KEYS:
        return f"{where} written by {_GENERATOR_KEYS[base]}"
    name = _GENERATOR_NAMES.search(value)
    if name:
        return f"{where} names an image generator ('{name.group(1)}')"
    return f"{where} looks like image-generator output"  # pragma: no cover - defensive
