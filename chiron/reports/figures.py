"""Figure 4(a) (path-score trends, MICS vs vanilla) and Figure 5 (curriculum stage subsets)."""

from __future__ import annotations

import os

from chiron.eval.report import paper_results
from chiron.qc.figure4 import ALL, TREND_LABELS, scenario_order
from chiron.qc.trends import TRENDS
from chiron.reports import arms as A
from chiron.reports.document import write_report
from chiron.reports.plots import grouped_bars
from chiron.reports.tables import DASH, cell, difference, md_table, signed

# ---- Figure 4(a) -----------------------------------------------------------------------------


def merged_trends(arms: list[dict]) -> dict | None:
    """The arms' QC trend summaries as one trend_summary-shaped dict (methods from every arm).

    Arms that share a QC stage carry the same trends; they are counted once. A method seen again
    with different trends (say, two mentor sets) is kept apart under "method (arm)".
    """
    methods, unscored, qc = {}, {}, {}
    for arm, label in zip(arms, A.labels(arms)):
        trends = arm.get("trends")
        if not trends:
            continue
        for method, groups in trends.get("methods", {}).items():
            if any(_base(name) == method and seen == groups for name, seen in methods.items()):
                continue
            name = method if method not in methods else f"{method} ({label})"
            methods[name] = groups
            unscored[name] = (trends.get("unscored") or {}).get(method, 0)
            found = ((trends.get("qc") or {}).get("inputs") or {}).get(method)
            if found:
                qc[name] = {**found, "enabled": (trends.get("qc") or {}).get("enabled")}
    if not methods:
        return None
    # The same scenario order Figure 4(a) uses (the paper's three first, "all" last).
    scenarios = scenario_order(g for groups in methods.values() for g in groups if g != ALL)
    return {"trends": list(TRENDS), "scenarios": scenarios, "methods": methods, "unscored": unscored,
            "qc": qc}


def _base(name: str) -> str:
    """The method a merged entry came from: "mics (arm x)" -> "mics"."""
    return name.split(" (", 1)[0]


def trend_table(summary: dict) -> str:
    rows = []
    for group in [*summary["scenarios"], ALL]:
        for method, groups in summary["methods"].items():
            found = groups.get(group) or {"n": 0}
            shares = [cell(100 * found["shares"][t]) if found["n"] else DASH for t in TRENDS]
            rows.append([group, method, found["n"], *shares])
    return md_table(["scenario", "method", "n paths", *(f"{TREND_LABELS[t]} %" for t in TRENDS)], rows)


def _qc_table(summary: dict) -> str:
    rows = []
    for method, q in summary["qc"].items():
        reasons = ", ".join(f"{k}: {v}" for k, v in (q.get("reasons") or {}).items()) or DASH
        rows.append([method, "on" if q.get("enabled") else "off", q.get("n", DASH), q.get("kept", DASH),
                     q.get("flagged", DASH), reasons])
    return md_table(["method", "QC", "paths", "kept", "flagged", "reasons"], rows)


def _share(summary: dict, method: str, trend: str) -> tuple[float, int] | None:
    """(share in %, n) of a trend over all scenarios for the first method of that base name."""
    for name, groups in summary["methods"].items():
        if _base(name) == method and groups.get(ALL, {}).get("n"):
            return 100 * groups[ALL]["shares"][trend], groups[ALL]["n"]
    return None


def claim_check(summary: dict, claim: dict) -> str:
    trend, big, small = claim["trend"], claim["larger"], claim["smaller"]
    a, b = _share(summary, big, trend), _share(summary, small, trend)
    if a is None or b is None:
        missing = big if a is None else small
        return (f"Cannot check the paper's claim: no scored {missing} paths (vanilla paths get scores only "
                "with `search.score_vanilla_paths=true`).")
    verdict = "agrees with" if a[0] > b[0] else ("ties" if a[0] == b[0] else "goes against")
    return (f"Ours: {TREND_LABELS[trend]} share {big} {a[0]:.1f} % (n={a[1]}) vs {small} {b[0]:.1f} % "
            f"(n={b[1]}); this {verdict} the paper's direction ({big} larger).")


def trend_panels(summary: dict) -> tuple[dict, dict]:
    """(panels, counts) for plots.grouped_bars: one panel per trend, x = scenario and "all", one bar
    per method = its share of paths in percent, each bar labelled with the n of paths it rests on.
    A method with no path in a scenario gets no bar: a 0 % bar would claim it was measured."""
    groups = [*summary["scenarios"], ALL]
    tick = {g: g.replace("_to_", " → ") for g in groups}  # "patient → doctor" wraps at its spaces
    panels, counts = {}, {}
    for trend in TRENDS:
        title = TREND_LABELS[trend]
        panels[title], counts[title] = {}, {}
        for method, by_group in summary["methods"].items():
            found = {g: by_group.get(g) or {"n": 0} for g in groups}
            panels[title][method] = {tick[g]: 100 * f["shares"][trend] if f["n"] else None for g, f in found.items()}
            counts[title][method] = {tick[g]: f["n"] or None for g, f in found.items()}
    return panels, counts


