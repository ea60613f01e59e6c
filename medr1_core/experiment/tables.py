"""The paper's tables from an experiment's predictions, with :mod:`medr1_core.eval`'s statistics.

Nothing here computes a statistic of its own: accuracy cells with 95% Wilson
intervals and paired exact McNemar comparisons are
:func:`medr1_core.eval.matrix.build_matrix` and
:func:`medr1_core.eval.stats.compare_predictions`; heatmaps are
:func:`medr1_core.eval.matrix.write_matrix`'s. What this module adds is the
experiment's shape: one matrix per method and prompt variant (rows: the
training subset, columns: the test subset, base: zero-shot with the same
variant), in-domain vs out-of-domain averages, and method-vs-method and
variant-vs-variant differences on the same questions.

Predictions are the lines of each evaluation's ``predictions.jsonl``; a
question is relabelled with its test subset (and its id prefixed with it), so
test subsets that share questions are compared subset by subset.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations
from pathlib import Path
from typing import Any

from ..eval.matrix import IMPROVEMENT_PNG, MATRIX_PNG, build_matrix, matrix_markdown, write_matrix
from ..eval.stats import compare_predictions, percent_text

#: predictions of one cell: test subset label -> prediction dicts
CellPredictions = Mapping[str, Sequence[Mapping[str, Any]]]


def pooled(predictions: CellPredictions, by: str) -> list[dict[str, Any]]:
    """A cell's predictions on every test subset, each labelled with its subset (``by`` field and id)."""
    return [{**p, "id": f"{test}/{p['id']}", by: test} for test, preds in predictions.items() for p in preds]


def in_domain(train: tuple[str, ...] | None, test: tuple[str, ...]) -> bool:
    """A test subset is in-domain for a training subset holding all its modalities (tasks)."""
    return train is not None and set(test) <= set(train)


def build_tables(cells: Sequence[Any], predictions: Mapping[str, CellPredictions], *, by: str,
                 tests: Mapping[str, tuple[str, ...]], alpha: float = 0.05) -> dict[str, Any]:
    """Every table of the experiment from the finished cells' ``predictions`` (cell id -> test -> predictions).

    Returns ``{"matrices": {"<method>-<variant>": matrix}, "accuracy": [...], "improvement": [...],
    "in_domain_vs_out_of_domain": [...], "methods": [...], "variants": [...]}``, the lists one row dict each.
    """
    done = [c for c in cells if c.id in predictions]
    columns = list(tests)
    zero = {c.variant: pooled(predictions[c.id], by) for c in done if c.method == "zero_shot"}
    matrices: dict[str, Any] = {}
    trained_variants = {c.variant for c in done if c.method != "zero_shot"}
    for method, variant in dict.fromkeys((c.method, c.variant) for c in done):
        if method == "zero_shot" and variant in trained_variants:
            continue  # zero-shot is the base row of that variant's matrices
        group = [c for c in done if c.method == method and c.variant == variant]
        rows = {(c.train_label or "zero_shot"): pooled(predictions[c.id], by) for c in group}
        base = zero.get(variant) if method != "zero_shot" else None
        matrices[f"{method}-{variant}"] = build_matrix(rows, by=by, base=base, base_name="zero_shot", alpha=alpha,
                                                       column_order=columns)
    trained = {c.id: c for c in done if c.method != "zero_shot"}
    return {
        "matrices": matrices,
        "accuracy": _accuracy_rows(done, matrices),
        "improvement": _improvement_rows(done, matrices),
        "in_domain_vs_out_of_domain": _domain_rows(done, matrices, tests, zero_present=bool(zero)),
        "methods": _pairs(list(trained.values()), predictions, by, alpha, key="method", within="variant"),
        "variants": _pairs(done, predictions, by, alpha, key="variant", within="method"),
    }


def _row_name(cell) -> str:
    return cell.train_label or "zero_shot"


def _accuracy_rows(cells, matrices) -> list[dict[str, Any]]:
    out = []
    for c in cells:
        m = matrices.get(f"{c.method}-{c.variant}")
        if m is None:  # zero-shot: the base row of its variant's matrices
            m = next(x for k, x in matrices.items() if k.endswith(f"-{c.variant}") and x.get("base"))
            found = m["base"]
        else:
            found = m["accuracy"][_row_name(c)]
        for test in m["columns"]:
            cell = found.get(test)
            if cell and cell["n"]:
                out.append({"method": c.method, "variant": c.variant, "train": c.train_label, "test": test,
                            "n": cell["n"], "accuracy": cell["accuracy"], "ci95": cell["ci95"]})
    return out


