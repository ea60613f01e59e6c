"""The tiny Qwen2-VL / Qwen2.5-VL of ``medr1_core.offline.tiny_qwen``: the real architecture, wired end to end.

The model half (config, weights, tokenizer, chat template) needs no torchvision, so these tests feed
it ``pixel_values`` / ``image_grid_thw`` / ``mm_token_type_ids`` made by hand, the way Qwen2-VL's
image processor and processor make them. Tests of the processor itself, and of TRL's GRPOTrainer
(which needs the processor), need torchvision, which the project's set-up installs: they never skip.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from medr1_core.offline import tiny_qwen as tq

VERSIONS = list(tq.TINY_QWEN_VERSIONS)
ARCHITECTURES = {"2": "Qwen2VLForConditionalGeneration", "2.5": "Qwen2_5_VLForConditionalGeneration"}
PROCESSORS = {"2": "Qwen2VLProcessor", "2.5": "Qwen2_5_VLProcessor"}
# OpenAI CLIP normalisation, which Qwen2-VL's image processors use.
CLIP_MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
CLIP_STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)
P, M, T = tq.TINY_QWEN_PATCH_SIZE, tq.TINY_QWEN_MERGE_SIZE, tq.TINY_QWEN_TEMPORAL_PATCH_SIZE


def _image(height: int, width: int, seed: int = 0):
    from PIL import Image

    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def hand_patches(image) -> tuple[np.ndarray, list[int]]:
    """``pixel_values`` and ``[t, h, w]`` grid of one image whose sides are already multiples of 28
    (so no resizing): normalise, cut 14x14 patches ordered by 2x2 merge window, repeat the still
    frame over the temporal patch. One row per patch of ``channels * T * 14 * 14`` values."""
    x = (np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0 - CLIP_MEAN) / CLIP_STD
    x = x.transpose(2, 0, 1)  # (C, H, W)
    c, h, w = x.shape
    gh, gw = h // P, w // P
    x = x.reshape(c, gh // M, M, P, gw // M, M, P).transpose(1, 4, 2, 5, 0, 3, 6)  # (gh/M, gw/M, M, M, C, P, P)
    x = np.repeat(x[:, :, :, :, :, None], T, axis=5)  # (..., C, T, P, P)
    return x.reshape(gh * gw, c * T * P * P), [1, gh, gw]


def image_inputs(tokenizer, images, question="What imaging modality is used in this image?"):
    """What Qwen2VLProcessor returns for one user turn per image, built by hand: each
    ``<|image_pad|>`` of the chat template expanded to one per 2x2 merged patches."""
    import torch

    texts, patches, grids = [], [], []
    for image in images:
        rows, grid = hand_patches(image)
        patches.append(rows)
        grids.append(grid)
        messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}]
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        texts.append(text.replace("<|image_pad|>", "<|image_pad|>" * (int(np.prod(grid)) // M**2)))
    enc = tokenizer(texts, return_tensors="pt", padding=True)
    image_id = tokenizer.convert_tokens_to_ids("<|image_pad|>")
    return {
        "input_ids": enc.input_ids,
        "attention_mask": enc.attention_mask,
        "pixel_values": torch.from_numpy(np.concatenate(patches)),
        "image_grid_thw": torch.tensor(grids),
        "mm_token_type_ids": (enc.input_ids == image_id).int(),  # 1 = image token, 0 = text
    }


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny-qwen")
    return {v: tq.build_tiny_qwen2vl_model(root / f"qwen{v}", version=v) for v in VERSIONS}


def _load(path, padding_side="left"):
    from transformers import AutoModelForImageTextToText, AutoTokenizer

    model = AutoModelForImageTextToText.from_pretrained(path).eval()
    tokenizer = AutoTokenizer.from_pretrained(path, padding_side=padding_side)
    return model, tokenizer


# ---------------------------------------------------------------------------------------------
# Model half: runs without torchvision
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_model_dir_loads_with_auto_classes_and_ids_agree(model_dirs, version):
    path = model_dirs[version]
    model, tokenizer = _load(path)
    cfg = model.config
    assert type(model).__name__ == ARCHITECTURES[version]
    assert type(tokenizer).__name__ == "Qwen2Tokenizer"
    assert cfg.text_config.vocab_size == len(tokenizer) == 1024
    for field, token in [
        ("image_token_id", "<|image_pad|>"),
        ("video_token_id", "<|video_pad|>"),
        ("vision_start_token_id", "<|vision_start|>"),
        ("vision_end_token_id", "<|vision_end|>"),
    ]:
        assert getattr(cfg, field) == tokenizer.convert_tokens_to_ids(token), field
    assert cfg.text_config.eos_token_id == tokenizer.eos_token_id == tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert cfg.text_config.pad_token_id == tokenizer.pad_token_id == tokenizer.convert_tokens_to_ids("<|endoftext|>")
    head_dim = cfg.text_config.hidden_size // cfg.text_config.num_attention_heads
    assert sum(cfg.text_config.rope_parameters["mrope_section"]) == head_dim // 2
    vision = cfg.vision_config
    assert (vision.patch_size, vision.spatial_merge_size, vision.temporal_patch_size) == (P, M, T)
    merger_out = vision.hidden_size if version == "2" else vision.out_hidden_size
    assert merger_out == cfg.text_config.hidden_size
    assert model.generation_config.eos_token_id == [tokenizer.eos_token_id, tokenizer.pad_token_id]
    marker = json.loads((path / ".medr1-tiny-qwen-complete.json").read_text())
    assert marker["version"] == version and marker["processor"] is False
    assert not (path / "processor_config.json").exists()


def test_tokenizer_has_qwen_special_tokens_and_chat_template(model_dirs):
    from trl.chat_template_utils import qwen2_5_vl_chat_template

    _, tokenizer = _load(model_dirs["2"])
    ids = [tokenizer.convert_tokens_to_ids(t) for t in tq.QWEN_SPECIAL_TOKENS]
    assert ids == list(range(ids[0], ids[0] + len(ids)))  # after the BPE vocabulary, in Qwen's order
    text = "<|im_start|>user\n<|vision_start|><|image_pad|><|image_pad|><|vision_end|>Is 12 CT?<|im_end|>"
    encoded = tokenizer(text).input_ids
    assert encoded.count(tokenizer.convert_tokens_to_ids("<|image_pad|>")) == 2
    assert tokenizer.decode(encoded) == text
    completion = "<think> the lung </think><answer>B</answer><|im_end|>"
    assert tokenizer.decode(tokenizer(completion).input_ids, skip_special_tokens=True) == (
        "<think> the lung </think><answer>B</answer>"
    )

    # Byte for byte the Instruct models' template, so TRL maps it to its training variant.
    assert tokenizer.chat_template == tq.QWEN_CHAT_TEMPLATE == qwen2_5_vl_chat_template
    messages = [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Which organ?"}]},
        {"role": "assistant", "content": "<answer>A</answer>"},
    ]
    assert tokenizer.apply_chat_template(messages, tokenize=False) == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Which organ?<|im_end|>\n"
        "<|im_start|>assistant\n<answer>A</answer><|im_end|>\n"
    )


def test_hand_made_patches_are_what_the_image_processor_makes():
    """Checks ``hand_patches`` (used by the forward tests) against transformers' PIL image
    processor for Qwen2-VL, with the tiny model's pixel limits; needs no torchvision."""
    from transformers import Qwen2VLImageProcessorPil

    processor = Qwen2VLImageProcessorPil(
        size={"shortest_edge": tq.TINY_QWEN_MIN_PIXELS, "longest_edge": tq.TINY_QWEN_MAX_PIXELS},
        patch_size=P,
        temporal_patch_size=T,
        merge_size=M,
    )
    images = [_image(56, 84, seed=1), _image(84, 84, seed=2)]
    out = processor(images=images, return_tensors="np")
    expected = [hand_patches(im) for im in images]
    assert out["image_grid_thw"].tolist() == [[1, 4, 6], [1, 6, 6]]
    assert [g for _, g in expected] == out["image_grid_thw"].tolist()
    assert out["pixel_values"].shape == (24 + 36, 3 * T * P * P)
    np.testing.assert_allclose(out["pixel_values"], np.concatenate([p for p, _ in expected]), atol=1e-5)

    # Any image becomes 4 to 16 image tokens (56x56 to 112x112 pixels).
    for h, w in [(20, 20), (300, 200), (1000, 700), (28, 500)]:
        (t, gh, gw) = processor(images=[_image(h, w)], return_tensors="np")["image_grid_thw"][0]
        assert 4 <= t * gh * gw // M**2 <= 16, (h, w)


