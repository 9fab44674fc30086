"""`task=build_part1 | build_part2 | build_part3`: the only place that reads the builders' config.

Each writes into `<run folder>/part<N>/` and ends with a summary.json of counts and drop reasons.
Parts 1 and 3 call an LLM per case and resume like the search (see runner.py); Part 2 is a pure
function of the corpus and is simply recomputed.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import Counter
from typing import Any, Callable

from omegaconf import DictConfig
from tqdm.auto import tqdm

from chiron.data.corpus import BadCase, CaseRecord, read_corpus
from chiron.data.sample import Sample
from chiron.llm.backends import BackendPool
from chiron.llm.cache import CallCache
from chiron.llm.client import CachedModel
from chiron.llm.ledger import Ledger
from chiron.llm.spec import ModelSpec
from chiron.mmrp import part1, part2, part3
from chiron.mmrp.levels import Levels, token_counter
from chiron.mmrp.runner import finished_items, log_summary, run_cases
from chiron.utils.errors import TaskFailed
from chiron.utils.jsonl import atomic_write_json, atomic_write_jsonl
from chiron.utils.paths import run_dir

log = logging.getLogger(__name__)


def read_case_records(corpus: Any) -> tuple[list[CaseRecord], list[BadCase]]:
    cases, bad = [], []
    for item in read_corpus(str(corpus.path), str(corpus.image_root), limit=corpus.get("limit")):
        (bad if isinstance(item, BadCase) else cases).append(item)
    for item in bad:
        log.warning("corpus line %d (%s) refused: %s", item.line, item.id, item.reason)
    return cases, bad


def _bad_summary(bad: list[BadCase]) -> list[dict]:
    return [{"line": b.line, "id": b.id, "reason": b.reason} for b in bad]


def _write_samples(path: str, samples: list[Sample]) -> None:
    atomic_write_jsonl(path, (s.to_json() for s in samples))


# -- Parts 1 and 3: LLM-written ---------------------------------------------------------------


async def _with_writer(cfg: DictConfig, part: str, body: Callable[[CachedModel, Ledger], Any]) -> Any:
    cache, ledger, pool = CallCache(cfg.paths.cache_dir), Ledger(), BackendPool()
    try:
        spec = ModelSpec.from_mapping(cfg.writer[part])
        return await body(CachedModel(spec, pool.get(spec), cache, ledger, "writer"), ledger)
    finally:
        await pool.aclose()
        cache.close()


def run_part1(cfg: DictConfig) -> dict:
    out_dir = os.path.join(run_dir(cfg), "part1")
    cases, bad = read_case_records(cfg.corpus)
    p1 = cfg.mmrp.part1
    quality = p1.quality
    settings = part1.Part1Settings(
        levels=Levels.from_config(p1.levels), temperature=float(cfg.writer.temperature),
        min_options=int(p1.min_options), max_options=int(p1.max_options),
        referential_phrases=tuple(str(p) for p in p1.referential_phrases),
        quality_temperature=float(quality.temperature),
        quality_max_tokens=None if quality.max_tokens is None else int(quality.max_tokens))
    checker_spec = ModelSpec.from_mapping(quality.checker) if bool(quality.enabled) else None

    async def body(writer: CachedModel, ledger: Ledger) -> dict:
        pool = BackendPool()  # the checker's, when it is not the writer's own model
        try:
            checker = None
            if checker_spec is not None:
                backend = writer.backend if checker_spec == writer.spec else pool.get(checker_spec)
                checker = CachedModel(checker_spec, backend, writer.cache, ledger, "quality_checker")
            count_tokens = token_counter(str(cfg.writer.tokenizer))  # after the writer: a tiny one is built then
            work = [(case.id, _bind(part1.write_case_qa, case, writer, count_tokens, settings, checker))
                    for case in cases]
            return await run_cases(work, out_dir, ledger, "part 1 QA", int(cfg.mmrp.max_cases_in_flight),
                                   progress=bool(cfg.get("progress", True)))
        finally:
            await pool.aclose()

    this_run = asyncio.run(_with_writer(cfg, "part1", body))
    items = finished_items(out_dir)
    atomic_write_jsonl(os.path.join(out_dir, "qa.jsonl"), items)
    _write_samples(os.path.join(out_dir, "samples.jsonl"), part1.qa_samples(items))
    checks = {"enabled": checker_spec is not None, **part1.quality_summary(out_dir)}
    summary = {**log_summary(out_dir), "bad_records": _bad_summary(bad), "this_run": this_run,
               "levels": dict(sorted(Counter(item["level"] for item in items).items())),
               "pairs": len(items), "quality_check": checks}
    atomic_write_json(os.path.join(out_dir, "summary.json"), summary)
    log.info("part 1: %d QA pairs from %d cases (%s)", len(items), len(cases), out_dir)
    if checks["checked"]:
        log.info("part 1 quality check (%s): %d of %d pairs kept, %d dropped, %d unreadable verdicts (kept)",
                 ", ".join(checks["checkers"]), checks["keep"] + checks["unreadable"], checks["checked"],
                 checks["drop"], checks["unreadable"])
    if checks["unreadable"]:
        log.warning("part 1 quality check: %d of %d verdicts were unreadable and their pairs kept; the checker "
                    "may not follow the reply layout (replies in part1/log.jsonl, info.quality)",
                    checks["unreadable"], checks["checked"])
    check_part_outcome("part 1", summary, len(items), out_dir)
    return summary


def check_part_outcome(part: str, summary: dict, produced: int, out_dir: str) -> None:
    """Raise TaskFailed when a part must not count as done: a setup failure stopped it, or it wrote
    nothing. The message names the first cause."""
    stopped = (summary.get("this_run") or {}).get("stopped_by")
    if stopped:
        raise TaskFailed(f"{part} stopped: {stopped} (a rerun keeps the finished cases and writes the others)")
    if produced:
        return
    errors = summary.get("errors") or {}
    if errors:
        key, reason = next(iter(errors.items()))
        cause = f"{len(errors)} case(s) failed; first: {key}: {reason}"
    else:
        reasons = {**(summary.get("skipped_by_reason") or {}), **(summary.get("items_dropped_by_reason") or {}),
                   **(summary.get("dropped_by_reason") or {}), **(summary.get("cases_skipped_by_reason") or {})}
        shown = ", ".join(f"{n} {reason}" for reason, n in sorted(reasons.items(), key=lambda kv: -kv[1])[:3])
        cause = f"every case was skipped or dropped ({shown or 'no usable case in the corpus'})"
    raise TaskFailed(f"{part} produced nothing: {cause} (details in {out_dir}/summary.json)")


def run_part3(cfg: DictConfig) -> dict:
    out_dir = os.path.join(run_dir(cfg), "part3")
    cases, bad = read_case_records(cfg.corpus)
    p3 = cfg.mmrp.part3
    settings = part3.Part3Settings(scenarios=tuple(p3.scenarios), per_case=str(p3.per_case),
                                   temperature=float(cfg.writer.temperature), max_open_words=int(p3.max_open_words))

    async def body(writer: CachedModel, ledger: Ledger) -> dict:
        work = [(part3.item_key(case.id, scenario), _bind(part3.write_case_vqa, case, scenario, writer, settings))
                for index, case in enumerate(cases) for scenario in settings.scenarios_for(index)]
        return await run_cases(work, out_dir, ledger, "part 3 VQA", int(cfg.mmrp.max_cases_in_flight),
                               progress=bool(cfg.get("progress", True)))

    this_run = asyncio.run(_with_writer(cfg, "part3", body))
    records = finished_items(out_dir)
    atomic_write_jsonl(os.path.join(out_dir, "cases.jsonl"), records)
    summary = {**log_summary(out_dir), "bad_records": _bad_summary(bad), "this_run": this_run,
               "pairs": len(records), "by_scenario": dict(Counter(r["scenario"] for r in records)),
               "search_input": os.path.join(out_dir, "cases.jsonl"), "image_root": str(cfg.corpus.image_root)}
    atomic_write_json(os.path.join(out_dir, "summary.json"), summary)
    log.info("part 3: %d VQA pairs from %d cases; search them with: python run.py task=search data=mmrp_part3 "
             "data.path=%s", len(records), len(cases), summary["search_input"])
    check_part_outcome("part 3", summary, len(records), out_dir)
    return summary


def _bind(fn: Callable, *args: Any) -> Callable[[], Any]:
    return lambda: fn(*args)


# -- Part 2: authentic text, no LLM ------------------------------------------------------------


def run_part2(cfg: DictConfig) -> dict:
    out_dir = os.path.join(run_dir(cfg), "part2")
    cases, bad = read_case_records(cfg.corpus)
    p2 = cfg.mmrp.part2
    settings = part2.Part2Settings(min_side=int(p2.min_side), max_keyframes=int(p2.max_keyframes),
                                   formats=tuple(p2.formats), annotated_only=bool(p2.annotated_only),
                                   seed=int(cfg.seed))
    items, drops, unreadable, skipped = [], Counter(), [], Counter()
    for case in tqdm(cases, desc="part 2 alignment", unit="case", disable=not bool(cfg.get("progress", True))):
        if settings.annotated_only and not case.annotated:
            skipped["not annotated"] += 1
            continue
        result = part2.align_case(case, settings)
        items += result.items
        drops.update(result.drops)
        unreadable += [{"case_id": case.id, "image": ref, "why": result.unreadable_why.get(ref)}
                       for ref in result.unreadable]
    for row in unreadable:
        log.warning("part 2: unreadable image %s (case %s, %s) left out", row["image"], row["case_id"], row["why"])
    atomic_write_jsonl(os.path.join(out_dir, "triplets.jsonl"), items)
    _write_samples(os.path.join(out_dir, "samples.jsonl"), [part2.alignment_sample(i) for i in items])
    summary = {"cases": len(cases), "cases_skipped_by_reason": dict(skipped), "triplets": len(items),
               "by_format": dict(Counter(i["format"] for i in items)),
               "by_modality": dict(Counter(i["modality"] for i in items)),
               "dropped_by_reason": dict(drops), "unreadable_images": unreadable, "bad_records": _bad_summary(bad)}
    atomic_write_json(os.path.join(out_dir, "summary.json"), summary)
    log.info("part 2: %d triplets from %d cases (%s)", len(items), len(cases), out_dir)
    check_part_outcome("part 2", summary, len(items), out_dir)
    return summary
