"""Metrics per benchmark from its prediction rows, and the paper-comparison table.

Accuracy counts every item: unparseable answers, unjudged ones, failed calls and items whose image
could not be used (`bad_image`, never sent to the model) are wrong and are reported by kind beside
the accuracy, never left out of the denominator.
"""

from __future__ import annotations

import functools
from collections import Counter
from typing import Sequence

import yaml

from chiron.eval.metrics import accuracy_ci, grouped_accuracy, mean_ci
from chiron.eval.runner import STATUSES
from chiron.utils.paths import package_path


def benchmark_metrics(rows: Sequence[dict], bertscores: Sequence[float] = (), *, num_bootstraps: int = 1000,
                      level: float = 0.95, seed: int = 0) -> dict:
    ci = dict(num_bootstraps=num_bootstraps, level=level, seed=seed)
    correct = [row["status"] == "correct" for row in rows]
    counts = Counter(row["status"] for row in rows)
    metrics = {**accuracy_ci(correct, **ci), "statuses": {s: counts.get(s, 0) for s in STATUSES},
               "unparseable": counts.get("unparseable", 0), "judge_failures": counts.get("judge_failed", 0),
               "generation_failures": counts.get("generation_failed", 0), "bad_images": counts.get("bad_image", 0)}
    failed = next((row for row in rows if row["status"] in ("generation_failed", "judge_failed", "bad_image")), None)
    if failed is not None:  # the first cause, as the eval's closing line names it
        metrics["first_failure"] = f"item {failed['id']} ({failed['status']}): {failed.get('error', '?')}"
    bad = [row for row in rows if row["status"] == "bad_image"]
    if bad:  # which files, and why, so the user can fix them without reading predictions.jsonl
        metrics["bad_image_categories"] = dict(Counter((row.get("bad_image") or {}).get("category", "?")
                                                       for row in bad))
    if any(row.get("subject") for row in rows):
        metrics["by_subject"] = grouped_accuracy(correct, [row.get("subject") or "(none)" for row in rows], **ci)
    if bertscores:
        metrics["bertscore"] = mean_ci(list(bertscores), **ci)
    own = [row["own_path"]["score"] for row in rows if (row.get("own_path") or {}).get("score") is not None]
    if own:
        metrics["mics_score"] = mean_ci(own, **ci)
        metrics["mics_score"]["failed"] = sum(1 for row in rows if "error" in (row.get("own_path") or {}))
    return metrics


@functools.lru_cache(maxsize=1)
def paper_results() -> dict:
    with open(package_path("eval/paper_results.yaml"), encoding="utf-8") as f:
        return yaml.safe_load(f)


def metric_entry(metrics: dict, column: str) -> dict | None:
    """The metrics.json entry behind a paper column: `bench` (the benchmark's entry), `bench/subject`
    (its by_subject entry) or `bench:metric` (e.g. its bertscore entry); None when not measured."""
    name, _, metric = column.partition(":")
    benchmark, _, subject = name.partition("/")
    found = metrics.get(benchmark)
    if found is not None and subject:
        found = (found.get("by_subject") or {}).get(subject)
    if found is not None and metric:
        found = found.get(metric)
    return found


def metric_percent(metrics: dict, column: str) -> float | None:
    """A paper column's value from our metrics.json, in percent; None when we did not measure it."""
    found = metric_entry(metrics, column)
    if found is None:
        return None
    value = found.get("mean") if ":" in column else found.get("accuracy")
    return None if value is None else 100.0 * value


def comparison_markdown(metrics: dict, model_label: str) -> str:
    """The paper's tables that share a column with this run, our row under the paper's rows,
    then a per-benchmark table with sizes, confidence intervals and failure counts."""
    parts = [f"# Evaluation of {model_label} beside the paper\n"]
    for table in paper_results().values():
        if "columns" not in table or "rows" not in table:
            continue  # a figure's values or a note (figure4, figure5), not a table
        ours = [metric_percent(metrics, column) for column in table["columns"]]
        if all(value is None for value in ours):
            continue
        parts.append(f"## {table['title']}\n")
        parts.append("| model | " + " | ".join(table["columns"]) + " |")
        parts.append("|---" * (len(table["columns"]) + 1) + "|")
        for model, values in table["rows"].items():
            parts.append(f"| {model} (paper) | " + " | ".join(f"{v:.1f}" for v in values) + " |")
        parts.append(f"| **{model_label} (ours)** | " + " | ".join(_cell(v) for v in ours) + " |\n")
    parts.append("## This run\n")
    parts.append("| benchmark | n | accuracy % | 95 % CI | unparseable | judge failures | generation failures "
                 "| bad images | BERTScore | MICS-Score |")
    parts.append("|---" * 10 + "|")
    for benchmark, m in metrics.items():
        ci = "–" if m.get("ci_low") is None else f"{100 * m['ci_low']:.1f}–{100 * m['ci_high']:.1f}"
        parts.append(f"| {benchmark} | {m['n']} | {_cell(_pct(m.get('accuracy')))} | {ci} | {m['unparseable']} "
                     f"| {m['judge_failures']} | {m['generation_failures']} | {m.get('bad_images', 0)} "
                     f"| {_cell(_pct((m.get('bertscore') or {}).get('mean')))} "
                     f"| {_cell(_pct((m.get('mics_score') or {}).get('mean')))} |")
    parts.append("\nEvery item counts: unparseable answers, failed calls and items with an unusable image "
                 "(bad images: never sent to the model) are wrong, never dropped.\n")
    return "\n".join(parts)


def _pct(value: float | None) -> float | None:
    return None if value is None else 100.0 * value


def _cell(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"
