"""Task dispatch behind run.py. Each task is a function of the composed config."""

from __future__ import annotations

import errno
import importlib
import logging

from omegaconf import DictConfig

from chiron.llm.images import configure_images
from chiron.utils.errors import TaskFailed
from chiron.utils.jsonl import WriteFailed
from chiron.utils.paths import run_dir
from chiron.utils.runlock import run_folder_lock

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
    "estimate": "chiron.search.estimate:run",
}


DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def run_task(cfg: DictConfig):
    task = str(cfg.task)
    if task not in TASKS:
        raise ValueError(f"unknown task={task!r}; available: {sorted(TASKS)}")
    module, func = TASKS[task].split(":")
    from chiron.preflight import check_task

    # Before the lock and before any model loads: a missing input costs a second, not a model load.
    check_task(cfg, multirun=_in_multirun())
    images = cfg.get("images") or {}
    configure_images(max_pixels=images.get("max_pixels"), allow_outside_root=bool(images.get("allow_outside_root")))
    wait_s = float((cfg.get("run_lock") or {}).get("wait_s") or 0)
    # Taken before any model loads, so a refused second command costs nothing.
    with run_folder_lock(run_dir(cfg), wait_s=wait_s):
        try:
            return getattr(importlib.import_module(module), func)(cfg)
        except OSError as exc:
            if isinstance(exc, WriteFailed) or exc.errno in DISK_FULL:
                raise TaskFailed(str(exc) if isinstance(exc, WriteFailed) else
                                 f"out of disk space: {exc}; free space and rerun the same command to resume") from None
            raise
        finally:
            _finish_wandb()


def _in_multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def _finish_wandb() -> None:
    # A sweep runs many jobs in one process (basic launcher): a run left open would swallow the next.
    import sys

    wandb = sys.modules.get("wandb")
    if wandb is not None and getattr(wandb, "run", None) is not None:
        wandb.finish()
