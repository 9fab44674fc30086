"""Run a curriculum: its stages in order, each a Lightning fit continuing from the previous stage's adapter.

Everything a rerun needs lives in the stage folders, so rerunning the same command resumes:

    <out>/<stage>/stage.json     written last, when the stage's adapter is saved: the stage is done
    <out>/<stage>/adapter/       PEFT adapter (PeftModel.from_pretrained) + the processor
    <out>/<stage>/checkpoints/   Lightning checkpoints (trainable weights, optimizer, schedule, step)
    <out>/<stage>/lengths.json   the measured sample lengths
    <out>/<stage>/merged/        base + adapter merged (optional)

A finished stage is skipped; an interrupted one resumes from its newest usable checkpoint with the
right step, learning rate, data position and random state, and ends with the weights an uninterrupted
run ends with (`rng.py`, `trainer.resume_checkpoint`).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from chiron.train.datamodule import StageData
from chiron.train.model import LoraConfig, ModelConfig, add_lora, continue_lora, load_base, trainable_summary
from chiron.train.module import LoRAFineTune, OptimConfig
from chiron.train.trainer import build_trainer, resume_checkpoint
from chiron.utils.jsonl import apply_umask, atomic_write_json, read_json_if_complete
from chiron.utils.loggers import display_name, lightning_logger

log = logging.getLogger(__name__)

STAGE_DONE = "stage.json"
ADAPTER_DIR = "adapter"
MERGED_DIR = "merged"


@dataclass
class TrainSettings:
    model: ModelConfig
    lora: LoraConfig
    optim: OptimConfig
    trainer: dict
    global_batch: int = 16
    micro_batch: int = 1
    epochs_per_stage: int = 1
    max_length: int = 8192
    gradient_checkpointing: bool = True
    grad_clip: float | None = 1.0
    num_workers: int = 0
    group_factor: int | None = None
    checkpoint_every: int = 50
    save_merged: bool = False
    seed: int = 0
    logger: dict = field(default_factory=lambda: {"kind": "none"})
    progress: bool = True


class StageIncomplete(RuntimeError):
    """A fit returned before the stage's last step (interrupted); rerunning resumes it."""


def accumulation(global_batch: int, micro_batch: int, world_size: int) -> int:
    per_step = micro_batch * world_size
    if global_batch % per_step:
        raise ValueError(f"global_batch {global_batch} is not a multiple of micro_batch {micro_batch} x "
                         f"{world_size} devices")
    return global_batch // per_step


def run_curriculum(settings: TrainSettings, stages: list[tuple[str, str]], out_dir: str, run_name: str,
                   config_to_log: dict | None = None, extra_callbacks: tuple = ()) -> list[dict]:
    """Train `stages` ([(name, mix file)]) in order under `out_dir`; returns each stage's record."""
    if not stages:
        raise ValueError("the curriculum names no stages")
    records, previous = [], None
    for name, path in stages:
        stage_dir = os.path.join(out_dir, name)
        record = finished_stage(stage_dir)
        if record is None:
            record = _train_stage(settings, name, path, stage_dir, previous, run_name, config_to_log,
                                  extra_callbacks)
        elif os.path.abspath(record["data"]) != os.path.abspath(path):
            raise ValueError(f"stage {name} in {stage_dir} was trained on {record['data']}, not {path}; "
                             "use another run_name for other data")
        else:
            log.info("stage %s: already trained (%s), skipped", name, record["adapter"])
        records.append(record)
        previous = record["adapter"]
    return records


def finished_stage(stage_dir: str) -> dict | None:
    return read_json_if_complete(os.path.join(stage_dir, STAGE_DONE))


