"""The provenance record: what one file's metadata says about where it came from."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from inspector.core.provenance.generators import AI_SOURCE_TYPES, describe_generator_text

__all__ = ["C2PA_STATUSES", "PROVENANCE_NOTE", "C2paInfo", "Provenance"]

PROVENANCE_NOTE = (
    "These provenance signals come from the file's metadata, which can be stripped or forged; "
    "they are shown for the examiner's judgement and never change the model's verdict."
)

C2PA_STATUSES = ("absent", "valid", "invalid", "unreadable")

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
            claim_generator=opt_str(data.get("claim_generator")),
            signer=opt_str(data.get("signer")),
            signed_at=opt_str(data.get("signed_at")),
            actions=_str_list(data.get("actions")),
            ai_actions=_str_list(data.get("ai_actions")),
            ingredients=_int(data.get("ingredients")),
            validation_errors=_str_list(data.get("validation_errors")),
            validation_state=opt_str(data.get("validation_state")),
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
            signals.append(describe_generator_text(key, value))
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
            digital_source_type=opt_str(data.get("digital_source_type")),
            digital_source_type_from=origin if origin in ("xmp", "c2pa") else None,
            generator_text=(
                {str(k): str(v) for k, v in text.items()} if isinstance(text, dict) else {}
            ),
            software=opt_str(data.get("software")),
            notes=_str_list(data.get("notes")),
        )


def opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _str_list(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list | tuple) else []


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
