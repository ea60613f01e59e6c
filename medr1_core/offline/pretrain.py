"""``--model tiny``: the tiny VLM after a short, offline, deterministic pretraining, as a real VLM comes.

A real VLM reaches Med-R1 having seen image-text pairs (it can say what an image
shows) and following instructions part of the time (it sometimes writes the
answer format). The random tiny model of :mod:`medr1_core.offline.tiny` has
neither, so GRPO on it gets no reward spread and learns nothing. This module
gives it both, once, at build time, with plain next-token training:

* **captions**: a sample-style image (drawn by :mod:`.sample_data` from its own
  pool of seeds, never an image of ``sample`` or ``sample-heldout``) and
  "Describe the image." -> :func:`.sample_data.caption` ("CT image. Lung nodule.
  Two lesions, small."). Captions never hold a question, an option list or a letter;
* **the answer format, with no answers**: a training prompt (a generated question
  with its options, in one of the prompt variants) -> a completion in that
  variant's format whose reasoning is the image's caption and whose answer is a
  *random* option letter. Only ``tagged`` of these are in the exact format (the
  rest: the caption and "Answer: X", no tags), so the model starts where base VLMs
  start: it writes the format some of the time and answers at chance.

So the model knows what each image shows and how an answer looks, but not which
option is right: choosing it from the image is what GRPO has to learn.
:func:`build_pretrained_tiny_vlm` caches the result like the other offline builds
(about 2 minutes of CPU once; ``python -m medr1_core.offline.pretrain`` builds it
and prints the loss).
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from pathlib import Path

from .cache import build_atomically, cache_dir, read_marker, write_marker

__all__ = ["PretrainSettings", "PRETRAINED_FORMAT_VERSION", "pretraining_examples", "pretrain",
           "build_pretrained_tiny_vlm", "default_pretrained_dir"]

#: Bump when the produced model changes; part of the cache directory's name.
PRETRAINED_FORMAT_VERSION = 1
_MARKER = ".medr1-tiny-pretrained.json"
CAPTION_PROMPT = "Describe the image."


@dataclass(frozen=True)
class PretrainSettings:
    """How the tiny model is pretrained (the defaults build ``--model tiny``)."""

    steps: int = 1000
    batch_size: int = 32
    learning_rate: float = 2e-3
    pool: int = 3000
    """Images drawn for pretraining (from seeds no sample split uses)."""
    format_share: float = 0.5
    """Share of examples that are answer-format turns (the rest are captions)."""
    tagged: float = 0.25
    """Share of answer-format turns written in the exact format."""
    seed: int = 0


@dataclass(frozen=True)
class Example:
    """One chat turn to learn: the user's image and text, the assistant's reply."""

    image: object  # PIL image, prepared as training prepares its modality's images
    prompt: list[dict]
    completion: str
    answer: str | None = None
    """The question's correct letter (format turns; the reply's letter is drawn at random, not from it)."""


def _formatted(variant: str, reasoning: str, letter: str) -> str:
    if variant == "nothink":
        return f"<answer>{letter}</answer>"
    if variant == "think_after":
        return f"<answer>{letter}</answer><think>{reasoning}</think>"
    return f"<think>{reasoning}</think><answer>{letter}</answer>"


def pretraining_examples(settings: PretrainSettings, image_dir: Path) -> list[Example]:
    """The pretraining turns, deterministic for ``settings``; images are written under ``image_dir``
    in their modality's file format and read back as training reads them."""
    import numpy as np

    from ..data.images import open_image
    from ..plugins import get_plugins
    from ..prompts import build_conversation, conversation
    from ..samples import VARIANTS, Sample
    from .sample_data import MODALITIES, PRETRAINING_SEED_TAG, TASKS, _save, caption, draw_scene, question_for

    plugins = get_plugins()
    pick = random.Random(settings.seed)
    examples = []
    for i in range(settings.pool):
        modality, task = pick.choice(list(MODALITIES)), pick.choice(list(TASKS))
        rng = np.random.default_rng([i, PRETRAINING_SEED_TAG, 2503_13939])
        scene = draw_scene(modality, task, int(rng.integers(12)), rng)
        path = image_dir / f"{i}.png"
        _save(scene.pixels, modality, path)
        image = open_image(path, plugins.modalities.get(modality))
        text = caption(scene)
        if pick.random() >= settings.format_share:
            examples.append(Example(image, conversation(CAPTION_PROMPT, 1), text))
            continue
        question, options, answer = question_for(scene, rng)
        letters = "ABCD"[: len(options)]
        sample = Sample(id=str(i), question=question, answer=letters[options.index(answer)],
                        options=dict(zip(letters, options)), images=[str(path)], modality=modality, task=task)
        variant = pick.choice(VARIANTS)
        letter = pick.choice(letters)  # never the known answer: the prior holds the format, not the answers
        reply = _formatted(variant, text, letter) if pick.random() < settings.tagged else f"{text} Answer: {letter}"
        examples.append(Example(image, build_conversation(sample, plugins.tasks.get(task), variant), reply,
                                sample.answer))
    return examples


