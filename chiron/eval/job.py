"""`task=eval`: the only place that reads the evaluation's config; everything below takes plain arguments."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os

from omegaconf import DictConfig, OmegaConf

from chiron.eval.benchmarks import load_benchmark
from chiron.eval.report import benchmark_metrics, comparison_markdown
from chiron.eval.runner import EvalRunner
from chiron.llm.backends import BackendPool
from chiron.llm.cache import CallCache
from chiron.llm.client import CachedModel
from chiron.llm.ledger import Ledger
from chiron.llm.spec import ModelSpec
from chiron.search.job import judge_spec, model_specs
from chiron.search.roles import Scorers
from chiron.utils.errors import TaskFailed
from chiron.utils.jsonl import atomic_write_json, atomic_write_text
from chiron.utils.loggers import scrub_secrets
from chiron.utils.paths import run_dir

log = logging.getLogger(__name__)

LOGGED_KEYS = ("task", "seed", "run_name", "model", "eval", "benchmarks", "judge", "interns")


def _plain(node):
    return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node


def benchmark_names(value) -> list[str]:
    """`benchmarks=demo` and `benchmarks=[vqa_rad,slake]` both work."""
    names = [value] if isinstance(value, str) else list(value or [])
    if not names:
        raise ValueError("benchmarks is empty: name at least one, e.g. benchmarks=demo or benchmarks=[vqa_rad,slake]")
    return [str(n) for n in names]


def generator_spec(cfg: DictConfig) -> ModelSpec:
    """The model under test as a model spec: `eval.generator`, or `model` through the hf backend."""
    ev = cfg.eval
    if ev.generator is not None:
        spec = ModelSpec.from_mapping(OmegaConf.to_container(ev.generator, resolve=True))
        return dataclasses.replace(spec, adapter=ev.adapter) if ev.adapter else spec
    model = cfg.model
    return ModelSpec(name=str(model.name), backend="hf", model=str(model.name_or_path),
                     tiny="internvl" if model.get("tiny") else None, seed=int(model.get("seed", 0)),
                     device=str(ev.device), dtype=str(ev.dtype), batch_size=int(ev.batch_size),
                     max_tokens=int(ev.max_tokens), adapter=str(ev.adapter) if ev.adapter else None,
                     processor_kwargs=_plain(model.get("processor_kwargs")) or {})


def run(cfg: DictConfig) -> dict:
    out_dir = os.path.join(run_dir(cfg), "eval")
    log.info("eval outputs: %s", out_dir)
    metrics = asyncio.run(_run(cfg, out_dir))
    for name, m in metrics.items():
        accuracy = "n/a" if m["accuracy"] is None else f"{100 * m['accuracy']:.1f} %"
        log.info("%s: n=%d accuracy %s (unparseable %d, judge failures %d, generation failures %d, "
                 "bad images %d)", name, m["n"], accuracy, m["unparseable"], m["judge_failures"],
                 m.get("generation_failures", 0), m.get("bad_images", 0))
    log.info("paper comparison: %s", os.path.join(out_dir, "paper_comparison.md"))
    check_eval_outcome(metrics, out_dir)
    return metrics


# Statuses of items that got no answer scored: the call failed, or the image could not be shown.
NOT_EVALUATED = ("generation_failed", "judge_failed", "bad_image")


def check_eval_outcome(metrics: dict, out_dir: str) -> None:
    """Raise TaskFailed when no item of any benchmark was evaluated (every one failed or had a bad image)."""
    total = sum(m["n"] for m in metrics.values())
    failed = sum(m.get("generation_failures", 0) + m.get("judge_failures", 0) + m.get("bad_images", 0)
                 for m in metrics.values())
    if total and failed < total:
        return
    firsts = [m.get("first_failure") for m in metrics.values() if m.get("first_failure")]
    cause = f"; first: {firsts[0]}" if firsts else ""
    raise TaskFailed(f"eval evaluated no item: {failed} of {total} failed or had a bad image{cause} "
                     f"(every row in {out_dir}/<benchmark>/predictions.jsonl)")


async def _run(cfg: DictConfig, out_dir: str) -> dict:
    ev = cfg.eval
    names = benchmark_names(cfg.benchmarks)
    spec = generator_spec(cfg)
    cache, ledger, pool = CallCache(cfg.paths.cache_dir), Ledger(), BackendPool()
    try:
        def handle(model_spec: ModelSpec, role: str) -> CachedModel:
            return CachedModel(model_spec, pool.get(model_spec), cache, ledger, role)

        judge = handle(judge_spec(cfg.judge), "judge") if ev.judge_open else None
        own_path = [n for n in names if n in set(ev.own_path.benchmarks or [])]
        scorers = None
        if own_path:
            scorers = Scorers(interns=[handle(s, "intern") for s in model_specs(cfg.interns)],
                              intern_temperatures=[float(t) for t in cfg.interns.temperatures],
                              judge=judge or handle(judge_spec(cfg.judge), "judge"),
                              judge_temperature=float(cfg.judge.temperature))
        runner = EvalRunner(model=handle(spec, "model"), temperature=float(ev.temperature),
                            max_tokens=spec.max_tokens, judge=judge, judge_temperature=float(cfg.judge.temperature),
                            scorers=scorers, own_path_benchmarks=tuple(own_path), max_path_steps=int(ev.own_path.max_steps),
                            items_in_flight=int(ev.items_in_flight), progress=bool(cfg.get("progress", True)))
        rows = {}
        for name in names:
            root = (ev.roots or {}).get(name)
            options = _plain((ev.options or {}).get(name)) or {}
            items = load_benchmark(name, None if root is None else str(root), split=ev.split, limit=ev.limit, **options)
            log.info("%s: %d items", name, len(items))
            rows[name] = await runner.run(name, items, os.path.join(out_dir, name))
            if runner.stopped_by is not None:
                raise TaskFailed(f"eval stopped at {name}: {runner.stopped_by} (a rerun keeps the finished items "
                                 "and asks the others)")
    finally:
        await pool.aclose()
        cache.close()
    bertscores = _bertscores(ev, rows)
    ci = dict(num_bootstraps=int(ev.bootstrap.num_bootstraps), level=float(ev.bootstrap.level), seed=int(cfg.seed))
    metrics = {name: benchmark_metrics(rows[name], bertscores.get(name, ()), **ci) for name in names}
    atomic_write_json(os.path.join(out_dir, "metrics.json"), metrics)
    atomic_write_json(os.path.join(out_dir, "usage.json"), {"by_role_model": ledger.by_role_model(),
                                                          "total": ledger.total().as_dict()})
    label = spec.name + (" + adapter" if spec.adapter else "")
    atomic_write_text(os.path.join(out_dir, "paper_comparison.md"), comparison_markdown(metrics, label))
    _log_wandb(cfg, rows, metrics, out_dir)
    return metrics


def _bertscores(ev: DictConfig, rows: dict[str, list[dict]]) -> dict[str, list[float]]:
    """One scorer for the whole run, loaded only if some benchmark has reference reasoning."""
    pairs = {name: [(row.get("reply") or "", row["reference_reasoning"]) for row in benchmark_rows
                    if row.get("reference_reasoning")] for name, benchmark_rows in rows.items()}
    if not any(pairs.values()):
        return {}
    from chiron.eval.bertscore import BertScorer, BertScoreSettings

    scorer = BertScorer(BertScoreSettings(**OmegaConf.to_container(ev.bertscore, resolve=True)))
    return {name: scorer.score([c for c, _ in p], [r for _, r in p]) for name, p in pairs.items() if p}


def _log_wandb(cfg: DictConfig, rows: dict[str, list[dict]], metrics: dict, out_dir: str) -> None:
    from chiron.eval.wandb_table import log_eval

    settings = OmegaConf.to_container(cfg.logger, resolve=True)
    if settings.get("kind") != "wandb":
        return
    config = scrub_secrets({key: _plain(cfg[key]) for key in LOGGED_KEYS if key in cfg})
    log_eval(settings, str(cfg.run_name), config, rows, metrics, int(cfg.eval.wandb_examples), out_dir)
