"""medr1_core.files: one policy for JSON lines (nothing dropped silently) and one YAML config reader."""

from __future__ import annotations

import json

import pytest

from medr1_core.errors import ConfigError, Medr1Error
from medr1_core.files import BadLine, append_jsonl, drop_partial_tail, iter_jsonl, read_jsonl, read_yaml_mapping


def test_one_bad_byte_spoils_one_line_not_the_file(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"a": 1}\n{"b": "\xff"}\n\n{"c": 3}\nnot json\n{"d": 4')
    found = read_jsonl(path)
    assert [r.value for r in found.records] == [{"a": 1}, {"c": 3}]  # the BOM is not part of line 1
    assert [(b.line, b.reason.split(" (")[0].split(":")[0]) for b in found.bad_lines] == [
        (2, "not UTF-8 text"), (5, "invalid JSON"), (6, "partially written last line")]
    assert found.partial_tail
    assert str(found.bad_lines[0]) == f"{path}:2: {found.bad_lines[0].reason}"
    assert len(found.records) + len(found.bad_lines) == 5  # every non-blank line accounted for


def test_append_writes_valid_json_and_never_joins_a_cut_line(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"step": 1}\n{"step": 2, "los')
    assert drop_partial_tail(path) == len('{"step": 2, "los')
    append_jsonl(path, [{"step": 2, "loss": float("nan"), "nested": [float("inf"), 1.0]}])
    lines = path.read_text().splitlines()
    assert [json.loads(line) for line in lines] == [{"step": 1}, {"step": 2, "loss": None, "nested": [None, 1.0]}]
    path.write_text('{"x": 1}')  # a whole record without its newline keeps it
    assert drop_partial_tail(path) == 0 and path.read_text() == '{"x": 1}\n'


@pytest.mark.parametrize(
    "content, message",
    [(b"a: [1,\n", "not valid YAML"), (b"- 1\n- 2\n", "expected a mapping"), (b"x: \xff\n", "not UTF-8")],
)
def test_yaml_config_errors_name_the_file(tmp_path, content, message):
    path = tmp_path / "run.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=message) as err:
        read_yaml_mapping(path)
    assert str(path) in str(err.value) and isinstance(err.value, Medr1Error)


def test_badline_is_a_plain_record():
    bad = BadLine("f.jsonl", 3, "invalid JSON")
    assert (bad.path, bad.line, bad.reason) == ("f.jsonl", 3, "invalid JSON")


def test_what_orjson_refuses_still_reads_and_writes_as_the_standard_library_does(tmp_path):
    import math

    import numpy as np

    from medr1_core.files import dumps_line, loads

    path = tmp_path / "odd.jsonl"
    path.write_bytes(b'{"x": NaN}\n{"big": 123456789012345678901234567890}\n{"s": "caf\xc3\xa9"}\n')
    values = [item.value for item in iter_jsonl(path)]
    assert math.isnan(values[0]["x"]) and values[1]["big"] == 123456789012345678901234567890
    assert values[2] == {"s": "café"} and loads('{"a": [1, 2.5, null]}') == {"a": [1, 2.5, None]}
    assert dumps_line({"a": float("nan"), "b": float("inf"), "c": "é"}) == '{"a":null,"b":null,"c":"é"}\n'
    assert json.loads(dumps_line({"n": np.float32(0.5), "big": 2**70})) == {"n": 0.5, "big": 2**70}