def _encode(processor, example: Example) -> tuple[list[int], int, dict]:
    """(token ids of prompt + reply + end-of-turn, where the reply starts, the processor's image tensors)."""
    tokenizer = processor.tokenizer
    text = (processor.apply_chat_template(example.prompt, add_generation_prompt=True, tokenize=False)
            + example.completion + tokenizer.eos_token)
    inputs = processor(text=[text], images=[[example.image]], return_tensors="pt")
    ids = inputs["input_ids"][0].tolist()
    reply = tokenizer(example.completion + tokenizer.eos_token, add_special_tokens=False)["input_ids"]
    assert ids[len(ids) - len(reply):] == reply, "the reply tokenizes apart from its prompt"
    vision = {k: v for k, v in inputs.items() if k not in ("input_ids", "attention_mask")}
    return ids, len(ids) - len(reply), vision


def _batch(encoded: list[tuple[list[int], int, dict]], pad_id: int) -> dict:
    """Right-padded model inputs, with labels on the replies (and their end-of-turn) only."""
    import torch

    width = max(len(ids) for ids, _, _ in encoded)
    input_ids = torch.full((len(encoded), width), pad_id)
    attention_mask = torch.zeros((len(encoded), width), dtype=torch.long)
    labels = torch.full((len(encoded), width), -100)
    for row, (ids, reply_start, _) in enumerate(encoded):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        attention_mask[row, : len(ids)] = 1
        labels[row, reply_start : len(ids)] = input_ids[row, reply_start : len(ids)]
    vision = {}
    for key in encoded[0][2]:
        values = [v[key] for _, _, v in encoded]
        if all(value.shape == (1, len(ids)) for value, (ids, _, _) in zip(values, encoded)):  # per token: pad
            vision[key] = torch.zeros((len(encoded), width), dtype=values[0].dtype)
            for row, value in enumerate(values):
                vision[key][row, : value.shape[1]] = value[0]
        else:  # per image, joined on the first axis: (1, C, H, W) images, Qwen's (patches, D) and (1, 3) grids
            vision[key] = torch.cat(values)
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels, **vision}


def pretrain(model, processor, settings: PretrainSettings, image_dir: Path, progress: bool = False) -> list[float]:
    """Train ``model`` in place on :func:`pretraining_examples`; returns the loss of every step."""
    import torch
    from tqdm.auto import tqdm

    examples = pretraining_examples(settings, image_dir)
    # captions and answer-format turns in batches of their own: a caption is a fifth as long as a prompt with options
    pools = [[_encode(processor, e) for e in examples if (e.answer is None) == is_caption] for is_caption in (True, False)]
    pools = [pool for pool in pools if pool]
    pad_id = processor.tokenizer.pad_token_id
    torch.manual_seed(settings.seed)
    order = random.Random(settings.seed + 1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 - step / settings.steps)
    model.train()
    losses = []
    for _ in tqdm(range(settings.steps), desc="pretraining the tiny model", disable=None if progress else True):  # None: only on a terminal
        pool = order.choices(pools, weights=[len(p) for p in pools])[0]
        loss = model(**_batch(order.sample(pool, min(settings.batch_size, len(pool))), pad_id)).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        losses.append(float(loss.detach()))
    model.eval()
    return losses


def default_pretrained_dir() -> Path:
    """Where :func:`build_pretrained_tiny_vlm` caches the model."""
    return cache_dir() / f"tiny-vlm-pretrained-v{PRETRAINED_FORMAT_VERSION}"


def build_pretrained_tiny_vlm(path: str | Path | None = None, settings: PretrainSettings | None = None,
                              progress: bool = True) -> Path:
    """Build (or reuse) ``--model tiny``: the random tiny VLM pretrained by :func:`pretrain`.

    Cached and atomic like :func:`medr1_core.offline.tiny.build_tiny_vlm`; a build with other
    settings is rebuilt.
    """
    import tempfile

    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from .tiny import build_tiny_vlm

    settings = settings or PretrainSettings()
    wanted = {"format": PRETRAINED_FORMAT_VERSION, **asdict(settings)}
    target = Path(path).expanduser() if path is not None else default_pretrained_dir()

    def build(tmp: Path) -> None:
        source = build_tiny_vlm()
        model = AutoModelForImageTextToText.from_pretrained(source, dtype=torch.float32)
        processor = AutoProcessor.from_pretrained(source)
        with tempfile.TemporaryDirectory(prefix="medr1-pretrain-images-") as images:
            losses = pretrain(model, processor, settings, Path(images), progress=progress)
        model.save_pretrained(tmp)
        processor.save_pretrained(tmp)
        first, last = sum(losses[:50]) / len(losses[:50]), sum(losses[-50:]) / len(losses[-50:])
        write_marker(tmp, _MARKER, {**wanted, "loss_first_50": round(first, 4), "loss_last_50": round(last, 4),
                                    "note": "Tiny toy model pretrained offline on synthetic captions. Not a real model."})

    def complete(p: Path) -> bool:
        marker = read_marker(p, _MARKER) or {}
        return all(marker.get(k) == v for k, v in wanted.items())

    return build_atomically(target, build, is_complete=complete, is_ours=lambda p: read_marker(p, _MARKER) is not None,
                            what="a pretrained tiny medr1 model directory")


if __name__ == "__main__":
    import json
    import sys

    from ..train.threads import apply_cpu_threads

    apply_cpu_threads()  # MEDR1_THREADS, as training and evaluation do
    built = build_pretrained_tiny_vlm()
    print(built)
    json.dump(read_marker(built, _MARKER), sys.stdout, indent=1)
    print()
