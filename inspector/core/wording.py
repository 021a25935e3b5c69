"""How verdicts, changes, confidences and overrides are said — once, for the CLI, window and report.

Qt-free plain text. Every place that shows a verdict to a person calls these functions, so the
command line, the desktop window and the PDF report say the same thing the same way.
"""

from __future__ import annotations

import datetime as dt

from inspector.core.results import INCONCLUSIVE, Analysis, ExaminerInput

__all__ = [
    "AGAINST_FINDINGS",
    "P_AI_LABEL",
    "changed_text",
    "closeup_ablation_text",
    "confidence_text",
    "findings_disagreement_text",
    "format_time",
    "format_time_seconds",
    "override_text",
    "p_ai_reading",
    "p_ai_text",
    "record_text",
    "region_text",
    "verdict_text",
]

_WORDS = {"real": "Real", "ai-generated": "AI-generated", INCONCLUSIVE: "Inconclusive"}
P_AI_LABEL = "P(AI-generated)"  # the one name for the model's probability, everywhere
# The short mark of a corrected verdict that follows none of Query 2's findings, everywhere a
# long sentence (findings_disagreement_text) does not fit.
AGAINST_FINDINGS = "against its own findings"


def verdict_text(verdict: str | None) -> str:
    """"Real", "AI-generated", "Inconclusive" (examiners only), or "unparsed" for anything else."""
    return _WORDS.get(verdict or "", "unparsed")


def confidence_text(p: float | None) -> str:
    """The probability as two decimals, or "not available" (never invented)."""
    if p is None or not isinstance(p, int | float) or p != p:
        return "not available"
    return f"{float(p):.2f}"


def region_text(label: str, confidence: float | None) -> str:
    """A region's label, with how surely the model wrote it when that is known."""
    if confidence is None:
        return label
    return f"{label} (written with surety {confidence_text(confidence)})"


def p_ai_text(p: float | None) -> str:
    """"P(AI-generated) 0.87" or "P(AI-generated) not available"."""
    return f"{P_AI_LABEL} {confidence_text(p)}"


def p_ai_reading(p: float | None) -> str:
    """A short plain-language reading of P(AI-generated), for tooltips and the report."""
    if p is None or not isinstance(p, int | float) or p != p:
        return "The model did not expose its token probabilities, so no probability is shown."
    if p >= 0.9:
        reading = "the model is sure it is AI-generated"
    elif p >= 0.6:
        reading = "the model leans towards AI-generated"
    elif p > 0.4:
        reading = "the model is undecided"
    elif p > 0.1:
        reading = "the model leans towards real"
    else:
        reading = "the model is sure it is real"
    return (f"{P_AI_LABEL} {float(p):.2f}: {reading}. Read from the model's token probabilities "
            "at the verdict; uncalibrated, so not a measured error rate.")


def changed_text(analysis: Analysis) -> str:
    """"Real → AI-generated" when Query 2 changed the verdict, "unchanged", or why it can't tell."""
    initial = verdict_text(analysis.initial_verdict)
    final = verdict_text(analysis.final_verdict)
    if analysis.changed is None:
        return f"not comparable ({initial} → {final}: a verdict is unparsed)"
    if analysis.changed:
        return f"{initial} → {final}"
    return "unchanged"


def format_time(stamp: str | None, *, seconds: bool = False) -> str:
    """An ISO timestamp as "2026-11-22 10:00 UTC" ("… 10:00:05 UTC" with ``seconds``, for logs
    and records); kept as given when it does not parse."""
    if not stamp:
        return ""
    try:
        when = dt.datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    shape = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    if when.tzinfo is not None:
        return when.astimezone(dt.UTC).strftime(shape + " UTC")
    return when.strftime(shape)


def format_time_seconds(stamp: str | None) -> str:
    """``format_time(stamp, seconds=True)``."""
    return format_time(stamp, seconds=True)


def override_text(examiner: ExaminerInput) -> str:
    """"Examiner override: AI-generated — by J. Doe, 2026-11-22 10:00 UTC", or "" without one."""
    if examiner.override_verdict is None:
        return ""
    who = examiner.examiner or "an unnamed examiner"
    when = format_time(examiner.updated)
    return (f"Examiner override: {verdict_text(examiner.override_verdict)} — by {who}"
            + (f", {when}" if when else ""))


def record_text(analysis: Analysis) -> str:
    """The verdict of record in one line: the override (marked as such) or the model's final."""
    if analysis.overridden:
        return f"{verdict_text(analysis.verdict_of_record)} (examiner override)"
    return verdict_text(analysis.final_verdict)


def closeup_ablation_text(analysis: Analysis) -> str | None:
    """What Query 2 examined when it was not the located regions (an ablation run), else None.

    Said next to the close-ups wherever they are shown: a random close-up carries the label of
    the region it stands in for, so without this line it would pass for the model's own."""
    policy = analysis.closeup_policy or {}
    if policy.get("mode") != "random":
        return None
    return ("ABLATION: Query 2 examined random boxes of the located regions' sizes (seed "
            f"{policy.get('seed')}), not the regions the model located; the close-ups and the "
            "corrected verdict are those of the random boxes.")


def findings_disagreement_text(analysis: Analysis) -> str | None:
    """What to say when the corrected verdict follows none of the model's own findings, else None.

    Said wherever the corrected verdict is shown: the findings are the model's reading of the
    close-ups, so a verdict against all of them is not explained by what the model says it saw.
    """
    if analysis.follows_findings is not False:
        return None
    named = [f for f in analysis.findings if f.points_to is not None]
    count = "its finding points" if len(named) == 1 else f"all {len(named)} of its findings point"
    return (f"The corrected verdict ({verdict_text(analysis.final_verdict)}) follows none of the "
            f"model's own findings: {count} to {verdict_text(named[0].points_to)}. The "
            "close-ups, as the model described them, do not explain this verdict.")
