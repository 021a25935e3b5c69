"""What does the second look cost? Query 1 alone vs LTE without and with KV-cache reuse.

    python benchmarks/lte_cost.py [--model DIR] [--images PATH...] [--repeat 3]

On the same images and the same weights, in one run, it measures per image the prompt tokens
computed (prefill), the generated tokens and the seconds of
  (a) Query 1 only,
  (b) Locate-Then-Examine with Query 2 recomputed from scratch,
  (c) Locate-Then-Examine with Query 2 reusing Query 1's KV cache,
and prints the ratios (b)/(a) and (c)/(a); with --closeup-budget F also
  (d) = (c) with the close-ups of an image held to F times the global view's pixels.
With --prompt-lookup N also
  (p) = (c) with Query 2 drafting N tokens at a time by prompt lookup from the reused cache
  (same tokens, greedy), and the share of Query 2's tokens that came from accepted drafts.
The LTE paper measured 8.94 s vs 4.38 s (2.04x) for
LTE-7B against one turn.

Without --model it builds the random "bench" Qwen2.5-VL of benchmarks/_bench_model.py (about
60M parameters, so that the vision tokens weigh as they do for a real model). It writes no
parsable regions, so close-ups are then cut from three fixed boxes; a trained model's own regions
are used when it writes them. It never stops early, so every mode generates exactly
--max-new-tokens per answer, which keeps the comparison fair.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

# _bench_model (imported first) puts the checkout on sys.path
from _bench_model import add_bench_arguments, closeups_for, model_folder

from inspector.core.backends.base import GenerationSettings
from inspector.core.backends.local import LocalBackend, LocalModelSpec
from inspector.core.closeups import CloseupPolicy
from inspector.core.imageio import iter_image_files, load_image
from inspector.core.protocol import examine_messages, locate_messages


def run_image(backend: LocalBackend, path: Path, examine: bool, max_new: int,
              policy: CloseupPolicy | None = None) -> dict:
    """One analysis as the pipeline runs it; returns tokens and seconds."""
    loaded = load_image(path)
    start = time.perf_counter()
    m1 = locate_messages(loaded.image, backend.coordinate_space.name)
    t1 = backend.generate_turn(m1, max_new_tokens=max_new)
    result = {
        "prefill": t1.prefill_tokens, "generated": t1.generated_tokens, "closeups": 0,
    }
    if examine:
        crops = closeups_for(backend, loaded, t1.text, policy)
        t2 = backend.generate_turn(examine_messages(m1, t1.text, crops), max_new_tokens=max_new)
        result["prefill"] += t2.prefill_tokens
        result["generated"] += t2.generated_tokens
        result["closeups"] = len(crops)
        result["query2_prompt"] = t2.prompt_tokens
        result["answer2"] = t2.text
        result["query2_generated"] = t2.generated_tokens
        result["lookup_accepted"] = t2.details.get("lookup_accepted", 0)
        result["lookup_forwards"] = t2.details.get("lookup_forwards", 0)
    backend.reset()
    result["seconds"] = time.perf_counter() - start
    return result


def same_text(a: list[dict], b: list[dict]) -> bool:
    """Whether two modes wrote the same Query-2 answers (same images, same order)."""
    return [s.get("answer2") for s in a] == [s.get("answer2") for s in b]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_bench_arguments(parser)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quant", default="none", choices=["none", "4bit", "8bit"])
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--prompt-lookup", type=int, default=0, metavar="N",
                        help="also measure (p): (c) with Query 2 drafting N tokens by prompt "
                        "lookup, continuing from the reused KV cache")
    parser.add_argument("--closeup-budget", type=float, metavar="F",
                        help="add mode (d): (c) with all close-ups of an image held to F times "
                        "the global view's pixels (CloseupPolicy.budget)")
    args = parser.parse_args(argv)
    with model_folder(args.model) as model:
        return measure(args, model)


def measure(args: argparse.Namespace, model: str) -> int:
    """Run every mode on the images in turn, print the table, write --json."""
    settings = GenerationSettings()
    backends = {
        reuse: LocalBackend(
            LocalModelSpec(source=model, device="auto", quantization=args.quant,
                           reuse_cache=reuse, hash_weights=False),
            settings,
        )
        for reuse in (False, True)
    }
    modes = {
        "a": ("Query 1 only", backends[False], False),
        "b": ("LTE, no cache reuse", backends[False], True),
        "c": ("LTE, KV-cache reuse", backends[True], True),
    }
    if args.prompt_lookup > 0:
        lookup = LocalBackend(
            LocalModelSpec(source=model, device="auto", quantization=args.quant,
                           reuse_cache=True, hash_weights=False),
            replace(settings, prompt_lookup_tokens=args.prompt_lookup),
        )
        modes["p"] = (f"LTE, prompt lookup {args.prompt_lookup}", lookup, True)
    policies: dict[str, CloseupPolicy] = {}  # close-up policy per mode; the default elsewhere
    if args.closeup_budget is not None:
        modes["d"] = (f"LTE, KV reuse, close-up budget {args.closeup_budget:g}",
                      backends[True], True)
        policies["d"] = CloseupPolicy(budget=args.closeup_budget)
    images = list(iter_image_files(args.images))
    for _key, (_, backend, examine) in modes.items():  # warm-up: first calls allocate
        run_image(backend, images[0], examine, 8)
    samples: dict[str, list[dict]] = {k: [] for k in modes}
    for _ in range(args.repeat):
        for path in images:
            for key, (_, backend, examine) in modes.items():  # interleaved: fair under noise
                samples[key].append(run_image(backend, path, examine, args.max_new_tokens,
                                              policies.get(key)))

    def mean(key: str, field: str) -> float:
        return statistics.fmean(s[field] for s in samples[key])

    def median(key: str, field: str) -> float:
        return statistics.median(s[field] for s in samples[key])

    def per_image(key: str) -> list[float]:
        """Median seconds of each image over the repeats (samples run image by image)."""
        return [statistics.median(s["seconds"] for s in samples[key][i :: len(images)])
                for i in range(len(images))]

    p = backends[True].provenance
    print(f"model {model} ({p.model_type}, {p.dtype}, {p.device}, quantization {p.quantization})")
    print(f"{len(images)} images x {args.repeat} repeats, max {args.max_new_tokens} new tokens "
          f"per answer, {mean('c', 'closeups'):.1f} close-ups per image on average\n")
    print("| mode | prefill tokens | generated tokens | seconds / image (median) | vs (a) |")
    print("|---|---:|---:|---:|---:|")
    base = median("a", "seconds")
    figures = {}
    for key, (label, _, _) in modes.items():
        secs = median(key, "seconds")
        figures[key] = {
            "label": label, "prefill_tokens": mean(key, "prefill"),
            "generated_tokens": mean(key, "generated"), "seconds": secs, "ratio": secs / base,
            "seconds_per_image": per_image(key),
        }
        print(f"| ({key}) {label} | {mean(key, 'prefill'):.0f} | {mean(key, 'generated'):.0f} "
              f"| {secs:.3f} | {secs / base:.2f}x |")
    print(f"\n(b)/(a) = {figures['b']['ratio']:.2f}x   (c)/(a) = {figures['c']['ratio']:.2f}x   "
          f"(LTE paper, LTE-7B vs one turn: 2.04x)")
    if "p" in figures:
        q2 = sum(s.get("query2_generated", 0) for s in samples["p"])
        accepted = sum(s.get("lookup_accepted", 0) for s in samples["p"])
        forwards = sum(s.get("lookup_forwards", 0) for s in samples["p"])
        figures["p"]["acceptance"] = accepted / q2 if q2 else 0.0
        figures["p"]["same_answers_as_c"] = same_text(samples["p"], samples["c"])
        print(f"(p)/(a) = {figures['p']['ratio']:.2f}x   (p)/(c) = "
              f"{figures['p']['seconds'] / figures['c']['seconds']:.2f}x; {accepted} of {q2} "
              f"Query-2 tokens ({figures['p']['acceptance']:.0%}) came from accepted drafts, in "
              f"{forwards} verifying forwards after the first token; the answers of (p) and (c) "
              f"are the same token for token (greedy): {figures['p']['same_answers_as_c']}")
        slower = sum(p_s > c_s for p_s, c_s in zip(figures["p"]["seconds_per_image"],
                                                  figures["c"]["seconds_per_image"], strict=True))
        print(f"(p) slower than (c) on {slower} of {len(images)} images (medians per image)")
    if args.json:
        args.json.write_text(json.dumps({"model": model, "figures": figures}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