@pytest.mark.parametrize("version", VERSIONS)
def test_forward_text_only_and_with_images(model_dirs, version):
    import torch

    model, tokenizer = _load(model_dirs[version])
    vocab = model.config.text_config.vocab_size

    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Which organ is shown?"}], tokenize=False, add_generation_prompt=True
    )
    enc = tokenizer([text], return_tensors="pt")
    with torch.no_grad():
        logits = model(**enc).logits
    assert logits.shape == (1, enc.input_ids.shape[1], vocab)
    assert torch.isfinite(logits).all()

    inputs = image_inputs(tokenizer, [_image(56, 84)])
    assert (inputs["input_ids"] == model.config.image_token_id).sum() == 6  # (4 * 6 patches) / (2 * 2)
    with torch.no_grad():
        logits = model(**inputs).logits
        other = model(**{**inputs, "pixel_values": -inputs["pixel_values"]}).logits
    assert logits.shape == (1, inputs["input_ids"].shape[1], vocab)
    assert torch.isfinite(logits).all()
    assert not torch.allclose(logits[0, -1], other[0, -1])  # the image reaches the text model

    # One <|image_pad|> too few for the image's 6 merged patches is refused.
    pad = model.config.image_token_id
    keep = torch.ones_like(inputs["input_ids"][0], dtype=torch.bool)
    keep[(inputs["input_ids"][0] == pad).nonzero()[0]] = False
    short = {k: inputs[k][:, keep] for k in ("input_ids", "attention_mask", "mm_token_type_ids")}
    with pytest.raises(Exception, match="Image features and image tokens do not match"):
        model(**short, pixel_values=inputs["pixel_values"], image_grid_thw=inputs["image_grid_thw"])


