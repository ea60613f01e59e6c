"""Tests that would catch a dead training loop: weights that never move, rewards that see less in training."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SPREAD_REWARD = '''
import json, os

def spread(rollout):
    """Longer completions score more: the two completions of a group differ, so GRPO has an advantage."""
    with open(os.environ["MEDR1_TEST_SEEN"], "a") as f:
        s = rollout.sample
        f.write(json.dumps({"id": s.id, "images": list(s.images), "extras": s.extras}) + "\\n")
    return min(len(rollout.completion.text), 40) / 40

def flat(rollout):
    """The same score for every completion: no advantage, so no gradient."""
    return 0.5
'''


def _train(tmp_path: Path, reward: str, monkeypatch) -> tuple[Path, Path]:
    import torch

    from medr1_core.offline.tiny import build_tiny_vlm
    from medr1_core.train.config import load_train_config
    from medr1_core.train.engine import train

    torch.set_num_threads(1)
    seen = tmp_path / f"seen-{reward}.jsonl"
    monkeypatch.setenv("MEDR1_TEST_SEEN", str(seen))
    (tmp_path / "rewards.py").write_text(SPREAD_REWARD)
    out = tmp_path / f"run-{reward}"
    config = load_train_config(overrides={
        "model": "tiny-random", "data": "sample", "rewards": f"{tmp_path / 'rewards.py'}:{reward}",
        "output_dir": str(out), "grpo.max_steps": 2, "grpo.num_generations": 4,
        "grpo.per_device_train_batch_size": 8, "grpo.max_completion_length": 12, "grpo.learning_rate": 0.01,
        "grpo.save_steps": 100, "modality": ["ct"],
    })
    train(config)
    return out, Path(build_tiny_vlm())


def _changed_tensors(before: Path, after: Path) -> tuple[int, int]:
    from safetensors.torch import load_file

    old, new = load_file(before / "model.safetensors"), load_file(after / "model.safetensors")
    changed = sum(not old[name].equal(new[name]) for name in old)
    return changed, len(old)


def test_a_reward_with_spread_moves_the_weights_and_rewards_see_images_and_extras(tmp_path, monkeypatch):
    from medr1_core.data import load_samples

    out, base = _train(tmp_path, "spread", monkeypatch)
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    steps = [m for m in metrics if "reward" in m]
    assert len(steps) == 2
    assert all(m["grad_norm"] > 0 for m in steps)  # a non-zero loss gradient, from the reward's spread
    assert any(m["rewards/spread/std"] > 0 for m in steps)
    changed, total = _changed_tensors(base, out / "final")
    assert changed > total // 2, f"only {changed} of {total} tensors changed"

    # the rewards in training got the run's own samples: images and extras included, as offline scoring does
    loaded = {s.id: s for s in load_samples("sample").samples}
    seen = [json.loads(line) for line in (tmp_path / "seen-spread.jsonl").read_text().splitlines()]
    assert len(seen) == 2 * 8
    for row in seen:
        sample = loaded[row["id"]]
        assert row["images"] == list(sample.images) and row["images"]
        assert row["extras"] == sample.extras and row["extras"]["source"]


def test_a_reward_without_spread_leaves_the_weights_alone(tmp_path, monkeypatch):
    """GRPO's advantage is the reward minus its group's mean: a constant reward trains nothing (beta 0)."""
    out, base = _train(tmp_path, "flat", monkeypatch)
    changed, total = _changed_tensors(base, out / "final")
    assert changed == 0, f"{changed} of {total} tensors changed under a constant reward"
