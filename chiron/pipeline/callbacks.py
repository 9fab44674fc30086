"""Hydra callback of the experiments (conf/experiment/base.yaml): when a sweep ends, one report of all
its arms beside each other, `<sweep dir>/report.md`, and where it is."""

from __future__ import annotations

import logging
import os
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger(__name__)


class SweepReport(Callback):
    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from chiron.reports import arms_table, load_local
        from chiron.utils.jsonl import atomic_write_text

        sweep_dir = os.path.abspath(str(config.hydra.sweep.dir))
        try:
            arms = load_local(sweep_dir)
        except (FileNotFoundError, ValueError) as error:  # every arm failed: nothing to put side by side
            log.warning("no sweep report: %s", error)
            return
        path = os.path.join(sweep_dir, "report.md")
        experiment = config.hydra.runtime.choices.get("experiment") or "pipeline"
        atomic_write_text(path, f"# {experiment}: {len(arms)} arms\n\n{arms_table(arms)}\n")
        print(f"sweep report: {path}", flush=True)
