"""A test kit for plugin authors: load your plugin, score your reward, check your trees.

Everything here works the same whether or not your package is pip-installed
(installed, its entry point loads the very module your test imports, and it
is not loaded twice)::

    import medr1_endo
    from medr1_core import testing

    def test_registers():
        with testing.use_plugins(medr1_endo) as plugins:   # strict: a broken plugin fails the test
            assert plugins.modalities.resolve("Colonoscopy") == "endoscopy"
            assert "paris" in plugins.rules

    def test_hedging():
        with testing.use_plugins(medr1_endo):
            assert testing.score("hedging", ["<think>Maybe.</think><answer>A</answer>"],
                                 question="Which?", options={"A": "x", "B": "y"}, answer="A") == [0.0]

    def test_trees():
        assert testing.tree_problems(Path(medr1_endo.__file__).with_name("trees")) == []

- :func:`use_plugins`: medr1's plugins plus yours, made the process's plugins for a
  ``with`` block (what ``get_plugins()``, the ``dtree`` reward and the CLI functions see);
  :func:`load` returns them without that.
- :func:`rollouts`: completions parsed by medr1's one parser against a sample you describe.
- :func:`score`: a reward (a name, a ``Reward`` class or instance) on completions, with
  the checks a run makes (one score per completion, each ``None`` or a finite number
  in the reward's ``range``); what a run would count as a failure raises here.
- :func:`tree_problems`: every problem with a decision-tree file, folder, parsed tree
  or registered tree name, as ``medr1 rules validate`` prints them (``[]``: valid).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from . import plugins as _plugins
from .plugins import Plugins, load_plugins
from .rewards import Reward
from .samples import Rollout, Sample

__all__ = ["load", "use_plugins", "rollouts", "score", "tree_problems"]


def load(*modules: ModuleType | object, strict: bool = True) -> Plugins:
    """Every installed plugin plus ``modules`` (each registered in-process under its ``__name__``).

    A module whose package is installed is the same module its entry point
    loads: it is loaded once. ``strict`` (default): a plugin that fails to load,
    or registers a name already taken, raises instead of being skipped.
    """
    extra = [(getattr(m, "__name__", type(m).__name__), m) for m in modules]
    return load_plugins(extra=extra, strict=strict)


@contextmanager
def use_plugins(*modules: ModuleType | object, strict: bool = True) -> Iterator[Plugins]:
    """:func:`load` ``modules`` and make the result the process-wide plugins (``get_plugins()``) inside the block."""
    loaded = load(*modules, strict=strict)
    previous = _plugins._PLUGINS
    _plugins._PLUGINS = loaded
    try:
        yield loaded
    finally:
        _plugins._PLUGINS = previous


def _sample(question: str, options: Mapping[str, str] | None, answer: str, modality: str | None, task: str | None,
            fields: Mapping[str, Any]) -> Sample:
    registry = _plugins.get_plugins()
    return Sample(
        id=str(fields.pop("id", "test")),
        question=question,
        options=dict(options) if options else None,
        answer=answer,
        modality=(registry.modalities.resolve(modality) or modality) if modality else None,
        task=(registry.tasks.resolve(task) or task) if task else None,
        **fields,
    )


def rollouts(completions: Sequence[str | list], *, question: str = "", options: Mapping[str, str] | None = None,
             answer: str = "", modality: str | None = None, task: str | None = None, variant: str = "think",
             **sample_fields: Any) -> list[Rollout]:
    """One rollout per completion (raw text or chat messages), all on one sample.

    ``modality`` and ``task`` may be any alias the loaded plugins know
    (``"Colonoscopy"``); other ``sample_fields`` (``images``, ``extras``, ``id``,
    ...) go to :class:`~medr1_core.Sample` as they are. Parsing is medr1's own
    (:func:`medr1_core.parsing.make_rollouts`), as in training.
    """
    from .parsing import completion_text, make_rollouts

    sample = _sample(question, options, answer, modality, task, dict(sample_fields))
    return make_rollouts([sample] * len(completions), [completion_text(c) for c in completions], variant)


def _instance(reward: str | type[Reward] | Reward, params: Mapping[str, Any] | None) -> Reward:
    if isinstance(reward, Reward):
        if params is not None:
            raise TypeError("params go with a reward name or class, not an instance (already built)")
        return reward
    if isinstance(reward, str):
        from .composition import reward_class

        reward = reward_class(reward, _plugins.get_plugins())
    if not (isinstance(reward, type) and issubclass(reward, Reward)):
        raise TypeError(f"score() takes a reward name, a Reward subclass (e.g. made with @reward) or an instance, "
                        f"got {reward!r}")
    return reward(params)


def score(reward: str | type[Reward] | Reward, completions: Sequence[str | list] | Sequence[Rollout], *,
          params: Mapping[str, Any] | None = None, variant: str = "think", **sample: Any) -> list[float | None]:
    """``reward``'s scores for ``completions``, checked as a training run checks them.

    ``completions`` are texts (or chat messages) scored on the sample that
    ``sample`` describes (the keywords of :func:`rollouts`), or ready
    :class:`~medr1_core.Rollout` objects. ``params`` are validated as in a run
    (:class:`~medr1_core.rewards.RewardParamsError` names the parameter). A
    reward that raises, returns the wrong number of scores, or a score that is
    not ``None`` or a finite number in its ``range`` raises, naming the reward.
    """
    from .composition import ComposedRewards

    built = _instance(reward, params)
    batch = list(completions)
    if not all(isinstance(c, Rollout) for c in batch):
        batch = rollouts(batch, variant=variant, **sample)
    composed = ComposedRewards([built], names=[built.name or type(built).__name__], strict=True)
    return composed.score_one(0, batch)


def tree_problems(tree: str | Path | Mapping) -> list[str]:
    """Every problem with a decision tree, ``[]`` if it is valid.

    ``tree`` is a tree file, a folder of them, a parsed tree (a mapping) or the
    name of a registered tree (``medr1 rules list``). The messages are those of
    ``medr1 rules validate``: file, JSON path, what was expected.
    """
    dtree = _plugins.get_plugins().rewards.get("dtree")
    return dtree.tree_problems(tree)
