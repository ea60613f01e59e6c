"""``medr1 rewards list`` and ``medr1 rewards score``."""

import json

import pytest
from click.testing import CliRunner

from medr1_core.composition import RewardFailureWarning

from medr1_core.cli import cli

OPTIONS = {"A": "MRI", "B": "X-ray", "C": "CT", "D": "Ultrasound"}


def invoke(*args):
    return CliRunner().invoke(cli, list(args))


def test_list_shows_names_descriptions_params_and_origin():
    result = invoke("rewards", "list")
    assert result.exit_code == 0, result.output
    out = result.stdout
    for name in ("format", "accuracy", "dtree"):
        assert f"{name}  [plugin 'rewards' (medr1 " in out
    assert "partial: bool = False" in out
    assert "open_threshold: float = 90.0" in out
    assert "trees: list[str] = []" in out and "Extra tree files or folders" in out
    items = {i["name"]: i for i in json.loads(invoke("rewards", "list", "--json").stdout)}
    assert "fuzzy_threshold: float = 90.0  (>= 50; <= 100)" in out  # constraints too
    assert items["dtree"]["params"][0] == {"name": "trees", "type": "list[str]", "default": [],
                                           "constraints": ["paths relative to the config file"],
                                           "description": "Extra tree files or folders (their ``*.yaml``, "
                                                          "``*.yml``, ``*.json``); relative paths in a config file "
                                                          "resolve against the file's folder."}
    assert items["accuracy"]["range"] == [0.0, 1.0]


def write_jsonl(path, rows):
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


ROWS = [
    {"id": "a", "question": "Which modality?", "options": OPTIONS, "answer": "C", "modality": "CT(Computed Tomography)",
     "task": "Modality Recognition",
     "completion": "<think>Hyperdense areas in Hounsfield units.</think>\n<answer>C</answer>"},
    {"id": "b", "question": "Which modality?", "options": OPTIONS, "answer": "C",
     "completion": "The image looks like CT, so C"},
    "{not json",
    {"id": "d", "question": "Which organ?", "options": None, "answer": "left kidney",
     "completion": [{"role": "assistant", "content": "<think>kidney</think><answer>Left kidney</answer>"}]},
    {"id": "e", "question": "q", "options": OPTIONS, "answer": "C"},
    ["a", "list"],
    {"id": "g", "question": "Which modality?", "options": OPTIONS, "answer": "C", "modality": "Thermal",
     "completion": "<think>x</think><answer>A or C</answer>"},
]


def test_score_writes_rows_in_order_and_a_summary(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", ROWS)
    out = tmp_path / "out.jsonl"
    result = invoke("rewards", "score", "--rewards", "format,accuracy,dtree", "--reward-weights", "0.5,1,1",
                    "--input", str(src), "--output", str(out))
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["id"] for line in lines] == ["a", "b", "d", "g"]
    assert lines[0] == {"id": "a", "rewards": {"format": 1.0, "accuracy": 1.0, "dtree": 1.0}, "total": 2.5}
    assert lines[1]["rewards"] == {"format": 0.0, "accuracy": 0.0, "dtree": None} and lines[1]["total"] == 0.0
    assert lines[2]["rewards"]["accuracy"] == 1.0 and lines[2]["rewards"]["dtree"] is None
    assert lines[3]["rewards"]["accuracy"] == 0.0
    err = result.stderr
    assert f"{src}:3: skipped: invalid JSON" in err
    assert f"{src}:5: skipped: 'completion' must be a string" in err
    assert f"{src}:6: skipped: expected a JSON object, got list" in err
    assert f"{src}:7: note: unknown modality 'Thermal'" in err
    assert "scored 4 completion(s)" in err and "skipped 3 bad line(s)" in err
    assert "1 parse failure(s)" in err  # "b": no tags ("g" is well-formed, its answer a hedge)
    summary = {line.split()[0]: line.split()[1:] for line in err.splitlines() if line.startswith(("format", "accuracy",
                                                                                                 "dtree"))}
    assert summary["format"] == ["0.5", "0.750", "0", "0"]
    assert summary["dtree"][2] == "3"  # None for three rows


def test_score_to_stdout_with_a_config(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", [ROWS[0], ROWS[1]])
    cfg = tmp_path / "rewards.yaml"
    cfg.write_text("rewards:\n  format: {weight: 2, params: {partial: true}}\n  accuracy: 1\n")
    result = invoke("rewards", "score", "--config", str(cfg), "--input", str(src))
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows[0]["total"] == 3.0
    assert rows[1]["rewards"]["format"] == 1 - 5 / 6 and rows[1]["total"] == 2 * (1 - 5 / 6)


def test_score_variant_and_bad_arguments(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", [{"id": "n", "question": "q", "options": OPTIONS, "answer": "C",
                                               "completion": "<answer>C</answer>"}])
    result = invoke("rewards", "score", "--rewards", "format", "--variant", "nothink", "--input", str(src))
    assert json.loads(result.stdout)["rewards"] == {"format": 1.0}
    result = invoke("rewards", "score", "--rewards", "format,acuracy", "--input", str(src))
    assert result.exit_code == 2 and "Did you mean 'accuracy'" in result.stderr
    result = invoke("rewards", "score", "--rewards", "format", "--reward-weights", "1,2", "--input", str(src))
    assert result.exit_code == 2 and "2 weight(s) for 1 reward(s)" in result.stderr
    cfg = tmp_path / "c.yaml"
    cfg.write_text("rewards: {accuracy: {params: {open_threshold: 300}}}\n")
    result = invoke("rewards", "score", "--config", str(cfg), "--input", str(src))
    assert result.exit_code == 2 and "reward 'accuracy': parameter 'open_threshold'" in result.stderr


def test_score_isolates_a_failing_adhoc_reward(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", [ROWS[0]])
    (tmp_path / "boom.py").write_text("def boom(rollout):\n    raise RuntimeError('bad rule')\n")
    with pytest.warns(RewardFailureWarning, match="reward 'boom' raised RuntimeError: bad rule"):
        result = invoke("rewards", "score", "--rewards", f"accuracy,{tmp_path / 'boom.py'}:boom", "--input", str(src))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"id": "a", "rewards": {"accuracy": 1.0, "boom": None}, "total": 1.0}
    assert [line.split()[-1] for line in result.stderr.splitlines() if line.startswith("boom")] == ["1"]
    strict = invoke("rewards", "score", "--strict", "--rewards", f"{tmp_path / 'boom.py'}:boom", "--input", str(src))
    assert strict.exit_code == 1 and "reward 'boom' raised RuntimeError: bad rule" in strict.stderr


def test_failure_warning_reaches_stderr_once_in_a_real_run(tmp_path):
    from helpers import run_cli

    src = write_jsonl(tmp_path / "in.jsonl", [ROWS[0]] * 3)
    (tmp_path / "boom.py").write_text("def boom(rollout):\n    raise RuntimeError('bad rule')\n")
    proc = run_cli("rewards", "score", "--batch-size", "1", "--rewards", f"{tmp_path / 'boom.py'}:boom",
                   "--input", str(src))
    assert proc.stderr.count("medr1: warning: reward 'boom' raised RuntimeError: bad rule") == 1
    assert "Traceback" in proc.stderr
    assert [line.split()[-1] for line in proc.stderr.splitlines() if line.startswith("boom")] == ["3"]
