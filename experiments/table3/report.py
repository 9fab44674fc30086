"""Table 3 (training-set ablation): the report (README.md in this folder).

    python experiments/table3/report.py [SWEEP_DIR_OR_WANDB_GROUP ...] [--out DIR]
        [--project chiron] [--entity E]
"""

import os

from chiron.reports.cli import main

if __name__ == "__main__":
    main("table3", os.path.dirname(os.path.abspath(__file__)))
