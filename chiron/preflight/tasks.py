"""What each task reads and calls, as needs: `task_needs(cfg)` lists everything missing here."""

from __future__ import annotations

import os
from collections.abc import Callable

from omegaconf import DictConfig

from chiron.preflight.config import corpus_needs, path_need
from chiron.preflight.models import base_model_needs, gpu_needs, group_needs, single_spec_needs, weights_need
from chiron.preflight.needs import Need
from chiron.preflight.probes import Probes
from chiron.search.rule_judge import is_rule_judge


def _search_inputs(cfg: DictConfig) -> list[Need]:
    fix = "data.path=<cases.jsonl> data.image_root=<images folder> (README 'Pointing the roles at real models')"
    return (path_need(cfg, "data.path", "file", "the cases to search", fix)
            + path_need(cfg, "data.image_root", "folder", "the images the cases name", fix))


def _search_roles(cfg: DictConfig, probes: Probes) -> list[Need]:
    return (group_needs(cfg, "mentors", "mentor", probes) + group_needs(cfg, "interns", "intern", probes)
            + _judge(cfg, probes))


def _judge(cfg: DictConfig, probes: Probes) -> list[Need]:
    return [] if is_rule_judge(cfg.judge) else single_spec_needs(cfg, "judge.spec", "judge", probes)


def _writer(cfg: DictConfig, part: str, probes: Probes) -> list[Need]:
    needs = single_spec_needs(cfg, f"writer.{part}", "writer", probes)
    if part == "part1":
        tokenizer = cfg.writer.get("tokenizer")
        if tokenizer and not isinstance(tokenizer, (dict, DictConfig)) and not os.path.exists(str(tokenizer)):
            tiny_dir = str(cfg.paths.tiny_model_dir)
            if not str(tokenizer).startswith(tiny_dir):
                needs += weights_need(str(tokenizer), "writer.tokenizer (Part 1 information levels)",
                                       "tokenizer_config.json", probes)
        quality = cfg.mmrp.part1.get("quality") or {}
        if quality.get("enabled") and quality.get("checker") is not None:
            needs += single_spec_needs(cfg, "mmrp.part1.quality.checker", "quality checker", probes)
    return needs


def _vqa_roots(cfg: DictConfig) -> list[Need]:
    from chiron.data_mix.plan import plan_from_config
    from chiron.vqa_sets import VQA_SETS

    sources = [s for s in plan_from_config(cfg.data_mix).sources() if s in VQA_SETS]
    roots = cfg.vqa_sets.get("roots") or {}
    env = os.environ.get("CHIRON_VQA_ROOT")
    fix = ("put local copies of the public VQA sets under one folder and set CHIRON_VQA_ROOT=<that folder> "
           "(layouts: chiron/vqa_sets/*.py), set vqa_sets.roots.<name>=<path> for one, or train without "
           "them: data_mix=no_vqa")
    needs = []
    for name in sources:
        root = roots.get(name)
        if not root:
            needs.append(Need(f"vqa_sets.roots.{name} is not set (the mix draws from {name})", fix))
            continue
        adapter = VQA_SETS[name]
        split = str(cfg.vqa_sets.get("split", "train"))
        paths = [str(root)] if not os.path.isdir(str(root)) else adapter.required_paths(str(root), split)
        missing = [p for p in paths if not os.path.exists(p)]
        if missing:
            where = "CHIRON_VQA_ROOT is not set" if not env else f"CHIRON_VQA_ROOT={env}"
            needs.append(Need(f"{name}: no {os.path.relpath(missing[0], str(root)) if missing[0] != str(root) else 'folder'}"
                              f" at {missing[0]} (vqa_sets.roots.{name}; {where})", fix))
    return needs


