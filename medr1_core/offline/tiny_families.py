"""Tiny, randomly initialised models of the other VLM families TRL's GRPO trains: Qwen3-VL, SmolVLM
(Idefics3's successor), Gemma 3 and LLaVA-OneVision. Built offline, deterministically, with the real
architecture classes, and cached like :mod:`medr1_core.offline.tiny_qwen`::

    path = build_tiny_family("gemma3")                          # or --model tiny-gemma3
    model = AutoModelForImageTextToText.from_pretrained(path)   # Gemma3ForConditionalGeneration
    processor = AutoProcessor.from_pretrained(path)             # Gemma3Processor

Each one is the tiny Qwen tokenizer (:func:`medr1_core.offline.tiny_qwen._build_tokenizer`: byte-level
BPE trained on the tiny corpus, ChatML, ``<think>``/``<answer>`` as single tokens) plus the family's
own image tokens, registered under the names its processor looks for (``boi_token``,
``image_token``, ...); a ChatML chat template whose image part is the family's placeholder; a
2-layer text model (hidden 64) and a 2-layer vision tower (hidden 32) of the family's classes;
and the family's processor, with images of 32x32 pixels (Qwen3-VL: 64 to 256 pixels a side by
pixel count, 16-pixel patches). 0.18M-0.26M parameters. NEVER a real model: random until trained.

The video processors these processors carry need torchvision (:func:`tiny_qwen.require_torchvision`);
SmolVLM's processor needs ``num2words`` (transformers says so when it is missing).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .cache import build_atomically, cache_dir, read_marker, write_marker

__all__ = ["TINY_FAMILIES", "TINY_FAMILY_FORMAT_VERSION", "build_tiny_family", "default_tiny_family_dir"]

#: Bump when the produced artefacts change; it is part of the default directory name.
TINY_FAMILY_FORMAT_VERSION = 1
_MARKER = ".medr1-tiny-family-complete.json"
_TEXT = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
         "num_key_value_heads": 2, "max_position_embeddings": 4096}
_VISION = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
           "image_size": 32, "patch_size": 8}


def _tokenizer(named: dict[str, str]):
    """The tiny Qwen tokenizer with the family's image tokens, as special tokens under their names."""
    from .tiny_qwen import _build_tokenizer

    tokenizer = _build_tokenizer()
    tokenizer.add_tokens(list(named.values()), special_tokens=True)
    tokenizer._set_model_specific_special_tokens(special_tokens=named)  # tokenizer.boi_token, ... (saved too)
    return tokenizer


def _ids(tokenizer, *tokens: str) -> list[int]:
    from .tiny_qwen import _token_id

    return [_token_id(tokenizer, t) for t in tokens]


def _text_ids(tokenizer) -> dict[str, int]:
    end_of_text, end_of_turn = _ids(tokenizer, "<|endoftext|>", "<|im_end|>")
    return {"bos_token_id": end_of_text, "eos_token_id": end_of_turn, "pad_token_id": end_of_text}


def _template(image: str, video: str | None = None) -> str:
    """Qwen's ChatML template with the family's image (and video) placeholder."""
    from .tiny_qwen import QWEN_CHAT_TEMPLATE

    template = QWEN_CHAT_TEMPLATE.replace("<|vision_start|><|image_pad|><|vision_end|>", image)
    return template.replace("<|vision_start|><|video_pad|><|vision_end|>", video or image)


