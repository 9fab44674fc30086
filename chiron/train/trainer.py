"""A Lightning Trainer for one curriculum stage from `conf/trainer/*.yaml` plus the stage's callbacks."""

from __future__ import annotations

import os
import warnings
from typing import Any

import pytorch_lightning as pl

CHECKPOINT_DIR = "checkpoints"
LAST_CHECKPOINT = "last.ckpt"


def resolve_precision(precision: str, accelerator: str) -> str:
    """`auto`: bf16-mixed where a CUDA device supports it (the paper trains in bf16), else full precision."""
    if precision != "auto":
        return precision
    import torch

    gpu = accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available()
    return "bf16-mixed" if gpu and torch.cuda.is_bf16_supported() else "32-true"


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
        ModelCheckpoint(dirpath=os.path.join(stage_dir, CHECKPOINT_DIR), filename="step{step}",
                        every_n_train_steps=checkpoint_every, save_last=True, save_top_k=1,
                        save_on_train_epoch_end=True, auto_insert_metric_name=False),
        ThroughputMonitor(batch_size_fn=lambda batch: batch["input_ids"].shape[0],
                          length_fn=lambda batch: int(batch["attention_mask"].sum())),
        *extra_callbacks,
    ]
    # Our batch sampler resumes by the restored step count (batching.py), which Lightning cannot see.
    warnings.filterwarnings("ignore", message=".*resuming from a checkpoint that ended before the epoch ended.*")
    return pl.Trainer(
        **settings, strategy=strategy, max_epochs=epochs, gradient_clip_val=grad_clip or None,
        callbacks=callbacks, logger=logger, default_root_dir=stage_dir, enable_progress_bar=progress,
        use_distributed_sampler=False,  # the batch sampler splits the data across ranks itself
        log_every_n_steps=1, num_sanity_val_steps=0, enable_model_summary=False,
    )


def last_checkpoint(stage_dir: str) -> str | None:
    path = os.path.join(stage_dir, CHECKPOINT_DIR, LAST_CHECKPOINT)
    return path if os.path.exists(path) else None
