"""Tiny, randomly initialised LLaVA-style vision-language model for demos, tests and benchmarks.

``build_tiny_vlm()`` creates -- fully offline and deterministically -- a toy VLM plus its processor and
saves both with ``save_pretrained`` so that the *real* loading code path works on it::

    from transformers import AutoModelForImageTextToText, AutoProcessor
    path = build_tiny_vlm()
    model = AutoModelForImageTextToText.from_pretrained(path)   # LlavaForConditionalGeneration
    processor = AutoProcessor.from_pretrained(path)             # LlavaProcessor

What it is:

* a byte-level BPE tokenizer (~1k vocab) trained with the ``tokenizers`` library on a small synthetic
  medical-VQA corpus generated in this module (always the same bytes), wrapped as a
  ``PreTrainedTokenizerFast``. ``<image>``, ``<pad>``, ``<s>``, ``</s>`` and the role markers
  ``<|system|>``, ``<|user|>``, ``<|assistant|>`` are special tokens; ``<think>``, ``</think>``,
  ``<answer>``, ``</answer>`` are ordinary *added* tokens (single ids that survive
  ``decode(..., skip_special_tokens=True)``) so a tiny policy can pick up the R1 output format quickly;
* a jinja chat template that understands the multimodal message format used by TRL / transformers
  (``{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "..."}]}``) and
  ``add_generation_prompt``;
* a ``LlavaForConditionalGeneration`` with a 2-layer CLIP vision tower (32x32 images, 8x8 patches,
  16 image tokens per image) and a 2-layer Llama text model (hidden size 64); ~170k parameters;
* a ``LlavaProcessor`` with a ``CLIPImageProcessorPil`` (no torchvision needed) that resizes /
  centre-crops every image to 32x32.

It is NEVER a real model: its outputs are random until trained (``--model tiny-random``);
``--model tiny`` is this model after a short offline pretraining (:mod:`medr1_core.offline.pretrain`). It exists so that the whole
pipeline (data -> GRPO training -> checkpoint -> evaluation) can be exercised on a laptop CPU in
seconds, without network access.

Heavy libraries (torch, transformers, tokenizers) are imported inside functions only, so importing
this module is cheap.
"""

from __future__ import annotations

import random
from pathlib import Path

from .cache import build_atomically, read_marker, write_marker
from .cache import cache_dir as default_cache_dir

__all__ = [
    "TINY_MODEL_NAME",
    "TINY_RANDOM_NAME",
    "TINY_FORMAT_VERSION",
    "TINY_IMAGE_SIZE",
    "TINY_NUM_IMAGE_TOKENS",
    "TINY_CHAT_TEMPLATE",
    "default_cache_dir",
    "default_tiny_vlm_dir",
    "is_tiny_vlm_dir",
    "build_tiny_vlm",
    "tiny_corpus",
]

