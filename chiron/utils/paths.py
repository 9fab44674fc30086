"""Where a job writes: `paths.run_dir` when set (pipeline stages, tests), else Hydra's run folder."""

from __future__ import annotations

import glob
import os
from importlib import resources

from omegaconf import DictConfig, OmegaConf


def run_dir(cfg: DictConfig) -> str:
    """`paths.run_dir` when set (a pipeline stage writes into its store folder), else Hydra's run folder."""
    from hydra.core.hydra_config import HydraConfig

    explicit = cfg.paths.get("run_dir") if "paths" in cfg else None
    if explicit:
        return str(explicit)
    if HydraConfig.initialized():
        return HydraConfig.get().runtime.output_dir
    raise ValueError("no run folder: run under Hydra or set paths.run_dir")


def package_path(relative: str) -> str:
    """Absolute path of a file shipped inside the chiron package (the demo data)."""
    return os.path.join(str(resources.files("chiron")), relative)


def latest_output(task: str, relative: str, *, _root_: DictConfig) -> str:
    """`${latest:TASK,FILE}`: FILE inside the newest run of TASK (by modification time of FILE)
    under paths.output_dir, single runs and sweep jobs alike; how one job finds its upstream
    job's result without the user copying paths around."""
    base = os.path.join(str(_root_.paths.output_dir), task)
    found = glob.glob(os.path.join(base, "runs", "*", relative)) + glob.glob(
        os.path.join(base, "multiruns", "*", "*", relative))
    if not found:
        raise FileNotFoundError(f"no finished run of task={task} has {relative} under {base}; run "
                                f"`python run.py task={task}` first or give the path explicitly")
    return os.path.abspath(max(found, key=os.path.getmtime))


def register_resolvers() -> None:
    if not OmegaConf.has_resolver("pkg"):
        OmegaConf.register_new_resolver("pkg", package_path)
    if not OmegaConf.has_resolver("latest"):
        OmegaConf.register_new_resolver("latest", latest_output)
