"""The config schema of a model spec: every entry of mentors.models and interns.models, judge.spec,
writer.part1/part3, mmrp's quality checker and eval.generator (registered by chiron/schemas.py).

It mirrors chiron.llm.spec.ModelSpec field for field, with ModelSpec's defaults, so a config entry
names only what differs; tests/test_config_schemas.py keeps the two in step. Types and choices are
checked when Hydra composes the config; checks across fields or of ranges (a tiny_role needs `tiny`,
prices >= 0, api_key_env names a variable) stay in ModelSpec.__post_init__, which runs before any
model loads and also guards specs built in code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Optional

from omegaconf import MISSING

from chiron.utils.choices import Choice


class Backend(Choice):  # chiron.llm.spec.BACKENDS
    openai = "openai"
    hf = "hf"
    vllm = "vllm"


class TinyKind(Choice):  # chiron.llm.tiny.KINDS
    internvl = "internvl"


class TinyRole(Choice):  # chiron.llm.tiny.ROLES
    mentor = "mentor"
    intern = "intern"
    judge = "judge"
    qa_writer = "qa_writer"
    vqa_writer = "vqa_writer"


@dataclass
class ModelSpecConf:
    name: str = MISSING
    backend: Backend = MISSING
    model: str = MISSING
    base_url: Optional[str] = None
    api_key_env: Optional[str] = None
    max_concurrency: int = 64
    rpm: Optional[float] = None
    tpm: Optional[float] = None
    timeout_s: float = 120.0
    max_retries: int = 6
    image_max_side: int = 512
    extra_body: Dict[str, Any] = field(default_factory=dict)
    price_in_per_mtok: float = 0.0
    price_out_per_mtok: float = 0.0
    price_cached_in_per_mtok: Optional[float] = None
    max_tokens: int = 1024
    top_p: float = 1.0
    top_k: int = 0
    device: str = "auto"  # a torch device name: auto, cpu, cuda, cuda:1 ...
    dtype: str = "auto"
    batch_size: int = 8
    batch_wait_ms: float = 5.0
    tiny: Optional[TinyKind] = None
    tiny_role: Optional[TinyRole] = None
    seed: int = 0
    processor_kwargs: Dict[str, Any] = field(default_factory=dict)
    adapter: Optional[str] = None
