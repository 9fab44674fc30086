"""Who a pipeline run is within its sweep: the experiment, the arm (named by its overrides) and the
W&B group every arm of one sweep shares."""

from __future__ import annotations

import dataclasses
import os

from omegaconf import DictConfig


@dataclasses.dataclass(frozen=True)
class ArmIdentity:
    experiment: str | None   # `+experiment=NAME`, or None for a plain run
    arm: str                 # the run's own overrides, e.g. "qc=off"; "default" without any
    group: str               # one per sweep (or per single run)
    overrides: list[str]     # those overrides


# The experiment is the sweep's name; where files go, progress bars and logging settings never
# distinguish one arm's result from another's, so they stay out of its name.
NOT_ARM_KEYS = ("experiment", "run_name", "progress")
NOT_ARM_PREFIXES = ("paths.", "hydra.", "hydra/", "logger")


def _describes_no_arm(key: str) -> bool:
    return key in NOT_ARM_KEYS or key.startswith(NOT_ARM_PREFIXES)


def arm_identity(cfg: DictConfig) -> ArmIdentity:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized():
        name = str(cfg.get("run_name"))
        return ArmIdentity(experiment=None, arm="default", group=f"pipeline-{name}", overrides=[])
    hc = HydraConfig.get()
    experiment = hc.runtime.choices.get("experiment")
    overrides = [str(o) for o in hc.overrides.task]
    own = [o for o in overrides if not _describes_no_arm(o.lstrip("+~").split("=", 1)[0])]
    if hc.mode == RunMode.MULTIRUN:
        where = os.path.basename(os.path.normpath(str(hc.sweep.dir)))
    else:
        where = str(cfg.get("run_name"))
    group = f"{experiment or 'pipeline'}-{where}"
    return ArmIdentity(experiment=experiment, arm=",".join(own) or "default", group=group, overrides=own)
