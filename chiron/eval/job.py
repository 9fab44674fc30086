"""`task=eval`: the only place that reads the evaluation's config; everything below takes plain arguments."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os

from omegaconf import DictConfig, OmegaConf

from chiron.eval.benchmarks import load_benchmark
from chiron.eval.protocols import protocol_names
from chiron.eval.report import benchmark_metrics, comparison_markdown, protocol_rows, protocols_markdown
from chiron.eval.runner import EvalRunner
from chiron.llm.backends import BackendPool
from chiron.llm.cache import CallCache
from chiron.llm.client import CachedModel
from chiron.llm.ledger import Ledger
from chiron.llm.spec import ModelSpec
from chiron.search.job import intern_prompt, judge_spec, model_specs
from chiron.search.roles import Scorers
from chiron.search.rule_judge import build_judge
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


def eval_prompt(cfg: DictConfig) -> str:
    return str(cfg.eval.get("prompt") or "chiron")  # chiron | reference: the config schema refuses others


def generator_spec(cfg: DictConfig) -> ModelSpec:
    """The model under test as a model spec: `eval.generator`, or `model` through the hf backend.

    With `eval.prompt=reference` an InternVL model tiles each image into up to
    `eval.reference_prompt.max_patches` (12) tiles, as the reference code's `load_image` does."""
    ev = cfg.eval
    if ev.generator is not None:
        spec = ModelSpec.from_mapping(OmegaConf.to_container(ev.generator, resolve=True))
        spec = dataclasses.replace(spec, adapter=ev.adapter) if ev.adapter else spec
        internvl = spec.backend == "hf" and (spec.tiny == "internvl" or "internvl" in spec.model.lower()
                                             or "max_patches" in spec.processor_kwargs)
    else:
        model = cfg.model
        spec = ModelSpec(name=str(model.name), backend="hf", model=str(model.name_or_path),
                         tiny="internvl" if model.get("tiny") else None, seed=int(model.get("seed", 0)),
                         device=str(ev.device), dtype=str(ev.dtype), batch_size=int(ev.batch_size),
                         max_tokens=int(ev.max_tokens), adapter=str(ev.adapter) if ev.adapter else None,
                         processor_kwargs=_plain(model.get("processor_kwargs")) or {})
        internvl = str(model.get("family") or "") == "internvl"
    if eval_prompt(cfg) == "reference" and internvl:
        tiles = int((ev.get("reference_prompt") or {}).get("max_patches", 12))
        spec = dataclasses.replace(spec, processor_kwargs={**spec.processor_kwargs, "max_patches": tiles})
    return spec


def run(cfg: DictConfig) -> dict:
    out_dir = os.path.join(run_dir(cfg), "eval")
    log.info("eval outputs: %s", out_dir)
    metrics = asyncio.run(_run(cfg, out_dir))
    for name, entry in metrics.items():
        for protocol, m in (entry.get("protocols") or {entry.get("protocol", "chiron"): entry}).items():
            accuracy = "n/a" if m["accuracy"] is None else f"{100 * m['accuracy']:.1f} %"
            log.info("%s [%s protocol]: n=%d accuracy %s (skipped %d, unparseable %d, judge failures %d, "
                     "generation failures %d, bad images %d)", name, protocol, m["n"], accuracy, m.get("skipped", 0),
                     m["unparseable"], m["judge_failures"], m.get("generation_failures", 0), m.get("bad_images", 0))
    log.info("paper comparison: %s", os.path.join(out_dir, "paper_comparison.md"))
    check_eval_outcome(metrics, out_dir)
    return metrics


# Statuses of items that got no answer scored: the call failed, or the image could not be shown.
NOT_EVALUATED = ("generation_failed", "judge_failed", "bad_image")


