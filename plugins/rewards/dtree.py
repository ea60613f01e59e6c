"""The ``dtree`` reward: does the reasoning's decision path support the answer?

Trees are data files (``trees/*.yaml``, checked against
``dtree.schema.json``); the engine is :mod:`.dtree_text` (finding terms,
negation) and :mod:`.dtree_rules` (validation, walking, judging).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from medr1_core import Reward
from medr1_core.rewards import RelativeToConfig
from medr1_core.samples import Rollout, Sample

from .dtree_rules import (
    Tree,
    TreeError,
    Verdict,
    compile_tree,
    finding_states,
    judge,
    load_registered,
    load_trees,
    option_conclusions,
    read_tree_data,
    text_conclusions,
    tree_files,
    validate_tree_data,
    walk,
)
from .dtree_text import tokenize


class DTreeParams(BaseModel):
    """Parameters of the ``dtree`` reward."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    trees: Annotated[list[str], RelativeToConfig()] = Field(default_factory=list)
    """Extra tree files or folders (their ``*.yaml``, ``*.yml``, ``*.json``); relative paths in a config file
    resolve against the file's folder."""
    only: list[str] | None = None
    """Use only the trees with these ids (file stems); default: every tree."""
    shipped: bool = True
    """Include the registered trees: medr1's own and those installed plugins ship (``medr1 rules list``)."""
    fuzzy_threshold: float = Field(90.0, ge=50, le=100)
    """rapidfuzz ``ratio`` a misspelt word (5+ letters) needs to match a term word; 100: exact only."""
    negation_window: int = Field(6, ge=1, le=20)
    """Words between a negation cue and the finding it negates."""
    partial_credit: float = Field(0.5, ge=0, le=1)
    """Most a correct answer earns when the reasoning reaches no conclusion (scaled by depth)."""
    wrong_but_consistent: float = Field(0.0, ge=0, le=1)
    """Score when the reasoning supports the chosen answer but that answer is wrong."""

    @field_validator("trees")
    @classmethod
    def _exist(cls, paths: list[str]) -> list[str]:
        missing = [p for p in paths if not Path(p).expanduser().exists()]
        if missing:
            raise ValueError(f"no such tree file or folder: {', '.join(missing)}")
        return paths


