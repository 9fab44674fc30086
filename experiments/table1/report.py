"""Table 1 (accuracy on medical VQA benchmarks): the report (README.md in this folder).

    python experiments/table1/report.py [SWEEP_DIR_OR_WANDB_GROUP ...] [--out DIR]
        [--project chiron] [--entity E]
"""

import os

from chiron.reports.cli import main

if __name__ == "__main__":
    main("table1", os.path.dirname(os.path.abspath(__file__)))
