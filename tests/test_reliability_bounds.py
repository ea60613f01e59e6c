"""Reliability, class 6: nothing hangs.

Rule files are data with limits (size, aliases, nesting, decision paths) and
their ``question_patterns`` run on a linear-time regular-expression engine;
each reward has a per-batch time limit, and one past it counts as failed.

Each hostile input is loaded in a child process with a generous wall-clock
guard, so that code which hangs fails the test instead of hanging the suite
(the guard is not a speed target: the bounded code takes well under a second).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import pytest

from medr1_core.composition import ComposedRewards, RewardFailureWarning
from medr1_core.errors import RunFailed
from medr1_core.parsing import make_rollouts
from medr1_core.rewards import reward
from medr1_core.samples import Sample

from helpers import REPO

GUARD_S = 60

VALID = {
    "scope": {"modalities": ["xray"]},
    "findings": {"opacity": ["opacity"], "clear": ["clear lungs"]},
    "conclusions": {"pneumonia": ["pneumonia"], "normal": {"terms": ["normal"], "normal": True}},
    "nodes": [{"id": "start", "if": {"finding": "opacity"}, "then": {"conclude": "pneumonia"},
               "else": {"conclude": "normal"}}],
}


def in_child(code: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter; fail (not hang) if it runs past the guard."""
    try:
        return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                              cwd=REPO, timeout=GUARD_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running after {GUARD_S} s: unbounded")


def validate_in_child(path) -> subprocess.CompletedProcess:
    return in_child(f"""
        import sys
        from medr1_core.cli import main
        sys.exit(main(["rules", "validate", {str(path)!r}]))
    """)


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode not in (0, None), proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    return proc.stderr


def test_a_yaml_alias_bomb_is_refused(tmp_path):
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    bomb = tmp_path / "bomb.yaml"
    # as a mapping: put the tree's keys after the anchors
    text = "\n".join(lines) + "\nreferences: *a9\n" + "\n".join(
        f"{key}: {json.dumps(value)}" for key, value in VALID.items())
    bomb.write_text(text + "\n")
    err = one_error_line(validate_in_child(bomb))
    assert "bomb.yaml" in err and "alias" in err


def test_branches_sharing_sub_nodes_are_bounded(tmp_path):
    n = 60  # every node leads to the next on both branches: 2**60 paths
    nodes = [{"id": f"n{i}", "if": {"finding": "opacity"}, "then": f"n{i + 1}", "else": f"n{i + 1}"}
             for i in range(n)]
    nodes.append({"id": f"n{n}", "if": {"finding": "opacity"}, "then": {"conclude": "pneumonia"}})
    tree = tmp_path / "shared.json"
    tree.write_text(json.dumps({**VALID, "nodes": nodes}))
    err = one_error_line(validate_in_child(tree))
    assert "shared.json" in err and "paths" in err


def test_deep_nesting_is_refused_in_one_line(tmp_path):
    for depth, name in ((5000, "deep.json"), (60, "deeper_than_allowed.json")):
        condition = '{"not": ' * depth + '{"finding": "opacity"}' + "}" * depth
        node = '{"id": "start", "if": ' + condition + ', "then": {"conclude": "normal"}}'
        tree = tmp_path / name
        tree.write_text(json.dumps({**VALID, "nodes": []}).replace('"nodes": []', f'"nodes": [{node}]'))
        err = one_error_line(validate_in_child(tree))
        assert name in err and "nest" in err


def test_a_long_chain_of_nodes_is_refused_in_one_line(tmp_path):
    n = 3000
    nodes = [{"id": f"n{i}", "if": {"finding": "opacity"}, "then": f"n{i + 1}"} for i in range(n)]
    nodes.append({"id": f"n{n}", "if": {"finding": "opacity"}, "then": {"conclude": "pneumonia"}})
    tree = tmp_path / "chain.json"
    tree.write_text(json.dumps({**VALID, "nodes": nodes}))
    err = one_error_line(validate_in_child(tree))
    assert "chain.json" in err


def test_a_huge_rule_file_is_refused(tmp_path):
    tree = tmp_path / "huge.json"
    tree.write_text(json.dumps({**VALID, "description": "x" * (3 * 1024 * 1024)}))
    err = one_error_line(validate_in_child(tree))
    assert "huge.json" in err and "MiB" in err