#: ``--model tiny``: this model after the build-time pretraining of :mod:`medr1_core.offline.pretrain`.
TINY_MODEL_NAME = "tiny"
#: ``--model tiny-random``: this model as built, untrained (for tests that need a blank slate).
TINY_RANDOM_NAME = "tiny-random"
#: Bump when the produced artefact changes; it is part of the default directory name.
TINY_FORMAT_VERSION = 1
#: Side of the square images the vision tower sees.
TINY_IMAGE_SIZE = 32
_PATCH_SIZE = 8
#: Number of ``<image>`` tokens each image expands to ((32 // 8) ** 2; CLS dropped by the "default" strategy).
TINY_NUM_IMAGE_TOKENS = (TINY_IMAGE_SIZE // _PATCH_SIZE) ** 2
_VOCAB_SIZE = 1020  # + 4 added format tokens = 1024 ids
_MARKER = ".medr1-tiny-complete.json"

_PAD, _BOS, _EOS, _UNK, _IMAGE = "<pad>", "<s>", "</s>", "<unk>", "<image>"
_ROLE_TOKENS = ["<|system|>", "<|user|>", "<|assistant|>"]
_SPECIAL_TOKENS = [_PAD, _BOS, _EOS, _UNK, _IMAGE, *_ROLE_TOKENS]  # ids 0..7 in this order
_FORMAT_TOKENS = ["<think>", "</think>", "<answer>", "</answer>"]

#: Chat template: ``<s><|user|>\n<image>question</s><|assistant|>\n...</s>``. ``system`` / ``user`` /
#: ``assistant`` roles; content may be a string or a list of ``{"type": "image"|"text"}`` parts.
TINY_CHAT_TEMPLATE = (
    "{{- bos_token -}}"
    "{%- for message in messages -%}"
    "{{- '<|' + message['role'] + '|>\\n' -}}"
    "{%- if message['content'] is string -%}"
    "{{- message['content'] -}}"
    "{%- elif message['content'] is not none -%}"
    "{%- for part in message['content'] -%}"
    "{%- if part['type'] == 'image' -%}{{- '<image>' -}}"
    "{%- elif part['type'] == 'text' -%}{{- part['text'] -}}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- endif -%}"
    "{{- eos_token -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|assistant|>\\n' -}}{%- endif -%}"
)

# ---------------------------------------------------------------------------------------------
# Synthetic corpus (deterministic: fixed-seed ``random.Random`` over lists, never sets/dicts order)
# ---------------------------------------------------------------------------------------------

_MODALITIES = [
    "CT", "MRI", "X-ray", "ultrasound", "dermoscopy", "fundus photography", "OCT", "microscopy",
    "mammography", "PET", "endoscopy", "histopathology", "angiography",
]
_ORGANS = [
    "brain", "chest", "lung", "heart", "liver", "kidney", "spleen", "pancreas", "abdomen", "pelvis",
    "knee", "spine", "skin", "retina", "breast", "colon", "stomach", "bone", "thyroid", "eye",
]
_FINDINGS = [
    "a nodule", "a mass", "pleural effusion", "pneumonia", "a fracture", "edema", "hemorrhage",
    "a tumor", "a cyst", "no abnormality", "calcification", "inflammation", "melanoma", "a nevus",
    "diabetic retinopathy", "macular degeneration", "glaucoma", "atelectasis", "cardiomegaly",
    "a lesion", "an infarct", "metastasis", "a polyp", "an ulcer", "normal tissue",
]
_PLANES = ["axial", "coronal", "sagittal", "frontal", "lateral"]
_QUESTIONS = [
    "What imaging modality is used in this image?",
    "Which organ is shown in this {modality} image?",
    "What is the most likely diagnosis?",
    "What abnormality is seen in the {organ}?",
    "In which plane was this {modality} scan acquired?",
    "Is there evidence of {finding} in this image?",
    "Which of the following best describes the finding?",
    "What does this {modality} image of the {organ} show?",
]
_REASONS = [
    "The image shows the {organ} with {finding}.",
    "This looks like a {plane} {modality} scan of the {organ}.",
    "The {modality} appearance suggests {finding}.",
    "I can see {finding} in the {organ}, so the answer is {letter}.",
    "The texture and contrast are typical of {modality}.",
    "Option {letter} matches the visible features.",
]
_LETTERS = ["A", "B", "C", "D"]
_EXTRA_TEXT = """
The patient is a 45-year-old man with fever, cough and shortness of breath. Chest radiograph shows
bilateral opacities. A contrast-enhanced CT of the abdomen demonstrates a hypodense lesion in the right
lobe of the liver. Magnetic resonance imaging with T1-weighted, T2-weighted, FLAIR and diffusion-weighted
sequences reveals an enhancing mass in the left temporal lobe with surrounding vasogenic edema.
Ultrasound of the gallbladder shows gallstones with posterior acoustic shadowing and wall thickening.
Dermoscopy reveals an asymmetric pigmented lesion with irregular borders, multiple colors and an atypical
pigment network. Fundus photography shows microaneurysms, hard exudates, cotton wool spots and
neovascularization of the optic disc. Optical coherence tomography shows subretinal fluid and drusen.
Microscopy of the biopsy specimen stained with hematoxylin and eosin shows atypical cells with
hyperchromatic nuclei, increased mitoses and necrosis. Blood smear, cytology, immunohistochemistry.
Anatomy: skull, cerebellum, ventricle, artery, vein, aorta, trachea, bronchus, diaphragm, rib, vertebra,
femur, tibia, humerus, pelvis, bladder, prostate, uterus, ovary, adrenal gland, lymph node, esophagus.
Findings: consolidation, pneumothorax, emphysema, fibrosis, stenosis, aneurysm, thrombosis, embolism,
dilatation, obstruction, hernia, abscess, carcinoma, lymphoma, sarcoma, adenoma, benign, malignant,
acute, chronic, mild, moderate, severe, normal, abnormal, left, right, upper, lower, anterior, posterior,
medial, lateral, proximal, distal, enlarged, small, large, round, oval, irregular, well-defined, diffuse.
Question types: modality recognition, anatomy identification, disease diagnosis, lesion grading,
biological attribute analysis. Choose the correct option. Answer with the letter only. Let me think step
by step about the visual evidence before answering. Therefore the final answer is option A, B, C or D.
"""


def tiny_corpus(n_examples: int = 600) -> list[str]:
    """Return the synthetic medical-VQA text the tiny tokenizer is trained on (deterministic)."""
    rng = random.Random(1234)
    lines: list[str] = []
    for words in (_MODALITIES, _ORGANS, _FINDINGS, _PLANES, _FORMAT_TOKENS):
        lines.append(" ".join(words))
    lines.extend(line.strip() for line in _EXTRA_TEXT.strip().splitlines())
    lines.append("A) B) C) D) A. B. C. D. (A) (B) (C) (D) Answer: A B C D yes no 0 1 2 3 4 5 6 7 8 9 10 100")
    for _ in range(n_examples):
        fill = {
            "modality": rng.choice(_MODALITIES),
            "organ": rng.choice(_ORGANS),
            "finding": rng.choice(_FINDINGS),
            "plane": rng.choice(_PLANES),
            "letter": rng.choice(_LETTERS),
        }
        question = rng.choice(_QUESTIONS).format(**fill)
        pool = [m for m in _MODALITIES + _ORGANS + _FINDINGS if m != fill["modality"]]
        options = [fill["modality"], *rng.sample(pool, 3)]
        rng.shuffle(options)
        opts = " ".join(f"{letter}) {opt}" for letter, opt in zip(_LETTERS, options))
        reason = " ".join(r.format(**fill) for r in rng.sample(_REASONS, 2))
        lines.append(f"{question} Options: {opts}")
        lines.append(f"<think> {reason} </think> <answer> {fill['letter']} </answer>")
        lines.append(f"<think>{reason}</think><answer>{fill['letter']}) {options[0]}</answer>")
    return lines


# ---------------------------------------------------------------------------------------------
# Paths
# ---------------------------------------------------------------------------------------------


def default_tiny_vlm_dir(seed: int = 0) -> Path:
    """Directory ``build_tiny_vlm(seed=seed)`` uses when no path is given."""
    name = f"tiny-vlm-v{TINY_FORMAT_VERSION}"
    if seed != 0:
        name += f"-seed{seed}"
    return default_cache_dir() / name


def is_tiny_vlm_dir(path: str | Path, seed: int | None = None) -> bool:
    """True if *path* holds a complete tiny VLM built by this module (with *seed*, if given)."""
    marker = read_marker(Path(path), _MARKER)
    if not marker or marker.get("format") != TINY_FORMAT_VERSION:
        return False
    return seed is None or marker.get("seed") == seed


# ---------------------------------------------------------------------------------------------
# Building
# ---------------------------------------------------------------------------------------------


def _train_bpe(tok, special_tokens: list[str], vocab_size: int = _VOCAB_SIZE) -> None:
    """Train the empty byte-level BPE ``tokenizers.Tokenizer`` *tok* (pipeline already set) on
    :func:`tiny_corpus`, in place; *special_tokens* get the first ids. Shared with :mod:`.tiny_qwen`."""
    from tokenizers import AddedToken, pre_tokenizers, trainers

    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=1,
        special_tokens=[AddedToken(t, special=True, normalized=False) for t in special_tokens],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    # The format tags are added tokens, so strip them from the training text (they are single ids anyway).
    corpus = tiny_corpus()
    for tag in _FORMAT_TOKENS:
        corpus = [line.replace(tag, " ") for line in corpus]
    tok.train_from_iterator(corpus, trainer=trainer)


def _build_tokenizer():
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=None, fuse_unk=False, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    _train_bpe(tok, _SPECIAL_TOKENS)
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in _FORMAT_TOKENS])

    hf_tok = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=_BOS,
        eos_token=_EOS,
        pad_token=_PAD,
        unk_token=_UNK,
        extra_special_tokens={"image_token": _IMAGE},
        model_max_length=2048,
        padding_side="right",
        chat_template=TINY_CHAT_TEMPLATE,
        clean_up_tokenization_spaces=False,
    )
    return hf_tok


