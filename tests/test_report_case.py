"""A four-image case report read the way a court reader would: text with pdftotext, layout with
pdftoppm page images (real sample photographs, a real case store, a file changed on disk).

The case is the desktop's everyday one: a session folder opened without a case title or an
examiner name; the examiner types their name only when recording an override and notes.

Run as a script to write the sample report (and its page images) for a look:
``python -m tests.test_report_case OUT_DIR``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from html import unescape
from pathlib import Path

import pytest
from PIL import Image, ImageStat

from inspector.core.casestore import CaseStore
from inspector.core.imageio import load_image
from inspector.core.pipeline import evidence_of
from inspector.core.results import (
    Analysis,
    CloseupRecord,
    ExaminerInput,
    FindingRecord,
    ModelProvenance,
    QueryRecord,
    RegionRecord,
)

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "resources" / "samples"
POPPLER = ("pdftotext", "pdftoppm")
needs_poppler = pytest.mark.skipif(
    any(shutil.which(t) is None for t in POPPLER),
    reason="poppler-utils (pdftotext, pdftoppm) are not installed",
)

CASE_FOLDER = "session-20261202"
EXAMINER = "D. Example"
OVERRIDE_NOTES = ("The agency supplied the camera original (RAW and JPEG, same EXIF time); the "
                  "suit seams match it. The model's close-up reading is mistaken.")
INCONCLUSIVE_NOTES = "Cannot decide without the photographer's original; asked the agency."
LIMITATIONS_MARK = "This is a model-based assessment, not proof."


def _model() -> ModelProvenance:
    return ModelProvenance(
        model_id="Qwen/Qwen2.5-VL-7B-Instruct", backend="transformers", model_type="qwen2_5_vl",
        revision="cc594898137f460bfe9f0759e9844b3ce807cfb5", weights_sha256="3f" * 32,
        quantization="4bit-nf4", dtype="bfloat16", device="cuda:0", prompts_version="lte-1",
        generation={"max_new_tokens": 512, "do_sample": False}, software_version="0.1.0",
    )


def _q(explanation: str, verdict: str, p: float | None, tokens: int = 120,
       seconds: float = 2.4) -> QueryRecord:
    return QueryRecord("<raw/>", explanation, verdict, p, generated_tokens=tokens,
                       seconds=seconds, stop_reason="eos")


def _closeups(path: Path, regions: list[RegionRecord]) -> tuple[list[CloseupRecord],
                                                                 dict[int, Image.Image]]:
    records, images = [], {}
    with Image.open(path) as im:
        rgb = im.convert("RGB")
    for r in regions:
        crop = rgb.crop(tuple(int(v) for v in r.box))
        scale = max(1.0, 336 / max(crop.size))
        big = crop.resize((round(crop.width * scale), round(crop.height * scale)))
        records.append(CloseupRecord(r.number, list(r.box), list(big.size), scale))
        images[r.number] = big
    return records, images


@dataclass
class SampleCase:
    store: CaseStore
    analyses: dict[str, Analysis]  # by sample name
    changed_file: Path


def build_sample_case(root: Path) -> SampleCase:
    """Four analyses of the sample photographs in a session case with no title and no examiner.

    astronaut: Query 2 changed Real → AI-generated; the examiner overrides it to Real with notes.
    chelsea: unchanged Real. coffee: AI-generated, examiner records Inconclusive. rocket: no
    regions (examine skipped), and its file is re-saved after the analysis.
    """
    evidence = root / "evidence"
    evidence.mkdir(parents=True)
    paths = {}
    for name in ("astronaut", "chelsea", "coffee", "rocket"):
        paths[name] = evidence / f"{name}.jpg"
        shutil.copyfile(SAMPLES / f"{name}.jpg", paths[name])
    store = CaseStore.open_or_create(root / CASE_FOLDER)  # as the desktop opens a session

    def analysis(name: str, **kw) -> Analysis:
        return Analysis(evidence=evidence_of(load_image(paths[name])), model=_model(), **kw)

    made: dict[str, Analysis] = {}
    regions = [RegionRecord(1, [180.0, 60.0, 330.0, 230.0], "face and hair line", examined=True),
               RegionRecord(2, [300.0, 330.0, 470.0, 500.0], "glove seams on the left hand",
                            examined=True)]
    records, images = _closeups(paths["astronaut"], regions)
    made["astronaut"] = analysis(
        "astronaut",
        query1=_q("Studio portrait with consistent lighting; the skin and the suit fabric look "
                  "photographic. The face and the glove seams deserve a closer look.", "real",
                  0.21),
        regions=regions, closeups=records,
        query2=_q("Close up, the skin texture repeats in small tiles and the glove seams melt "
                  "into the fabric, both typical generator artifacts.", "ai-generated", 0.81),
        findings=[FindingRecord(1, "the skin texture repeats in small tiles", "ai-generated"),
                  FindingRecord(2, "the seams melt into the fabric", "ai-generated")],
        tags=["texture", "structure"],
    )
    store.add_analysis(made["astronaut"], images)

    regions = [RegionRecord(1, [120.0, 60.0, 330.0, 200.0], "whiskers and eyes", examined=True)]
    records, images = _closeups(paths["chelsea"], regions)
    made["chelsea"] = analysis(
        "chelsea",
        query1=_q("A cat photographed indoors; fur and whiskers look natural.", "real", 0.12),
        regions=regions, closeups=records,
        query2=_q("The whiskers are continuous and the fur noise matches sensor noise.", "real",
                  0.08),
        findings=[FindingRecord(1, "whiskers continuous, fur noise natural", "real")],
    )
    store.add_analysis(made["chelsea"], images)

    regions = [RegionRecord(1, [150.0, 90.0, 450.0, 300.0], "cup rim and saucer",
                            examined=True),
               RegionRecord(2, [40.0, 300.0, 200.0, 400.0], "table edge", examined=True),
               RegionRecord(3, [430.0, 20.0, 590.0, 130.0], "background blur",
                            examined=True)]
    records, images = _closeups(paths["coffee"], regions)
    made["coffee"] = analysis(
        "coffee",
        query1=_q("The cup is unusually symmetric and the background blur is uniform.",
                  "ai-generated", 0.66),
        regions=regions, closeups=records,
        query2=_q("The rim is a perfect ellipse and the saucer's reflection does not match the "
                  "window light; the blur has no depth falloff.", "ai-generated", 0.74),
        findings=[FindingRecord(1, "the rim is a perfect ellipse", "ai-generated"),
                  FindingRecord(2, "edge grain looks natural", "real"),
                  FindingRecord(3, "blur has no depth falloff", "ai-generated")],
        examiner=ExaminerInput(EXAMINER, INCONCLUSIVE_NOTES, "inconclusive",
                               "2026-12-02T17:20:41+00:00"),
    )
    store.add_analysis(made["coffee"], images)

    made["rocket"] = analysis(
        "rocket",
        query1=_q("A rocket launch at dusk; exhaust plume and sky gradient look photographic.",
                  "real", 0.09),
        examine_skipped="no regions located",
    )
    store.add_analysis(made["rocket"], {})

    # The examiner names themself only now, with the override.
    store.update_examiner(made["astronaut"].id, EXAMINER, OVERRIDE_NOTES, "real")
    made["astronaut"] = store.get(made["astronaut"].id)
    # After the analysis, someone re-saves one evidence file.
    with Image.open(paths["rocket"]) as im:
        im.convert("RGB").save(paths["rocket"], quality=70)
    return SampleCase(store, made, paths["rocket"])


# --------------------------------------------------------------------------------------------
# Reading the PDF


def _run(*args: str) -> str:
    result = subprocess.run(list(args), capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result.stdout.decode("utf-8", errors="replace")


def pages_text(pdf: Path, layout: bool = True) -> list[str]:
    """Each page's text (-layout: as laid out; without: in reading order, a cell at a time)."""
    args = ["pdftotext", "-enc", "UTF-8"] + (["-layout"] if layout else []) + [str(pdf), "-"]
    pages = _run(*args).split("\f")
    return pages[:-1] if pages and not pages[-1].strip() else pages


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def page_images(pdf: Path, out: Path, dpi: int = 40) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    _run("pdftoppm", "-r", str(dpi), "-png", str(pdf), str(out / "p"))
    return sorted(out.glob("p-*.png"), key=lambda p: int(p.stem.split("-")[1]))


