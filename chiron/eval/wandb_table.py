"""The evaluation's W&B run: metrics as summary values and a table of example items per benchmark.

Inside task=pipeline (`logger.identity` set) this run is the eval stage's one run (see
chiron/pipeline/tracking.py): named `<arm>/<stage>`, job type and metric prefix the stage (eval, or
base_eval for the untrained base model), it also holds the stage's metrics artifact.
"""

from __future__ import annotations

import os
import re

from chiron.utils.loggers import (
    display_name,
    flat_metrics,
    run_identity,
    scrub_secrets,
    staged_in_run_folder,
    start_wandb_run,
    wandb_mode,
)
from chiron.utils.stage_artifacts import log_stage_artifact

COLUMNS = ["benchmark", "id", "subject", "question", "image", "reasoning", "answer", "gold", "verdict"]


def log_eval(settings: dict, run_name: str, config: dict, rows: dict[str, list[dict]], metrics: dict,
             examples: int, out_dir: str, stage_folder: str | None = None) -> None:
    """`stage_folder`: inside task=pipeline, the stage's store folder, logged as the stage's artifact."""
    import wandb

    save_dir = settings.get("save_dir") or out_dir
    os.makedirs(save_dir, exist_ok=True)
    identity = run_identity(settings)
    stage = identity.get("stage", "eval")  # base_eval's metrics are base_eval/..., as in the pipeline run
    run_id = re.sub(r"[^A-Za-z0-9_-]", "-", f"{run_name}-eval")[-128:]
    run = start_wandb_run(project=settings.get("project"), entity=settings.get("entity"), dir=save_dir,
                          mode=wandb_mode(settings.get("mode")), group=settings.get("group") or run_name,
                          job_type=stage,
                          name=display_name(settings, f"{run_name}-eval"), id=run_id, resume="allow",
                          tags=list(settings.get("tags") or []), config=scrub_secrets({**identity, **config}))
    try:
        table = wandb.Table(columns=COLUMNS)
        for benchmark, benchmark_rows in rows.items():
            for row in benchmark_rows[:examples]:
                image = wandb.Image(row["images"][0]) if row.get("images") else None
                table.add_data(benchmark, row["id"], row.get("subject"), row["question"], image, row.get("reply"),
                               row.get("extracted"), row["gold"], _verdict(row))
        with staged_in_run_folder(run):  # the images travel with the run folder `wandb sync` uploads
            run.log({f"{stage}/examples": table})
        # <stage>/<benchmark>/<path in metrics.json>, as the pipeline run names them:
        # eval/<benchmark>/accuracy is the primary protocol's, eval/<benchmark>/protocols/<p>/accuracy p's
        for metric, value in flat_metrics(metrics, stage).items():
            run.summary[metric] = value
        for benchmark, m in metrics.items():
            run.summary[f"{stage}/{benchmark}/protocol"] = m.get("protocol", "chiron")
        if identity and stage_folder is not None:
            log_stage_artifact(run, stage, identity["stage_key"], stage_folder, identity["upstream"], "metrics")
    finally:
        run.finish()


def _verdict(row: dict) -> str:
    """The primary protocol's status; with several protocols, each one's ("chiron: wrong; reference: skipped")."""
    scores = row.get("scores") or {}
    if len(scores) < 2:
        return row["status"]
    return "; ".join(f"{protocol}: {verdict.get('status')}" for protocol, verdict in scores.items())
