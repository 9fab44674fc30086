"""Load the arm summaries of a finished sweep, from its folder or from W&B.

A pipeline arm writes `<sweep_dir>/<n>/pipeline/summary.json` and logs the same dict as
`run.summary["pipeline"]` of a W&B run (job_type "pipeline", group = the sweep's group). Both loaders
return that dict unchanged, one per arm, so every report works from either source.
"""

from __future__ import annotations

import os
import warnings
from typing import Any, Iterable

from chiron.utils.jsonl import read_json_file

SUMMARY = os.path.join("pipeline", "summary.json")


def _arm_dirs(sweep_dir: str) -> list[str]:
    """Numbered arm folders (Hydra's job numbers), in numeric order: 2 before 10."""
    names = [n for n in os.listdir(sweep_dir) if n.isdigit() and os.path.isdir(os.path.join(sweep_dir, n))]
    return [os.path.join(sweep_dir, n) for n in sorted(names, key=int)]


def load_local(sweep_dir: str) -> list[dict]:
    """Every arm's summary under `sweep_dir`, by arm number.

    A plain (non-sweep) run folder with its own pipeline/summary.json counts as a one-arm sweep.
    Arms without a summary (crashed, or still running) are skipped with a warning; a folder with no
    summary at all raises FileNotFoundError naming it.
    """
    if not os.path.isdir(sweep_dir):
        raise FileNotFoundError(f"no sweep folder at {sweep_dir!r}")
    single = os.path.join(sweep_dir, SUMMARY)
    if os.path.isfile(single):
        return [read_json_file(single)]
    arms = []
    for arm_dir in _arm_dirs(sweep_dir):
        path = os.path.join(arm_dir, SUMMARY)
        if os.path.isfile(path):
            arms.append(read_json_file(path))
        else:
            warnings.warn(f"arm {os.path.basename(arm_dir)} of {sweep_dir} has no {SUMMARY} "
                          "(crashed or still running): left out of the report", stacklevel=2)
    if not arms:
        raise FileNotFoundError(
            f"no arm summary in {sweep_dir!r}: expected <n>/{SUMMARY} per arm (or {SUMMARY} for a single "
            "run); has the sweep finished?")
    return arms


def plain(value: Any) -> Any:
    """W&B's nested summary objects (dict-like, not dicts) as plain dicts and lists, recursively."""
    if hasattr(value, "items") and hasattr(value, "keys"):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def load_wandb(group: str, project: str = "chiron", entity: str | None = None) -> list[dict]:
    """The `pipeline` summaries of the W&B runs of one sweep group (online; needs a W&B key)."""
    import wandb  # slow to import; only W&B sources pay for it

    try:
        api = wandb.Api()
    except wandb.errors.UsageError as e:
        raise RuntimeError(
            f"cannot read W&B group {group!r}: W&B has no API key ({e}). Set WANDB_API_KEY or run "
            "`wandb login`, or give a local sweep folder instead (it is not a folder here either)") from e
    path = f"{entity}/{project}" if entity else project
    runs = api.runs(path, filters={"group": group, "jobType": "pipeline"})
    arms = []
    for run in runs:
        if "pipeline" in run.summary:
            arms.append(plain(run.summary["pipeline"]))
        else:
            warnings.warn(f"W&B run {getattr(run, 'name', '?')!r} of group {group!r} has no `pipeline` "
                          "summary (crashed or still running): left out of the report", stacklevel=2)
    if not arms:
        raise FileNotFoundError(f"no pipeline run with a summary in W&B group {group!r} of project {path!r} "
                                f"(and {group!r} is not a local folder)")
    return arms


def load_arms(source: str, project: str = "chiron", entity: str | None = None) -> list[dict]:
    """An existing folder is read locally; anything else is taken as a W&B group name."""
    if os.path.isdir(source):
        return load_local(source)
    return load_wandb(source, project=project, entity=entity)


def _is_sweep(path: str) -> bool:
    return os.path.isfile(os.path.join(path, SUMMARY)) or bool(_arm_dirs(path))


def newest_sweep(root: str) -> str:
    """The most recently modified sweep (or single run) folder directly under `root`,
    e.g. outputs/experiments/ablation_qc/."""
    if not os.path.isdir(root):
        raise FileNotFoundError(f"no folder {root!r}: run the experiment first, or name a sweep folder or "
                                "W&B group")
    paths = (os.path.join(root, name) for name in os.listdir(root))
    found = [p for p in paths if os.path.isdir(p) and _is_sweep(p)]
    if not found:
        raise FileNotFoundError(f"no sweep folder under {root!r} (one with numbered arm folders or "
                                f"{SUMMARY})")
    # Modification time first: run names need not sort by time; the name breaks ties.
    return max(found, key=lambda p: (os.path.getmtime(p), p))


def load_many(sources: Iterable[str], project: str = "chiron", entity: str | None = None) -> list[dict]:
    arms: list[dict] = []
    for source in sources:
        arms.extend(load_arms(source, project=project, entity=entity))
    return arms
