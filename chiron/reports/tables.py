"""Markdown tables for the experiment reports: the paper's rows beside our arms.

Numbers are percent with one decimal; "–" marks what was not measured (never 0, which would claim
a measurement).
"""

from __future__ import annotations

from typing import Sequence

from chiron.eval.report import metric_entry, metric_percent, our_rows, paper_table_markdown
from chiron.reports import arms as A

DASH = "–"
# curriculum_stages repeats what `curriculum` names; the table shows the name only.
_HIDDEN_SETTINGS = ("curriculum_stages",)


def cell(value: float | None) -> str:
    return DASH if value is None else f"{value:.1f}"


def signed(value: float | None) -> str:
    return DASH if value is None else f"{value:+.1f}"


def difference(x: float | None, y: float | None) -> float | None:
    """x - y, or None when either was not measured; rounded to drop float noise
    (48.4 - 54.6 = -6.200000000000003)."""
    return None if x is None or y is None else round(x - y, 6)


def md_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in rows]
    return "\n".join(lines)


def interval(entry: dict | None) -> str:
    """A 0–1 entry's 95 % interval in percent ("30.0–70.0"), or – when it has none."""
    low, high = (entry or {}).get("ci_low"), (entry or {}).get("ci_high")
    return DASH if low is None or high is None else f"{100 * low:.1f}–{100 * high:.1f}"


def accuracy_text(entry: dict | None) -> str:
    """"50.0 % (95 % CI 30.0–70.0, n=22)": a percentage means little at demo scale without its n and
    interval."""
    value = (entry or {}).get("accuracy")
    if value is None:
        return DASH
    return f"{100 * value:.1f} % (95 % CI {interval(entry)}, n={entry.get('n', DASH)})"


def loss_text(value: float | None) -> str:
    return DASH if value is None else f"{value:.3f}"


def with_n(arm: dict, column: str) -> str:
    """`57.5 (n=200)`: a percentage means little at demo scale without its sample size."""
    value = A.percent(arm, column)
    if value is None:
        return DASH
    n = (A.entry(arm, column) or {}).get("n")
    return cell(value) if n is None else f"{cell(value)} (n={n})"


def paper_table(table: dict, arms: list[dict], labels: list[str]) -> str:
    """A paper_results.yaml table, whole (every paper row, its AVG column), then our rows: one per
    arm and scoring protocol (chiron.eval.report.paper_table_markdown)."""
    ours = [row for arm, label in zip(arms, labels) for row in our_rows(label, A.metrics(arm))]
    return paper_table_markdown(table, ours)


def detail_table(arms: list[dict], labels: list[str], columns: Sequence[str]) -> str:
    """Our measured columns with n and the 95 % bootstrap interval, one line per arm, column and
    scoring protocol (a protocol column when the metrics name one)."""
    named = any(A.protocols(arm) for arm in arms)
    rows = []
    for arm, label in zip(arms, labels):
        for column in columns:
            for protocol, view in A.views(arm):
                found, value = metric_entry(view, column), metric_percent(view, column)
                if found is None or value is None:
                    continue
                rows.append([label, column, found.get("n", DASH), cell(value), interval(found)]
                            + ([protocol or DASH] if named else []))
    if not rows:
        return "No arm measured any of these columns."
    return md_table(["arm", "column", "n", "%", "95 % CI"] + (["protocol"] if named else []), rows)


def setting_text(value: object) -> str:
    if value is True:
        return "✓"
    if value is False:
        return "✗"
    if value is None:
        return DASH
    if isinstance(value, (list, tuple)):
        return "+".join(map(str, value))
    return str(value)


def _setting(arm: dict, key: str) -> str:
    # A null method is a real setting (no Part 3 reasoning in the mix), not a missing one.
    return A.method(arm) if key == "method" else setting_text(A.settings(arm).get(key))


def _split_settings(arms: list[dict]) -> tuple[dict, list[str]]:
    """(settings every arm shares, names of the settings that vary), in first-seen order."""
    keys: dict[str, None] = {}
    for arm in arms:
        keys.update(dict.fromkeys(k for k in A.settings(arm) if k not in _HIDDEN_SETTINGS))
    shared, varying = {}, []
    for key in keys:
        values = [_setting(arm, key) for arm in arms]
        if len(set(values)) == 1:
            shared[key] = values[0]
        else:
            varying.append(key)
    return shared, varying


def stage_counts(arm: dict) -> str:
    """"computed/reused": arms of one sweep share upstream stages, so most of a sweep is reused."""
    stages = (arm.get("stages") or {}).values()
    reused = sum(1 for s in stages if s.get("reused"))
    return f"{len(stages) - reused}/{reused}"


def arms_table(arms: list[dict]) -> str:
    """One row per arm: the settings that vary, each benchmark's accuracy with n, stages
    computed/reused and wall time; the settings all arms share are listed above the table."""
    if not arms:
        return "No arm."
    labels = A.labels(arms)
    shared, varying = _split_settings(arms)
    benches = A.benchmarks(arms)
    header = ["arm", *varying, *(f"{b} % (n)" for b in benches), "stages computed/reused", "wall s"]
    rows = []
    for arm, label in zip(arms, labels):
        wall = arm.get("wall_s")
        rows.append([label, *(_setting(arm, k) for k in varying),
                     *(with_n(arm, b) for b in benches), stage_counts(arm),
                     DASH if wall is None else f"{wall:.0f}"])
    text = md_table(header, rows)
    if shared:
        text = "Shared by every arm: " + ", ".join(f"{k}={v}" for k, v in shared.items()) + ".\n\n" + text
    return text
