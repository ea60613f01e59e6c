"""``report.html`` of a training run directory (``medr1 train``, ``medr1 sft``).

Read from the run's own files (:mod:`medr1_core.train.run_dir`), nothing else:

- the run's status (from ``events.jsonl``), model, data and rewards;
- reward curves: each reward's mean per logged step and the weighted total
  (``metrics.jsonl``); then the same per modality and per task, from the
  sampled completions (``completions.jsonl``), in bins of steps;
- the other training curves (loss, KL, entropy, completion length, ...);
- the sampled completions of each logged step, grouped by question, with the
  image thumbnails, each reward's score, the total and, for rewards with an
  ``explain`` method (dtree), its explanation; filters by step, modality,
  task and reward outcome;
- the configuration (``config.yaml``), the data report and the run's events.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..train import run_dir as rd
from . import read_json_object
from .charts import line_chart
from .items import completion_html, item_list, label_filter, question_card
from .page import Raw, esc, page, score_class, section, select, table, value_html, write_page
from .thumbnails import Thumbnails

#: Completions a report shows at most (whole logged steps, spread over the run); ``--max-items``.
MAX_COMPLETIONS = 2000
#: Training curves drawn besides the rewards, when the run logged them.
OTHER_CURVES = ("loss", "kl", "entropy", "completions/mean_length", "completions/clipped_ratio", "grad_norm",
                "learning_rate", "frac_reward_zero_std", "mean_token_accuracy")
#: Outcome classes of a score, as the filter names them.
OUTCOMES = (("full", "= 1"), ("partial", "between 0 and 1"), ("zero", "= 0 (or below)"), ("na", "not applicable"))


def run_status(events: Sequence[Mapping[str, Any]]) -> tuple[str, str]:
    """``(status, detail)``: finished, failed, interrupted, or running (a run that stopped without
    a word, e.g. killed, reads as running too: its last event is its start)."""
    last = next((e for e in reversed(events) if e.get("event") in ("start", "resume", "end", "failed", "interrupted")),
                None)
    if last is None:
        return "running", "no events yet"
    kind = last["event"]
    if kind == "end":
        return "finished", f"{last.get('steps', '?')} steps"
    if kind in ("failed", "interrupted"):
        return kind, str(last.get("error", ""))
    return "running", "started" if kind == "start" else "resumed"


def pick_steps(counts: Mapping[int, int], limit: int) -> list[int]:
    """The logged steps whose completions a report shows: all of them when they fit in ``limit``
    completions, else steps spread evenly over the run (the first and the last included).

    >>> pick_steps({1: 4, 2: 4, 3: 4, 4: 4, 5: 4}, 12)
    [1, 3, 5]
    """
    steps = sorted(counts)
    if sum(counts.values()) <= limit or not steps:
        return steps
    per_step = sum(counts.values()) / len(steps)
    k = max(1, min(len(steps), int(limit // per_step)))
    if k == 1:
        return [steps[-1]]
    return sorted({steps[round(i * (len(steps) - 1) / (k - 1))] for i in range(k)})


def binned_means(records: Sequence[Mapping[str, Any]], group: str, reward: str,
                 bins: int = 30) -> dict[str, list[tuple[float, float]]]:
    """Per value of ``group`` (modality, task), the mean ``reward`` score of the recorded completions in
    each bin of steps (``reward="total"``: the weighted total), over the completions it scored."""
    steps = sorted({r["step"] for r in records if isinstance(r.get("step"), int)})
    if not steps:
        return {}
    width = max(1, math.ceil(len(steps) / bins))
    bin_of = {s: i // width for i, s in enumerate(steps)}
    bin_end = {bin_of[s]: s for s in steps}
    sums: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        value = r.get("total") if reward == "total" else (r.get("rewards") or {}).get(reward)
        if value is None or r.get("step") not in bin_of:
            continue
        sums[str(r.get(group) or "unlabelled")][bin_of[r["step"]]].append(float(value))
    return {name: [(bin_end[b], sum(v) / len(v)) for b, v in sorted(per.items())] for name, per in sorted(sums.items())}


def _reward_names(records: Sequence[Mapping[str, Any]], series: Mapping[str, Any]) -> list[str]:
    names = [k.removeprefix("rewards/").removesuffix("/mean") for k in rd.reward_metrics(dict(series)) if k != "reward"]
    for r in records:
        names.extend(n for n in (r.get("rewards") or {}) if n not in names)
    return list(dict.fromkeys(names))


def curves_section(series: Mapping[str, list], records: Sequence[Mapping[str, Any]], rewards: list[str]) -> str:
    """Reward curves: per reward and the total from the metrics; per modality and per task from the completions."""
    keys = rd.reward_metrics(dict(series))
    main = {("total (weighted)" if k == "reward" else k.removeprefix("rewards/").removesuffix("/mean")): series[k]
            for k in keys}
    parts = [f'<div class="wide">{line_chart(main, title="Rewards: mean per logged step", ylabel="reward", width=900, height=300)}</div>']
    per_step = max(Counter(r.get("step") for r in records).values(), default=0)
    names = (["total"] if any("total" in r for r in records) else []) + rewards
    for group in ("modality", "task"):
        charts = [line_chart(lines, title=f"{name} by {group}", ylabel="mean score", smooth=0, width=420, height=230)
                  for name in names if (lines := binned_means(records, group, name))]
        if charts:
            parts.append(f'<h3>By {group}</h3><div class="charts small">{"".join(charts)}</div>')
    note = ("Each reward's mean over the step's completions it scored (a step where it scored none is left "
            "out); thick lines: 10-step moving averages. Click a name in a legend to hide or show its line.")
    if records:
        note += (f" By modality and by task: means of the sampled completions (up to {per_step} recorded a "
                 "step), in bins of steps.")
    return section("Reward curves", "".join(parts), section_id="curves", note=note)


def other_curves_section(series: Mapping[str, list]) -> str:
    charts = [line_chart({key: series[key]}, title=key, ylabel="", width=420, height=230)
              for key in OTHER_CURVES if series.get(key)]
    if not charts:
        return ""
    return section("Training curves", f'<div class="charts small">{"".join(charts)}</div>', section_id="training")


def _entry(record: Mapping[str, Any], rewards: list[str], variant: str) -> tuple[str, str | None]:
    from ..parsing import parse_completion

    scores = record.get("rewards") or {}
    chips, tokens = [], []
    for name in rewards:
        value = scores.get(name)
        cls = score_class(value)
        tokens.append(f"{name}:{cls}")
        chips.append(f'<span class="chip {cls}">{esc(name)} {"n/a" if value is None else f"{value:.2f}"}</span>')
    if record.get("total") is not None:
        chips.append(f'<span class="chip plain">total {record["total"]:.2f}</span>')
    parsed = parse_completion(record.get("completion") or "", options=record.get("options") or None, variant=variant)
    chose = f'<span class="meta">chose <b>{esc(parsed.letter or parsed.answer or "nothing")}</b></span>'
    details = "".join(
        f"<details><summary>{esc(name)}: why {_score_text(scores.get(name))}</summary>{value_html(why)}</details>"
        for name, why in (record.get("explanations") or {}).items())
    html = (f'<div class="entry" data-outcomes="{esc(" ".join(tokens))}">{"".join(chips)} {chose}'
            f'{completion_html(record.get("completion"))}{details}</div>')
    return html, parsed.letter


def _score_text(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def completions_section(records: list[dict[str, Any]], rewards: list[str], variant: str, thumbnails: Thumbnails,
                        limit: int) -> str:
    """The sampled completions of the chosen steps, one card per (step, question), newest first."""
    counts: dict[int, int] = defaultdict(int)
    for r in records:
        counts[r["step"]] += 1
    steps = pick_steps(counts, limit)
    shown = [r for r in records if r["step"] in set(steps)]
    groups: dict[tuple[int, str], list[dict[str, Any]]] = defaultdict(list)
    for r in shown:
        groups[(r["step"], str(r.get("id")))].append(r)
    cards = []
    for (step, _), rows in sorted(groups.items(), key=lambda kv: (-kv[0][0], kv[0][1])):
        first = rows[0]
        entries = [_entry(r, rewards, variant) for r in rows]
        chosen = entries[0][1] if len({e[1] for e in entries}) == 1 else None
        cards.append(question_card(
            first, thumbnails.keys(first.get("images") or []), "".join(e[0] for e in entries),
            expected=first.get("answer"), chosen=chosen,
            attrs={"step": step, "id": first.get("id"), "modality": first.get("modality"), "task": first.get("task")},
            meta=[f"step {step}", first.get("modality") or "", first.get("task") or "",
                  f"{len(rows)} completion(s)"]))
    outcomes = [(f"{name}:{cls}", f"{name} {text}") for name in rewards for cls, text in OUTCOMES]
    filters = [label_filter("step", "step", sorted({r["step"] for r in shown}, reverse=True)),
               label_filter("modality", "modality", sorted({r.get("modality") or "" for r in shown})),
               label_filter("task", "task", sorted({r.get("task") or "" for r in shown})),
               select("outcome", "reward outcome", outcomes, all_label="any")]
    note = (f"{len(shown)} completion(s) of {len(steps)} logged step(s)"
            + (f", out of {len(records)} of {len(counts)} steps recorded (steps spread over the run; "
               "<code>medr1 report --max-items</code> shows more)" if len(steps) < len(counts) else "")
            + ". Options: the expected answer in green, the one all completions chose underlined. "
            "Click a thumbnail to enlarge it.")
    return section("Sampled completions", item_list(filters, cards), section_id="completions", note=note)


def config_section(run_dir: Path, events: list[dict[str, Any]]) -> str:
    parts = []
    config = run_dir / rd.CONFIG
    if config.is_file():
        parts.append(f"<h3>config.yaml</h3><pre>{esc(config.read_text(encoding='utf-8', errors='replace'))}</pre>")
    report = read_json_object(run_dir / rd.DATA_REPORT)
    if report:
        parts.append("<h3>Data report</h3>" + table(["", ""], list(report.items())))
    if events:
        rows = [[e.get("event"), _time(e.get("time")), Raw(value_html({k: v for k, v in e.items()
                                                                     if k not in ("event", "time")}))] for e in events]
        parts.append("<h3>Events</h3>" + table(["event", "time", "details"], rows))
    return section("Configuration and data", "".join(parts), section_id="config")


def _time(value: Any) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(value)) if isinstance(value, (int, float)) else ""


def _read_config(run_dir: Path) -> dict[str, Any]:
    from ..errors import ConfigError
    from ..files import read_yaml_mapping

    try:
        return read_yaml_mapping(run_dir / rd.CONFIG, "run configuration")
    except ConfigError:
        return {}


def build_run_report(run_dir: str | Path, *, max_items: int = MAX_COMPLETIONS) -> str:
    """The HTML of ``run_dir``'s report (see the module doc)."""
    from .lookup import fill_from_data

    run_dir = Path(run_dir)
    config = _read_config(run_dir)
    events = rd.read_records(run_dir / rd.EVENTS)
    series = rd.metric_series(run_dir)
    records = [r for r in rd.read_records(run_dir / rd.COMPLETIONS) if isinstance(r.get("step"), int)]
    missing_note = fill_from_data(records, config.get("data"), format=config.get("format"),
                                  image_root=config.get("image_root"))
    rewards = _reward_names(records, series)
    thumbnails = Thumbnails()
    status, detail = run_status(events)
    weights = {name: (spec or {}).get("weight", 1.0) for name, spec in (config.get("rewards") or {}).items()
               if isinstance(spec, Mapping)}
    subtitle = (f'<span class="status-{status}">{esc(status)}</span> ({esc(detail)}) · model '
                f'<code>{esc(config.get("model", "?"))}</code> · data <code>{esc(config.get("data", "?"))}</code>'
                f' · variant {esc(config.get("variant", "think"))} · rewards '
                + esc(", ".join(f"{n} x{w:g}" for n, w in weights.items()) or ", ".join(rewards) or "none")
                + f" · {esc(run_dir.resolve())}")
    body = [summary_section(run_dir, rewards)] if series else []
    if rewards or records or not series:  # a run without rewards (SFT) has only its training curves
        body += [curves_section(series, records, rewards),
                 completions_section(records, rewards, config.get("variant", "think"), thumbnails, max_items)]
    body.append(other_curves_section(series))
    problems = ([missing_note] if missing_note else []) + [f"{p}: {why}" for p, why in thumbnails.failed.items()][:20]
    if problems:
        body.insert(0, section("Could not show everything", "<ul>" + "".join(f"<li>{esc(p)}</li>" for p in problems)
                               + "</ul>", note=f"{len(thumbnails.failed)} image(s) could not be read."))
    body.append(config_section(run_dir, events))
    return page(f"medr1 run {run_dir.name}", "".join(body), images=thumbnails.images, subtitle=subtitle)


def summary_section(run_dir: Path, rewards: list[str]) -> str:
    summary = rd.summarise(run_dir)
    rows = []
    for key, value in summary.items():
        if isinstance(value, Mapping) and "first" in value:
            name = "total (weighted)" if key == "reward" else key.removeprefix("rewards/").removesuffix("/mean")
            rows.append([name, value["first"], value["last"], Raw(f'<span class="num">{value["last"] - value["first"]:+.3f}</span>'),
                         value.get("steps", "")])
    if not rows:
        return ""
    return section("Summary", table(["reward", "first 10 steps", "last 10 steps", "change", "steps scored"], rows),
                   note=f"{summary['steps']} step(s) logged.")


def write_run_report(run_dir: str | Path, output: str | Path | None = None, *, max_items: int = MAX_COMPLETIONS) -> Path:
    """Write ``run_dir``'s ``report.html`` (or ``output``), replacing it whole; returns its path."""
    path = Path(output) if output is not None else Path(run_dir) / rd.REPORT
    return write_page(path, build_run_report(run_dir, max_items=max_items))
