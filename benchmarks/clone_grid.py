"""Is a planted clone's copy closer than a look-alike elsewhere on the 14-px patch grid? (issue 12)

    python benchmarks/clone_grid.py RECORDS.jsonl [RECORDS.jsonl ...] [--view 224 448]
        [--copy-move] [--json OUT]

RECORDS: ``lte-train synth OUT --kinds clone --ai-fraction 1 ...`` (every image one clone, two
tiles side by side with a one-pixel seam, the copy at an offset of the tile's side plus one).
Each image is resized to ``--view`` pixels (Pillow bicubic; the processor's resize differs in
detail, not in where the grid falls) and cut into the 14-px patches the Qwen2.5-VL tower embeds.
For every patch inside a tile: the distance (L2 over pixels) to its best match among the grid's
patches in the other tile — what a tower that compares grid patches can find — and to its best
look-alike outside the clone's box and at least two patches away, and, for reference, to the
copy at its exact offset (off the grid). A ratio well below 1 means the copy stands out from
look-alikes; near 1, the grid hides it. ``--copy-move`` also runs the app's own copy-move check
(:mod:`inspector.core.forensics.copy_move`, keypoints matched at any position: the comparison
built in by hand) on each whole image: how often it reports a clone, and one that touches the
record's first box. The control: photos (``--ai-fraction 0``), each region
box split the same way, so that the "copy" is the natural neighbouring tile. Decision 0004,
"Why clones stay at chance".
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trainer.synth_artifacts import clone_tiles  # the split synth plants

PATCH = 14


def _cells_inside(box, scale: float, n: int) -> list[tuple[int, int]]:
    bx1, by1, bx2, by2 = (v * scale for v in box)
    return [(i, j) for i in range(n) for j in range(n)
            if j * PATCH >= bx1 and (j + 1) * PATCH <= bx2
            and i * PATCH >= by1 and (i + 1) * PATCH <= by2]


def _cells_outside(box, scale: float, n: int) -> list[tuple[int, int]]:
    bx1, by1, bx2, by2 = (v * scale for v in box)
    return [(i, j) for i in range(n) for j in range(n)
            if (j + 1) * PATCH <= bx1 or j * PATCH >= bx2
            or (i + 1) * PATCH <= by1 or i * PATCH >= by2]


def measure(records: Path, view: int) -> dict:
    """Ratios (copy on the grid / look-alike, exact copy / look-alike) over every tile patch."""
    grid_ratios: list[float] = []
    exact_ratios: list[float] = []
    images = 0
    image_lowest: list[float] = []  # each image's best grid ratio: what an image-level check sees
    for line in records.read_text().splitlines():
        record = json.loads(line)
        box = record["regions"][0]["box"]
        scale = view / record["width"]
        with Image.open(records.parent / record["image"]) as image:
            pixels = np.asarray(image.convert("RGB").resize((view, view), Image.Resampling.BICUBIC),
                                dtype=np.float32)
        n = view // PATCH
        patches = (pixels[: n * PATCH, : n * PATCH].reshape(n, PATCH, n, PATCH, 3)
                   .transpose(0, 2, 1, 3, 4).reshape(n, n, -1))
        tile_a, tile_b, (dx, dy) = clone_tiles(box)
        cells_a, cells_b = _cells_inside(tile_a, scale, n), _cells_inside(tile_b, scale, n)
        if not cells_a or not cells_b:  # a tile narrower than a patch at this view
            continue
        images += 1
        outside = _cells_outside(box, scale, n)
        first = len(grid_ratios)
        for cell in cells_a + cells_b:
            i, j = cell
            patch = patches[i, j]
            twin_cells = cells_b if cell in cells_a else cells_a
            on_grid = min(float(np.linalg.norm(patch - patches[k])) for k in twin_cells)
            look_alike = min(float(np.linalg.norm(patch - patches[k])) for k in outside
                             if max(abs(k[0] - i), abs(k[1] - j)) >= 2)
            grid_ratios.append(on_grid / max(look_alike, 1e-6))
            sign = 1 if cell in cells_a else -1
            y, x = round(i * PATCH + sign * dy * scale), round(j * PATCH + sign * dx * scale)
            if 0 <= y <= view - PATCH and 0 <= x <= view - PATCH:
                exact = pixels[y:y + PATCH, x:x + PATCH].reshape(-1)
                exact_ratios.append(float(np.linalg.norm(patch - exact)) / max(look_alike, 1e-6))
        image_lowest.append(min(grid_ratios[first:]))
    grid, exact = np.array(grid_ratios), np.array(exact_ratios)
    return {
        "records": str(records), "view": view, "images": images, "patches": len(grid),
        "grid_median": round(float(np.median(grid)), 3),
        "grid_below_half": round(float(np.mean(grid < 0.5)), 3),
        "grid_below_one": round(float(np.mean(grid < 1.0)), 3),
        "images_with_a_patch_below_half": round(float(np.mean(np.array(image_lowest) < 0.5)), 3),
        "exact_median": round(float(np.median(exact)), 3),
        "exact_below_half": round(float(np.mean(exact < 0.5)), 3),
    }


def copy_move_check(records: Path) -> dict:
    """The app's copy-move check on each image: reported clones, and those touching the box."""
    from inspector.core.forensics import copy_move
    from inspector.core.forensics.base import ForensicInput
    from inspector.core.geometry import Box, overlap_fraction
    from inspector.core.imageio import load_image

    detected = touching = images = 0
    for line in records.read_text().splitlines():
        record = json.loads(line)
        evidence = ForensicInput.from_loaded(load_image(records.parent / record["image"]))
        result = copy_move.analyze(evidence)
        images += 1
        if result.indicators["detected"]:
            detected += 1
            planted = Box(*record["regions"][0]["box"])
            touching += any(overlap_fraction(Box(*region.box), planted) > 0
                            for region in result.regions)
    return {"records": str(records), "images": images, "copy_move_detected": detected,
            "copy_move_touching_the_box": touching}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("records", type=Path, nargs="+")
    parser.add_argument("--view", type=int, nargs="+", default=[224, 448])
    parser.add_argument("--copy-move", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows = [measure(records, view) for records in args.records for view in args.view]
    for row in rows:
        print(f"{row['records']}: view {row['view']} px, {row['images']} images, "
              f"{row['patches']} tile patches: "
              f"copy on the grid / look-alike median {row['grid_median']:.2f} "
              f"(below 0.5: {row['grid_below_half']:.0%}), "
              f"the exact copy {row['exact_median']:.2f} "
              f"(below 0.5: {row['exact_below_half']:.0%}); images with a grid patch below 0.5: "
              f"{row['images_with_a_patch_below_half']:.0%}")
    checks = [copy_move_check(records) for records in args.records] if args.copy_move else []
    for check in checks:
        print(f"{check['records']}: the app's copy-move check reports a clone on "
              f"{check['copy_move_detected']} of {check['images']} images, touching the box on "
              f"{check['copy_move_touching_the_box']}")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "copy_move": checks}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
