"""`task=build_mix`: gather every source the plan draws from, draw each stage, write the files.

Sources: MMRP Part 1 and Part 2 training samples (task=build_part1/2), MMRP Part 3 from a search's
records (task=search over the Part 3 pairs) after quality control (`qc=on|off`), and the public
VQA sets from their local copies (`vqa_sets`). Only the sources the plan uses are read, so
`data_mix=no_vqa` needs no VQA copy and a stage-1-only plan needs no search.

A sample with a bad image (`chiron.llm.images.check_image`) or an image path outside its root
(Part 3 images under `mix_inputs.part3_image_root`, a VQA set's under its copy) is dropped and
counted in the manifest (per stage and source `dropped_bad_image`; per source `bad_images`), and
the rest is drawn (see `chiron.data_mix.draw.ImageScreen`).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from omegaconf import DictConfig

from chiron.data.sample import Sample, iter_samples
from chiron.data_mix.draw import ImageScreen, build_mix
from chiron.data_mix.export import mix_manifest, write_mix
from chiron.data_mix.plan import plan_from_config
from chiron.mmrp import part1, part2, part3
from chiron.qc.filter import qc_filter
from chiron.qc.job import qc_rules
from chiron.utils.jsonl import read_jsonl, read_latest
from chiron.utils.paths import PathOutsideRoot, run_dir
from chiron.vqa_sets import VQA_SETS, load_vqa_set

log = logging.getLogger(__name__)

MMRP_FILES = {part1.SOURCE: "part1", part2.SOURCE: "part2"}


def run(cfg: DictConfig) -> dict:
    plan = plan_from_config(cfg.data_mix)
    screen = ImageScreen()
    sources, provenance = {}, {}
    for name in plan.sources():
        sources[name], provenance[name] = load_source(cfg, name, screen)
        log.info("source %s: %d samples", name, len(sources[name]))
    stages = build_mix(plan, sources, screen)
    out_dir = os.path.join(run_dir(cfg), "mix")
    manifest = {**mix_manifest(plan, sources, stages, screen), "inputs": provenance}
    for name, bad in manifest["bad_images"].items():
        if bad["dropped_bad_image"]:
            log.warning("source %s: %d sample(s) dropped for a bad image (%s); manifest.json lists examples",
                        name, bad["dropped_bad_image"], ", ".join(f"{n} {c}" for c, n in bad["by_category"].items()))
    written = write_mix(stages, out_dir, manifest, plan.formats)
    for stage, info in written["stages"].items():
        log.info("%s: %d samples", stage, info["total"])
    log.info("mix written to %s (manifest.json lists every file)", out_dir)
    return written


def load_source(cfg: DictConfig, name: str, screen: ImageScreen | None = None) -> tuple[list[Sample], dict[str, Any]]:
    inputs = cfg.mix_inputs
    if name in MMRP_FILES:
        path = str(inputs[MMRP_FILES[name]])  # resolved only now: a plan without it never looks
        return _read_samples(path, name), {"path": path}
    if name == part3.SOURCE:
        return _part3_samples(cfg, screen)
    if name in VQA_SETS:
        root = (cfg.vqa_sets.get("roots") or {}).get(name)
        if not root:
            raise ValueError(f"data_mix draws from {name} but vqa_sets.roots has no {name}: set "
                             f"vqa_sets.roots.{name}=<local copy> or drop it (data_mix=no_vqa)")
        split = str(cfg.vqa_sets.get("split", "train"))
        # A row whose image path leaves the copy is kept with the reason (meta["refused_images"]), so
        # the screen drops and counts it like any other bad image.
        samples = load_vqa_set(name, str(root), split=split, keep_refused=True)
        loaded = list(samples)
        return loaded, {"root": str(root), "split": split, "report": samples.report.summary()}
    raise ValueError(f"data_mix names an unknown source {name!r}; known: "
                     f"{sorted([*MMRP_FILES, part3.SOURCE, *VQA_SETS])}")


def _read_samples(path: str, name: str) -> list[Sample]:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{name}: no samples file at {path}")
    return list(iter_samples(read_jsonl(path)))


def _part3_samples(cfg: DictConfig, screen: ImageScreen | None = None) -> tuple[list[Sample], dict[str, Any]]:
    inputs = cfg.mix_inputs
    path, method = str(inputs.part3_records), str(inputs.part3_method)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"mmrp_part3: no search records at {path} (mix_inputs.part3_records)")
    # one per case, even in a file an older version wrote twice; in case order, because the search
    # writes cases as they finish (timing) and the mix's order is the training order
    records = sorted(read_latest(path, "rid"), key=lambda r: str(r.get("rid")))
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
    samples = []
    for record in kept:
        try:
            samples.append(part3.reasoning_sample(record, image_root))
        except PathOutsideRoot as exc:  # never opened; dropped and counted like a bad image
            if screen is None:
                raise
            screen.drop(part3.SOURCE, f"part3/{record.get('method', 'search')}/{record.get('rid')}", exc)
    return samples, {"path": path, "method": method, "qc": enabled, "records": len(records), "kept": len(kept),
                     "qc_reasons": dict(reasons)}
