"""What the pipeline needs from a model backend, whatever runs the model."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from inspector.core.geometry import CoordinateSpace
from inspector.core.results import ModelProvenance

TokenCallback = Callable[[str], None]  # receives each new piece of decoded text
CancelCheck = Callable[[], bool]  # polled between generated tokens


class BackendError(Exception):
    """A model could not be loaded or run; the message is meant for the user."""


class ModelNotFoundError(BackendError):
    pass


class OutOfMemoryError(BackendError):
    pass


@dataclass
class GenerationSettings:
    """Decoding settings; greedy by default so an analysis can be reproduced."""

    max_new_tokens_locate: int = 1024
    max_new_tokens_examine: int = 1024
    do_sample: bool = False
    temperature: float = 0.7
    top_p: float = 0.9
    seed: int = 0
    # Query 2 drafts up to this many tokens by copying n-grams of its prompt (prompt-lookup
    # decoding, greedy only: the answer is the same, token for token); 0 = off
    prompt_lookup_tokens: int = 0

    @classmethod
    def with_token_limit(cls, max_new_tokens: int) -> GenerationSettings:
        """Greedy decoding with the same token limit for both answers (what the CLI, the trainer
        and the benchmarks ask for)."""
        return cls(max_new_tokens_locate=max_new_tokens, max_new_tokens_examine=max_new_tokens)

    def to_dict(self) -> dict[str, Any]:
        data = {
            "max_new_tokens_locate": self.max_new_tokens_locate,
            "max_new_tokens_examine": self.max_new_tokens_examine,
            "do_sample": self.do_sample,
            "seed": self.seed,
        }
        if self.prompt_lookup_tokens and not self.do_sample:
            data["prompt_lookup_tokens"] = self.prompt_lookup_tokens
        if self.do_sample:
            data.update(temperature=self.temperature, top_p=self.top_p)
        return data


@dataclass
class TurnResult:
    text: str
    prompt_tokens: int  # tokens in the whole prompt
    prefill_tokens: int  # prompt tokens computed in this turn (the rest came from a cache)
    generated_tokens: int
    seconds: float
    stop_reason: str  # "eos" | "length" | "cancelled"
    confidence: float | None = None  # P(ai-generated) at the verdict position, when readable
    details: dict[str, Any] = field(default_factory=dict)
    # per generated token that has text: (end offset in `text`, log-probability of the token);
    # None when the backend cannot say (a server that returns no logprobs)
    token_scores: list[tuple[int, float]] | None = None


class Backend(Protocol):
    """A loaded model that answers one conversation turn at a time.

    Successive calls that extend the same conversation may reuse work (a KV cache); `reset()`
    drops that state at the end of an analysis.
    """

    provenance: ModelProvenance
    coordinate_space: CoordinateSpace
    settings: GenerationSettings

    def global_scale(self, image_size: tuple[int, int]) -> float:
        """Resized pixels per original pixel of the whole image as the model sees it."""
        ...

    def generate_turn(
        self,
        messages: list[dict[str, Any]],
        *,
        max_new_tokens: int,
        on_token: TokenCallback | None = None,
        is_cancelled: CancelCheck | None = None,
    ) -> TurnResult: ...

    def reset(self) -> None: ...
