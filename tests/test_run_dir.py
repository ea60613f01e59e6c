"""Run-directory helpers: naming, finding the latest run, metrics after a resume, the curve."""

from __future__ import annotations

import os

from medr1_core.train import run_dir as rd
from medr1_core.train.engine import plot_curve


def test_new_run_dirs_never_collide_and_latest_is_found(tmp_path):
    first = rd.new_run_dir(tmp_path)
    first.mkdir()
    second = rd.new_run_dir(tmp_path)
    assert second != first
    assert rd.latest_run_dir(tmp_path) is None  # no config.yaml yet: not a run
    for i, path in enumerate((first, second)):
        second.mkdir(exist_ok=True)
        (path / rd.CONFIG).write_text("model: tiny\n")
        os.utime(path / rd.CONFIG, (1000 + i, 1000 + i))
    assert rd.latest_run_dir(tmp_path) == second


def test_a_step_logged_again_after_resume_keeps_its_last_value(tmp_path):
    rd.append_jsonl(tmp_path / rd.METRICS, [
        {"step": 1, "rewards/format/mean": 0.1, "reward": 0.1},
        {"step": 2, "rewards/format/mean": 0.2, "reward": float("nan")},
        {"step": 2, "rewards/format/mean": 0.3, "reward": 0.3},
    ])
    with (tmp_path / rd.METRICS).open("a") as fh:
        fh.write('{"step": 3, "rewa')  # cut short by a kill
    series = rd.metric_series(tmp_path)
    assert series["rewards/format/mean"] == [(1, 0.1), (2, 0.3)]
    assert rd.read_records(tmp_path / rd.METRICS)[1]["reward"] is None  # NaN written as null
    summary = rd.summarise(tmp_path, last=1)
    assert summary["steps"] == 2 and summary["rewards/format/mean"] == {"first": 0.1, "last": 0.3, "steps": 2}
    png = plot_curve(tmp_path)
    assert png is not None and png.stat().st_size > 1000