class DTreeReward(Reward):
    """Score whether the reasoning's decision-tree path supports the chosen, correct answer.

    For each tree that applies to the sample (its scope's modalities, tasks and
    question patterns, and the ground truth maps to one of its conclusions), the
    think text's findings (fuzzy, negation-aware) walk the tree to a
    conclusion: 1 if it is the chosen answer and that is correct; 0 if it is a
    different conclusion from the one chosen; ``partial_credit`` scaled by depth
    if the walk stops undecided but the answer is right. Several trees: the
    mean over those whose findings the reasoning mentions (0 if it mentions
    none of any). ``None`` when no tree applies (or the variant has no reasoning).

    Example (``cxr_pneumonia_covid``): "Lobar consolidation with air
    bronchograms in the right lower lobe; no effusion." with answer
    ``Pneumonia`` (correct) scores 1; the same reasoning with answer ``Normal``
    scores 0.
    """

    name = "dtree"
    description = (
        "Radiology decision trees: 1 when the findings in the reasoning lead to the chosen, correct "
        "answer; 0 when they lead elsewhere; partial credit by depth; None where no tree applies."
    )
    Params = DTreeParams
    range = (0.0, 1.0)

    def __init__(self, params=None):
        super().__init__(params)
        p: DTreeParams = self.params
        trees = registered_trees() if p.shipped else []
        taken = {t.id: t.source for t in trees}
        extra = load_trees([Path(t).expanduser() for t in p.trees])
        clashes = [f"{t.source}: $.id: tree id '{t.id}' is already used by {taken[t.id]}" for t in extra
                   if t.id in taken]
        if clashes:
            raise TreeError(clashes)
        trees += extra
        if p.only is not None:
            known = {t.id for t in trees}
            unknown = [name for name in p.only if name not in known]
            if unknown:
                raise TreeError([f"reward 'dtree': parameter 'only': unknown tree(s) {', '.join(unknown)}; "
                                 f"known: {', '.join(sorted(known))}"])
            trees = [t for t in trees if t.id in p.only]
        self.trees: list[Tree] = trees
        for tree in trees:
            tree.bind(fuzzy_threshold=p.fuzzy_threshold, window=p.negation_window)
        self._contexts: dict[tuple, list[tuple[Tree, dict[str, frozenset[str]], frozenset[str]]]] = {}
        self._defaults: dict[str | None, tuple[str, ...]] = {}

    # -- which trees apply ---------------------------------------------------------

    def _default_trees(self, modality: str | None) -> tuple[str, ...]:
        trees = self._defaults.get(modality)
        if trees is None:
            trees = ()
            if modality:
                from medr1_core.plugins import get_plugins

                registry = get_plugins().modalities
                if registry.resolve(modality):
                    trees = tuple(registry.get(modality).default_trees)
            self._defaults[modality] = trees
        return trees

    def why_not(self, tree: Tree, sample: Sample) -> str | None:
        """Why ``tree`` does not apply to ``sample`` (None if its scope matches)."""
        if tree.modalities and sample.modality not in tree.modalities and tree.id not in self._default_trees(
            sample.modality
        ):
            return f"modality {sample.modality!r} is not one of {', '.join(sorted(tree.modalities))}"
        if tree.tasks and sample.task not in tree.tasks:
            return f"task {sample.task!r} is not one of {', '.join(sorted(tree.tasks))}"
        if tree.patterns and not any(p.search(sample.question or "") for p in tree.patterns):
            return "the question matches none of its question_patterns"
        return None

    def contexts(self, sample: Sample) -> list[tuple[Tree, dict[str, frozenset[str]], frozenset[str]]]:
        """``(tree, option letter -> conclusions, true conclusions)`` for each tree that applies."""
        options = sample.options
        key = (sample.modality, sample.task, sample.question, sample.answer,
               tuple(options.items()) if options else None)
        found = self._contexts.get(key)
        if found is None:
            found = []
            for tree in self.trees:
                if self.why_not(tree, sample) is not None:
                    continue
                if options:
                    mapping = option_conclusions(tree, sample.question or "", options)
                    truth = mapping.get((sample.answer or "").strip().upper(), frozenset())
                else:
                    mapping = {}
                    truth = text_conclusions(tree, sample.answer or "")
                if truth:
                    found.append((tree, mapping, truth))
            if len(self._contexts) > 50_000:
                self._contexts.clear()
            self._contexts[key] = found
        return found

    # -- for `medr1 rules` (the CLI reaches these through the reward registry) -----

    @staticmethod
    def check_files(paths: Sequence[str | Path]) -> list[tuple[str, list[str], str]]:
        """``(file, errors, summary)`` for each tree file in ``paths`` (files or folders)."""
        out = []
        for path in tree_files(paths):
            try:
                data = read_tree_data(path)
            except TreeError as exc:
                out.append((str(path), exc.errors, ""))
                continue
            errors = validate_tree_data(data, str(path))
            summary = ""
            if not errors:
                tree = compile_tree(data, path)
                summary = (f"tree '{tree.id}': {len(tree.nodes)} nodes, {len(tree.findings)} findings, "
                           f"conclusions {', '.join(tree.conclusions)}")
            out.append((str(path), errors, summary))
        return out

    @classmethod
    def tree_problems(cls, tree: str | Path | Mapping) -> list[str]:
        """Every problem with a tree file, folder, parsed tree (mapping) or registered tree name; ``[]``: valid."""
        if isinstance(tree, Mapping):
            return validate_tree_data(tree, f"<{tree.get('id', 'tree')}>")
        path = Path(tree).expanduser()
        if path.exists():
            results = cls.check_files([path])
            if not results:
                return [f"{path}: no tree files (*.yaml, *.yml, *.json)"]
            return [error for _file, errors, _summary in results for error in errors]
        from medr1_core.plugins import get_plugins

        registry = get_plugins().rules
        if str(tree) in registry:
            return load_registered([(registry.get(str(tree)), registry.origin(str(tree)))])[1]
        return [f"{tree}: no such tree file or folder, and no registered tree of that name "
                f"(registered: {', '.join(registry.names()) or 'none'})"]

    def explain(self, rollout: Rollout, *, every_tree: bool = False) -> dict:
        """Why ``rollout`` got its score: per tree that applies to its sample, how the options map to the
        tree's conclusions, the findings its reasoning mentions (and negates), the path taken, the
        conclusion and the tree's score. ``every_tree`` adds the trees that do not apply, with why
        (what ``medr1 rules explain`` prints); the run report records the default, short one."""
        sample, completion = rollout.sample, rollout.completion
        think = completion.think or ""
        applying = {id(tree): (mapping, truth) for tree, mapping, truth in self.contexts(sample)}
        trees = []
        for tree in self.trees:
            why_not = self.why_not(tree, sample)
            if not every_tree and (why_not is not None or id(tree) not in applying):
                continue
            if sample.options:
                mapping = option_conclusions(tree, sample.question or "", sample.options)
                truth = mapping.get((sample.answer or "").strip().upper(), frozenset())
                letter = completion.letter
                chosen = mapping.get(letter, frozenset()) if letter else frozenset()
                correct = letter is not None and letter == (sample.answer or "").strip().upper()
            else:
                mapping = {}
                truth = text_conclusions(tree, sample.answer or "")
                chosen = text_conclusions(tree, completion.answer or "")
                correct = bool(chosen & truth)
            if why_not is None and not truth:
                why_not = ("no ground-truth answer given" if not sample.answer
                           else "the correct answer maps to none of its conclusions")
            tokens, mentions = tree.matcher.mentions(think)
            found = []
            for m in mentions:
                for finding in tree.term_findings.get(m.term, ()):
                    found.append({"finding": finding, "text": " ".join(tokens[m.start:m.end]), "negated_by": m.cue})
            status = tree.matcher.match_tokens(tokens)
            present, absent = finding_states(tree, status)
            path, conclusion = walk(tree, present, absent)
            entry = {
                "tree": tree.id, "title": tree.title, "source": tree.source, "references": list(tree.references),
                "applies": why_not is None and id(tree) in applying, "why_not": why_not,
                "options": {k: sorted(v) for k, v in mapping.items()},
                "truth": sorted(truth), "chosen": sorted(chosen), "chosen_letter": completion.letter,
                "mentions": found, "present": sorted(present), "absent": sorted(absent),
                "path": [{"node": n, "held": held, "note": tree.nodes[n].get("note", "")} for n, held in path],
                "conclusion": conclusion, "score": None, "reason": None,
            }
            if entry["applies"] and think.strip():
                v = judge(tree, status, chosen, truth, correct, partial_credit=self.params.partial_credit,
                          wrong_but_consistent=self.params.wrong_but_consistent)
                entry["score"], entry["reason"] = v.score, v.reason
                entry["engaged"] = v.engaged
            trees.append(entry)
        return {"score": self.score([rollout])[0], "trees": trees}

    # -- scoring -------------------------------------------------------------------

    def verdicts(self, rollout: Rollout) -> list[Verdict] | None:
        """Each applying tree's verdict; ``[]`` if none applies; None if there is no reasoning to judge."""
        contexts = self.contexts(rollout.sample)
        if not contexts:
            return []
        completion = rollout.completion
        think = completion.think
        if not think or not think.strip():
            return None
        tokens = tokenize(think)
        sample = rollout.sample
        p: DTreeParams = self.params
        out = []
        for tree, mapping, truth in contexts:
            if sample.options:
                letter = completion.letter
                chosen = mapping.get(letter, frozenset()) if letter else frozenset()
                correct = letter is not None and letter == (sample.answer or "").strip().upper()
            else:
                chosen = text_conclusions(tree, completion.answer or "")
                correct = bool(chosen & truth)
            status = tree.matcher.match_tokens(tokens)
            out.append(judge(tree, status, chosen, truth, correct, partial_credit=p.partial_credit,
                             wrong_but_consistent=p.wrong_but_consistent))
        return out

    def score(self, rollouts: Sequence[Rollout]) -> list[float | None]:
        scores: list[float | None] = []
        for rollout in rollouts:
            verdicts = self.verdicts(rollout)
            if verdicts is None:  # a tree applies but there is no reasoning
                scores.append(None if rollout.completion.variant == "nothink" else 0.0)
            elif not verdicts:
                scores.append(None)
            else:
                scores.append(combine(verdicts))
        return scores


def registered_trees() -> list[Tree]:
    """The trees plugins registered (``medr1_register_rules``, medr1's own included), compiled;
    :class:`TreeError` naming each bad tree and the plugin that registered it."""
    from medr1_core.plugins import get_plugins

    registry = get_plugins().rules
    trees, errors = load_registered((rule, registry.origin(name)) for name, rule in registry.items())
    if errors:
        raise TreeError(errors)
    return trees


def combine(verdicts: Sequence[Verdict]) -> float:
    """The mean over the trees whose findings the reasoning mentions; 0 if it mentions none."""
    engaged = [v.score for v in verdicts if v.engaged]
    return sum(engaged) / len(engaged) if engaged else 0.0
