"""`task=search`: the only place that reads the search's whole config; everything below takes
plain arguments."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from typing import Any, Mapping

from omegaconf import DictConfig

from chiron.llm.backends import BackendPool
from chiron.llm.cache import CallCache
from chiron.llm.client import CachedModel
from chiron.llm.ledger import Ledger
from chiron.llm.spec import ModelSpec
from chiron.search.case import read_cases
from chiron.search.mics import SearchSettings, mics_search
from chiron.search.roles import Roles
from chiron.search.rule_judge import build_judge
from chiron.search.runner import CaseRunner
from chiron.search.vanilla import vanilla_search
from chiron.utils.errors import TaskFailed
from chiron.utils.paths import run_dir

log = logging.getLogger(__name__)


def model_specs(group: Mapping[str, Any]) -> list[ModelSpec]:
    """The group's models; with `subset` (a list of names, e.g. mentors.subset=[gpt-4o]) only those."""
    specs = [ModelSpec.from_mapping(m) for m in group.get("models") or []]
    subset = group.get("subset")
    if subset is None:
        return specs
    names = [str(n) for n in subset]
    unknown = sorted(set(names) - {s.name for s in specs})
    if unknown or not names:
        raise ValueError(f"subset {names} must name at least one of the configured models "
                         f"{[s.name for s in specs]}" + (f"; unknown: {unknown}" if unknown else ""))
    return [s for s in specs if s.name in names]


def judge_spec(judge: Mapping[str, Any]) -> ModelSpec:
    return ModelSpec.from_mapping(judge["spec"])


def search_settings(search: Mapping[str, Any], seed: int) -> SearchSettings:
    return SearchSettings(max_depth=int(search["max_depth"]), max_retries=int(search["max_retries"]),
                          first_depth_steps=int(search["first_depth_steps"]),
                          competitiveness=str(search["competitiveness"]), seed=int(seed),
                          economy=bool(search.get("economy", True)), wave=int(search.get("economy_wave", 2)))


def budget_usd(search: Mapping[str, Any]) -> float | None:
    value = search.get("budget_usd")
    if value is None:
        return None
    if not float(value) >= 0:  # `not >=` refuses NaN too
        raise ValueError(f"search.budget_usd must be >= 0 (USD) or null, got {value!r}")
    return float(value)


def intern_prompt(interns: Mapping[str, Any]) -> str:
    return str(interns.get("prompt") or "final_answer")


def build_roles(cfg: DictConfig, pool: BackendPool, cache: CallCache, ledger: Ledger) -> Roles:
    def handle(spec: ModelSpec, role: str) -> CachedModel:
        return CachedModel(spec, pool.get(spec), cache, ledger, role)

    return Roles(
        mentors=[handle(s, "mentor") for s in model_specs(cfg.mentors)],
        mentor_temperature=float(cfg.mentors.temperature),
        interns=[handle(s, "intern") for s in model_specs(cfg.interns)],
        intern_temperatures=[float(t) for t in cfg.interns.temperatures],
        judge=build_judge(cfg.judge, lambda: handle(judge_spec(cfg.judge), "judge")),
        judge_temperature=float(cfg.judge.temperature),
        intern_prompt=intern_prompt(cfg.interns),
        rule_verdicts=bool(cfg.search.get("economy", True)),
    )


def run(cfg: DictConfig) -> dict:
    out_dir = os.path.join(run_dir(cfg), "search")
    log.info("search outputs: %s", out_dir)
    summary = asyncio.run(_run(cfg, out_dir))
    log.info("search finished: %d ok, %d failed%s (%s)", summary["cases_ok"], summary["cases_failed"],
             failure_breakdown(summary), out_dir)
    check_search_outcome(summary, out_dir)
    return summary


def failure_breakdown(summary: dict) -> str:
    kinds = summary.get("failures_by_kind") or {}
    return f" ({', '.join(f'{n} {kind}' for kind, n in sorted(kinds.items()))})" if kinds else ""


def check_search_outcome(summary: dict, out_dir: str) -> None:
    """Raise TaskFailed when the search must not count as done: a setup failure or the budget
    stopped it, or no case succeeded. The message is the first cause, as the failure says it
    (role, model, what to set)."""
    if summary.get("stopped_by"):
        stopped = (summary.get("failures_by_kind") or {}).get("setup", 0)
        raise TaskFailed(f"search stopped: {summary['stopped_by']} ({stopped} case(s) failed on it, "
                         f"{summary['this_run']['not_started']} not started; a rerun keeps the finished cases "
                         "and searches the others)")
    if summary.get("stopped_by_budget"):
        raise TaskFailed(f"search stopped by its budget: {summary['stopped_by_budget']}, "
                         f"{summary['this_run']['not_started']} case(s) not started; raise search.budget_usd "
                         "(or remove it) and rerun the same command to resume")
    if summary["cases_ok"] == 0:
        first = summary.get("first_failure")
        if first is None:
            raise TaskFailed(f"search found no case to search (data.path is empty?); outputs in {out_dir}")
        raise TaskFailed(f"search finished no case: {summary['cases_failed']} failed{failure_breakdown(summary)}; "
                         f"first: case {first['rid']}: {first['error']} (all in {out_dir}/failed.jsonl)")


async def _run(cfg: DictConfig, out_dir: str) -> dict:
    settings = search_settings(cfg.search, cfg.seed)
    method = str(cfg.search.name)  # mics | vanilla: the config schema refuses any other name
    cache, ledger, pool = CallCache(cfg.paths.cache_dir), Ledger(), BackendPool()
    try:
        roles = build_roles(cfg, pool, cache, ledger)
        if method == "mics":
            search_fn = functools.partial(mics_search, roles=roles, settings=settings)
        else:
            search_fn = functools.partial(vanilla_search, roles=roles, settings=settings,
                                          mentor_name=cfg.search.get("vanilla_mentor"),
                                          score_paths=bool(cfg.search.get("score_vanilla_paths", False)))
        inputs = read_cases(cfg.data.path, cfg.data.image_root, shard=int(cfg.data.shard),
                            num_shards=int(cfg.data.num_shards), limit=cfg.data.get("limit"))
        runner = CaseRunner(search_fn, method, out_dir, ledger, int(cfg.search.max_cases_in_flight),
                            progress=bool(cfg.get("progress", True)), budget_usd=budget_usd(cfg.search))
        return await runner.run(inputs)
    finally:
        await pool.aclose()
        cache.close()