def figure4(arms: list[dict], out_dir: str) -> list[str]:
    paper = paper_results()["figure4"]
    sections = [f"## {paper['title']}\n", f"Paper: {paper['note']}\n"]
    summary = merged_trends(arms)
    pngs = []
    if summary is None:
        sections.append("No arm has QC trends (`trends` is null in every summary): nothing to show.")
    else:
        sections += ["### Shares of path-score trends (ours)\n", trend_table(summary), "",
                     ("Plot: [figure4_trends.png](figure4_trends.png), one panel per trend; each bar is labelled "
                      "with its share and the n of paths it rests on."), "",
                     claim_check(summary, paper["claim"])]
        unscored = [f"{m}: {n}" for m, n in summary["unscored"].items() if n]
        if unscored:
            sections.append("Paths without scores (no trend): " + ", ".join(unscored) + ".")
        if summary["qc"]:
            sections += ["### Quality control\n", _qc_table(summary)]
        panels, counts = trend_panels(summary)
        title = "Figure 4(a), ours: trends of path scores, " + " vs ".join(summary["methods"])
        pngs.append(grouped_bars(panels, os.path.join(out_dir, "figure4_trends.png"), title,
                                 "share of paths (%)", counts))
    return write_report(out_dir, "Figure 4(a): path-score trends, ours", sections, arms, pngs)


# ---- Figure 5 --------------------------------------------------------------------------------


def _by_curriculum(arms: list[dict], order: list[str]) -> list[tuple[str, dict, str]]:
    """(curriculum, arm, label) sorted in the figure's order; unknown curricula after."""
    labels = A.labels(arms)
    rank = {c: i for i, c in enumerate(order)}
    items = [(A.settings(arm).get("curriculum") or "?", arm, label) for arm, label in zip(arms, labels)]
    return sorted(items, key=lambda t: rank.get(t[0], len(order)))


def _subset_table(items, values: dict, columns: list[str], order: list[str], names: dict) -> str:
    """Per curriculum: the paper's row where it printed a value, then our arms with that curriculum."""
    rows = []
    for curriculum in dict.fromkeys([*order, *(c for c, _, _ in items)]):
        name = names.get(curriculum, curriculum)
        if any(curriculum in values.get(b, {}) for b in columns):
            rows.append([name, "paper (8B)", *(cell(values.get(b, {}).get(curriculum)) for b in columns)])
        rows += [[name, f"**ours: {label}**", *(cell(A.percent(arm, b)) for b in columns)]
                 for c, arm, label in items if c == curriculum]
    return md_table(["curriculum", "source", *columns], rows)


def _subset_panels(first: dict[str, dict], values: dict, columns: list[str], order: list[str],
                   names: dict) -> dict:
    """Per benchmark with any value: x = curriculum, our first arm's bar beside the paper's."""
    curricula = [*order, *(c for c in first if c not in order)]
    panels = {}
    for b in columns:
        panel = {"ours": {names.get(c, c): A.percent(first[c], b) if c in first else None for c in curricula},
                 "paper (8B)": {names.get(c, c): values.get(b, {}).get(c) for c in curricula}}
        if any(v is not None for series in panel.values() for v in series.values()):
            panels[b] = panel
    return panels


def figure5(arms: list[dict], out_dir: str) -> list[str]:
    paper = paper_results()["figure5"]
    order, names, values = paper["curricula"], paper["labels"], paper["values"]
    columns = list(dict.fromkeys([*paper["benchmarks"], *A.benchmarks(arms)]))
    items = _by_curriculum(arms, order)
    first = _first_arms(items)
    sections = [f"## {paper['title']}\n",
                "The paper prints values for MMMU (H&M) only (the full curriculum from Table 1, the subsets "
                "as \"6.9, 6.2 and 3.5 points lower\"); its other benchmarks are plotted without numbers, "
                "shown here as –.\n", _subset_table(items, values, columns, order, names),
                "### Points below the full curriculum (first arm per curriculum)\n",
                _deltas(first, values, columns, order, names)]
    panels = _subset_panels(first, values, columns, order, names)
    pngs = []
    if panels:
        path = os.path.join(out_dir, "figure5.png")
        pngs.append(grouped_bars(panels, path, paper["title"], "accuracy (%)"))
    title = "Figure 5: curriculum stage subsets, ours beside the paper"
    return write_report(out_dir, title, sections, arms, pngs)


def _first_arms(items) -> dict[str, dict]:
    """The first arm of each curriculum: the plot and the deltas show one arm per subset."""
    first: dict[str, dict] = {}
    for curriculum, arm, _ in items:
        first.setdefault(curriculum, arm)
    return first


def _deltas(first: dict[str, dict], values: dict, columns: list[str], order: list[str], names: dict) -> str:
    """Each subset minus the full curriculum, paper and ours."""
    full = order[-1]
    rows = []
    for c in order[:-1]:
        paper = [difference(values.get(b, {}).get(c), values.get(b, {}).get(full)) for b in columns]
        both = c in first and full in first
        ours = [difference(A.percent(first[c], b), A.percent(first[full], b)) if both else None for b in columns]
        rows += [[names[c], "paper (8B)", *map(signed, paper)], [names[c], "ours", *map(signed, ours)]]
    return md_table(["curriculum", "source", *columns], rows)

