"""The validated configuration of a training run (``medr1 train --config run.yaml``).

A YAML file and the command line fill one :class:`TrainConfig`; pydantic
checks it before anything heavy is loaded, and an error names the field and
what it allows.

``grpo:`` holds TRL ``GRPOConfig`` fields under their TRL names, and TRL's
``GRPOConfig`` is the source of truth for them (:func:`check_grpo_fields`):
any of its fields may be set, an unknown key is an error naming it (with a
did-you-mean), values are checked against the field's type, and where TRL's
documentation of a field lists its values (``loss_type``: "Supported values
are 'grpo', 'dr_grpo', 'dapo', ..."), against that list. medr1 keeps its own
defaults, Med-R1's published set-up (Qwen2-VL-2B-Instruct, 4 generations per
question, learning rate 1e-6, KL beta 0.04, the ``grpo`` loss), where TRL's
differ.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_serializer, field_validator, model_validator

from ..composition.config import DEFAULT_REWARDS, RewardSpec, parse_reward_specs, read_config, specs_from_config
from ..composition.scoring import DEFAULT_TIME_LIMIT
from ..data.selection import DEFAULT_MAX_BAD_FRACTION
from ..errors import ConfigError
from ..registry import comma_list, did_you_mean
from ..prompts import PROMPT_SETS
from ..samples import VARIANTS

#: GRPOConfig fields medr1 sets from its own settings; a ``grpo:`` key naming one is refused.
SET_BY_MEDR1 = {
    "output_dir": "the run directory (--output-dir)",
    "reward_weights": "the rewards' weights (rewards: {name: {weight: ...}})",
    "use_cpu": "whether a GPU is visible",
    "remove_unused_columns": "medr1's dataset columns",
    "logging_dir": "the run directory's tensorboard/ folder",
    "report_to": "the top-level report_to: (--report-to), which every medr1 trainer shares",
    "model_init_kwargs": "model: (dtype, attn_implementation, revision, trust_remote_code)",
    "trust_remote_code": "model.trust_remote_code",
}

#: Where metrics can go besides the run's own files: transformers' tracker integrations.
#: ``none`` turns every tracker off (the run directory's files are always written).
TRACKERS = ("tensorboard", "wandb", "mlflow", "trackio", "comet_ml", "clearml", "dvclive", "neptune",
            "swanlab", "azure_ml", "dagshub", "codecarbon", "flyte", "kubeflow")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


#: ``model.dtype`` values; unset, training loads the weights in float32 (``bf16:`` then means mixed precision).
DTYPES = ("auto", "float32", "bfloat16", "float16")
#: ``model.attn_implementation`` values (transformers' names).
ATTN_IMPLEMENTATIONS = ("eager", "sdpa", "flash_attention_2", "flash_attention_3", "flex_attention")


class ModelSettings(_Strict):
    """The model to train and how it loads (``model:``; a plain string is its ``name``).

    The options go to ``from_pretrained`` of the policy and of the reference
    model alike (through TRL's ``model_init_kwargs``), and ``min_pixels`` /
    ``max_pixels`` to the processor.
    """

    name: str = Field("Qwen/Qwen2-VL-2B-Instruct", min_length=1,
                      description="hub id, local directory, medr1 run directory, tiny or tiny-<family>")
    dtype: Literal[DTYPES] | None = Field(
        None, description="weights' dtype; unset: float32 master weights for training (bf16: mixed precision), "
                          "the checkpoint's own dtype on a GPU for evaluation")
    attn_implementation: Literal[ATTN_IMPLEMENTATIONS] | None = Field(
        None, description="attention kernel: eager, sdpa, flash_attention_2 (needs flash-attn and a GPU); "
                          "unset: transformers' choice")
    min_pixels: int | None = Field(None, ge=1, description="Qwen-VL processors: fewest pixels an image is resized to")
    max_pixels: int | None = Field(None, ge=1, description="Qwen-VL processors: most pixels an image is resized to "
                                                           "(Med-R1: 401408)")
    trust_remote_code: bool = False
    revision: str | None = Field(None, min_length=1, description="hub branch, tag or commit of the model")

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _pixels(self) -> "ModelSettings":
        if self.min_pixels is not None and self.max_pixels is not None and self.min_pixels > self.max_pixels:
            raise ValueError(f"min_pixels ({self.min_pixels}) is above max_pixels ({self.max_pixels})")
        return self

    def options(self) -> dict[str, Any]:
        """The loading options that were set (everything but ``name``)."""
        return self.model_dump(exclude={"name"}, exclude_defaults=True)


class LoraSettings(_Strict):
    """LoRA through peft; ``null`` (the default) trains all weights."""

    r: int = Field(16, gt=0)
    alpha: int = Field(32, gt=0)
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: list[str] | str = "all-linear"


def steps_or_epochs(value: int) -> int:
    """A ``max_steps`` value: at least 1, or -1 (``num_train_epochs`` decides); GRPO's and SFT's alike."""
    if value != -1 and value < 1:
        raise ValueError(f"must be at least 1 (or -1: train for num_train_epochs), got {value}")
    return value


class GRPOSettings(BaseModel):
    """TRL ``GRPOConfig`` fields, under their TRL names, with medr1's defaults.

    The fields listed here are the ones medr1 documents and sets defaults for;
    any other ``GRPOConfig`` field may be given too (``top_k: 50``,
    ``steps_per_generation: 2``) and is checked against TRL's own definition.
    """

    model_config = ConfigDict(extra="allow", validate_assignment=True, allow_inf_nan=False)

    num_generations: int = Field(4, ge=2)
    per_device_train_batch_size: int = Field(4, ge=1)
    gradient_accumulation_steps: int = Field(1, ge=1)
    learning_rate: float = Field(1e-6, gt=0)
    beta: float = Field(0.04, ge=0)
    loss_type: str = "grpo"
    scale_rewards: str = "group"
    epsilon: float = Field(0.2, gt=0)
    num_iterations: int = Field(1, ge=1)
    temperature: float = Field(1.0, gt=0)
    top_p: float = Field(1.0, gt=0, le=1)
    max_completion_length: int = Field(512, ge=1)
    num_train_epochs: float = Field(1.0, gt=0)
    max_steps: Annotated[int, AfterValidator(steps_or_epochs)] = Field(
        -1, description="optimizer steps to run; -1: num_train_epochs decides")
    save_steps: int = Field(100, ge=1)
    save_total_limit: int | None = Field(None, ge=1)
    logging_steps: int = Field(1, ge=1)
    bf16: bool | None = None
    gradient_checkpointing: bool = False
    use_vllm: bool = False
    vllm_mode: str = "colocate"
    seed: int = 42


    @model_validator(mode="after")
    def _against_trl(self) -> "GRPOSettings":
        check_grpo_fields({**self.model_dump(exclude=set(self.model_extra or {})), **(self.model_extra or {})})
        return self

    def trl_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``GRPOConfig`` (medr1's names mapped to TRL's)."""
        fields = self.model_dump(exclude={"gradient_checkpointing", "bf16"})
        fields["activation_checkpointing"] = self.gradient_checkpointing  # TRL's new name; the old one warns
        return fields


@lru_cache(maxsize=4)
def trl_fields(config_class: str = "GRPOConfig") -> dict[str, dataclasses.Field]:
    """The init fields of one of TRL's trainer configs (``GRPOConfig``, ``SFTConfig``), by name."""
    import trl

    return {f.name: f for f in dataclasses.fields(getattr(trl, config_class)) if f.init}


def _grpo_fields() -> dict[str, dataclasses.Field]:
    return trl_fields("GRPOConfig")


def documented_choices(help_text: str) -> tuple[str, ...]:
    """The values a TRL field's help says it takes: the quoted words of its "Supported values are ..."
    or "Must be one of ..." sentence, or ``()`` when it lists none that way.

    >>> documented_choices("Supported values are 'grpo', 'dr_grpo', and 'dapo'. 'grpo': ...")
    ('grpo', 'dr_grpo', 'dapo')
    """
    match = re.search(r"(?:Supported values are|Must be one of)\s+([^:.]*?)\.(?:\s|$)", help_text)
    return tuple(re.findall(r"[`']+([A-Za-z0-9_]+)'?`?", match.group(1))) if match else ()


def non_finite(value: Any, where: str = "") -> str | None:
    """Where in ``value`` (nested mappings and lists) a float is NaN or infinite: ``""``, ``".temperature"``,
    ``"[1]"``; ``None`` when every number is finite."""
    if isinstance(value, float):
        return None if math.isfinite(value) else where
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, (list, tuple)) else ()
    for key, item in items:
        found = non_finite(item, f"{where}.{key}" if isinstance(value, dict) else f"{where}[{key}]")
        if found is not None:
            return found
    return None


