"""``medr1 data``: look at a dataset the way training will read it."""

from __future__ import annotations

import json
import warnings

import click


@click.group()
def data() -> None:
    """Inspect datasets and the formats medr1 reads."""


@data.command()
@click.argument("path")
@click.option("--format", "format_", metavar="NAME", help="Data format (default: detected). See `medr1 data formats`.")
@click.option("--image-root", type=click.Path(file_okay=False), help="Folder relative image paths are resolved against.")
@click.option("-m", "--modality", "modalities", multiple=True, help="Only these modalities (ids or aliases; repeatable).")
@click.option("-t", "--task", "tasks", multiple=True, help="Only these question types (ids or aliases; repeatable).")
@click.option("--dataset", "datasets", multiple=True, help="Only these source datasets (repeatable).")
@click.option("--verify-images", is_flag=True, help="Also open every image's header (slower) to find corrupt files.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
def inspect(path, format_, image_root, modalities, tasks, datasets, verify_images, as_json) -> None:
    """Count a dataset by modality x task, options and answer letters; list missing images
    and every record that cannot be used, with its file, index and reason.

    PATH is a file or folder in any registered format, or `sample` for the
    bundled synthetic set.
    """
    from ..data import check_images, load_samples

    report = load_samples(
        path, format=format_, modalities=list(modalities), tasks=list(tasks), datasets=list(datasets),
        image_root=image_root,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        checked = check_images(report.samples, on_missing="skip", verify=verify_images, on_outside="skip")
    missing_files = sorted({p for _, p in checked.missing})
    summary = report.summary(missing_images=len(missing_files))
    summary["samples_missing_images"] = len({sid for sid, _ in checked.missing})
    summary["outside_images"] = [{"sample": sid, "path": p} for sid, p in checked.outside]
    if verify_images:
        summary["unreadable_images"] = [{"path": p, "reason": r} for _, p, r in checked.unreadable]
    if as_json:
        summary["missing_image_examples"] = missing_files[:20]
        click.echo(json.dumps(summary, indent=2))
        return
    _print_report(summary, missing_files)


def _print_report(s: dict, missing_files: list[str]) -> None:
    echo = click.echo
    echo(f"{s['path']}  [{s['format']}]")
    echo(f"{s['total']} samples, {len(s['bad'])} bad records"
         + (f", {s['merged']} merged from several files" if s["merged"] else "")
         + (f", {s['excluded']} left out by the selection" if s["excluded"] else ""))
    echo("")
    table = s["by_modality_task"]
    rows = sorted(table, key=lambda m: (m == "none", m))
    tasks = sorted({t for row in table.values() for t in row}, key=lambda t: (t == "none", t))
    firsts = [t.split("_")[0] for t in tasks]
    headers = [f if firsts.count(f) == 1 else t for f, t in zip(firsts, tasks)]  # short, unless ambiguous
    corner = "modality / task"
    width = max([len(corner), *(len(m) for m in rows)])
    cols = [max(8, len(h)) for h in headers]
    echo(" ".join([f"{corner:<{width}}", *(f"{h:>{w}}" for h, w in zip(headers, cols)), f"{'total':>8}"]))
    for modality in rows:
        row = table[modality]
        cells = [f"{row.get(t, 0):>{w}}" for t, w in zip(tasks, cols)]
        echo(" ".join([f"{modality:<{width}}", *cells, f"{sum(row.values()):>8}"]))
    totals = [f"{sum(row.get(t, 0) for row in table.values()):>{w}}" for t, w in zip(tasks, cols)]
    echo(" ".join([f"{'total':<{width}}", *totals, f"{s['total']:>8}"]))
    if any(h != t for h, t in zip(headers, tasks)):
        echo("(" + ", ".join(f"{h} = {t}" for h, t in zip(headers, tasks) if h != t) + ")")
    echo("")
    echo("options per question: " + ", ".join(f"{k}: {v}" for k, v in sorted(s["options"].items())))
    letters = s["answer_letters"]
    n = sum(letters.values()) or 1
    echo("answer letters:       " + ", ".join(f"{k}: {v} ({100 * v / n:.1f}%)" for k, v in sorted(letters.items())))
    echo("closed / open:        " + ", ".join(f"{k}: {v}" for k, v in s["by_answer_type"].items()))
    if set(s["by_language"]) != {"none"}:
        echo("languages:            " + ", ".join(f"{k}: {v}" for k, v in s["by_language"].items()))
    echo(f"source datasets:      {len(s['by_dataset'])}")
    for kind, labels in s["unmapped_labels"].items():
        shown = ", ".join(f"{label!r} ({n})" for label, n in list(labels.items())[:10])
        echo(f"unknown {kind} labels: {sum(labels.values())} question(s) read without a {kind}: {shown}"
             f" (add them as aliases in a {kind} plugin)")
    echo(f"missing images:       {s['missing_images']} file(s), {s['samples_missing_images']} sample(s)")
    for path in missing_files[:5]:
        echo(f"  e.g. {path}")
    if s.get("outside_images"):
        echo(f"images outside the dataset folder: {len(s['outside_images'])} (refused unless --allow-outside-images)")
        for item in s["outside_images"][:5]:
            echo(f"  e.g. {item['path']} (sample {item['sample']})")
    if "unreadable_images" in s:
        echo(f"unreadable images:    {len(s['unreadable_images'])}")
        for item in s["unreadable_images"]:
            echo(f"  {item['path']}: {item['reason']}")
    if s["bad"]:
        echo("")
        echo(f"bad records ({len(s['bad'])}):")
        for bad in s["bad"]:
            where = (f"{bad['file']}:{bad['line']}" if bad.get("line") else f"{bad['file']}#{bad['index']}"
                     if bad["index"] >= 0 else f"{bad['file']} (whole file)")
            echo(f"  {where}: {bad['reason']}")


@data.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON list.")
def formats(as_json: bool) -> None:
    """List the data formats plugins registered (names for --format)."""
    from ..plugins import get_plugins

    plugins = get_plugins()
    rows = [
        {"name": name, "description": fmt.description, "plugin": plugins.data_formats.origin(name)}
        for name, fmt in plugins.data_formats.items()
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(f"{row['name']}: {row['description']}\n    from {row['plugin']}")


@data.command()
@click.option("--heldout", is_flag=True, help="The held-out questions ('sample-heldout') instead of the training ones.")
def sample(heldout: bool) -> None:
    """Generate (if needed) the bundled synthetic dataset and print its folder."""
    from ..offline.sample_data import ensure_sample_data

    click.echo(str(ensure_sample_data(split="heldout" if heldout else "train")))
