"""Decision-tree files: load, validate, walk, and judge a completion against one.

A tree file (YAML or JSON, see ``trees/`` and ``docs/rewards.md``) is data
checked against ``dtree.schema.json`` and then for meaning (every name it uses
exists, every node is reachable, no loops). Errors name the file, the JSON
path (``$.nodes[2].if.any[0].finding``) and what was expected.

Judging one completion (:func:`judge`):

1. The tree's findings are looked for in the think text
   (:class:`~medr1_plugins.rewards.dtree_text.TermMatcher`): a finding is
   *present* if some mention is not negated, *absent* if it is only mentioned
   negated.
2. The nodes are walked from ``start``; the walk ends at a conclusion, or at
   ``{conclude: null}`` (the reasoning does not decide).
3. The conclusion is compared with the option the model chose and the ground
   truth, each mapped to the tree's conclusions through their texts.

Rule files are untrusted data, so reading one is bounded: at most
:data:`MAX_FILE_BYTES`, :data:`MAX_ALIASES` YAML aliases, :data:`MAX_VALUES`
values once aliases are expanded (a YAML "billion laughs" is refused, not
expanded), :data:`MAX_DEPTH` levels of nesting, :data:`MAX_NODES` nodes and
:data:`MAX_PATHS` decision paths (branches that share sub-nodes multiply
paths). ``question_patterns`` run on RE2 (google-re2), whose matching time is
linear in the text: a pattern such as ``^(a+)+$`` cannot hang scoring, and
what RE2 cannot run in linear time (backreferences, look-around) is refused
when the tree is loaded.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medr1_core.errors import ConfigError, MissingDependency

from .dtree_text import TermMatcher, term_words, tokenize

#: Limits on one rule file (see the module doc).
MAX_FILE_BYTES = 1024 * 1024
MAX_ALIASES = 100
MAX_VALUES = 100_000
MAX_DEPTH = 40
MAX_NODES = 200
MAX_PATHS = 10_000
MAX_PATTERN_CHARS = 1000

SCHEMA_PATH = Path(__file__).with_name("dtree.schema.json")
SHIPPED_DIR = Path(__file__).with_name("trees")
TREE_SUFFIXES = (".yaml", ".yml", ".json")

_YES = frozenset({"yes", "y", "true"})
_NO = frozenset({"no", "n", "false"})
_ABNORMAL_QUESTION = re.compile(
    r"abnormal|anomal|aberration|deviation|lesion|patholog|disease|\bsigns? of\b|unusual|irregularit", re.I
)


class TreeError(ConfigError):
    """One or more decision-tree files are invalid; ``errors`` lists each problem."""

    def __init__(self, errors: Sequence[str]):
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


# --- loading and validation ------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _validator():
    from jsonschema import Draft202012Validator

    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return Draft202012Validator(schema)


def tree_files(paths: Iterable[str | Path]) -> list[Path]:
    """Tree files named by ``paths``: files as given, directories' ``*.yaml|yml|json`` sorted."""
    files: list[Path] = []
    for p in paths:
        p = Path(p).expanduser()
        if p.is_dir():
            files.extend(sorted(f for f in p.iterdir() if f.suffix in TREE_SUFFIXES and f.is_file()))
        else:
            files.append(p)
    return files


