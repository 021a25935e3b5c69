"""Streamers and per-row hooks for ``generate``: one sequence (``TokenStream``) or a left-padded
batch of independent turns (``Row`` per sequence, ``RowsStream``, ``RowsStop``, ``PerRow``).

Each row decodes and streams its own tokens, stops on its own limit, end-of-sequence or cancel
check (polled every token), and records its own verdict confidence; a display callback that
fails never stops the other rows.
"""

from __future__ import annotations

import logging

from inspector.core.backends.base import CancelCheck, TokenCallback
from inspector.core.backends.batching import TurnRequest
from inspector.core.backends.confidence import VerdictRecorder

__all__ = ["PerRow", "Row", "RowsStop", "RowsStream", "TokenStream"]

log = logging.getLogger(__name__)


class TokenStream:
    """A generate() streamer that decodes new tokens and hands them to ``on_token``.

    Once ``is_cancelled()`` is true nothing more is shown: ``generate`` checks its stopping
    criteria *before* it streams a step's token, so a cancel that lands between the two would
    otherwise let that token and the next step's one through (seen as two tokens after a close
    on a busy machine)."""

    def __init__(self, tokenizer, on_token: TokenCallback | None,
                 is_cancelled: CancelCheck | None = None) -> None:
        self.tokenizer = tokenizer
        self.on_token = on_token
        self.is_cancelled = is_cancelled
        self.ids: list[int] = []
        self.text = ""
        self._prompt_seen = False

    def put(self, value) -> None:
        if not self._prompt_seen:  # generate() first pushes the prompt
            self._prompt_seen = True
            return
        self.ids.extend(int(t) for t in value.reshape(-1).tolist())
        text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        if text.endswith("\ufffd"):  # half of a multi-byte character: wait for the rest
            return
        delta, self.text = text[len(self.text) :], text
        if not delta or self.on_token is None:
            return
        if self.is_cancelled is not None and self.is_cancelled():
            return
        self.on_token(delta)

    def end(self) -> None:
        pass


class Row:
    """One sequence of a batched `generate`: its request, streamed text and why it stopped."""

    def __init__(self, tokenizer, request: TurnRequest, eos_ids: set[int]) -> None:
        self.request = request
        self.stream = TokenStream(tokenizer, request.on_token, request.is_cancelled)
        self.stream._prompt_seen = True  # the batch's streamer drops the prompts itself
        self.eos_ids = eos_ids
        self.stop_reason: str | None = None  # None while running

    def length(self) -> int:
        """Generated tokens that belong to this row (what follows its stop is padding)."""
        return len(self.stream.ids)

    def take(self, token: int) -> None:
        if self.stop_reason is not None:
            return
        try:
            self.stream.put(_as_tensor(token))
        except Exception:  # a broken display must not stop the other images
            log.exception("a token callback failed; the batch goes on")
        if token in self.eos_ids:
            self.stop_reason = "eos"

    def check_stop(self) -> bool:
        if self.stop_reason is None:
            cancel = self.request.is_cancelled
            if cancel is not None and cancel():
                self.stop_reason = "cancelled"
            elif self.length() >= self.request.max_new_tokens:
                self.stop_reason = "length"
        return self.stop_reason is not None


def _as_tensor(token: int):
    import torch

    return torch.tensor([token])


class RowsStream:
    """A generate() streamer for a batch: hands each row its own new token."""

    def __init__(self, rows: list[Row]) -> None:
        self.rows = rows
        self._prompt_seen = False

    def put(self, value) -> None:
        if not self._prompt_seen:  # generate() first pushes the prompts
            self._prompt_seen = True
            return
        for row, token in zip(self.rows, value.reshape(-1).tolist(), strict=True):
            row.take(int(token))

    def end(self) -> None:
        pass


class RowsStop:
    """Per-row stopping: own token limit, own cancel check (polled every token)."""

    def __init__(self, rows: list[Row]) -> None:
        self.rows = rows

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        return torch.tensor([row.check_stop() for row in self.rows], dtype=torch.bool,
                            device=input_ids.device)


class PerRow:
    """A logits processor that runs one single-sequence recorder per row (recording only)."""

    def __init__(self, recorders: list[VerdictRecorder]) -> None:
        self.recorders = recorders

    def __call__(self, input_ids, scores):
        for i, recorder in enumerate(self.recorders):
            recorder(input_ids[i : i + 1], scores[i : i + 1])
        return scores