def _mix_inputs(cfg: DictConfig) -> list[Need]:
    from chiron.data_mix.job import MMRP_FILES
    from chiron.data_mix.plan import plan_from_config
    from chiron.mmrp import part3

    sources = set(plan_from_config(cfg.data_mix).sources())
    needs = []
    for source, key in MMRP_FILES.items():
        if source in sources:
            needs += path_need(cfg, f"mix_inputs.{key}", "file", f"the {source} samples",
                                f"set mix_inputs.{key}=<samples.jsonl>")
    if part3.SOURCE in sources:
        needs += path_need(cfg, "mix_inputs.part3_records", "file", "the search records over the Part 3 pairs",
                            "set mix_inputs.part3_records=<records.jsonl>")
    return needs + _vqa_roots(cfg)


def _eval_needs(cfg: DictConfig, probes: Probes, *, adapter_from_pipeline: bool = False) -> list[Need]:
    from chiron.eval.benchmarks.base import BenchmarkError, get_loader
    from chiron.eval.job import benchmark_names

    ev = cfg.eval
    needs: list[Need] = []
    env = os.environ.get("CHIRON_EVAL_ROOT")
    fix = ("put local copies of the benchmarks under one folder and set CHIRON_EVAL_ROOT=<that folder> "
           "(layouts: chiron/eval/benchmarks/*.py), or eval.roots.<name>=<path> for one")
    names = benchmark_names(cfg.benchmarks)
    for name in names:
        try:
            loader = get_loader(name)
        except BenchmarkError as exc:
            needs.append(Need(f"benchmarks: {exc}", "choose from the names in conf/config.yaml's `benchmarks` comment"))
            continue
        if not loader.needs_root:
            continue
        root = (ev.roots or {}).get(name)
        where = "CHIRON_EVAL_ROOT is not set" if not env else f"CHIRON_EVAL_ROOT={env}"
        if root is None or not os.path.exists(str(root)):
            needs.append(Need(f"{name}: no local copy at {root} (eval.roots.{name}; {where})", fix))
            continue
        if os.path.isdir(str(root)):
            split = loader.default_split if ev.split is None else str(ev.split)
            options = dict((ev.get("options") or {}).get(name) or {})
            try:
                missing = [p for p in loader.required_paths(str(root), split, loader.resolve_options(options))
                           if not os.path.exists(p)]
            except BenchmarkError:
                missing = []  # a bad option: the loader says so when it reads
            if missing:
                needs.append(Need(f"{name}: missing {os.path.relpath(missing[0], str(root))} in {root} "
                                  f"(eval.roots.{name}; {where})", fix))
    if ev.get("generator") is not None:
        needs += single_spec_needs(cfg, "eval.generator", "model under test", probes)
    else:
        needs += base_model_needs(cfg, probes)
        adapter = ev.get("adapter")
        if adapter and not adapter_from_pipeline and not os.path.isdir(str(adapter)):
            needs.append(Need(f"eval.adapter: no folder at {adapter}",
                              "point eval.adapter at a curriculum stage's adapter/ folder (outputs/train/runs/<run>/train/<stage>/adapter)"))
    protocols = ev.get("protocol")
    protocols = [protocols] if isinstance(protocols, str) else list(protocols or [])
    if ev.get("judge_open") or "reference" in protocols:
        needs += _judge(cfg, probes)
    own = [n for n in names if n in set(ev.own_path.get("benchmarks") or [])]
    if own:
        needs += group_needs(cfg, "interns", "intern", probes)
    return needs


def _train_needs(cfg: DictConfig, probes: Probes, *, from_pipeline: bool = False, gpus_here: bool = True) -> list[Need]:
    needs = [] if from_pipeline else path_need(
        cfg, "train_inputs.mix_dir", "folder", "the per-stage mix", "set train_inputs.mix_dir=<a build_mix run's mix/ folder>")
    return needs + _demo_settings(cfg) + base_model_needs(cfg, probes) + (gpu_needs(cfg) if gpus_here else [])


def _demo_settings(cfg: DictConfig) -> list[Need]:
    """train=demo's learning rate and output-head LoRA suit the random tiny model only: on a real
    checkpoint they would quietly train something other than the paper's recipe."""
    if str(cfg.train.get("name")) != "demo" or bool(cfg.model.get("tiny")):
        return []
    return [Need(f"train=demo is the tiny demo's training setting, not for model={cfg.model.name}",
                 "add train=lora (the paper's settings; every paper_scale experiment selects it)")]


