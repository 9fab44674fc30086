"""task=pipeline: stage keys, the store, which stages run, and reuse across runs (a QC sweep searches once)."""

import json

import pytest
from conftest import compose_config

from chiron.main import run_task
from chiron.pipeline.job import _recompute_set, stage_keys
from chiron.pipeline.keys import config_slice, stage_key
from chiron.pipeline.stages import needed_stages, upstream_of
from chiron.pipeline.store import StageStore

ALL = ["part1", "part2", "part3", "search", "qc", "mix", "train", "eval"]


def test_key_depends_on_what_decides_the_result_and_nothing_else(tmp_path):
    base = stage_key("search", {"search": {"max_depth": 4, "max_cases_in_flight": 32}}, {"part3": "abc"})
    assert base == stage_key("search", {"search": {"max_depth": 4, "max_cases_in_flight": 32}}, {"part3": "abc"})
    assert base != stage_key("search", {"search": {"max_depth": 3, "max_cases_in_flight": 32}}, {"part3": "abc"})
    assert base != stage_key("search", {"search": {"max_depth": 4, "max_cases_in_flight": 32}}, {"part3": "abd"})
    assert base != stage_key("qc", {"search": {"max_depth": 4, "max_cases_in_flight": 32}}, {"part3": "abc"})
    # how fast is not what: concurrency and progress bars are left out of the slice
    fast = compose_config(["search.max_cases_in_flight=1", "progress=false"])
    slow = compose_config(["search.max_cases_in_flight=64"])
    assert config_slice(fast, ["search"]) == config_slice(slow, ["search"])
    # a named input file is identified by its contents: editing it in place changes the key
    corpus = tmp_path / "cases.jsonl"
    corpus.write_text('{"id": 1}\n')
    before = stage_key("part1", {"corpus": {"path": str(corpus)}}, {})
    corpus.write_text('{"id": 2}\n')
    assert stage_key("part1", {"corpus": {"path": str(corpus)}}, {}) != before


def test_store_marks_finished_last_and_sets_results_aside(tmp_path):
    store = StageStore(str(tmp_path))
    with store.claim("search", "k1") as folder:
        (tmp_path / "search" / "k1" / "partial.txt").write_text("x")
        assert store.finished("search", "k1") is None  # a crash here leaves an unfinished folder
        store.mark_finished("search", "k1", {"wall_s": 1.0})
    assert store.finished("search", "k1") == {"wall_s": 1.0}
    aside = store.set_aside("search", "k1")
    assert store.finished("search", "k1") is None and json.loads((tmp_path / aside / "stage_done.json").read_text())
    assert folder == store.folder("search", "k1") and store.set_aside("search", "k1") is None


def test_needed_stages_follow_the_mix_plan_and_the_last_stage():
    assert needed_stages(compose_config(), "eval") == [*ALL, "base_eval"]
    assert needed_stages(compose_config(["pipeline.base_eval=false"]), "eval") == ALL
    assert needed_stages(compose_config(), "mix") == ALL[:6]
    assert needed_stages(compose_config(), "search") == ["part3", "search", "qc"]
    # Table 3 row 1: no Part 3 reasoning in the mix, so no search at all
    no_reasoning = compose_config(["data_mix.drop_sources=[mmrp_part3]"])
    assert needed_stages(no_reasoning, "eval") == ["part1", "part2", "mix", "train", "eval", "base_eval"]
    with pytest.raises(ValueError, match="not a stage"):
        needed_stages(compose_config(), "deploy")


def test_recompute_takes_everything_downstream_along():
    graph = upstream_of(compose_config())
    assert _recompute_set(["search"], ALL, graph) == {"search", "qc", "mix", "train", "eval"}
    assert _recompute_set(["part2"], ALL, graph) == {"part2", "mix", "train", "eval"}
    assert _recompute_set([], ALL, graph) == set()
    with pytest.raises(ValueError, match="unknown stages"):
        _recompute_set(["serach"], ALL, graph)


