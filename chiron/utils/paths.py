"""Where a job writes: Hydra's run folder when under Hydra, `paths.run_dir` otherwise (tests)."""

from __future__ import annotations

import os
from importlib import resources

from omegaconf import DictConfig, OmegaConf


def run_dir(cfg: DictConfig) -> str:
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        return HydraConfig.get().runtime.output_dir
    explicit = cfg.paths.get("run_dir") if "paths" in cfg else None
    if not explicit:
        raise ValueError("no run folder: run under Hydra or set paths.run_dir")
    return str(explicit)


def package_path(relative: str) -> str:
    """Absolute path of a file shipped inside the chiron package (the demo data)."""
    return os.path.join(str(resources.files("chiron")), relative)


def register_resolvers() -> None:
    if not OmegaConf.has_resolver("pkg"):
        OmegaConf.register_new_resolver("pkg", package_path)