def check_grpo_fields(values: dict[str, Any]) -> None:
    """Check ``grpo:`` keys and values against TRL's ``GRPOConfig``; raise ``ValueError`` naming each problem."""
    check_trl_fields(values, "GRPOConfig", "grpo", SET_BY_MEDR1)


def check_trl_fields(values: dict[str, Any], config_class: str, section: str, set_by_medr1: dict[str, str]) -> None:
    """Check a section's keys and values against TRL's ``config_class`` (``GRPOConfig``, ``SFTConfig``): unknown
    keys (with a did-you-mean), keys medr1 sets itself, types, documented choices; raise ``ValueError``
    naming each problem."""
    from pydantic import TypeAdapter

    fields = trl_fields(config_class)
    problems = []
    for key, value in values.items():
        if key in set_by_medr1:
            problems.append(f"{key}: set by medr1 from {set_by_medr1[key]}; remove it from {section}:")
            continue
        field = fields.get(key)
        if field is None and key != "gradient_checkpointing":
            hint = did_you_mean(key, list(fields))
            problems.append(f"{key}: not a field of TRL's {config_class}" + (f"; did you mean '{hint}'?" if hint else ""))
            continue
        if field is None:
            continue
        bad = non_finite(value)
        if bad is not None:
            problems.append(f"{key}{bad}: must be a finite number, got {value!r}")
            continue
        try:
            TypeAdapter(field.type).validate_python(value)
        except ValidationError as exc:
            problems.append(f"{key}: {exc.errors()[0]['msg']} (got {value!r})")
            continue
        choices = documented_choices(field.metadata.get("help", ""))
        if choices and isinstance(value, str) and value not in choices:
            problems.append(f"{key}: {value!r} is not one TRL supports; expected one of {', '.join(map(repr, choices))}")
    if problems:
        raise ValueError("\n".join(problems))


