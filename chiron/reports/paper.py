"""Reports of evaluation tables: Table 1 (VQA accuracy), Table 2 (reasoning), Table 5 (MMMU by
subject) beside the paper, and the generic demo report.

Each report takes the arm summaries and an output folder, writes report.md and PNGs there and
returns their paths.
"""

from __future__ import annotations

import os

from chiron.eval.report import paper_results
from chiron.reports import arms as A
from chiron.reports.document import write_report
from chiron.reports.plots import grouped_bars
from chiron.reports.tables import detail_table, paper_table


def _ticks(columns: list[str]) -> list[str]:
    """Short x labels: a benchmark prefix every column shares (Table 5's mmmu_hm/...) is dropped,
    subjects and metrics go on their own line."""
    prefixes = {c.partition("/")[0] for c in columns}
    shared = len(prefixes) == 1 and all("/" in c for c in columns)
    return [(c.partition("/")[2] if shared else c).replace("/", "\n").replace(":", "\n").replace("_", " ")
            for c in columns]


def _metric_table_report(key: str, arms: list[dict], out_dir: str, *, average: bool,
                         notes: list[str]) -> list[str]:
    table = paper_results()[key]
    columns, labels = list(table["columns"]), A.labels(arms)
    sections = [f"## {table['title']}\n", paper_table(table, arms, labels, average=average), *notes]
    if all(A.percent(arm, c) is None for arm in arms for c in columns):
        measured = ", ".join(A.benchmarks(arms)) or "nothing"
        sections.append(f"None of these arms measured this table's columns (they measured: {measured}); "
                        "the arms table below has what they did measure.")
    sections += ["### Our measurements (n and 95 % bootstrap interval)\n",
                 detail_table(arms, labels, columns)]
    # The Chiron-o1 rows are what our runs reproduce; the baselines stay in the markdown table.
    ticks = _ticks(columns)
    panel = {f"paper {name}": dict(zip(ticks, values))
             for name, values in table["rows"].items() if name.startswith("Chiron-o1")}
    for arm, label in zip(arms, labels):
        panel[f"ours {label}"] = {t: A.percent(arm, c) for t, c in zip(ticks, columns)}
    png = grouped_bars({"": panel}, os.path.join(out_dir, f"{key}.png"), table["title"])
    title = f"{table['title'].split(':')[0]}: ours beside the paper"
    return write_report(out_dir, title, sections, arms, [png])


def table1(arms: list[dict], out_dir: str) -> list[str]:
    notes = ["avg is the mean of the five columns (ours only when all five are measured). The paper's "
             "Chiron rows are InternVL3-2B/8B trained with LoRA on the full MMRP mix through the "
             "three-stage curriculum."]
    return _metric_table_report("table1", arms, out_dir, average=True, notes=notes)


def table2(arms: list[dict], out_dir: str) -> list[str]:
    notes = ["BERTScore: the paper uses roberta-large (layer 17); ours uses `eval.bertscore.model` (a "
             "local MiniLM unless set to roberta-large), so only a roberta-large run compares with the "
             "paper's column. MICS-Score: the share of intern runs judged correct from each prefix of the "
             "model's own reasoning, scored by the run's `interns` and `judge`; both are shown x100."]
    return _metric_table_report("table2", arms, out_dir, average=False, notes=notes)


def table5(arms: list[dict], out_dir: str) -> list[str]:
    notes = ["Subject accuracies come from `metrics.mmmu_hm.by_subject` (the five Health & Medicine "
             "subjects); subjects hold few items each, so their intervals are wide."]
    return _metric_table_report("table5", arms, out_dir, average=False, notes=notes)


def demo(arms: list[dict], out_dir: str) -> list[str]:
    """The demo sweep (qc on/off x curriculum three_stage/stage3_only, demo benchmark): the arms
    table is the report; one bar per arm and benchmark shows the accuracies."""
    benches = A.benchmarks(arms)
    panel = {label: {b: A.percent(arm, b) for b in benches} for arm, label in zip(arms, A.labels(arms))}
    pngs = []
    if benches:
        path = os.path.join(out_dir, "accuracy.png")
        pngs.append(grouped_bars({"": panel}, path, "Accuracy by arm", "accuracy (%)"))
    sections = ["The demo experiment has no paper counterpart: it runs every pipeline stage at toy size so "
                "the sweep, stage reuse and reports can be checked on a CPU in minutes."]
    return write_report(out_dir, "Demo sweep", sections, arms, pngs)
