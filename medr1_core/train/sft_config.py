"""The validated configuration of a supervised fine-tuning run (``medr1 sft``), the baseline GRPO is compared to.

It shares every field of :class:`~medr1_core.train.config.RunSettings` with
``medr1 train`` (model, data, selection, prompt variant and set, trackers,
run directory, LoRA), so the same flags choose the same questions and
prompts. ``sft:`` holds TRL ``SFTConfig`` fields under their TRL names,
checked against TRL's own definition as ``grpo:`` is against ``GRPOConfig``.
medr1's defaults are Med-R1's SFT set-up (``src/r1-v/configs/qwen2/
qwen2vl_sft_config_*.yaml``): learning rate 2e-5, cosine schedule, warm-up
over the first 10% of the steps, one epoch, 4 questions per device and 16
accumulation steps, gradient checkpointing, sequences up to 4096 tokens.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from .config import RunSettings, check_trl_fields, load_run_config, steps_or_epochs

#: SFTConfig fields medr1 sets from its own settings; an ``sft:`` key naming one is refused.
SET_BY_MEDR1 = {
    "output_dir": "the run directory (--output-dir)",
    "use_cpu": "whether a GPU is visible",
    "remove_unused_columns": "medr1's dataset columns",
    "logging_dir": "the run directory's tensorboard/ folder",
    "report_to": "the top-level report_to: (--report-to), which every medr1 trainer shares",
    "packing": "medr1's dataset: TRL packs no image datasets",
}

#: SFT defaults for the offline tiny models, where a field is not set explicitly: small steps that
#: run in a second on a CPU, and a learning rate at which a 170k-parameter model moves.
TINY_SFT_PRESET = {
    "per_device_train_batch_size": 8,
    "gradient_accumulation_steps": 1,
    "learning_rate": 1e-3,
    "gradient_checkpointing": False,
}


class SFTSettings(BaseModel):
    """TRL ``SFTConfig`` fields, under their TRL names, with medr1's (Med-R1's) defaults.

    Any other ``SFTConfig`` field may be given too and is checked against TRL's definition.
    """

    model_config = ConfigDict(extra="allow", validate_assignment=True, allow_inf_nan=False)

    per_device_train_batch_size: int = Field(4, ge=1)
    gradient_accumulation_steps: int = Field(16, ge=1)
    learning_rate: float = Field(2e-5, gt=0)
    lr_scheduler_type: str = "cosine"
    warmup_steps: float = Field(0.1, ge=0, description="below 1: a share of the steps (Med-R1's warmup_ratio 0.1)")
    num_train_epochs: float = Field(1.0, gt=0)
    max_steps: Annotated[int, AfterValidator(steps_or_epochs)] = Field(
        -1, description="optimizer steps to run; -1: num_train_epochs decides")
    max_length: int | None = Field(4096, ge=1, description="tokens of prompt and answer together")
    completion_only_loss: bool = Field(True, description="the loss counts the answer's tokens only")
    save_steps: int = Field(100, ge=1)
    save_total_limit: int | None = Field(None, ge=1)
    logging_steps: int = Field(1, ge=1)
    bf16: bool | None = None
    gradient_checkpointing: bool = True
    seed: int = 42


    @model_validator(mode="after")
    def _against_trl(self) -> "SFTSettings":
        check_trl_fields({**self.model_dump(exclude=set(self.model_extra or {})), **(self.model_extra or {})},
                         "SFTConfig", "sft", SET_BY_MEDR1)
        return self

    def trl_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``SFTConfig`` (medr1's names mapped to TRL's)."""
        fields = self.model_dump(exclude={"gradient_checkpointing", "bf16"})
        fields["activation_checkpointing"] = self.gradient_checkpointing  # transformers' new name; the old one warns
        return fields


class SFTRunConfig(RunSettings):
    """Everything a ``medr1 sft`` run needs: the shared run settings and ``sft:``."""

    method: Literal["sft"] = "sft"
    sft: SFTSettings = Field(default_factory=SFTSettings)


def load_sft_config(
    path: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
    *,
    data: dict[str, Any] | None = None,
) -> SFTRunConfig:
    """Read ``path`` (YAML) -- or take ``data`` already read from it -- apply ``overrides`` (dotted keys), validate.

    >>> load_sft_config(overrides={"sft.max_steps": 3}).sft.learning_rate
    2e-05
    """
    return load_run_config(SFTRunConfig, "sft", TINY_SFT_PRESET, path, overrides, data=data)
