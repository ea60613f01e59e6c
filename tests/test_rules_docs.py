"""The examples in docs/rewards.md work as written."""

import re
from pathlib import Path

from click.testing import CliRunner

from medr1_core.cli import cli
from medr1_core.composition import compose
from medr1_core.samples import Sample

DOC = (Path(__file__).resolve().parents[1] / "docs" / "rewards.md").read_text()


def example(name: str) -> str:
    match = re.search(rf"<!-- example: {re.escape(name)} -->\n```\w+\n(.*?)```", DOC, re.S)
    assert match, f"no example {name} in docs/rewards.md"
    return match.group(1)


def test_decision_tree_example_validates_and_explains(tmp_path):
    tree = tmp_path / "laterality.yaml"
    tree.write_text(example("laterality.yaml"))
    runner = CliRunner()
    assert runner.invoke(cli, ["rules", "validate", str(tree)]).exit_code == 0
    result = runner.invoke(cli, [
        "rules", "explain", str(tree), "--question", "Which side is the lesion on?",
        "--completion", "<think>A mass in the left upper lobe.</think><answer>A</answer>",
        "--options", "A=Left;B=Right", "--answer", "A", "--task", "anatomy_identification"])
    assert result.exit_code == 0, result.output
    assert "-> conclusion: left" in result.stdout and "dtree score: 1.00" in result.stdout


def test_python_reward_example_scores_as_documented(tmp_path):
    path = tmp_path / "concise.py"
    path.write_text(example("concise.py"))
    composed = compose([f"{path}:concise"])
    sample = Sample(id="1", question="q", answer="A", options={"A": "x", "B": "y"})
    short = "<think>" + "word " * 150 + "</think><answer>A</answer>"
    long = "<think>" + "word " * 250 + "</think><answer>A</answer>"
    scores = composed.score_texts([sample] * 3, [short, long, "<answer>A</answer>"], "think")
    assert scores.per_reward["concise"] == [1.0, 0.0, None]


def test_documented_accuracy_table_holds():
    rows = re.findall(r"^\| (`.+?`(?:, `.+?`)*) \| ([01]) \|", DOC.split("## `accuracy`")[1].split("Open questions")[0],
                      re.M)
    assert len(rows) >= 8
    composed = compose("accuracy")
    options = {"A": "MRI", "B": "X-ray", "C": "CT", "D": "Ultrasound"}
    for cell, expected in rows:
        for answer in re.findall(r"`(.+?)`", cell):
            answer = answer.replace("\\n", "\n")
            truth = "D" if answer == "Ultrasond" else "C"
            if "<answer>" in answer or "<think>" in answer:
                text = answer
            elif answer.startswith("…"):
                text = "<think>x</think>" + answer[1:]
            else:
                text = f"<think>x</think><answer>{answer}</answer>"
            sample = Sample(id="d", question="Which modality?", answer=truth, options=options)
            got = composed.score_texts([sample], [text]).per_reward["accuracy"][0]
            assert got == float(expected), (answer, got)
