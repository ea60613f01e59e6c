"""Finding and loading a vision-language model from what a user typed.

``--model`` takes a hub id (``Qwen/Qwen2-VL-2B-Instruct``), a local model
directory, a run directory or checkpoint written by ``medr1 train``, or
``tiny`` (the offline tiny LLaVA-style VLM of :mod:`medr1_core.offline.tiny`, pretrained
offline by :mod:`medr1_core.offline.pretrain`), ``tiny-random`` (the same, untrained), or
``tiny-qwen2-vl`` / ``tiny-qwen2.5-vl`` (tiny random models with the real Qwen
architectures, :mod:`medr1_core.offline.tiny_qwen`), or ``tiny-qwen3-vl``, ``tiny-smolvlm``,
``tiny-gemma3``, ``tiny-llava-onevision`` (:mod:`medr1_core.offline.tiny_families`). Loading is always the
real thing: ``AutoModelForImageTextToText`` / ``AutoProcessor`` ``from_pretrained``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError
from .run_dir import CONFIG as RUN_CONFIG
from .run_dir import FINAL_MODEL_DIR

TINY_QWEN_NAMES = {"tiny-qwen2-vl": "2", "tiny-qwen2.5-vl": "2.5"}


class ModelNotFoundError(UsageError, FileNotFoundError):
    """``--model`` names no model that can be loaded; the message says what was looked for."""


@dataclass(frozen=True)
class ResolvedModel:
    """Where to load a model from, and what the run that made it used."""

    source: str
    """A hub id or a local directory for ``from_pretrained``."""
    variant: str | None = None
    """The prompt variant the model was trained with, when a medr1 run says so."""
    run_dir: Path | None = None
    prompt_set: str | None = None
    """The prompt set the model was trained with, when a medr1 run says so."""


def _tiny_families():
    from ..offline.tiny_families import TINY_FAMILIES

    return TINY_FAMILIES


def tiny_model_names() -> list[str]:
    """Every ``--model tiny*`` name: ``tiny``, ``tiny-random``, ``tiny-qwen2-vl``, ``tiny-qwen2.5-vl``, ``tiny-<family>``."""
    return ["tiny", "tiny-random", *TINY_QWEN_NAMES, *(f"tiny-{f}" for f in _tiny_families())]


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The highest-numbered *complete* ``checkpoint-N`` of ``run_dir`` (one a kill cut short is passed over)."""
    from .run_dir import latest_complete_checkpoint

    return latest_complete_checkpoint(run_dir)


def _run_setting(run_dir: Path, key: str) -> str | None:
    from ..files import read_yaml_mapping

    config = run_dir / RUN_CONFIG
    if not config.is_file():
        return None
    return read_yaml_mapping(config, "run config").get(key)


def _run_variant(run_dir: Path) -> str | None:
    return _run_setting(run_dir, "variant")


