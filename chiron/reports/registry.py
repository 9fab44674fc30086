"""Which report reads which experiments' sweeps (the default sources of experiments/<name>/report.py),
and the command that runs each experiment."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from chiron.reports import figures, mentors, paper, table3


@dataclass(frozen=True)
class ReportSpec:
    render: Callable[[list[dict], str], list[str]]
    experiments: tuple[str, ...]  # conf/experiment names whose newest sweep is the default source
    what: str


REPORTS = {
    "table1": ReportSpec(paper.table1, ("chiron_o1_2b", "chiron_o1_8b"), "Table 1: VQA accuracy"),
    "table2": ReportSpec(paper.table2, ("chiron_o1_2b", "chiron_o1_8b"), "Table 2: reasoning benchmarks"),
    "table3": ReportSpec(table3.table3, ("ablation_mics_vs_vanilla", "ablation_vqa", "ablation_qc"),
                         "Table 3: training-set ablation"),
    "figure4": ReportSpec(figures.figure4, ("ablation_mics_vs_vanilla",), "Figure 4(a): path-score trends"),
    "figure5": ReportSpec(figures.figure5, ("ablation_stages",), "Figure 5: curriculum stage subsets"),
    "table5": ReportSpec(paper.table5, ("chiron_o1_8b",), "Table 5: MMMU H&M by subject"),
    "mentor_sets": ReportSpec(mentors.mentor_sets, ("ablation_mentor_sets",),
                              "mentor sets (no paper numbers)"),
    "demo": ReportSpec(paper.demo, ("demo",), "the demo sweep"),
}

# conf/experiment/<name>.yaml; the full runs are single pipelines, every other experiment is a sweep.
COMMANDS = {name: f"python run.py +experiment={name}" + ("" if name.startswith("chiron_o1") else " -m")
            for spec in REPORTS.values() for name in spec.experiments}
