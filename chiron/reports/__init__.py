"""Experiment reports: a finished sweep's arm summaries (pipeline/summary.json, locally or from W&B)
beside the paper's numbers (chiron/eval/paper_results.yaml), as markdown tables and PNG charts.

runs: load arm summaries; arms: read one summary; tables / plots: markdown and PNG building blocks;
paper, table3, figures, mentors: one function per report; registry: report -> default experiments;
cli: the shared command line of experiments/<report>/report.py.
"""

from chiron.reports.runs import load_arms, load_local, load_wandb, newest_sweep
from chiron.reports.tables import arms_table

__all__ = ["arms_table", "load_arms", "load_local", "load_wandb", "newest_sweep"]
