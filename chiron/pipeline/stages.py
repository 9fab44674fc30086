"""The pipeline's stages: what each reads from the config, which stages it reads from, and how its
job is pointed at its inputs and its store folder. The jobs themselves are the ordinary tasks
(`task=build_part1`, `task=search`, ...), unchanged."""

from __future__ import annotations

import dataclasses
import importlib
import os
from typing import Any, Callable

from omegaconf import DictConfig, OmegaConf, open_dict

from chiron.data_mix.plan import plan_from_config
from chiron.mmrp import part1, part2, part3
from chiron.utils.hashing import files_digest
from chiron.utils.jsonl import read_json_file


@dataclasses.dataclass(frozen=True)
class Stage:
    name: str
    job: str                                  # "module:function" of the task that computes it
    config: tuple[str, ...]                   # config paths whose resolved values decide the result
    # The config the job runs with: (cfg, this stage's folder, {upstream stage: folder}) -> cfg.
    point: Callable[[DictConfig, str, dict[str, str]], DictConfig]
    # The files (relative to the stage folder) later stages read: a retry that changes them makes
    # the stages after it compute again.
    outputs: tuple[str, ...] = ()
    # How many of the job's failures a rerun would try again (exhausted API retries), from its result.
    count_retryable: Callable[[Any], int] = lambda result: 0

    def run(self, cfg: DictConfig) -> Any:
        module, func = self.job.split(":")
        return getattr(importlib.import_module(module), func)(cfg)

    def retryable_failures(self, result: Any) -> int:
        return int(self.count_retryable(result) or 0) if isinstance(result, dict) else 0

    def outputs_digest(self, folder: str) -> str:
        return files_digest(folder, self.outputs)


def _part_errors(result: dict) -> int:
    return len(result.get("errors") or {})


def _eval_failures(result: dict) -> int:
    return sum(int(m.get("generation_failures", 0)) + int(m.get("judge_failures", 0))
               for m in result.values() if isinstance(m, dict))


def _with(cfg: DictConfig, folder: str, values: dict[str, Any]) -> DictConfig:
    """A copy of cfg that writes into `folder` and has `values` ({dotted path: value}) set."""
    out = cfg.copy()
    with open_dict(out):
        OmegaConf.update(out, "paths.run_dir", folder, force_add=True)
        for path, value in values.items():
            # merge=False: a mapping replaces the old one whole (qc_report.inputs must not keep the
            # default `${latest:...}` entry of the other method)
            OmegaConf.update(out, path, value, merge=False, force_add=True)
    return out


def _point_part(cfg: DictConfig, folder: str, upstream: dict[str, str]) -> DictConfig:
    return _with(cfg, folder, {})


def _point_search(cfg: DictConfig, folder: str, upstream: dict[str, str]) -> DictConfig:
    return _with(cfg, folder, {"data.path": os.path.join(upstream["part3"], "part3", "cases.jsonl"),
                               "data.image_root": cfg.corpus.image_root, "data.shard": 0, "data.num_shards": 1})


def _point_qc(cfg: DictConfig, folder: str, upstream: dict[str, str]) -> DictConfig:
    records = os.path.join(upstream["search"], "search", "records.jsonl")
    return _with(cfg, folder, {"qc_report.inputs": {str(cfg.search.name): records}})


def _point_mix(cfg: DictConfig, folder: str, upstream: dict[str, str]) -> DictConfig:
    values: dict[str, Any] = {}
    if "part1" in upstream:
        values["mix_inputs.part1"] = os.path.join(upstream["part1"], "part1", "samples.jsonl")
    if "part2" in upstream:
        values["mix_inputs.part2"] = os.path.join(upstream["part2"], "part2", "samples.jsonl")
    if "search" in upstream:
        values["mix_inputs.part3_records"] = os.path.join(upstream["search"], "search", "records.jsonl")
        values["mix_inputs.part3_method"] = str(cfg.search.name)
        values["mix_inputs.part3_image_root"] = cfg.corpus.image_root
    return _with(cfg, folder, values)


