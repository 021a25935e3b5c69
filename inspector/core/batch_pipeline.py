"""Batch mode: up to B images analysed together, their model turns run as one `generate`.

`BatchedPipeline.analyze` has `Pipeline.analyze`'s signature and is meant to be called from B
threads at once (`inspector.core.batch.run_concurrently` with concurrency B): each call is a
real pipeline run over a `BatchingBackend`, so events arrive per image and in order, cancel is
per image, and a failure stays with its image. A turn answered alone after its batch failed is
recorded as a problem of that query.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from inspector.core.backends.batching import BatchCapable, BatchingBackend
from inspector.core.batch_size import BatchSizeChoice
from inspector.core.pipeline import EventCallback, Pipeline, PipelineOptions
from inspector.core.results import Analysis


class BatchedPipeline:
    def __init__(self, backend: BatchCapable, options: PipelineOptions, batch_size: int) -> None:
        self.batching = BatchingBackend(backend, batch_size)
        self.pipeline = Pipeline(self.batching, options)
        self.batch_size = batch_size

    @property
    def backend(self) -> BatchingBackend:
        return self.batching

    @property
    def options(self) -> PipelineOptions:
        return self.pipeline.options

    def analyze(
        self,
        path: str | Path,
        on_event: EventCallback | None = None,
        is_cancelled: Callable[[], bool] | None = None,
    ) -> Analysis:
        """Analyse one image (in its own thread, beside up to B-1 others); as Pipeline.analyze."""
        with self.batching.member() as notes:
            analysis = self.pipeline.analyze(path, on_event, is_cancelled)
        for turn, text in notes:
            query = analysis.query1 if turn == 1 else analysis.query2
            if query is not None:
                query.problems.append(text)
        return analysis


def batch_size_for(backend: object, requested: int | None) -> BatchSizeChoice:
    """How many images `backend` should analyse together, with the reason.

    `requested` None: chosen by the backend from free memory (1 on a CPU). A backend that cannot
    batch (a server: use concurrency there) answers one image per call.
    """
    if not hasattr(backend, "generate_turns"):
        return BatchSizeChoice(1, "this backend answers one image per request")
    if requested is None:
        return backend.batch_size_choice()
    return BatchSizeChoice(requested, f"{requested} at a time (asked for)")


def batched_for(
    pipeline: Pipeline, requested: int | None
) -> tuple[Pipeline | BatchedPipeline, BatchSizeChoice]:
    """The pipeline to analyse a list of images with, and the batch size with its reason
    (:func:`batch_size_for`)."""
    choice = batch_size_for(pipeline.backend, requested)
    if choice.size == 1:
        return pipeline, choice
    return BatchedPipeline(pipeline.backend, pipeline.options, choice.size), choice
