"""Table 5 (MMMU Health & Medicine by subject): the report (README.md in this folder).

    python experiments/table5/report.py [SWEEP_DIR_OR_WANDB_GROUP ...] [--out DIR]
        [--project chiron] [--entity E]
"""

import os

from chiron.reports.cli import main

if __name__ == "__main__":
    main("table5", os.path.dirname(os.path.abspath(__file__)))
