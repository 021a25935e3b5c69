"""Several analyses, one `generate`: a backend that gathers turns from pipelines in threads.

Up to B pipelines run in worker threads, each through its own `Pipeline.analyze`, so parsing,
close-ups, events and errors stay exactly the pipeline's. Each thread's `generate_turn` call is
queued here; once every analysis in flight is waiting for the model (or after a short grace for
one still loading its image), one thread runs all queued turns as one batched `generate` of the
wrapped backend (`generate_turns`) and hands each caller its own result. Query 1 of one image and
Query 2 of another may share a batch: every prompt is computed whole, so they do not interact.

Each row streams its own tokens to its own caller and stops on its own cancel check. When the
batch as a whole fails (a prompt that cannot be encoded, memory), every turn of it is retried
alone, and the fall-back is noted on that analysis; only a turn that fails alone fails its image.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from inspector.core.backends.base import (
    BackendError,
    CancelCheck,
    GenerationSettings,
    TokenCallback,
    TurnResult,
)
from inspector.core.geometry import CoordinateSpace
from inspector.core.results import ModelProvenance

log = logging.getLogger(__name__)

# How long a full-enough batch waits for an analysis that is still loading its image or cutting
# close-ups: far below one generated answer, long enough for a worker thread to be scheduled.
GRACE_SECONDS = 0.2


@dataclass
class TurnRequest:
    """One conversation turn to answer: what `generate_turn` takes, as data."""

    messages: list[dict[str, Any]]
    max_new_tokens: int
    on_token: TokenCallback | None = None
    is_cancelled: CancelCheck | None = None


class BatchCapable(Protocol):
    provenance: ModelProvenance
    coordinate_space: CoordinateSpace
    settings: GenerationSettings

    def global_scale(self, image_size: tuple[int, int]) -> float: ...

    def generate_turns(self, requests: list[TurnRequest]) -> list[TurnResult]: ...


@dataclass
class _Pending:
    request: TurnRequest
    notes: list[tuple[int, str]]  # the analysis's notes, as (turn number, text)
    turn: int  # 1 for the analysis's first turn, 2 for its second…
    result: TurnResult | None = None
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)


class BatchingBackend:
    """A `Backend` for up to `batch_size` pipelines in threads; see the module docstring.

    Every thread that analyses through it must do so inside `member()`.
    """

    def __init__(self, backend: BatchCapable, batch_size: int,
                 grace_seconds: float = GRACE_SECONDS) -> None:
        if batch_size < 1:
            raise ValueError(f"batch size must be at least 1, got {batch_size}")
        self.backend = backend
        self.batch_size = batch_size
        self.grace_seconds = grace_seconds
        self.settings = backend.settings
        self.coordinate_space = backend.coordinate_space
        generation = {**backend.provenance.generation, "batch_size": batch_size,
                      "kv_cache_reuse": False}  # a batch recomputes every prompt whole
        self.provenance = replace(backend.provenance, generation=generation)
        self._lock = threading.Condition()
        self._members = 0
        self._queue: list[_Pending] = []
        self._running = False  # a thread is running a batch now
        self._notes = threading.local()

    def global_scale(self, image_size: tuple[int, int]) -> float:
        return self.backend.global_scale(image_size)

    def reset(self) -> None:
        """Nothing to drop: batched turns keep no cache."""

    @contextlib.contextmanager
    def member(self) -> Iterator[list[tuple[int, str]]]:
        """Count this thread's analysis as in flight; yields the notes made about its turns,
        as (turn number from 1, text)."""
        notes: list[tuple[int, str]] = []
        self._notes.value, self._notes.turns = notes, 0
        with self._lock:
            self._members += 1
        try:
            yield notes
        finally:
            with self._lock:
                self._members -= 1
                self._lock.notify_all()  # the others may all be waiting now
            self._notes.value = None

    def generate_turn(
        self,
        messages: list[dict[str, Any]],
        *,
        max_new_tokens: int,
        on_token: TokenCallback | None = None,
        is_cancelled: CancelCheck | None = None,
    ) -> TurnResult:
        notes = getattr(self._notes, "value", None)
        if notes is None:
            raise RuntimeError("BatchingBackend.generate_turn called outside member()")
        turn = 1 + getattr(self._notes, "turns", 0)
        self._notes.turns = turn
        mine = _Pending(TurnRequest(messages, max_new_tokens, on_token, is_cancelled), notes, turn)
        with self._lock:
            self._queue.append(mine)
            self._lock.notify_all()
        while not mine.done.is_set():
            with self._lock:
                batch = self._take_batch(mine)
            if batch:
                self._run(batch)  # ours, or the queue's front: then wait for ours again
            else:
                mine.done.wait()  # another thread runs the batch ours is in
        if mine.error is not None:
            raise mine.error
        assert mine.result is not None
        return mine.result

    def _take_batch(self, mine: _Pending) -> list[_Pending]:
        """Under the lock: the batch this thread must run, or [] once ours was taken by another.

        A batch starts when no other is running and either `batch_size` turns are queued or
        every analysis in flight has queued one (then after the grace, in case more arrive).
        """
        deadline: float | None = None
        while mine in self._queue:
            waiting = len(self._queue)
            if self._running or (waiting < self.batch_size and waiting < self._members):
                self._lock.wait()
                continue
            if waiting < self.batch_size:
                now = time.monotonic()
                deadline = deadline or now + self.grace_seconds
                if now < deadline:
                    self._lock.wait(deadline - now)
                    continue
            batch = self._queue[: self.batch_size]
            del self._queue[: self.batch_size]
            self._running = True
            return batch
        return []

    def _run(self, batch: list[_Pending]) -> None:
        try:
            try:
                results = self.backend.generate_turns([p.request for p in batch])
            except Exception as exc:
                if len(batch) == 1:
                    batch[0].error = _for_the_user(exc)
                else:
                    self._one_at_a_time(batch, exc)
            else:
                for pending, result in zip(batch, results, strict=True):
                    pending.result = result
        finally:
            with self._lock:
                self._running = False
                self._lock.notify_all()
            for pending in batch:
                pending.done.set()

    def _one_at_a_time(self, batch: list[_Pending], exc: Exception) -> None:
        log.warning("a batch of %d turns failed (%s); answering them one at a time",
                    len(batch), exc, exc_info=True)
        why = exc if isinstance(exc, BackendError) else f"{type(exc).__name__}: {exc}"
        for pending in batch:
            pending.notes.append(
                (pending.turn, f"answered alone after the batch it was in failed ({why})")
            )
            try:
                pending.result = self.backend.generate_turns([pending.request])[0]
            except Exception as alone:
                pending.error = _for_the_user(alone)


def _for_the_user(exc: Exception) -> BackendError:
    """A failure of one image's turn as a BackendError: the batch reports it and goes on."""
    if isinstance(exc, BackendError):
        return exc
    error = BackendError(f"the model failed on this image ({type(exc).__name__}: {exc})")
    error.__cause__ = exc
    return error
