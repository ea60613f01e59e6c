"""Finding and loading a vision-language model from what a user typed.

``--model`` takes a hub id (``Qwen/Qwen2-VL-2B-Instruct``), a local model
directory, a run directory or checkpoint written by ``medr1 train``, or
``tiny`` (the offline tiny LLaVA-style VLM of :mod:`medr1_core.offline.tiny`), or
``tiny-qwen2-vl`` / ``tiny-qwen2.5-vl`` (tiny random models with the real Qwen
architectures, :mod:`medr1_core.offline.tiny_qwen`). Loading is always the
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
    from ..offline.tiny import TINY_MODEL_NAME, build_tiny_vlm

    if spec == TINY_MODEL_NAME:
        return ResolvedModel(str(build_tiny_vlm()))
    if spec in TINY_QWEN_NAMES:
        from ..offline.tiny_qwen import build_tiny_qwen2vl

        return ResolvedModel(str(build_tiny_qwen2vl(version=TINY_QWEN_NAMES[spec])))
    path = Path(spec).expanduser()
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


def load_model_and_processor(source: str, *, dtype: str | None = None, device: str | None = None):
    """``AutoModelForImageTextToText`` and ``AutoProcessor`` from ``source``.

    The processor pads on the left, as batched generation needs. A model that
    cannot be found (an unknown hub id, offline) or read is a
    :class:`ModelNotFoundError` in one line.
    """
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    kwargs = {}
    if dtype:
        kwargs["dtype"] = getattr(torch, dtype) if isinstance(dtype, str) and dtype != "auto" else dtype
    if Path(source).is_dir():
        check_model_config(Path(source))
    try:
        model = AutoModelForImageTextToText.from_pretrained(source, **kwargs)
        processor = AutoProcessor.from_pretrained(source, padding_side="left")
    except OSError as exc:  # transformers' "not a local folder and not a valid model identifier", offline, ...
        raise ModelNotFoundError(f"--model {source}: cannot load it: {_first_line(exc)}") from None
    if device:
        model.to(device)
    return model, processor
