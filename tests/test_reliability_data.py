"""Reliability, classes 2 and 10: no data is lost silently, and images stay inside the dataset.

Class 2: a dataset is read line by line: one bad line is one bad record with
its ``file:line``, every other record is read, a UTF-8 byte-order mark is
fine, what was skipped is said, and a run whose data is largely bad refuses to
start unless told to go on.

Class 10: an image path that leaves the dataset's root (``../../etc/passwd``)
or is absolute is refused unless the user allows it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from medr1_core.cli import main
from medr1_core.data import DataError, Selection, choose_samples, load_samples
from medr1_core.data.images import ImageError, image_path
from medr1_core.samples import Sample

BOM = b"\xef\xbb\xbf"


def record(i: int, **extra) -> dict:
    return {"id": f"q{i}", "question": "Which modality?", "options": {"A": "CT", "B": "MRI"}, "answer": "A",
            "images": ["img.png"], **extra}


def lines(records) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


@pytest.fixture
def folder(tmp_path) -> Path:
    """Three JSONL files of 16 records: b.jsonl has one undecodable byte, c.jsonl starts with a BOM."""
    root = tmp_path / "data"
    root.mkdir()
    Image.new("RGB", (32, 32)).save(root / "img.png")
    (root / "a.jsonl").write_bytes(lines(record(i) for i in range(16)))
    b = lines(record(i) for i in range(16, 32)).split(b"\n")
    b[4] = b[4].replace(b"Which", b"Wh\xffich")
    (root / "b.jsonl").write_bytes(b"\n".join(b))
    (root / "c.jsonl").write_bytes(BOM + lines(record(i) for i in range(32, 48)))
    return root


def test_one_bad_byte_costs_one_line_and_a_bom_is_fine(folder):
    report = load_samples(folder)
    assert len(report.samples) == 47
    assert {s.id for s in report.samples} == {f"q{i}" for i in range(48)} - {"q20"}
    (bad,) = report.bad
    assert Path(bad.file).name == "b.jsonl" and bad.line == 5 and "UTF-8" in bad.reason
    assert bad.where == f"{folder / 'b.jsonl'}:5"


def test_a_json_list_file_with_a_bom_is_read(tmp_path):
    from helpers import SPLITS

    source = sorted((SPLITS / "modality").glob("*.json"))[0]
    target = tmp_path / "modality" / source.name
    target.parent.mkdir()
    target.write_bytes(BOM + source.read_bytes())
    assert load_samples(tmp_path).bad == [] and len(load_samples(tmp_path)) == len(json.loads(source.read_text()))


def test_what_was_skipped_is_said_with_file_and_line(folder):
    chosen = choose_samples(folder, Selection())
    assert chosen.skipped["bad_records"] == 1
    assert any(f"{folder / 'b.jsonl'}:5" in m and "UTF-8" in m for m in chosen.messages), chosen.messages


def test_largely_bad_data_refuses_to_start_unless_told(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    Image.new("RGB", (32, 32)).save(root / "img.png")
    good = [json.dumps(record(i)) for i in range(7)]
    (root / "d.jsonl").write_text("\n".join(good + ["{not json"] * 3) + "\n")
    with pytest.raises(DataError, match=r"3 of 10 records.*30%.*max_bad_fraction"):
        choose_samples(root, Selection())
    chosen = choose_samples(root, Selection(max_bad_fraction=0.5))
    assert len(chosen.samples) == 7 and chosen.skipped["bad_records"] == 3


def test_train_refuses_largely_bad_data_before_loading_a_model(tmp_path, capsys, monkeypatch):
    import medr1_core.train.models as models

    monkeypatch.setattr(models, "load_model_and_processor", lambda *a, **k: pytest.fail("model loaded"))
    monkeypatch.setattr(models, "load_processor", lambda *a, **k: pytest.fail("model loaded"))
    root = tmp_path / "data"
    root.mkdir()
    Image.new("RGB", (32, 32)).save(root / "img.png")
    (root / "d.jsonl").write_text("\n".join([json.dumps(record(0))] + ["{x"] * 4) + "\n")
    code = main(["train", "--model", "tiny", "--data", str(root), "--output-dir", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and "4 of 5 records" in err and "Traceback" not in err
    assert not (tmp_path / "run" / "config.yaml").exists()


# --------------------------------------------------------------------------- class 10


def test_image_paths_that_leave_the_dataset_root_are_refused(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    Image.new("RGB", (32, 32)).save(root / "img.png")
    outside = tmp_path / "secret.png"
    Image.new("RGB", (32, 32)).save(outside)
    rows = [record(0), record(1, images=["../secret.png"]), record(2, images=[str(outside)]),
            record(3, images=["sub/../img.png"])]
    (root / "d.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    with pytest.raises(DataError) as err:
        choose_samples(root, Selection())
    message = str(err.value)
    assert "2 image path(s)" in message and "../secret.png" in message and "--allow-outside-images" in message
    allowed = choose_samples(root, Selection(allow_outside_images=True))
    assert len(allowed.samples) == 4


def test_opening_an_image_outside_the_root_fails_even_without_the_check(tmp_path):
    sample = Sample(id="s", question="q", answer="a", images=("../../etc/passwd",),
                    extras={"image_root": str(tmp_path)})
    with pytest.raises(ImageError, match="outside the dataset folder"):
        image_path(sample, "../../etc/passwd")
    with pytest.raises(ImageError, match="absolute"):
        image_path(sample, "/etc/passwd")
    assert image_path(sample, "/etc/passwd", allow_outside=True) == "/etc/passwd"
    assert image_path(sample, "a/../b.png") == str(tmp_path / "b.png")


def test_train_config_and_cli_take_the_permission():
    from medr1_core.train.config import load_train_config

    config = load_train_config(overrides={"allow_outside_images": True})
    assert config.selection().allow_outside_images is True
    assert load_train_config().selection().allow_outside_images is False
