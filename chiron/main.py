"""Task dispatch behind run.py. Each task is a function of the composed config."""

from __future__ import annotations

import importlib
import logging

from omegaconf import DictConfig

log = logging.getLogger(__name__)

# task name -> "module:function"; imported lazily so a task never pays for another's imports.
TASKS = {
    "search": "chiron.search.job:run",
    "search_merge": "chiron.search.merge:run",
    "build_part1": "chiron.mmrp.job:run_part1",
    "build_part2": "chiron.mmrp.job:run_part2",
    "build_part3": "chiron.mmrp.job:run_part3",
    "qc_report": "chiron.qc.job:run",
    "build_mix": "chiron.data_mix.job:run",
    "train": "chiron.train.job:run",
    "eval": "chiron.eval.job:run",
    "pipeline": "chiron.pipeline.job:run",
}


def run_task(cfg: DictConfig):
    task = str(cfg.task)
    if task not in TASKS:
        raise ValueError(f"unknown task={task!r}; available: {sorted(TASKS)}")
    module, func = TASKS[task].split(":")
    try:
        return getattr(importlib.import_module(module), func)(cfg)
    finally:
        _finish_wandb()


def _finish_wandb() -> None:
    # A sweep runs many jobs in one process (basic launcher): a run left open would swallow the next.
    import sys

    wandb = sys.modules.get("wandb")
    if wandb is not None and getattr(wandb, "run", None) is not None:
        wandb.finish()
