"""How fast are PDF case reports? Seconds per page, and the time for a 100-image case.

    python benchmarks/report_speed.py [--images 100] [--repeats 3] [--json docs/report_speed.json]

Builds real evidence files (scikit-image photographs, 640×480 JPEG, a different crop each so
every file has its own hash), a realistic analysis per image (two regions with stored close-ups,
findings, a few paragraphs of explanation), stores them in a real case (`CaseStore`) and times
`render_case_report` (A4) end to end: re-reading and hashing every evidence file, layout,
drawing, the JSON attachment and the atomic write. Also times a 10-image case for the per-page
figure at small scale.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image  # noqa: E402

from inspector.core.casestore import CaseStore  # noqa: E402
from inspector.core.imageio import load_image  # noqa: E402
from inspector.core.results import Evidence, ModelProvenance  # noqa: E402
from inspector.report import render_case_report  # noqa: E402

# The tests' hand-made Analysis (two examined regions with close-ups, two findings), given real
# evidence and long explanations here; `tests` is a package and its conftest imports nothing
# but pytest and Pillow at import time.
from tests.conftest import make_analysis  # noqa: E402

TEXT = ("The lighting is consistent with a single source and the sensor noise looks natural, "
        "but the edges of the hair and the text on the badge deserve a closer look. ") * 6


def build_case(root: Path, n: int) -> CaseStore:
    from skimage import data

    photos = [Image.fromarray(getattr(data, name)()).convert("RGB")
              for name in ("astronaut", "coffee", "chelsea", "rocket")]
    store = CaseStore.create(root / "case", f"BENCH-{n}", f"{n} images", "Bench Examiner")
    model = ModelProvenance("Qwen/Qwen2.5-VL-7B-Instruct", "transformers", "qwen2_5_vl",
                            revision="cc594898", quantization="4bit-nf4", dtype="bfloat16",
                            device="cuda:0", prompts_version="lte-1",
                            generation={"max_new_tokens": 512, "do_sample": False},
                            software_version="0.1.0")
    evidence_dir = root / "evidence"
    evidence_dir.mkdir()
    for i in range(n):
        src = photos[i % len(photos)]
        dx, dy = i % 40, (i // 40) % 40  # a different crop: every file has its own hash
        img = src.crop((dx, dy, dx + src.width - 40, dy + src.height - 40)).resize((640, 480))
        path = evidence_dir / f"image_{i:03d}.jpg"
        img.save(path, quality=90)
        loaded = load_image(path)
        ev = Evidence(str(path), loaded.size_bytes, loaded.sha256, loaded.width, loaded.height,
                      loaded.format, loaded.original_mode)
        changed = i % 3 == 0
        a = make_analysis(str(path), loaded.sha256, final="ai-generated" if changed else "real",
                          final_confidence=0.8)
        a.evidence, a.model = ev, model
        for query in (a.query1, a.query2):
            query.explanation = TEXT
        crops = {c.region: img.crop(tuple(int(v) for v in c.crop_box)).resize((320, 320))
                 for c in a.closeups}
        store.add_analysis(a, crops)
    return store


def time_report(store: CaseStore, out: Path, repeats: int) -> tuple[int, list[float]]:
    times, pages = [], 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        pages = render_case_report(store, out, "A4")
        times.append(time.perf_counter() - t0)
    return pages, times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--images", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    results = {"machine": f"{platform.platform()}, {os.cpu_count()} CPUs, "
                          f"Python {platform.python_version()}", "cases": []}
    with tempfile.TemporaryDirectory() as tmp:
        for n in (10, args.images):
            root = Path(tmp) / f"n{n}"
            root.mkdir()
            store = build_case(root, n)
            out = root / "report.pdf"
            pages, times = time_report(store, out, args.repeats)
            med = statistics.median(times)
            row = {"images": n, "pages": pages, "seconds_median": round(med, 2),
                   "seconds_all": [round(t, 2) for t in times],
                   "seconds_per_page": round(med / pages, 3),
                   "seconds_per_image": round(med / n, 3),
                   "pdf_bytes": out.stat().st_size}
            results["cases"].append(row)
            print(json.dumps(row), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
