"""Running an evaluation (``evaluate``) with a scripted generator: scoring, files, resume, images.

The model is never loaded here: ``evaluate(generator=...)`` takes the place of
generation, so these tests are about everything around it. The real tiny
model runs end to end in tests/test_eval_cli.py.
"""

from __future__ import annotations

import json

import pytest
from PIL import Image

from medr1_core.data import DataError, Selection, load_samples
from medr1_core.eval.predictions import read_predictions
from medr1_core.eval.generation import SamplingSettings
from medr1_core.eval.run import EvalError, evaluate

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class Scripted:
    """Answers `A` in tags, except questions about grades, answered without tags (a parse failure)."""

    def __init__(self, fail_on_call: int | None = None):
        self.calls: list[list] = []
        self.fail_on_call = fail_on_call

    @staticmethod
    def reply(prompt: str) -> str:
        if "Grade" in prompt:
            return "I think it is A"
        return "<think>The image shows it.</think><answer>A</answer>"

    def generate(self, conversations, images):
        if self.fail_on_call is not None and len(self.calls) + 1 == self.fail_on_call:
            raise RuntimeError("simulated crash (out of memory)")
        self.calls.append(conversations)
        assert len(conversations) == len(images)
        for conv, pics in zip(conversations, images):
            n_placeholders = sum(part["type"] == "image" for part in conv[0]["content"])
            assert n_placeholders == len(pics) >= 1
            assert all(isinstance(p, Image.Image) and p.mode == "RGB" for p in pics)
        return [self.reply(conv[0]["content"][-1]["text"]) for conv in conversations]

    @property
    def answered(self) -> int:
        return sum(len(c) for c in self.calls)


@pytest.fixture
def fake_model(tmp_path):
    """A directory `--model` accepts; never loaded, since the generator is scripted."""
    path = tmp_path / "model"
    path.mkdir()
    (path / "config.json").write_text("{}")
    return str(path)


@pytest.fixture(scope="module")
def sample_questions():
    return load_samples("sample").samples


def expected_correct(predictions_file, samples):
    by_id = {s.id: s for s in samples}
    return sum(1 for r in read_predictions(predictions_file).records
               if by_id[r["id"]].answer == "A" and "Grade" not in r["completion"] and "<answer>" in r["completion"])


def test_evaluate_scores_with_the_accuracy_reward_and_writes_every_file(tmp_path, fake_model, sample_questions):
    gen = Scripted()
    out = tmp_path / "eval"
    report = evaluate(fake_model, "sample", out, batch_size=8, generator=gen, progress=False,
                      selection=Selection(limit=30))

    assert [len(c) for c in gen.calls] == [8, 8, 8, 6]
    records = read_predictions(out / "predictions.jsonl").records
    assert len(records) == 30 and len({r["id"] for r in records}) == 30
    by_id = {s.id: s for s in sample_questions}
    for r in records:
        s = by_id[r["id"]]
        assert (r["modality"], r["task"], r["target"]) == (s.modality, s.task, s.answer)
        tagged = "<answer>" in r["completion"]
        assert r["correct"] == (tagged and s.answer == "A")
        assert r["letter"] == ("A" if tagged else None)
        assert (r["answer"] is None) == (not tagged)  # no committed answer: a parse failure
    results = json.loads((out / "results.json").read_text())
    assert results == report.results
    assert results["overall"]["n"] == 30
    assert results["overall"]["correct"] == sum(r["correct"] for r in records)
    failures = sum(r["answer"] is None for r in records)
    assert results["parse_failures"] == failures and results["parse_failure_rate"] == pytest.approx(failures / 30)
    assert sum(c["n"] for c in results["by_modality"].values()) == 30
    assert sum(c["n"] for row in results["by_modality_task"].values() for c in row.values()) == 30
    assert results["variant"] == "think" and results["counts"]["generated_now"] == 30
    assert (out / "results.md").read_text().startswith("# Evaluation of")
    assert (out / "heatmap.png").read_bytes().startswith(PNG_MAGIC)
    # the same seeded subset every time
    again = evaluate(fake_model, "sample", tmp_path / "again", generator=Scripted(), progress=False,
                     selection=Selection(limit=30))
    assert again.results["overall"] == results["overall"]


