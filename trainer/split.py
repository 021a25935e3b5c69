"""Deterministic train/validation/test splits of training records.

Stratified by a record attribute (``source`` by default) and the label, so each split keeps the
dataset's mix of generators and real/fake. Records are grouped by image content (sha256) first:
an image (and any duplicate of it, whatever its path) lands in exactly one split.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Sequence

from trainer.records import Record

__all__ = ["SPLIT_NAMES", "split_records"]

SPLIT_NAMES: tuple[str, str, str] = ("train", "val", "test")


def split_records(
    records: Sequence[Record],
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    by: str | None = "source",
) -> list[list[Record]]:
    """Split ``records`` into ``len(fractions)`` lists (train, val, test by default).

    * Stratum = (``getattr(record, by)``, label); ``by=None`` stratifies by label only.
    * Records sharing a sha256 are one group and always go to the same split (the group's
      stratum is that of its first record).
    * Within a stratum the groups are shuffled with ``seed`` and each one goes to the split
      furthest below its target share, so every split gets its fraction of each stratum up to
      rounding (a stratum smaller than the number of splits cannot reach every split).
    * Same records + same seed → same splits, independent of input order; each split keeps the
      input order.
    """
    fractions = [float(f) for f in fractions]
    if len(fractions) < 1 or any(not math.isfinite(f) or f < 0 for f in fractions):
        raise ValueError(f"fractions must be finite and >= 0, got {fractions}")
    if abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError(f"fractions must add up to 1, got {fractions} (sum {sum(fractions):g})")
    if by is not None and by not in Record.__dataclass_fields__:
        raise ValueError(f"cannot stratify by {by!r}: records have no such field")

    groups: dict[str, list[int]] = defaultdict(list)
    for i, record in enumerate(records):
        groups[record.sha256].append(i)
    strata: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for sha, members in groups.items():
        first = records[members[0]]
        key = (str(getattr(first, by)), first.label) if by is not None else (first.label,)
        strata[key].append(sha)

    candidates = [k for k, f in enumerate(fractions) if f > 0]
    assignment: dict[int, int] = {}
    for key in sorted(strata):
        shas = sorted(strata[key])
        random.Random(f"{seed}:{'/'.join(key)}").shuffle(shas)
        total = sum(len(groups[s]) for s in shas)
        filled = [0] * len(fractions)
        for sha in shas:
            deficits = [f * total - n for f, n in zip(fractions, filled, strict=True)]
            target = max(candidates, key=lambda k: (deficits[k], -k))
            filled[target] += len(groups[sha])
            for i in groups[sha]:
                assignment[i] = target

    splits: list[list[Record]] = [[] for _ in fractions]
    for i, record in enumerate(records):
        splits[assignment[i]].append(record)
    return splits
