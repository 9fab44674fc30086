"""Config schemas of conf/logger, one per option (registered by chiron/schemas.py): a csv or none
logger has no W&B settings, so `logger=csv logger.mode=offline` is refused instead of ignored."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from omegaconf import MISSING

from chiron.utils.choices import Choice


class LoggerKind(Choice):
    wandb = "wandb"
    csv = "csv"
    none = "none"


class WandbMode(Choice):
    auto = "auto"  # online when a key is configured, offline otherwise (chiron.utils.loggers.wandb_mode)
    online = "online"
    offline = "offline"
    disabled = "disabled"


@dataclass
class LoggerConf:
    kind: LoggerKind = MISSING


@dataclass
class WandbLoggerConf(LoggerConf):
    project: str = MISSING
    entity: Optional[str] = MISSING
    mode: WandbMode = MISSING
    group: Optional[str] = MISSING
    save_dir: str = MISSING
    tags: List[str] = field(default_factory=list)
    # Set by task=pipeline for each stage's job, never by hand: {arm, experiment, arm_overrides, stage,
    # stage_key, upstream}, put into the config of every W&B run the job starts (chiron/utils/loggers.py).
    identity: Optional[Dict[str, Any]] = None
