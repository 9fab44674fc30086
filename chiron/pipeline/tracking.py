"""The pipeline's W&B record: a run per computed stage (job type = the stage) holding the stage's
config slice, summary and its result as an artifact, and one `pipeline` run per arm holding the
arm's whole summary (what `experiments/*/report.py` reads from the W&B API) and its whole composed
config, secrets scrubbed.

Every run of an arm carries `arm`, `experiment` and `arm_overrides` ({key: value} of the arm's
overrides) in its config, and a stage's runs also `stage` and `stage_key`, so any chart groups by
arm or by a swept key (`arm_overrides.qc`). A result computed once and reused by other arms (the
search of a QC sweep) is logged once, by the arm that computed it, under that arm's identity.

One run per computed stage; the jobs of two stages start W&B runs of their own:
- eval (and base_eval, keyed on the stage name: OWN_RUN_STAGES): the eval job's own run is the
  stage's run. It holds the example table, so it also takes the metrics artifact
  (`log_stage_artifact`) and the tracker starts no second run. base_eval (the untrained base model,
  computed once for all arms) is a run of its own with `stage: base_eval`, never an arm's eval run.
- train: a curriculum is up to three fits, each its own Lightning run (`<arm>/train/<curriculum
  stage>`, its own step axis, resumed by id), so none of them is the whole curriculum's run: the
  tracker's `train` run holds the adapter artifact and the lineage, the Lightning runs the curves.

Metric names are one scheme across run types: `<stage>/<path in the result>`, flattened by
`chiron.utils.loggers.flat_metrics`, e.g. `eval/demo/accuracy` and `eval/demo/mics_score/mean` alike
in the eval run and the arm's `pipeline` run (the base model's: `base_eval/demo/accuracy`).

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
from typing import Any

from omegaconf import DictConfig, OmegaConf

from chiron.pipeline.identity import ArmIdentity
from chiron.utils.loggers import flat_metrics, scrub_secrets, start_wandb_run, wandb_mode
from chiron.utils.stage_artifacts import log_stage_artifact

log = logging.getLogger(__name__)

# W&B artifact types by stage: the lineage reads search -> dataset -> model -> metrics.
ARTIFACT_TYPES = {"part1": "dataset", "part2": "dataset", "part3": "dataset", "search": "search-records",
                  "qc": "qc-report", "mix": "dataset", "train": "model", "eval": "metrics",
                  "base_eval": "metrics"}

# Stages whose job's own W&B run is the stage's run (the eval job's, chiron/eval/wandb_table.py): it
# logs the stage's artifact and summary itself, the tracker starts no second run (module docstring).
OWN_RUN_STAGES = frozenset({"eval", "base_eval"})


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
        """Log a computed stage; a reused one was logged by the run that computed it, an OWN_RUN_STAGES
        one by its job's own run."""
        if not self.enabled or reused or stage in OWN_RUN_STAGES:
            return
        run = self._init(stage, f"{self.identity.arm}/{stage}",
                         {**self.identity.stage_config(stage, key, upstream), **config})
        try:
            log_stage_artifact(run, stage, key, folder, upstream, ARTIFACT_TYPES[stage])
            for metric, value in flat_metrics(summary, stage).items():
                run.summary[metric] = value
        finally:
            run.finish()

    def arm_summary(self, summary: dict, cfg: DictConfig | None = None) -> None:
        """The arm's `pipeline` run: its summary, and (`composed`) the whole resolved config it ran with."""
        if not self.enabled:
            return
        composed = OmegaConf.to_container(cfg, resolve=True) if cfg is not None else None
        run = self._init("pipeline", self.identity.arm, {**self.identity.run_config(), "stage": "pipeline",
                                                          "settings": summary["settings"],
                                                          "overrides": summary["overrides"],
                                                          "stage_keys": {n: s["key"] for n, s in summary["stages"].items()},
                                                          "composed": composed})
        try:
            run.summary["pipeline"] = scrub_secrets(summary)
            # named as the eval job's own runs name them (`eval/...`; the base model's `base_eval/...`)
            for stage, key in (("eval", "metrics"), ("base_eval", "base_metrics")):
                for metric, value in flat_metrics(summary.get(key) or {}, stage).items():
                    run.summary[metric] = value
        finally:
            run.finish()
