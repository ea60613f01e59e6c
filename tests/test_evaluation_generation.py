"""Batched generation: left padding gives the same greedy answers as one question at a time."""

from __future__ import annotations

import pytest

from medr1_core.eval.generation import (
    BackendUnavailable,
    SamplingSettings,
    TransformersGenerator,
    make_generator,
    vllm_available,
)

QUESTIONS = [
    "What imaging modality is used?",
    "Which organ is shown in this CT image of the chest and the lung of a patient with fever and cough?",
    "Diagnosis?",
    "What abnormality is seen in the liver?",
    "Is there evidence of a nodule in this image?",
]


def conversation(text):
    return [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": text}]}]


@pytest.fixture(scope="module")
def generator():
    """The tiny model with large random weights, so greedy outputs are varied text, not one repeated token."""
    import torch

    from medr1_core.offline.tiny import build_tiny_vlm

    gen = TransformersGenerator.load(str(build_tiny_vlm()), SamplingSettings(max_new_tokens=10), device="cpu")
    torch.manual_seed(3)
    with torch.no_grad():
        for p in gen.model.parameters():
            p.normal_(0, 0.5)
    return gen


@pytest.fixture(scope="module")
def images():
    from PIL import Image

    return [[Image.new("RGB", (40, 30), (40 * i, 20 * i, 255 - 40 * i))] for i in range(len(QUESTIONS))]


@pytest.mark.slow
def test_batched_greedy_generation_equals_one_at_a_time(generator, images):
    convs = [conversation(q) for q in QUESTIONS]
    batched = generator.generate(convs, images)
    single = [generator.generate([c], [im])[0] for c, im in zip(convs, images)]
    assert batched == single
    assert len(set(batched)) == len(QUESTIONS)  # varied outputs: the comparison means something
    assert generator.tokenizer.padding_side == "left"
    assert generator.generate([], []) == []
    with pytest.raises(ValueError, match="image lists"):
        generator.generate(convs, images[:2])


@pytest.mark.slow
def test_greedy_by_default(generator, images):
    assert generator.generation_config.do_sample is False
    assert generator.generation_config.max_new_tokens == 10
    conv = [conversation(QUESTIONS[0])]
    assert generator.generate(conv, images[:1]) == generator.generate(conv, images[:1])


def test_vllm_backend_is_only_used_when_installed_and_asked_for(tmp_path):
    with pytest.raises(ValueError, match="unknown generation backend"):
        make_generator(str(tmp_path), backend="onnx")
    if vllm_available():
        pytest.skip("vllm is installed here; its generator needs a GPU model to test")
    with pytest.raises(BackendUnavailable, match=r"pip install 'medr1\[vllm\]'"):
        make_generator(str(tmp_path), backend="vllm")


@pytest.mark.slow
def test_sampling_is_opt_in_and_seeded(generator, images):
    convs = [conversation(q) for q in QUESTIONS]
    sampler = TransformersGenerator(
        generator.model, generator.processor,
        SamplingSettings(max_new_tokens=10, do_sample=True, temperature=1.5, seed=7),
    )
    assert sampler.generation_config.do_sample is True
    first = sampler.generate(convs, images)
    assert sampler.generate(convs, images) == first  # same seed, same samples
    assert first != generator.generate(convs, images)  # not the greedy answers
