"""Reading what a task will read from its config: values that must be set, files and folders that
must exist, including a `${latest:...}` that found no run yet."""

from __future__ import annotations

import os
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import InterpolationResolutionError, MissingMandatoryValue

from chiron.preflight.needs import Need
from chiron.utils.paths import missing_run


class Unset(Exception):
    pass


def value_at(cfg: DictConfig, key: str) -> Any:
    """The resolved value at `key`; Unset when it is `???`, absent or null."""
    try:
        value = OmegaConf.select(cfg, key, throw_on_missing=True)
    except MissingMandatoryValue:
        raise Unset(key) from None
    if value is None:
        raise Unset(key)
    return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value


def path_need(cfg: DictConfig, key: str, kind: str, what: str, fix: str) -> list[Need]:
    """A file or folder the task reads at config `key`."""
    try:
        path = str(value_at(cfg, key))
    except Unset:
        return [Need(f"{key} is not set ({what})", fix)]
    except InterpolationResolutionError as exc:
        return [Need(f"{key} cannot be resolved: {exc}", fix)]
    run = missing_run(path)
    if run is not None:
        task, relative = run
        return [Need(f"{key}: no finished run of task={task} has {relative} yet",
                     f"run `python run.py task={task}` first, or set {key}=<path of {os.path.basename(relative)}>")]
    exists = os.path.isfile(path) if kind == "file" else os.path.isdir(path)
    if not exists:
        found = "a folder" if os.path.isdir(path) else "a file" if os.path.exists(path) else "nothing"
        return [Need(f"{key}: no {kind} at {path} (found {found}; {what})", fix)]
    return []


def corpus_needs(cfg: DictConfig) -> list[Need]:
    fix = "corpus.path=/data/cases.jsonl corpus.image_root=/data/images (your case records; README 'Building the training data (MMRP)')"
    return (path_need(cfg, "corpus.path", "file", "the case records", fix)
            + path_need(cfg, "corpus.image_root", "folder", "the images the records name", fix))
