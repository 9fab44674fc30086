"""A Lightning Trainer for one curriculum stage from `conf/trainer/*.yaml` plus the stage's callbacks,
and the choice of the checkpoint a rerun resumes from.

Checkpoints (`<stage>/checkpoints/`): `last.ckpt` and the two latest `step<N>.ckpt` (files, or folders
under DeepSpeed), each with the random state (`rng.RandomState`). Before a rerun resumes, the
candidates are checked newest first (every zip member's CRC: a truncated or damaged file fails);
an unusable one is moved aside to `<stage>/checkpoints-unusable/` (renamed, never deleted) with a
warning, and the next is tried. When none is usable the stage restarts from its start, and says so.
"""

from __future__ import annotations

import logging
import os
import re
import time
import warnings
import zipfile
from typing import Any

import pytorch_lightning as pl

from chiron.train.rng import RandomState

log = logging.getLogger(__name__)

CHECKPOINT_DIR = "checkpoints"
UNUSABLE_DIR = "checkpoints-unusable"
LAST_CHECKPOINT = "last.ckpt"
KEEP_CHECKPOINTS = 2  # step checkpoints kept besides last.ckpt: the previous one is the fallback


def resolve_precision(precision: str, accelerator: str) -> str:
    """`auto`: bf16-mixed where a CUDA device supports it (the paper trains in bf16), else full precision."""
    if precision != "auto":
        return precision
    import torch

    gpu = accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available()
    return "bf16-mixed" if gpu and torch.cuda.is_bf16_supported() else "32-true"


