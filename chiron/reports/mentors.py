"""Mentor sets: which mentors took part in MICS, what the search achieved with them and how the
trained model then scored. The paper sweeps no mentor sets, so there is nothing to put beside ours."""

from __future__ import annotations

import os

from chiron.reports import arms as A
from chiron.reports.document import write_report
from chiron.reports.plots import grouped_bars
from chiron.reports.tables import DASH, md_table, setting_text, with_n


def search_stats(arm: dict) -> dict:
    """The search stage's summary.json (chiron/search/runner.py write_summary), or {}."""
    return A.stage_summary(arm, "search")


def ok_share(arm: dict) -> float | None:
    stats = search_stats(arm)
    ok, failed = stats.get("cases_ok"), stats.get("cases_failed")
    if ok is None or failed is None or ok + failed == 0:
        return None
    return 100.0 * ok / (ok + failed)


def _row(arm: dict, label: str, benches: list[str]) -> list:
    stats = search_stats(arm)
    mean = stats.get("mean_path_score_final")
    share = ok_share(arm)
    return [label, setting_text(A.settings(arm).get("mentors")), stats.get("cases_ok", DASH),
            stats.get("cases_failed", DASH), DASH if share is None else f"{share:.1f}",
            DASH if mean is None else f"{mean:.2f}", *(with_n(arm, b) for b in benches)]


def mentor_sets(arms: list[dict], out_dir: str) -> list[str]:
    labels, benches = A.labels(arms), A.benchmarks(arms)
    header = ["arm", "mentors", "cases ok", "cases failed", "ok %", "mean final path score",
              *(f"{b} % (n)" for b in benches)]
    table = md_table(header, [_row(arm, label, benches) for arm, label in zip(arms, labels)])
    sections = ["## Mentor sets\n",
                "The paper reports no numbers for mentor sets (it uses one set: GPT-4o, Gemini 2.5 Pro and "
                "Qwen2.5-VL-72B); this table has ours only. Search figures come from the search stage's "
                "summary (`stages.search.summary`); \"ok %\" is cases ok over cases searched.\n", table]
    panels = {"search: cases ok (%)": {"ours": {label: ok_share(arm) for arm, label in zip(arms, labels)}}}
    for b in benches:
        panels[f"{b} accuracy (%)"] = {"ours": {label: A.percent(arm, b) for arm, label in zip(arms, labels)}}
    png = grouped_bars(panels, os.path.join(out_dir, "mentor_sets.png"), "Mentor sets: search and accuracy",
                       "%")
    return write_report(out_dir, "Mentor sets: search and accuracy by mentor set", sections, arms, [png])
