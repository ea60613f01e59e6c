"""``medr1 rules validate / explain / list`` and tree-file validation errors."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from medr1_core.cli import cli, main

TREES = Path(__file__).resolve().parents[1] / "plugins" / "rewards" / "trees"
SHIPPED = sorted(TREES.glob("*.yaml"))


def invoke(*args):
    return CliRunner().invoke(cli, list(args))


def test_every_shipped_tree_is_valid():
    assert len(SHIPPED) >= 7
    result = invoke("rules", "validate", *map(str, SHIPPED))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.count("ok ") == len(SHIPPED)


def test_every_shipped_tree_cites_its_clinical_source():
    for path in SHIPPED:
        text = path.read_text()
        assert text.startswith("#") and "source" in text.split("\nid:")[0].lower(), path.name
        assert "references:" in text, path.name


def test_a_folder_is_validated_tree_by_tree():
    result = invoke("rules", "validate", str(TREES))
    assert result.exit_code == 0 and result.stdout.count("ok ") == len(SHIPPED)


VALID = {
    "scope": {"modalities": ["xray"], "question_patterns": ["chest"]},
    "findings": {"opacity": ["opacity"], "clear": ["clear lungs"]},
    "conclusions": {"pneumonia": ["pneumonia"], "normal": {"terms": ["normal"], "normal": True}},
    "nodes": [
        {"id": "start", "if": {"finding": "opacity"}, "then": {"conclude": "pneumonia"}, "else": "clear"},
        {"id": "clear", "if": {"any": [{"finding": "clear"}, {"absent": "opacity"}]}, "then": {"conclude": "normal"}},
    ],
}


def broken(**changes):
    data = json.loads(json.dumps(VALID))
    for path, value in changes.items():
        target = data
        keys = path.split(".")
        for key in keys[:-1]:
            target = target[int(key)] if key.isdigit() else target[key]
        last = keys[-1]
        if value is DELETE:
            del target[int(last) if last.isdigit() else last]
        else:
            target[int(last) if last.isdigit() else last] = value
    return data


DELETE = object()


@pytest.mark.parametrize(
    "data,where,message",
    [
        (broken(**{"nodes.1.if.any.0": {"fnding": "clear"}}), "$.nodes[1].if.any[0]", "'fnding' was unexpected"),
        (broken(**{"nodes.1.if.any.0": {"finding": "clar"}}), "$.nodes[1].if.any[0].finding",
         "unknown finding 'clar' (did you mean 'clear'?)"),
        (broken(**{"nodes.0.then": {"conclude": "covid"}}), "$.nodes[0].then.conclude", "unknown conclusion 'covid'"),
        (broken(**{"nodes.0.else": "nowhere"}), "$.nodes[0].else", "unknown node 'nowhere'"),
        (broken(**{"nodes.1.then": "start"}), "$.nodes[1].then", "trees cannot loop"),
        (broken(**{"nodes.0.else": {"conclude": None}}), "$.nodes[1]", "never reached"),
        (broken(**{"nodes.0.if": {"finding": "opacity", "absent": "clear"}}), "$.nodes[0].if", "exactly one test"),
        (broken(**{"scope.modalities": ["xry"]}), "$.scope.modalities[0]", "unknown modality 'xry' (did you mean"),
        (broken(**{"scope.tasks": ["lesion_grad"]}), "$.scope.tasks[0]", "unknown task 'lesion_grad'"),
        (broken(**{"scope.question_patterns": ["(chest"]}), "$.scope.question_patterns[0]", "invalid regular"),
        (broken(**{"findings.opacity": []}), "$.findings.opacity", "should be non-empty"),
        (broken(**{"findings.opacity": ["--"]}), "$.findings.opacity[0]", "has no words"),
        (broken(**{"conclusions.normal": {"terms": ["normal"], "typo": 1}}), "$.conclusions.normal",
         "'typo' was unexpected"),
        (broken(nodes=DELETE), "$", "'nodes' is a required property"),
        (broken(**{"nodes.1.id": "start"}), "$.nodes[1].id", "already used"),
        (broken(**{"findings.Bad-Name": ["x y"]}), "$.findings", "does not match"),
    ],
)
def test_broken_trees_are_rejected_naming_file_and_path(tmp_path, data, where, message):
    path = tmp_path / "tree.json"
    path.write_text(json.dumps(data))
    result = invoke("rules", "validate", str(path))
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith(f"{path}: {where}: ")]
    assert any(message in line for line in lines), result.stderr


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = tmp_path / "tree.yaml"
    path.write_text("scope: {}\nfindings: [\n")
    result = invoke("rules", "validate", str(path))
    assert result.exit_code == 1 and f"{path}: line 3: invalid YAML" in result.stderr


def test_valid_and_invalid_files_together_exit_one(tmp_path):
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(VALID))
    bad.write_text(json.dumps(broken(**{"nodes.0.else": "nowhere"})))
    result = invoke("rules", "validate", str(good), str(bad), str(tmp_path / "missing.yaml"))
    assert result.exit_code == 1
    assert f"ok {good}" in result.stdout
    assert f"{tmp_path / 'missing.yaml'}: cannot read" in result.stderr
    assert "2 of 3 tree file(s) invalid" in result.stderr


def test_exit_code_reaches_the_console_script(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    assert main(["rules", "validate", str(bad)]) == 1
    assert main(["rules", "validate", str(TREES / "knee_oa_kl.yaml")]) == 0


EXPLAIN = [
    "rules", "explain", "cxr_pneumonia_covid",
    "--question", "What condition is shown in this chest X-ray?",
    "--completion", "<think>Dense lobar consolidation with air bronchograms; no pleural effusion.</think>"
                    "<answer>B</answer>",
    "--options", "A=COVID-19;B=Pneumonia;C=Normal", "--answer", "B", "--modality", "X-Ray", "--task", "Disease Diagnosis",
]


def test_explain_prints_path_findings_negations_and_score():
    result = invoke(*EXPLAIN)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "applies: yes" in out
    assert "A=covid, B=pneumonia, C=normal" in out
    assert 'air_bronchogram ("air bronchograms")' in out
    assert 'effusion ("pleural effusion", by "no")' in out
    assert "lobar_pattern: yes" in out and "-> conclusion: pneumonia" in out
    assert "dtree score: 1.00" in out


def test_explain_a_tree_file_with_json_options_and_json_output(tmp_path):
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(VALID))
    result = invoke("rules", "explain", str(path), "--question", "Chest film: what is seen?",
                    "--completion", "<think>The lungs are clear, no opacity.</think><answer>A</answer>",
                    "--options", '{"A": "Normal", "B": "Pneumonia"}', "--answer", "A", "--modality", "xray", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    (tree,) = report["trees"]
    assert tree["tree"] == "mine" and tree["conclusion"] == "normal" and report["score"] == 1.0
    assert {"finding": "opacity", "text": "opacity", "negated_by": "no"} in tree["mentions"]


def test_explain_says_why_a_tree_does_not_apply():
    args = list(EXPLAIN)
    args[args.index("X-Ray")] = "ct"
    result = invoke(*args)
    assert "applies: no - modality 'ct' is not one of xray" in result.stdout
    assert "dtree score: None" in result.stdout


def test_explain_bad_arguments():
    args = list(EXPLAIN)
    args[args.index("X-Ray")] = "Thermal"
    assert "unknown modality 'Thermal'" in invoke(*args).stderr
    args = list(EXPLAIN)
    args[args.index("A=COVID-19;B=Pneumonia;C=Normal")] = "A:COVID"
    assert "expected 'A=text;B=text'" in invoke(*args).stderr
    args = list(EXPLAIN)
    args[2] = "no_such_tree"
    result = invoke(*args)
    assert result.exit_code == 2 and "unknown tree(s) no_such_tree" in result.stderr


def test_rules_list_shows_trees_and_sources():
    out = invoke("rules", "list").stdout
    assert "fundus_dr_icdr" in out and "Wilkinson" in out and "Kellgren" in out
