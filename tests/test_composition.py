"""Reward composition: selection, weights, configs, ad-hoc rewards, isolation, TRL adapter."""

import json
import math
import warnings

import pytest

from medr1_core import Reward, reward
from medr1_core.composition import (
    ComposedRewards,
    RewardConfigError,
    RewardFailureWarning,
    RewardOutputError,
    RewardSpec,
    build_rewards,
    compose,
    read_config,
    parse_reward_specs,
    to_trl_reward_funcs,
)
from medr1_core.errors import ConfigError, RunFailed
from medr1_core.parsing import make_rollouts
from medr1_core.registry import UnknownNameError
from medr1_core.rewards import RewardParamsError
from medr1_core.samples import Sample

OPTIONS = {"A": "MRI", "B": "X-ray", "C": "CT", "D": "Ultrasound"}
SAMPLE = Sample(id="s1", question="Which modality?", answer="C", options=OPTIONS, modality="ct",
                task="modality_recognition")
TEXTS = ["<think>axial slices</think><answer>C</answer>", "so C", "<think>x</think><answer>A or C</answer>"]


def test_default_is_format_and_accuracy():
    specs = parse_reward_specs()
    assert [(s.name, s.weight) for s in specs] == [("format", 1.0), ("accuracy", 1.0)]


def test_positional_and_named_weights():
    specs = parse_reward_specs("format,accuracy", "0.5,2")
    assert [s.weight for s in specs] == [0.5, 2.0]
    specs = parse_reward_specs("format,accuracy", "accuracy:3")
    assert [s.weight for s in specs] == [1.0, 3.0]


@pytest.mark.parametrize(
    "weights,message",
    [("1", "1 weight\\(s\\) for 2"), ("format:1,2", "mix of named"), ("dtree:1", "'dtree' is not one of"),
     ("a,b", "must be a number"), ("1,inf", "finite")],
)
def test_bad_weights(weights, message):
    with pytest.raises(RewardConfigError, match=message):
        parse_reward_specs("format,accuracy", weights)


def test_config_mapping_and_list_forms():
    config = {"rewards": {"format": {"weight": 0.5, "params": {"partial": True}}, "accuracy": 2,
                          "acc_loose": {"reward": "accuracy", "params": {"require_tags": False}}}}
    specs = parse_reward_specs(config=config)
    assert specs == [RewardSpec("format", "format", 0.5, {"partial": True}), RewardSpec("accuracy", "accuracy", 2.0),
                     RewardSpec("acc_loose", "accuracy", 1.0, {"require_tags": False})]
    # --rewards selects and orders; --reward-weights overrides
    specs = parse_reward_specs("acc_loose,format", "format:3", config)
    assert [(s.name, s.reward, s.weight) for s in specs] == [("acc_loose", "accuracy", 1.0), ("format", "format", 3.0)]
    listed = parse_reward_specs(config={"rewards": ["format", {"name": "accuracy", "weight": 0.1}]})
    assert [(s.name, s.weight) for s in listed] == [("format", 1.0), ("accuracy", 0.1)]


@pytest.mark.parametrize(
    "config,message",
    [({"rewards": {"format": {"wieght": 1}}}, "rewards.format: unknown key"),
     ({"rewards": {"format": "heavy"}}, "expected a weight or a mapping"),
     ({"rewards": {"format": {"params": [1]}}}, "params must be a mapping"),
     ({"rewards": [{"weight": 1}]}, "rewards\\[0\\]"),
     ({"rewards": 3}, "must be a mapping or a list")],
)
def test_bad_config_entries_name_the_entry(config, message):
    with pytest.raises(RewardConfigError, match=message):
        parse_reward_specs(config=config)


def test_duplicate_names_are_refused():
    with pytest.raises(RewardConfigError, match="used twice"):
        parse_reward_specs("format,format")


def test_unknown_reward_suggests_a_name():
    with pytest.raises(UnknownNameError, match="Did you mean 'accuracy'"):
        compose("format,acuracy")


def test_params_validated_at_build_naming_reward_and_parameter():
    with pytest.raises(RewardParamsError, match="reward 'accuracy'.*open_threshold"):
        compose(config={"rewards": {"accuracy": {"params": {"open_threshold": 101}}}})


def test_yaml_config_file_with_adhoc_file_relative_to_it(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "mine.py").write_text(
        "from medr1_core import reward\n\n"
        "@reward(name='length_ok')\n"
        "def length_ok(rollout):\n"
        "    'Short answers.'\n"
        "    a = rollout.completion.answer\n"
        "    return None if a is None else float(len(a) <= 3)\n"
    )
    cfg = tmp_path / "sub" / "config.yaml"
    cfg.write_text("rewards:\n  accuracy: 1\n  length_ok: {reward: mine.py:length_ok, weight: 0.5}\n")
    composed = compose(config=read_config(cfg))
    assert composed.names == ["accuracy", "length_ok"] and composed.weights == [1.0, 0.5]
    scores = composed.score_texts([SAMPLE] * 3, TEXTS)
    assert scores.per_reward == {"accuracy": [1.0, 0.0, 0.0], "length_ok": [1.0, None, 0.0]}
    assert scores.total == [1.5, 0.0, 0.0]


