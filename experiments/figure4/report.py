"""Figure 4(a) (path-score trends, MICS vs vanilla): the report (README.md in this folder).

    python experiments/figure4/report.py [SWEEP_DIR_OR_WANDB_GROUP ...] [--out DIR]
        [--project chiron] [--entity E]
"""

import os

from chiron.reports.cli import main

if __name__ == "__main__":
    main("figure4", os.path.dirname(os.path.abspath(__file__)))
