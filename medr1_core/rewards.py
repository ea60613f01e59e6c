"""What a reward is: a named scorer of Rollouts with typed parameters.

The quickest reward is one decorated function of one rollout::

    from medr1_core import reward

    @reward(name="mentions_image")
    def mentions_image(rollout):
        "1 if the reasoning mentions the image, else 0."
        return float("image" in (rollout.completion.think or ""))

A fast one scores a whole batch (``batched=True``), and one with settings
declares them as a pydantic model (``params=``), validated when a run starts.
A score is a float in the reward's ``range`` or ``None`` (not applicable).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import ConfigError
from .samples import Rollout


class RewardParamsError(ConfigError):
    """A reward's parameters did not validate; the message names the reward and the parameter."""


class NoParams(BaseModel):
    """Parameters of a reward that takes none."""

    model_config = ConfigDict(extra="forbid")


class RelativeToConfig:
    """Marks a reward parameter that holds file paths (a ``str`` or a list of them): relative paths written in
    a config file resolve against that file's folder, as ad-hoc reward files do (a path that exists as
    given, or is absolute, is kept)::

        class Params(BaseModel):
            trees: Annotated[list[str], RelativeToConfig()] = Field(default_factory=list)
    """

    def __repr__(self) -> str:
        return "RelativeToConfig()"


def config_relative_params(model: type[BaseModel]) -> list[str]:
    """The names of ``model``'s fields marked :class:`RelativeToConfig`."""
    return [name for name, info in model.model_fields.items()
            if any(isinstance(m, RelativeToConfig) for m in info.metadata)]


def _type_name(annotation: Any) -> str:
    if getattr(annotation, "__args__", None):
        return str(annotation).replace("typing.", "")
    return getattr(annotation, "__name__", str(annotation))


def _constraints(info: Any) -> list[str]:
    import typing

    out = []
    for m in info.metadata:
        for attr, op in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"), ("min_length", "length >="),
                         ("max_length", "length <=")):
            value = getattr(m, attr, None)
            if value is not None:
                out.append(f"{op} {value:g}" if isinstance(value, float) else f"{op} {value}")
    if typing.get_origin(info.annotation) is typing.Literal:
        out.append("one of " + ", ".join(map(str, typing.get_args(info.annotation))))
    if any(isinstance(m, RelativeToConfig) for m in info.metadata):
        out.append("paths relative to the config file")
    return out


def param_info(model: type[BaseModel]) -> list[dict[str, Any]]:
    """Each parameter of a reward's ``Params``: name, type, default, constraints and description
    (what ``medr1 rewards list`` shows and docs/rewards.md's tables are generated from)."""
    return [
        {"name": name, "type": _type_name(info.annotation), "default": info.get_default(call_default_factory=True),
         "constraints": _constraints(info), "description": " ".join((info.description or "").split())}
        for name, info in model.model_fields.items()
    ]


class Reward:
    """Base class of every reward.

    Subclasses set ``name`` (what ``--rewards`` takes), ``description``,
    ``Params`` (a pydantic model; unknown fields are refused) and ``range``,
    and implement :meth:`score`. One may also define
    ``explain(self, rollout) -> dict``: why the rollout got its score, small
    and JSON-ready; a training run records it with each sampled completion the
    reward scored, and the run report shows it (the ``dtree`` reward does).
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    Params: ClassVar[type[BaseModel]] = NoParams
    range: ClassVar[tuple[float, float]] = (0.0, 1.0)

    def __init__(self, params: BaseModel | Mapping[str, Any] | None = None):
        self.params = validate_params(self, params)

    def score(self, rollouts: Sequence[Rollout]) -> list[float | None]:
        """One score per rollout, in order: a float in ``range`` or ``None``."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<reward {self.name} {self.params!r}>"


def validate_params(reward: Reward | type[Reward], params: BaseModel | Mapping[str, Any] | None) -> BaseModel:
    """Validate ``params`` against ``reward.Params``; errors name reward and parameter."""
    model = reward.Params
    if isinstance(params, model):
        return params
    if isinstance(params, BaseModel):
        params = params.model_dump()
    try:
        validated = model.model_validate(dict(params or {}))
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "(parameters)"
            got = f" (got {err['input']!r})" if "input" in err and err["type"] != "missing" else ""
            problems.append(f"parameter '{where}': {err['msg']}{got}")
        allowed = ", ".join(model.model_fields) or "none"
        raise RewardParamsError(
            f"reward '{reward.name}': " + "; ".join(problems) + f". Allowed parameters: {allowed}."
        ) from None
    bad = _non_finite(validated.model_dump())
    if bad is not None:
        raise RewardParamsError(f"reward '{reward.name}': parameter '{bad[0]}': must be a finite number, got {bad[1]!r}")
    return validated


def _non_finite(value: Any, where: str = "") -> tuple[str, float] | None:
    """The first NaN or infinity in a parameter value (nested mappings and lists), with where it is."""
    if isinstance(value, float):
        return None if math.isfinite(value) else (where, value)
    if isinstance(value, Mapping):
        items = ((f"{where}.{k}" if where else str(k), v) for k, v in value.items())
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = ((f"{where}[{i}]", v) for i, v in enumerate(value))
    else:
        return None
    for path, item in items:
        found = _non_finite(item, path)
        if found is not None:
            return found
    return None


def reward(
    fn: Callable | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    params: type[BaseModel] | None = None,
    batched: bool = False,
    range: tuple[float, float] = (0.0, 1.0),
):
    """Turn a function into a :class:`Reward` subclass.

    The function takes one rollout (or, with ``batched=True``, a sequence of
    them), plus the validated params as a second argument if it declares one,
    and returns a score (or a list of scores). The description defaults to the
    first paragraph of the docstring. The undecorated function stays reachable
    as ``.fn`` for tests.
    """

    def wrap(f: Callable) -> type[Reward]:
        takes_params = len(inspect.signature(f).parameters) >= 2
        doc = description or (inspect.getdoc(f) or "").split("\n\n")[0].replace("\n", " ")

        def score(self: Reward, rollouts: Sequence[Rollout]) -> list[float | None]:
            if batched:
                return list(f(rollouts, self.params) if takes_params else f(rollouts))
            if takes_params:
                p = self.params
                return [f(r, p) for r in rollouts]
            return [f(r) for r in rollouts]

        cls = type(
            f"{f.__name__}_reward",
            (Reward,),
            {
                "name": name or f.__name__,
                "description": doc,
                "Params": params or NoParams,
                "range": range,
                "score": score,
                "fn": staticmethod(f),
                "__module__": f.__module__,
                # the class replaces the function under its name: pickle finds it there
                "__qualname__": f.__qualname__,
                "__doc__": f.__doc__,
            },
        )
        return cls

    return wrap(fn) if fn is not None else wrap