def _qwen3_vl():
    from transformers import Qwen2VLImageProcessor, Qwen3VLConfig, Qwen3VLForConditionalGeneration, Qwen3VLProcessor
    from transformers.models.qwen3_vl.video_processing_qwen3_vl import Qwen3VLVideoProcessor

    from .tiny_qwen import QWEN_CHAT_TEMPLATE, _build_tokenizer

    tokenizer = _build_tokenizer()  # Qwen3-VL keeps Qwen2-VL's special tokens
    image, video, start, end = _ids(tokenizer, "<|image_pad|>", "<|video_pad|>", "<|vision_start|>", "<|vision_end|>")
    text = {**_TEXT, **_text_ids(tokenizer), "vocab_size": len(tokenizer), "head_dim": 16,
            "rope_parameters": {"rope_type": "default", "rope_theta": 1e6, "mrope_section": [2, 3, 3],
                                "mrope_interleaved": True}}
    vision = {"depth": 2, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2, "patch_size": 16,
              "spatial_merge_size": 2, "temporal_patch_size": 2, "out_hidden_size": 64, "num_position_embeddings": 64,
              "deepstack_visual_indexes": [1]}
    config = Qwen3VLConfig(text_config=text, vision_config=vision, image_token_id=image, video_token_id=video,
                           vision_start_token_id=start, vision_end_token_id=end, tie_word_embeddings=True)
    patching = {"patch_size": 16, "temporal_patch_size": 2, "merge_size": 2}
    size = {"shortest_edge": 32 * 32 * 4, "longest_edge": 32 * 32 * 16}  # 4 to 16 image tokens
    processor = Qwen3VLProcessor(image_processor=Qwen2VLImageProcessor(size=size, **patching), tokenizer=tokenizer,
                                 video_processor=Qwen3VLVideoProcessor(size=size, **patching),
                                 chat_template=QWEN_CHAT_TEMPLATE)
    return Qwen3VLForConditionalGeneration, config, processor


def _smolvlm():
    from transformers import SmolVLMConfig, SmolVLMForConditionalGeneration, SmolVLMImageProcessor, SmolVLMProcessor
    from transformers.models.smolvlm.video_processing_smolvlm import SmolVLMVideoProcessor

    tokenizer = _tokenizer({"fake_image_token": "<fake_token_around_image>", "image_token": "<image>",
                            "end_of_utterance_token": "<end_of_utterance>", "global_image_token": "<global-img>",
                            "video_token": "<video>"})
    ids = _text_ids(tokenizer)
    text = {**_TEXT, **ids, "model_type": "llama", "vocab_size": len(tokenizer), "tie_word_embeddings": True}
    config = SmolVLMConfig(text_config=text, vision_config=_VISION, scale_factor=2, tie_word_embeddings=True,
                           image_token_id=_ids(tokenizer, "<image>")[0], pad_token_id=ids["pad_token_id"])
    edge = {"longest_edge": 32}  # one 32x32 tile per image (no splitting): 16 patches -> 4 tokens
    processor = SmolVLMProcessor(
        image_processor=SmolVLMImageProcessor(do_image_splitting=False, size=edge, max_image_size=edge),
        tokenizer=tokenizer, video_processor=SmolVLMVideoProcessor(size=edge, max_image_size=edge),
        image_seq_len=4, chat_template=_template("<image>"),
    )
    return SmolVLMForConditionalGeneration, config, processor


def _gemma3():
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration, Gemma3ImageProcessor, Gemma3Processor

    tokenizer = _tokenizer({"boi_token": "<start_of_image>", "eoi_token": "<end_of_image>",
                            "image_token": "<image_soft_token>"})
    boi, eoi, image = _ids(tokenizer, "<start_of_image>", "<end_of_image>", "<image_soft_token>")
    text = {**_TEXT, **_text_ids(tokenizer), "vocab_size": len(tokenizer), "head_dim": 16, "query_pre_attn_scalar": 16,
            "sliding_window": 64, "layer_types": ["sliding_attention", "full_attention"]}
    config = Gemma3Config(text_config=text, vision_config={**_VISION, "vision_use_head": False}, mm_tokens_per_image=4,
                          boi_token_index=boi, eoi_token_index=eoi, image_token_index=image, tie_word_embeddings=True)
    processor = Gemma3Processor(image_processor=Gemma3ImageProcessor(size={"height": 32, "width": 32}),
                                tokenizer=tokenizer, image_seq_length=4, chat_template=_template("<start_of_image>"))
    return Gemma3ForConditionalGeneration, config, processor


