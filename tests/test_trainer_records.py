"""Training records: validation messages, JSONL round trip, importers, splits, CLI."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from PIL import Image

from trainer.cli import main
from trainer.importers import import_fakexplained, import_synthscars, import_trace
from trainer.records import (
    Record,
    RecordError,
    Region,
    read_records,
    record_for_image,
    validate,
    write_records,
)
from trainer.split import split_records

SHA = "a" * 64


def _image(path: Path, size=(200, 100), color=(10, 120, 200)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)
    return path


def _record(**kw) -> Record:
    base = dict(
        image="img/foo.png", sha256=SHA, width=200, height=100, label="ai-generated",
        explanation="The hand has six fingers.", regions=[Region([10, 10, 50, 40], "hand")],
        source="gen-a",
    )
    base.update(kw)
    return Record(**base)


def test_valid_record_has_no_problems():
    assert validate(_record(), 0) == []


def test_validation_messages_name_record_image_and_field():
    record = _record(regions=[Region([1, 1, 5, 5]), Region([80, 10, 40, 20])])
    assert validate(record, 12) == [
        "record 12 (img/foo.png): regions[1].box: x2 (40) must be greater than x1 (80)"
    ]
    record = _record(label="fake", sha256="xyz", width=0, regions=[Region([0, 0, 10, 10], tag="x")])
    problems = validate(record, 3)
    assert any(p.startswith("record 3 (img/foo.png): label:") for p in problems)
    assert any(": sha256:" in p for p in problems)
    assert any(": width:" in p for p in problems)
    assert any("regions[0].tag" in p for p in problems)
    outside = validate(_record(regions=[Region([150, 10, 250, 20])]), 0)
    assert outside == [
        "record 0 (img/foo.png): regions[0].box: [150, 10, 250, 20] is not inside the image "
        "(200x100)"
    ]


def test_write_read_round_trip_and_atomic_refusal(tmp_path):
    path = tmp_path / "data.jsonl"
    records = [_record(), _record(image="b.png", label="real", regions=[])]
    write_records(path, records)
    assert read_records(path) == records
    assert [p.name for p in tmp_path.iterdir()] == ["data.jsonl"]  # no temp file left
    with pytest.raises(RecordError, match=r"record 1 \(b.png\): label"):
        write_records(path, [records[0], _record(image="b.png", label="maybe")])
    assert read_records(path) == records  # the old file is untouched


def test_read_records_reports_line_numbers(tmp_path):
    path = tmp_path / "data.jsonl"
    good = json.dumps(_record().to_dict())
    bad = json.dumps({**_record().to_dict(), "image": "x.png", "height": -1})
    path.write_text(good + "\n\n" + bad + "\n{oops\n")
    with pytest.raises(RecordError) as info:
        read_records(path)
    text = str(info.value)
    assert "record 3 (x.png): height: must be a positive integer" in text
    assert "record 4 (?): not valid JSON" in text


def test_record_for_image_reads_hash_and_size(tmp_path):
    path = _image(tmp_path / "a.png", (64, 48))
    record = record_for_image(path, "real", "A plain photo.", [[1, 2, 30, 40]], "coco")
    assert (record.width, record.height) == (64, 48)
    assert record.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert record.regions == [Region([1, 2, 30, 40])]
    with pytest.raises(RecordError, match="x2"):
        record_for_image(path, "real", "x", [[30, 2, 1, 40]], "coco")


def test_import_trace_jsonl_labels_boxes_and_problems(tmp_path):
    _image(tmp_path / "imgs/a.png")
    _image(tmp_path / "imgs/b.png", color=(1, 2, 3))
    rows = [
        {"image": "imgs/a.png", "y": "generated", "E": "Warped text.",
         "B": [[10, 10, 60, 50], {"bbox": [100, 20, 300, 80], "label": "sign"}]},
        {"image_path": "imgs/b.png", "label": "Real", "explanation": "Consistent shadows.",
         "boxes": []},
        {"image": "imgs/missing.png", "label": "fake", "explanation": "x", "boxes": []},
        {"image": "imgs/a.png", "label": "unsure", "explanation": "x"},
        {"image": "imgs/a.png", "label": "fake", "explanation": "x", "boxes": [[5, 5, 5, 9]]},
    ]
    path = tmp_path / "trace.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    records, problems = import_trace(path)
    assert [r.label for r in records] == ["ai-generated", "real", "ai-generated"]
    first = records[0]
    assert first.regions == [Region([10, 10, 60, 50]), Region([100, 20, 200, 80], "sign")]
    assert Path(first.image).is_absolute() and first.source == "trace"
    joined = "\n".join(problems)
    assert "entry 3 (imgs/missing.png): image cannot be read" in joined
    assert "entry 4 (imgs/a.png): label 'unsure'" in joined
    assert "entry 5 (imgs/a.png): regions[0]: box [5, 5, 5, 9] has no area" in joined
    # JSON list and in-memory rows give the same records
    (tmp_path / "trace.json").write_text(json.dumps(rows[:2]))
    assert import_trace(tmp_path / "trace.json")[0] == records[:2]
    assert import_trace(rows[:2], base_dir=tmp_path)[0] == records[:2]


def test_import_fakexplained_spaces(tmp_path):
    _image(tmp_path / "f.png", (200, 100))
    answer = ("<think>The <ref>left eye</ref><bbox>[10,10,50,50]</bbox> is odd.</think>"
              "<tag>Texture errors</tag><verdict>AI-generated</verdict>")
    row = {
        "messages": [{"role": "user", "content": "<image>Real or fake?"},
                     {"role": "assistant", "content": answer}],
        "images": ["f.png"],
        "objects": {"ref": ["left eye"], "bbox": [[100, 100, 500, 600]]},
    }
    path = tmp_path / "fx.jsonl"
    path.write_text(json.dumps(row) + "\n")
    records, problems = import_fakexplained(path, bbox_space="relative1000")
    assert problems == []
    (record,) = records
    assert record.label == "ai-generated"
    assert record.explanation == "The left eye is odd."
    assert record.regions == [Region([20, 10, 100, 60], "left eye")]
    # auto: 600 > height 100 → relative; read as pixels, the box lies outside the image
    assert import_fakexplained(path, bbox_space="auto")[0] == records
    absolute, problems = import_fakexplained(path, bbox_space="absolute")
    assert absolute[0].regions == [], problems
    assert "regions[0]: box [100, 100, 500, 600] has no area inside" in problems[0]
    row2 = {**row, "objects": {**row["objects"], "bbox": [[1, 2, 30, 40]], "bbox_type": "real"}}
    path.write_text(json.dumps(row2) + "\n" + json.dumps({**row, "objects": {
        "ref": ["a"], "bbox": [[1, 2, 30, 40]]}}) + "\n")
    records, problems = import_fakexplained(path, bbox_space="auto")
    assert [r.regions[0].box for r in records] == [[1, 2, 30, 40]]
    assert "entry 2 (f.png): cannot tell" in problems[0]


def test_import_synthscars_polygons_to_clamped_boxes(tmp_path):
    _image(tmp_path / "s.png", (200, 100))
    data = [
        {"img_file_name": "s.png", "refs": [
            {"polygon": [[10, 20], [40, 5], [30, 60]], "caption": "melted fork",
             "category": "structure"},
            {"points": [150, 50, 250, 40, 180, 120], "caption": "blurry sign"},
        ]},
        {"img_file_name": "s.png", "refs": [{"polygon": "nope"}]},
    ]
    path = tmp_path / "scars.json"
    path.write_text(json.dumps(data))
    records, problems = import_synthscars(path)
    (record,) = records
    assert record.label == "ai-generated" and record.source == "synthscars"
    assert record.regions == [
        Region([10, 5, 40, 60], "melted fork", "structure"),
        Region([150, 40, 200, 100], "blurry sign"),
    ]
    assert record.explanation == "melted fork. blurry sign."
    assert any("entry 2 (s.png): regions[0]: no usable polygon" in p for p in problems)
    assert any("entry 2 (s.png): no explanation" in p for p in problems)


def _many(n_per: int = 20) -> list[Record]:
    out = []
    for source in ("gen-a", "gen-b", "coco"):
        for label in ("real", "ai-generated"):
            for i in range(n_per):
                digest = hashlib.sha256(f"{source}{label}{i}".encode()).hexdigest()
                out.append(_record(image=f"{source}/{label}/{i}.png", sha256=digest,
                                   label=label, source=source, regions=[]))
    # a duplicate image under another path
    out.append(_record(image="dup.png", sha256=out[0].sha256, label=out[0].label,
                       source=out[0].source, regions=[]))
    return out


def test_split_is_stratified_deterministic_and_leak_free():
    records = _many()
    train, val, test = split_records(records, seed=3)
    assert len(train) + len(val) + len(test) == len(records)
    shas = [{r.sha256 for r in part} for part in (train, val, test)]
    assert not (shas[0] & shas[1] or shas[0] & shas[2] or shas[1] & shas[2])
    for source in ("gen-a", "gen-b", "coco"):
        for label in ("real", "ai-generated"):
            counts = [sum(r.source == source and r.label == label for r in p)
                      for p in (train, val, test)]
            assert counts[1] == 2 and counts[2] == 2 and counts[0] >= 16
    assert split_records(records, seed=3) == [train, val, test]
    assert split_records(list(reversed(records)), seed=3)[1] == list(reversed(val))
    assert split_records(records, seed=4) != [train, val, test]
    with pytest.raises(ValueError, match="add up to 1"):
        split_records(records, fractions=(0.5, 0.1, 0.1))


def test_cli_import_and_split(tmp_path, capsys):
    for i in range(10):
        _image(tmp_path / "in" / f"{i}.png", color=(i, 2 * i, 3 * i))
    rows = [{"image": f"{i}.png", "label": "real" if i % 2 else "fake",
             "explanation": f"Reason {i}.", "boxes": [[1, 1, 20, 20]]} for i in range(10)]
    rows.append({"image": "nope.png", "label": "real", "explanation": "x"})
    src = tmp_path / "in" / "trace.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in rows))
    out = tmp_path / "data" / "all.jsonl"
    assert main(["import", "trace", str(src), "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert "Imported 10 records (5 real, 5 ai-generated, 10 regions)" in captured.out
    assert "nope.png" in captured.err
    records = read_records(out)
    assert records[0].image == "../in/0.png"
    assert main(["split", str(out), "--out-dir", str(tmp_path / "splits"), "--seed", "1"]) == 0
    assert "train:" in capsys.readouterr().out
    parts = [read_records(tmp_path / "splits" / f"{n}.jsonl") for n in ("train", "val", "test")]
    assert sum(len(p) for p in parts) == 10
    assert parts[0][0].image.startswith("../in/")
    assert main(["import", "--help"]) == 0