def test_image_tokens_get_2d_rope_positions(model_dirs):
    """M-RoPE: the 6 image tokens of a 2x3 merged grid get (t, h, w) positions; text resumes after it."""
    model, tokenizer = _load(model_dirs["2"])
    inputs = image_inputs(tokenizer, [_image(56, 84)])
    positions, _ = model.model.get_rope_index(
        inputs["input_ids"], inputs["mm_token_type_ids"], image_grid_thw=inputs["image_grid_thw"]
    )
    assert positions.shape == (3, 1, inputs["input_ids"].shape[1])
    is_image = inputs["mm_token_type_ids"][0].bool()
    start = int(is_image.nonzero()[0])
    t, h, w = (positions[i, 0, is_image].tolist() for i in range(3))
    assert t == [start] * 6
    assert h == [start + r for r in (0, 0, 0, 1, 1, 1)]
    assert w == [start + c for c in (0, 1, 2, 0, 1, 2)]
    after = positions[:, 0, start + 6].tolist()
    assert after == [start + 3] * 3  # start + max(2, 3) merged rows/cols


@pytest.mark.parametrize("version", VERSIONS)
def test_generate_left_padded_batch_of_different_image_sizes(model_dirs, version):
    import torch

    model, tokenizer = _load(model_dirs[version])
    images = [_image(56, 84, seed=3), _image(112, 112, seed=4)]  # 6 and 16 image tokens
    batch = image_inputs(tokenizer, images)
    assert batch["attention_mask"][0, 0] == 0  # the shorter prompt is left-padded
    with torch.no_grad():
        out = model.generate(**batch, max_new_tokens=4, min_new_tokens=4, do_sample=False)
    prompt_len = batch["input_ids"].shape[1]
    assert out.shape == (2, prompt_len + 4)
    assert ((out[:, prompt_len:] >= 0) & (out[:, prompt_len:] < len(tokenizer))).all()
    assert all(isinstance(t, str) for t in tokenizer.batch_decode(out[:, prompt_len:], skip_special_tokens=True))

    # Each row's first greedy token is what the model predicts for that prompt alone, unpadded.
    for row, image in enumerate(images):
        single = image_inputs(tokenizer, [image])
        with torch.no_grad():
            expected = model(**single).logits[0, -1].argmax()
        assert out[row, prompt_len] == expected

    text_only = tokenizer(["<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n"], return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**text_only, max_new_tokens=3, min_new_tokens=3, do_sample=False)
    assert out.shape == (1, text_only.input_ids.shape[1] + 3)


@pytest.mark.parametrize("version", VERSIONS)
def test_loss_gradients_reach_the_vision_tower(model_dirs, version):
    model, tokenizer = _load(model_dirs[version])
    model.train()
    inputs = image_inputs(tokenizer, [_image(56, 56)])
    out = model(**inputs, labels=inputs["input_ids"])
    out.loss.backward()
    patch_grad = model.model.visual.patch_embed.proj.weight.grad
    assert patch_grad is not None and patch_grad.abs().sum() > 0
    assert model.model.visual.merger.mlp[-1].weight.grad.abs().sum() > 0