def _point_train(cfg: DictConfig, folder: str, upstream: dict[str, str]) -> DictConfig:
    return _with(cfg, folder, {"train_inputs.mix_dir": os.path.join(upstream["mix"], "mix")})


def _point_eval(cfg: DictConfig, folder: str, upstream: dict[str, str]) -> DictConfig:
    return _with(cfg, folder, {"eval.adapter": final_adapter(upstream["train"])})


def _point_base_eval(cfg: DictConfig, folder: str, upstream: dict[str, str]) -> DictConfig:
    return _with(cfg, folder, {"eval.adapter": None})


def final_adapter(train_folder: str) -> str:
    return str(read_json_file(os.path.join(train_folder, "train", "summary.json"))["final_adapter"])


EVAL_CONFIG = ("seed", "images", "model", "eval", "benchmarks", "judge", "interns")

# In the order they run. `config` lists what decides each result; upstream keys cover the rest.
STAGES: dict[str, Stage] = {s.name: s for s in (
    Stage("part1", "chiron.mmrp.job:run_part1", ("seed", "corpus", "images", "writer", "mmrp.part1"), _point_part,
          ("part1/samples.jsonl",), _part_errors),
    Stage("part2", "chiron.mmrp.job:run_part2", ("seed", "corpus", "images", "mmrp.part2"), _point_part),
    Stage("part3", "chiron.mmrp.job:run_part3", ("seed", "corpus", "images", "writer", "mmrp.part3"), _point_part,
          ("part3/cases.jsonl",), _part_errors),
    Stage("search", "chiron.search.job:run", ("seed", "images", "search", "mentors", "interns", "judge", "data.limit"),
          _point_search, ("search/records.jsonl",), lambda result: result.get("retryable_failures", 0)),
    Stage("qc", "chiron.qc.job:run", ("qc", "search.name"), _point_qc),
    Stage("mix", "chiron.data_mix.job:run", ("seed", "images", "data_mix", "vqa_sets", "qc"), _point_mix),
    Stage("train", "chiron.train.job:run", ("seed", "images", "model", "train", "trainer", "curriculum"), _point_train),
    Stage("eval", "chiron.eval.job:run", EVAL_CONFIG, _point_eval, ("eval/metrics.json",), _eval_failures),
    # The untrained base on the same benchmarks: what training is measured against. It reads no
    # other stage, so every arm of a sweep shares one result.
    Stage("base_eval", "chiron.eval.job:run", EVAL_CONFIG, _point_base_eval, ("eval/metrics.json",), _eval_failures),
)}


def upstream_of(cfg: DictConfig) -> dict[str, list[str]]:
    """{stage: the stages it reads from} for this config. The mix reads only the sources its plan
    draws from, so a plan without MMRP Part 3 (Table 3 row 1) runs no search at all."""
    sources = set(plan_from_config(cfg.data_mix).sources())
    mix_from = [name for name, source in (("part1", part1.SOURCE), ("part2", part2.SOURCE), ("search", part3.SOURCE))
                if source in sources]
    return {"part1": [], "part2": [], "part3": [], "search": ["part3"], "qc": ["search"], "mix": mix_from,
            "train": ["mix"], "eval": ["train"], "base_eval": []}


def needed_stages(cfg: DictConfig, last: str) -> list[str]:
    """The stages `last` depends on (itself included), in run order. QC rides along with the search:
    its trend report is what Figure 4 and the QC counts are read from."""
    if last not in STAGES:
        raise ValueError(f"pipeline.last={last!r} is not a stage; stages: {list(STAGES)}")
    graph = upstream_of(cfg)
    needed: set[str] = set()

    def visit(name: str) -> None:
        if name not in needed:
            needed.add(name)
            for dep in graph[name]:
                visit(dep)

    visit(last)
    if "search" in needed:
        needed.add("qc")
    if "eval" in needed and cfg.pipeline.get("base_eval", True):
        needed.add("base_eval")
    return [name for name in STAGES if name in needed]
