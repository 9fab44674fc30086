"""The per-stage data mix: Table 4 from config, draw arithmetic, determinism, and the three exporters."""

from __future__ import annotations

import gc
import itertools
import json
import os
from collections import Counter
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from chiron.data.sample import Sample, validate_sample
from chiron.data_mix import (FORMATS, build_mix, build_stage, draw, mix_manifest, paper_table,
                             plan_from_config, scale_count, write_mix)
from conftest import compose_config

MIX_DIR = Path(__file__).resolve().parents[1] / "conf" / "data_mix"
VQA_SETS = {"pubmedvision_alignment", "pubmedvision_instruction", "pmc_vqa", "vqa_rad", "slake", "path_vqa"}
# Written out here on purpose: the config is the source of truth, this is the check against the paper.
TABLE4 = {
    "stage1": {"mmrp_part1": 111260, "pubmedvision_alignment": 129351, "pubmedvision_instruction": 129351,
               "pmc_vqa": 30520, "vqa_rad": 1794, "slake": 3951, "path_vqa": 3934},
    "stage2": {"mmrp_part1": 55630, "mmrp_part2": 58780, "pubmedvision_alignment": 129351,
               "pubmedvision_instruction": 129351, "pmc_vqa": 30520, "vqa_rad": 1794, "slake": 3951,
               "path_vqa": 3934},
    "stage3": {"mmrp_part1": 55630, "mmrp_part2": 29390, "mmrp_part3": 183150,
               "pubmedvision_alignment": 646759, "pubmedvision_instruction": 646759, "pmc_vqa": 152603,
               "vqa_rad": 8970, "slake": 9835, "path_vqa": 19755},
}
_MESSAGES = [{"role": "user", "content": "<image>\nWhat is shown?"},
             {"role": "assistant", "content": "A lesion."}]


def source(name: str, size: int, tag: str = "") -> list[Sample]:
    # One shared message list keeps a 20k-sample source cheap; nothing here mutates it.
    return [Sample(id=f"{name}{tag}/{i}", source=name, messages=_MESSAGES, images=[f"/img/{name}/{i}.png"])
            for i in range(size)]


def load_plan(name: str = "paper", seed: int = 0, **overrides):
    node = OmegaConf.merge(OmegaConf.load(MIX_DIR / f"{name}.yaml"), overrides)
    return plan_from_config(OmegaConf.create({"seed": seed, "data_mix": node}).data_mix)


def compose_mix(option: str, *overrides: str):
    return compose_config([f"data_mix={option}", *overrides])


@pytest.fixture
def no_gc():
    # Building ~400k samples triggers repeated full collections over them, doubling the time.
    gc.disable()
    yield
    gc.enable()


def plan_with(stages: dict, seed: int = 0, **keys):
    return plan_from_config({"name": "t", "seed": seed, "stages": stages, **keys})


# --- plan ------------------------------------------------------------------------------------------

def test_paper_config_is_table4():
    plan = load_plan("paper", seed=5)
    assert plan.table == plan.stages == paper_table() == TABLE4
    assert list(plan.stages) == ["stage1", "stage2", "stage3"]
    assert (plan.name, plan.seed, plan.scale, plan.drop_sources) == ("paper", 5, 1.0, frozenset())
    assert plan.formats == FORMATS


