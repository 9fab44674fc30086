"""Drawing each stage's samples from the sources, reproducibly.

Every random choice comes from `random.Random(f"{seed}:{key}")`, whose string seeding goes through
SHA-512 (never Python's per-process salted `hash()`), so a draw depends only on the seed, its key
("<stage>/<source>") and that source's own samples: adding, removing or editing another source, or
another stage, leaves it unchanged.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from chiron.data.sample import Sample
from chiron.data_mix.plan import MixPlan


def draw(samples: Sequence[Sample], count: int, seed: int, key: str) -> list[Sample]:
    """`count` samples from `samples`: floor(count/size) full copies plus a random subset (without
    replacement) for the remainder; below the source's size just a random subset.

    Copy k >= 2 of a sample gets id "<id>#r<k>"; every drawn sample records the original id in
    meta["origin_id"]. Drawn samples share their messages and image lists with the originals (a
    paper-scale stage holds ~1.75M samples): treat them as read-only.
    """
    if count < 0:
        raise ValueError(f"{key}: count must be >= 0, got {count}")
    if count == 0:
        return []
    if not samples:
        raise ValueError(f"{key}: source is empty but {count} samples are wanted")
    full, remainder = divmod(count, len(samples))
    picked = [(s, copy) for copy in range(1, full + 1) for s in samples]
    rng = random.Random(f"{seed}:{key}")
    picked += [(samples[i], full + 1) for i in rng.sample(range(len(samples)), remainder)]
    return [_copy(s, k) for s, k in picked]


def build_stage(plan_stage: Mapping[str, int], sources: Mapping[str, Sequence[Sample]], seed: int,
                stage_name: str) -> list[Sample]:
    """Draw every source of one stage and shuffle them together (seeded by the stage name)."""
    missing = [src for src, n in plan_stage.items() if n > 0 and src not in sources]
    if missing:
        raise ValueError(f"stage {stage_name!r} needs source(s) {missing}, which were not provided "
                         f"(got {sorted(sources)})")
    empty = [src for src, n in plan_stage.items() if n > 0 and not sources[src]]
    if empty:
        raise ValueError(f"stage {stage_name!r}: source(s) {empty} are empty")
    out = [s for src, n in plan_stage.items() for s in draw(sources[src], n, seed, f"{stage_name}/{src}")]
    random.Random(f"{seed}:{stage_name}/shuffle").shuffle(out)
    return out


def build_mix(plan: MixPlan, sources: Mapping[str, Sequence[Sample]]) -> dict[str, list[Sample]]:
    """Every stage of `plan`, in curriculum order."""
    return {stage: build_stage(counts, sources, plan.seed, stage) for stage, counts in plan.stages.items()}


def _copy(sample: Sample, copy: int) -> Sample:
    return Sample(id=sample.id if copy == 1 else f"{sample.id}#r{copy}", source=sample.source,
                  messages=sample.messages, images=sample.images,
                  meta={**sample.meta, "origin_id": sample.meta.get("origin_id", sample.id)})
