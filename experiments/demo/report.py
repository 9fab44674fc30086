"""The demo sweep (qc on/off x curriculum): the report (README.md in this folder).

    python experiments/demo/report.py [SWEEP_DIR_OR_WANDB_GROUP ...] [--out DIR]
        [--project chiron] [--entity E]
"""

import os

from chiron.reports.cli import main

if __name__ == "__main__":
    main("demo", os.path.dirname(os.path.abspath(__file__)))
