"""``EXPERIMENT.yaml``: the validated description of an experiment, and the cells it expands to.

One file names the model, the training and test data, the methods
(``zero_shot``, ``sft``, ``grpo``, each with its settings: the fields of
``medr1 sft``'s or ``medr1 train``'s configuration), the training subsets
(each modality or task of the data, or a list), the prompt variants and the
test subsets. :func:`plan` expands it into :class:`Cell` objects, one per
method x variant x training subset (``zero_shot`` trains nothing: one cell per
variant), each with its run configuration already validated, so a typo in any
cell fails before the first one runs.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import ConfigError
from ..prompts import PROMPT_SETS
from ..samples import VARIANTS

METHODS = ("zero_shot", "sft", "grpo")
#: run-configuration fields an experiment sets for every cell; a method's settings may not set them
SET_BY_EXPERIMENT = {
    "model": "model:", "data": "data:", "format": "format:", "image_root": "image_root:",
    "variant": "variants:", "prompt_set": "prompt_set:", "modality": "train_subsets: (by: modality)",
    "task": "train_subsets: (by: task)", "output_dir": "the experiment's folder", "method": "methods:",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class EvalSettings(_Strict):
    """How every cell is evaluated on every test subset (``medr1 eval``'s options)."""

    limit: int | None = Field(None, ge=1, description="questions per test subset (a seeded subset, the same for "
                                                      "every cell); default: all")
    batch_size: int = Field(16, ge=1)
    max_new_tokens: int = Field(512, ge=1)
    do_sample: bool = False
    temperature: float = Field(1.0, gt=0)
    top_p: float = Field(1.0, gt=0, le=1)
    seed: int = 0
    backend: Literal["transformers", "vllm"] = "transformers"
    device: str | None = None
    dtype: str | None = None
    open_metric: Literal["auto", "fuzzy", "exact", "contains", "recall", "f1"] | None = None


Subsets = Literal["each"] | list[str | list[str]]


class ExperimentSpec(_Strict):
    """Everything ``medr1 experiment`` runs (see docs/experiments.md)."""

    name: str | None = None
    model: str = "Qwen/Qwen2-VL-2B-Instruct"
    data: str
    test_data: str | None = Field(None, description="the questions the cells are tested on; default: data")
    format: str | None = None
    test_format: str | None = None
    image_root: str | None = None
    test_image_root: str | None = None
    by: Literal["modality", "task"] = "modality"
    train_subsets: Subsets = "each"
    test_subsets: Subsets = "each"
    variants: list[Literal[VARIANTS]] = Field(default_factory=lambda: ["think"], min_length=1)
    prompt_set: Literal[PROMPT_SETS] = "medr1"
    methods: dict[Literal[METHODS], dict[str, Any] | None] = Field(min_length=1)
    eval: EvalSettings = Field(default_factory=EvalSettings)
    alpha: float = Field(0.05, gt=0, lt=1, description="significance level of the paired tests")
    output_dir: str | None = Field(None, description="the experiment's folder; default: experiments/<name>")

    @field_validator("methods")
    @classmethod
    def _settings(cls, value: dict[str, Any]) -> dict[str, Any]:
        for method, settings in value.items():
            bad = sorted(set(settings or {}) & set(SET_BY_EXPERIMENT))
            if bad:
                raise ValueError(f"{method}.{bad[0]}: set by the experiment from {SET_BY_EXPERIMENT[bad[0]]}")
            if method == "zero_shot" and settings:
                raise ValueError("zero_shot trains nothing: it takes no settings (give it {} or null)")
        return {method: dict(settings or {}) for method, settings in value.items()}

    @field_validator("variants")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))


@dataclass
class Cell:
    """One cell of the grid: a method, a prompt variant, a training subset (``None`` for zero-shot)."""

    index: int
    method: str
    variant: str
    train_subset: tuple[str, ...] | None
    config: Any = None
    """The cell's validated run configuration (``TrainConfig`` / ``SFTRunConfig``); ``None`` for zero-shot."""
    digest: str = ""
    """What the cell's results depend on (its run configuration, the model, the evaluation settings and tests)."""
    tests: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def train_label(self) -> str | None:
        return subset_label(self.train_subset) if self.train_subset else None

    @property
    def id(self) -> str:
        return "-".join(p for p in (self.method, self.variant, self.train_label) if p)


