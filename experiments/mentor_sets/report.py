"""The mentor-set sweep (no paper numbers): the report (README.md in this folder).

    python experiments/mentor_sets/report.py [SWEEP_DIR_OR_WANDB_GROUP ...] [--out DIR]
        [--project chiron] [--entity E]
"""

import os

from chiron.reports.cli import main

if __name__ == "__main__":
    main("mentor_sets", os.path.dirname(os.path.abspath(__file__)))