def test_resume_after_a_crash_and_a_half_written_line(tmp_path, fake_model, sample_questions):
    out = tmp_path / "eval"
    crashing = Scripted(fail_on_call=3)
    with pytest.raises(RuntimeError, match="simulated crash"):
        evaluate(fake_model, "sample", out, batch_size=7, generator=crashing, progress=False,
                 selection=Selection(modalities=["ct", "MRI"]))
    preds = out / "predictions.jsonl"
    assert len(read_predictions(preds).records) == 14  # two batches were saved before the crash
    with open(preds, "a") as f:  # a line cut off by the crash
        f.write('{"id": "Synthetic-MRI_lesion_grading_1", "modality": "mr')

    gen = Scripted()
    report = evaluate(fake_model, "sample", out, batch_size=7, generator=gen, progress=False,
                      selection=Selection(modalities=["ct", "mri"]))
    assert gen.answered == 200 - 14  # ct and mri: 100 questions each
    assert report.resumed == 14 and report.generated == 186
    assert any("partially written" in m for m in report.messages)
    found = read_predictions(preds)
    assert len(found.records) == 200 and not found.bad_lines and found.duplicates == 0
    assert len(preds.read_text().splitlines()) == 200

    clean = evaluate(fake_model, "sample", tmp_path / "clean", generator=Scripted(), progress=False,
                     selection=Selection(modalities=["ct", "mri"]))
    for key in ("overall", "by_modality", "by_task", "by_modality_task", "parse_failure_rate"):
        assert report.results[key] == clean.results[key]
    assert report.results["overall"]["correct"] == expected_correct(preds, sample_questions)

    # nothing left to do: no generation at all
    idle = Scripted()
    rerun = evaluate(fake_model, "sample", out, generator=idle, progress=False,
                     selection=Selection(modalities=["ct", "mri"]))
    assert idle.calls == [] and rerun.resumed == 200 and rerun.results["overall"] == report.results["overall"]


def test_results_follow_the_selection_and_reuse_earlier_answers(tmp_path, fake_model):
    out = tmp_path / "eval"
    evaluate(fake_model, "sample", out, generator=Scripted(), progress=False, selection=Selection(modalities=["ct"]))
    gen = Scripted()
    both = evaluate(fake_model, "sample", out, generator=gen, progress=False,
                    selection=Selection(modalities=["ct", "xray"]))
    assert gen.answered == 100 and both.resumed == 100
    assert list(both.results["by_modality"]) == ["ct", "xray"]
    only_xray = evaluate(fake_model, "sample", out, generator=Scripted(), progress=False,
                         selection=Selection(modalities=["x-ray"]))
    assert list(only_xray.results["by_modality"]) == ["xray"] and only_xray.generated == 0
    assert only_xray.results["filters"]["modality"] == ["xray"]  # aliases resolve to ids


def test_other_settings_in_the_same_directory_are_refused(tmp_path, fake_model):
    out = tmp_path / "eval"
    evaluate(fake_model, "sample", out, generator=Scripted(), progress=False, selection=Selection(limit=5),
             sampling=SamplingSettings(max_new_tokens=32))
    with pytest.raises(EvalError, match="max_new_tokens 32 there, 64 now"):
        evaluate(fake_model, "sample", out, generator=Scripted(), progress=False, selection=Selection(limit=5),
                 sampling=SamplingSettings(max_new_tokens=64))
    with pytest.raises(EvalError, match="variant 'think' there, 'nothink' now"):
        evaluate(fake_model, "sample", out, variant="nothink", generator=Scripted(), progress=False,
                 selection=Selection(limit=5), sampling=SamplingSettings(max_new_tokens=32))
    gen = Scripted()
    report = evaluate(fake_model, "sample", out, overwrite=True, generator=gen, progress=False,
                      selection=Selection(limit=5), sampling=SamplingSettings(max_new_tokens=64))
    assert gen.answered == 5 and report.resumed == 0


def test_prompt_variant_comes_from_the_training_run(tmp_path):
    run = tmp_path / "run"
    (run / "final").mkdir(parents=True)
    (run / "final" / "config.json").write_text("{}")
    (run / "config.yaml").write_text("variant: nothink\n")
    gen = Scripted()
    report = evaluate(str(run), "sample", tmp_path / "eval", generator=gen, progress=False,
                      selection=Selection(limit=3))
    assert report.results["variant"] == "nothink"
    prompt = gen.calls[0][0][0]["content"][-1]["text"]
    assert "Output only the final answer" in prompt