def _improvement_rows(cells, matrices) -> list[dict[str, Any]]:
    out = []
    for c in cells:
        m = matrices.get(f"{c.method}-{c.variant}") or {}
        for test, cell in ((m.get("improvement") or {}).get(_row_name(c)) or {}).items():
            if cell["n"]:
                out.append({"method": c.method, "variant": c.variant, "train": c.train_label, "test": test,
                            "n": cell["n"], "difference": cell["difference"], "p_value": cell["p_value"],
                            "significant": cell["significant"]})
    return out


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _domain_rows(cells, matrices, tests, *, zero_present: bool) -> list[dict[str, Any]]:
    """Per method and variant: the mean accuracy of its in-domain and out-of-domain cells (each cell counts
    once, as the paper averages), and zero-shot's on the same cells."""
    out = []
    for key, m in matrices.items():
        method, variant = key.split("-", 1)
        group = [c for c in cells if c.method == method and c.variant == variant]
        sums: dict[str, list[float]] = {"in": [], "out": [], "zero_in": [], "zero_out": []}
        for c in group:
            if c.train_subset is None:
                continue
            for test, names in tests.items():
                acc = (m["accuracy"][_row_name(c)].get(test) or {}).get("accuracy")
                base = ((m.get("base") or {}).get(test) or {}).get("accuracy")
                side = "in" if in_domain(c.train_subset, names) else "out"
                if acc is not None:
                    sums[side].append(acc)
                if base is not None:
                    sums[f"zero_{side}"].append(base)
        if method == "zero_shot":
            continue
        out.append({"method": method, "variant": variant, "in_domain": _mean(sums["in"]),
                    "out_of_domain": _mean(sums["out"]), "in_domain_cells": len(sums["in"]),
                    "out_of_domain_cells": len(sums["out"]),
                    "zero_shot_in_domain": _mean(sums["zero_in"]) if zero_present else None,
                    "zero_shot_out_of_domain": _mean(sums["zero_out"]) if zero_present else None})
    return out


def _pairs(cells, predictions, by: str, alpha: float, *, key: str, within: str) -> list[dict[str, Any]]:
    """Paired differences between cells differing only in ``key`` (method or variant), over every test subset:
    B minus A on the questions both answered, exact McNemar."""
    out = []
    groups: dict[tuple, dict[str, Any]] = {}
    for c in cells:
        groups.setdefault((getattr(c, within), c.train_subset), {})[getattr(c, key)] = c
    for (fixed, train), members in groups.items():
        for a, b in combinations(members, 2):
            result = compare_predictions(pooled(predictions[members[a].id], by), pooled(predictions[members[b].id], by),
                                         alpha=alpha)["overall"]
            out.append({within: fixed, "train": members[a].train_label, "a": a, "b": b, "n": result["n"],
                        "accuracy_a": result["accuracy_a"], "accuracy_b": result["accuracy_b"],
                        "difference": result["difference"], "p_value": result["p_value"],
                        "significant": result["significant"]})
    return out


def write_figures(root: Path, matrices: Mapping[str, Any]) -> dict[str, str]:
    """Each matrix's heatmaps (accuracy, and improvement over zero-shot) under ``root/matrices/<method>-<variant>/``;
    returns caption -> path relative to ``root``."""
    figures = {}
    for key, matrix in matrices.items():
        folder = root / "matrices" / key
        paths = write_matrix(folder, matrix)
        method, variant = key.split("-", 1)
        figures[f"{method}, {variant}: accuracy"] = str(Path("matrices") / key / MATRIX_PNG)
        if "improvement_png" in paths:
            figures[f"{method}, {variant}: improvement over zero-shot"] = str(Path("matrices") / key / IMPROVEMENT_PNG)
    return figures


def _p(value: float | None) -> str:
    return "" if value is None else (f"{value:.3f}" if value >= 1e-3 else f"{value:.1e}")


def _diff(value: float | None, significant: bool = False) -> str:
    return "" if value is None else f"{100 * value:+.1f}" + ("*" if significant else "")


def summary_markdown(name: str, header: Sequence[str], tables: Mapping[str, Any], alpha: float) -> str:
    """``summary.md``: the settings, each method x variant matrix (:func:`~medr1_core.eval.matrix.matrix_markdown`),
    in-domain vs out-of-domain, methods and variants compared."""
    lines = [f"# Experiment {name}", "", *header, ""]
    for key, matrix in tables["matrices"].items():
        method, variant = key.split("-", 1)
        lines += [f"## {method}, {variant}", ""]
        body = matrix_markdown(matrix).splitlines()[1:]
        while body and not body[0].strip():
            body.pop(0)
        lines += ["#" + line if line.startswith("#") else line for line in body]
        lines.append("")
    domain = tables["in_domain_vs_out_of_domain"]
    if domain:
        lines += ["## In-domain vs out-of-domain", "",
                  "Mean accuracy (%) over the cells whose test subset the model was trained on (in-domain) and "
                  "the others (out-of-domain); zero-shot on the same cells.", "",
                  "| method | variant | in-domain | out-of-domain | zero-shot in | zero-shot out | cells in/out |",
                  "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
        for r in domain:
            lines.append(f"| {r['method']} | {r['variant']} | {percent_text(r['in_domain'])} | "
                         f"{percent_text(r['out_of_domain'])} | {percent_text(r['zero_shot_in_domain'])} | "
                         f"{percent_text(r['zero_shot_out_of_domain'])} | {r['in_domain_cells']}/"
                         f"{r['out_of_domain_cells']} |")
        lines.append("")
    for title, key, within in (("Method vs method", "methods", "variant"), ("Variant vs variant", "variants", "method")):
        rows = tables[key]
        if not rows:
            continue
        lines += [f"## {title}", "",
                  f"B minus A in percentage points over every test subset, on the questions both answered; "
                  f"`*`: exact McNemar p < {alpha}.", "",
                  f"| {within} | trained on | A | B | n | A % | B % | B-A | p |",
                  "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: |"]
        for r in rows:
            lines.append(f"| {r[within]} | {r['train'] or '-'} | {r['a']} | {r['b']} | {r['n']} | "
                         f"{percent_text(r['accuracy_a'])} | {percent_text(r['accuracy_b'])} | "
                         f"{_diff(r['difference'], r['significant'])} | {_p(r['p_value'])} |")
        lines.append("")
    return "\n".join(lines)