def check_eval_outcome(metrics: dict, out_dir: str) -> None:
    """Raise TaskFailed when no item of any benchmark was evaluated (every one failed or had a bad image).
    Items the primary protocol skipped (a reply without a final answer) were evaluated."""
    total = sum(m["n"] + m.get("skipped", 0) for m in metrics.values())
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
    protocols = protocol_names(ev.get("protocol") or "chiron")
    prompt = eval_prompt(cfg)
    spec = generator_spec(cfg)
    log.info("eval: prompt %s, scored under the %s protocol%s", prompt, " and ".join(protocols),
             " (the first is the primary)" if len(protocols) > 1 else "")
    cache, ledger, pool = CallCache(cfg.paths.cache_dir), Ledger(), BackendPool()
    try:
        def handle(model_spec: ModelSpec, role: str) -> CachedModel:
            return CachedModel(model_spec, pool.get(model_spec), cache, ledger, role)

        def judge_model():
            return build_judge(cfg.judge, lambda: handle(judge_spec(cfg.judge), "judge"))

        judge = judge_model() if ev.judge_open else None
        own_path = [n for n in names if n in set(ev.own_path.benchmarks or [])]
        scorers = None
        if own_path:
            scorers = Scorers(interns=[handle(s, "intern") for s in model_specs(cfg.interns)],
                              intern_temperatures=[float(t) for t in cfg.interns.temperatures],
                              judge=judge or judge_model(),
                              judge_temperature=float(cfg.judge.temperature),
                              intern_prompt=intern_prompt(cfg.interns))
        runner = EvalRunner(model=handle(spec, "model"), temperature=float(ev.temperature),
                            max_tokens=spec.max_tokens, judge=judge, judge_temperature=float(cfg.judge.temperature),
                            scorers=scorers, own_path_benchmarks=tuple(own_path), max_path_steps=int(ev.own_path.max_steps),
                            items_in_flight=int(ev.items_in_flight), progress=bool(cfg.get("progress", True)),
                            protocols=protocols, prompt=prompt,
                            reference_judge_temperature=float((ev.get("reference") or {}).get("judge_temperature", 0.9)))
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
    answer_scores, reasoning_scores = _bertscores(ev, rows, protocols)
    ci = dict(num_bootstraps=int(ev.bootstrap.num_bootstraps), level=float(ev.bootstrap.level), seed=int(cfg.seed))
    metrics = {}
    for name in names:
        per = {p: benchmark_metrics(protocol_rows(rows[name], p), answer_scores[p].get(name, ()),
                                    reasoning_bertscores=reasoning_scores.get(name, ()), protocol=p, **ci)
               for p in protocols}
        metrics[name] = {**per[protocols[0]], "protocols": per}
    atomic_write_json(os.path.join(out_dir, "metrics.json"), metrics)
    atomic_write_json(os.path.join(out_dir, "usage.json"), {"by_role_model": ledger.by_role_model(),
                                                          "total": ledger.total().as_dict()})
    label = spec.name + (" + adapter" if spec.adapter else "")
    atomic_write_text(os.path.join(out_dir, "paper_comparison.md"), comparison_report(metrics, label, prompt))
    _log_wandb(cfg, rows, metrics, out_dir)
    return metrics


def comparison_report(metrics: dict, label: str, prompt: str = "chiron") -> str:
    """paper_comparison.md: the paper's tables beside ours (comparison_markdown gives one row of ours
    per protocol that metrics.json carries), then every protocol's numbers side by side, skipped
    items included."""
    return comparison_markdown(metrics, label) + "\n" + protocols_markdown(metrics, prompt)


# BERTScore settings that choose pairs, not the scorer
_PAIRING_KEYS = ("answer_benchmarks", "reasoning")


def _answer_pairs(rows: list[dict], protocol: str) -> list[tuple[str, str]]:
    """(final answer, gold answer) per item the protocol counts: the paper's pairing. An item
    without an answer (no marker under chiron, no reply at all) pairs an empty text, scoring 0."""
    return [(row.get("extracted") or "", row.get("gold_answer") or row.get("gold") or "")
            for row in protocol_rows(rows, protocol) if row["status"] != "skipped"]


def _bertscores(ev: DictConfig, rows: dict[str, list[dict]],
                protocols: tuple[str, ...] = ("chiron",)) -> tuple[dict[str, dict[str, list[float]]],
                                                                   dict[str, list[float]]]:
    """({protocol: {benchmark: answer-vs-gold F1s}}, {benchmark: reply-vs-reference-reasoning F1s}).

    Answer pairs on the benchmarks of `eval.bertscore.answer_benchmarks` (the paper reports
    BERTScore for MMRP multimodal); reasoning pairs wherever a benchmark has reference reasoning
    (`eval.bertscore.reasoning`). One scorer for the whole run, loaded only if some pair exists."""
    settings = OmegaConf.to_container(ev.bertscore, resolve=True)
    answer_benchmarks = set(settings.get("answer_benchmarks") or ())
    answers = {p: {name: _answer_pairs(benchmark_rows, p) for name, benchmark_rows in rows.items()
                   if name in answer_benchmarks} for p in protocols}
    reasoning = {}
    if settings.get("reasoning", True):
        reasoning = {name: [(row.get("reply") or "", row["reference_reasoning"]) for row in benchmark_rows
                            if row.get("reference_reasoning")] for name, benchmark_rows in rows.items()}
    if not any(reasoning.values()) and not any(p for by_name in answers.values() for p in by_name.values()):
        return {p: {} for p in protocols}, {}
    from chiron.eval.bertscore import BertScorer, BertScoreSettings

    scorer = BertScorer(BertScoreSettings(**{k: v for k, v in settings.items() if k not in _PAIRING_KEYS}))

    def score(pairs: list[tuple[str, str]]) -> list[float]:
        return scorer.score([c for c, _ in pairs], [r for _, r in pairs])

    return ({p: {name: score(pairs) for name, pairs in by_name.items() if pairs} for p, by_name in answers.items()},
            {name: score(pairs) for name, pairs in reasoning.items() if pairs})


def _log_wandb(cfg: DictConfig, rows: dict[str, list[dict]], metrics: dict, out_dir: str) -> None:
    from chiron.eval.wandb_table import log_eval

    settings = OmegaConf.to_container(cfg.logger, resolve=True)
    if settings.get("kind") != "wandb":
        return
    config = scrub_secrets({key: _plain(cfg[key]) for key in LOGGED_KEYS if key in cfg})
    # inside task=pipeline this run is the stage's only one and logs its folder as the stage's artifact
    log_eval(settings, str(cfg.run_name), config, rows, metrics, int(cfg.eval.wandb_examples), out_dir,
             stage_folder=run_dir(cfg))