def test_builds_are_reused_seeded_atomic_and_careful(tmp_path):
    import torch
    from safetensors.torch import load_file

    path = tq.build_tiny_qwen2vl_model(tmp_path / "a", seed=0)
    stamp = (path / "model.safetensors").stat().st_mtime_ns
    assert tq.build_tiny_qwen2vl_model(tmp_path / "a", seed=0) == path
    assert (path / "model.safetensors").stat().st_mtime_ns == stamp  # reused, not rebuilt
    assert tq.is_tiny_qwen_dir(path, version="2", seed=0)
    assert not tq.is_tiny_qwen_dir(path, version="2.5")
    assert not tq.is_tiny_qwen_dir(path, processor=True)

    weights0 = load_file(path / "model.safetensors")
    tq.build_tiny_qwen2vl_model(tmp_path / "a", seed=1)  # another seed replaces the build
    assert tq.is_tiny_qwen_dir(path, seed=1) and not tq.is_tiny_qwen_dir(path, seed=0)
    weights1 = load_file(path / "model.safetensors")
    # Saved in the hub checkpoints' layout (what vLLM and older transformers read).
    assert {"visual.patch_embed.proj.weight", "model.embed_tokens.weight"} <= set(weights1)
    name = "model.layers.0.self_attn.q_proj.weight"
    assert not torch.equal(weights0[name], weights1[name])
    assert [p.name for p in tmp_path.iterdir()] == ["a"]  # no temporary directories left behind

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="refusing to overwrite"):
        tq.build_tiny_qwen2vl_model(foreign)
    assert (foreign / "notes.txt").read_text() == "mine"
    with pytest.raises(ValueError, match="version must be one of 2, 2.5"):
        tq.build_tiny_qwen2vl_model(tmp_path / "b", version="3")
    assert tq.default_tiny_qwen_dir("2.5", seed=3).name == f"tiny-qwen2.5-vl-v{tq.TINY_QWEN_FORMAT_VERSION}-seed3"


