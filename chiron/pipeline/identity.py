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

    @property
    def arm_overrides(self) -> dict[str, str | None]:
        """The overrides as {key: value}, e.g. {"qc": "off", "curriculum": "stage3_only"} (a `~key`
        deletion has no value): in every run's config, so a chart can be grouped by a swept key."""
        pairs = (o.lstrip("+~").split("=", 1) for o in self.overrides)
        return {p[0]: (p[1] if len(p) > 1 else None) for p in pairs}

    def run_config(self) -> dict:
        """What every W&B run of this arm carries in its config, so any chart can be grouped by arm."""
        return {"arm": self.arm, "experiment": self.experiment, "arm_overrides": self.arm_overrides}

    def stage_config(self, stage: str, key: str, upstream: dict[str, str]) -> dict:
        """A stage's runs (the tracker's, and the runs its job starts): the arm that computed the result,
        and the stage's key. Arms that reuse the result log nothing: the computing arm's identity stands."""
        return {**self.run_config(), "stage": stage, "stage_key": key, "upstream": dict(upstream)}


# The experiment is the sweep's name; where files go, progress bars and logging settings never
# distinguish one arm's result from another's, so they stay out of its name.
NOT_ARM_KEYS = ("experiment", "run_name", "progress")
NOT_ARM_PREFIXES = ("paths.", "hydra.", "hydra/", "logger")


def _describes_no_arm(key: str) -> bool:
    return key in NOT_ARM_KEYS or key.startswith(NOT_ARM_PREFIXES)


def config_literal(value):
    """`value` (plain) escaped for a config: an override such as `x=${oc.env:KEY}` names an
    interpolation that must stay text there, never be resolved into the key's value."""
    if isinstance(value, dict):
        return {k: config_literal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [config_literal(v) for v in value]
    return value.replace("${", "\\${") if isinstance(value, str) else value


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