class RunSettings(_Strict):
    """What every medr1 training run shares, whatever its method (``medr1 train``'s GRPO, ``medr1 sft``):
    model, data and the questions chosen from it, prompts, trackers, the run directory, LoRA."""

    model: ModelSettings = Field(default_factory=ModelSettings)
    data: str = "sample"
    format: str | None = None
    image_root: str | None = None
    modality: list[str] = Field(default_factory=list)
    task: list[str] = Field(default_factory=list)
    dataset: list[str] = Field(default_factory=list)
    variant: Literal[VARIANTS] = "think"
    prompt_set: Literal[PROMPT_SETS] = Field(
        "medr1", description="whose prompt wording: medr1 (medr1's own) or med-r1 (Med-R1's, as published)"
    )
    max_prompt_length: int | None = Field(
        None, ge=1, description="skip (and count) questions whose text prompt is longer, in tokens"
    )
    on_missing_image: Literal["error", "skip"] = "error"
    report_to: list[str] = Field(
        default_factory=lambda: ["tensorboard"],
        description="trackers the metrics go to (transformers' integrations): tensorboard, wandb, mlflow, "
                    "trackio, ...; [] or 'none' for none",
    )
    max_bad_fraction: float = Field(
        DEFAULT_MAX_BAD_FRACTION, ge=0, le=1,
        description="share of bad records the run accepts before refusing to start (1: go on whatever is bad)",
    )
    allow_outside_images: bool = Field(
        False, description="let image paths be absolute or lead outside the dataset's folder"
    )
    output_dir: str | None = Field(None, description="the run directory; default: a new runs/YYYYmmdd-HHMMSS")
    lora: LoraSettings | None = None

    @field_serializer("model")
    def _model_as_name(self, model: ModelSettings) -> Any:
        """A plain ``model: name`` when no loading option is set, as the user wrote it."""
        options = model.options()
        return {"name": model.name, **options} if options else model.name

    @field_validator("report_to", mode="before")
    @classmethod
    def _report_to(cls, value: Any) -> Any:
        return check_report_to(value)

    @field_validator("modality", "task", "dataset", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        return comma_list(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _published_prompt(self) -> "RunSettings":
        """A variant the prompt set has no prompt for fails here, before anything loads."""
        if self.prompt_set != "medr1":
            from ..prompts import med_r1_template

            try:
                med_r1_template(self.variant, "train")
            except ConfigError as exc:
                raise ValueError(str(exc)) from None
        return self

    def selection(self):
        """The questions this run trains on, as the data layer (and ``medr1 eval``) chooses them."""
        from ..data.selection import Selection

        return Selection(format=self.format, image_root=self.image_root, modalities=tuple(self.modality),
                         tasks=tuple(self.task), datasets=tuple(self.dataset), on_missing_image=self.on_missing_image,
                         max_bad_fraction=self.max_bad_fraction, allow_outside_images=self.allow_outside_images)


class TrainConfig(RunSettings):
    """Everything a ``medr1 train`` (GRPO) run needs."""

    method: Literal["grpo"] = "grpo"
    rewards: dict[str, RewardSpec] = Field(
        default_factory=lambda: {s.name: s for s in parse_reward_specs(",".join(DEFAULT_REWARDS))}
    )
    strict_rewards: bool = False
    reward_time_limit: float = Field(
        DEFAULT_TIME_LIMIT, gt=0, description="seconds each reward may take on one batch; past it, it counts as failed"
    )
    grpo: GRPOSettings = Field(default_factory=GRPOSettings)

    @field_validator("rewards", mode="before")
    @classmethod
    def _reward_specs(cls, value: Any) -> Any:
        """Any form :mod:`medr1_core.composition.config` accepts: a mapping, a list, ``"format,accuracy"``."""
        return {s.name: s for s in specs_from_config(value, source="rewards")}

    @field_serializer("rewards")
    def _rewards_as_mapping(self, rewards: dict[str, RewardSpec]) -> dict[str, Any]:
        return {name: spec.settings() for name, spec in rewards.items()}


#: GRPO defaults for the offline tiny models (``tiny``, ``tiny-*``), where a field is not
#: set explicitly: short completions, groups of 8 (2 questions a step) and a learning
#: rate chosen on the README's 20-step demo with the pretrained ``tiny`` (which writes the
#: format in about a third of its samples at first): at 1e-3 its format reward went
#: 0.60 -> 0.94 (first vs last 5 steps) against 0.55 -> 0.83 at 2e-3 and 0.65 -> 0.78 at 5e-4.
TINY_PRESET = {
    "max_completion_length": 48,
    "learning_rate": 1e-3,
    "beta": 0.0,
    "num_generations": 8,
    "per_device_train_batch_size": 16,
}


def is_tiny_model(model: Any) -> bool:
    """Whether ``model`` names one of the offline tiny models (``tiny``, ``tiny-qwen2-vl``, ...)."""
    return isinstance(model, str) and (model == "tiny" or model.startswith("tiny-"))


def check_report_to(value: Any) -> list[str]:
    """``report_to`` as a list of tracker names: ``"wandb,tensorboard"``, a list, ``"none"`` / ``[]``
    (no tracker); an unknown name is an error naming it, with a did-you-mean.

    >>> check_report_to("tensorboard, wandb")
    ['tensorboard', 'wandb']
    >>> check_report_to("none")
    []
    """
    if value is None:
        return []
    names = comma_list(value) if isinstance(value, str) else value
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
        raise ValueError(f"expected tracker names (e.g. tensorboard, wandb) or none, got {value!r}")
    names = [n.strip().lower() for n in names if n.strip()]
    if names == ["none"]:
        return []
    for name in names:
        if name not in TRACKERS:
            hint = did_you_mean(name, list(TRACKERS) + ["none"])
            raise ValueError(f"unknown tracker {name!r}" + (f"; did you mean '{hint}'?" if hint else "")
                             + f" (known: {', '.join(TRACKERS)}, or none)")
    return list(dict.fromkeys(names))


def describe_validation_error(exc: ValidationError, source: str, what: str = "run configuration") -> str:
    """A pydantic error as lines naming each field (``grpo.beta: ...``) under ``source``."""
    lines = [f"invalid {what} ({source}):"]
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        got = "" if err["type"] in ("missing", "value_error") else f" (got {err.get('input')!r})"
        if err["type"] == "value_error" and where in ("grpo", "sft"):
            lines.extend(f"  {where}.{part}" for part in msg.split("\n"))
            continue
        lines.append(f"  {where}: {msg}{got}" if where else f"  {msg}")  # a check of several fields together
    return "\n".join(lines)


def set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    """``data["grpo"]["beta"] = value`` for ``key="grpo.beta"``, creating mappings on the way."""
    target = data
    *parents, leaf = key.split(".")
    for part in parents:
        target = target.setdefault(part, {})
        if not isinstance(target, dict):
            raise ConfigError(f"cannot set '{key}': '{part}' is not a mapping")
    target[leaf] = value


def load_train_config(
    path: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
    *,
    data: dict[str, Any] | None = None,
) -> TrainConfig:
    """Read ``path`` (YAML, with :func:`~medr1_core.composition.read_config`) -- or take
    ``data`` already read from it -- apply ``overrides`` (dotted keys), validate.

    >>> load_train_config(overrides={"grpo.max_steps": 5}).grpo.max_steps
    5
    """
    return load_run_config(TrainConfig, "grpo", TINY_PRESET, path, overrides, data=data)


def load_run_config(model_class: type[RunSettings], section: str, tiny_preset: dict[str, Any],
                    path: str | Path | None = None, overrides: dict[str, Any] | None = None, *,
                    data: dict[str, Any] | None = None):
    """:func:`load_train_config` for any run configuration class: ``section`` (``grpo``, ``sft``) gets
    ``tiny_preset``'s values, where not set, when the model is one of the tiny offline ones."""
    source = str(path) if path is not None else "command line"
    if data is None:
        data = read_config(path) if path is not None else {}
    data = copy.deepcopy(data)
    if isinstance(data.get("model"), str):  # model: NAME is model: {name: NAME}; --model and model.dtype=... both fit
        data["model"] = {"name": data["model"]}
    for key, value in (overrides or {}).items():
        set_dotted(data, "model.name" if key == "model" and isinstance(value, str) else key, value)
    model = data.get("model")
    if is_tiny_model(model.get("name") if isinstance(model, dict) else model):
        settings = data.setdefault(section, {})
        if isinstance(settings, dict):
            for key, value in tiny_preset.items():
                settings.setdefault(key, value)
    try:
        return model_class.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, source)) from None
