"""The close-up switches as command-line options, one definition for ``lte-inspect analyze`` and
``lte-train eval``: ``--max-regions``, ``--closeups``, ``--closeup-seed``, ``--region-order``,
``--closeup-budget``."""

from __future__ import annotations

import argparse

from inspector.core.closeups import CloseupPolicy
from inspector.core.region_choice import CLOSEUP_MODES, REGION_ORDERS

__all__ = ["add_closeup_arguments", "closeup_policy_from_args"]


def add_closeup_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the close-up options (an argument group) to ``parser``."""
    d = CloseupPolicy()
    g = parser.add_argument_group("close-ups (the Examine step; the papers' ablations)")
    g.add_argument("--max-regions", type=int, default=d.max_regions, metavar="N",
                   help=f"close-ups per image for Query 2; 0 runs Query 1 only (default "
                   f"{d.max_regions})")
    g.add_argument("--closeups", choices=CLOSEUP_MODES, default=d.mode,
                   help="what Query 2 examines: the located regions (LTE), random boxes of the "
                   "same sizes (the LTE paper's random-cropping ablation), or nothing (Query 2 "
                   f"skipped; the initial verdict stands) (default {d.mode})")
    g.add_argument("--closeup-seed", type=int, default=d.seed, metavar="N",
                   help="seed of --closeups random; with the image's SHA-256 it fixes the boxes "
                   f"(default {d.seed})")
    g.add_argument("--region-order", choices=REGION_ORDERS, default=d.region_order,
                   help="which regions get the --max-regions close-ups: the model's answer order, "
                   "the largest first, or the ones the model wrote most surely first (its token "
                   f"probabilities; a server must return logprobs) (default {d.region_order})")
    g.add_argument("--closeup-budget", type=float, default=d.budget, metavar="F",
                   help="at most F times the global view's vision tokens (as the processor "
                   "counts them) for all close-ups of an image together, e.g. 0.5; magnification "
                   "is lowered per region, never below native resolution (default: no budget)")


def closeup_policy_from_args(args: argparse.Namespace) -> CloseupPolicy:
    """The policy the options ask for; ValueError (a message for the user) when one is invalid.

    ``--max-regions 0`` gives ``mode="none"``: nothing is examined, Query 2 is skipped.
    """
    if args.max_regions < 0:
        raise ValueError("--max-regions must be 0 or more")
    mode = "none" if args.max_regions == 0 else args.closeups
    return CloseupPolicy(
        max_regions=max(args.max_regions, 1),
        mode=mode,
        seed=args.closeup_seed,
        region_order=args.region_order,
        budget=args.closeup_budget,
    )