def test_eval_prompts_are_the_training_prompts(tmp_path, fake_model, sample_questions):
    from medr1_core.data import training_dataset

    gen = Scripted()
    evaluate(fake_model, "sample", tmp_path / "eval", generator=gen, progress=False, selection=Selection(limit=4))
    ids = [r["id"] for r in read_predictions(tmp_path / "eval" / "predictions.jsonl").records]
    by_id = {s.id: s for s in sample_questions}
    rows = training_dataset([by_id[i] for i in ids], variant="think")
    for conv, i in zip(gen.calls[0], range(len(ids))):
        assert conv == rows[i]["prompt"]


def _jsonl_dataset(tmp_path):
    images = tmp_path / "img"
    images.mkdir()
    Image.new("RGB", (40, 40), (200, 10, 10)).save(images / "ok1.png")
    Image.new("L", (30, 50), 90).save(images / "ok2.png")
    (images / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    rows = [
        {"id": "ok1", "images": ["img/ok1.png"], "answer": "A"},
        {"id": "ok2", "images": ["img/ok2.png"], "answer": "B"},
        {"id": "missing", "images": ["img/missing.png"], "answer": "A"},
        {"id": "corrupt", "images": ["img/corrupt.png"], "answer": "A"},
    ]
    path = tmp_path / "data.jsonl"
    with open(path, "w") as f:
        for row in rows:
            f.write(json.dumps({"question": "Which modality?", "options": {"A": "CT", "B": "MRI"},
                                "modality": "CT", "task": "modality recognition", **row}) + "\n")
    return path


def test_missing_and_unreadable_images_are_counted_not_fatal(tmp_path, fake_model):
    data = str(_jsonl_dataset(tmp_path))
    with pytest.raises(DataError, match="1 image file"):
        evaluate(fake_model, data, tmp_path / "strict", generator=Scripted(), progress=False)
    gen = Scripted()
    with pytest.warns(UserWarning, match="missing"):
        report = evaluate(fake_model, data, tmp_path / "skip", generator=gen, progress=False,
                          selection=Selection(on_missing_image="skip"))
    assert gen.answered == 2
    assert report.skipped == {"missing_images": 1, "unreadable_images": 1}
    assert report.results["overall"] == {**report.results["overall"], "n": 2, "correct": 1}
    assert report.results["counts"]["skipped"] == report.skipped
    assert any("corrupt" in m for m in report.messages)


def test_bad_arguments_fail_clearly(tmp_path, fake_model):
    with pytest.raises(DataError, match="no samples from dataset 'nope'"):
        evaluate(fake_model, "sample", tmp_path / "e", generator=Scripted(), progress=False,
                 selection=Selection(datasets=["nope"]))
    data = str(_jsonl_dataset(tmp_path))
    with pytest.raises(EvalError, match="no questions to evaluate"):
        evaluate(fake_model, data, tmp_path / "e", generator=Scripted(), progress=False,
                 selection=Selection(tasks=["lesion_grading"]))
    with pytest.raises(KeyError, match="Did you mean 'ct'"):
        evaluate(fake_model, "sample", tmp_path / "e", generator=Scripted(), progress=False,
                 selection=Selection(modalities=["cct"]))
    with pytest.raises(FileNotFoundError, match="no such directory"):
        evaluate(str(tmp_path / "absent" / "model"), "sample", tmp_path / "e", generator=Scripted(), progress=False)
    with pytest.raises(EvalError, match="batch-size"):
        evaluate(fake_model, "sample", tmp_path / "e", batch_size=0, generator=Scripted(), progress=False)


def test_in_memory_samples_such_as_a_held_out_split(tmp_path, fake_model, sample_questions):
    from medr1_core.data import split

    _, test = split(sample_questions, test_fraction=0.1, seed=0)
    gen = Scripted()
    report = evaluate(fake_model, "sample held-out 10%", tmp_path / "eval", samples=test, generator=gen,
                      progress=False, selection=Selection(modalities=["ct", "mri"]))
    wanted = [s for s in test if s.modality in ("ct", "mri")]
    assert 0 < len(wanted) < len(test)
    assert report.results["overall"]["n"] == gen.answered == len(wanted)
    assert report.results["data"] == "sample held-out 10%"
