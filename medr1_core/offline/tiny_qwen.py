"""Tiny, randomly initialised Qwen2-VL / Qwen2.5-VL models, for tests and demos of the real target architecture.

Med-R1 trains Qwen2-VL-2B-Instruct. :mod:`medr1_core.offline.tiny` gives a toy LLaVA; this module gives a toy
with the *real* Qwen classes, so the code paths that matter for Qwen (M-RoPE position ids, dynamic
image resolution with ``pixel_values`` + ``image_grid_thw``, ``<|image_pad|>`` expansion, ChatML) run
in seconds on a CPU, offline::

    from transformers import AutoModelForImageTextToText, AutoProcessor
    path = build_tiny_qwen2vl()                                # version="2.5" for Qwen2.5-VL
    model = AutoModelForImageTextToText.from_pretrained(path)   # Qwen2VLForConditionalGeneration
    processor = AutoProcessor.from_pretrained(path)             # Qwen2VLProcessor

What it is (both versions):

* a ``Qwen2Tokenizer`` whose byte-level BPE (Qwen's pre-tokenizer regex and NFC normaliser) is trained
  with ``tokenizers`` on :func:`medr1_core.offline.tiny.tiny_corpus`; Qwen's special tokens (``<|endoftext|>``,
  ``<|im_start|>``, ``<|im_end|>``, ``<|vision_start|>``, ``<|vision_end|>``, ``<|image_pad|>``,
  ``<|video_pad|>``, ...) follow the BPE vocabulary as in the real one; ``<think>`` / ``</think>`` /
  ``<answer>`` / ``</answer>`` are ordinary added tokens as in :mod:`medr1_core.offline.tiny`. 1024 ids;
* Qwen2-VL's chat template, byte for byte (:data:`QWEN_CHAT_TEMPLATE`; TRL recognises it);
* a ``Qwen2VLForConditionalGeneration`` / ``Qwen2_5_VLForConditionalGeneration``: 2 text layers
  (hidden 64, 4 heads, 2 KV heads, head dim 16, M-RoPE sections ``[2, 3, 3]``), a 2-block vision
  tower (14-pixel patches, temporal patch 2, 2x2 patch merging; Qwen2.5's has one windowed and one
  full-attention block), tied embeddings; ~0.22M parameters;
* a ``Qwen2VLProcessor`` / ``Qwen2_5_VLProcessor`` whose image processor keeps images between
  :data:`TINY_QWEN_MIN_PIXELS` and :data:`TINY_QWEN_MAX_PIXELS` pixels, i.e. 4 to 16 image tokens.

transformers' Qwen2-VL processor needs torchvision (its video processor does), so the build is split:
:func:`build_tiny_qwen2vl_model` writes config, weights, tokenizer and chat template and needs no
torchvision; :func:`build_tiny_qwen2vl` adds the processor and raises ``ImportError`` without it.

It is NEVER a real model: its outputs are random until trained. Heavy libraries are imported inside
functions only, so importing this module is cheap.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import MissingDependency
from .cache import build_atomically, cache_dir, read_marker, write_marker
from .tiny import _FORMAT_TOKENS, _train_bpe

__all__ = [
    "TINY_QWEN_FORMAT_VERSION",
    "TINY_QWEN_VERSIONS",
    "TINY_QWEN_PATCH_SIZE",
    "TINY_QWEN_MERGE_SIZE",
    "TINY_QWEN_TEMPORAL_PATCH_SIZE",
    "TINY_QWEN_MIN_PIXELS",
    "TINY_QWEN_MAX_PIXELS",
    "QWEN_SPECIAL_TOKENS",
    "QWEN_CHAT_TEMPLATE",
    "TORCHVISION_MISSING",
    "require_torchvision",
    "default_tiny_qwen_dir",
    "is_tiny_qwen_dir",
    "build_tiny_qwen2vl_model",
    "build_tiny_qwen2vl",
]

#: Bump when the produced artefact changes; it is part of the default directory name.
TINY_QWEN_FORMAT_VERSION = 1
#: ``version=`` values: Qwen2-VL and Qwen2.5-VL.
TINY_QWEN_VERSIONS = ("2", "2.5")
#: Vision patch side in pixels, as in the real models.
TINY_QWEN_PATCH_SIZE = 14
#: Patches merged (per side) into one LLM token: 2x2 patches -> 1 ``<|image_pad|>``.
TINY_QWEN_MERGE_SIZE = 2
#: Frames per temporal patch; a still image is repeated to fill it.
TINY_QWEN_TEMPORAL_PATCH_SIZE = 2
_FACTOR = TINY_QWEN_PATCH_SIZE * TINY_QWEN_MERGE_SIZE  # 28: image sides are resized to multiples of this
#: Fewest pixels an image is resized to: 56x56 -> 4x4 patches -> 4 image tokens.
TINY_QWEN_MIN_PIXELS = _FACTOR * _FACTOR * 4
#: Most pixels an image is resized to: 112x112 -> 8x8 patches -> 16 image tokens.
TINY_QWEN_MAX_PIXELS = _FACTOR * _FACTOR * 16

#: Qwen2-VL's special tokens, in the real tokenizer's order (they follow the BPE vocabulary).
QWEN_SPECIAL_TOKENS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>",
    "<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>", "<|box_end|>",
    "<|quad_start|>", "<|quad_end|>",
    "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>",
]  # fmt: skip
_TOTAL_VOCAB = 1024  # BPE merges fill what the special and format tokens leave

#: Qwen2-VL-Instruct's (and Qwen2.5-VL-Instruct's, identical) chat template: ChatML with a default
#: system prompt; an image part becomes ``<|vision_start|><|image_pad|><|vision_end|>``, which the
#: processor expands to one ``<|image_pad|>`` per merged patch.
QWEN_CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}<|im_start|>system\n"
    "You are a helpful assistant.<|im_end|>\n"
    "{% endif %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}"
    "{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}"
    "{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n"
    "{% endif %}"
)

#: The message :func:`require_torchvision` raises when torchvision is not installed.
TORCHVISION_MISSING = "Qwen2-VL's processor needs torchvision, which is not installed: pip install torchvision"

_MARKER = ".medr1-tiny-qwen-complete.json"


def require_torchvision() -> None:
    """Raise ``ImportError`` with an actionable message unless transformers can use torchvision."""
    try:
        import torchvision  # noqa: F401
    except ModuleNotFoundError as exc:
        raise MissingDependency(TORCHVISION_MISSING) from exc
    except Exception as exc:  # installed but broken, e.g. built for another torch
        raise MissingDependency(f"Qwen2-VL's processor needs torchvision, which is installed but fails to import: {exc}") from exc
    from transformers.utils import is_torchvision_available

    if not is_torchvision_available():
        raise MissingDependency("Qwen2-VL's processor needs torchvision, but transformers does not see it as available")


def _check_version(version: str | float) -> str:
    version = str(version)
    if version not in TINY_QWEN_VERSIONS:
        raise ValueError(f"version must be one of {', '.join(TINY_QWEN_VERSIONS)} (Qwen2-VL, Qwen2.5-VL), got {version!r}")
    return version


# ---------------------------------------------------------------------------------------------
# Paths
# ---------------------------------------------------------------------------------------------


def default_tiny_qwen_dir(version: str = "2", seed: int = 0) -> Path:
    """Directory the builders use when no path is given (under :func:`medr1_core.offline.cache.cache_dir`)."""
    name = f"tiny-qwen{_check_version(version)}-vl-v{TINY_QWEN_FORMAT_VERSION}"
    if seed != 0:
        name += f"-seed{seed}"
    return cache_dir() / name


def is_tiny_qwen_dir(
    path: str | Path, *, version: str | None = None, seed: int | None = None, processor: bool | None = None
) -> bool:
    """True if *path* holds a complete build of this module (of *version*, with *seed*, and -- if
    *processor* is true -- with the processor; ``processor=False`` accepts either kind)."""
    marker = read_marker(Path(path), _MARKER)
    if not marker or marker.get("format") != TINY_QWEN_FORMAT_VERSION:
        return False
    if version is not None and marker.get("version") != _check_version(version):
        return False
    if seed is not None and marker.get("seed") != seed:
        return False
    return not processor or bool(marker.get("processor"))


# ---------------------------------------------------------------------------------------------
# Parts
# ---------------------------------------------------------------------------------------------


def _build_tokenizer():
    """A ``Qwen2Tokenizer`` (Qwen's pre-tokenizer and normaliser) over a BPE trained on the tiny corpus."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from transformers import Qwen2Tokenizer
    from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

    bpe = Tokenizer(models.BPE(unk_token=None, fuse_unk=False, byte_fallback=False))
    bpe.normalizer = normalizers.NFC()
    bpe.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    bpe.decoder = decoders.ByteLevel()
    _train_bpe(bpe, [], vocab_size=_TOTAL_VOCAB - len(QWEN_SPECIAL_TOKENS) - len(_FORMAT_TOKENS))
    trained = json.loads(bpe.to_str())["model"]
    vocab = dict(trained["vocab"])  # special tokens follow the BPE vocabulary in the real order:
    vocab.update({token: len(trained["vocab"]) + i for i, token in enumerate(QWEN_SPECIAL_TOKENS)})

    tokenizer = Qwen2Tokenizer(
        vocab=vocab,
        merges=[tuple(m) for m in trained["merges"]],
        unk_token=None,
        bos_token=None,
        eos_token="<|im_end|>",  # the Instruct models' tokenizers end turns with <|im_end|>
        pad_token="<|endoftext|>",
        extra_special_tokens=QWEN_SPECIAL_TOKENS,
        model_max_length=4096,
        clean_up_tokenization_spaces=False,
        chat_template=QWEN_CHAT_TEMPLATE,
    )
    tokenizer.add_tokens([AddedToken(t, special=False, normalized=False) for t in _FORMAT_TOKENS])
    return tokenizer


def _token_id(tokenizer, token: str) -> int:
    token_id = tokenizer.convert_tokens_to_ids(token)
    if token_id is None or tokenizer.convert_ids_to_tokens(token_id) != token:
        raise RuntimeError(f"tiny Qwen tokenizer lacks {token}")  # a bug in this module, not user input
    return token_id


def _build_config(tokenizer, version: str):
    from transformers import Qwen2_5_VLConfig, Qwen2VLConfig

    text_config = {
        "vocab_size": len(tokenizer),
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,  # head_dim 16: rotary over 8 frequencies ...
        "num_key_value_heads": 2,
        "max_position_embeddings": 4096,
        # ... split into (temporal, height, width) sections; they must sum to head_dim / 2
        "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [2, 3, 3]},
        "bos_token_id": _token_id(tokenizer, "<|endoftext|>"),
        "eos_token_id": _token_id(tokenizer, "<|im_end|>"),
        "pad_token_id": _token_id(tokenizer, "<|endoftext|>"),
    }
    vision_common = {
        "depth": 2,
        "num_heads": 2,  # head_dim 16: axial 2D rotary needs a multiple of 4
        "in_channels": 3,
        "patch_size": TINY_QWEN_PATCH_SIZE,
        "spatial_merge_size": TINY_QWEN_MERGE_SIZE,
        "temporal_patch_size": TINY_QWEN_TEMPORAL_PATCH_SIZE,
    }
    tokens = {
        "image_token_id": _token_id(tokenizer, "<|image_pad|>"),
        "video_token_id": _token_id(tokenizer, "<|video_pad|>"),
        "vision_start_token_id": _token_id(tokenizer, "<|vision_start|>"),
        "vision_end_token_id": _token_id(tokenizer, "<|vision_end|>"),
    }
    if version == "2":
        # Qwen2-VL: embed_dim is the ViT width, hidden_size the merger's output (= the LLM's width).
        vision_config = {**vision_common, "embed_dim": 32, "hidden_size": 64, "mlp_ratio": 2}
        return Qwen2VLConfig(text_config=text_config, vision_config=vision_config, tie_word_embeddings=True, **tokens)
    # Qwen2.5-VL: hidden_size is the ViT width, out_hidden_size the merger's output; window attention
    # in every block except those in fullatt_block_indexes (112-pixel windows = 4x4 merged patches).
    vision_config = {
        **vision_common,
        "hidden_size": 32,
        "intermediate_size": 64,
        "out_hidden_size": 64,
        "window_size": 112,
        "fullatt_block_indexes": [1],
        "tokens_per_second": 2,
    }
    return Qwen2_5_VLConfig(text_config=text_config, vision_config=vision_config, tie_word_embeddings=True, **tokens)


def _build_model(tokenizer, version: str, seed: int):
    import torch
    from transformers import GenerationConfig, Qwen2_5_VLForConditionalGeneration, Qwen2VLForConditionalGeneration

    config = _build_config(tokenizer, version)
    model_class = Qwen2VLForConditionalGeneration if version == "2" else Qwen2_5_VLForConditionalGeneration
    torch.manual_seed(seed)
    model = model_class(config)
    end_of_text, end_of_turn = _token_id(tokenizer, "<|endoftext|>"), _token_id(tokenizer, "<|im_end|>")
    model.generation_config = GenerationConfig(  # as the Instruct checkpoints' generation_config.json
        bos_token_id=end_of_text,
        eos_token_id=[end_of_turn, end_of_text],
        pad_token_id=end_of_text,
        max_new_tokens=64,
    )
    return model


def _build_processor(tokenizer, version: str):
    from transformers import Qwen2_5_VLProcessor, Qwen2VLImageProcessor, Qwen2VLProcessor, Qwen2VLVideoProcessor

    patching = {
        "patch_size": TINY_QWEN_PATCH_SIZE,
        "temporal_patch_size": TINY_QWEN_TEMPORAL_PATCH_SIZE,
        "merge_size": TINY_QWEN_MERGE_SIZE,
    }
    size = {"shortest_edge": TINY_QWEN_MIN_PIXELS, "longest_edge": TINY_QWEN_MAX_PIXELS}
    image_processor = Qwen2VLImageProcessor(size=size, **patching)
    # Per-frame limits for videos; frames are capped like the reference implementation (qwen-vl-utils).
    video_processor = Qwen2VLVideoProcessor(size=size, cap_pixels_per_frame=True, **patching)
    processor_class = Qwen2VLProcessor if version == "2" else Qwen2_5_VLProcessor
    return processor_class(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=video_processor,
        chat_template=QWEN_CHAT_TEMPLATE,
    )


# ---------------------------------------------------------------------------------------------
# Building
# ---------------------------------------------------------------------------------------------


def _build(path: str | Path | None, seed: int, version: str | float, with_processor: bool) -> Path:
    version = _check_version(version)
    target = Path(path).expanduser() if path is not None else default_tiny_qwen_dir(version, seed)

    def build(tmp: Path) -> None:
        tokenizer = _build_tokenizer()
        model = _build_model(tokenizer, version, seed)
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        if with_processor:
            _build_processor(tokenizer, version).save_pretrained(tmp)
        marker = {
            "name": f"tiny-qwen{version}-vl",
            "format": TINY_QWEN_FORMAT_VERSION,
            "version": version,
            "seed": seed,
            "processor": with_processor,
            "architecture": type(model).__name__,
            "num_parameters": sum(p.numel() for p in model.parameters()),
            "note": "Randomly initialised toy model for demos/tests/benchmarks. Not a real model.",
        }
        write_marker(tmp, _MARKER, marker)

    return build_atomically(
        target,
        build,
        is_complete=lambda p: is_tiny_qwen_dir(p, version=version, seed=seed, processor=with_processor),
        is_ours=lambda p: read_marker(p, _MARKER) is not None,  # any build of this module: replaced if it does not fit
        what="a tiny medr1 Qwen model directory",
    )


def build_tiny_qwen2vl_model(path: str | Path | None = None, *, seed: int = 0, version: str = "2") -> Path:
    """Build (or reuse) the tiny Qwen2-VL's config, weights, tokenizer and chat template; no processor.

    Needs no torchvision: load it with ``AutoModelForImageTextToText`` and ``AutoTokenizer`` and feed
    ``pixel_values`` / ``image_grid_thw`` / ``mm_token_type_ids`` made by hand. *version* is ``"2"``
    (Qwen2-VL) or ``"2.5"`` (Qwen2.5-VL). *path* defaults to :func:`default_tiny_qwen_dir`; a complete
    build there (with or without processor) of the same version and seed is reused. Writes are
    atomic, as for :func:`medr1_core.offline.tiny.build_tiny_vlm`.
    """
    return _build(path, seed, version, with_processor=False)


def build_tiny_qwen2vl(path: str | Path | None = None, *, seed: int = 0, version: str = "2") -> Path:
    """Build (or reuse) the tiny Qwen2-VL (or, ``version="2.5"``, Qwen2.5-VL) with its processor.

    The directory loads with ``AutoModelForImageTextToText`` / ``AutoProcessor``. Raises
    ``ImportError`` (:data:`TORCHVISION_MISSING`) before writing anything if torchvision is not
    installed, since transformers' Qwen2-VL processor needs it. Same *path* / reuse rules as
    :func:`build_tiny_qwen2vl_model`; a model-only build there is replaced by a full one.
    """
    _check_version(version)
    require_torchvision()
    return _build(path, seed, version, with_processor=True)
