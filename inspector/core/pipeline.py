"""Locate-Then-Examine, synchronously: Query 1 → parse → close-ups → Query 2 → parse → Analysis.

Progress is reported through a callback of typed events, so the CLI prints them and the GUI's
worker forwards them as Qt signals. Cancellation is a callable polled between generated tokens.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inspector.core.backends.base import Backend
from inspector.core.closeups import (
    CloseupPolicy,
    closeup_budget,
    plan_closeups,
    render_closeup,
)
from inspector.core.forensics import ForensicInput, ForensicResult, run_forensics
from inspector.core.geometry import Box
from inspector.core.imageio import LoadedImage, load_image
from inspector.core.protocol import (
    ExamineAnswer,
    LocateAnswer,
    RawRegion,
    RegionStream,
    examine_messages,
    locate_messages,
    parse_examine,
    parse_locate,
)
from inspector.core.provenance import read_provenance
from inspector.core.region_choice import region_confidence
from inspector.core.results import (
    Analysis,
    CloseupRecord,
    Evidence,
    FindingRecord,
    QueryRecord,
    RegionRecord,
)

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------------
# Events
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Started:
    path: Path


@dataclass(frozen=True)
class ImageLoaded:
    path: Path
    image: Any  # PIL.Image, RGB, orientation applied
    evidence: Evidence


@dataclass(frozen=True)
class QueryStarted:
    query: int  # 1 or 2


@dataclass(frozen=True)
class TokenGenerated:
    query: int
    text: str  # the new piece of decoded text


@dataclass(frozen=True)
class RegionLocated:
    region: RegionRecord  # box in original-image pixels


@dataclass(frozen=True)
class CloseupReady:
    closeup: CloseupRecord
    image: Any  # PIL.Image of the close-up as sent to the model
    label: str


@dataclass(frozen=True)
class InitialVerdict:
    query: QueryRecord
    regions: list[RegionRecord]


@dataclass(frozen=True)
class ForensicResultReady:
    path: Path
    result: ForensicResult  # its map (a numpy array) travels with it; the record keeps the rest


@dataclass(frozen=True)
class FinalVerdict:
    analysis: Analysis


@dataclass(frozen=True)
class Done:
    analysis: Analysis


@dataclass(frozen=True)
class Failed:
    path: Path
    message: str


@dataclass(frozen=True)
class Cancelled:
    path: Path


Event = (
    Started
    | ImageLoaded
    | QueryStarted
    | TokenGenerated
    | RegionLocated
    | CloseupReady
    | InitialVerdict
    | ForensicResultReady
    | FinalVerdict
    | Done
    | Failed
    | Cancelled
)
EventCallback = Callable[[Event], None]


class AnalysisCancelled(Exception):
    """The user cancelled; nothing was recorded for this image."""


@dataclass
class PipelineOptions:
    policy: CloseupPolicy
    examine: bool = True  # False: Query 1 only
    max_pixels_load: int = 100_000_000
    forensics: tuple[str, ...] = ()  # forensic analyses to run after the model (names)


def evidence_of(loaded: LoadedImage) -> Evidence:
    return Evidence(
        path=str(loaded.path),
        size_bytes=loaded.size_bytes,
        sha256=loaded.sha256,
        width=loaded.width,
        height=loaded.height,
        format=loaded.format,
        original_mode=loaded.original_mode,
        frame_count=loaded.frame_count,
        orientation=loaded.orientation,
        exif=dict(loaded.exif),
        provenance=read_provenance(loaded.data, loaded.format, loaded.path).to_dict(),
    )


def _safe_emitter(on_event: EventCallback | None) -> EventCallback:
    """The caller's callback, made harmless: an exception in it is logged, never raised into the
    analysis (a broken display must not kill the batch)."""
    if on_event is None:
        return lambda event: None

    def emit(event: Event) -> None:
        try:
            on_event(event)
        except Exception:
            log.exception("the event callback failed on %s; the analysis goes on", type(event))

    return emit


def _parse_failed(what: str, exc: Exception) -> str:
    """Log a parser bug and return the problem recorded on the query (its answer: unparsed)."""
    log.exception("parsing the %s failed; the answer is treated as unparsed", what)
    return f"the {what} could not be parsed ({type(exc).__name__}: {exc}); treated as unparsed"


def _query_record(turn, explanation, verdict, problems) -> QueryRecord:
    return QueryRecord(
        raw_text=turn.text,
        explanation=explanation,
        verdict=verdict,
        confidence=turn.confidence,
        problems=list(problems),
        prompt_tokens=turn.prompt_tokens,
        prefill_tokens=turn.prefill_tokens,
        generated_tokens=turn.generated_tokens,
        seconds=round(turn.seconds, 3),
        stop_reason=turn.stop_reason,
    )


class Pipeline:
    def __init__(self, backend: Backend, options: PipelineOptions) -> None:
        self.backend = backend
        self.options = options

    def analyze(
        self,
        path: str | Path,
        on_event: EventCallback | None = None,
        is_cancelled: Callable[[], bool] | None = None,
    ) -> Analysis:
        """Analyse one image. Raises ImageLoadError, BackendError or AnalysisCancelled."""
        emit = _safe_emitter(on_event)
        cancelled = is_cancelled or (lambda: False)
        path = Path(path)
        emit(Started(path))
        try:
            return self._analyze(path, emit, cancelled)
        except AnalysisCancelled:
            emit(Cancelled(path))
            raise
        except Exception as exc:
            emit(Failed(path, str(exc)))
            raise
        finally:
            self.backend.reset()

    def _analyze(self, path: Path, emit: EventCallback, cancelled) -> Analysis:
        t0 = time.perf_counter()
        loaded = load_image(path, max_pixels=self.options.max_pixels_load)
        evidence = evidence_of(loaded)
        emit(ImageLoaded(path, loaded.image, evidence))
        timings = {"load": time.perf_counter() - t0}
        size = (loaded.width, loaded.height)
        space = self.backend.coordinate_space

        # Query 1: locate
        messages1 = locate_messages(loaded.image, space.name)
        regions: list[RegionRecord] = []
        stream: RegionStream | None = RegionStream()
        text_so_far = ""
        problems1: list[str] = []

        def to_record(raw: RawRegion, token_scores=None) -> RegionRecord | None:
            box = space.from_model(raw.coords, size)
            if box is None:
                return None
            return RegionRecord(len(regions) + 1, box.to_list(), raw.label, list(raw.coords),
                                confidence=region_confidence(raw.span, token_scores))

        def on_token_1(piece: str) -> None:
            nonlocal stream, text_so_far
            text_so_far += piece
            emit(TokenGenerated(1, piece))
            if stream is None:
                return
            try:
                for raw in stream.feed(text_so_far):
                    record = to_record(raw)
                    if record is not None:
                        regions.append(record)
                        emit(RegionLocated(record))
            except Exception as exc:  # a parser bug: stop streaming; the final parse decides
                problems1.append(_parse_failed("streamed answer", exc))
                stream = None

        emit(QueryStarted(1))
        turn1 = self.backend.generate_turn(
            messages1,
            max_new_tokens=self.backend.settings.max_new_tokens_locate,
            on_token=on_token_1,
            is_cancelled=cancelled,
        )
        if turn1.stop_reason == "cancelled":
            raise AnalysisCancelled(str(path))
        try:
            answer1 = parse_locate(turn1.text)
        except Exception as exc:
            answer1 = LocateAnswer(problems=[_parse_failed("Query-1 answer", exc)])
        problems1[:0] = answer1.problems
        # The streamed regions and the final parse see the same closed objects; rebuild from the
        # final parse so a region is never missed if the stream's last piece was held back.
        regions.clear()
        for raw in answer1.regions:
            try:
                record = to_record(raw, turn1.token_scores)
            except Exception as exc:
                log.exception("converting region %r to image pixels failed", raw.label)
                problems1.append(
                    f"region {raw.label!r} could not be placed ({type(exc).__name__}); dropped"
                )
                continue
            if record is None:
                problems1.append(f"region {raw.label!r} has no area inside the image; dropped")
            else:
                regions.append(record)
        if answer1.regions and not regions:  # not "no regions": the answer gave some
            problems1.append(f"all {len(answer1.regions)} region(s) of the answer lie outside the "
                             f"image ({size[0]}×{size[1]} pixels): nothing could be examined")
        if turn1.stop_reason == "length":
            problems1.append("the answer reached the token limit and was cut off")
        if (self.options.policy.region_order == "confidence" and len(regions) > 1
                and all(r.confidence is None for r in regions)):
            problems1.append("region order 'confidence': this backend gave no token "
                             "probabilities, so the regions keep the answer's order")
        query1 = _query_record(turn1, answer1.explanation, answer1.verdict, problems1)
        timings["query1"] = turn1.seconds
        emit(InitialVerdict(query1, list(regions)))

        analysis = Analysis(
            evidence=evidence, model=self.backend.provenance, query1=query1, regions=regions
        )

        # Examine: close-ups, then Query 2
        policy = self.options.policy
        analysis.closeup_policy = dataclasses.asdict(policy)  # which ablation, which budget
        if not self.options.examine:
            analysis.examine_skipped = "examination turned off (Query 1 only)"
        elif policy.mode == "none":
            analysis.examine_skipped = "close-ups turned off (none); the initial verdict stands"
        elif not regions and answer1.regions:  # boxes for another image size, for example
            analysis.examine_skipped = (
                f"every region the model gave lay outside the image ({size[0]}×{size[1]} "
                "pixels); the initial verdict stands"
            )
        elif not regions:
            analysis.examine_skipped = "no regions located; the initial verdict stands"
        else:
            t1 = time.perf_counter()
            boxes = [Box(*r.box) for r in regions]
            global_scale = self.backend.global_scale(size)
            processor = self.backend.coordinate_space  # the budget counts its vision tokens
            plans = plan_closeups(boxes, size, global_scale, policy, loaded.sha256, processor,
                                  [r.confidence for r in regions])
            analysis.closeup_policy.update(
                closeup_budget(plans, size, global_scale, policy, processor))
            if not plans:
                analysis.examine_skipped = (
                    "every region was too large (over half the image) to examine"
                )
            closeups = []
            for plan in plans:
                region = regions[plan.region_index]
                region.examined = True
                image = render_closeup(loaded.image, plan)
                record = CloseupRecord(
                    region=region.number,
                    crop_box=plan.crop_box.to_list(),
                    output_size=list(plan.output_size),
                    scale=round(plan.scale, 4),
                    # random close-ups: the stand-in box actually examined
                    box=plan.box.to_list() if policy.mode == "random" else None,
                )
                analysis.closeups.append(record)
                closeups.append((region.label, image))
                emit(CloseupReady(record, image, region.label))
            timings["closeups"] = time.perf_counter() - t1
            if closeups:
                self._examine(analysis, messages1, turn1.text, closeups, emit, cancelled)
                timings["query2"] = analysis.query2.seconds
        if self.options.forensics:
            t2 = time.perf_counter()
            analysis.forensics = {}
            for result in run_forensics(
                ForensicInput.from_loaded(loaded),
                only=self.options.forensics,
                on_result=lambda result: emit(ForensicResultReady(path, result)),
                is_cancelled=cancelled,
            ):
                analysis.forensics[result.name] = result.to_dict()  # map path: set when saved
            if cancelled():
                raise AnalysisCancelled(str(path))
            timings["forensics"] = time.perf_counter() - t2
        timings["total"] = time.perf_counter() - t0
        analysis.timings = {k: round(v, 3) for k, v in timings.items()}
        emit(FinalVerdict(analysis))
        emit(Done(analysis))
        return analysis

    def _examine(self, analysis, messages1, answer1_text, closeups, emit, cancelled) -> None:
        messages2 = examine_messages(messages1, answer1_text, closeups)
        emit(QueryStarted(2))
        turn2 = self.backend.generate_turn(
            messages2,
            max_new_tokens=self.backend.settings.max_new_tokens_examine,
            on_token=lambda piece: emit(TokenGenerated(2, piece)),
            is_cancelled=cancelled,
        )
        if turn2.stop_reason == "cancelled":
            raise AnalysisCancelled(analysis.evidence.path)
        try:
            answer2 = parse_examine(turn2.text, region_count=len(closeups))
        except Exception as exc:
            answer2 = ExamineAnswer(problems=[_parse_failed("Query-2 answer", exc)])
        problems2 = list(answer2.problems)
        if turn2.stop_reason == "length":
            problems2.append("the answer reached the token limit and was cut off")
        analysis.query2 = _query_record(turn2, answer2.explanation, answer2.verdict, problems2)
        # Close-up k in the Query-2 turn is region analysis.closeups[k-1].region.
        for finding in answer2.findings:
            region_number = analysis.closeups[finding.region - 1].region
            analysis.findings.append(
                FindingRecord(region_number, finding.observation, finding.points_to)
            )
        analysis.tags = list(answer2.tags)