@dataclass
class Line:
    text: str
    x: float  # points from the page's top-left corner
    top: float
    bottom: float


def page_lines(pdf: Path) -> list[tuple[tuple[float, float], list[Line]]]:
    """Per page: (width, height) in points and its text lines with their boxes (pdftotext
    -bbox: words on the same baseline make a line)."""
    html = _run("pdftotext", "-bbox", str(pdf), "-")
    out = []
    for page in re.finditer(r'<page width="([\d.]+)" height="([\d.]+)">(.*?)</page>', html,
                            re.S):
        words = [(float(m[2]), float(m[1]), float(m[3]), m[4]) for m in re.finditer(
            r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)">(.*?)</word>',
            page[3])]
        groups: list[list[tuple[float, float, float, str]]] = []
        for word in sorted(words):
            if groups and abs(groups[-1][0][0] - word[0]) < 1.0:
                groups[-1].append(word)
            else:
                groups.append([word])
        lines = [Line(" ".join(unescape(w[3]) for w in sorted(g, key=lambda w: w[1])),
                      min(w[1] for w in g), min(w[0] for w in g), max(w[2] for w in g))
                 for g in groups]
        out.append(((float(page[1]), float(page[2])), lines))
    return out


def render_sample(root: Path) -> tuple[SampleCase, Path, int]:
    from inspector.report.pdf import render_case_report

    case = build_sample_case(root)
    pdf = root / "report.pdf"
    pages = render_case_report(case.store, pdf, "A4")
    return case, pdf, pages


