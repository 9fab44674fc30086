"""Figure 4(a): how often each path-score trend occurs, MICS vs vanilla, per scenario and overall."""

from __future__ import annotations

import os
from typing import Iterable

from chiron.qc.trends import TRENDS, classify_trend, path_scores_of

# The paper's three scenarios, in its order; other values (or none: reference.jsonl has no
# scenario) follow, and "all" comes last.
SCENARIOS = ("patient_to_doctor", "doctor_to_doctor", "intern_to_senior")
UNKNOWN, ALL = "unknown", "all"
TREND_LABELS = {"increasing": "monotonically increasing", "non_increasing": "non-increasing",
                "constant": "constant", "fluctuating": "fluctuating"}


def _group(counts: dict[str, int]) -> dict:
    n = sum(counts.values())
    # A group with no scored path has no shares to speak of: all zero (only "all" can be empty).
    shares = {t: (counts[t] / n if n else 0.0) for t in TRENDS}
    return {"n": n, "counts": dict(counts), "shares": shares}


def scenario_order(names: Iterable[str]) -> list[str]:
    names = set(names)
    known = [s for s in SCENARIOS if s in names]
    return known + sorted(names - set(SCENARIOS) - {UNKNOWN}) + ([UNKNOWN] if UNKNOWN in names else [])


def trend_summary(records_by_method: dict[str, Iterable[dict]]) -> dict:
    """Per method, per scenario plus "all": {"n", "counts", "shares"} of the four trends.

    Shares sum to 1 in every group with n > 0. Records without path scores (unscored vanilla)
    have no trend: they are left out of n and counted under `unscored` per method.
    Returns {"trends", "scenarios" (ordered union over methods), "methods": {method: {group: ...}},
    "unscored": {method: count}}.
    """
    methods: dict[str, dict] = {}
    unscored: dict[str, int] = {}
    for method, records in records_by_method.items():
        by_group: dict[str, dict[str, int]] = {ALL: dict.fromkeys(TRENDS, 0)}
        unscored[method] = 0
        for record in records:
            scores = path_scores_of(record)
            if not scores:
                unscored[method] += 1
                continue
            trend = classify_trend(scores)
            scenario = record.get("scenario") or UNKNOWN
            by_group.setdefault(scenario, dict.fromkeys(TRENDS, 0))[trend] += 1
            by_group[ALL][trend] += 1
        order = scenario_order(g for g in by_group if g != ALL) + [ALL]
        methods[method] = {g: _group(by_group[g]) for g in order}
    scenarios = scenario_order(g for m in methods.values() for g in m if g != ALL)
    return {"trends": list(TRENDS), "scenarios": scenarios, "methods": methods, "unscored": unscored}


def plot_trend_summary(summary: dict, path_png: str) -> str:
    """One panel per trend (2 x 2); x = scenario and "all", one bar per method = share of its paths.

    Panels per trend keep the MICS-vs-vanilla comparison side by side, which is what Figure 4(a)
    is about; 4 trends x methods bars crammed into one axis read poorly. Returns path_png.
    """
    # The object API with an explicit Agg canvas: no pyplot global state, no display needed.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    groups = list(summary["scenarios"]) + [ALL]
    methods = list(summary["methods"])
    fig = Figure(figsize=(11, 7.5), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 2, sharey=True).ravel()
    width = 0.8 / max(len(methods), 1)
    for ax, trend in zip(axes, TRENDS):
        for i, method in enumerate(methods):
            by_group = summary["methods"][method]
            # A method with no path in a scenario gets no bar: a 0% bar would claim it was measured.
            present = [k for k, g in enumerate(groups) if by_group.get(g, {}).get("n")]
            heights = [by_group[groups[k]]["shares"][trend] for k in present]
            xs = [k - 0.4 + width * (i + 0.5) for k in present]
            label = f"{method} (n={by_group[ALL]['n']})" if trend == TRENDS[0] else None
            bars = ax.bar(xs, heights, width, label=label, color=f"C{i}")
            # n under each share: a 100 % bar on one path must not read like one on fifty
            ns = [by_group[groups[k]]["n"] for k in present]
            ax.bar_label(bars, labels=[f"{h:.0%}\nn={n}" for h, n in zip(heights, ns)], fontsize=6, padding=1)
        ax.set_title(TREND_LABELS[trend])
        ax.set_xticks(range(len(groups)), [g.replace("_to_", "→\n") for g in groups], fontsize=8)
        ax.set_xlim(-0.6, len(groups) - 0.4)
        ax.set_ylim(0, 1.2)  # room for the two-line labels
        ax.grid(axis="y", alpha=0.3)
    for ax in axes[::2]:
        ax.set_ylabel("share of paths")
    fig.legend(loc="outside lower center", ncols=max(len(methods), 1), fontsize=9)
    fig.suptitle("Figure 4(a): trends of path scores, " + " vs ".join(methods))
    directory = os.path.dirname(os.path.abspath(path_png))
    os.makedirs(directory, exist_ok=True)
    # Write beside the target and rename, so a reader never sees half a PNG.
    tmp = os.path.join(directory, ".tmp-" + os.path.basename(path_png))
    try:
        fig.savefig(tmp, format="png", dpi=150)
        os.replace(tmp, path_png)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path_png
