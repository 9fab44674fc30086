"""`task=pipeline`: part 1-3 -> search -> QC -> mix -> curriculum training -> evaluation as one run.

Each stage's result is stored under a key of its resolved inputs (chiron/pipeline/keys.py), so a
run or sweep arm that needs a result some earlier run already computed reads it instead: a QC
sweep searches once, a curriculum sweep builds the mix once. The run folder gets
`pipeline/summary.json` (what the experiment reports read) and `pipeline/report.md`.
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from chiron.pipeline.identity import ArmIdentity, arm_identity, config_literal
from chiron.pipeline.keys import config_slice, stage_key
from chiron.pipeline.report import pipeline_settings, run_report_markdown
from chiron.pipeline.stages import STAGES, Stage, needed_stages, upstream_of
from chiron.pipeline.store import StageStore
from chiron.pipeline.tracking import StageTracker
from chiron.utils.errors import TaskFailed
from chiron.utils.jsonl import atomic_write_json, atomic_write_text, read_json_file
from chiron.utils.paths import run_dir

log = logging.getLogger(__name__)


def run(cfg: DictConfig) -> dict:
    started = time.monotonic()
    settings = cfg.pipeline
    store = StageStore(str(settings.store_dir))
    identity = arm_identity(cfg)
    stages = needed_stages(cfg, str(settings.last))
    graph = upstream_of(cfg)
    recompute = _recompute_set(settings.get("recompute"), stages, graph)
    tracker = StageTracker(OmegaConf.to_container(cfg.logger, resolve=True), identity)
    log.info("pipeline %s (group %s): stages %s; results stored under %s", identity.arm, identity.group,
             " -> ".join(stages), store.root)

    planned = plan_stages(cfg, stages, graph)
    folders: dict[str, str] = {}
    done: dict[str, dict] = {}
    changed: set[str] = set()  # stages whose stored result a retry changed: everything after is recomputed
    for number, name in enumerate(stages, 1):
        stage, (key, inputs, upstream) = STAGES[name], planned[name]
        if name in recompute or any(dep in changed for dep in graph[name]):
            store.set_aside(name, key)
        with store.claim(name, key) as folder:
            folders[name] = folder
            record = store.finished(name, key)
            upstream_folders = {dep: folders[dep] for dep in graph[name]}
            if record is None:
                log.info("[%d/%d] %s: computing into %s", number, len(stages), name, folder)
                record = _compute(stage, stage.point(_for_stage(cfg, identity, name, key, upstream), folder,
                                                      upstream_folders), key, upstream, inputs)
                store.mark_finished(name, key, record)
                reused = False
            elif record.get("retryable_failures"):
                log.info("[%d/%d] %s: stored in %s with %d failure(s) worth retrying; retrying them", number,
                         len(stages), name, folder, record["retryable_failures"])
                before = stage.outputs_digest(folder)
                record = _compute(stage, stage.point(_for_stage(cfg, identity, name, key, upstream), folder,
                                                      upstream_folders), key, upstream, inputs)
                store.mark_finished(name, key, record)
                reused = stage.outputs_digest(folder) == before
                if not reused:
                    changed.add(name)
            else:
                log.info("[%d/%d] %s: reused %s", number, len(stages), name, folder)
                reused = True
        done[name] = {"key": key, "folder": folder, "reused": reused, "wall_s": record["wall_s"],
                      "summary": record["result"]}
        tracker.stage(name, key, folder, upstream, inputs, record["result"], reused=reused)

    summary = {"experiment": identity.experiment, "arm": identity.arm, "group": identity.group,
               "overrides": identity.overrides, "settings": pipeline_settings(cfg), "stages": done,
               "trends": _read_if(folders.get("qc"), "qc", "trends.json"),
               "metrics": _read_if(folders.get("eval"), "eval", "metrics.json"),
               "base_metrics": _read_if(folders.get("base_eval"), "eval", "metrics.json"),
               "wall_s": round(time.monotonic() - started, 2)}
    out_dir = os.path.join(run_dir(cfg), "pipeline")
    atomic_write_json(os.path.join(out_dir, "summary.json"), summary)
    report = os.path.join(out_dir, "report.md")
    atomic_write_text(report, run_report_markdown(summary))
    tracker.arm_summary(summary, cfg)
    computed = [n for n, s in done.items() if not s["reused"]]
    log.info("pipeline finished in %.0f s: computed %s, reused %s", summary["wall_s"], computed or "nothing",
             [n for n in done if n not in computed] or "nothing")
    print(f"pipeline report: {os.path.abspath(report)}", flush=True)
    return summary


def _compute(stage: Stage, stage_cfg: DictConfig, key: str, upstream: dict[str, str], inputs: dict) -> dict:
    """Run a stage's job; its record (what `stage_done.json` holds). A job that raises TaskFailed
    produced nothing usable: it is not stored, and the next run computes it again."""
    tick = time.monotonic()
    try:
        result = stage.run(stage_cfg)
    except TaskFailed as exc:
        raise TaskFailed(f"pipeline stage {stage.name} failed and was not stored (the next run computes it "
                         f"again): {exc}") from None
    return {"stage": stage.name, "key": key, "upstream": upstream, "config": inputs,
            "wall_s": round(time.monotonic() - tick, 2), "result": _jsonable(result),
            "retryable_failures": stage.retryable_failures(result),
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S")}


def plan_stages(cfg: DictConfig, stages: list[str],
                graph: dict[str, list[str]]) -> dict[str, tuple[str, dict, dict[str, str]]]:
    """{stage: (key, its resolved config slice, {upstream stage: key})} for `stages` (in run order).
    A key needs only the config and upstream keys, never a result, so a whole sweep's sharing can be
    known before anything runs."""
    planned: dict[str, tuple[str, dict, dict[str, str]]] = {}
    for name in stages:
        inputs = config_slice(cfg, STAGES[name].config)
        upstream = {dep: planned[dep][0] for dep in graph[name]}
        planned[name] = (stage_key(name, inputs, upstream), inputs, upstream)
    return planned


def stage_keys(cfg: DictConfig, stages: list[str]) -> dict[str, str]:
    """{stage: key} for `stages` (in run order)."""
    return {name: key for name, (key, _, _) in plan_stages(cfg, stages, upstream_of(cfg)).items()}


def _recompute_set(value: Any, stages: list[str], graph: dict[str, list[str]]) -> set[str]:
    """The named stages and every stage downstream of them: a recomputed result may differ (sampling),
    and what was built from the old one must not be reused beside it."""
    names = {str(v) for v in (value or [])}
    unknown = names - set(STAGES)
    if unknown:
        raise ValueError(f"pipeline.recompute names unknown stages {sorted(unknown)}; stages: {list(STAGES)}")
    for name in stages:  # run order: upstream stages come first
        if any(dep in names for dep in graph[name]):
            names.add(name)
    return names & set(stages)


def _for_stage(cfg: DictConfig, identity: ArmIdentity, name: str, key: str,
               upstream: dict[str, str]) -> DictConfig:
    """The stage's own jobs (training, evaluation) log to W&B in this sweep's group; their run_name is
    the stage and its key, short and stable, so a resumed stage continues its W&B run (the id). The
    arm and stage go along as `logger.identity`: every run the job starts carries them in its config
    and is named `<arm>/<stage>`."""
    out = cfg.copy()
    with open_dict(out):
        out.run_name = f"{name}-{key}"
        if out.logger.get("kind") == "wandb":
            if not out.logger.get("group"):
                out.logger.group = identity.group
            out.logger.identity = config_literal(identity.stage_config(name, key, upstream))
    return out


def _read_if(folder: str | None, *relative: str) -> Any:
    if folder is None:
        return None
    path = os.path.join(folder, *relative)
    return read_json_file(path) if os.path.isfile(path) else None


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))
