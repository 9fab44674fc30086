"""A pipeline stage's result as a W&B artifact: a reference to its stored folder, named by stage and
key, with its upstream stages. Here, below both, because the pipeline's tracker and the eval job's own
run (chiron/eval/wandb_table.py) both log one."""

from __future__ import annotations

import os
from typing import Any


def artifact_name(stage: str, key: str) -> str:
    return f"{stage}-{key}"


def log_stage_artifact(run: Any, stage: str, key: str, folder: str, upstream: dict[str, str],
                       artifact_type: str) -> None:
    """Log `folder` as the artifact `<stage>-<key>` of `run`; online, its upstream artifacts are marked
    used (offline W&B cannot look artifacts up, so their names go into the metadata instead)."""
    import wandb

    if not run.offline:
        for dep, dep_key in upstream.items():
            run.use_artifact(f"{artifact_name(dep, dep_key)}:latest")
    artifact = wandb.Artifact(artifact_name(stage, key), type=artifact_type,
                              metadata={"key": key, "upstream": {d: artifact_name(d, k) for d, k in upstream.items()},
                                        "folder": folder})
    # Checkpoints can be gigabytes: a training result is identified by its key, not re-hashed.
    artifact.add_reference(f"file://{os.path.abspath(folder)}", name=stage, checksum=stage != "train",
                           max_objects=100_000)
    run.log_artifact(artifact)