def read_tree_data(path: Path) -> Any:
    """The parsed YAML/JSON of a tree file, within the limits of the module doc; TreeError naming the file
    (and line) if it cannot be read or is too large."""
    import yaml

    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise TreeError([f"{path}: {size / 2**20:.1f} MiB; a rule file may hold at most "
                             f"{MAX_FILE_BYTES / 2**20:g} MiB"])
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise TreeError([f"{path}: cannot read: {exc.strerror or exc}"]) from None
    except UnicodeDecodeError as exc:
        raise TreeError([f"{path}: not UTF-8 text (byte {exc.start + 1} is {exc.object[exc.start]:#04x}); "
                         "save the rule file as UTF-8"]) from None
    try:
        if path.suffix == ".json":
            data = json.loads(text)
        else:
            _check_aliases(text, path)
            data = yaml.safe_load(text)
    except RecursionError:
        raise TreeError([f"{path}: nested too deeply to read (at most {MAX_DEPTH} levels)"]) from None
    except json.JSONDecodeError as exc:
        raise TreeError([f"{path}: line {exc.lineno}: invalid JSON: {exc.msg}"]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise TreeError([f"{path}: {where}invalid YAML: {getattr(exc, 'problem', None) or exc}"]) from None
    _check_size(data, path)
    return data


def _check_aliases(text: str, path: Path) -> None:
    """At most :data:`MAX_ALIASES` YAML aliases (``*name``), counted by the scanner (linear, nothing built)."""
    import yaml

    if "*" not in text:
        return
    aliases = 0
    for token in yaml.scan(text, Loader=yaml.SafeLoader):
        if isinstance(token, yaml.AliasToken):
            aliases += 1
            if aliases > MAX_ALIASES:
                raise TreeError([f"{path}: line {token.start_mark.line + 1}: more than {MAX_ALIASES} YAML aliases "
                                 "(*name); a rule file may repeat shared parts only that often"])


def _check_size(data: Any, path: Path) -> None:
    """At most :data:`MAX_VALUES` values (aliases expanded) and :data:`MAX_DEPTH` levels, counted without recursion
    and stopping at the limit, so a YAML alias bomb or a self-referencing alias costs no more than the limit."""
    stack = [(data, 1)]
    values = 0
    while stack:
        value, depth = stack.pop()
        values += 1
        if values > MAX_VALUES:
            raise TreeError([f"{path}: more than {MAX_VALUES:,} values once YAML aliases are expanded (an alias bomb?); "
                             "a rule file must be smaller"])
        if depth > MAX_DEPTH:
            raise TreeError([f"{path}: nested more than {MAX_DEPTH} levels deep; simplify the conditions"])
        if isinstance(value, Mapping):
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)


def compile_pattern(pattern: str):
    """``pattern`` compiled by RE2 (linear-time, case-insensitive); ``ValueError`` saying why it cannot be."""
    try:
        import re2
    except ImportError:
        raise MissingDependency("question_patterns need google-re2 (a linear-time regular-expression engine): "
                                "pip install google-re2") from None
    if len(pattern) > MAX_PATTERN_CHARS:
        raise ValueError(f"longer than {MAX_PATTERN_CHARS} characters")
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    options.max_mem = 8 << 20
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise ValueError(f"not a pattern the linear-time engine (RE2) can run: {reason} (backreferences and "
                         "look-around are not supported)") from None


def _schema_message(error) -> str:
    if error.validator in ("anyOf", "oneOf"):
        kind = type(error.instance).__name__
        details = [
            c.message for c in (error.context or []) if c.validator != "type" and type(c.instance).__name__ == kind
        ]
        expected = error.schema.get("description") or "one of the allowed forms"
        return f"expected {expected}" + (f" ({'; '.join(details)})" if details else f"; got {error.instance!r}")
    if error.validator in ("maxProperties", "minProperties") and str(error.schema.get("description", "")).startswith(
        "exactly one test"
    ):
        got = ", ".join(error.instance) or "nothing"
        return f"a condition must have exactly one test (finding, absent, any, all, not, at_least); got {got}"
    return error.message


def validate_tree_data(data: Any, source: str) -> list[str]:
    """Every problem with a parsed tree, as ``"<source>: <JSON path>: <message>"``."""
    if not isinstance(data, Mapping):
        return [f"{source}: $: a tree must be a mapping with scope, findings, conclusions and nodes; got "
                f"{type(data).__name__}"]
    errors = [f"{source}: {e.json_path}: {_schema_message(e)}" for e in
              sorted(_validator().iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))]
    if errors:
        return errors
    return [f"{source}: {where}: {msg}" for where, msg in _semantic_errors(data)]


