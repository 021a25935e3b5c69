"""P(ai-generated) from the model's own probabilities at the verdict position.

Byte-level BPE tokenizers (Qwen's among them) glue one leading punctuation character to the next
word, so `<verdict>real` may be generated as `<verdict` + `>real`: the token that starts the
verdict word can also finish the tag. The recorder therefore keeps the full next-token
distribution only at the few steps where the text so far ends inside or right after `<verdict>`,
and afterwards finds the step whose token crosses the end of the tag, then sums the probability
of every token that continues the tag with the start of `real` versus `ai-generated`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from inspector.core.protocol import AI_GENERATED, REAL

TAG = "<verdict>"
_WATCH = tuple(TAG[:j] for j in range(2, len(TAG) + 1))  # "<v", "<ve", …, "<verdict>"


class VerdictRecorder:
    """A recording-only logits processor (returns the scores unchanged).

    Besides the verdict's distribution it keeps each generated token's own log-probability, from
    which :meth:`token_scores` gives the per-token scores a region's confidence is read from.
    """

    def __init__(self, tokenizer, vocabulary: Callable[[], list[str]]) -> None:
        self.tokenizer = tokenizer
        # decoded text of every token id; asked for only when a verdict was generated, so the
        # (one-off) decoding of the whole vocabulary stays off model loading
        self.vocabulary = vocabulary
        self.prompt_len: int | None = None
        self.stored: dict[int, Any] = {}  # generation step -> probabilities (CPU tensor)
        self.chosen: list[float] = []  # log-probability of each generated token, in order
        self._last_logprobs: Any = None  # the distribution of the step just seen

    def __call__(self, input_ids, scores):
        if self.prompt_len is None:
            self.prompt_len = int(input_ids.shape[1])
        step = int(input_ids.shape[1]) - self.prompt_len
        if step > 0 and self._last_logprobs is not None:
            self.chosen.append(float(self._last_logprobs[int(input_ids[0, -1])]))
        self._last_logprobs = scores[0].float().log_softmax(-1)
        if step > 0:
            tail = self.tokenizer.decode(input_ids[0, -8:], skip_special_tokens=True)
            if tail.rstrip(" ").endswith(_WATCH):
                self.stored[step] = scores[0].float().softmax(-1).cpu()
        return scores

    def token_scores(self, generated: list[int]) -> list[tuple[int, float]] | None:
        """(end offset in the decoded answer, log-probability) of each generated token that has
        text, for `TurnResult.token_scores`; None when nothing was recorded."""
        chosen = list(self.chosen[: len(generated)])
        if len(chosen) < len(generated) and self._last_logprobs is not None:
            chosen.append(float(self._last_logprobs[generated[len(chosen)]]))  # the last token
        if not chosen or len(chosen) < len(generated):
            return None
        scores: list[tuple[int, float]] = []
        end = 0
        for k, logprob in enumerate(chosen):
            # the length of the text so far; a token that ends inside a multi-byte character
            # adds nothing until the character is whole
            new_end = len(self.tokenizer.decode(generated[: k + 1], skip_special_tokens=True))
            if new_end > end:
                scores.append((new_end, logprob))
                end = new_end
            elif scores:  # no text of its own: it belongs to the token that completes it
                scores[-1] = (scores[-1][0], scores[-1][1] + logprob)
        return scores

    def confidence(self, generated: list[int]) -> float | None:
        """P(ai-generated) renormalised over the two verdicts, or None when not readable."""
        if not self.stored:
            return None
        decode = self.tokenizer.decode
        text = decode(generated, skip_special_tokens=True)
        at = text.rfind(TAG)
        if at < 0:
            return None
        end = at + len(TAG)
        # The last step whose preceding text does not yet reach past the tag's end.
        step = None
        for k in range(len(generated) - 1, -1, -1):
            before = decode(generated[:k], skip_special_tokens=True)
            if len(before) <= end:
                step = k
                break
        if step is None or step not in self.stored:
            return None
        pending = text[len(before) : end]  # the part of the tag step `step` still has to write
        probs = self.stored[step]
        real = ai = 0.0
        for token_id, piece in enumerate(self.vocabulary()[: probs.shape[0]]):
            if not piece.startswith(pending):
                continue
            word = piece[len(pending) :].lstrip(" ")
            if not word:
                continue
            if _starts(word, REAL):
                real += float(probs[token_id])
            elif _starts(word, AI_GENERATED):
                ai += float(probs[token_id])
        if real + ai <= 0.0:
            return None
        return ai / (real + ai)


def _starts(piece: str, word: str) -> bool:
    """True when `piece` is a non-empty start of `word`, or `word` followed by a non-letter."""
    if word.startswith(piece):
        return True
    return piece.startswith(word) and not piece[len(word) : len(word) + 1].isalnum()


def token_vocabulary(tokenizer) -> list[str]:
    """Decoded text of every token id, so candidate tokens can be matched by their text."""
    return tokenizer.batch_decode([[i] for i in range(len(tokenizer))], skip_special_tokens=True)

def confidence_from_top_logprobs(
    tokens: list[str], tops: list[dict[str, float]]
) -> float | None:
    """P(ai-generated) from a server's per-token `top_logprobs` (OpenAI format), or None.

    `tokens[k]` is the text of generated token k and `tops[k]` maps candidate token texts to their
    log-probabilities at that step. Same reading as `VerdictRecorder.confidence`: find the step
    whose token crosses the end of the last `<verdict>` tag, then weigh the candidates that finish
    the tag and start `real` against those that start `ai-generated`. Only the top candidates are
    known, so the two verdicts are renormalised over those; None when neither appears, when the
    server gave no logprobs, or when there is no verdict tag.
    """
    import math

    if not tokens or len(tops) != len(tokens):
        return None
    text = "".join(tokens)
    at = text.rfind(TAG)
    if at < 0:
        return None
    end = at + len(TAG)
    step, before = None, 0
    for k in range(len(tokens) - 1, -1, -1):
        before = sum(len(t) for t in tokens[:k])
        if before <= end:
            step = k
            break
    if step is None or not tops[step]:
        return None
    pending = text[before:end]
    real = ai = 0.0
    for piece, logprob in tops[step].items():
        if not piece.startswith(pending):
            continue
        word = piece[len(pending) :].lstrip(" ")
        if not word or not math.isfinite(logprob):
            continue
        if _starts(word, REAL):
            real += math.exp(logprob)
        elif _starts(word, AI_GENERATED):
            ai += math.exp(logprob)
    if real + ai <= 0.0:
        return None
    return ai / (real + ai)
