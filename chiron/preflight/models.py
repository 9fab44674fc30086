"""The models a task calls: key variables and endpoints of API models, weights of local ones (a
folder, the Hugging Face cache, or a reachable hub), GPUs for training."""

from __future__ import annotations

import os
from typing import Any

from omegaconf import DictConfig

from chiron.preflight.config import Unset, value_at
from chiron.preflight.needs import Need
from chiron.preflight.probes import Probes

OPENAI_DEFAULT_URL = "https://api.openai.com/v1"


def spec_needs(spec: Any, role: str, probes: Probes) -> list[Need]:
    """A model spec (chiron/llm/spec.py ModelSpec) of `role`: its key variable, endpoint or weights."""
    label = f"{role} model '{spec.name}'"
    if spec.backend == "openai":
        needs = []
        if spec.api_key_env and not os.environ.get(spec.api_key_env):
            needs.append(Need(f"environment variable {spec.api_key_env} is not set",
                              "export each variable with its key (keys are read from the environment only)", label))
        return needs + probes.endpoint(spec.base_url or OPENAI_DEFAULT_URL, label)
    if spec.tiny:
        return []  # built locally on first use
    return weights_need(str(spec.model), label, "config.json", probes)


def weights_need(name: str, label: str, marker: str, probes: Probes) -> list[Need]:
    """A local folder, or a hub id that is cached or downloadable from here."""
    if os.path.isdir(name) or os.path.isfile(name):
        return []
    looks_local = name.startswith((".", "/", "~")) or name.count("/") != 1
    if looks_local:
        return [Need(f"{label}: no folder at {name}", f"point it at a local copy of the weights (a folder holding {marker})")]
    try:
        from huggingface_hub import try_to_load_from_cache
        cached = isinstance(try_to_load_from_cache(name, marker), str)
    except (OSError, ValueError):  # an unreadable cache, or a name the hub would refuse: not cached
        cached = False
    if cached:
        return []
    fix = ("download each where the hub is reachable (`huggingface-cli download <id>`) and bring the Hugging "
           "Face cache here (HF_HOME), or point the config at a local folder")
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "") or os.environ.get("TRANSFORMERS_OFFLINE", "0") not in ("0", ""):
        return [Need(f"{name} is not in the local Hugging Face cache and HF_HUB_OFFLINE is set", fix, label)]
    return probes.endpoint(os.environ.get("HF_ENDPOINT", "https://huggingface.co"), label, fix=fix,
                           what=f"{name} is not in the local Hugging Face cache and {{url}} cannot be reached ({{problem}})")


def group_needs(cfg: DictConfig, group: str, role: str, probes: Probes) -> list[Need]:
    from chiron.search.job import model_specs

    try:
        specs = model_specs(value_at(cfg, group))
    except Unset:
        return [Need(f"{group} is not set", f"choose a {group} option, e.g. {group}=tiny")]
    needs: list[Need] = []
    for spec in specs:
        needs += spec_needs(spec, role, probes)
    return needs


def single_spec_needs(cfg: DictConfig, key: str, role: str, probes: Probes) -> list[Need]:
    from chiron.llm.spec import ModelSpec

    try:
        mapping = value_at(cfg, key)
    except Unset:
        return [Need(f"{key} is not set", f"choose a model for the {role}")]
    return spec_needs(ModelSpec.from_mapping(mapping), role, probes)


def base_model_needs(cfg: DictConfig, probes: Probes) -> list[Need]:
    """`model` (task=train and the hf model under test): a tiny build, a local folder or a hub id."""
    if bool(cfg.model.get("tiny")):
        return []
    return weights_need(str(cfg.model.name_or_path), f"base model '{cfg.model.name}'", "config.json", probes)


def gpu_needs(cfg: DictConfig) -> list[Need]:
    """Training that asks for GPUs (trainer.accelerator gpu/cuda, or gpus_per_job > 0) on a machine
    that has fewer."""
    accelerator = str(cfg.trainer.get("accelerator", "auto"))
    wanted = int(cfg.get("gpus_per_job") or 0)
    devices = cfg.trainer.get("devices", "auto")
    if accelerator in ("gpu", "cuda") and isinstance(devices, int):
        wanted = max(wanted, devices)
    elif accelerator in ("gpu", "cuda"):
        wanted = max(wanted, 1)
    if wanted <= 0:
        return []
    import torch

    have = torch.cuda.device_count()
    if have >= wanted:
        return []
    return [Need(f"training asks for {wanted} GPU(s) (gpus_per_job={cfg.get('gpus_per_job')}, trainer "
                 f"accelerator={accelerator}) and this machine has {have}",
                 "run on a GPU node (e.g. hydra/launcher=submitit_slurm), or train on CPU with trainer=cpu "
                 "gpus_per_job=0 (tiny models only)")]
