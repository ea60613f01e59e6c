"""Run configuration: validation errors name the field; CLI options map onto it."""

from __future__ import annotations

import pytest

from medr1_core.cli.train_cmd import build_overrides
from medr1_core.composition import RewardConfigError
from medr1_core.errors import ConfigError
from medr1_core.train.config import load_train_config


def test_defaults_follow_med_r1():
    config = load_train_config()
    assert config.model.name == "Qwen/Qwen2-VL-2B-Instruct" and config.model.options() == {}
    assert config.grpo.num_generations == 4
    assert config.grpo.learning_rate == 1e-6 and config.grpo.beta == 0.04
    assert config.variant == "think"
    assert list(config.rewards) == ["format", "accuracy"]


def test_yaml_with_overrides(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text(
        "model: tiny\nrewards:\n  accuracy: {weight: 2, params: {open_threshold: 0.9}}\n  format: {}\n"
        "grpo:\n  beta: 0.0\n  top_k: 5\n"
    )
    config = load_train_config(path, {"grpo.max_steps": 7, "modality": "ct,MRI"})
    assert config.rewards["accuracy"].weight == 2 and config.rewards["accuracy"].params == {"open_threshold": 0.9}
    assert config.grpo.max_steps == 7 and config.grpo.beta == 0.0 and config.grpo.model_extra == {"top_k": 5}
    assert config.modality == ["ct", "MRI"]


@pytest.mark.parametrize(
    "yaml_text, expected",
    [
        ("variant: thinking\n", ["variant: Input should be 'think', 'nothink' or 'think_after'", "'thinking'"]),
        ("grpo:\n  num_generations: 1\n", ["grpo.num_generations: Input should be greater than or equal to 2"]),
        ("grpo:\n  loss_type: ppo\n", ["grpo.loss_type", "'grpo'", "'dapo'"]),
        ("learning_rate: 1e-5\n", ["learning_rate: unknown field"]),
    ],
)
def test_errors_name_the_field_and_allowed_values(tmp_path, yaml_text, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError) as err:
        load_train_config(path)
    message = str(err.value)
    assert str(path) in message
    for fragment in expected:
        assert fragment in message


def test_not_yaml_and_not_a_mapping(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_train_config(bad)
    bad.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_train_config(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_train_config(tmp_path / "missing.yaml")


def test_reward_weights_positional_and_named():
    names = {"rewards": "format,accuracy,dtree"}
    positional = build_overrides({}, {**names, "reward_weights": "0.5,1,1"}, ())["rewards"]
    assert [e["weight"] for e in positional.values()] == [0.5, 1.0, 1.0]
    named = build_overrides({}, {**names, "reward_weights": "dtree:0.25"}, ())["rewards"]
    assert named["dtree"]["weight"] == 0.25 and named["format"]["weight"] == 1.0
    with pytest.raises(RewardConfigError, match=r"2 weight\(s\) for 3 reward\(s\)"):
        build_overrides({}, {**names, "reward_weights": "1,2"}, ())
    with pytest.raises(RewardConfigError, match="'acc' is not one of the selected rewards"):
        build_overrides({}, {"rewards": "format,accuracy", "reward_weights": "acc:2"}, ())
    with pytest.raises(RewardConfigError, match="must be a number"):
        build_overrides({}, {"rewards": "format,accuracy", "reward_weights": "a,b"}, ())


def test_reward_entries_are_checked_when_the_config_loads(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("rewards:\n  format: {wieght: 2}\n")
    with pytest.raises(ConfigError, match=r"rewards.*unknown key\(s\) wieght"):
        load_train_config(path)


def test_tiny_model_gets_its_preset_unless_set():
    config = load_train_config(overrides={"model": "tiny", "grpo.learning_rate": 0.01})
    assert config.grpo.max_completion_length == 48 and config.grpo.beta == 0.0
    assert config.grpo.learning_rate == 0.01


def test_cli_rewards_keep_params_from_the_config_file():
    base = {"rewards": {"accuracy": {"params": {"open_threshold": 0.8}}, "format": {}}}
    overrides = build_overrides(
        base, {"rewards": "format,accuracy,dtree", "reward_weights": "0.5,1,1", "max_steps": 3}, ("grpo.beta=0.0",)
    )
    assert overrides["rewards"] == {
        "format": {"reward": "format", "weight": 0.5, "params": {}},
        "accuracy": {"reward": "accuracy", "weight": 1.0, "params": {"open_threshold": 0.8}},
        "dtree": {"reward": "dtree", "weight": 1.0, "params": {}},
    }
    assert overrides["grpo.max_steps"] == 3 and overrides["grpo.beta"] == 0.0


def test_adhoc_reward_files_resolve_relative_to_the_run_config(tmp_path, monkeypatch):
    folder = tmp_path / "exp"
    folder.mkdir()
    (folder / "my_rewards.py").write_text("def brevity(prompts, completions, **kw):\n    return [1.0] * len(completions)\n")
    (folder / "run.yaml").write_text("rewards:\n  brevity: {reward: my_rewards.py:brevity}\n")
    monkeypatch.chdir(tmp_path)  # not the config's folder
    config = load_train_config(folder / "run.yaml")
    assert config.rewards["brevity"].reward == f"{folder.resolve() / 'my_rewards.py'}:brevity"


def test_unreadable_config_names_the_file(tmp_path):
    with pytest.raises(ConfigError, match=r"cannot read the config file"):
        load_train_config(tmp_path)  # a directory


def test_grpo_section_is_checked_against_trls_grpoconfig():
    config = load_train_config(overrides={"grpo.top_k": 5, "grpo.steps_per_generation": 2})
    assert config.grpo.model_extra == {"top_k": 5, "steps_per_generation": 2}
    cases = {
        "grpo.top_kk": ["grpo.top_kk: not a field of TRL's GRPOConfig", "did you mean 'top_k'?"],
        "grpo.output_dir": ["grpo.output_dir: set by medr1"],
        "grpo.vllm_mode": ["grpo.vllm_mode: 'nope' is not one TRL supports", "'server', 'colocate'"],
    }
    for key, fragments in cases.items():
        value = "nope" if key.endswith("vllm_mode") else 3
        with pytest.raises(ConfigError) as err:
            load_train_config(overrides={key: value})
        for fragment in fragments:
            assert fragment in str(err.value)
    with pytest.raises(ConfigError, match="grpo.top_k: Input should be a valid integer"):
        load_train_config(overrides={"grpo.top_k": "many"})
    assert load_train_config().grpo.vllm_mode == "colocate"  # TRL's default


def test_trl_documented_choices_are_read_from_its_help_text():
    from medr1_core.train.config import documented_choices

    assert documented_choices("Must be one of `'server'` or `'colocate'`. `'server'`: ...") == ("server", "colocate")
    assert documented_choices("Whether to use vLLM.") == ()
