"""The pipeline's W&B record: a run per computed stage (job type = the stage) holding the stage's
config slice, summary and its result as an artifact, and one `pipeline` run per arm holding the
arm's whole summary (what `experiments/*/report.py` reads from the W&B API).

Artifacts reference the stored files (`file://`) instead of uploading them: search records and
adapters stay on the machine that made them, W&B keeps their digests and the lineage
search -> dataset -> adapter -> metrics. Online, a stage's run marks its upstream stages'
artifacts as used, which draws the lineage graph; offline W&B cannot look artifacts up, so the
upstream keys are written into each artifact's metadata instead and the graph appears once the
consuming runs are synced in order.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any

from chiron.pipeline.identity import ArmIdentity
from chiron.utils.loggers import scrub_secrets, start_wandb_run, wandb_mode

log = logging.getLogger(__name__)

# W&B artifact types by stage: the lineage reads search -> dataset -> model -> metrics.
ARTIFACT_TYPES = {"part1": "dataset", "part2": "dataset", "part3": "dataset", "search": "search-records",
                  "qc": "qc-report", "mix": "dataset", "train": "model", "eval": "metrics"}


def artifact_name(stage: str, key: str) -> str:
    return f"{stage}-{key}"


class StageTracker:
    """No-op unless `logger.kind == wandb`."""

    def __init__(self, logger_settings: dict, identity: ArmIdentity):
        self.settings = logger_settings
        self.identity = identity
        self.enabled = logger_settings.get("kind") == "wandb"

    def _init(self, job_type: str, name: str, config: dict | None = None):
        save_dir = self.settings.get("save_dir") or "."
        os.makedirs(save_dir, exist_ok=True)
        # a run per stage: start_wandb_run keeps W&B silent and says where the runs go once per job
        return start_wandb_run(project=self.settings.get("project"), entity=self.settings.get("entity"),
                               dir=save_dir, mode=wandb_mode(self.settings.get("mode")),
                               group=self.settings.get("group") or self.identity.group, job_type=job_type,
                               name=name, tags=list(self.settings.get("tags") or []),
                               config=scrub_secrets(config or {}), reinit="finish_previous")

    def stage(self, stage: str, key: str, folder: str, upstream: dict[str, str], config: dict, summary: Any,
              reused: bool) -> None:
        """Log a computed stage; a reused one was logged by the run that computed it."""
        if not self.enabled or reused:
            return
        import wandb

        run = self._init(stage, f"{self.identity.arm}/{stage}", {"stage": stage, "key": key, "upstream": upstream,
                                                               **config})
        try:
            if not run.offline:  # offline W&B cannot look artifacts up (see the module docstring)
                for dep, dep_key in upstream.items():
                    run.use_artifact(f"{artifact_name(dep, dep_key)}:latest")
            artifact = wandb.Artifact(artifact_name(stage, key), type=ARTIFACT_TYPES[stage],
                                      metadata={"key": key, "upstream": {d: artifact_name(d, k) for d, k in upstream.items()},
                                                "folder": folder})
            # Checkpoints can be gigabytes: a training result is identified by its key, not re-hashed.
            artifact.add_reference(f"file://{os.path.abspath(folder)}", name=stage, checksum=stage != "train",
                                   max_objects=100_000)
            run.log_artifact(artifact)
            for metric, value in _flat_numbers(summary).items():
                run.summary[f"{stage}/{metric}"] = value
        finally:
            run.finish()

    def arm_summary(self, summary: dict) -> None:
        if not self.enabled:
            return
        run = self._init("pipeline", self.identity.arm, {"settings": summary["settings"],
                                                          "overrides": summary["overrides"],
                                                          "experiment": summary["experiment"],
                                                          "stage_keys": {n: s["key"] for n, s in summary["stages"].items()}})
        try:
            run.summary["pipeline"] = scrub_secrets(summary)
            for metric, value in _flat_numbers(summary.get("metrics") or {}).items():
                run.summary[f"eval/{metric}"] = value
        finally:
            run.finish()


def _flat_numbers(value: Any, prefix: str = "", depth: int = 3) -> dict[str, float]:
    """Numeric leaves of a nested summary as "a/b/c" keys (a few levels deep: enough for the charts)."""
    out: dict[str, float] = {}
    if isinstance(value, dict) and depth:
        for k, v in value.items():
            out.update(_flat_numbers(v, f"{prefix}{re.sub(r'[^A-Za-z0-9_.-]', '_', str(k))}/", depth - 1))
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        out[prefix.rstrip("/")] = value
    return out