def _semantic_errors(data: Mapping) -> list[tuple[str, str]]:
    errors: list[tuple[str, str]] = []
    findings = data["findings"]
    conclusions = data["conclusions"]
    nodes = data["nodes"]

    for kind, table in (("findings", findings), ("conclusions", conclusions)):
        for name, value in table.items():
            terms = value["terms"] if isinstance(value, Mapping) else value
            for i, term in enumerate(terms):
                if not term_words(term):
                    errors.append((f"$.{kind}.{name}[{i}]", f"term {term!r} has no words"))

    scope = data.get("scope") or {}
    for i, pattern in enumerate(scope.get("question_patterns") or []):
        try:
            compile_pattern(pattern)
        except ValueError as exc:
            errors.append((f"$.scope.question_patterns[{i}]", f"invalid regular expression: {exc}"))
    errors.extend(_scope_name_errors(scope))

    if len(nodes) > MAX_NODES:
        return errors + [("$.nodes", f"{len(nodes)} nodes; a tree may have at most {MAX_NODES}")]
    ids: dict[str, int] = {}
    for i, node in enumerate(nodes):
        if node["id"] in ids:
            errors.append((f"$.nodes[{i}].id", f"node id '{node['id']}' is already used by $.nodes[{ids[node['id']]}]"))
        else:
            ids[node["id"]] = i

    def check_condition(cond: Mapping, where: str) -> None:
        (key, value), = cond.items()
        if key in ("finding", "absent"):
            if value not in findings:
                errors.append((f"{where}.{key}", _unknown("finding", value, findings)))
        elif key in ("any", "all"):
            for j, sub in enumerate(value):
                check_condition(sub, f"{where}.{key}[{j}]")
        elif key == "not":
            check_condition(value, f"{where}.not")
        elif key == "at_least":
            for j, name in enumerate(value["of"]):
                if name not in findings:
                    errors.append((f"{where}.at_least.of[{j}]", _unknown("finding", name, findings)))
            if value["n"] > len(value["of"]):
                errors.append((f"{where}.at_least.n", f"n={value['n']} but only {len(value['of'])} findings listed"))

    def check_target(target: Any, where: str) -> None:
        if isinstance(target, str):
            if target not in ids:
                errors.append((where, _unknown("node", target, ids)))
        elif target["conclude"] is not None and target["conclude"] not in conclusions:
            errors.append((f"{where}.conclude", _unknown("conclusion", target["conclude"], conclusions)))

    for i, node in enumerate(nodes):
        check_condition(node["if"], f"$.nodes[{i}].if")
        check_target(node["then"], f"$.nodes[{i}].then")
        if "else" in node:
            check_target(node["else"], f"$.nodes[{i}].else")

    start = data.get("start", nodes[0]["id"])
    if start not in ids:
        errors.append(("$.start", _unknown("node", start, ids)))
    if errors:
        return errors

    # loops and unreachable nodes
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(node_id: str) -> None:
        state[node_id] = 1
        i = ids[node_id]
        for branch in ("then", "else"):
            target = nodes[i].get(branch)
            if isinstance(target, str):
                if state.get(target) == 1:
                    errors.append((f"$.nodes[{i}].{branch}", f"goes back to node '{target}': trees cannot loop"))
                elif target not in state:
                    visit(target)
        state[node_id] = 2

    visit(start)
    for node_id, i in ids.items():
        if node_id not in state:
            errors.append((f"$.nodes[{i}]", f"node '{node_id}' is never reached from start node '{start}'"))
    if not errors:
        paths = count_paths(nodes, ids, start)
        if paths > MAX_PATHS:
            errors.append(("$.nodes", f"more than {MAX_PATHS:,} decision paths from '{start}' to a leaf (branches "
                                      "that lead to the same nodes multiply them); merge or simplify the branches"))
    return errors


def count_paths(nodes: Sequence[Mapping], ids: Mapping[str, int], start: str, cap: int = MAX_PATHS) -> int:
    """How many paths lead from ``start`` to a leaf (capped at ``cap + 1``), counted once per node, not per path."""
    memo: dict[str, int] = {}

    def paths(node_id: str) -> int:
        if node_id not in memo:
            node = nodes[ids[node_id]]
            total = 0
            for branch in ("then", "else"):
                target = node.get(branch, {"conclude": None})
                total += paths(target) if isinstance(target, str) else 1
            memo[node_id] = min(total, cap + 1)
        return memo[node_id]

    return paths(start)


def _unknown(kind: str, name: str, known: Iterable[str]) -> str:
    from rapidfuzz import fuzz, process

    known = sorted(known)
    hint = process.extractOne(name, known, scorer=fuzz.ratio, score_cutoff=60) if known else None
    msg = f"unknown {kind} '{name}'"
    if hint:
        msg += f" (did you mean '{hint[0]}'?)"
    return msg + f"; expected one of: {', '.join(known)}"