def test_keys_are_shared_exactly_where_inputs_are():
    keys = {qc: stage_keys(compose_config([f"qc={qc}"]), ALL) for qc in ("on", "off")}
    assert {s for s in ALL if keys["on"][s] == keys["off"][s]} == {"part1", "part2", "part3", "search"}
    # the untrained base's eval reads no stage: one result serves every arm
    assert stage_keys(compose_config(["qc=off", "curriculum=stage3_only"]), ["base_eval"]) == \
        stage_keys(compose_config(), ["base_eval"])
    stage3 = stage_keys(compose_config(["curriculum=stage3_only"]), ALL)
    assert {s for s in ALL if stage3[s] == keys["on"][s]} == set(ALL[:6])
    vanilla = stage_keys(compose_config(["search=vanilla"]), ALL)
    assert {s for s in ALL if vanilla[s] == keys["on"][s]} == {"part1", "part2", "part3"}


def test_two_arm_qc_sweep_searches_once(tmp_path, monkeypatch, shared_tiny_models):
    """Two runs that differ only in QC: the second reads the first's search (the search job, and
    so every mentor, intern and judge call, runs once); each computes its own QC report."""
    import chiron.search.job as search_job

    searches = []
    real_search = search_job.run
    monkeypatch.setattr(search_job, "run", lambda cfg: searches.append(cfg.paths.run_dir) or real_search(cfg))
    summaries = {}
    for qc in ("on", "off"):
        cfg = compose_config([f"paths.output_dir={tmp_path}", f"+paths.run_dir={tmp_path / 'runs' / qc}", f"qc={qc}",
                              f"paths.tiny_model_dir={shared_tiny_models}", "corpus.limit=8", "data.limit=4",
                              "pipeline.last=qc", "logger=none", "progress=false"])
        run_task(cfg)
        summaries[qc] = json.loads((tmp_path / "runs" / qc / "pipeline" / "summary.json").read_text())
    on, off = summaries["on"]["stages"], summaries["off"]["stages"]
    assert len(searches) == 1 and list(on) == list(off) == ["part3", "search", "qc"]
    assert not on["search"]["reused"] and off["search"]["reused"] and off["part3"]["reused"]
    assert on["search"]["key"] == off["search"]["key"] and on["search"]["folder"] == off["search"]["folder"]
    assert not off["qc"]["reused"] and on["qc"]["key"] != off["qc"]["key"]
    assert summaries["on"]["trends"]["qc"]["enabled"] and not summaries["off"]["trends"]["qc"]["enabled"]
    assert on["search"]["summary"]["cases_ok"] + on["search"]["summary"]["cases_failed"] >= 1
    assert (tmp_path / "runs" / "off" / "pipeline" / "report.md").read_text().count("reused") >= 2
    # asking for the search again explicitly runs it again (and what depends on it), the old result kept aside
    cfg = compose_config([f"paths.output_dir={tmp_path}", f"+paths.run_dir={tmp_path / 'runs' / 'again'}",
                          f"paths.tiny_model_dir={shared_tiny_models}", "corpus.limit=8", "data.limit=4",
                          "pipeline.last=qc", "logger=none", "progress=false",
                          "pipeline.recompute=[search]"])
    run_task(cfg)
    assert len(searches) == 2
    assert list((tmp_path / "stages" / "search").glob("*.old-*"))


@pytest.mark.parametrize("method", ["mics", "vanilla"])
def test_qc_stage_reads_only_this_runs_search(tmp_path, method):
    from chiron.pipeline.stages import STAGES

    cfg = STAGES["qc"].point(compose_config([f"search={method}"]), str(tmp_path / "qc"),
                             {"search": str(tmp_path / "search")})
    assert dict(cfg.qc_report.inputs) == {method: str(tmp_path / "search" / "search" / "records.jsonl")}
    assert cfg.paths.run_dir == str(tmp_path / "qc")
