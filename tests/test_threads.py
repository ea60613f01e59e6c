"""MEDR1_THREADS: the torch thread count of CPU runs, applied by `medr1 train` and `medr1 eval`, bad values refused."""

from __future__ import annotations

import json

import pytest

from medr1_core.cli import main
from medr1_core.errors import ConfigError
from medr1_core.train import threads


@pytest.fixture
def torch_threads():
    """Put torch's thread count back after the test."""
    import torch

    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_default_is_half_the_cores_shared_by_local_processes_capped():
    assert threads.default_threads(cores=1, local_processes=1) == 1
    assert threads.default_threads(cores=2, local_processes=1) == 1
    assert threads.default_threads(cores=6, local_processes=1) == 3
    assert threads.default_threads(cores=64, local_processes=1) == threads.MAX_DEFAULT_THREADS
    assert threads.default_threads(cores=16, local_processes=4) == 2
    assert threads.default_threads(cores=4, local_processes=8) == 1


def test_requested_threads_reads_the_setting():
    assert threads.requested_threads({"MEDR1_THREADS": "3"}) == 3
    assert threads.requested_threads({"MEDR1_THREADS": " 2 ", "OMP_NUM_THREADS": "8"}) == 2  # ours wins
    assert threads.requested_threads({"MEDR1_THREADS": "auto"}) == threads.default_threads()
    assert threads.requested_threads({}) == threads.default_threads()
    assert threads.requested_threads({"OMP_NUM_THREADS": "3"}) is None  # the user's (or torchrun's) choice is kept
    assert threads.requested_threads({"LOCAL_WORLD_SIZE": "2"}) == threads.default_threads(local_processes=2)


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5", "4 threads"])
def test_bad_values_are_refused_naming_the_variable(value):
    with pytest.raises(ConfigError, match=r"MEDR1_THREADS=.*expected a whole number of CPU threads \(1 or more\) or 'auto'"):
        threads.requested_threads({"MEDR1_THREADS": value})


def test_apply_sets_torch_threads(torch_threads):
    import torch

    assert threads.apply_cpu_threads({"MEDR1_THREADS": "2"}) == 2 == torch.get_num_threads()
    assert threads.apply_cpu_threads({"MEDR1_THREADS": "1"}) == 1 == torch.get_num_threads()
    torch.set_num_threads(2)
    assert threads.apply_cpu_threads({"OMP_NUM_THREADS": "2"}) == 2  # left as it is


@pytest.mark.slow
def test_eval_applies_the_setting_before_generating(tmp_path, monkeypatch, torch_threads):
    import torch

    torch.set_num_threads(1)
    monkeypatch.setenv("MEDR1_THREADS", "2")
    seen = []
    from medr1_core.eval import run as eval_run

    real = eval_run.evaluate

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(eval_run, "evaluate", spy)
    code = main(["eval", "--model", "tiny", "--data", "sample", "--limit", "2", "--max-new-tokens", "2",
                 "--device", "cpu", "--quiet", "--output-dir", str(tmp_path / "e")])
    assert code == 0 and seen == [2]


@pytest.mark.parametrize("command", [["train", "--model", "tiny", "--data", "sample", "--max-steps", "1"],
                                     ["eval", "--model", "tiny", "--data", "sample", "--device", "cpu"]])
def test_a_bad_setting_stops_the_command_before_the_model_loads(tmp_path, monkeypatch, capsys, command):
    import medr1_core.train.models as models

    monkeypatch.setattr(models, "load_model_and_processor", lambda *a, **k: pytest.fail("model loaded"))
    monkeypatch.setattr(models, "load_processor", lambda *a, **k: pytest.fail("model loaded"))
    monkeypatch.setenv("MEDR1_THREADS", "lots")
    code = main([*command, "--output-dir", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "medr1: error: MEDR1_THREADS='lots': expected a whole number" in err
    assert "Traceback" not in err and not (tmp_path / "out" / "config.yaml").exists()


@pytest.mark.slow
def test_train_applies_the_setting_and_records_it(tmp_path, monkeypatch, torch_threads):
    import torch

    torch.set_num_threads(1)
    monkeypatch.setenv("MEDR1_THREADS", "2")
    run = tmp_path / "run"
    code = main(["train", "--model", "tiny", "--data", "sample", "--max-steps", "1", "--output-dir", str(run),
                 "--report-to", "none", "--set", "grpo.max_completion_length=4", "--set", "grpo.num_generations=2",
                 "--set", "grpo.per_device_train_batch_size=2"])
    assert code == 0
    start = next(json.loads(line) for line in (run / "events.jsonl").read_text().splitlines() if '"start"' in line)
    assert start["cpu_threads"] == 2
