"""``--model tiny``: the pretraining that gives the tiny model captions and the answer format, not answers."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from medr1_core.offline.pretrain import CAPTION_PROMPT, PretrainSettings, pretraining_examples


def _prompt_text(example) -> str:
    return next(part["text"] for part in example.prompt[0]["content"] if part["type"] == "text")


def test_examples_are_captions_and_formatted_replies_with_random_letters(tmp_path):
    settings = PretrainSettings(pool=400)
    examples = pretraining_examples(settings, tmp_path)
    assert len(examples) == 400 and len(list(tmp_path.iterdir())) == 400
    captions = [e for e in examples if _prompt_text(e) == CAPTION_PROMPT]
    replies = [e for e in examples if _prompt_text(e) != CAPTION_PROMPT]
    assert 150 < len(captions) < 250  # format_share 0.5
    # captions say what the image shows, never an option list or a letter
    assert all(re.fullmatch(r"[A-Za-z -]+ image\.( [A-Z][^()]*\.)*", e.completion) for e in captions), captions[:3]
    tagged = [e for e in replies if "<answer>" in e.completion]
    assert abs(len(tagged) / len(replies) - settings.tagged) < 0.1  # the rest: "caption Answer: X"
    assert all(re.search(r" Answer: [A-D]$", e.completion) for e in replies if e not in tagged)
    # the letter is drawn at random, never read off the answer: right about as often as chance
    right = [_letter(e) == e.answer for e in replies]
    chance = sum(1 / len(_options(e)) for e in replies) / len(replies)
    assert abs(sum(right) / len(right) - chance) < 0.1
    variants = Counter("think_after" if e.completion.startswith("<answer>") and "<think>" in e.completion
                       else "nothink" if e.completion.startswith("<answer>") else "think" for e in tagged)
    assert set(variants) == {"think", "nothink", "think_after"}


def _letter(example) -> str:
    return re.search(r"(?:<answer>|Answer: )([A-D])", example.completion).group(1)


def _options(example) -> dict[str, str]:
    return dict(re.findall(r"^([A-D])\) (.+)$", _prompt_text(example), flags=re.M))


def test_building_is_deterministic_and_cached(tmp_path):
    from safetensors.torch import load_file

    from medr1_core.offline.pretrain import build_pretrained_tiny_vlm

    small = PretrainSettings(steps=3, pool=40, batch_size=4)
    a = build_pretrained_tiny_vlm(tmp_path / "a", small, progress=False)
    b = build_pretrained_tiny_vlm(tmp_path / "b", small, progress=False)
    wa, wb = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    assert all(wa[k].equal(wb[k]) for k in wa)
    stamp = (a / "model.safetensors").stat().st_mtime_ns
    assert build_pretrained_tiny_vlm(tmp_path / "a", small, progress=False) == a
    assert (a / "model.safetensors").stat().st_mtime_ns == stamp  # reused
    other = build_pretrained_tiny_vlm(tmp_path / "a", PretrainSettings(steps=4, pool=40, batch_size=4), progress=False)
    rebuilt = load_file(other / "model.safetensors")
    assert not all(rebuilt[k].equal(wa[k]) for k in wa)  # other settings: rebuilt


def test_tiny_names_resolve_to_the_pretrained_and_the_random_model(monkeypatch, tmp_path):
    from medr1_core.offline import pretrain, tiny
    from medr1_core.train.models import resolve_model

    monkeypatch.setattr(pretrain, "build_pretrained_tiny_vlm", lambda: tmp_path / "pretrained")
    monkeypatch.setattr(tiny, "build_tiny_vlm", lambda: tmp_path / "random")
    assert resolve_model("tiny").source == str(tmp_path / "pretrained")
    assert resolve_model("tiny-random").source == str(tmp_path / "random")


def test_an_unknown_tiny_name_lists_the_tiny_models():
    from medr1_core.train.models import ModelNotFoundError, resolve_model

    with pytest.raises(ModelNotFoundError, match=r"did you mean 'tiny-random'\?.*the tiny models: tiny, tiny-random"):
        resolve_model("tiny-randon")
