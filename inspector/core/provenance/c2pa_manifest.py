"""C2PA (Content Credentials) manifests: read and validated with c2pa-python, never online."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from inspector.core.provenance.generators import AI_SOURCE_TYPES, short_source_type
from inspector.core.provenance.records import C2paInfo, opt_str

__all__ = ["has_c2pa_jumbf", "read_c2pa"]

_MAX_SIDECAR = 64 << 20

# Pillow format name (as inspector.core.formats names it) -> MIME type c2pa-python reads.
_C2PA_MIME = {
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "TIFF": "image/tiff",
    "GIF": "image/gif",
    "AVIF": "image/avif",
    "HEIF": "image/heif",
    "JXL": "image/jxl",
    "DNG": "image/dng",
    "SVG": "image/svg+xml",
}
# Formats we decode that have no place for an embedded C2PA manifest.
_NO_C2PA_FORMATS = frozenset({"BMP", "DIB", "PPM", "JPEG2000", "TGA"})
_UNTRUSTED_CODES = frozenset({"signingCredential.untrusted"})


def read_c2pa(
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
    if isinstance(exc, failed_validation) or has_c2pa_jumbf(data):
        # A manifest is there but does not hold together: that is a failed validation.
        return C2paInfo(status="invalid", validation_errors=[text])
    notes.append(f"C2PA manifest could not be read ({text}).")
    return C2paInfo(status="unreadable")


def has_c2pa_jumbf(data: bytes) -> bool:
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
    org, cn = opt_str(sig.get("issuer")), opt_str(sig.get("common_name"))
    info.signer = f"{org} ({cn})" if org and cn and org != cn else (org or cn)
    info.signed_at = opt_str(sig.get("time"))
    ingredients = active.get("ingredients")
    info.ingredients = len(ingredients) if isinstance(ingredients, list) else 0

    actions = list(_actions(active))
    info.actions = [name for name, _, _ in actions]
    info.ai_actions = _ai_lines(active, manifests, "the image", set(), 0)
    dst = next(
        (short_source_type(d) for name, d, _ in actions if d and name == "c2pa.created"), None
    ) or next((short_source_type(d) for _, d, _ in actions if d), None)
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
        short = short_source_type(dst) if dst else None
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