def _scope_name_errors(scope: Mapping) -> list[tuple[str, str]]:
    from medr1_core.plugins import get_plugins

    plugins = get_plugins()
    errors = []
    for key, registry in (("modalities", plugins.modalities), ("tasks", plugins.tasks)):
        for i, label in enumerate(scope.get(key) or []):
            if registry.resolve(label) is None:
                errors.append((f"$.scope.{key}[{i}]", _unknown(registry.kind, label, registry.names())))
    return errors


# --- compiled trees --------------------------------------------------------------


@dataclass
class Tree:
    """A validated decision tree, compiled for fast walking."""

    id: str
    title: str
    source: str
    references: tuple[str, ...]
    modalities: frozenset[str]
    tasks: frozenset[str]
    patterns: tuple  # RE2 patterns (compile_pattern)
    findings: dict[str, tuple[str, ...]]
    conclusions: dict[str, tuple[str, ...]]
    normal: frozenset[str]
    nodes: dict[str, dict]
    start: str
    leaf_paths: list[tuple[tuple[tuple[str, bool], ...], str | None]] = field(default_factory=list)
    origin: str = ""
    """The plugin that registered the tree (``medr1_register_rules``); empty for a file given by path."""
    # set by bind():
    matcher: TermMatcher | None = None
    term_findings: dict[int, tuple[str, ...]] = field(default_factory=dict)
    term_conclusions: dict[int, tuple[str, ...]] = field(default_factory=dict)

    def bind(self, *, fuzzy_threshold: float = 90.0, window: int = 6) -> None:
        """Build this tree's own :class:`TermMatcher` (its terms only: fewer candidates to test)."""
        matcher = self.matcher = TermMatcher((), fuzzy_threshold=fuzzy_threshold, window=window)
        tf: dict[int, list[str]] = {}
        for name, terms in self.findings.items():
            for t in terms:
                names = tf.setdefault(matcher.add(t), [])
                if name not in names:  # synonyms can fold to the same term ("bronchogram(s)")
                    names.append(name)
        tc: dict[int, list[str]] = {}
        for name, terms in self.conclusions.items():
            for t in terms:
                names = tc.setdefault(matcher.add(t), [])
                if name not in names:
                    names.append(name)
        self.term_findings = {k: tuple(v) for k, v in tf.items()}
        self.term_conclusions = {k: tuple(v) for k, v in tc.items()}


def compile_tree(data: Mapping, path: Path) -> Tree:
    """A :class:`Tree` from validated data, with scope labels resolved to canonical ids."""
    from medr1_core.plugins import get_plugins

    plugins = get_plugins()
    scope = data.get("scope") or {}
    conclusions, normal = {}, set()
    for name, value in data["conclusions"].items():
        if isinstance(value, Mapping):
            conclusions[name] = tuple(value["terms"])
            if value.get("normal"):
                normal.add(name)
        else:
            conclusions[name] = tuple(value)
    nodes = {n["id"]: n for n in data["nodes"]}
    tree = Tree(
        id=data.get("id") or path.stem,
        title=data.get("title") or path.stem,
        source=str(path),
        references=tuple(data.get("references") or ()),
        modalities=frozenset(plugins.modalities.resolve(m) for m in scope.get("modalities") or ()),
        tasks=frozenset(plugins.tasks.resolve(t) for t in scope.get("tasks") or ()),
        patterns=tuple(compile_pattern(p) for p in scope.get("question_patterns") or ()),
        findings={k: tuple(v) for k, v in data["findings"].items()},
        conclusions=conclusions,
        normal=frozenset(normal),
        nodes=nodes,
        start=data.get("start", data["nodes"][0]["id"]),
    )
    tree.leaf_paths = list(_leaf_paths(tree, tree.start, ()))
    return tree


def _leaf_paths(tree: Tree, node_id: str, prefix: tuple) -> Iterable[tuple[tuple[tuple[str, bool], ...], str | None]]:
    node = tree.nodes[node_id]
    for outcome, branch in ((True, "then"), (False, "else")):
        target = node.get(branch, {"conclude": None})
        steps = prefix + ((node_id, outcome),)
        if isinstance(target, str):
            yield from _leaf_paths(tree, target, steps)
        else:
            yield steps, target["conclude"]


def load_tree(path: str | Path) -> Tree:
    """Read, validate and compile one tree file; :class:`TreeError` lists every problem."""
    path = Path(path)
    data = read_tree_data(path)
    errors = validate_tree_data(data, str(path))
    if errors:
        raise TreeError(errors)
    return compile_tree(data, path)