def _build_model(tokenizer, seed: int):
    import torch
    from transformers import (
        CLIPVisionConfig,
        GenerationConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
    )

    vocab_size = len(tokenizer)
    text_config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    vision_config = CLIPVisionConfig(
        image_size=TINY_IMAGE_SIZE,
        patch_size=_PATCH_SIZE,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        projection_dim=32,
    )
    config = LlavaConfig(
        vision_config=vision_config,
        text_config=text_config,
        image_token_index=tokenizer.convert_tokens_to_ids(_IMAGE),
        image_seq_length=TINY_NUM_IMAGE_TOKENS,
        vision_feature_select_strategy="default",  # drop CLS -> (32/8)^2 = 16 tokens
        vision_feature_layer=-1,  # use the last layer so every vision weight gets gradients
        projector_hidden_act="gelu",
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(config)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        max_new_tokens=64,
    )
    return model


def _build_processor(tokenizer):
    from transformers import CLIPImageProcessorPil, LlavaProcessor

    image_processor = CLIPImageProcessorPil(
        size={"shortest_edge": TINY_IMAGE_SIZE},
        crop_size={"height": TINY_IMAGE_SIZE, "width": TINY_IMAGE_SIZE},
    )
    return LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=_PATCH_SIZE,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,  # CLIP's CLS token
        chat_template=TINY_CHAT_TEMPLATE,
        image_token=_IMAGE,
    )


