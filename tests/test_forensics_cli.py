"""`lte-inspect forensics` and `analyze --forensics` as a user runs them: real photos, broken
files, maps on disk, JSON lines, and the forensic maps stored in a case."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inspector.cli import build_parser, main
from inspector.cli.forensics import expand_bare_forensics, map_file_name
from inspector.core.forensics import ANALYSIS_NAMES
from tests.conftest import skimage_photo

CONTRACT = {
    "jpeg": {"quality", "tables", "subsampling", "progressive"},
    "double_jpeg": {"detected", "score", "first_quality"},
    "spectrum": {"score", "peaks"},
    "copy_move": {"detected", "pairs"},
    "noise": {"score", "regions"},
    "ela": {"quality", "mean"},
    "metadata": {"exif", "xmp", "iptc", "icc", "thumbnail"},
}
EVERY_ENTRY = {"statement", "limits", "seconds", "map", "regions"}


def _lte_inspect(*args: str) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("lte-inspect")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "inspector.cli"]
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    return subprocess.run(command + list(args), capture_output=True, text=True, timeout=600,
                          env=env)


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> dict[str, Path]:
    """A JPEG (quality 90), a PNG, and a JPEG whose EXIF turns it upright (stored 400×300,
    shown 300×400)."""
    folder = tmp_path_factory.mktemp("photos")
    jpeg, png, rotated = folder / "astronaut.jpg", folder / "coffee.png", folder / "rotated.jpg"
    skimage_photo("astronaut").resize((400, 300), Image.LANCZOS).save(jpeg, quality=90)
    skimage_photo("coffee").resize((400, 300), Image.LANCZOS).save(png)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    skimage_photo("chelsea").resize((400, 300), Image.LANCZOS).save(rotated, quality=88,
                                                                      exif=exif)
    return {"jpeg": jpeg, "png": png, "rotated": rotated}


def test_one_json_object_per_file_with_the_contract_keys(photos, tmp_path, capsys):
    out = tmp_path / "forensics.jsonl"
    code = main(["forensics", str(photos["jpeg"]), str(photos["png"]), "--json", str(out)])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    jpeg_line, png_line = _lines(out)
    for line, path in ((jpeg_line, photos["jpeg"]), (png_line, photos["png"])):
        assert line["file"] == str(path)
        assert line["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert (line["width"], line["height"]) == (400, 300)
        assert list(line)[4:] == list(ANALYSIS_NAMES)  # every analysis, in display order
    for name, keys in CONTRACT.items():
        entry = jpeg_line[name]
        assert keys | EVERY_ENTRY <= set(entry), name
        assert "error" not in entry, entry
        assert entry["map"] is None  # no --maps: no map files
        assert entry["statement"] in printed.out  # each statement printed, readable
    assert abs(jpeg_line["jpeg"]["quality"] - 90) <= 1  # the known answer travels through
    # JPEG-structure analyses are null for a PNG; the pixel analyses are not
    assert png_line["jpeg"] is None and png_line["double_jpeg"] is None
    for name in ("spectrum", "copy_move", "noise", "ela", "metadata"):
        assert CONTRACT[name] | EVERY_ENTRY <= set(png_line[name]), name
    assert "[2/2]" in printed.err and "2 of 2 files processed, 0 failed" in printed.err


def test_maps_are_pngs_named_after_file_and_analysis_with_the_image_aspect(
    photos, tmp_path, capsys
):
    maps, out = tmp_path / "maps", tmp_path / "out.jsonl"
    twin = tmp_path / "other" / photos["jpeg"].name  # same stem, other bytes
    twin.parent.mkdir()
    skimage_photo("rocket").resize((400, 300)).save(twin, quality=80)
    code = main(["forensics", str(photos["jpeg"]), str(twin), str(photos["rotated"]),
                 "--maps", str(maps), "--json", str(out)])
    assert code == 0, capsys.readouterr().err
    written = set()
    for line in _lines(out):
        width, height = line["width"], line["height"]
        for name in ANALYSIS_NAMES:
            if line[name] is None or line[name]["map"] is None:
                continue
            path = Path(line[name]["map"])
            assert path.name == map_file_name(Path(line["file"]), line["sha256"], name)
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            with Image.open(path) as im:
                assert im.mode == "L"
                assert abs(im.width * height / width - im.height) <= 1.5, (name, im.size)
            written.add(path)
        assert line["ela"]["map"] is not None  # ELA always draws its map
    rotated = _lines(out)[2]
    assert (rotated["width"], rotated["height"]) == (300, 400)  # after EXIF orientation
    assert written == set(maps.iterdir())  # every map written is in the JSON, and only those
    stems = {p.name for p in written if p.name.startswith("astronaut-")}
    assert len({n.split("-")[1] for n in stems}) == 2  # two files named astronaut.jpg, two sets


def test_only_runs_the_named_analyses(photos, tmp_path, capsys):
    out = tmp_path / "only.jsonl"
    assert main(["forensics", str(photos["jpeg"]), "--only", "ela, noise", "--json",
                 str(out)]) == 0
    (line,) = _lines(out)
    assert list(line) == ["file", "sha256", "width", "height", "noise", "ela"]
    printed = capsys.readouterr().out
    assert "  ela: " in printed and "  noise: " in printed and "  jpeg: " not in printed


def test_an_unknown_analysis_name_is_a_usage_error(photos, tmp_path):
    result = _lte_inspect("forensics", str(photos["jpeg"]), "--only", "ela,wavelets")
    assert result.returncode == 2
    assert "unknown forensic analysis wavelets" in result.stderr
    assert "copy_move" in result.stderr  # says what it could be
    result = _lte_inspect("analyze", str(photos["jpeg"]), "--forensics=sift")
    assert result.returncode == 2 and "unknown forensic analysis sift" in result.stderr


def test_bad_files_get_an_error_line_and_the_batch_goes_on(photos, tmp_path):
    folder = tmp_path / "evidence"
    folder.mkdir()
    data = photos["jpeg"].read_bytes()
    (folder / "a_truncated.jpg").write_bytes(data[: len(data) // 2])
    (folder / "b_notes.jpg").write_text("meeting notes, not a picture\n")
    (folder / "c_good.jpg").write_bytes(data)
    out = tmp_path / "batch.jsonl"
    result = _lte_inspect("forensics", str(folder), "--only", "jpeg,ela", "--json", str(out))
    assert result.returncode == 1, result.stderr  # as analyze: some files failed
    truncated, notes, good = _lines(out)
    assert set(truncated) == set(notes) == {"file", "error"}
    assert "truncated" in truncated["error"] and "not an image" in notes["error"]
    assert Path(good["file"]).name == "c_good.jpg" and good["ela"]["statement"]
    assert "[3/3]" in result.stderr and "3 of 3 files processed, 2 failed" in result.stderr
    assert "b_notes.jpg: FAILED: " in result.stdout


def test_a_bare_forensics_flag_means_all_and_leaves_the_path_alone():
    argv = expand_bare_forensics(["analyze", "--forensics", "photo.jpg", "--", "--forensics"])
    args = build_parser().parse_args(argv)
    assert args.forensics == ANALYSIS_NAMES
    assert args.paths == ["photo.jpg", "--forensics"]  # after "--" it is a file name
    args = build_parser().parse_args(["analyze", "photo.jpg", "--forensics=metadata,ela"])
    assert args.forensics == ("ela", "metadata")
    assert build_parser().parse_args(["analyze", "photo.jpg"]).forensics == ()


def test_forensics_names_may_follow_the_flag_after_a_space(tmp_path, monkeypatch):
    argv = expand_bare_forensics(["analyze", "--forensics", "ela,noise", "photo.jpg"])
    args = build_parser().parse_args(argv)
    assert args.forensics == ("noise", "ela") and args.paths == ["photo.jpg"]
    # a file that happens to be called like an analysis is a path, not a name
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ela").write_bytes(b"")
    args = build_parser().parse_args(expand_bare_forensics(["analyze", "--forensics", "ela"]))
    assert args.forensics == ANALYSIS_NAMES and args.paths == ["ela"]


def test_analyze_with_forensics_stores_them_and_their_maps_in_the_case(photos, tmp_path, capsys):
    from inspector.core.casestore import CaseStore

    case, out = tmp_path / "case", tmp_path / "analyze.jsonl"
    code = main(["analyze", str(photos["jpeg"]), "--forensics=ela", "--case", str(case),
                 "--device", "cpu", "--max-regions", "0", "--max-new-tokens", "64",
                 "--json", str(out)])  # the bundled demo model, Query 1 only: quick
    printed = capsys.readouterr()
    assert code == 0, printed.err
    (analysis,) = CaseStore.open(case).latest()  # reloaded from disk
    assert list(analysis.forensics) == ["ela"]
    stored = analysis.forensics["ela"]
    assert stored["map"] == f"closeups/{analysis.id}/forensics-ela.png"
    with Image.open(case / stored["map"]) as im:
        assert im.mode == "L" and abs(im.width * 300 / 400 - im.height) <= 1.5
    assert stored["error"] is None and stored["indicators"].keys() >= CONTRACT["ela"]
    assert f"  ela: {stored['statement']}" in printed.out
    (line,) = _lines(out)  # the JSON line carries them, with the stored map's path
    assert line["forensics"]["ela"]["map"] == stored["map"]
    assert line["analysis"]["forensics"]["ela"]["map"] == stored["map"]
    # a case export (`lte-inspect export`, File › Export) carries them the same way
    from inspector.core.exports import export_case_tables

    export_case_tables(CaseStore.open(case), jsonl=tmp_path / "export.jsonl")
    (exported,) = _lines(tmp_path / "export.jsonl")
    assert exported["forensics"] == line["forensics"]
    assert exported["forensics"]["ela"]["statement"] == stored["statement"]


def test_the_case_store_keeps_forensic_maps_only_for_results_it_holds(tmp_path):
    from inspector.core.casestore import CaseStore
    from inspector.core.results import Analysis, Evidence, ModelProvenance, QueryRecord

    store = CaseStore.create(tmp_path / "case", "F-1")
    analysis = Analysis(
        evidence=Evidence("x.jpg", 10, "ab" * 32, 40, 20, "JPEG", "RGB"),
        model=ModelProvenance("m", "transformers", "qwen2_5_vl"),
        query1=QueryRecord("", "text", "real", 0.1),
        forensics={"noise": {"name": "noise", "statement": "s", "map": None}},
    )
    ramp = np.tile(np.linspace(0, 1, 40, dtype=np.float32), (20, 1))
    store.add_analysis(analysis, {}, forensic_maps={"noise": ramp, "ela": ramp})
    relpath = f"closeups/{analysis.id}/forensics-noise.png"
    assert analysis.forensics["noise"]["map"] == relpath  # the caller's record says where
    with Image.open(store.root / relpath) as im:
        pixels = np.asarray(im)
    assert pixels.shape == (20, 40) and pixels[0, 0] == 0 and pixels[0, -1] == 255
    assert not (store.root / f"closeups/{analysis.id}/forensics-ela.png").exists()
    reopened = CaseStore.open(store.root)
    assert reopened.get(analysis.id).forensics["noise"]["map"] == relpath
    assert reopened.problems == []
