"""Config schema of conf/pipeline (registered by chiron/schemas.py; pipeline/default.yaml lists it first)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List

from omegaconf import MISSING

from chiron.utils.choices import Choice


class StageName(Choice):  # chiron.pipeline.stages.STAGES, in run order
    part1 = "part1"
    part2 = "part2"
    part3 = "part3"
    search = "search"
    qc = "qc"
    mix = "mix"
    train = "train"
    eval = "eval"
    base_eval = "base_eval"


@dataclass
class PipelineConf:
    store_dir: str = MISSING
    last: StageName = MISSING
    recompute: List[StageName] = field(default_factory=list)
    base_eval: bool = True