def load_trees(paths: Iterable[str | Path]) -> list[Tree]:
    """Load every tree in ``paths`` (files or folders); errors of all files together."""
    trees, errors, seen = [], [], {}
    for f in tree_files(paths):
        try:
            tree = load_tree(f)
        except TreeError as exc:
            errors.extend(exc.errors)
            continue
        if tree.id in seen:
            errors.append(f"{f}: $.id: tree id '{tree.id}' is already used by {seen[tree.id]}")
            continue
        seen[tree.id] = f
        trees.append(tree)
    if errors:
        raise TreeError(errors)
    return trees


def load_registered(rules: Iterable[tuple[object, str]]) -> tuple[list[Tree], list[str]]:
    """Compile registered rule files: ``(RuleFile, origin)`` pairs -> ``(trees, errors)``.

    Each error names the tree, the plugin that registered it and the problem
    (the file, the JSON path and what was expected).
    """
    trees, errors = [], []
    for rule, origin in rules:
        where = f"rule file '{rule.name}' registered by {origin}"
        try:
            if rule.path is not None:
                data = read_tree_data(Path(rule.path))
            else:
                data = rule.data
            problems = validate_tree_data(data, rule.source)
            if problems:
                raise TreeError(problems)
            tree = compile_tree(data, Path(rule.path) if rule.path is not None else Path(rule.name))
        except TreeError as exc:
            errors.extend(f"{where}: {e}" for e in exc.errors)
            continue
        if tree.id != rule.name:
            errors.append(f"{where}: {rule.source}: $.id: tree id '{tree.id}' differs from the name it is registered "
                          f"under ('{rule.name}', its file name); rename the file or set id: {rule.name}")
            continue
        tree.origin = origin
        trees.append(tree)
    return trees, errors


# --- walking and judging ---------------------------------------------------------


def finding_states(tree: Tree, status: Mapping[int, tuple[bool, bool]]) -> tuple[set[str], set[str]]:
    """``(present, absent)`` findings of ``tree`` from a matcher status."""
    present: set[str] = set()
    negated: set[str] = set()
    tf = tree.term_findings
    for tid, (aff, neg) in status.items():
        names = tf.get(tid)
        if names:
            if aff:
                present.update(names)
            if neg:
                negated.update(names)
    return present, negated - present


def evaluate(cond: Mapping, present: set[str], absent: set[str]) -> bool:
    """Whether a condition holds for these findings."""
    (key, value), = cond.items()
    if key == "finding":
        return value in present
    if key == "absent":
        return value in absent
    if key == "any":
        return any(evaluate(c, present, absent) for c in value)
    if key == "all":
        return all(evaluate(c, present, absent) for c in value)
    if key == "not":
        return not evaluate(value, present, absent)
    return sum(name in present for name in value["of"]) >= value["n"]  # at_least


def walk(tree: Tree, present: set[str], absent: set[str]) -> tuple[list[tuple[str, bool]], str | None]:
    """The path ``[(node id, condition held), ...]`` and the conclusion it reaches (or None)."""
    path: list[tuple[str, bool]] = []
    node_id = tree.start
    while True:
        node = tree.nodes[node_id]
        outcome = evaluate(node["if"], present, absent)
        path.append((node_id, outcome))
        target = node["then"] if outcome else node.get("else", {"conclude": None})
        if isinstance(target, str):
            node_id = target
        else:
            return path, target["conclude"]


def text_conclusions(tree: Tree, text: str) -> frozenset[str]:
    """Conclusions whose terms ``text`` mentions without negating them."""
    return _conclusion_mentions(tree, text)[0]


def _conclusion_mentions(tree: Tree, text: str) -> tuple[frozenset[str], frozenset[str]]:
    """``(affirmed, only negated)`` conclusions mentioned in ``text``."""
    affirmed: set[str] = set()
    negated: set[str] = set()
    tc = tree.term_conclusions
    for tid, (aff, neg) in tree.matcher.match(text).items():
        if tid in tc:
            if aff:
                affirmed.update(tc[tid])
            if neg:
                negated.update(tc[tid])
    return frozenset(affirmed), frozenset(negated - affirmed)


