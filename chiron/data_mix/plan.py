"""The per-stage training mix (paper Table 4) as read from `conf/data_mix/*.yaml`.

The config is the single source of truth for the counts: no number of Table 4 is written in Python;
`paper_table()` reads them from `conf/data_mix/paper.yaml`. A config looks like

    name: paper
    scale: 1.0              # every count becomes round(count * scale), see `scale_count`
    seed: ${seed}           # the top-level seed
    drop_sources: []        # sources removed from every stage (ablations)
    formats: [ours, internvl, sharegpt]
    stages: {stage1: {mmrp_part1: 111260, ...}, stage2: {...}, stage3: {...}}

A source a stage does not use is simply absent from it (Table 4's "–").
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

STAGE_NAMES = ("stage1", "stage2", "stage3")  # the curriculum order
FORMATS = ("ours", "internvl", "sharegpt")  # what `export.write_mix` can write
CONF_DIR = Path(__file__).resolve().parents[2] / "conf" / "data_mix"


@dataclass(frozen=True)
class MixPlan:
    name: str
    seed: int
    scale: float
    drop_sources: frozenset[str]
    formats: tuple[str, ...]
    table: dict[str, dict[str, int]]  # stage -> source -> count as configured (before scale and drop)
    stages: dict[str, dict[str, int]]  # what to draw: scaled, dropped and zero-count sources removed

    def sources(self) -> list[str]:
        """Every source some stage draws from, in order of first use."""
        return list(dict.fromkeys(src for counts in self.stages.values() for src in counts))


def scale_count(count: int, scale: float) -> int:
    """`count * scale` rounded half up (not Python's round-half-even, so 0.5 gives 1); a non-zero count
    keeps at least 1, so a small run still sees every source the full mix has and keeps the proportions
    of the large sources within rounding."""
    if count == 0:
        return 0
    return max(1, math.floor(count * scale + 0.5))


def plan_from_config(cfg: Mapping[str, Any]) -> MixPlan:
    """Validate a `data_mix` config node; raise ValueError naming the offending key."""
    if isinstance(cfg, DictConfig):
        cfg = OmegaConf.to_container(cfg, resolve=True)  # resolves `seed: ${seed}` against the root
    if "stages" not in cfg:
        raise ValueError("data_mix config has no 'stages'")
    if "seed" not in cfg or isinstance(cfg["seed"], bool) or not isinstance(cfg["seed"], int):
        raise ValueError(f"data_mix.seed must be an integer, got {cfg.get('seed')!r}")
    scale = cfg.get("scale", 1.0)
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0 < scale < math.inf:
        raise ValueError(f"data_mix.scale must be a number > 0, got {scale!r}")
    formats = cfg.get("formats", FORMATS)
    unknown = [f for f in formats if f not in FORMATS] if isinstance(formats, (list, tuple)) else formats
    if unknown:
        raise ValueError(f"data_mix.formats: unknown {unknown!r}; give a list from {list(FORMATS)}")

    table = parse_table(cfg["stages"])
    drop_list = cfg.get("drop_sources") or []
    if not isinstance(drop_list, (list, tuple)) or not all(isinstance(s, str) for s in drop_list):
        raise ValueError(f"data_mix.drop_sources must be a list of source names, got {drop_list!r}")
    drop = frozenset(drop_list)
    used = {src for counts in table.values() for src in counts}
    if drop - used:  # most likely a typo, which would silently keep the source in
        raise ValueError(f"data_mix.drop_sources names {sorted(drop - used)}, which no stage uses")
    stages = {}
    for stage, counts in table.items():
        kept = {src: scale_count(n, scale) for src, n in counts.items() if src not in drop and n > 0}
        if not kept:
            raise ValueError(f"data_mix stage {stage!r} draws nothing: every count is 0 or in drop_sources")
        stages[stage] = kept
    return MixPlan(name=str(cfg.get("name", "mix")), seed=int(cfg["seed"]), scale=float(scale),
                   drop_sources=drop, formats=tuple(dict.fromkeys(formats)), table=table, stages=stages)


def parse_table(stages: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """Check the stage -> source -> count table and return it in curriculum order."""
    if isinstance(stages, DictConfig):
        stages = OmegaConf.to_container(stages, resolve=True)
    if not isinstance(stages, Mapping) or not stages:
        raise ValueError("data_mix.stages must be a non-empty mapping of stage -> {source: count}")
    unknown = [s for s in stages if s not in STAGE_NAMES]
    if unknown:
        raise ValueError(f"data_mix.stages: unknown stage {unknown}; stages are {list(STAGE_NAMES)}")
    table = {}
    for stage in (s for s in STAGE_NAMES if s in stages):
        counts = stages[stage]
        if not isinstance(counts, Mapping) or not counts:
            raise ValueError(f"data_mix.stages.{stage} must be a non-empty mapping of source -> count")
        table[stage] = {str(src): _count(n, f"data_mix.stages.{stage}.{src}") for src, n in counts.items()}
    return table


def paper_table() -> dict[str, dict[str, int]]:
    """Table 4 of the paper, as `conf/data_mix/paper.yaml` holds it."""
    return parse_table(OmegaConf.load(CONF_DIR / "paper.yaml").stages)


def _count(value: Any, where: str) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{where}: count must be an integer, got {value!r}")
    if value < 0:
        raise ValueError(f"{where}: count must be >= 0, got {value}")
    return value
