"""Greedy prompt-lookup decoding that continues from a KV cache (Query 2 after cache reuse).

transformers' own assisted decoding re-reads the whole prompt on its first step, which a reused
cache (whose close-up features were passed as encoder outputs) cannot give it. So `generate`
computes the prompt and the first token as usual, and this loop takes over: it drafts up to N
tokens by finding the latest earlier occurrence of the last n-gram (3, then 2, then 1 tokens) of
prompt + answer, checks the draft with one forward over [last token + draft], keeps the longest
prefix the model's own argmax agrees with plus the model's next token, and crops the cache back
to what was kept. The draft length shrinks after a miss and grows back after a full hit, so text
that copies nothing costs little more than plain decoding. Every kept token is the model's greedy
choice, so the answer is the same as plain greedy decoding token for token (up to the order of
floating-point sums in a multi-token forward, the same caveat as any speculative decoding).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["LookupStats", "continue_greedy", "propose_draft", "supports_lookup"]

# generation-config options whose logits processors this loop does not reproduce
_UNSUPPORTED = (
    "no_repeat_ngram_size", "encoder_no_repeat_ngram_size", "bad_words_ids", "suppress_tokens",
    "begin_suppress_tokens", "sequence_bias", "forced_bos_token_id", "forced_eos_token_id",
    "exponential_decay_length_penalty", "min_new_tokens", "min_length", "stop_strings",
    "watermarking_config",
)


def supports_lookup(generation_config) -> bool:
    """Whether plain greedy under this config applies only what `continue_greedy` applies
    (argmax after an optional repetition penalty)."""
    guidance = getattr(generation_config, "guidance_scale", None)
    if guidance not in (None, 1, 1.0):
        return False
    encoder_penalty = getattr(generation_config, "encoder_repetition_penalty", None)
    if encoder_penalty not in (None, 1, 1.0):
        return False
    return not any(getattr(generation_config, name, None) for name in _UNSUPPORTED)


def propose_draft(ids: list[int], max_tokens: int, longest_ngram: int = 3) -> list[int]:
    """Up to `max_tokens` ids that followed the latest earlier occurrence of the last n-gram."""
    if max_tokens <= 0:
        return []
    for n in range(min(longest_ngram, len(ids) - 1), 0, -1):
        tail = ids[-n:]
        for start in range(len(ids) - n - 1, -1, -1):  # latest occurrence first, not the tail
            if ids[start : start + n] == tail:
                follow = ids[start + n : start + n + max_tokens]
                if follow:
                    return follow
    return []


@dataclass
class LookupStats:
    """What the drafts gave: forwards run, tokens drafted, drafted tokens the model kept."""

    forwards: int = 0
    drafted: int = 0
    accepted: int = 0


def continue_greedy(
    model,
    cache,
    cache_argument: str,
    ids: list[int],
    *,
    generated: int,
    max_new_tokens: int,
    draft_tokens: int,
    eos_ids: set[int],
    processors: list[Callable[[Any, Any], Any]],
    on_tokens: Callable[[list[int]], None],
    is_cancelled: Callable[[], bool],
) -> tuple[list[int], LookupStats]:
    """Greedy continuation of `ids` (prompt + the `generated` tokens so far), whose cache holds
    all but the last id. Returns the new ids; afterwards the cache holds all but the last id of
    `ids` + new ids. `processors` (logits processors: (input_ids, scores) -> scores) see every
    kept position in order, as in `generate`. `is_cancelled` is checked before every forward."""
    import torch

    device = next(model.parameters()).device
    new: list[int] = []
    stats = LookupStats()
    all_ids = list(ids)
    length = draft_tokens  # adapted as transformers' assistants do: +2 after a full hit, else -1
    while generated + len(new) < max_new_tokens and not is_cancelled():
        room = max_new_tokens - generated - len(new) - 1  # the model's own next token is extra
        draft = propose_draft(all_ids, min(length, room))
        feed = torch.tensor([[all_ids[-1], *draft]], device=device)
        with torch.inference_mode():
            logits = model(input_ids=feed, use_cache=True, **{cache_argument: cache}).logits[0]
        stats.forwards += 1
        stats.drafted += len(draft)
        kept: list[int] = []
        done = False
        for i in range(len(draft) + 1):
            scores = logits[i : i + 1].to(dtype=torch.float32)
            so_far = torch.tensor([all_ids], device=device)
            for processor in processors:
                scores = processor(so_far, scores)
            token = int(scores[0].argmax())
            kept.append(token)
            all_ids.append(token)
            if token in eos_ids or generated + len(new) + len(kept) >= max_new_tokens:
                done = True
                break
            if i == len(draft) or draft[i] != token:
                break
        agreed = 0
        while agreed < min(len(draft), len(kept)) and kept[agreed] == draft[agreed]:
            agreed += 1
        stats.accepted += agreed
        if draft:
            hit = agreed == len(draft)
            length = min(draft_tokens, length + 2) if hit else max(1, length - 1)
        rejected = cache.get_seq_length() - (len(all_ids) - 1)
        if rejected > 0:
            cache.crop(-rejected)
        new.extend(kept)
        on_tokens(kept)
        if done:
            break
    return new, stats
