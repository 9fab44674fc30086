"""Quality control of searched reasoning paths (paper App. A.3, App. B) and the Figure 4(a) trends.

trends: classify a path's per-depth scores and decide keep/flag; filter: apply that to records;
figure4: trend shares per method and scenario, and their chart; job: `task=qc_report`.
"""

from chiron.qc.filter import qc_filter
from chiron.qc.trends import TRENDS, classify_trend, describe_path, passes_qc, path_scores_of

__all__ = ["TRENDS", "classify_trend", "describe_path", "passes_qc", "path_scores_of", "qc_filter"]
