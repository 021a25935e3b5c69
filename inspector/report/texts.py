"""The report's own sentences and labels (Qt-free): how to read it, its limitations, the demo
warning, the names of custody-log actions and the provenance signals in plain words.

Verdicts, changes, P(AI-generated) and overrides are worded by :mod:`inspector.core.wording`, as
in the window and on the command line.
"""

from __future__ import annotations

from typing import Any

from inspector.core.provenance import Provenance
from inspector.core.results import ModelProvenance
from inspector.core.wording import AGAINST_FINDINGS, P_AI_LABEL

__all__ = [
    "ELA_CAVEAT",
    "FORENSICS_INTRO",
    "FORENSICS_MARKS",
    "FORENSICS_LIMITATIONS",
    "HOW_TO_READ",
    "LIMITATIONS",
    "action_label",
    "demo_warning",
    "field_label",
    "provenance_lines",
    "recorded",
]

HOW_TO_READ = (
    "Each image was analysed with Locate-Then-Examine. Query 1 (Locate): the model reads the "
    "whole image and gives an initial verdict, an explanation and numbered suspicious regions. "
    "The app then cuts a magnified close-up of each region. Query 2 (Examine): the model sees "
    "the close-ups and gives a finding per region and its corrected verdict; a corrected "
    f"verdict that none of those findings points to is marked \"{AGAINST_FINDINGS}\": "
    "what the model says it saw close up does not explain it. The model's verdicts "
    "are \"Real\" or \"AI-generated\"; an answer the app could not read is shown as "
    "\"unparsed\" and never guessed. An examiner may override the model with \"Real\", "
    "\"AI-generated\" or \"Inconclusive\"; the verdict of record is the examiner's override "
    "where there is one, otherwise the model's corrected verdict, and the model's own verdicts "
    f"are always shown beside it. {P_AI_LABEL} is the model's probability for \"AI-generated\" "
    "read from its token probabilities at the verdict, or \"not available\" when the backend "
    "does not expose them. Boxes are drawn in the image's own pixel coordinates; a dashed box "
    "was not examined close up."
)

LIMITATIONS = (
    "This is a model-based assessment, not proof. The verdicts, boxes and explanations were "
    "produced by a vision-language model and can be wrong in either direction; they show where "
    "and why the model found the image suspicious and must be weighed with other evidence by a "
    f"qualified examiner. {P_AI_LABEL}, where shown, is the model's own probability read at its "
    "verdict and is not a calibrated error rate. Metadata and provenance signals (EXIF, C2PA "
    "Content Credentials, IPTC digital source type, software tags) can be stripped by ordinary "
    "re-saving or forged; their absence proves nothing and their presence only shows what the "
    "file claims. The SHA-256 identifies the exact bytes that were analysed; a file that no "
    "longer matches it is not the file the results describe."
)

# The classic forensic analyses (issue 15): what they are, stated once with the limitations.
FORENSICS_LIMITATIONS = (
    "The forensic analyses are classic signal-processing methods run on the file independently "
    "of the model; they never change its verdicts and are not weighed into them. Each measures "
    "one property of the file (its JPEG structure and compression history, periodic patterns, "
    "repeated areas, noise, metadata). A result consistent with a camera original does not show "
    "that an image is authentic, and none of them on its own shows that an image is "
    "AI-generated or edited. Their scores are measures of each method, not probabilities. The "
    "limits of each method used in this case:"
)

ELA_CAVEAT = (
    "Error level analysis (ELA) is not a test of authenticity. It shows how much each area "
    "changes when the image is saved again as JPEG: edges, fine texture and saturated colours "
    "are bright in untouched photographs too, and an edited image saved again as a whole can "
    "look even. Bright or uneven areas are not evidence of editing by themselves; read the map "
    "only together with the other analyses."
)

FORENSICS_INTRO = (
    "Classic analyses of the file, run independently of the model: they do not change its "
    "verdicts."
)
FORENSICS_MARKS = (
    "Black dash-dot boxes with letter tags mark their regions (the model's boxes are numbered "
    "and coloured)."
)

