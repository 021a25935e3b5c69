"""Provenance signals read from an evidence file's metadata, next to (never inside) the verdict.

A vision-language detector looks only at pixels. Files often also say where they came from:
C2PA / Content Credentials manifests (signed claims, validated here with c2pa-python), the IPTC
``DigitalSourceType`` in XMP (e.g. ``trainedAlgorithmicMedia``), and the text chunks image
generators write into PNGs (Stable Diffusion's ``parameters``, ComfyUI's ``prompt``/``workflow``).
This module reads them from the bytes already loaded (the same bytes that were hashed), so it never
opens the evidence file again. Reading is total: whatever the bytes are, :func:`read_provenance`
returns a :class:`Provenance` and records what it could not read in ``notes``.

These signals are reported separately from the model's verdict and never change it.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import struct
import warnings
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "AI_SOURCE_TYPES",
    "C2PA_STATUSES",
    "PROVENANCE_NOTE",
    "C2paInfo",
    "Provenance",
    "read_provenance",
]

log = logging.getLogger(__name__)

PROVENANCE_NOTE = (
    "These provenance signals come from the file's metadata, which can be stripped or forged; "
    "they are shown for the examiner's judgement and never change the model's verdict."
)

C2PA_STATUSES = ("absent", "valid", "invalid", "unreadable")

MAX_TEXT_CHARS = 2000  # kept per generator text value (reports stay readable)
_MAX_INFLATE = 8 << 20  # compressed PNG text is inflated at most this far (zip bombs)
_MAX_SIDECAR = 64 << 20
_MAX_SCAN_HITS = 32  # occurrences of an XMP property name examined per file
_MAX_PNG_CHUNKS = 100_000
_IPTC_DST_PREFIX = "http://cv.iptc.org/newscodes/digitalsourcetype/"

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

# Pillow format name -> MIME type c2pa-python reads.
_C2PA_MIME = {
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "TIFF": "image/tiff",
    "GIF": "image/gif",
    "AVIF": "image/avif",
    "HEIF": "image/heif",
    "HEIC": "image/heic",
    "JXL": "image/jxl",
    "DNG": "image/dng",
    "SVG": "image/svg+xml",
}
_MIME_FORMAT = {mime: fmt for fmt, mime in reversed(_C2PA_MIME.items())}
_FORMAT_ALIASES = {"JPG": "JPEG", "TIF": "TIFF", "HEIC": "HEIF", "HIF": "HEIF"}
# Formats we decode that have no place for an embedded C2PA manifest.
_NO_C2PA_FORMATS = frozenset({"BMP", "DIB", "PPM", "PGM", "PBM", "PNM", "JPEG2000", "TGA"})
_METADATA_FORMATS = ("JPEG", "PNG", "WEBP", "TIFF", "GIF", "AVIF", "HEIF", "JXL")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_UNTRUSTED_CODES = frozenset({"signingCredential.untrusted"})


# --------------------------------------------------------------------------------------------
# Records


@dataclass
class C2paInfo:
    """What a C2PA (Content Credentials) manifest in the file says, and whether it validates."""

    status: str = "absent"  # "absent" | "valid" | "invalid" | "unreadable"
    claim_generator: str | None = None  # the software that wrote the manifest
    signer: str | None = None  # organisation / common name of the signing certificate
    signed_at: str | None = None  # trusted timestamp of the signature, when there is one
    actions: list[str] = field(default_factory=list)  # e.g. ["c2pa.created"]
    ai_actions: list[str] = field(default_factory=list)  # readable lines, see _ai_line
    ingredients: int = 0
    validation_errors: list[str] = field(default_factory=list)  # "code: explanation"
    validation_state: str | None = None  # c2pa's own word: "Valid" | "Trusted" | "Invalid"

    @classmethod
    def from_dict(cls, data: Any) -> C2paInfo:
        if not isinstance(data, dict):
            return cls(status="unreadable")
        status = data.get("status")
        return cls(
            status=status if status in C2PA_STATUSES else "unreadable",
            claim_generator=_opt_str(data.get("claim_generator")),
            signer=_opt_str(data.get("signer")),
            signed_at=_opt_str(data.get("signed_at")),
            actions=_str_list(data.get("actions")),
            ai_actions=_str_list(data.get("ai_actions")),
            ingredients=_int(data.get("ingredients")),
            validation_errors=_str_list(data.get("validation_errors")),
            validation_state=_opt_str(data.get("validation_state")),
        )


@dataclass
class Provenance:
    """All provenance signals found in one file. Shown beside the verdict; never merged into it."""

    c2pa: C2paInfo = field(default_factory=C2paInfo)
    digital_source_type: str | None = None  # IPTC short form, e.g. "trainedAlgorithmicMedia"
    digital_source_type_from: str | None = None  # "xmp" | "c2pa"
    generator_text: dict[str, str] = field(default_factory=dict)  # where -> text (clipped)
    software: str | None = None  # EXIF Software, else XMP CreatorTool
    notes: list[str] = field(default_factory=list)

    @property
    def ai_signals(self) -> list[str]:
        """Plain sentences, one per metadata signal that the image was machine-made."""
        signals: list[str] = []
        suffix = {
            "invalid": " — but the manifest fails validation, so this claim cannot be relied on",
        }.get(self.c2pa.status, "")
        for line in self.c2pa.ai_actions:
            signals.append(f"C2PA manifest says {line}{suffix}")
        dst = self.digital_source_type
        if dst in AI_SOURCE_TYPES and self.digital_source_type_from != "c2pa":
            signals.append(
                f"XMP metadata (IPTC DigitalSourceType) says the image was "
                f"{AI_SOURCE_TYPES[dst]} ({dst})"
            )
        for key, value in self.generator_text.items():
            signals.append(_describe_generator_text(key, value))
        return signals

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> Provenance:
        """Rebuild from :meth:`to_dict` output; tolerant of missing or malformed fields."""
        if not isinstance(data, dict):
            return cls(notes=["provenance record could not be read"])
        text = data.get("generator_text")
        origin = data.get("digital_source_type_from")
        return cls(
            c2pa=C2paInfo.from_dict(data.get("c2pa", {})),
            digital_source_type=_opt_str(data.get("digital_source_type")),
            digital_source_type_from=origin if origin in ("xmp", "c2pa") else None,
            generator_text=(
                {str(k): str(v) for k, v in text.items()} if isinstance(text, dict) else {}
            ),
            software=_opt_str(data.get("software")),
            notes=_str_list(data.get("notes")),
        )


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _str_list(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list | tuple) else []


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


# --------------------------------------------------------------------------------------------
# Entry point


def read_provenance(
    data: bytes, format: str | None = None, path: str | Path | None = None
) -> Provenance:
    """Read every provenance signal from a file's bytes. Never raises.

    ``format`` is Pillow's format name (``"JPEG"``), a MIME type or a suffix; when missing it is
    sniffed from the bytes. ``path`` is only used to name the file in notes and to look for a
    ``.c2pa`` sidecar manifest next to it (opened read-only); the evidence file is not reopened.
    """
    result = Provenance()
    notes = result.notes
    try:
        data = bytes(data or b"")
        fmt = _normalise_format(format) or _sniff_format(data)
    except Exception as exc:  # a caller handing us something that is not bytes
        notes.append(f"provenance could not be read ({type(exc).__name__}: {exc})")
        return result

    c2pa_dst: str | None = None
    try:
        result.c2pa, c2pa_dst = _read_c2pa(data, fmt, path, notes)
    except Exception as exc:  # pragma: no cover - _read_c2pa already guards itself
        result.c2pa = C2paInfo(status="unreadable")
        notes.append(f"C2PA manifest could not be read ({type(exc).__name__}: {exc})")

    texts: list[tuple[str, str]] = []  # (where, text) candidates for generator detection
    extra_xmp: list[bytes] = []  # XMP from compressed PNG iTXt, invisible to the raw scan
    if data.startswith(_PNG_SIGNATURE):
        try:
            for key, value in _png_text_chunks(data, notes):
                if key == "XML:com.adobe.xmp":
                    extra_xmp.append(value.encode("utf-8", "replace"))
                else:
                    texts.append((key, value))
        except Exception as exc:
            notes.append(f"PNG text chunks could not be read ({type(exc).__name__}: {exc})")

    exif_software: str | None = None
    try:
        exif_software, more = _pillow_metadata(data, fmt)
        texts.extend(more)
    except Exception as exc:
        notes.append(f"EXIF metadata could not be read ({type(exc).__name__}: {exc})")

    xmp_dst: str | None = None
    creator_tool: str | None = None
    try:
        for blob in (data, *extra_xmp):
            if xmp_dst is None:
                raw = _xmp_value(blob, "DigitalSourceType", resource=True)
                if raw is not None:
                    xmp_dst = _short_source_type(raw)
                    if xmp_dst is None:
                        notes.append(f"XMP DigitalSourceType has an unrecognised value: {raw!r}")
            if creator_tool is None:
                creator_tool = _xmp_value(blob, "CreatorTool")
    except Exception as exc:
        notes.append(f"XMP metadata could not be read ({type(exc).__name__}: {exc})")
    if creator_tool:
        texts.append(("XMP CreatorTool", creator_tool))

    if xmp_dst is not None:
        result.digital_source_type, result.digital_source_type_from = xmp_dst, "xmp"
        if c2pa_dst is not None and c2pa_dst != xmp_dst:
            notes.append(
                f"XMP says the digital source type is {xmp_dst}, but the C2PA manifest says "
                f"{c2pa_dst}."
            )
    elif c2pa_dst is not None:
        result.digital_source_type, result.digital_source_type_from = c2pa_dst, "c2pa"

    result.software = exif_software or creator_tool or None
    try:
        result.generator_text = _generator_text(texts)
    except Exception as exc:  # pragma: no cover - pure string work
        notes.append(f"generator text could not be examined ({type(exc).__name__}: {exc})")
    return result


# --------------------------------------------------------------------------------------------
# Formats


def _normalise_format(fmt: str | None) -> str | None:
    if not fmt or not isinstance(fmt, str):
        return None
    text = fmt.strip()
    if "/" in text:
        return _MIME_FORMAT.get(text.lower())
    name = text.lstrip(".").upper()
    return _FORMAT_ALIASES.get(name, name) or None


def _sniff_format(data: bytes) -> str | None:
    head = data[:32]
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(_PNG_SIGNATURE):
        return "PNG"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "GIF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"avif", b"avis"):
            return "AVIF"
        if brand in (b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1"):
            return "HEIF"
    if head.startswith((b"\xff\x0a", b"\x00\x00\x00\x0cJXL ")):
        return "JXL"
    if head.startswith(b"BM"):
        return "BMP"
    return None


# --------------------------------------------------------------------------------------------
# C2PA


def _read_c2pa(
    data: bytes, fmt: str | None, path: str | Path | None, notes: list[str]
) -> tuple[C2paInfo, str | None]:
    """Return the manifest summary and the digital source type its actions declare."""
    if fmt in _NO_C2PA_FORMATS:
        notes.append(f"{fmt} files cannot carry an embedded C2PA manifest.")
        return C2paInfo(status="absent"), None
    try:
        import c2pa
    except Exception as exc:  # the dependency is declared; a broken install must not stop us
        notes.append(f"C2PA was not checked: c2pa-python is unavailable ({exc}).")
        return C2paInfo(status="unreadable"), None

    mime = _C2PA_MIME.get(fmt) if fmt else None
    try:
        store = _c2pa_store(c2pa, mime, data, None)
        if store is None:
            sidecar = _read_sidecar(path)
            if sidecar is None:
                return C2paInfo(status="absent"), None
            store = _c2pa_store(c2pa, mime, data, sidecar)
            if store is None:
                return C2paInfo(status="absent"), None
            notes.append(f"C2PA manifest read from the sidecar file {_sidecar_path(path)}.")
    except c2pa.C2paError as exc:
        return _c2pa_failure(c2pa, exc, data, notes), None
    except Exception as exc:
        notes.append(f"C2PA manifest could not be read ({type(exc).__name__}: {exc}).")
        return C2paInfo(status="unreadable"), None
    try:
        return _summarise_store(store, notes)
    except Exception as exc:
        notes.append(f"C2PA manifest could not be interpreted ({type(exc).__name__}: {exc}).")
        return C2paInfo(status="unreadable"), None


def _c2pa_store(c2pa: Any, mime: str | None, data: bytes, sidecar: bytes | None) -> dict | None:
    """The manifest store as JSON, or None when there is no manifest. Raises C2paError."""
    # No network while reading evidence: no remote manifests, no OCSP look-ups.
    settings = c2pa.Settings.from_dict(
        {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
    )
    with settings, c2pa.Context(settings) as context:
        try:
            reader = c2pa.Reader(mime, io.BytesIO(data), sidecar, context=context)
        except c2pa.C2paError.ManifestNotFound:
            return None
        with reader:
            store = json.loads(reader.json())
            if not store.get("validation_state"):
                store["validation_state"] = reader.get_validation_state()
    return store if isinstance(store, dict) else {}


def _c2pa_failure(c2pa: Any, exc: Exception, data: bytes, notes: list[str]) -> C2paInfo:
    text = str(exc).strip() or type(exc).__name__
    err = c2pa.C2paError
    if isinstance(exc, err.RemoteManifest):
        notes.append(
            f"The C2PA manifest is stored remotely and was not fetched ({text}); reading "
            "evidence never touches the network."
        )
        return C2paInfo(status="unreadable")
    failed_validation = (err.Signature, err.Verify, err.Manifest, err.Assertion, err.Json)
    if isinstance(exc, failed_validation) or _has_c2pa_jumbf(data):
        # A manifest is there but does not hold together: that is a failed validation.
        return C2paInfo(status="invalid", validation_errors=[text])
    notes.append(f"C2PA manifest could not be read ({text}).")
    return C2paInfo(status="unreadable")


def _has_c2pa_jumbf(data: bytes) -> bool:
    """A JUMBF description box labelled as a C2PA manifest store is in the bytes."""
    return b"jumdc2pa" in data


def _sidecar_path(path: str | Path | None) -> Path | None:
    """``photo.c2pa`` next to ``photo.jpg``: where C2PA tools put a manifest kept outside."""
    if path is None:
        return None
    try:
        return Path(path).with_suffix(".c2pa")
    except (TypeError, ValueError):
        return None


def _read_sidecar(path: str | Path | None) -> bytes | None:
    sidecar = _sidecar_path(path)
    if sidecar is None:
        return None
    try:
        if not sidecar.is_file() or sidecar.stat().st_size > _MAX_SIDECAR:
            return None
        with open(sidecar, "rb") as fh:  # read-only; never the evidence file itself
            return fh.read(_MAX_SIDECAR + 1)[:_MAX_SIDECAR] or None
    except (OSError, ValueError):
        return None


def _summarise_store(store: dict, notes: list[str]) -> tuple[C2paInfo, str | None]:
    manifests = store.get("manifests") if isinstance(store.get("manifests"), dict) else {}
    active = manifests.get(store.get("active_manifest")) or {}
    info = C2paInfo(status="valid")

    failures = _failures(store)
    untrusted = [f for f in failures if f[0] in _UNTRUSTED_CODES]
    errors = [f for f in failures if f[0] not in _UNTRUSTED_CODES]
    info.validation_errors = [f"{code}: {text}" if text else code for code, text in errors]
    state = store.get("validation_state")
    info.validation_state = str(state) if state else None
    if state == "Invalid" or (state not in ("Valid", "Trusted") and errors) or not active:
        info.status = "invalid"
        if not active and not info.validation_errors:
            info.validation_errors.append("the manifest store has no active manifest")
    if untrusted:
        notes.append(
            "The C2PA signing certificate is not on any trust list known here: the signature "
            "shows who signed only as far as you trust that certificate."
        )

    info.claim_generator = _claim_generator(active)
    sig = active.get("signature_info") if isinstance(active.get("signature_info"), dict) else {}
    org, cn = _opt_str(sig.get("issuer")), _opt_str(sig.get("common_name"))
    info.signer = f"{org} ({cn})" if org and cn and org != cn else (org or cn)
    info.signed_at = _opt_str(sig.get("time"))
    ingredients = active.get("ingredients")
    info.ingredients = len(ingredients) if isinstance(ingredients, list) else 0

    actions = list(_actions(active))
    info.actions = [name for name, _, _ in actions]
    info.ai_actions = _ai_lines(active, manifests, "the image", set(), 0)
    dst = next(
        (_short_source_type(d) for name, d, _ in actions if d and name == "c2pa.created"), None
    ) or next((_short_source_type(d) for _, d, _ in actions if d), None)
    return info, dst


def _failures(store: dict) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    results = store.get("validation_results")
    if isinstance(results, dict):
        active = results.get("activeManifest") or {}
        out.extend(_codes(active.get("failure")))
        for delta in results.get("ingredientDeltas") or []:
            if isinstance(delta, dict):
                failed = (delta.get("validationDeltas") or {}).get("failure")
                out.extend((code, f"ingredient: {text}") for code, text in _codes(failed))
    else:
        out.extend(_codes(store.get("validation_status")))
    return out


def _codes(entries: Any) -> list[tuple[str, str]]:
    if not isinstance(entries, list):
        return []
    return [
        (str(e.get("code", "")), str(e.get("explanation", "") or ""))
        for e in entries
        if isinstance(e, dict)
    ]


def _claim_generator(manifest: dict) -> str | None:
    generator = manifest.get("claim_generator")
    if generator:
        return str(generator)
    parts = []
    for item in manifest.get("claim_generator_info") or []:
        if isinstance(item, dict) and item.get("name"):
            parts.append(f"{item['name']} {item.get('version', '')}".strip())
    return ", ".join(parts) or None


def _actions(manifest: dict):
    """Yield (action name, digitalSourceType or None, software agent or None)."""
    for assertion in manifest.get("assertions") or []:
        if not isinstance(assertion, dict):
            continue
        if not str(assertion.get("label", "")).startswith("c2pa.actions"):
            continue
        data = assertion.get("data") if isinstance(assertion.get("data"), dict) else {}
        agents = data.get("softwareAgents") if isinstance(data.get("softwareAgents"), list) else []
        for action in data.get("actions") or []:
            if not isinstance(action, dict):
                continue
            agent = action.get("softwareAgent")
            index = action.get("softwareAgentIndex")
            if agent is None and isinstance(index, int) and 0 <= index < len(agents):
                agent = agents[index]
            if isinstance(agent, dict):
                agent = " ".join(str(agent[k]) for k in ("name", "version") if agent.get(k))
            dst = action.get("digitalSourceType")
            yield (
                str(action.get("action", "")),
                str(dst) if dst else None,
                str(agent) if agent else None,
            )


def _ai_lines(manifest: dict, manifests: dict, subject: str, seen: set, depth: int) -> list[str]:
    lines = []
    for name, dst, agent in _actions(manifest):
        short = _short_source_type(dst) if dst else None
        if short in AI_SOURCE_TYPES:
            detail = f"{short}; action {name}" + (f"; software agent '{agent}'" if agent else "")
            lines.append(f"{subject} was {AI_SOURCE_TYPES[short]} ({detail})")
    if depth >= 8:
        return lines
    for ingredient in manifest.get("ingredients") or []:
        if not isinstance(ingredient, dict):
            continue
        label = ingredient.get("active_manifest")
        if not isinstance(label, str) or label in seen or label not in manifests:
            continue
        seen.add(label)
        title = str(ingredient.get("title") or "untitled")
        lines += _ai_lines(manifests[label], manifests, f"ingredient '{title}'", seen, depth + 1)
    return lines


def _short_source_type(value: str | None) -> str | None:
    if not value:
        return None
    text = str(value).strip().rstrip("/")
    short = text.rsplit("/", 1)[-1].rsplit("#", 1)[-1].strip()
    return short if re.fullmatch(r"[A-Za-z][A-Za-z0-9]{1,79}", short) else None


# --------------------------------------------------------------------------------------------
# XMP (scanned in the raw bytes: JPEG APP1, PNG iTXt, WebP/TIFF/HEIF XMP all hold plain XML)


def _xmp_value(data: bytes, name: str, resource: bool = False) -> str | None:
    """First value of XMP property ``prefix:name`` written as attribute, element or resource."""
    needle = f":{name}".encode()
    pattern = re.compile(r"[A-Za-z_][\w.-]*:" + re.escape(name) + r"(?![\w.-])")
    start = 0
    for _ in range(_MAX_SCAN_HITS):
        i = data.find(needle, start)
        if i < 0:
            return None
        start = i + len(needle)
        window = data[max(0, i - 64) : i + 1024].decode("utf-8", "replace")
        for m in pattern.finditer(window):
            if m.start() > 0 and window[m.start() - 1] == "/":  # a closing tag
                continue
            value = _property_value(window[m.end() :], resource)
            if value:
                return value[:400]
    return None


def _property_value(rest: str, resource: bool) -> str | None:
    stripped = rest.lstrip()
    if stripped.startswith("="):  # attribute form: prefix:Name="value"
        m = re.match(r"=\s*([\"'])(.*?)\1", stripped, re.DOTALL)
        return _xml_unescape(m.group(2)).strip() if m else None
    gt = rest.find(">")
    if gt < 0:
        return None
    attrs = rest[:gt]
    if resource:
        m = re.search(r"rdf:resource\s*=\s*([\"'])(.*?)\1", attrs, re.DOTALL)
        if m:
            return _xml_unescape(m.group(2)).strip()
    if attrs.rstrip().endswith("/"):
        return None
    body = rest[gt + 1 :]
    lt = body.find("<")
    content = body[:lt] if lt >= 0 else ""
    if content.strip():
        return _xml_unescape(content).strip()
    # <prefix:CreatorTool><rdf:Alt><rdf:li>value</rdf:li>… style
    m = re.match(r"\s*(?:<rdf:(?:Alt|Seq|Bag)>\s*)?<rdf:li[^>]*>([^<]*)<", body)
    return _xml_unescape(m.group(1)).strip() if m and m.group(1).strip() else None


def _xml_unescape(text: str) -> str:
    for entity, char in (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&apos;", "'")):
        text = text.replace(entity, char)
    return text.replace("&amp;", "&")


# --------------------------------------------------------------------------------------------
# PNG text chunks


def _png_text_chunks(data: bytes, notes: list[str]) -> list[tuple[str, str]]:
    """(keyword, text) of every tEXt / zTXt / iTXt chunk, wherever it sits in the file."""
    out: list[tuple[str, str]] = []
    pos = len(_PNG_SIGNATURE)
    for _ in range(_MAX_PNG_CHUNKS):
        if pos + 8 > len(data):
            break
        length, ctype = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if len(body) < length:
            notes.append("the PNG ends inside a chunk; text after that point was not read.")
            break
        if ctype in (b"tEXt", b"zTXt", b"iTXt"):
            try:
                parsed = _png_text(ctype, body)
            except Exception as exc:
                notes.append(f"a PNG {ctype.decode()} chunk could not be decoded ({exc}).")
                parsed = None
            if parsed is not None:
                out.append(parsed)
        if ctype == b"IEND":
            break
        pos += 12 + length
    return out


def _png_text(ctype: bytes, body: bytes) -> tuple[str, str] | None:
    keyword, sep, rest = body.partition(b"\x00")
    if not sep or not keyword:
        return None
    key = keyword.decode("latin-1")
    if ctype == b"tEXt":
        return key, rest.decode("latin-1")
    if ctype == b"zTXt":
        return key, _inflate(rest[1:]).decode("latin-1")
    # iTXt: compression flag, method, language tag \0, translated keyword \0, text
    if len(rest) < 2:
        return None
    compressed, rest = rest[0], rest[2:]
    _lang, _, rest = rest.partition(b"\x00")
    _translated, _, text = rest.partition(b"\x00")
    if compressed:
        text = _inflate(text)
    return key, text.decode("utf-8", "replace")


def _inflate(blob: bytes) -> bytes:
    return zlib.decompressobj().decompress(blob, _MAX_INFLATE)


# --------------------------------------------------------------------------------------------
# EXIF and format comments (through Pillow, header only: no pixels are decoded)

_EXIF_TEXT_TAGS = {  # where -> (IFD or None for IFD0, tag)
    "EXIF ImageDescription": (None, 0x010E),
    "EXIF Make": (None, 0x010F),
    "EXIF Model": (None, 0x0110),
    "EXIF Software": (None, 0x0131),
    "EXIF Artist": (None, 0x013B),
    "EXIF XPComment": (None, 0x9C9C),
    "EXIF UserComment": (0x8769, 0x9286),
}


def _pillow_metadata(data: bytes, fmt: str | None) -> tuple[str | None, list[tuple[str, str]]]:
    from PIL import Image

    texts: list[tuple[str, str]] = []
    formats = tuple(f for f in _METADATA_FORMATS if f in Image.OPEN) or None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            im = Image.open(io.BytesIO(data), formats=formats)
        except Exception:  # not an image Pillow knows: nothing to read here
            return None, texts
        with im:
            exif = im.getexif()
            ifds: dict[int | None, Any] = {None: exif}
            software = None
            for where, (ifd, tag) in _EXIF_TEXT_TAGS.items():
                try:
                    if ifd not in ifds:
                        ifds[ifd] = exif.get_ifd(ifd)
                    raw = ifds[ifd].get(tag)
                except Exception:
                    continue
                text = _exif_text(raw, tag)
                if not text:
                    continue
                if where == "EXIF Software":
                    software = text[:200]
                texts.append((where, text))
            comment = im.info.get("comment")
            if comment and im.format != "PNG":
                text = (
                    comment.decode("utf-8", "replace")
                    if isinstance(comment, bytes)
                    else str(comment)
                )
                texts.append((f"{im.format or fmt or 'file'} comment", text))
    return software, texts


def _exif_text(value: Any, tag: int) -> str:
    if value is None:
        return ""
    if isinstance(value, tuple) and value and all(isinstance(v, int) for v in value):
        with contextlib.suppress(ValueError, OverflowError):
            value = bytes(value)
    if isinstance(value, bytes):
        if tag == 0x9C9C:  # XPComment: UTF-16LE
            value = value.decode("utf-16-le", "replace")
        elif tag == 0x9286:  # UserComment: 8-byte character code, then the text
            value = _user_comment(value)
        else:
            value = value.decode("utf-8", "replace")
    return str(value).replace("\x00", " ").strip()


def _user_comment(raw: bytes) -> str:
    code, body = raw[:8], raw[8:]
    if code.startswith(b"UNICODE"):
        # Writers disagree on byte order; the one with more ASCII-range characters wins.
        be, le = body.decode("utf-16-be", "replace"), body.decode("utf-16-le", "replace")
        return max((be, le), key=lambda s: sum(32 <= ord(c) < 127 for c in s))
    if code.startswith(b"ASCII") or code == b"\x00" * 8:
        return body.decode("latin-1")
    return raw.decode("utf-8", "replace")


# --------------------------------------------------------------------------------------------
# Generator text


def _generator_text(texts: list[tuple[str, str]]) -> dict[str, str]:
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


def _describe_generator_text(key: str, value: str) -> str:
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