def test_a_catastrophic_question_pattern_scores_in_linear_time(tmp_path):
    tree = tmp_path / "redos.json"
    tree.write_text(json.dumps({**VALID, "scope": {"question_patterns": ["^(a+)+$", "(x+x+)+y"]}}))
    proc = in_child(f"""
        from medr1_plugins.rewards.dtree import DTreeReward
        from medr1_core.parsing import make_rollouts
        from medr1_core.samples import Sample
        reward = DTreeReward({{"trees": [{str(tree)!r}], "shipped": False}})
        questions = ["a" * 5000 + "!", "x" * 5000, "a" * 40]
        samples = [Sample(id=str(i), question=q, answer="A", options={{"A": "pneumonia", "B": "normal"}})
                   for i, q in enumerate(questions)]
        scores = reward.score(make_rollouts(samples, ["<think>an opacity</think><answer>A</answer>"] * 3))
        print("SCORES", scores)
    """)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "SCORES [None, None, 1.0]" in proc.stdout  # only the all-'a' question matches ^(a+)+$


def test_a_pattern_the_linear_engine_cannot_run_is_refused_at_load(tmp_path):
    tree = tmp_path / "backref.json"
    tree.write_text(json.dumps({**VALID, "scope": {"question_patterns": [r"(chest)\s+\1"]}}))
    err = one_error_line(validate_in_child(tree))
    assert "$.scope.question_patterns[0]" in err and "linear-time" in err


# --------------------------------------------------------------------------- reward time limit


def _rollouts(n=2):
    sample = Sample(id="s", question="Which?", answer="A", options={"A": "CT", "B": "MRI"})
    return make_rollouts([sample] * n, ["<think>x</think><answer>A</answer>"] * n)


@reward(name="sleepy")
def sleepy(rollout):
    time.sleep(120)
    return 1.0


@reward(name="spinning")
def spinning(rollout):
    while True:
        pass


@reward(name="quick")
def quick(rollout):
    return 0.25


@pytest.mark.parametrize("slow", [sleepy, spinning])
def test_a_reward_past_its_time_limit_counts_as_failed(slow):
    composed = ComposedRewards([slow(), quick()], time_limit=0.5)
    with pytest.warns(RewardFailureWarning, match=rf"reward '{slow.name}'.*time limit of 0.5 s"):
        scores = composed.score(_rollouts())
    assert scores.per_reward[slow.name] == [None, None] and scores.per_reward["quick"] == [0.25, 0.25]
    assert composed.failures == {slow.name: 1}
    with pytest.raises(RunFailed, match=rf"reward '{slow.name}'.*time limit"):
        ComposedRewards([slow()], time_limit=0.5, strict=True).score(_rollouts())


def test_the_time_limit_is_a_run_setting():
    from medr1_core.errors import ConfigError
    from medr1_core.train.config import load_train_config

    assert load_train_config(overrides={"reward_time_limit": 30}).reward_time_limit == 30
    with pytest.raises(ConfigError, match="reward_time_limit"):
        load_train_config(overrides={"reward_time_limit": 0})


def test_limits_leave_ordinary_trees_alone(tmp_path, capsys):
    """A tree sharing a term list through a YAML alias, and branches that meet again, still load."""
    from medr1_core.cli import main

    tree = tmp_path / "shared_terms.yaml"
    tree.write_text(textwrap.dedent("""\
        scope: {modalities: [xray], question_patterns: ["chest|lung"]}
        findings:
          opacity: &opacity [opacity, consolidation]
          airspace: *opacity
          clear: [clear lungs]
        conclusions:
          pneumonia: [pneumonia]
          normal: {terms: [normal], normal: true}
        nodes:
          - {id: start, if: {finding: opacity}, then: confirm, else: confirm}
          - {id: confirm, if: {finding: airspace}, then: {conclude: pneumonia}, else: {conclude: normal}}
        """))
    assert main(["rules", "validate", str(tree)]) == 0, capsys.readouterr().err


def test_rewards_score_and_training_share_the_default_time_limit():
    from medr1_core.cli.rewards_cmd import DEFAULT_TIME_LIMIT as CLI_DEFAULT
    from medr1_core.composition.scoring import DEFAULT_TIME_LIMIT
    from medr1_core.train.config import TrainConfig

    assert CLI_DEFAULT == DEFAULT_TIME_LIMIT == TrainConfig().reward_time_limit