def test_bad_config_file(tmp_path):
    bad = tmp_path / "c.yaml"
    bad.write_text("rewards: [unclosed")
    with pytest.raises(ConfigError, match="c.yaml: not valid YAML"):
        read_config(bad)


def test_adhoc_forms(tmp_path):
    path = tmp_path / "adhoc.py"
    path.write_text(
        "from medr1_core import Reward\n"
        "def trl_style(prompts, completions, answer, **kwargs):\n"
        "    return [float(c.strip().endswith(a + '</answer>')) for c, a in zip(completions, answer)]\n"
        "def per_rollout(rollout):\n"
        "    return float(rollout.completion.letter == 'C')\n"
        "class Constant(Reward):\n"
        "    name = 'constant'\n"
        "    def score(self, rollouts):\n"
        "        return [0.25] * len(rollouts)\n"
        "def two_args(a, b):\n"
        "    return 0\n"
        "NOT_CALLABLE = 3\n"
    )
    composed = compose([f"{path}:trl_style", f"{path}:per_rollout", f"{path}:Constant"])
    assert composed.names == ["trl_style", "per_rollout", "constant"]  # a Reward keeps its own name
    scores = composed.score_texts([SAMPLE] * 3, TEXTS)
    assert scores.per_reward["trl_style"] == [1.0, 0.0, 1.0]  # a naive suffix check is fooled by "A or C"
    assert scores.per_reward["per_rollout"] == [1.0, 0.0, 0.0]
    assert scores.per_reward["constant"] == [0.25] * 3
    with pytest.raises(RewardConfigError, match="two_args"):
        compose([f"{path}:two_args"])
    with pytest.raises(RewardConfigError, match="not a Reward class or a function"):
        compose([f"{path}:NOT_CALLABLE"])
    with pytest.raises(RewardConfigError, match="has no attribute 'missing'"):
        compose([f"{path}:missing"])
    with pytest.raises(RewardConfigError, match="does not exist"):
        compose([f"{tmp_path}/nope.py:f"])
    with pytest.raises(RewardConfigError, match="cannot import module 'no_such_pkg.mod'"):
        compose(["no_such_pkg.mod:f"])


def test_adhoc_package_module_reference():
    composed = compose(["medr1_plugins.rewards.format:format_reward"])
    assert composed.names == ["format"]


@reward(name="boom")
def boom(rollout):
    raise ZeroDivisionError("bad rule")


@reward(name="short", batched=True)
def short(rollouts):
    return [1.0]


