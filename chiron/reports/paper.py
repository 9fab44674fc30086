"""Reports of evaluation tables: Table 1 (VQA accuracy), Table 2 (reasoning), Table 5 (MMMU by
subject), each whole (every paper row and the AVG column) with our rows under it, and the generic
demo report.

Each report takes the arm summaries and an output folder, writes report.md and PNGs there and
returns their paths.
"""

from __future__ import annotations

import os

from chiron.eval.report import metric_percent, our_average, paper_results
from chiron.reports import arms as A
from chiron.reports.document import write_report
from chiron.reports.plots import grouped_bars
from chiron.reports.tables import DASH, accuracy_text, detail_table, loss_text, md_table, paper_table


def _ticks(columns: list[str]) -> list[str]:
    """Short x labels: a benchmark prefix every column shares (Table 5's mmmu_hm/...) is dropped,
    subjects and metrics go on their own line."""
    prefixes = {c.partition("/")[0] for c in columns}
    shared = len(prefixes) == 1 and all("/" in c for c in columns)
    return [(c.partition("/")[2] if shared else c).replace("/", "\n").replace(":", "\n").replace("_", " ")
            for c in columns]


def _metric_table_report(key: str, arms: list[dict], out_dir: str, *, notes: list[str]) -> list[str]:
    table = paper_results()[key]
    columns, labels = list(table["columns"]), A.labels(arms)
    sections = [f"## {table['title']}\n", paper_table(table, arms, labels), *notes]
    measured = [metric_percent(view, c) for arm in arms for _, view in A.views(arm) for c in columns]
    if all(value is None for value in measured):
        found = ", ".join(A.benchmarks(arms)) or "nothing"
        sections.append(f"None of these arms measured this table's columns (they measured: {found}); "
                        "the arms table below has what they did measure.")
    sections += ["### Our measurements (n and 95 % bootstrap interval)\n",
                 detail_table(arms, labels, columns)]
    png = grouped_bars({"": _panel(table, arms, labels)}, os.path.join(out_dir, f"{key}.png"), table["title"])
    title = f"{table['title'].split(':')[0]}: ours beside the paper"
    return write_report(out_dir, title, sections, arms, [png])


def _panel(table: dict, arms: list[dict], labels: list[str]) -> dict:
    """The chart: the paper's Chiron-o1 rows (what our runs reproduce; the baselines stay in the
    markdown table) and ours, per column and the AVG (ours only where every averaged column is measured)."""
    columns, avg = list(table["columns"]), table.get("avg")
    ticks = _ticks(columns) + (["avg"] if avg else [])
    panel = {}
    for name, values in table["rows"].items():
        if name.startswith("Chiron-o1"):
            printed = [(avg.get("values") or {}).get(name)] if avg else []
            panel[f"paper {name}"] = dict(zip(ticks, [*values, *printed]))
    for arm, label in zip(arms, labels):
        for protocol, view in A.views(arm):
            ours = [metric_percent(view, c) for c in columns] + ([our_average(table, view)[0]] if avg else [])
            name = f"ours {label}" if protocol is None else f"ours {label} (protocol: {protocol})"
            panel[name] = dict(zip(ticks, ours))
    return panel


def table1(arms: list[dict], out_dir: str) -> list[str]:
    notes = ["The paper's Chiron rows are InternVL3-2B/8B trained with LoRA on the full MMRP mix through the "
             "three-stage curriculum; our avg is the mean of the five columns, shown only when all five are "
             "measured."]
    return _metric_table_report("table1", arms, out_dir, notes=notes)


def table2(arms: list[dict], out_dir: str) -> list[str]:
    notes = ["BERTScore: the paper uses roberta-large (layer 17); ours uses `eval.bertscore.model` (a "
             "local MiniLM unless set to roberta-large), so only a roberta-large run compares with the "
             "paper's column. MICS-Score: the share of intern runs judged correct from each prefix of the "
             "model's own reasoning, scored by the run's `interns` and `judge`; both are shown x100."]
    return _metric_table_report("table2", arms, out_dir, notes=notes)


def table5(arms: list[dict], out_dir: str) -> list[str]:
    notes = ["Subject accuracies come from `metrics.mmmu_hm.by_subject` (the five Health & Medicine "
             "subjects); subjects hold few items each, so their intervals are wide. Our avg is the run's "
             "`mmmu_hm` accuracy (as the paper's AVG is its overall MMMU(H&M) accuracy), shown only when "
             "all five subjects are measured."]
    return _metric_table_report("table5", arms, out_dir, notes=notes)


def demo_panels(arms: list[dict]) -> tuple[dict, dict]:
    """(panels, counts) of the demo chart: one bar per arm and benchmark, accuracy in percent, each
    labelled with its n."""
    benches, labels = A.benchmarks(arms), A.labels(arms)
    panel = {label: {b: A.percent(arm, b) for b in benches} for arm, label in zip(arms, labels)}
    counts = {label: {b: (A.entry(arm, b) or {}).get("n") for b in benches} for arm, label in zip(arms, labels)}
    return {"": panel}, {"": counts}


def demo_table(arms: list[dict]) -> str:
    """Per arm and benchmark: the trained model's accuracy with n and interval, the untrained base
    model's (a column only when some arm evaluated it) and the last curriculum stage's final loss."""
    with_base = any(A.base_metrics(arm) for arm in arms)
    header = ["arm", "benchmark", "trained: accuracy (95 % CI, n)", *(["untrained base"] if with_base else []),
              "final loss (last stage)"]
    rows = []
    for arm, label in zip(arms, A.labels(arms)):
        loss = loss_text(A.final_loss(arm))
        for b in A.benchmarks([arm]) or [DASH]:
            base = [accuracy_text(A.base_metrics(arm).get(b))] if with_base else []
            rows.append([label, b, accuracy_text(A.metrics(arm).get(b)), *base, loss])
    return md_table(header, rows)


def identical_lines(arms: list[dict]) -> list[str]:
    """One plain line per measure on which every arm shows the same number (as printed): at demo
    scale that is common, and a table of equal rows should not look like a finding."""
    if len(arms) < 2:
        return []
    measures = {f"{b} accuracy": [None if A.percent(arm, b) is None else f"{A.percent(arm, b):.1f} %"
                                  for arm in arms] for b in A.benchmarks(arms)}
    measures["final training loss"] = [None if A.final_loss(arm) is None else loss_text(A.final_loss(arm))
                                       for arm in arms]
    return [f"At demo scale the arms do not differ on {name} ({values[0]} in every arm)."
            for name, values in measures.items() if values[0] is not None and len(set(values)) == 1]


def demo(arms: list[dict], out_dir: str) -> list[str]:
    """The demo sweep (qc on/off x curriculum three_stage/stage3_only, demo benchmark): per arm the
    trained model's accuracy with its interval, the untrained base model's when evaluated and the final
    training loss; one bar per arm and benchmark shows the accuracies."""
    pngs = []
    if A.benchmarks(arms):
        panels, counts = demo_panels(arms)
        pngs.append(grouped_bars(panels, os.path.join(out_dir, "accuracy.png"), "Accuracy by arm", "accuracy (%)",
                                 counts))
    sections = ["The demo experiment has no paper counterpart: it runs every pipeline stage at toy size so "
                "the sweep, stage reuse and reports can be checked on a CPU in minutes.\n",
                "## Per arm\n", demo_table(arms), *identical_lines(arms)]
    return write_report(out_dir, "Demo sweep", sections, arms, pngs)