@pytest.mark.parametrize("path", sorted(MIX_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_mix_config_composes(path):
    assert path.read_text().startswith("# ")
    cfg = compose_mix(path.stem, "seed=3")
    plan = plan_from_config(cfg.data_mix)
    assert plan.name == path.stem and plan.seed == 3 and plan.table == TABLE4


def test_demo_keeps_paper_proportions():
    plan = plan_from_config(compose_mix("demo").data_mix)
    assert 0 < plan.scale < 0.01
    for stage, counts in TABLE4.items():
        assert set(plan.stages[stage]) == set(counts)
        for src, n in counts.items():
            got = plan.stages[stage][src]
            assert got >= 1 and (got == 1 or abs(got - n * plan.scale) <= 0.5)
        assert sum(plan.stages[stage].values()) < 1000  # small enough for a CPU demo


def test_scale_rounds_half_up_and_keeps_one():
    assert [scale_count(n, 0.5) for n in (0, 1, 2, 3, 5)] == [0, 1, 1, 2, 3]
    assert scale_count(1794, 1e-5) == 1 and scale_count(646759, 1e-5) == 6
    plan = load_plan("paper", scale=0.001)
    for stage, counts in TABLE4.items():
        for src, n in counts.items():
            assert plan.stages[stage][src] == max(1, int(n * 0.001 + 0.5))
    # ratios of the large sources survive within rounding
    s3 = plan.stages["stage3"]
    assert abs(s3["pubmedvision_alignment"] / s3["mmrp_part3"] - 646759 / 183150) < 0.01


def test_drop_sources_removes_the_vqa_sets():
    plan = plan_from_config(compose_mix("no_vqa").data_mix)
    assert plan.name == "no_vqa" and plan.drop_sources == VQA_SETS
    assert plan.table == TABLE4  # the table is inherited untouched; only the draw plan drops
    assert plan.stages == {stage: {s: n for s, n in counts.items() if s.startswith("mmrp_")}
                           for stage, counts in TABLE4.items()}
    with pytest.raises(ValueError, match="no stage uses"):
        plan_with({"stage1": {"a": 1}}, drop_sources=["typo"])
    with pytest.raises(ValueError, match="draws nothing"):
        plan_with({"stage1": {"a": 1}, "stage2": {"a": 1, "b": 1}}, drop_sources=["a"])


@pytest.mark.parametrize("bad, match", [
    ({"stages": {"stage1": {"a": -1}}}, r"stage1\.a: count must be >= 0"),
    ({"stages": {"stage1": {"a": 1.5}}}, "must be an integer"),
    ({"stages": {"stage4": {"a": 1}}}, "unknown stage"),
    ({"stages": {}}, "non-empty"),
    ({"stages": {"stage1": {"a": 1}}, "scale": 0}, "scale must be a number > 0"),
    ({"stages": {"stage1": {"a": 1}}, "scale": -0.5}, "scale must be a number > 0"),
    ({"stages": {"stage1": {"a": 1}}, "formats": ["parquet"]}, "unknown"),
    ({"stages": {"stage1": {"a": 1}}, "formats": "ours"}, "give a list"),
    ({"stages": {"stage1": {"a": 0}}}, "draws nothing"),
    ({"stages": {"stage1": {"a": 1}}, "drop_sources": "a"}, "list of source names"),
])
def test_plan_validation(bad, match):
    with pytest.raises(ValueError, match=match):
        plan_from_config({"seed": 0, **bad})


def test_stages_come_out_in_curriculum_order():
    plan = plan_with({"stage3": {"a": 1}, "stage1": {"a": 2, "zero": 0}})
    assert list(plan.stages) == ["stage1", "stage3"] and plan.stages["stage1"] == {"a": 2}


# --- draw ------------------------------------------------------------------------------------------

def test_draw_below_size_is_a_subset():
    src = source("a", 10)
    out = draw(src, 7, seed=0, key="stage1/a")
    assert len(out) == len({s.id for s in out}) == 7
    assert {s.id for s in out} <= {s.id for s in src}
    assert all(s.meta["origin_id"] == s.id for s in out)
    assert sorted(s.id for s in draw(src, 10, 0, "k")) == sorted(s.id for s in src)
    assert draw(src, 0, 0, "k") == []


@pytest.mark.parametrize("count, full, extra", [(25, 2, 5), (30, 3, 0), (13, 1, 3)])
def test_draw_repetition_arithmetic(count, full, extra):
    src = source("a", 10)
    out = draw(src, count, seed=1, key="stage3/a")
    assert len(out) == count and len({s.id for s in out}) == count  # copies get distinct ids
    times = Counter(s.meta["origin_id"] for s in out)
    assert set(times) == {s.id for s in src}
    assert Counter(times.values()) == ({full: 10 - extra, full + 1: extra} if extra else {full: 10})
    for s in out:
        origin = s.meta["origin_id"]
        assert s.id == origin or s.id.startswith(f"{origin}#r")
        assert s.messages == _MESSAGES and s.source == "a"
    assert {s.id for s in out if s.id.endswith("#r2")} == {f"{o}#r2" for o, k in times.items() if k >= 2}


def test_draw_leaves_the_source_untouched():
    src = source("a", 3)
    draw(src, 7, 0, "k")
    assert [s.meta for s in src] == [{}, {}, {}]


def test_draw_errors():
    with pytest.raises(ValueError, match="stage1/vqa_rad.*empty"):
        draw([], 3, 0, "stage1/vqa_rad")
    with pytest.raises(ValueError, match=">= 0"):
        draw(source("a", 2), -1, 0, "k")


def test_build_stage_missing_and_empty_sources():
    with pytest.raises(ValueError, match=r"stage 'stage2'.*'mmrp_part2'"):
        build_stage({"mmrp_part1": 2, "mmrp_part2": 2}, {"mmrp_part1": source("mmrp_part1", 3)}, 0, "stage2")
    with pytest.raises(ValueError, match=r"stage 'stage1'.*'slake'.*empty"):
        build_stage({"slake": 2}, {"slake": []}, 0, "stage1")


def test_paper_stage1_counts_are_exact(no_gc):
    plan = load_plan("paper")
    # 20k per source: MMRP Part 1 and PubMedVision repeat (5-6x plus a remainder), the small VQA sets don't.
    sources = {name: source(name, 20000) for name in plan.stages["stage1"]}
    stage = build_stage(plan.stages["stage1"], sources, plan.seed, "stage1")
    assert Counter(s.source for s in stage) == TABLE4["stage1"]
    assert len({(s.source, s.id) for s in stage}) == len(stage) == sum(TABLE4["stage1"].values())


@pytest.mark.slow
def test_paper_all_stages_counts_are_exact(no_gc):
    plan = load_plan("paper")
    stages = build_mix(plan, {name: source(name, 60000) for name in plan.sources()})
    assert {stage: dict(Counter(s.source for s in samples)) for stage, samples in stages.items()} == TABLE4


def test_same_seed_same_mix_other_seed_differs():
    plan = load_plan("paper", scale=0.002)
    sources = {name: source(name, 150) for name in plan.sources()}
    first, again = build_mix(plan, sources), build_mix(plan, sources)
    def ids(mix):
        return {stage: [s.id for s in samples] for stage, samples in mix.items()}

    assert ids(first) == ids(again)
    other = build_mix(load_plan("paper", seed=1, scale=0.002), sources)
    for stage in first:
        assert [s.id for s in first[stage]] != [s.id for s in other[stage]]
        assert Counter(s.source for s in first[stage]) == Counter(s.source for s in other[stage])
    # the stage is shuffled, not laid out source after source
    order = [s.source for s in first["stage3"]]
    assert sum(a != b for a, b in itertools.pairwise(order)) > len(plan.stages["stage3"]) * 5


def test_a_source_draw_ignores_the_other_sources():
    counts = {"a": 25, "b": 30}
    a = source("a", 10)
    before = build_stage(counts, {"a": a, "b": source("b", 12)}, 0, "stage1")
    same_size = build_stage(counts, {"a": a, "b": source("b", 12, tag="x")}, 0, "stage1")
    resized = build_stage({**counts, "c": 4}, {"a": a, "b": source("b", 40, tag="y"), "c": source("c", 2)},
                          0, "stage1")

    def ids(stage, name):
        return [s.id for s in stage if s.source == name]

    assert ids(same_size, "a") == ids(before, "a")  # same stage length: same shuffle too
    assert sorted(ids(resized, "a")) == sorted(ids(before, "a"))  # same draw, reshuffled with the others
    assert sorted(ids(before, "a")) == sorted(s.id for s in draw(a, 25, 0, "stage1/a"))
    # each stage draws its own subset of a shared source
    assert {s.id for s in draw(a, 5, 0, "stage1/a")} != {s.id for s in draw(a, 5, 0, "stage2/a")}


# --- export ----------------------------------------------------------------------------------------

def _mixed_samples() -> list[Sample]:
    one = Sample(id="p1/c1/0", source="mmrp_part1", images=["/abs/c1/0.png"],
                 messages=[{"role": "user", "content": "<image>\nFindings?"},
                           {"role": "assistant", "content": "Step 1: ...\nThe final answer is: X"}])
    two = Sample(id="p3/c2/0", source="mmrp_part3", images=["/abs/c2/0.png", "/abs/c2/1.png"],
                 messages=[{"role": "system", "content": "You are a radiologist."},
                           {"role": "user", "content": "<image>\n<image>\nCompare."},
                           {"role": "assistant", "content": "The second is worse."},
                           {"role": "user", "content": "Why?"},
                           {"role": "assistant", "content": "Larger lesion."}])
    text = Sample(id="t/0", source="pmc_vqa",
                  messages=[{"role": "user", "content": "Define CT."},
                            {"role": "assistant", "content": "Computed tomography."}])
    for s in (one, two, text):
        validate_sample(s.to_json())
    return [one, two, text]


def _read_jsonl(path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_write_mix_writes_three_formats_and_manifest(tmp_path):
    samples = _mixed_samples()
    plan = plan_with({"stage1": {"mmrp_part1": 2, "pmc_vqa": 1}, "stage3": {"mmrp_part3": 3, "pmc_vqa": 1}})
    sources = {s.source: [s] for s in samples}
    stages = build_mix(plan, sources)
    written = write_mix(stages, str(tmp_path), mix_manifest(plan, sources, stages), list(FORMATS))

    # ours: round-trips
    for stage, drawn in stages.items():
        rows = _read_jsonl(tmp_path / f"{stage}.jsonl")
        assert [Sample.from_json(r) for r in rows] == drawn

    # InternVL: annotation lines and meta file
    rows = {r["id"]: r for r in _read_jsonl(tmp_path / "internvl" / "stage3.jsonl")}
    assert len(rows) == 4
    for row in rows.values():
        assert set(row) <= {"id", "image", "conversations"}
        assert all(set(turn) == {"from", "value"} for turn in row["conversations"])
    assert rows["p3/c2/0"]["image"] == ["/abs/c2/0.png", "/abs/c2/1.png"]
    assert [t["from"] for t in rows["p3/c2/0"]["conversations"]] == ["system", "human", "gpt", "human", "gpt"]
    assert rows["p3/c2/0"]["conversations"][1]["value"].count("<image>") == 2
    assert "image" not in rows["t/0"]
    single = {r["id"]: r for r in _read_jsonl(tmp_path / "internvl" / "stage1.jsonl")}["p1/c1/0"]
    assert single["image"] == "/abs/c1/0.png"
    assert single["conversations"] == [{"from": "human", "value": "<image>\nFindings?"},
                                       {"from": "gpt", "value": "Step 1: ...\nThe final answer is: X"}]
    meta = json.loads((tmp_path / "internvl" / "stage3_meta.json").read_text())
    assert list(meta) == ["t_stage3"]
    entry = meta["t_stage3"]
    assert set(entry) == {"root", "annotation", "data_augment", "repeat_time", "length"}
    assert entry["length"] == 4 and entry["repeat_time"] == 1 and entry["data_augment"] is False
    assert os.path.isabs(entry["annotation"])
    assert Path(entry["annotation"]) == tmp_path / "internvl" / "stage3.jsonl"
    assert os.path.join(entry["root"], "/abs/c2/0.png") == "/abs/c2/0.png"  # how InternVL joins paths

    # LLaMA-Factory sharegpt: lines and dataset_info.json
    info = json.loads((tmp_path / "sharegpt" / "dataset_info.json").read_text())
    assert set(info) == {"t_stage1", "t_stage3"}
    for name, entry in info.items():
        assert entry["formatting"] == "sharegpt"
        assert entry["columns"] == {"messages": "messages", "images": "images"}
        assert entry["tags"] == {"role_tag": "role", "content_tag": "content", "user_tag": "user",
                                 "assistant_tag": "assistant", "system_tag": "system"}
        rows = _read_jsonl(tmp_path / "sharegpt" / entry["file_name"])  # relative to dataset_dir
        assert len(rows) == len(stages[name.removeprefix("t_")])
        for row in rows:
            assert set(row) == {"messages", "images"}
            user_text = "".join(m["content"] for m in row["messages"] if m["role"] == "user")
            assert user_text.count("<image>") == len(row["images"])
            assert {m["role"] for m in row["messages"]} <= {"system", "user", "assistant"}

    # manifest: what was asked, what the sources held, what was drawn, and where it went
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest == written
    assert [manifest[k] for k in ("name", "seed", "scale", "drop_sources")] == ["t", 0, 1.0, []]
    assert manifest["formats"] == list(FORMATS)
    assert manifest["stages"]["stage3"] == {"total": 4, "sources": {
        "mmrp_part3": {"config_count": 3, "target": 3, "source_size": 1, "drawn": 3, "repeats": 3.0},
        "pmc_vqa": {"config_count": 1, "target": 1, "source_size": 1, "drawn": 1, "repeats": 1.0}}}
    files = manifest["files"]["stage1"]
    assert files["ours"] == {"data": "stage1.jsonl"}
    assert files["internvl"] == {"annotation": "internvl/stage1.jsonl", "meta": "internvl/stage1_meta.json",
                                 "dataset": "t_stage1"}
    assert files["sharegpt"] == {"data": "sharegpt/stage1.jsonl",
                                 "dataset_info": "sharegpt/dataset_info.json", "dataset": "t_stage1"}


def test_manifest_numbers_under_scale():
    plan = load_plan("paper", scale=0.001)
    sources = {name: source(name, 50) for name in plan.sources()}
    stages = build_mix(plan, sources)
    manifest = mix_manifest(plan, sources, stages)
    for stage, counts in TABLE4.items():
        got = manifest["stages"][stage]
        assert got["total"] == len(stages[stage]) == sum(plan.stages[stage].values())
        for src, n in counts.items():
            row = got["sources"][src]
            assert row["config_count"] == n and row["target"] == row["drawn"] == plan.stages[stage][src]
            assert row["source_size"] == 50 and row["repeats"] == round(row["target"] / 50, 4)
    assert manifest["stages"]["stage3"]["sources"]["pubmedvision_alignment"]["repeats"] == 12.94


def test_write_mix_subset_of_formats(tmp_path):
    stages = {"stage1": _mixed_samples()}
    write_mix(stages, str(tmp_path), {"name": "m"}, ["sharegpt"])
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()) == [
        "manifest.json", "sharegpt/dataset_info.json", "sharegpt/stage1.jsonl"]
    with pytest.raises(ValueError, match="unknown export format"):
        write_mix(stages, str(tmp_path), {}, ["csv"])
