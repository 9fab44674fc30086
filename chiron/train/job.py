"""`task=train`: run the curriculum named by `curriculum=` on the mix in `train_inputs.mix_dir`."""

from __future__ import annotations

import logging
import os

from omegaconf import DictConfig, OmegaConf

from chiron.train.curriculum import TrainSettings, run_curriculum
from chiron.train.model import LoraConfig, ModelConfig
from chiron.train.module import OptimConfig
from chiron.utils.jsonl import atomic_write_json
from chiron.utils.loggers import scrub_secrets
from chiron.utils.paths import run_dir

log = logging.getLogger(__name__)


# What a training run's logger records: the slices that decide the result. Resolving the whole
# config would also resolve other tasks' `${latest:...}` inputs, which need not exist.
LOGGED_KEYS = ("task", "seed", "run_name", "model", "train", "trainer", "curriculum", "train_inputs", "logger")


def _plain(node):
    return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node


def settings_from_config(cfg: DictConfig) -> TrainSettings:
    train = OmegaConf.to_container(cfg.train, resolve=True)
    train.pop("name", None)  # which option it came from (lora | demo): recorded, not a setting
    return TrainSettings(
        model=ModelConfig(**OmegaConf.to_container(cfg.model, resolve=True)),
        lora=LoraConfig(**train.pop("lora")),
        optim=OptimConfig(**{**train.pop("optim")}),
        trainer=OmegaConf.to_container(cfg.trainer, resolve=True),
        logger=OmegaConf.to_container(cfg.logger, resolve=True),
        seed=int(cfg.seed), progress=bool(cfg.progress), **train,
    )


def stage_files(cfg: DictConfig) -> list[tuple[str, str]]:
    mix_dir = str(cfg.train_inputs.mix_dir)
    if not os.path.isdir(mix_dir):
        raise FileNotFoundError(f"train_inputs.mix_dir={mix_dir} is not a folder; point it at a build_mix "
                                "run's mix/ folder (outputs/build_mix/runs/<run>/mix)")
    return [(str(name), os.path.join(mix_dir, f"{name}.jsonl")) for name in cfg.curriculum.stages]


def run(cfg: DictConfig) -> list[dict]:
    out_dir = os.path.join(run_dir(cfg), "train")
    stages = stage_files(cfg)
    config = scrub_secrets({key: _plain(cfg[key]) for key in LOGGED_KEYS if key in cfg})
    records = run_curriculum(settings_from_config(cfg), stages, out_dir, run_name=str(cfg.run_name),
                             config_to_log=config)
    summary = {"curriculum": str(cfg.curriculum.name), "model": str(cfg.model.name), "stages": records,
               "final_adapter": records[-1]["adapter"]}
    atomic_write_json(os.path.join(out_dir, "summary.json"), summary)
    for record in records:
        log.info("stage %s: %d samples kept (%d truncated, %d dropped too long, %d dropped for a bad image), "
                 "%d steps, loss %s -> %s", record["stage"], record["kept"], record["truncated"],
                 record["dropped_too_long"], record.get("dropped_bad_image", 0),  # absent in older stage.json
                 record["optimizer_steps"], record["final_loss"], record["adapter"])
    log.info("final adapter: %s", summary["final_adapter"])
    return records