def _drop_lightning_tips(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith("💡 Tip:")


def build_trainer(trainer_config: dict, stage_dir: str, *, epochs: int, grad_clip: float | None,
                  checkpoint_every: int, micro_batch: int, logger: Any, progress: bool,
                  extra_callbacks: tuple = ()) -> pl.Trainer:
    from hydra.utils import instantiate
    from pytorch_lightning.callbacks import ModelCheckpoint, ThroughputMonitor
    from pytorch_lightning.strategies import DeepSpeedStrategy

    settings = dict(trainer_config)
    strategy = settings.pop("strategy", "auto")
    if isinstance(strategy, dict):
        strategy = instantiate(strategy)
    if isinstance(strategy, DeepSpeedStrategy):
        # Our batches come from a batch sampler, so Lightning cannot infer DeepSpeed's micro-batch size.
        strategy.config = dict(strategy.config or {})
        strategy.config.setdefault("train_micro_batch_size_per_gpu", micro_batch)
    settings["precision"] = resolve_precision(str(settings.get("precision", "auto")), str(settings.get("accelerator")))
    callbacks = [
        # Written after optimizer steps only: a resumed stage skips exactly the batches already trained on.
        # "step" needs no logged metric (ModelCheckpoint always offers it): the KEEP_CHECKPOINTS latest stay.
        ModelCheckpoint(dirpath=os.path.join(stage_dir, CHECKPOINT_DIR), filename="step{step}",
                        every_n_train_steps=checkpoint_every, save_last=True, monitor="step", mode="max",
                        save_top_k=KEEP_CHECKPOINTS, save_on_train_epoch_end=True, auto_insert_metric_name=False),
        RandomState(),
        ThroughputMonitor(batch_size_fn=lambda batch: batch["input_ids"].shape[0],
                          length_fn=lambda batch: int(batch["attention_mask"].sum())),
        *extra_callbacks,
    ]
    # Our batch sampler resumes by the restored step count (batching.py), which Lightning cannot see.
    warnings.filterwarnings("ignore", message=".*resuming from a checkpoint that ended before the epoch ended.*")
    # Every Trainer without Lightning's own cloud logger logs a "Tip" advertising it: once per stage.
    rank_zero_logger = logging.getLogger("pytorch_lightning.utilities.rank_zero")
    if _drop_lightning_tips not in rank_zero_logger.filters:
        rank_zero_logger.addFilter(_drop_lightning_tips)
    return pl.Trainer(
        **settings, strategy=strategy, max_epochs=epochs, gradient_clip_val=grad_clip or None,
        callbacks=callbacks, logger=logger, default_root_dir=stage_dir, enable_progress_bar=progress,
        use_distributed_sampler=False,  # the batch sampler splits the data across ranks itself
        log_every_n_steps=1, num_sanity_val_steps=0, enable_model_summary=False,
    )


def checkpoint_candidates(stage_dir: str) -> list[str]:
    """The stage's checkpoints, newest first: last.ckpt, then step<N>.ckpt by N (then any other, by mtime)."""
    folder = os.path.join(stage_dir, CHECKPOINT_DIR)
    try:
        names = [n for n in os.listdir(folder) if n.endswith(".ckpt")]
    except OSError:
        return []

    def order(name: str) -> tuple:
        match = re.fullmatch(r"step(\d+)(?:-v(\d+))?\.ckpt", name)
        if name == LAST_CHECKPOINT:
            return (0, 0, 0)
        if match:
            return (1, -int(match.group(1)), -int(match.group(2) or 0))
        return (2, -os.path.getmtime(os.path.join(folder, name)), 0)

    return [os.path.join(folder, n) for n in sorted(names, key=order)]


def checkpoint_problem(path: str) -> str | None:
    """Why `path` (a Lightning checkpoint file, or a DeepSpeed checkpoint folder) cannot be resumed from; None if it can.

    Checks that every file is a complete zip archive (what torch.save writes) whose members all match
    their CRC, so a truncated or damaged checkpoint is refused before Lightning is handed it.
    """
    try:
        if os.path.isdir(path):
            return _deepspeed_problem(path)
        return _zip_problem(path)
    except OSError as err:
        return f"cannot be read ({err})"


def _zip_problem(path: str) -> str | None:
    if os.path.getsize(path) == 0:
        return "empty file"
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except zipfile.BadZipFile as err:
        return f"not a complete checkpoint archive ({err})"
    except (EOFError, ValueError, RuntimeError, NotImplementedError) as err:
        return f"damaged archive ({type(err).__name__}: {err})"
    return None if bad is None else f"damaged archive member {bad!r} (CRC mismatch)"


def _deepspeed_problem(folder: str) -> str | None:
    # A DeepSpeed checkpoint: `latest` names the tag folder holding the model states (rank 0's,
    # with Lightning's client state) and every rank's optimizer states, each a torch.save archive.
    latest = os.path.join(folder, "latest")
    if not os.path.isfile(latest):
        return "a DeepSpeed checkpoint folder without its 'latest' file"
    with open(latest) as f:
        tag = f.read().strip()
    tag_dir = os.path.join(folder, tag)
    if not tag or not os.path.isdir(tag_dir):
        return f"'latest' names {tag!r}, which is not a folder of the checkpoint"
    files = sorted(n for n in os.listdir(tag_dir) if n.endswith(".pt"))
    if not any(n.endswith("model_states.pt") for n in files):
        return f"no model states in {tag_dir}"
    if not any(n.endswith("optim_states.pt") for n in files):
        return f"no optimizer states in {tag_dir}"
    for name in files:
        problem = _zip_problem(os.path.join(tag_dir, name))
        if problem:
            return f"{name}: {problem}"
    return None


def resume_checkpoint(stage_dir: str, stage: str = "", move_aside: bool = True) -> str | None:
    """The newest usable checkpoint of the stage, or None (a fresh start).

    Unusable ones are reported and, with `move_aside` (global rank 0 only: the other ranks of a
    multi-process run only read), moved to `<stage_dir>/checkpoints-unusable/`, so that no later run
    picks them again and the trainer's own checkpoint names stay free.
    """
    what = f"stage {stage}" if stage else stage_dir
    unusable: list[str] = []
    chosen = None
    for path in checkpoint_candidates(stage_dir):
        problem = checkpoint_problem(path)
        if problem is None:
            chosen = path
            break
        log.warning("%s: checkpoint %s is unusable (%s); trying the one before it", what, path, problem)
        unusable.append(path)
    if move_aside:
        for path in unusable:
            _move_aside(path, stage_dir)
    if chosen is not None and unusable:
        log.warning("%s: resuming from %s instead", what, chosen)
    elif chosen is None and unusable:
        log.warning("%s: none of its %d checkpoints is usable (moved to %s); the stage restarts from its start",
                    what, len(unusable), os.path.join(stage_dir, UNUSABLE_DIR))
    return chosen


def _move_aside(path: str, stage_dir: str) -> None:
    folder = os.path.join(stage_dir, UNUSABLE_DIR)
    os.makedirs(folder, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = os.path.join(folder, f"{stamp}-{os.path.basename(path)}")
    n = 1
    while os.path.exists(target):
        target = os.path.join(folder, f"{stamp}-{n}-{os.path.basename(path)}")
        n += 1
    try:
        os.replace(path, target)
    except FileNotFoundError:
        return  # another process moved it first
    log.warning("moved the unusable checkpoint %s to %s", path, target)
