"""docs/plugins.md's complete minimal plugin runs as documented."""

from __future__ import annotations

import json
import re

from helpers import REPO

from medr1_core import Completion, Rollout, Sample
from medr1_core.plugins import load_plugins


def example_source() -> str:
    text = (REPO / "docs" / "plugins.md").read_text()
    match = re.search(r"<!-- example: medr1_pet.py -->\s*```python\n(.*?)```", text, re.S)
    assert match, "docs/plugins.md lost its example block"
    return match.group(1)


def test_documented_plugin_registers_all_four_kinds(make_distribution, tmp_path):
    make_distribution("medr1-pet", "medr1_pet", example_source(), entry_point="pet")
    plugins = load_plugins(strict=True)
    info = next(i for i in plugins.infos if i.name == "pet")
    assert info.registered == {
        "rewards": ["mentions_suv"],
        "modalities": ["pet"],
        "tasks": ["tumour_staging"],
        "data_formats": ["pet-json"],
        "rules": [],
        "commands": [],
    }
    assert plugins.modalities.resolve("PET-CT") == "pet"
    assert plugins.tasks.resolve("staging") == "tumour_staging"

    data = tmp_path / "export.pet.json"
    data.write_text(json.dumps([{"q": "Stage?", "choices": ["I", "II"], "gt": "B", "img": "a.png"}, {"q": "x"}]))
    fmt = plugins.data_formats.get("pet-json")
    assert fmt.detect(data)
    sample, bad = list(fmt.read(data, plugins))
    assert sample.modality == "pet" and sample.options == {"A": "I", "B": "II"}
    assert bad.index == 1 and "missing field" in bad.reason

    suv = plugins.rewards.get("mentions_suv")()
    completion = Completion(text="", think="SUVmax 7.2 in the hilum", answer="B", letters=("B",))
    other = Sample(id="2", question="?", answer="A", modality="ct")
    assert suv.score([Rollout(sample, completion), Rollout(other, completion)]) == [1.0, None]


def test_documented_kit_tests_pass(make_distribution):
    make_distribution("medr1-pet", "medr1_pet", example_source(), entry_point="pet")
    text = (REPO / "docs" / "plugins.md").read_text()
    block = re.search(r"<!-- example: test_pet.py -->\s*```python\n(.*?)```", text, re.S)
    assert block, "docs/plugins.md lost its test kit example"
    namespace: dict = {}
    exec(compile(block.group(1), "docs/plugins.md:test_pet.py", "exec"), namespace)
    tests = [f for name, f in namespace.items() if name.startswith("test_")]
    assert len(tests) == 3
    for test in tests:
        test()
