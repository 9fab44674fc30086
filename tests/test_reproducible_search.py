"""The same command and seed give the same search whatever the concurrency and batching: which
requests share a generate call depends on timing, and no sample may depend on it."""

import json

import pytest

from chiron.search import job as search_job

pytest.importorskip("torch")

# Records carry what was searched and decided; timings and call counts may differ between runs.
VOLATILE = {"usage", "wall_s", "finished_at", "started_at", "seconds"}


def _stable(value):
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def _search(compose_cfg, out_dir, tiny_dir, in_flight: int, batch: int) -> dict:
    cfg = compose_cfg(["task=search", "data.limit=3", f"paths.output_dir={out_dir}", f"+paths.run_dir={out_dir}/run",
                       f"paths.tiny_model_dir={tiny_dir}", "progress=false", "logger=none",
                       f"search.max_cases_in_flight={in_flight}",
                       *(f"{group}.models.{i}.batch_size={batch}" for group in ("mentors", "interns") for i in (0, 1))])
    search_job.run(cfg)
    folder = out_dir / "run" / "search"
    return {name: sorted((_stable(json.loads(line)) for line in (folder / name).read_text().splitlines()),
                         key=lambda r: r["rid"])
            for name in ("records.jsonl", "failed.jsonl")}


def test_search_records_do_not_depend_on_concurrency_or_batch_size(compose_cfg, tmp_path, shared_tiny_models):
    # separate output folders, so separate call caches: the second run asks every model again
    one_at_a_time = _search(compose_cfg, tmp_path / "a", shared_tiny_models, in_flight=1, batch=1)
    all_at_once = _search(compose_cfg, tmp_path / "b", shared_tiny_models, in_flight=8, batch=16)
    assert one_at_a_time["records.jsonl"], "the demo search found no path: nothing was compared"
    assert one_at_a_time == all_at_once