def _pipeline_needs(cfg: DictConfig, probes: Probes, gpus_here: bool = True) -> list[Need]:
    """What the stages still to compute need; a stored stage needs nothing (a rerun of a finished
    pipeline calls no model)."""
    from chiron.pipeline.job import plan_stages
    from chiron.pipeline.stages import needed_stages, upstream_of
    from chiron.pipeline.store import StageStore

    stages = needed_stages(cfg, str(cfg.pipeline.last))
    corpus_stages = {"part1", "part2", "part3"} & set(stages)
    needs = corpus_needs(cfg) if corpus_stages else []
    if needs:
        todo = stages  # the keys hash the corpus: without it nothing can be found stored
    else:
        store = StageStore(str(cfg.pipeline.store_dir))
        recompute = cfg.pipeline.get("recompute")
        planned = plan_stages(cfg, stages, upstream_of(cfg))
        todo = [s for s in stages if recompute or store.finished(s, planned[s][0]) is None]
    per_stage: dict[str, Callable[[], list[Need]]] = {
        "part1": lambda: _writer(cfg, "part1", probes),
        "part3": lambda: _writer(cfg, "part3", probes),
        "search": lambda: _search_roles(cfg, probes),
        "mix": lambda: _vqa_roots(cfg),
        "train": lambda: _train_needs(cfg, probes, from_pipeline=True, gpus_here=gpus_here),
        "eval": lambda: _eval_needs(cfg, probes, adapter_from_pipeline=True),
    }
    # base_eval asks the same model, judge and benchmarks as eval: its checks are eval's, made once
    for stage in dict.fromkeys("eval" if s == "base_eval" else s for s in todo):
        needs += per_stage.get(stage, list)()
    return needs


def _merge_needs(cfg: DictConfig) -> list[Need]:
    merge = cfg.get("merge") or {}
    if merge.get("sweep_dir"):
        return path_need(cfg, "merge.sweep_dir", "folder", "the multirun folder of the shards",
                          "set merge.sweep_dir=<outputs/search/multiruns/<run>>")
    inputs = list(merge.get("inputs") or [])
    if not inputs:
        return [Need("merge.sweep_dir and merge.inputs are both empty", "set merge.sweep_dir=<multirun folder> "
                     "or merge.inputs=[<run folder>,...]")]
    return [Need(f"merge.inputs: no folder at {p}", "list run folders that each hold search/")
            for p in inputs if not os.path.isdir(str(p))]


def _qc_needs(cfg: DictConfig) -> list[Need]:
    inputs = cfg.qc_report.get("inputs") or {}
    needs = []
    for method, value in inputs.items():
        if value is not None:
            needs += path_need(cfg, f"qc_report.inputs.{method}", "file", f"{method} search records",
                                f"set qc_report.inputs.{method}=<records.jsonl>")
    return needs


def task_needs(cfg: DictConfig, gpus_here: bool = True) -> list[Need]:
    """Everything `cfg.task` would read or call that is missing here. gpus_here=False leaves the GPU
    count alone (a sweep checked on a login node runs its jobs on GPU nodes)."""
    task = str(cfg.task)
    probes = Probes()
    checks: dict[str, Callable[[], list[Need]]] = {
        "search": lambda: _search_inputs(cfg) + _search_roles(cfg, probes),
        "search_merge": lambda: _merge_needs(cfg),
        "build_part1": lambda: corpus_needs(cfg) + _writer(cfg, "part1", probes),
        "build_part2": lambda: corpus_needs(cfg),
        "build_part3": lambda: corpus_needs(cfg) + _writer(cfg, "part3", probes),
        "qc_report": lambda: _qc_needs(cfg),
        "build_mix": lambda: _mix_inputs(cfg),
        "train": lambda: _train_needs(cfg, probes, gpus_here=gpus_here),
        "eval": lambda: _eval_needs(cfg, probes),
        "pipeline": lambda: _pipeline_needs(cfg, probes, gpus_here=gpus_here),
    }
    check = checks.get(task)
    if check is None:
        return []
    needs = check()
    return needs + probes.wait()
