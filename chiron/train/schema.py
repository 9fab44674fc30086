"""Config schemas of training: conf/train, conf/model, conf/trainer, conf/curriculum (registered by
chiron/schemas.py; each option file lists its schema first in its defaults).

The fields are those chiron.train.job hands to TrainSettings, LoraConfig, OptimConfig, ModelConfig
and Lightning's Trainer, no more: an extra field would reach them as an unknown argument. Values
live in the YAML (MISSING here); batch arithmetic (global_batch a multiple of micro_batch x devices)
is checked when training starts, where the device count is known.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from omegaconf import MISSING

from chiron.utils.choices import Choice


@dataclass
class LoraConf:
    rank: int = MISSING
    alpha: int = MISSING
    dropout: float = MISSING
    target: Optional[str] = MISSING
    freeze_vision: bool = MISSING
    freeze_projector: bool = MISSING


@dataclass
class OptimConf:
    lr: float = MISSING
    weight_decay: float = MISSING
    warmup_ratio: float = MISSING
    betas: List[float] = MISSING
    eps: float = MISSING


@dataclass
class TrainConf:
    name: str = "lora"   # which conf/train option: lora (the paper's) | demo
    lora: LoraConf = field(default_factory=LoraConf)
    optim: OptimConf = field(default_factory=OptimConf)
    global_batch: int = MISSING
    micro_batch: int = MISSING
    epochs_per_stage: int = MISSING
    max_length: int = MISSING
    gradient_checkpointing: bool = MISSING
    grad_clip: Optional[float] = MISSING
    num_workers: int = MISSING
    group_factor: Optional[int] = MISSING
    checkpoint_every: int = MISSING
    save_merged: bool = MISSING


class ModelFamily(Choice):
    internvl = "internvl"
    qwen_vl = "qwen_vl"


@dataclass
class ModelConf:
    """conf/model: the base model that task=train fine-tunes and task=eval tests by default."""
    name: str = MISSING
    name_or_path: str = MISSING
    tiny: bool = MISSING
    seed: int = MISSING
    family: ModelFamily = MISSING
    dtype: str = MISSING
    attn_implementation: Optional[str] = MISSING
    lora_target: str = MISSING
    vision_modules: List[str] = MISSING
    projector_modules: List[str] = MISSING
    processor_kwargs: Dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainerConf:
    """conf/trainer: Lightning Trainer arguments. `devices` takes a count, a list or "auto" and
    `strategy` a name or a node to instantiate, so both stay Any; other Trainer arguments can be
    added with `+trainer.<name>=...`."""
    accelerator: str = MISSING
    devices: Any = MISSING
    num_nodes: int = MISSING
    precision: str = MISSING
    strategy: Any = MISSING


@dataclass
class CurriculumConf:
    name: str = MISSING
    stages: List[str] = MISSING  # file names in train_inputs.mix_dir (<stage>.jsonl)