def option_conclusions(tree: Tree, question: str, options: Mapping[str, str]) -> dict[str, frozenset[str]]:
    """Each option letter's conclusions: by its text, or for a bare Yes/No, by the question.

    An option that only negates conclusions (``COVID-19 negative``) stands
    for every other conclusion.
    ``Yes``/``No`` to a question naming conclusions (``Is this COVID-19?``)
    map to those conclusions / all others; to a question about abnormality
    (``Is there any abnormality?``) to the non-normal / ``normal:`` ones.
    """
    mapping: dict[str, frozenset[str]] = {}
    bare: dict[str, str] = {}
    everything = frozenset(tree.conclusions)
    for letter, text in options.items():
        found, negated = _conclusion_mentions(tree, str(text))
        if found:
            mapping[str(letter).upper()] = found
            continue
        if negated:  # "COVID-19 negative", "No pneumonia": any other conclusion
            mapping[str(letter).upper()] = everything - negated
            continue
        words = [t for t in tokenize(str(text)) if t.isalnum()]
        if words and words[0] in _YES and len(words) <= 2:
            bare[str(letter).upper()] = "yes"
        elif words and words[0] in _NO and len(words) <= 2:
            bare[str(letter).upper()] = "no"
    if bare:
        named = text_conclusions(tree, question)
        asked = named - tree.normal  # "Is this COVID-19?"
        if not asked and tree.normal and _ABNORMAL_QUESTION.search(question):
            asked = everything - tree.normal  # "Any deviation from the normal?"
        if not asked:
            asked = named  # "Is it within normal limits?"
        if asked:
            for letter, polarity in bare.items():
                mapping[letter] = asked if polarity == "yes" else everything - asked
    return {k: v for k, v in mapping.items() if v}


def depth_credit(tree: Tree, path: Sequence[tuple[str, bool]], truth: frozenset[str]) -> float:
    """How far the path went toward a true conclusion: of the positive tests on
    the nearest path to one, the fraction the reasoning passed (0..1)."""
    best = 0.0
    for steps, conclusion in tree.leaf_paths:
        if conclusion not in truth:
            continue
        needed = sum(1 for _node, outcome in steps if outcome)
        if not needed:
            continue
        k = 0
        for a, b in zip(path, steps):
            if a != b:
                break
            k += a[1]
        best = max(best, k / needed)
    return best


@dataclass
class Verdict:
    """How one tree judged one completion (what ``medr1 rules explain`` prints)."""

    tree: str
    score: float
    reason: str
    path: list[tuple[str, bool]]
    conclusion: str | None
    present: set[str]
    absent: set[str]
    chosen: frozenset[str]
    truth: frozenset[str]

    @property
    def engaged(self) -> bool:
        """Whether the reasoning mentions any of the tree's findings (even negated)."""
        return bool(self.present or self.absent)


def judge(
    tree: Tree,
    status: Mapping[int, tuple[bool, bool]],
    chosen: frozenset[str],
    truth: frozenset[str],
    correct: bool,
    *,
    partial_credit: float = 0.5,
    wrong_but_consistent: float = 0.0,
) -> Verdict:
    """Score the reasoning (matcher ``status`` of the think text) against the answer.

    - 1.0: the path reaches a conclusion the chosen answer states, and the
      chosen answer is the ground truth.
    - ``wrong_but_consistent`` (default 0): it supports the chosen answer, which is wrong.
    - 0.0: it reaches a conclusion the chosen answer does not state.
    - undecided path: ``partial_credit`` x :func:`depth_credit` if the answer
      is right, else 0.
    """
    present, absent = finding_states(tree, status)
    path, conclusion = walk(tree, present, absent)
    if conclusion is not None:
        if conclusion in chosen:
            if correct:
                score, reason = 1.0, f"reasoning concludes '{conclusion}', the chosen and correct answer"
            else:
                score = wrong_but_consistent
                reason = f"reasoning concludes '{conclusion}' as the answer does, but the answer is wrong"
        else:
            said = ", ".join(sorted(chosen)) or "no conclusion of this tree"
            score, reason = 0.0, f"reasoning concludes '{conclusion}' but the answer states {said}"
    elif correct:
        frac = depth_credit(tree, path, truth)
        score = partial_credit * frac
        reason = f"reasoning reaches no conclusion; {frac:.0%} of the way to the correct one"
    else:
        score, reason = 0.0, "reasoning reaches no conclusion and the answer is wrong"
    return Verdict(tree.id, score, reason, path, conclusion, present, absent, chosen, truth)
