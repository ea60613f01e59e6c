"""The run report, the console and the run callbacks: what a person watching a run sees.

The pages are checked here by their HTML; tests/test_report_browser.py opens
them in a real browser.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from types import SimpleNamespace

import pytest

from helpers import run_cli
from report_dirs import GOOD, make_eval_dir, make_experiment_dir, make_run_dir

from medr1_core.report import ReportError, directory_kind, write_report
from medr1_core.report.charts import line_chart, nice_ticks
from medr1_core.report.console import eval_summary, progress_figures, table, train_summary
from medr1_core.report.training import binned_means, pick_steps, run_status


class Page(HTMLParser):
    """The elements of a page that the tests look at."""

    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.scripts: dict[str, str] = {}
        self._script: str | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._script = dict(attrs).get("id", "")

    def handle_data(self, data):
        if self._script is not None:
            self.scripts[self._script] = self.scripts.get(self._script, "") + data

    def handle_endtag(self, tag):
        if tag == "script":
            self._script = None

    def find(self, tag: str, **attrs) -> list[dict]:
        return [a for t, a in self.tags if t == tag and all(a.get(k.replace("_", "-")) == v for k, v in attrs.items())]


# ---------------------------------------------------------------- the recorder and the run report


def test_recorded_completions_carry_what_the_report_shows(tmp_path):
    run = make_run_dir(tmp_path, steps=3)
    rows = [json.loads(line) for line in (run / "completions.jsonl").read_text().splitlines()]
    assert len(rows) == 3 * 8  # 2 questions x 4 completions, every step
    good = next(r for r in rows if r["completion"] == GOOD and r["id"] == "cxr-1")
    assert good["images"] == [str(tmp_path / "images" / "cxr.png")]
    assert good["modality"] == "xray" and good["task"] == "disease_diagnosis"
    assert good["options"]["B"] == "Pneumonia" and good["answer"] == "B"
    assert good["rewards"]["format"] == 1.0 and good["rewards"]["accuracy"] == 1.0
    assert good["total"] == pytest.approx(1.0 + 1.0 + 0.5 * good["rewards"]["dtree"])
    why = good["explanations"]["dtree"]  # the dtree reward's own explain(): the trees that apply only
    assert [t["tree"] for t in why["trees"]] == ["cxr_pneumonia_covid"]
    assert {"consolidation", "air_bronchogram"} <= {m["finding"] for m in why["trees"][0]["mentions"]}
    # an explanation exactly where the reward scored: a None (nothing to judge) needs none
    assert all(("dtree" in r.get("explanations", {})) == (r["rewards"]["dtree"] is not None) for r in rows)
    assert {r["modality"] for r in rows} == {"xray", "ct"}


def test_a_reward_with_nothing_to_judge_records_no_explanation():
    from medr1_core.composition import compose
    from medr1_core.parsing import make_rollouts
    from medr1_core.samples import Sample
    from medr1_core.train.recording import CompletionRecorder

    composed = compose("format,dtree")
    sample = Sample(id="m-1", question="What is the size of the lesion?", options={"A": "small", "B": "large"},
                    answer="A", images=("cells.png",), modality="microscopy", task="other_biological_attributes")
    rollouts = make_rollouts([sample], [GOOD])
    recorder = CompletionRecorder(composed=composed, image_root="/data/images")
    recorder(rollouts, composed.score(rollouts).per_reward)
    [row] = recorder.drain()
    assert row["rewards"] == {"format": 1.0, "dtree": None} and "explanations" not in row
    assert row["images"] == ["/data/images/cells.png"] and row["total"] == 1.0


def test_run_report_shows_curves_completions_images_and_explanations(tmp_path):
    run = make_run_dir(tmp_path, steps=12)
    path = write_report(run)
    assert path == run / "report.html"
    text = path.read_text()
    page = Page(text)
    assert "http://" not in text.replace("http://www.w3.org", "") and "https://" not in text  # nothing fetched
    # curves: per reward and the total, then by modality and task
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", text)
    assert captions[0] == "Rewards: mean per logged step"
    assert {"format by modality", "dtree by task", "total by modality", "loss"} <= set(captions)
    rewards_chart = text.split("<figcaption>Rewards: mean per logged step</figcaption>")[1].split("</figure>")[0]
    legend = re.findall(r'data-series="s\d+" title="[^"]*"><i[^>]*></i>([^<]+)</span>', rewards_chart)
    assert legend == ["accuracy", "dtree", "format", "total (weighted)"]
    format_line = re.findall(r'<polyline[^>]*points="([^"]+)"', rewards_chart)
    assert format_line and len(format_line[0].split()) == 12  # one point per logged step
    # completions: one card per (step, question), each image stored once, every card's image in the table
    images = json.loads(page.scripts["medr1-images"].replace("<\\/", "</"))
    assert len(images) == 2 and all(v.startswith("data:image/jpeg;base64,") for v in images.values())
    cards = page.find("div", **{"class": "item"})
    assert len(cards) == 12 * 2
    assert {c["data-modality"] for c in cards} == {"xray", "ct"}
    assert {page_img["data-image"] for page_img in page.find("img", **{"class": "thumb"})} == set(images)
    entries = page.find("div", **{"class": "entry"})
    assert len(entries) == 12 * 8
    assert any("dtree:full" in e["data-outcomes"] or "dtree:partial" in e["data-outcomes"] for e in entries)
    assert "format:zero" in entries[-1]["data-outcomes"]  # the first step's no-tag answer: shown last
    assert "<summary>dtree: why" in text and "cxr_pneumonia_covid" in text
    # filters by step, modality, task and reward outcome; the config, data report and events
    assert {s["data-filter"] for s in page.find("select")} == {"step", "modality", "task", "outcome"}
    assert "dtree: {weight: 0.5}" in text and "training_samples" in text and "finished" in text


def test_a_long_run_lists_completions_of_steps_spread_over_it(tmp_path):
    run = make_run_dir(tmp_path, steps=12)
    text = write_report(run, tmp_path / "small.html", max_items=24).read_text()
    steps = sorted({int(s) for s in re.findall(r'class="item" data-step="(\d+)"', text)})
    assert steps == [1, 12] or (steps[0] == 1 and steps[-1] == 12 and len(steps) == 3)
    assert "out of 96 of 12 steps recorded" in text
    assert pick_steps({s: 8 for s in range(1, 101)}, 80) == sorted({round(i * 99 / 9) + 1 for i in range(10)})


def test_report_of_a_run_recorded_before_images_were_recorded_finds_them_in_its_data(tmp_path):
    run = make_run_dir(tmp_path, steps=2)
    rows = [json.loads(line) for line in (run / "completions.jsonl").read_text().splitlines()]
    old = [{k: r[k] for k in ("step", "id", "answer", "completion", "rewards")} for r in rows]
    (run / "completions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in old))
    (run / "config.yaml").write_text("model: tiny\ndata: sample\nvariant: think\n")  # ids not in the sample set
    text = write_report(run).read_text()
    assert "name ids that sample does not hold now" in text
    assert text.count('class="thumb missing"') == 4  # 2 steps x 2 questions, each says it has no image


def test_report_of_a_run_without_rewards_shows_its_training_curves(tmp_path):
    """An SFT run logs a loss and no rewards: its page has the loss curve and no empty reward sections."""
    from medr1_core.files import append_jsonl

    run = tmp_path / "sft"
    run.mkdir()
    (run / "config.yaml").write_text("model: tiny\ndata: sample\n")
    append_jsonl(run / "metrics.jsonl", [{"step": s, "loss": 2.0 / s, "mean_token_accuracy": s / 10} for s in (1, 2, 3)])
    text = write_report(run).read_text()
    assert "<figcaption>loss</figcaption>" in text and "<figcaption>mean_token_accuracy</figcaption>" in text
    assert "Reward curves" not in text and "Sampled completions" not in text


def test_reward_curves_per_modality_are_means_over_the_completions_that_reward_scored():
    records = [
        {"step": 1, "modality": "ct", "rewards": {"dtree": 1.0}, "total": 2.0},
        {"step": 1, "modality": "ct", "rewards": {"dtree": None}, "total": 1.0},
        {"step": 2, "modality": "ct", "rewards": {"dtree": 0.0}, "total": 0.0},
        {"step": 2, "modality": "mri", "rewards": {"dtree": None}, "total": 1.0},
    ]
    assert binned_means(records, "modality", "dtree") == {"ct": [(1, 1.0), (2, 0.0)]}
    assert binned_means(records, "modality", "total") == {"ct": [(1, 1.5), (2, 0.0)], "mri": [(2, 1.0)]}
    assert binned_means(records, "modality", "dtree", bins=1) == {"ct": [(2, 0.5)]}


def test_run_status_says_how_the_run_ended():
    assert run_status([{"event": "start"}]) == ("running", "started")
    assert run_status([{"event": "start"}, {"event": "end", "steps": 20}]) == ("finished", "20 steps")
    assert run_status([{"event": "start"}, {"event": "failed", "error": "RunFailed: NaN"}]) == ("failed", "RunFailed: NaN")


def test_charts_draw_every_point_on_round_axes():
    svg = line_chart({"format": [(1, 0.0), (2, 0.5), (3, 1.0)], "empty": []}, title="t")
    assert svg.count("<circle") == 3 and "empty" not in svg
    assert re.findall(r">(\d\.\d)</text>", svg) == ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]
    assert "no data yet" in line_chart({}, title="t")
    assert nice_ticks(6.9171, 6.9179)[0] <= 6.9171 and nice_ticks(6.9171, 6.9179)[-1] >= 6.9179


# ---------------------------------------------------------------- evaluation and experiment reports


def test_eval_report_shows_accuracy_tables_heatmap_and_each_question(tmp_path):
    out = make_eval_dir(tmp_path)
    text = write_report(out).read_text()
    page = Page(text)
    cards = page.find("div", **{"class": "item"})
    assert [c["data-outcomes"] for c in cards] == ["wrong", "correct", "no-answer"]
    assert len(json.loads(page.scripts["medr1-images"])) == 3
    assert "By modality" in text and "By task" in text and 'class="heat"' in text
    assert "33.3 (3)" in text  # the "all" cell of the heatmap: 1 of 3
    assert '<li class="expected">B. Pneumonia' in text and '<li class="chosen">C. Normal' in text
    assert '<li class="expected chosen">A. CT' in text


def test_experiment_report_shows_its_grid_figures_tables_and_summary(tmp_path):
    exp = make_experiment_dir(tmp_path)
    assert directory_kind(exp) == "experiment"
    text = write_report(exp).read_text()
    grid = text.split('<section id="grid">')[1].split("</section>")[0]
    assert re.findall(r">(\d+\.\d)</a>", grid) == ["80.0", "45.0", "50.0", "75.0"]
    assert 'href="evals/grpo-think-ct/ct"' in grid  # a relative link that opens from disk
    assert "<b><a" in grid  # in-domain cells stand out
    assert "data:image/png;base64," in text  # the figure, embedded
    assert "<table>" in text.split('<section id="summary">')[1] and "out_of_domain" in text


def test_report_refuses_a_folder_that_holds_no_run(tmp_path):
    with pytest.raises(ReportError, match="not a medr1 run"):
        write_report(tmp_path)
    proc = run_cli("report", str(tmp_path / "nowhere"), check=False)
    assert proc.returncode == 2 and "no such directory" in proc.stderr and "Traceback" not in proc.stderr


def test_medr1_report_writes_each_kind_of_directory(tmp_path):
    for make in (make_run_dir, make_eval_dir, make_experiment_dir):
        d = make(tmp_path / make.__name__)
        proc = run_cli("report", str(d))
        assert proc.stdout.strip() == f"wrote {d / 'report.html'}" and (d / "report.html").stat().st_size > 2000


# ---------------------------------------------------------------- the console


def test_console_table_and_summaries():
    assert table(["reward", "last"], [["format", "0.500"]]).splitlines() == [
        "  reward   last", "  ------  -----", "  format  0.500"]
    summary = {"steps": 20, "run_dir": "runs/x", "weights": {"format": 1.0, "dtree": 0.5},
               "rewards/format/mean": {"first": 0.1, "last": 0.8, "steps": 20},
               "rewards/dtree/mean": {"first": 0.0, "last": 0.25, "steps": 7},
               "reward": {"first": 0.1, "last": 0.925, "steps": 20}, "report": "runs/x/report.html"}
    text = train_summary(summary)
    lines = text.splitlines()
    assert lines[0] == "medr1: run finished after 20 steps -> runs/x"
    assert re.search(r"dtree\s+0\.5\s+0\.000\s+0\.250\s+\+0\.250\s+7$", text, re.M)
    assert re.search(r"total \(weighted\)\s+0\.100\s+0\.925\s+\+0\.825\s+20$", text, re.M)
    assert lines[-1] == "  report: runs/x/report.html"
    results = {"overall": {"n": 4, "correct": 1, "accuracy": 0.25, "ci95": [0.05, 0.7]},
               "by_modality": {"ct": {"n": 4, "correct": 1, "accuracy": 0.25, "ci95": [0.05, 0.7]}}}
    assert re.search(r"modality\s+ct\s+4\s+1\s+25\.0\s+5\.0-70\.0", eval_summary(results))


def test_progress_bar_shows_the_total_and_each_rewards_recent_mean(capsys):
    from medr1_core.train.recording import console_progress

    state = SimpleNamespace(is_world_process_zero=True, max_steps=3, global_step=0)
    bar = console_progress(window=2)
    bar.on_train_begin(None, state, None)
    for step, (fmt, dtree) in enumerate([(0.0, None), (0.5, 1.0), (1.0, None)], start=1):
        state.global_step = step
        logs = {"loss": 0.1, "reward": fmt + (dtree or 0), "rewards/format/mean": fmt}
        if dtree is not None:
            logs["rewards/dtree/mean"] = dtree
        bar.on_step_end(None, state, None)
        bar.on_log(None, state, None, logs=logs)
    assert bar.bar.postfix == "reward 1.000 | format 0.750 dtree 1.000"
    bar.on_train_end(None, state, None)
    err = capsys.readouterr().err
    assert "3/3" in err and "{" not in err and "loss" not in err  # no metrics dict on the terminal


def test_verbose_progress_bar_prints_each_steps_metrics(capsys):
    from medr1_core.train.recording import console_progress

    state = SimpleNamespace(is_world_process_zero=True, max_steps=1, global_step=1)
    bar = console_progress(verbose=True)
    bar.on_train_begin(None, state, None)
    bar.on_log(None, state, None, logs={"loss": 0.25, "reward": 1.0})
    bar.on_train_end(None, state, None)
    assert "step 1: loss=0.25 reward=1" in capsys.readouterr().out


def test_attached_callbacks_keep_unscored_rewards_out_of_every_logger(tmp_path, capsys, monkeypatch):
    """A real transformers Trainer: the None TRL logs for a reward that scored nothing reaches no
    logger (no TensorBoard warning, no null in metrics.jsonl), and its own progress printer is gone."""
    import torch
    from transformers import Trainer, TrainingArguments
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    from medr1_core.train.recording import attach_run_callbacks

    monkeypatch.setenv("TENSORBOARD_LOGGING_DIR", str(tmp_path / "tb"))
    args = TrainingArguments(output_dir=str(tmp_path), report_to=["tensorboard"], use_cpu=True, disable_tqdm=False)
    trainer = Trainer(model=torch.nn.Linear(2, 2), args=args)
    attach_run_callbacks(trainer, tmp_path, verbose=False)
    names = [type(cb).__name__ for cb in trainer.callback_handler.callbacks]
    assert names[0] == "DropUnscoredMetrics" and "ConsoleProgress" in names and "TensorBoardCallback" in names
    assert not any(isinstance(cb, (ProgressCallback, PrinterCallback)) for cb in trainer.callback_handler.callbacks)
    trainer.log({"rewards/dtree/mean": None, "rewards/format/mean": 0.5, "reward": 0.5})
    line = json.loads((tmp_path / "metrics.jsonl").read_text())
    assert "rewards/dtree/mean" not in line and line["rewards/format/mean"] == 0.5
    assert 'attempting to log a value of "None"' not in capsys.readouterr().err


# ---------------------------------------------------------------- trackers


def test_report_to_from_config_and_command_line(tmp_path):
    from medr1_core.errors import ConfigError
    from medr1_core.train.config import load_train_config

    assert load_train_config().report_to == ["tensorboard"]
    assert load_train_config(overrides={"report_to": "wandb, tensorboard"}).report_to == ["wandb", "tensorboard"]
    assert load_train_config(overrides={"report_to": "none"}).report_to == []
    config = tmp_path / "run.yaml"
    config.write_text("report_to: [mlflow, trackio]\n")
    assert load_train_config(config).report_to == ["mlflow", "trackio"]
    with pytest.raises(ConfigError, match="unknown tracker 'wandbb'; did you mean 'wandb'"):
        load_train_config(overrides={"report_to": "wandbb"})
    with pytest.raises(ConfigError, match="grpo.report_to: set by medr1 from the top-level report_to"):
        load_train_config(overrides={"grpo.report_to": ["wandb"]})


def test_medr1_knows_the_trackers_transformers_has():
    from transformers.integrations.integration_utils import INTEGRATION_TO_CALLBACK

    from medr1_core.train.config import TRACKERS

    assert set(TRACKERS) == set(INTEGRATION_TO_CALLBACK)


def test_report_to_reaches_trls_config(tmp_path):
    from medr1_core.train.config import load_train_config
    from medr1_core.train.engine import grpo_args

    config = load_train_config(overrides={"model": "tiny", "report_to": "tensorboard,mlflow"})
    args = grpo_args(config, tmp_path / "my-run", [1.0, 1.0])
    assert args.report_to == ["tensorboard", "mlflow"] and args.run_name == "my-run"
    assert grpo_args(load_train_config(overrides={"report_to": "none"}), tmp_path, [1.0]).report_to == []


def test_a_tracker_that_is_not_installed_is_named_before_anything_loads(tmp_path):
    pytest.importorskip("transformers")
    from transformers.integrations import is_wandb_available

    if is_wandb_available():
        pytest.skip("wandb is installed here")
    proc = run_cli("train", "--model", "tiny", "--data", "sample", "--report-to", "tensorboard,wandb",
                   "--output-dir", str(tmp_path / "r"), check=False)
    assert proc.returncode == 2
    assert "report_to wandb: not installed (pip install wandb)" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "r").exists()