def test_processor_build_without_torchvision_says_how_to_fix(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torchvision", None)  # as if not installed
    with pytest.raises(ImportError, match="pip install torchvision") as info:
        tq.build_tiny_qwen2vl(tmp_path / "full")
    assert str(info.value) == tq.TORCHVISION_MISSING
    assert not (tmp_path / "full").exists()


def test_broken_torchvision_is_reported_as_such(tmp_path, monkeypatch):
    fake = tmp_path / "site" / "torchvision"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise RuntimeError('operator torchvision::nms does not exist')\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.delitem(sys.modules, "torchvision", raising=False)
    with pytest.raises(ImportError, match="installed but fails to import: operator torchvision::nms"):
        tq.require_torchvision()


# ---------------------------------------------------------------------------------------------
# Processor and TRL: need torchvision
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def full_dirs(tmp_path_factory):
    import torchvision  # noqa: F401 - ./dev.sh installs it: these tests never skip
    root = tmp_path_factory.mktemp("tiny-qwen-full")
    return {v: tq.build_tiny_qwen2vl(root / f"qwen{v}", version=v) for v in VERSIONS}


@pytest.mark.parametrize("version", VERSIONS)
def test_full_build_round_trips_through_auto_classes(full_dirs, version):
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    path = full_dirs[version]
    assert tq.is_tiny_qwen_dir(path, version=version, processor=True)
    processor = AutoProcessor.from_pretrained(path)
    model = AutoModelForImageTextToText.from_pretrained(path).eval()
    assert type(processor).__name__ == PROCESSORS[version]
    assert type(processor.image_processor).__name__ == "Qwen2VLImageProcessor"
    assert type(processor.video_processor).__name__ == "Qwen2VLVideoProcessor"
    assert type(model).__name__ == ARCHITECTURES[version]
    assert processor.image_token_id == model.config.image_token_id
    assert processor.chat_template == tq.QWEN_CHAT_TEMPLATE

    image = _image(56, 84, seed=5)
    messages = [{"role": "user", "content": [{"type": "image", "image": image}, {"type": "text", "text": "Modality?"}]}]
    inputs = processor.apply_chat_template(
        messages, add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt"
    )
    patches, grid = hand_patches(image)
    assert inputs["image_grid_thw"].tolist() == [grid]
    np.testing.assert_allclose(inputs["pixel_values"].numpy(), patches, atol=1e-3)
    assert (inputs["input_ids"] == processor.image_token_id).sum() == 6
    assert torch.equal(inputs["mm_token_type_ids"], (inputs["input_ids"] == processor.image_token_id).int())
    with torch.no_grad():
        logits = model(**inputs).logits
        out = model.generate(**inputs, max_new_tokens=4, min_new_tokens=4, do_sample=False)
    assert logits.shape == (1, inputs["input_ids"].shape[1], len(processor.tokenizer))
    assert out.shape == (1, inputs["input_ids"].shape[1] + 4)

    # Large images are scaled down to at most 16 image tokens, small ones up to at least 4.
    for h, w in [(1000, 700), (20, 20)]:
        grid = processor.image_processor(images=[_image(h, w)], return_tensors="pt")["image_grid_thw"][0]
        assert 4 <= int(grid.prod()) // M**2 <= 16, (h, w)


def test_full_build_replaces_a_model_only_build(tmp_path):
    import torchvision  # noqa: F401 - ./dev.sh installs it: these tests never skip
    path = tq.build_tiny_qwen2vl_model(tmp_path / "m")
    assert not tq.is_tiny_qwen_dir(path, processor=True)
    assert tq.build_tiny_qwen2vl(tmp_path / "m") == path
    assert tq.is_tiny_qwen_dir(path, processor=True) and (path / "processor_config.json").is_file()
    assert tq.build_tiny_qwen2vl_model(tmp_path / "m") == path  # a full build serves model-only callers too


@pytest.mark.parametrize("version", VERSIONS)
def test_trl_grpo_trainer_runs_one_step(full_dirs, version, tmp_path):
    import torch
    from datasets import Dataset
    from transformers import AutoModelForImageTextToText, AutoProcessor
    from trl import GRPOConfig, GRPOTrainer

    path = full_dirs[version]
    seen: dict[str, list] = {}

    def answer_tag(completions, solution, **kwargs):
        """1.0 when the completion has an <answer> tag holding the solution letter."""
        seen.setdefault("completions", []).extend(completions)
        seen.setdefault("solution", []).extend(solution)
        return [float(f"<answer>{s}</answer>" in c[0]["content"]) for c, s in zip(completions, solution)]

    def distinct_characters(completions, **kwargs):
        """Number of distinct characters, scaled (varies between samples)."""
        return [len(set(c[0]["content"])) / 10 for c in completions]

    questions = ["Which modality?", "Which organ?", "Is there a fracture?", "Which plane?"]
    dataset = Dataset.from_dict(
        {
            "prompt": [[{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": q}]}] for q in questions],
            "image": [_image(56 + 28 * (i % 2), 84, seed=10 + i) for i in range(len(questions))],
            "solution": ["A", "B", "C", "D"],
        }
    )
    args = GRPOConfig(
        output_dir=str(tmp_path / "out"),
        use_cpu=not torch.cuda.is_available(),
        bf16=False,
        report_to="none",
        num_generations=2,
        per_device_train_batch_size=2,
        max_completion_length=8,
        max_steps=1,
        save_strategy="no",
        logging_steps=1,
        seed=0,
    )
    trainer = GRPOTrainer(
        model=AutoModelForImageTextToText.from_pretrained(path),
        reward_funcs=[answer_tag, distinct_characters],
        args=args,
        train_dataset=dataset,
        processing_class=AutoProcessor.from_pretrained(path, padding_side="left"),
    )
    result = trainer.train()
    assert trainer.state.global_step == 1
    assert np.isfinite(result.training_loss)
    logs = {k: v for entry in trainer.state.log_history for k, v in entry.items()}
    for key in ("reward", "rewards/answer_tag/mean", "rewards/distinct_characters/mean"):
        assert key in logs and np.isfinite(logs[key]), key
    # Both generations of each prompt were scored, and extra columns reached the reward.
    assert len(seen["completions"]) == len(seen["solution"]) == 2
    assert set(seen["solution"]) <= {"A", "B", "C", "D"}
    assert all(c[0]["role"] == "assistant" for c in seen["completions"])


def test_medr1_train_runs_on_tiny_qwen(full_dirs, tmp_path):
    """``medr1 train --model <tiny qwen dir> --data sample --max-steps 1``, in process."""
    from transformers import AutoConfig

    from medr1_core.cli import main

    run = tmp_path / "run"
    argv = ["train", "--model", str(full_dirs["2"]), "--data", "sample", "--max-steps", "1"]
    argv += ["--num-generations", "2", "--output-dir", str(run)]
    argv += ["--set", "grpo.per_device_train_batch_size=2", "--set", "grpo.max_completion_length=8"]
    assert main(argv) == 0
    assert AutoConfig.from_pretrained(run / "final").model_type == "qwen2_vl"
    assert (run / "final" / "processor_config.json").is_file()
