"""Figure 5 (curriculum stage subsets): the report (README.md in this folder).

    python experiments/figure5/report.py [SWEEP_DIR_OR_WANDB_GROUP ...] [--out DIR]
        [--project chiron] [--entity E]
"""

import os

from chiron.reports.cli import main

if __name__ == "__main__":
    main("figure5", os.path.dirname(os.path.abspath(__file__)))