def build_tiny_vlm(path: str | Path | None = None, *, seed: int = 0) -> Path:
    """Build (or reuse) the tiny VLM + processor and return the directory holding them.

    *path* defaults to :func:`default_tiny_vlm_dir`. An existing complete build with the same *seed*
    is reused; one with another seed is replaced. The build is written to a temporary sibling
    directory (marker file last) and renamed into place (:func:`medr1_core.offline.cache.build_atomically`), so
    concurrent builders and interrupted builds never leave a half-written directory behind. A
    non-empty directory that was not built by this module is never touched (``FileExistsError``).
    """
    target = Path(path).expanduser() if path is not None else default_tiny_vlm_dir(seed)

    def build(tmp: Path) -> None:
        tokenizer = _build_tokenizer()
        processor = _build_processor(tokenizer)
        model = _build_model(tokenizer, seed)
        model.save_pretrained(tmp)
        processor.save_pretrained(tmp)
        marker = {
            "name": TINY_MODEL_NAME,
            "format": TINY_FORMAT_VERSION,
            "seed": seed,
            "num_parameters": sum(p.numel() for p in model.parameters()),
            "note": "Randomly initialised toy model for demos/tests/benchmarks. Not a real model.",
        }
        write_marker(tmp, _MARKER, marker)

    return build_atomically(
        target,
        build,
        is_complete=lambda p: is_tiny_vlm_dir(p, seed),
        is_ours=lambda p: read_marker(p, _MARKER) is not None,  # any build of this module, e.g. another seed
        what="a tiny medr1 model directory",
    )