_ACTIONS = {
    "case-created": "Case created",
    "analysed": "Image analysed",
    "analysis-failed": "Analysis failed",
    "examiner-input": "Examiner notes / override",
    "report-exported": "PDF report exported",
    "csv-exported": "Table exported (CSV)",
}

_FIELDS = {
    "sha256": "SHA-256",
    "analysis_id": "Analysis",
    "file": "File",
    "detail": "Detail",
}


def demo_warning(model: ModelProvenance) -> str:
    return (
        f"DEMO MODEL: {model.model_id} is a small demonstration/test model, not a detector. "
        "Its output shows how the workflow runs and has no evidential value."
    )


def recorded(value: Any, empty: str = "not recorded") -> str:
    """Any recorded value as plain text (`empty` for empties)."""
    if value is None or value == "" or value == [] or value == {}:
        return empty
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return "; ".join(f"{field_label(str(k))}: {recorded(v, empty)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(recorded(v, empty) for v in value)
    return str(value)


def action_label(action: str) -> str:
    """"report-exported" → "PDF report exported"; unknown actions in plain words."""
    if action in _ACTIONS:
        return _ACTIONS[action]
    words = action.replace("-", " ").replace("_", " ").strip()
    return words[:1].upper() + words[1:] if words else "(no action recorded)"


def field_label(key: str) -> str:
    """A record's key as a label: "analysis_id" → "Analysis", "claim_generator" → "Claim
    generator"."""
    if key in _FIELDS:
        return _FIELDS[key]
    words = key.replace("_", " ").replace("-", " ").strip()
    return words[:1].upper() + words[1:]


def provenance_lines(data: dict[str, Any] | None) -> list[str]:
    """The provenance signals of an evidence record, one plain sentence each."""
    if data is None:
        return ["Provenance signals were not checked when this image was analysed."]
    prov = Provenance.from_dict(data)
    c2pa = prov.c2pa
    lines = []
    if c2pa.status == "absent":
        lines.append("No Content Credentials (C2PA) in the file.")
    else:
        state = {"valid": "present and valid", "invalid": "present but INVALID",
                 "unreadable": "present but unreadable"}[c2pa.status]
        parts = [f"Content Credentials (C2PA): {state}"]
        if c2pa.validation_state:
            parts.append(f"validation: {c2pa.validation_state}")
        if c2pa.claim_generator:
            parts.append(f"written by {c2pa.claim_generator}")
        if c2pa.signer:
            parts.append(f"signed by {c2pa.signer}"
                         + (f" at {c2pa.signed_at}" if c2pa.signed_at else ""))
        if c2pa.actions:
            parts.append("actions: " + ", ".join(c2pa.actions))
        if c2pa.ingredients:
            parts.append(f"{c2pa.ingredients} ingredient(s)")
        lines.append("; ".join(parts) + ".")
        lines += [f"C2PA validation error: {e}" for e in c2pa.validation_errors]
    missing = []
    if prov.digital_source_type:
        origin = {"xmp": "XMP metadata", "c2pa": "the C2PA manifest"}.get(
            prov.digital_source_type_from or "", "the metadata")
        lines.append(f"IPTC digital source type: {prov.digital_source_type} (from {origin}).")
    else:
        missing.append("IPTC digital source type")
    if prov.generator_text:
        lines.append("Image-generator text in the metadata: " + ", ".join(prov.generator_text)
                     + ".")
    else:
        missing.append("image-generator text")
    if prov.software:
        lines.append(f"Software tag: {prov.software}.")
    else:
        missing.append("software tag")
    if missing:
        listed = missing[0] if len(missing) == 1 else (
            ", ".join(missing[:-1]) + " or " + missing[-1])
        lines.append(f"No {listed} in the metadata.")
    signals = prov.ai_signals
    if signals:
        lines += [f"Signal of AI generation: {s}." for s in signals]
    else:
        lines.append("No metadata signal of AI generation.")
    lines += [f"Note: {n}" for n in prov.notes]
    return lines