# --------------------------------------------------------------------------------------------
# Tests


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    root = tmp_path_factory.mktemp("report-case")
    case, pdf, pages = render_sample(root)
    return case, pdf, pages, root


MM_PT = 72 / 25.4
MARGIN_PT = 18 * MM_PT  # left and right page margins
HEADINGS = ("Model provenance", "How to read this report", "Limitations", "Evidence",
            "Image and located regions", "The model's explanations", "Chain of custody",
            "Close-ups sent to Query 2", "Close-ups sent to Query 2 (continued)",
            "Summary: initial, corrected and recorded verdicts")


def _is_heading(text: str) -> bool:
    return (text in HEADINGS or text.startswith("Examiner's notes — ")
            or re.fullmatch(r"Image \d+ of \d+: .*", text) is not None)


@needs_poppler
def test_four_images_fit_in_about_eight_pages(sample):
    _case, pdf, pages, _root = sample
    assert pages <= 9, pages
    assert len(pages_text(pdf)) == pages


@needs_poppler
def test_the_examiner_is_named_on_the_cover_and_in_every_custody_row(sample):
    case, pdf, _pages, _root = sample
    texts = pages_text(pdf)
    cover = texts[0]
    examiner_row = next(line for line in cover.splitlines() if line.startswith("Examiner"))
    assert EXAMINER in examiner_row, examiner_row
    custody_page = next(t for t in texts if "Chain of custody" in t)
    entries = case.store.custody()
    assert len(entries) == 6  # created, 4 analysed, 1 examiner input
    rows = [line for line in custody_page.splitlines() if re.match(r"\s*\d{4}-\d\d-\d\d\s", line)]
    assert len(rows) == len(entries)
    assert all(EXAMINER in row for row in rows), rows  # named or marked "(case examiner)"
    assert "not named" not in custody_page and "not recorded" not in custody_page
    # The examiner input names its examiner itself; the rest fall back to the case's, marked.
    assert flat(custody_page).count("(case examiner)") == 5 + 1  # 5 rows and the legend


@needs_poppler
def test_custody_times_and_details_are_readable(sample):
    case, pdf, _pages, _root = sample
    custody_page = next(t for t in pages_text(pdf) if "Chain of custody" in t)
    from inspector.core.wording import format_time_seconds

    for entry in case.store.custody():
        date, time = format_time_seconds(entry["time"]).split(" ", 1)
        assert re.search(rf"^\s*{date}\s", custody_page, re.M), date
        assert time in custody_page, time  # "17:03:05 UTC", never broken inside
        if entry["sha256"]:  # a SHA-256 stays on one line
            assert entry["sha256"] in custody_page
    assert "sha256:" not in custody_page and "analysis_id" not in custody_page  # labels


@needs_poppler
def test_title_falls_back_to_the_case_folder(sample):
    _case, pdf, _pages, _root = sample
    info = _run("pdfinfo", str(pdf))
    assert re.search(rf"^Title:\s+LTE Inspector report — Case {CASE_FOLDER}$", info, re.M), info
    cover = pages_text(pdf)[0]
    assert cover.splitlines()[1].strip() == f"Case {CASE_FOLDER}"
    assert "not recorded" not in " ".join(pages_text(pdf))


