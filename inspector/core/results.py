"""Versioned, JSON-serializable records of one analysis.

Boxes here are always original-image pixels `[x1, y1, x2, y2]`. `from_dict` accepts what
`to_dict` wrote for this schema version and refuses newer ones with a clear message, so an old
app never silently misreads a newer case file.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = 1
INCONCLUSIVE = "inconclusive"
# What an examiner may record as the verdict of record: the model's two verdicts, or neither.
OVERRIDE_VERDICTS: tuple[str, ...] = ("real", "ai-generated", INCONCLUSIVE)


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@dataclass
class Evidence:
    path: str
    size_bytes: int
    sha256: str
    width: int
    height: int
    format: str
    original_mode: str = ""
    frame_count: int = 1
    orientation: int | None = None
    exif: dict[str, str] = field(default_factory=dict)
    provenance: dict[str, Any] | None = None  # Provenance.to_dict(); None: not checked


@dataclass
class ModelProvenance:
    model_id: str
    backend: str
    model_type: str = ""
    revision: str | None = None
    weights_sha256: str | None = None
    adapter_id: str | None = None
    adapter_sha256: str | None = None  # of the adapter's safetensors, like weights_sha256
    quantization: str = "none"
    dtype: str = ""
    device: str = ""
    prompts_version: str = ""
    generation: dict[str, Any] = field(default_factory=dict)
    software_version: str = ""
    is_demo: bool = False


@dataclass
class QueryRecord:
    raw_text: str
    explanation: str | None
    verdict: str | None  # "real" | "ai-generated" | None (unparsed)
    confidence: float | None  # P(ai-generated); None when the backend cannot tell
    problems: list[str] = field(default_factory=list)
    prompt_tokens: int = 0
    prefill_tokens: int = 0  # prompt tokens actually computed (the rest came from the cache)
    generated_tokens: int = 0
    seconds: float = 0.0
    stop_reason: str = ""  # "eos" | "length" | "cancelled"


@dataclass
class RegionRecord:
    number: int  # 1-based, as shown to the user and to the model in Query 2
    box: list[float]  # original-image pixels
    label: str
    model_coords: list[float] = field(default_factory=list)  # as the model wrote them
    examined: bool = False  # a close-up of it went to Query 2
    # how sure the model was of this region as it wrote it: the geometric mean of its tokens'
    # probabilities; None when the backend gives no token probabilities
    confidence: float | None = None


@dataclass
class CloseupRecord:
    region: int  # RegionRecord.number
    crop_box: list[float]
    output_size: list[int]
    scale: float
    box: list[float] | None = None  # the random stand-in examined (--closeups random), else None


@dataclass
class FindingRecord:
    region: int
    observation: str
    points_to: str | None


@dataclass
class ExaminerInput:
    examiner: str = ""
    notes: str = ""
    override_verdict: str | None = None
    updated: str | None = None


@dataclass
class Analysis:
    evidence: Evidence
    model: ModelProvenance
    query1: QueryRecord
    regions: list[RegionRecord] = field(default_factory=list)
    closeups: list[CloseupRecord] = field(default_factory=list)
    query2: QueryRecord | None = None
    findings: list[FindingRecord] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    examine_skipped: str | None = None  # why Query 2 did not run, when it did not
    # The CloseupPolicy used (close-up mode located/random/none, region order, seed, budget) and
    # what the close-ups cost against the global view; None in records made before it existed.
    closeup_policy: dict[str, Any] | None = None
    examiner: ExaminerInput = field(default_factory=ExaminerInput)
    # Independent forensic analyses (name -> ForensicResult.to_dict(map_path)); None: not run.
    # Shown beside the verdict, never changing it; map paths are relative to the case folder.
    forensics: dict[str, dict[str, Any]] | None = None
    timings: dict[str, float] = field(default_factory=dict)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created: str = field(default_factory=utc_now)
    schema_version: int = SCHEMA_VERSION

    @property
    def initial_verdict(self) -> str | None:
        return self.query1.verdict

    @property
    def final_verdict(self) -> str | None:
        """Query 2's verdict; Query 1's when Query 2 was skipped."""
        return self.query2.verdict if self.query2 is not None else self.query1.verdict

    @property
    def final_confidence(self) -> float | None:
        return self.query2.confidence if self.query2 is not None else self.query1.confidence

    @property
    def final_explanation(self) -> str | None:
        return self.query2.explanation if self.query2 is not None else self.query1.explanation

    @property
    def overridden(self) -> bool:
        return self.examiner.override_verdict is not None

    @property
    def verdict_of_record(self) -> str | None:
        """The examiner's override when there is one, else the model's final verdict."""
        return self.examiner.override_verdict or self.final_verdict

    @property
    def changed(self) -> bool | None:
        """True/False when both verdicts parsed; None when either is unparsed."""
        if self.initial_verdict is None or self.final_verdict is None:
            return None
        return self.initial_verdict != self.final_verdict

    @property
    def follows_findings(self) -> bool | None:
        """Whether Query 2's verdict agrees with at least one of its own findings.

        False when every finding that names a verdict names the other one: the model's
        explanation of the close-ups and its verdict disagree, which an examiner must see. None
        when there is nothing to compare (Query 2 skipped, its verdict unparsed, or no finding
        names a verdict).
        """
        if self.query2 is None or self.query2.verdict is None:
            return None
        named = [f.points_to for f in self.findings if f.points_to is not None]
        if not named:
            return None
        return self.query2.verdict in named

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["summary"] = {  # derived, for readers of the JSON; ignored by from_dict
            "initial_verdict": self.initial_verdict,
            "final_verdict": self.final_verdict,
            "final_confidence": self.final_confidence,
            "changed": self.changed,
            "follows_findings": self.follows_findings,
            "verdict_of_record": self.verdict_of_record,
            "overridden": self.overridden,
        }
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Analysis:
        version = data.get("schema_version")
        if not isinstance(version, int) or version > SCHEMA_VERSION:
            raise ValueError(
                f"analysis schema version {version!r} is not supported by this version of the "
                f"app (it reads up to {SCHEMA_VERSION}); update LTE Inspector"
            )
        query2 = data.get("query2")
        return cls(
            evidence=_evidence_from_dict(data["evidence"]),
            model=ModelProvenance(**data["model"]),
            query1=QueryRecord(**data["query1"]),
            regions=[RegionRecord(**r) for r in data.get("regions", [])],
            closeups=[CloseupRecord(**c) for c in data.get("closeups", [])],
            query2=QueryRecord(**query2) if query2 is not None else None,
            findings=[FindingRecord(**f) for f in data.get("findings", [])],
            tags=list(data.get("tags", [])),
            examine_skipped=data.get("examine_skipped"),
            closeup_policy=data.get("closeup_policy"),
            examiner=ExaminerInput(**data.get("examiner", {})),
            forensics=data.get("forensics"),
            timings=dict(data.get("timings", {})),
            id=data["id"],
            created=data["created"],
            schema_version=version,
        )


def _evidence_from_dict(data: dict[str, Any]) -> Evidence:
    fields = dict(data)
    # Records written before provenance existed carried an always-empty "c2pa" slot.
    legacy = fields.pop("c2pa", None)
    if legacy is not None and fields.get("provenance") is None:
        fields["provenance"] = {"c2pa": legacy}
    return Evidence(**fields)