def test_a_raising_reward_is_isolated_and_counted():
    composed = ComposedRewards([boom(), build_rewards([RewardSpec("accuracy", "accuracy")]).rewards[0]])
    rollouts = make_rollouts([SAMPLE] * 3, TEXTS)
    with pytest.warns(RewardFailureWarning, match="(?s)reward 'boom' raised ZeroDivisionError.*Traceback"):
        scores = composed.score(rollouts)
    assert scores.per_reward["boom"] == [None, None, None]
    assert scores.total == [1.0, 0.0, 0.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # second failure: counted, not warned again
        composed.score(rollouts)
    assert composed.failures["boom"] == 2
    strict = ComposedRewards([boom()], strict=True)
    with pytest.raises(RunFailed, match="reward 'boom' raised ZeroDivisionError: bad rule") as err:
        strict.score(rollouts)
    assert isinstance(err.value.__cause__, ZeroDivisionError)


def test_wrong_number_of_scores_is_an_error_naming_the_reward():
    composed = ComposedRewards([short()])
    with pytest.raises(RewardOutputError, match="reward 'short' returned 1 scores for 3"):
        composed.score(make_rollouts([SAMPLE] * 3, TEXTS))


def test_totals_follow_trl_nansum():
    composed = ComposedRewards([boom(), boom()], weights=[1, 2], names=["a", "b"])
    per = {"a": [1.0, None, None], "b": [0.5, 0.5, None]}
    assert composed.totals(per, 3) == [2.0, 1.0, None]


def test_trl_adapter_names_weights_and_shared_parse(monkeypatch):
    from medr1_core import parsing

    composed = compose("format,accuracy", "0.5,1")
    funcs, weights = to_trl_reward_funcs(composed, variant="think")
    assert [f.__name__ for f in funcs] == ["format", "accuracy"] and weights == [0.5, 1.0]

    calls = []
    real = parsing.parse_completion
    monkeypatch.setattr(parsing, "parse_completion", lambda *a, **k: calls.append(1) or real(*a, **k))
    row = SAMPLE.to_row()
    kwargs = {k: [row[k]] * 3 for k in row}
    completions = [[{"role": "assistant", "content": [{"type": "text", "text": t}]}] for t in TEXTS]
    logged = []
    kwargs["log_metric"] = lambda name, value: logged.append((name, value))
    kwargs["trainer_state"] = object()
    prompts = [[{"role": "user", "content": "q"}]] * 3
    out = [f(prompts=prompts, completions=completions, completion_ids=None, **kwargs) for f in funcs]
    assert out == [[1.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    assert len(calls) == 3  # one parse per completion, shared by both rewards
    assert ("rewards/format/failed", 0.0) in logged
    # a new batch (new list object) is parsed again
    funcs[0](prompts=prompts, completions=list(completions), **kwargs)
    assert len(calls) == 6


def test_trl_adapter_string_completions_and_options_as_json():
    funcs, _ = to_trl_reward_funcs(compose("accuracy"), variant="nothink")
    out = funcs[0](prompts=["q", "q"], completions=["<answer>CT</answer>", "<answer>B</answer>"],
                   answer=["C", "C"], options=[json.dumps(OPTIONS)] * 2, question=["q", "q"])
    assert out == [1.0, 0.0]


def test_trl_adapter_isolates_failures_and_logs_them():
    composed = ComposedRewards([boom()])
    funcs, _ = to_trl_reward_funcs(composed)
    logged = []
    with pytest.warns(RewardFailureWarning):
        out = funcs[0](prompts=["q"], completions=["x"], answer=["C"], log_metric=lambda n, v: logged.append((n, v)))
    assert out == [None] and logged == [("rewards/boom/failed", 1.0)] and composed.failures["boom"] == 1


def test_trl_function_reward_receives_trl_arguments_unchanged(tmp_path):
    path = tmp_path / "f.py"
    path.write_text(
        "def seen(prompts, completions, completion_ids=None, **kwargs):\n"
        "    return [float(isinstance(c, list) and 'solution' in kwargs) for c in completions]\n"
    )
    funcs, _ = to_trl_reward_funcs(compose([f"{path}:seen"]))
    assert funcs[0](prompts=["q"], completions=[[{"role": "assistant", "content": "x"}]], solution=["C"]) == [1.0]


def test_scores_are_coerced_and_nan_is_none():
    @reward(name="odd", batched=True, range=(0.0, 2.0))
    def odd(rollouts):
        return [True, math.nan, 2]

    scores = ComposedRewards([odd()]).score(make_rollouts([SAMPLE] * 3, TEXTS))
    assert scores.per_reward["odd"] == [1.0, None, 2.0]


def test_non_numeric_scores_count_as_a_failure():
    @reward(name="texty", batched=True)
    def texty(rollouts):
        return ["high"] * len(rollouts)

    composed = ComposedRewards([texty()])
    with pytest.warns(RewardFailureWarning, match="a score must be a number"):
        assert composed.score(make_rollouts([SAMPLE], TEXTS[:1])).per_reward["texty"] == [None]
    assert issubclass(texty, Reward)


def test_trl_reward_functions_are_named_picklable_objects():
    import pickle

    funcs, weights = to_trl_reward_funcs(compose("format,accuracy", "0.5,1"))
    assert [f.__name__ for f in funcs] == ["format", "accuracy"] and weights == [0.5, 1.0]
    restored = pickle.loads(pickle.dumps(funcs))
    completions = ["<think>an opacity</think><answer>B</answer>", "B"]
    kwargs = {"id": ["q1", "q1"], "question": ["Which?"] * 2, "options": [json.dumps({"A": "CT", "B": "MRI"})] * 2,
              "answer": ["B", "B"]}
    for original, copy in zip(funcs, restored):
        assert copy.__name__ == original.__name__
        assert copy(prompts=["p", "p"], completions=completions, **kwargs) == original(
            prompts=["p", "p"], completions=completions, **kwargs)


def test_rewards_under_trl_receive_the_runs_own_samples_with_images_and_extras():
    seen = []

    @reward(name="looks")
    def looks(rollout):
        seen.append(rollout.sample)
        return 1.0

    sample = Sample(id="q7", question="Which?", answer="A", options={"A": "CT", "B": "MRI"},
                    images=("img/q7.png",), modality="ct", extras={"laterality": "left"})
    composed = ComposedRewards([looks()])
    batches = []
    funcs, _ = to_trl_reward_funcs(composed, samples=[sample], on_batch=lambda r, s: batches.append((r, s)))
    row = sample.to_row()
    funcs[0](prompts=["p"], completions=["<think>x</think><answer>A</answer>"], **{k: [v] for k, v in row.items()})
    assert seen[0] is sample and seen[0].images == ("img/q7.png",) and seen[0].extras == {"laterality": "left"}
    rollouts, scores = batches[0]
    assert rollouts[0].sample is sample and scores == {"looks": [1.0]}