@needs_poppler
def test_limitations_once_and_plain_words(sample):
    _case, pdf, _pages, _root = sample
    texts = pages_text(pdf, layout=False)
    joined = flat(" ".join(texts))
    assert joined.count(LIMITATIONS_MARK) == 1
    assert LIMITATIONS_MARK in flat(texts[0])  # on the cover, its own section
    assert joined.count("the limitations stated on page 1 apply") == 4  # pointed to per image
    # An absent C2PA manifest is one line, not a list of empty fields.
    assert joined.count("No Content Credentials (C2PA) in the file.") == 4
    for raw in ("claim generator", "signer", "validation state", "digital source type from",
                "not recorded", "onfidence", "status: absent"):
        assert raw not in joined, raw
    assert "P(AI-generated) 0.81" in joined


@needs_poppler
def test_the_override_is_the_verdict_of_record(sample):
    case, pdf, _pages, _root = sample
    texts = pages_text(pdf, layout=False)
    summary = flat(next(t for t in texts if t.startswith("Summary")))
    assert "Verdict of record" in summary
    assert re.search(r"Real examiner override by D\. Example, \d{4}-\d\d-\d\d", summary)
    assert re.search(r"Inconclusive examiner override by D\. Example, 2026-12-02 17:20 UTC",
                     summary)
    page = flat(next(t for t in texts if "Image 1 of 4: astronaut.jpg" in t))
    # The model's verdicts beside the examiner's, who, when and why.
    for said in ("Initial — Query 1 (Locate)", "Corrected — Query 2 (Examine)",
                 "Verdict of record", "Examiner override: Real — by D. Example",
                 flat(OVERRIDE_NOTES), "P(AI-generated) 0.21", "P(AI-generated) 0.81"):
        assert said in page, said
    assert page.index("Verdict of record") < page.index("Evidence")  # at the top of the page
    coffee = flat(next(t for t in texts if "Image 3 of 4: coffee.jpg" in t))
    assert "Examiner override: Inconclusive — by D. Example, 2026-12-02 17:20 UTC" in coffee
    assert INCONCLUSIVE_NOTES in coffee
    chelsea = flat(next(t for t in texts if "Image 2 of 4: chelsea.jpg" in t))
    assert "The model's corrected verdict; no examiner override." in chelsea


@needs_poppler
def test_a_file_changed_on_disk_is_reported_and_not_boxed(sample):
    case, pdf, _pages, _root = sample
    rocket = flat(next(t for t in pages_text(pdf, layout=False) if "rocket.jpg" in t
                       and "Image 4 of 4" in t))
    assert "does NOT match the recorded SHA-256" in rocket
    assert "NOT the analysed file. Regions not drawn." in rocket
    assert case.analyses["rocket"].evidence.sha256 in rocket


@needs_poppler
def test_no_heading_ends_a_page(sample):
    """Below every heading, on its own page, something is drawn (pixels of the rendered page);
    below "Image and located regions", the picture itself."""
    _case, pdf, _pages, root = sample
    images = page_images(pdf, root / "png-headings", dpi=50)
    texts = pages_text(pdf)
    checked = 0
    for i, ((width, height), lines) in enumerate(page_lines(pdf)):
        bottom = height - 20 * MM_PT  # the footer margin
        body = [ln for ln in lines if ln.top < bottom]
        assert not _is_heading(body[-1].text), (i + 1, body[-1].text)
        last = [ln for ln in texts[i].splitlines() if ln.strip()][-2].strip()  # above footer
        assert not _is_heading(last), (i + 1, last)
        with Image.open(images[i]) as im:
            grey = im.convert("L")
            scale = grey.height / height
            for ln in body:
                if not _is_heading(ln.text):
                    continue
                checked += 1
                below = 17.0 if ln.text != "Image and located regions" else 60.0
                assert ln.bottom + below <= bottom, (i + 1, ln.text, "too close to the foot")
                band = grey.crop((int(ln.x * scale), int((ln.bottom + 2) * scale),
                                  int((width - MARGIN_PT) * scale),
                                  int((ln.bottom + below) * scale)))
                stat = ImageStat.Stat(band)
                assert stat.extrema[0][0] < 100, (i + 1, ln.text, "nothing below the heading")
                if ln.text == "Image and located regions":
                    assert stat.stddev[0] > 25, (i + 1, "the picture is not under its heading")
    assert checked >= 4 * 4 + 3


if __name__ == "__main__":  # python -m tests.test_report_case OUT_DIR
    out = Path(sys.argv[1])
    _case, pdf, n = render_sample(out)
    print(pdf, n, "pages")
    for p in page_images(pdf, out / "pages", dpi=80):
        print(p)