def resolve_model(spec: str) -> ResolvedModel:
    """Turn a ``--model`` value into something ``from_pretrained`` can load.

    A run directory resolves to its final model, else its latest checkpoint; a
    checkpoint inside a run directory carries the run's prompt variant.
    """
    from ..offline.tiny import TINY_MODEL_NAME, TINY_RANDOM_NAME, build_tiny_vlm

    if spec == TINY_MODEL_NAME:
        from ..offline.pretrain import build_pretrained_tiny_vlm

        return ResolvedModel(str(build_pretrained_tiny_vlm()))
    if spec == TINY_RANDOM_NAME:
        return ResolvedModel(str(build_tiny_vlm()))
    if spec in TINY_QWEN_NAMES:
        from ..offline.tiny_qwen import build_tiny_qwen2vl

        return ResolvedModel(str(build_tiny_qwen2vl(version=TINY_QWEN_NAMES[spec])))
    if spec.startswith("tiny-") and spec.removeprefix("tiny-") in _tiny_families():
        from ..offline.tiny_families import build_tiny_family

        return ResolvedModel(str(build_tiny_family(spec.removeprefix("tiny-"))))
    path = Path(spec).expanduser()
    if spec.startswith("tiny-") and not path.exists():
        import difflib

        names = tiny_model_names()
        close = difflib.get_close_matches(spec, names, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ModelNotFoundError(f"--model {spec}: no tiny model of that name; {hint}the tiny models: {', '.join(names)}")
    if not path.exists():
        if spec.startswith((".", "/", "~")) or spec.count("/") > 1:
            raise ModelNotFoundError(f"--model {spec}: no such directory (and not a hub id like 'org/name')")
        return ResolvedModel(spec)  # a hub id
    if (path / RUN_CONFIG).is_file():  # a medr1 run directory
        variant = _run_variant(path)
        final = path / FINAL_MODEL_DIR
        prompt_set = _run_setting(path, "prompt_set")
        if (final / "config.json").is_file():
            check_model_config(final)
            return ResolvedModel(str(final), variant, path, prompt_set)
        checkpoint = latest_checkpoint(path)
        if checkpoint is None:
            raise ModelNotFoundError(
                f"--model {spec}: a medr1 run directory with no final model and no complete checkpoint-N")
        check_model_config(checkpoint)
        return ResolvedModel(str(checkpoint), variant, path, prompt_set)
    if not (path / "config.json").is_file():
        raise ModelNotFoundError(f"--model {spec}: {path} has no config.json (not a model directory)")
    check_model_config(path)
    parent = path.parent
    variant = _run_variant(parent) if (parent / RUN_CONFIG).is_file() else None
    prompt_set = _run_setting(parent, "prompt_set") if variant else None
    return ResolvedModel(str(path), variant, parent if variant else None, prompt_set)


def check_model_config(path: Path) -> None:
    """A model folder's ``config.json`` must be a JSON object; else one line naming the file and the problem."""
    import json

    config = Path(path) / "config.json"
    try:
        data = json.loads(config.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ModelNotFoundError(f"{config}: not UTF-8 text (byte {exc.start + 1}); a model's config.json is JSON") from None
    except ValueError as exc:
        where = f" (line {exc.lineno}, column {exc.colno})" if hasattr(exc, "lineno") else ""
        raise ModelNotFoundError(f"{config}: not valid JSON{where}: {getattr(exc, 'msg', exc)}") from None
    except OSError as exc:
        raise ModelNotFoundError(f"{config}: cannot be read: {exc.strerror or exc}") from None
    if not isinstance(data, dict):
        raise ModelNotFoundError(f"{config}: expected a JSON object of model settings, got {type(data).__name__}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def from_pretrained_kwargs(options=None, *, dtype: str | None = None, training: bool = False) -> dict:
    """``from_pretrained`` keyword arguments from ``model:`` options (:class:`~medr1_core.train.config.ModelSettings`).

    ``dtype`` (an explicit ``--dtype``) wins over ``options.dtype``. Unset, training loads float32
    master weights -- transformers >= 5 would keep a bf16 checkpoint in bf16, and AdamW updates
    at Med-R1's learning rate are mostly lost in bf16 -- as TRL does for a model id; mixed
    precision then comes from ``bf16:``. Evaluation keeps transformers' choice.
    """
    kwargs: dict = {}
    dtype = dtype or getattr(options, "dtype", None) or ("float32" if training else None)
    if dtype:
        kwargs["dtype"] = dtype
    for key in ("attn_implementation", "revision"):
        if getattr(options, key, None):
            kwargs[key] = getattr(options, key)
    if getattr(options, "trust_remote_code", False):
        kwargs["trust_remote_code"] = True
    return kwargs


def check_model_options(options) -> None:
    """What ``model:`` asks for can be had here (checked before anything loads); else a one-line error."""
    from ..errors import MissingDependency

    attn = getattr(options, "attn_implementation", None)
    if attn in ("flash_attention_2", "flash_attention_3"):
        from transformers.utils import is_flash_attn_2_available, is_flash_attn_3_available

        available = is_flash_attn_2_available() if attn == "flash_attention_2" else is_flash_attn_3_available()
        if not available:
            package = "flash-attn" if attn == "flash_attention_2" else "flash-attn-3"
            raise MissingDependency(f"model.attn_implementation {attn}: needs the {package} package and a CUDA GPU "
                                    f"(pip install {package}); or use sdpa")


def _is_pixel_count_processor(image_processor) -> bool:
    """Qwen-VL-style image processors resize by pixel count: ``size`` holds ``shortest_edge`` / ``longest_edge``
    as the fewest / most pixels, and patches are merged (``merge_size``)."""
    size = getattr(image_processor, "size", None)
    return (hasattr(image_processor, "merge_size") and size is not None
            and _edge(size, "shortest_edge") is not None and _edge(size, "longest_edge") is not None)


def _edge(size, key: str):
    """``size[key]`` of a ``dict`` or transformers' ``SizeDict`` (a dataclass)."""
    return size.get(key) if isinstance(size, dict) else getattr(size, key, None)


def _with_edges(size, limits: dict):
    import dataclasses

    return dataclasses.replace(size, **limits) if dataclasses.is_dataclass(size) else {**size, **limits}


def apply_pixel_limits(processor, options, source: str) -> None:
    """Set ``model.min_pixels`` / ``max_pixels`` on a Qwen-VL-family processor (its image and video processors)."""
    from ..errors import ConfigError

    limits = {"shortest_edge": getattr(options, "min_pixels", None), "longest_edge": getattr(options, "max_pixels", None)}
    limits = {k: v for k, v in limits.items() if v is not None}
    if not limits:
        return
    image_processor = getattr(processor, "image_processor", None)
    if not _is_pixel_count_processor(image_processor):
        fields = " and ".join(f"model.{'min' if k == 'shortest_edge' else 'max'}_pixels" for k in limits)
        raise ConfigError(f"{fields}: applies to Qwen-VL-family processors (they resize images by pixel count); "
                          f"{source} has a {type(image_processor).__name__}, which does not")
    size = _with_edges(image_processor.size, limits)
    if _edge(size, "shortest_edge") > _edge(size, "longest_edge"):
        raise ConfigError(f"model.min_pixels ({_edge(size, 'shortest_edge')}) is above model.max_pixels "
                          f"({_edge(size, 'longest_edge')}) with {source}'s processor")
    image_processor.size = size
    video = getattr(processor, "video_processor", None)
    if video is not None and _is_pixel_count_processor(video):
        video.size = _with_edges(video.size, limits)


def load_processor(source: str, options=None):
    """``AutoProcessor.from_pretrained(source)`` padding on the left, with ``model:``'s revision,
    trust_remote_code and pixel limits; one-line :class:`ModelNotFoundError` when it cannot be loaded."""
    from transformers import AutoProcessor

    kwargs = {k: v for k, v in from_pretrained_kwargs(options).items() if k in ("revision", "trust_remote_code")}
    if Path(source).is_dir():
        check_model_config(Path(source))
    try:
        processor = AutoProcessor.from_pretrained(source, padding_side="left", **kwargs)
    except OSError as exc:  # transformers' "not a local folder and not a valid model identifier", offline, ...
        raise ModelNotFoundError(f"--model {source}: cannot load it: {_first_line(exc)}") from None
    apply_pixel_limits(processor, options, source)
    return processor


def load_model_and_processor(source: str, *, dtype: str | None = None, device: str | None = None, options=None,
                             training: bool = False):
    """``AutoModelForImageTextToText`` and ``AutoProcessor`` from ``source``, with ``model:`` ``options``
    (:func:`from_pretrained_kwargs`, :func:`load_processor`).

    The processor pads on the left, as batched generation needs. A model that
    cannot be found (an unknown hub id, offline) or read is a
    :class:`ModelNotFoundError` in one line.
    """
    import torch
    from transformers import AutoModelForImageTextToText

    check_model_options(options)
    processor = load_processor(source, options)
    kwargs = from_pretrained_kwargs(options, dtype=dtype, training=training)
    if isinstance(kwargs.get("dtype"), str) and kwargs["dtype"] != "auto":
        kwargs["dtype"] = getattr(torch, kwargs["dtype"])
    try:
        model = AutoModelForImageTextToText.from_pretrained(source, **kwargs)
    except OSError as exc:
        raise ModelNotFoundError(f"--model {source}: cannot load it: {_first_line(exc)}") from None
    if device:
        model.to(device)
    return model, processor