def _train_stage(settings: TrainSettings, name: str, path: str, stage_dir: str, previous: str | None,
                 run_name: str, config_to_log: dict | None, extra_callbacks: tuple) -> dict:
    import pytorch_lightning as pl

    os.makedirs(stage_dir, exist_ok=True)
    pl.seed_everything(settings.seed, workers=True, verbose=False)
    # named <arm>/train/<stage> inside task=pipeline (its config holds the arm: chiron/utils/loggers.py)
    logger = lightning_logger(settings.logger, name=display_name(settings.logger, f"{run_name}/{name}", name),
                              run_id=f"{run_name}-{name}", save_dir=stage_dir, job_type="train", group=run_name)
    trainer = build_trainer(settings.trainer, stage_dir, epochs=settings.epochs_per_stage,
                            grad_clip=settings.grad_clip, checkpoint_every=settings.checkpoint_every,
                            micro_batch=settings.micro_batch, logger=logger, progress=settings.progress,
                            extra_callbacks=extra_callbacks)
    trainer.accumulate_grad_batches = accumulate = accumulation(
        settings.global_batch, settings.micro_batch, trainer.world_size)
    base, processor = load_base(settings.model, device=trainer.strategy.root_device.type)
    if previous is None:
        model = add_lora(base, settings.model, settings.lora, settings.gradient_checkpointing)
    else:
        model = continue_lora(base, previous, settings.gradient_checkpointing)
    data = StageData(path, processor, settings.max_length, settings.micro_batch, accumulate, stage_dir,
                     processor_kwargs=settings.model.processor_kwargs, seed=settings.seed,
                     num_workers=settings.num_workers, group_factor=settings.group_factor,
                     progress=settings.progress)
    steps = data.optimizer_steps(trainer.world_size) * settings.epochs_per_stage
    module = LoRAFineTune(model, settings.optim, total_steps=steps, loss_window=accumulate)
    if logger and trainer.is_global_zero:
        # `stage` is the pipeline stage (train) in every run of an arm: the curriculum's own stage is apart
        logger.log_hyperparams({**(config_to_log or {}), "curriculum_stage": name,
                                "stage_data": data.measured.summary(len(data.samples)), "optimizer_steps": steps,
                                "accumulate": accumulate, **trainable_summary(model)})
    resume_from = resume_checkpoint(stage_dir, name, move_aside=trainer.is_global_zero)
    m = data.measured
    log.info("stage %s: %d of %d samples kept (%s; %d truncated, %d dropped too long, %d dropped for a bad image), "
             "%d optimizer steps%s", name, len(m.kept), len(data.samples), path, m.truncated, m.dropped,
             m.dropped_bad_image, steps, f", resuming from {resume_from}" if resume_from else "")
    started = time.time()
    trainer.fit(module, datamodule=data, ckpt_path=resume_from)
    if trainer.interrupted or trainer.global_step < steps:
        raise StageIncomplete(f"stage {name} stopped at optimizer step {trainer.global_step} of {steps}; "
                              "rerun the same command (same run_name) to resume it")
    record = {"stage": name, "data": path, "adapter": os.path.join(stage_dir, ADAPTER_DIR),
              "optimizer_steps": steps, "accumulate": accumulate, "world_size": trainer.world_size,
              "seconds_this_run": round(time.time() - started, 2), "continued_from": previous,
              **step_losses(module.first_losses, module.last_losses, resumed=resume_from is not None),
              **data.measured.summary(len(data.samples)),
              "sources": data.sources(), **trainable_summary(model)}
    if trainer.is_global_zero:
        _save_stage(model, processor, stage_dir, record, settings.save_merged)
    trainer.strategy.barrier()
    if logger and trainer.is_global_zero and hasattr(logger, "experiment") and settings.logger.get("kind") == "wandb":
        logger.experiment.finish()
    return record


def _save_stage(model: Any, processor: Any, stage_dir: str, record: dict, save_merged: bool) -> None:
    from chiron.llm.tiny import save_processor

    adapter = os.path.join(stage_dir, ADAPTER_DIR)
    model.save_pretrained(adapter)
    save_processor(processor, adapter)
    apply_umask(adapter)  # safetensors writes 0600: a shared store's adapters must be readable
    if save_merged:
        merged = os.path.join(stage_dir, MERGED_DIR)
        # merge_and_unload folds the adapter into the base weights in place, so it comes last.
        model.merge_and_unload().save_pretrained(merged)
        save_processor(processor, merged)
        apply_umask(merged)
        record["merged"] = merged
    atomic_write_json(os.path.join(stage_dir, STAGE_DONE), record)


def step_losses(first: Sequence[Any], last: Sequence[Any], resumed: bool) -> dict:
    """{first_loss, final_loss}: the mean loss over the micro-batches of the stage's first and of its
    last optimizer step (LoRAFineTune.first_losses / last_losses). A resumed stage did not see its first
    step in this process: no first_loss."""
    def mean(losses: Sequence[Any]) -> float:
        return round(sum(float(t) for t in losses) / len(losses), 6)

    if not last:
        return {"first_loss": None, "final_loss": None}
    return {"first_loss": None if resumed or not first else mean(first), "final_loss": mean(last)}