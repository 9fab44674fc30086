"""Where a job writes: `paths.run_dir` when set (pipeline stages, tests), else Hydra's run folder."""

from __future__ import annotations

import glob
import os
from importlib import resources

from omegaconf import DictConfig, OmegaConf

from chiron.llm.images import BadImage, image_policy


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


# What `${latest:...}` gives when no run has the file yet: a path that names the problem, so that
# composing (`--cfg job --resolve`) works on a fresh checkout and the input check
# (chiron/preflight.py) can say which task to run first.
NO_RUN_YET = "<no-finished-run-yet>"  # no spaces: YAML dumps wrap long lines at spaces


def latest_output(task: str, relative: str, *, _root_: DictConfig) -> str:
    """`${latest:TASK,FILE}`: FILE inside the newest run of TASK (by modification time of FILE)
    under paths.output_dir, single runs and sweep jobs alike; how one job finds its upstream
    job's result without the user copying paths around. Without such a run: a placeholder path
    under `<TASK>/runs/<no-finished-run-yet>/` that no file can match."""
    base = os.path.join(str(_root_.paths.output_dir), task)
    found = glob.glob(os.path.join(base, "runs", "*", relative)) + glob.glob(
        os.path.join(base, "multiruns", "*", "*", relative))
    if not found:
        return os.path.join(os.path.abspath(base), "runs", NO_RUN_YET, relative)
    return os.path.abspath(max(found, key=os.path.getmtime))


def missing_run(path: str) -> tuple[str, str] | None:
    """(task, file) when `path` is the placeholder `${latest:task,file}` gave for want of a run."""
    parts = str(path).split(os.sep)
    if NO_RUN_YET not in parts:
        return None
    at = parts.index(NO_RUN_YET)
    return parts[at - 2], os.sep.join(parts[at + 1:])


class PathOutsideRoot(BadImage):
    """A path in a record that resolves (through `..`, an absolute path or a symlink) outside the
    folder it must stay in. A ValueError and a BadImage (category "outside_root"): every reader sets
    its record, row or case aside like one with an unreadable image."""

    def __init__(self, message: str, path: str, root: str) -> None:
        super().__init__(message, "outside_root", path)
        self.root = root


def resolve_in_root(root: str, ref: str, what: str = "image") -> str:
    """`ref` (relative to `root`, or absolute) as an absolute path with `..` and symlinks resolved.

    Raises PathOutsideRoot naming the path and the root when that path is not inside `root` (itself
    resolved the same way), unless `images.allow_outside_root` is true. Nothing is opened: a
    missing file inside the root passes here and is the image check's business."""
    root_text, ref_text = str(root), str(ref)
    joined = os.path.join(root_text, ref_text)  # an absolute ref replaces the root
    resolved = os.path.realpath(joined)
    if image_policy().allow_outside_root:
        return resolved
    real_root = os.path.realpath(root_text)
    if resolved != real_root and not resolved.startswith(real_root.rstrip(os.sep) + os.sep):
        raise PathOutsideRoot(f"{what} path {ref_text!r} resolves to {resolved}, outside its root {real_root}; "
                              f"move the file under the root, or set images.allow_outside_root=true to accept "
                              f"such paths", joined, real_root)
    return resolved


def register_resolvers() -> None:
    if not OmegaConf.has_resolver("pkg"):
        OmegaConf.register_new_resolver("pkg", package_path)
    if not OmegaConf.has_resolver("latest"):
        OmegaConf.register_new_resolver("latest", latest_output)
