"""`task=build_mix`: gather every source the plan draws from, draw each stage, write the files.

Sources: MMRP Part 1 and Part 2 training samples (task=build_part1/2), MMRP Part 3 from a search's
records (task=search over the Part 3 pairs) after quality control (`qc=on|off`), and the public
VQA sets from their local copies (`vqa_sets`). Only the sources the plan uses are read, so
`data_mix=no_vqa` needs no VQA copy and a stage-1-only plan needs no search.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from omegaconf import DictConfig

from chiron.data.sample import Sample, iter_samples
from chiron.data_mix.draw import build_mix
from chiron.data_mix.export import mix_manifest, write_mix
from chiron.data_mix.plan import plan_from_config
from chiron.mmrp import part1, part2, part3
from chiron.qc.filter import qc_filter
from chiron.qc.job import qc_rules
from chiron.utils.jsonl import read_jsonl
from chiron.utils.paths import run_dir
from chiron.vqa_sets import VQA_SETS, load_vqa_set

log = logging.getLogger(__name__)

MMRP_FILES = {part1.SOURCE: "part1", part2.SOURCE: "part2"}


def run(cfg: DictConfig) -> dict:
    plan = plan_from_config(cfg.data_mix)
    sources, provenance = {}, {}
    for name in plan.sources():
        sources[name], provenance[name] = load_source(cfg, name)
        log.info("source %s: %d samples", name, len(sources[name]))
    stages = build_mix(plan, sources)
    out_dir = os.path.join(run_dir(cfg), "mix")
    manifest = {**mix_manifest(plan, sources, stages), "inputs": provenance}
    written = write_mix(stages, out_dir, manifest, plan.formats)
    for stage, info in written["stages"].items():
        log.info("%s: %d samples", stage, info["total"])
    log.info("mix written to %s (manifest.json lists every file)", out_dir)
    return written


def load_source(cfg: DictConfig, name: str) -> tuple[list[Sample], dict[str, Any]]:
    inputs = cfg.mix_inputs
    if name in MMRP_FILES:
        path = str(inputs[MMRP_FILES[name]])  # resolved only now: a plan without it never looks
        return _read_samples(path, name), {"path": path}
    if name == part3.SOURCE:
        return _part3_samples(cfg)
    if name in VQA_SETS:
        root = (cfg.vqa_sets.get("roots") or {}).get(name)
        if not root:
            raise ValueError(f"data_mix draws from {name} but vqa_sets.roots has no {name}: set "
                             f"vqa_sets.roots.{name}=<local copy> or drop it (data_mix=no_vqa)")
        split = str(cfg.vqa_sets.get("split", "train"))
        samples = load_vqa_set(name, str(root), split=split)
        loaded = list(samples)
        return loaded, {"root": str(root), "split": split, "report": samples.report.summary()}
    raise ValueError(f"data_mix names an unknown source {name!r}; known: "
                     f"{sorted([*MMRP_FILES, part3.SOURCE, *VQA_SETS])}")


def _read_samples(path: str, name: str) -> list[Sample]:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{name}: no samples file at {path}")
    return list(iter_samples(read_jsonl(path)))


def _part3_samples(cfg: DictConfig) -> tuple[list[Sample], dict[str, Any]]:
    inputs = cfg.mix_inputs
    path, method = str(inputs.part3_records), str(inputs.part3_method)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"mmrp_part3: no search records at {path} (mix_inputs.part3_records)")
    records = list(read_jsonl(path))
    methods = {r.get("method") for r in records}
    if records and methods != {method}:
        raise ValueError(f"mix_inputs.part3_records holds {sorted(map(str, methods))} search records but "
                         f"mix_inputs.part3_method={method}: point it at a search=… run of that method")
    enabled, rules = qc_rules(cfg)
    kept, reasons = qc_filter(records, enabled, **rules)
    if records and not kept:
        raise ValueError(f"mmrp_part3: quality control flagged all {len(records)} search records "
                         f"({dict(reasons)}); search more cases, or build this mix with qc=off")
    image_root = str(inputs.part3_image_root)
    samples = [part3.reasoning_sample(r, image_root) for r in kept]
    return samples, {"path": path, "method": method, "qc": enabled, "records": len(records), "kept": len(kept),
                     "qc_reasons": dict(reasons)}
