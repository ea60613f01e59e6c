"""Reliability, class 9: a sentence where a traceback was.

Each case is run through ``medr1``'s own entry point: one line
``medr1: error: ...`` naming the file / field / value and what was expected,
the documented exit code, and no traceback.
"""

from __future__ import annotations

import json

import pytest

from medr1_core.cli import main

FAST = ["--model", "tiny", "--data", "sample"]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err, err[-3000:]
    lines = [line for line in err.splitlines() if line.startswith("medr1: error:")]
    return code, lines, err


def no_model_loads(monkeypatch):
    import medr1_core.train.models as models

    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded before the mistake was found")

    monkeypatch.setattr(models, "load_model_and_processor", refuse)
    monkeypatch.setattr(models, "load_processor", refuse)  # medr1 train loads the processor, TRL the model


def test_a_rule_file_that_is_not_utf8(tmp_path, capsys):
    tree = tmp_path / "latin1.yaml"
    tree.write_bytes("title: Pneumonie \u00e9\nscope: {}\n".encode("latin-1"))
    code, _, err = run(capsys, "rules", "validate", str(tree))
    assert code == 1 and "latin1.yaml" in err and "UTF-8" in err


def test_a_config_that_is_not_utf8(tmp_path, capsys):
    config = tmp_path / "run.yaml"
    config.write_bytes("model: tiny\n# r\u00e9sum\u00e9\n".encode("latin-1"))
    code, lines, _ = run(capsys, "train", "--config", str(config), "--output-dir", str(tmp_path / "r"))
    assert code == 2 and len(lines) == 1 and "run.yaml" in lines[0] and "UTF-8" in lines[0]


def test_strict_scoring_with_a_failing_reward(tmp_path, capsys):
    code_file = tmp_path / "boom.py"
    code_file.write_text("def boom(prompts, completions, **kwargs):\n    raise ValueError('table missing')\n")
    data = tmp_path / "in.jsonl"
    data.write_text(json.dumps({"id": "1", "question": "Q?", "answer": "A", "options": {"A": "x", "B": "y"},
                                "completion": "<answer>A</answer>"}) + "\n")
    code, lines, _ = run(capsys, "rewards", "score", "--rewards", f"{code_file}:boom", "--strict", "--input", str(data))
    assert code == 1 and len(lines) == 1
    assert "reward 'boom' raised ValueError: table missing" in lines[0]


def test_num_generations_that_does_not_divide_the_batch(tmp_path, capsys, monkeypatch):
    no_model_loads(monkeypatch)
    code, lines, _ = run(capsys, "train", *FAST, "--num-generations", "3", "--output-dir", str(tmp_path / "r"))
    assert code == 2 and len(lines) == 1
    assert "num_generations" in lines[0] and "3" in lines[0]
    assert not (tmp_path / "r" / "config.yaml").exists()


@pytest.mark.parametrize("setting, field", [
    ("grpo.extra.foo=1", "grpo.extra"),
    ("grpo.temperature=.inf", "grpo.temperature"),
    ("grpo.generation_kwargs={temperature: .inf}", "grpo.generation_kwargs"),
])
def test_bad_grpo_settings(tmp_path, capsys, setting, field):
    code, lines, err = run(capsys, "train", *FAST, "--set", setting, "--output-dir", str(tmp_path / "r"))
    assert code == 2 and field in err and lines


@pytest.mark.parametrize("steps", ["-5", "0"])
def test_max_steps_below_one(tmp_path, capsys, steps):
    code, lines, err = run(capsys, "train", *FAST, "--max-steps", steps, "--output-dir", str(tmp_path / "r"))
    assert code == 2 and "grpo.max_steps" in err and steps in err


def test_an_infinite_eval_temperature(tmp_path, capsys):
    code, lines, _ = run(capsys, "eval", *FAST, "--do-sample", "--temperature", "inf", "-o", str(tmp_path / "e"))
    assert code == 2 and len(lines) == 1 and "temperature" in lines[0]


def test_a_corrupt_model_config(tmp_path, capsys):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text('{"model_type": "llava", ')
    code, lines, _ = run(capsys, "eval", "--model", str(model), "--data", "sample", "-o", str(tmp_path / "e"))
    assert code == 2 and len(lines) == 1 and "config.json" in lines[0] and "JSON" in lines[0]


def test_an_unknown_hub_id_offline(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    code, lines, _ = run(capsys, "eval", "--model", "nobody-xyz/no-such-model", "--data", "sample",
                         "-o", str(tmp_path / "e"))
    assert code == 2 and len(lines) == 1 and "nobody-xyz/no-such-model" in lines[0]


BROKEN = "import no_such_module_abc\n"


@pytest.mark.parametrize("argv", [["plugins"], ["rules", "list"], ["rewards", "list"]])
def test_strict_plugin_errors(make_distribution, monkeypatch, capsys, argv):
    make_distribution("medr1-broken-strict", "broken_strict", BROKEN)
    monkeypatch.setenv("MEDR1_STRICT_PLUGINS", "1")
    from medr1_core.cli import cli

    cli._plugin_commands_loaded = False  # as in a fresh process
    code, lines, _ = run(capsys, *argv)
    assert code == 1 and len(lines) == 1
    assert "medr1-broken-strict" in lines[0] and "no_such_module_abc" in lines[0]