def subset_label(names: tuple[str, ...]) -> str:
    """``("ct",)`` -> ``"ct"``; ``("ct", "mri")`` -> ``"ct+mri"``."""
    return "+".join(names)


def read_experiment(path: str | Path) -> ExperimentSpec:
    """Read and validate ``EXPERIMENT.yaml``; errors name the file and each field."""
    from ..composition import read_config
    from ..train.config import describe_validation_error

    data = read_config(path)
    try:
        return ExperimentSpec.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, str(path), what="experiment")) from None


def resolve_subsets(spec_value, registry, present: list[str], what: str) -> dict[str, tuple[str, ...]]:
    """Subsets as label -> canonical ids: ``each`` is every id in ``present`` (the data's), in registry order."""
    if spec_value == "each":
        groups = [(name,) for name in registry.names() if name in present]
        if not groups:
            raise ConfigError(f"{what}: each: the data has no questions with a known {registry.kind}")
    else:
        groups = []
        for item in spec_value:
            names = [item] if isinstance(item, str) else list(item)
            groups.append(tuple(dict.fromkeys(registry.get(n).id for n in names)))
    subsets = {subset_label(g): g for g in groups}
    if len(subsets) != len(groups):
        raise ConfigError(f"{what}: a subset is listed twice")
    return subsets


def _present(data: str, format_: str | None, image_root: str | None, by: str, plugins) -> list[str]:
    from ..data import load_samples

    report = load_samples(data, format=format_, image_root=image_root, plugins=plugins)
    return sorted({getattr(s, by) for s in report.samples if getattr(s, by)})


def plan(spec: ExperimentSpec, root: Path, *, source: str = "experiment", plugins=None) -> list[Cell]:
    """The cells of ``spec`` in run order (zero-shot first, then each method, variant and training subset),
    each trained method's run configuration validated (errors name the cell)."""
    from ..plugins import get_plugins

    plugins = plugins or get_plugins()
    registry = plugins.modalities if spec.by == "modality" else plugins.tasks
    test_data = spec.test_data or spec.data
    needs_data = spec.train_subsets == "each" or spec.test_subsets == "each"
    present = _present(spec.data, spec.format, spec.image_root, spec.by, plugins) if needs_data else []
    test_present = present if test_data == spec.data and spec.test_format == spec.format else (
        _present(test_data, spec.test_format or spec.format, spec.test_image_root, spec.by, plugins)
        if spec.test_subsets == "each" else [])
    trains = resolve_subsets(spec.train_subsets, registry, present, "train_subsets")
    tests = resolve_subsets(spec.test_subsets, registry, test_present, "test_subsets")
    order = [m for m in METHODS if m == "zero_shot" and m in spec.methods] + [m for m in spec.methods if m != "zero_shot"]
    cells: list[Cell] = []
    for method in order:
        for variant in spec.variants:
            for subset in ([None] if method == "zero_shot" else list(trains.values())):
                cell = Cell(len(cells), method, variant, subset, tests=tests)
                cell.config = None if subset is None else _run_config(spec, cell, root, source)
                cell.digest = _digest(spec, cell)
                cells.append(cell)
    return cells


def _run_config(spec: ExperimentSpec, cell: Cell, root: Path, source: str):
    from ..train.config import load_train_config
    from ..train.sft_config import load_sft_config

    data = {**spec.methods[cell.method], "model": spec.model, "data": spec.data, "format": spec.format,
            "image_root": spec.image_root, "variant": cell.variant, "prompt_set": spec.prompt_set,
            spec.by: list(cell.train_subset), "output_dir": str(root / "runs" / cell.id)}
    loader = load_sft_config if cell.method == "sft" else load_train_config
    try:
        return loader(data=data)
    except ConfigError as exc:
        raise ConfigError(f"{source}, cell {cell.id} (methods.{cell.method}): {exc}") from None


def _digest(spec: ExperimentSpec, cell: Cell) -> str:
    # where the experiment's folder is (-o relative or absolute) is not a setting of the cell
    config = cell.config.model_dump(mode="json", exclude={"output_dir"}) if cell.config is not None else {
        "model": spec.model}
    what = {"config": config, "eval": spec.eval.model_dump(mode="json"), "tests": cell.tests,
            "test_data": spec.test_data or spec.data, "test_format": spec.test_format or spec.format,
            "prompt_set": spec.prompt_set, "variant": cell.variant}
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()[:16]
