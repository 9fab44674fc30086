"""Experiment loggers from `conf/logger/`: W&B that never prompts, CSV, or none; configs scrubbed of secrets."""

from __future__ import annotations

import netrc
import os
import re
from typing import Any

# Keys whose values must never reach a logger, even if someone put a secret in a config by mistake.
_SECRET_KEY = re.compile(r"(api[_-]?key|token|secret|password|passwd|authorization)$", re.IGNORECASE)
REDACTED = "<redacted>"


def scrub_secrets(obj: Any) -> Any:
    """A copy of a plain (nested dict/list) config with secret-looking values replaced."""
    if isinstance(obj, dict):
        return {k: (REDACTED if _SECRET_KEY.search(str(k)) and obj[k] not in (None, "") else scrub_secrets(v))
                for k, v in obj.items()}
    if isinstance(obj, list):
        return [scrub_secrets(v) for v in obj]
    return obj


def wandb_key_configured() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators("api.wandb.ai") is not None
    except (OSError, netrc.NetrcParseError):
        return False


def wandb_mode(mode: str | None) -> str:
    """`auto` -> online with a key, offline without; an explicit WANDB_MODE in the environment wins.

    Always a definite mode: with none set, wandb 0.31 asks on a terminal and fails without one.
    """
    if os.environ.get("WANDB_MODE"):
        return os.environ["WANDB_MODE"]
    if mode in (None, "auto"):
        return "online" if wandb_key_configured() else "offline"
    if mode not in ("online", "offline", "disabled"):
        raise ValueError(f"logger.mode must be auto, online, offline or disabled, got {mode!r}")
    return mode


def lightning_logger(settings: dict, name: str, run_id: str, save_dir: str, job_type: str,
                     group: str | None = None) -> Any:
    """A Lightning logger for one job; `run_id` makes a rerun continue the same W&B run."""
    kind = settings.get("kind", "none")
    if kind == "none":
        return False
    if kind == "csv":
        from pytorch_lightning.loggers import CSVLogger

        return CSVLogger(save_dir=save_dir, name="logs", version="")
    if kind != "wandb":
        raise ValueError(f"unknown logger kind {kind!r} (wandb | csv | none)")
    from pytorch_lightning.loggers import WandbLogger

    wandb_dir = settings.get("save_dir") or save_dir
    os.makedirs(wandb_dir, exist_ok=True)
    return WandbLogger(
        name=name, id=re.sub(r"[^A-Za-z0-9_-]", "-", run_id)[-128:], resume="allow", project=settings.get("project"),
        entity=settings.get("entity"), save_dir=wandb_dir, mode=wandb_mode(settings.get("mode")),
        group=settings.get("group") or group, job_type=job_type, tags=list(settings.get("tags") or []),
    )
