"""Reliability, class 8: what medr1 writes stays valid.

Scores are finite numbers within the reward's declared ``range`` (or ``None``);
anything else counts as a failure of that reward, like raising. Data written to
stdout (``rewards score``, ``--json`` listings) never shares the stream with
what plugins print.
"""

from __future__ import annotations

import json

import pytest

from medr1_core.cli import main
from medr1_core.composition import ComposedRewards, RewardFailureWarning
from medr1_core.errors import RunFailed
from medr1_core.parsing import make_rollouts
from medr1_core.rewards import reward
from medr1_core.samples import Sample

ROW = {"id": "1", "question": "Which?", "options": {"A": "CT", "B": "MRI"}, "answer": "A",
       "completion": "<think>axial slices</think><answer>A</answer>"}


def strict_json(line: str):
    """json.loads that refuses Infinity and NaN, as every other JSON reader does."""
    def refuse(name):
        raise ValueError(f"not JSON: {name}")
    return json.loads(line, parse_constant=refuse)


def _rollouts(n=2):
    sample = Sample(id="s", question="Which?", answer="A", options={"A": "CT", "B": "MRI"})
    return make_rollouts([sample] * n, ["<think>x</think><answer>A</answer>"] * n)


@pytest.mark.parametrize("value, why", [
    (float("inf"), "not a finite number"),
    (float("-inf"), "not a finite number"),
    (1e9, "outside its declared range"),
    (-0.5, "outside its declared range"),
    ("0.7", "a number or None"),
    ([0.5], "a number or None"),
])
def test_a_score_that_is_not_a_finite_number_in_range_counts_as_failed(value, why):
    @reward(name="odd", range=(0.0, 1.0))
    def odd(rollout):
        return value

    composed = ComposedRewards([odd()])
    with pytest.warns(RewardFailureWarning, match=why):
        scores = composed.score(_rollouts())
    assert scores.per_reward["odd"] == [None, None] and scores.total == [None, None]
    assert composed.failures["odd"] == 1
    with pytest.raises(RunFailed, match="odd"):
        ComposedRewards([odd()], strict=True).score(_rollouts())


def test_in_range_scores_nan_and_none_pass_through():
    @reward(name="fine", range=(-1.0, 1.0), batched=True)
    def fine(rollouts):
        return [-1, True, None, float("nan")][: len(rollouts)]

    composed = ComposedRewards([fine()])
    assert composed.score(_rollouts(4)).per_reward["fine"] == [-1.0, 1.0, None, None]
    assert composed.failures["fine"] == 0


def test_rewards_score_output_is_valid_json_when_a_reward_returns_inf(tmp_path, capsys):
    code = tmp_path / "infinite.py"
    code.write_text("def infinite(prompts, completions, **kwargs):\n    return [float('inf')] * len(completions)\n")
    data = tmp_path / "in.jsonl"
    data.write_text(json.dumps(ROW) + "\n")
    with pytest.warns(RewardFailureWarning, match="reward 'infinite' returned inf, not a finite number"):
        assert main(["rewards", "score", "--rewards", f"format,{code}:infinite", "--input", str(data)]) == 0
    out, err = capsys.readouterr()
    rows = [strict_json(line) for line in out.splitlines()]
    assert rows == [{"id": "1", "rewards": {"format": 1.0, "infinite": None}, "total": 1.0}]
    summary = [line for line in err.splitlines() if line.startswith("infinite")]
    assert summary and summary[0].split()[-1] == "1"  # failed batches


def test_plugin_prints_never_reach_the_scores(tmp_path, capsys):
    code = tmp_path / "chatty.py"
    code.write_text(
        "import os\n"
        "print('chatty: imported')\n"
        "def chatty(prompts, completions, **kwargs):\n"
        "    print('chatty: scoring', len(completions))\n"
        "    return [0.5] * len(completions)\n"
    )
    data = tmp_path / "in.jsonl"
    data.write_text(json.dumps(ROW) + "\n" + json.dumps({**ROW, "id": "2"}) + "\n")
    assert main(["rewards", "score", "--rewards", f"{code}:chatty", "--input", str(data)]) == 0
    out, err = capsys.readouterr()
    assert [strict_json(line)["id"] for line in out.splitlines()] == ["1", "2"]
    assert "chatty: imported" in err and "chatty: scoring 2" in err


def test_writes_to_file_descriptor_1_never_reach_the_scores(tmp_path):
    """Below Python (C extensions, subprocesses): the scores have a descriptor of their own."""
    from helpers import run_cli

    code = tmp_path / "raw.py"
    code.write_text(
        "import os\n"
        "def raw(prompts, completions, **kwargs):\n"
        "    os.write(1, b'raw: written to fd 1\\n')\n"
        "    return [0.5] * len(completions)\n"
    )
    data = tmp_path / "in.jsonl"
    data.write_text(json.dumps(ROW) + "\n")
    proc = run_cli("rewards", "score", "--rewards", f"{code}:raw", "--input", str(data))
    assert [strict_json(line) for line in proc.stdout.splitlines()] == [
        {"id": "1", "rewards": {"raw": 0.5}, "total": 0.5}]
    assert "raw: written to fd 1" in proc.stderr


def test_plugins_json_stays_valid_when_a_plugin_prints(make_distribution, capsys):
    make_distribution("medr1-noisy", "noisy_plugin", "print('hello from noisy')\n")
    assert main(["plugins", "--json"]) == 0
    out, err = capsys.readouterr()
    assert any(p["distribution"] == "medr1-noisy" for p in json.loads(out))
    assert "hello from noisy" in err
