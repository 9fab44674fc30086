"""What a task will read and call, checked before anything loads: input files and folders, local
copies of VQA sets and benchmarks, API-key variables and endpoints of the roles it calls, model
folders or hub access, GPUs for training. Every problem found is a `Need` (what is missing, how to
provide it); `check_task` raises one `NeedsMissing` listing them all, so a user fixes everything in
one round instead of meeting the problems one traceback at a time, minutes into a run.

The checks read the config only; none loads a model or opens an image."""

from __future__ import annotations

import shlex
import sys
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from chiron.preflight.needs import Need, NeedsMissing, render
from chiron.preflight.tasks import task_needs
from chiron.utils.errors import TaskFailed

__all__ = ["InputsCheck", "Need", "NeedsMissing", "check_task", "demo_scale_command", "render", "task_needs"]


def demo_scale_command(cfg: DictConfig, multirun: bool) -> str | None:
    """The command that runs the same experiment at demo scale, or None outside a paper experiment."""
    choices = _hydra_choices(cfg)
    experiment = choices.get("experiment")
    if not experiment or choices.get("experiment/scale") or experiment == "demo":
        return None
    extra = [str(o) for o in ((cfg.get("demo_scale") or {}).get("overrides") or [])]
    words = ["python", "run.py", f"+experiment={experiment}", "+experiment/scale=demo", *(["-m"] if multirun else []),
             *extra]
    return " ".join(shlex.quote(w) for w in words)


def _hydra_choices(cfg: DictConfig) -> dict:
    """Which option of each group was chosen: from the config's `hydra` node (a sweep's callback
    gets it) or from the running job."""
    from hydra.core.hydra_config import HydraConfig

    if "hydra" in cfg:
        return dict(cfg.hydra.runtime.choices)
    if HydraConfig.initialized():
        return dict(HydraConfig.get().runtime.choices)
    return {}


def footer_for(cfg: DictConfig, multirun: bool) -> str:
    command = demo_scale_command(cfg, multirun)
    if command is None:
        return ""
    experiment = _hydra_choices(cfg).get("experiment")
    return (f"+experiment={experiment} runs at paper scale: the paper's API models, your case records, local copies "
            f"of the public VQA sets and benchmarks, and GPUs for training. The same experiment at demo scale "
            f"(bundled demo data, tiny models, offline on CPU) runs now with:\n  {command}")


def check_task(cfg: DictConfig, multirun: bool = False) -> None:
    """Raise NeedsMissing (a TaskFailed: one screen, no traceback) when the task lacks anything.
    `preflight=false` skips the check (e.g. a proxy that refuses the probe's plain TCP connect)."""
    if not cfg.get("preflight", True):
        return
    needs = task_needs(cfg)
    if needs:
        raise NeedsMissing(needs, footer_for(cfg, multirun))


class InputsCheck(Callback):
    """Hydra callback (conf/hydra/default.yaml): a sweep checks its inputs once, before any job is
    launched, so a paper sweep without its data stops with the needs screen instead of failing in
    every arm. Each job checks again when it starts (its arm may differ; a SLURM job sees its GPUs)."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if not config.get("preflight", True):
            return
        launcher = str(OmegaConf.select(config, "hydra.launcher._target_", default="") or "")
        on_cluster = "slurm" in launcher.lower()
        try:
            needs = task_needs(config, gpus_here=not on_cluster)
        except TaskFailed as exc:
            needs = [Need(str(exc), "see the message")]
        if needs:
            print(render(needs, footer_for(config, multirun=True)), file=sys.stderr, flush=True)
            raise SystemExit(1)  # Hydra reports exceptions with a traceback; this exits with the screen only