def _llava_onevision():
    from transformers import (LlavaOnevisionConfig, LlavaOnevisionForConditionalGeneration,
                              LlavaOnevisionImageProcessor, LlavaOnevisionProcessor, LlavaOnevisionVideoProcessor)

    tokenizer = _tokenizer({"image_token": "<image>", "video_token": "<video>"})
    image, video = _ids(tokenizer, "<image>", "<video>")
    text = {**_TEXT, **_text_ids(tokenizer), "model_type": "qwen2", "vocab_size": len(tokenizer),
            "tie_word_embeddings": True}
    pinpoints = [[32, 32], [32, 64], [64, 32], [64, 64]]  # any-resolution tiles of 32x32
    config = LlavaOnevisionConfig(
        text_config=text, vision_config={**_VISION, "model_type": "siglip_vision_model"}, image_token_id=image,
        video_token_id=video, vision_feature_select_strategy="full", vision_feature_layer=-1,
        vision_aspect_ratio="anyres_max_9", image_grid_pinpoints=pinpoints, tie_word_embeddings=True,
    )
    square = {"height": 32, "width": 32}
    processor = LlavaOnevisionProcessor(
        image_processor=LlavaOnevisionImageProcessor(size=square, crop_size=square, image_grid_pinpoints=pinpoints),
        tokenizer=tokenizer, video_processor=LlavaOnevisionVideoProcessor(size=square), num_image_tokens=16,
        vision_feature_select_strategy="full", chat_template=_template("<image>\n", "<video>\n"),
        image_token="<image>", video_token="<video>",
    )
    return LlavaOnevisionForConditionalGeneration, config, processor


#: ``--model tiny-<name>`` -> the builder of (model class, config, processor).
TINY_FAMILIES: dict[str, Callable] = {
    "qwen3-vl": _qwen3_vl,
    "smolvlm": _smolvlm,
    "gemma3": _gemma3,
    "llava-onevision": _llava_onevision,
}


def _check_family(family: str) -> str:
    if family not in TINY_FAMILIES:
        raise ValueError(f"family must be one of {', '.join(TINY_FAMILIES)}, got {family!r}")
    return family


def default_tiny_family_dir(family: str, seed: int = 0) -> Path:
    """Where :func:`build_tiny_family` builds when no path is given (under the medr1 cache)."""
    name = f"tiny-{_check_family(family)}-v{TINY_FAMILY_FORMAT_VERSION}" + (f"-seed{seed}" if seed else "")
    return cache_dir() / name


def _is_complete(path: Path, family: str, seed: int) -> bool:
    marker = read_marker(path, _MARKER) or {}
    return (marker.get("format"), marker.get("family"), marker.get("seed")) == (TINY_FAMILY_FORMAT_VERSION, family, seed)


def build_tiny_family(family: str, path: str | Path | None = None, *, seed: int = 0) -> Path:
    """Build (or reuse) the tiny model of ``family`` (a key of :data:`TINY_FAMILIES`) with its processor.

    The directory loads with ``AutoModelForImageTextToText`` / ``AutoProcessor``; written atomically
    (:func:`medr1_core.offline.cache.build_atomically`). Needs torchvision, like Qwen2-VL's processor.
    """
    import torch
    from transformers import GenerationConfig

    from .tiny_qwen import require_torchvision

    family = _check_family(family)
    require_torchvision()
    target = Path(path).expanduser() if path is not None else default_tiny_family_dir(family, seed)

    def build(tmp: Path) -> None:
        model_class, config, processor = TINY_FAMILIES[family]()
        torch.manual_seed(seed)
        model = model_class(config)
        ids = _text_ids(processor.tokenizer)
        model.generation_config = GenerationConfig(bos_token_id=ids["bos_token_id"], pad_token_id=ids["pad_token_id"],
                                                   eos_token_id=[ids["eos_token_id"], ids["bos_token_id"]],
                                                   max_new_tokens=64)
        model.save_pretrained(tmp)
        processor.save_pretrained(tmp)
        write_marker(tmp, _MARKER, {
            "name": f"tiny-{family}", "family": family, "format": TINY_FAMILY_FORMAT_VERSION, "seed": seed,
            "architecture": type(model).__name__, "processor": type(processor).__name__,
            "num_parameters": sum(p.numel() for p in model.parameters()),
            "note": "Randomly initialised toy model for demos/tests/benchmarks. Not a real model.",
        })

    return build_atomically(target, build, is_complete=lambda p: _is_complete(p, family, seed),
                            is_ours=lambda p: read_marker(p, _MARKER) is not None,
                            what="a tiny medr1 model directory")
