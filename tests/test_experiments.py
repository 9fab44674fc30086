"""conf/experiment/: every experiment composes, its sweep expands to the paper's arms, and the arms
share exactly the stage results their inputs allow (known from the keys, before anything runs).
The slow tests run each sweep end to end at tiny scale in a subprocess."""

import json
import os
import subprocess
import sys

import pytest
from conftest import CONF, ROOT
from hydra import compose, initialize_config_dir
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser

from chiron.pipeline.job import stage_keys
from chiron.preflight import task_needs
from chiron.pipeline.report import pipeline_settings
from chiron.pipeline.stages import needed_stages

EXPERIMENTS = ["chiron_o1_2b", "chiron_o1_8b", "ablation_mics_vs_vanilla", "ablation_vqa", "ablation_qc",
               "ablation_stages", "ablation_mentor_sets", "demo"]
# The paper-scale experiments at tiny scale (conf/experiment/paper_scale.yaml lists the same).
TINY = ["mentors=tiny", "interns=tiny", "judge=rules", "writer=tiny", "corpus=demo", "vqa_sets=demo",
        "data_mix=demo", "model=tiny", "trainer=cpu", "train=demo", "benchmarks=[demo]"]
DEMO_SCALE = "+experiment/scale=demo"  # conf/experiment/scale/demo.yaml: the same stand-ins as TINY
TINY_MENTOR_SETS = "mentors.subset=[tiny-mentor-a],[tiny-mentor-b],[tiny-mentor-a,tiny-mentor-b]"
PAPER_DATA = ["corpus.path=/data/cases.jsonl", "corpus.image_root=/data/images"]


def compose_experiment(name: str, overrides=(), hydra=False):
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose("config", overrides=[f"+experiment={name}", *overrides], return_hydra_config=hydra)


def arms(name: str, overrides=()) -> list[list[str]]:
    """The sweep's arms as Hydra's basic sweeper expands them (command-line sweeps win over the config's)."""
    params = compose_experiment(name, fixed(overrides), hydra=True).hydra.sweeper.params or {}
    parsed = OverridesParser.create().parse_overrides([f"{k}={v}" for k, v in params.items()] + list(overrides))
    return BasicSweeper.split_arguments(parsed, None)[0]


def fixed(overrides) -> list[str]:
    """The overrides that are not sweeps (a single compose cannot take a sweep)."""
    return [o for o in overrides if not OverridesParser.create().parse_override(o).is_sweep_override()]


def arm_configs(name: str, overrides=()):
    return [compose_experiment(name, [*fixed(overrides), *arm]) for arm in arms(name, overrides)]


def test_every_experiment_is_documented_and_composes():
    assert sorted(p.stem for p in (ROOT / "conf" / "experiment").glob("*.yaml")) == sorted(
        EXPERIMENTS + ["base", "paper_scale"])
    for name in EXPERIMENTS:
        text = (ROOT / "conf" / "experiment" / f"{name}.yaml").read_text()
        assert text.startswith("# @package _global_\n")
        assert f"python run.py +experiment={name}" in text, name           # opens with its exact command
        if name.startswith("ablation") or name.startswith("chiron"):
            assert any(w in text for w in ("Table", "Figure", "spec §7")), name  # and what it reproduces
        cfg = compose_experiment(name, PAPER_DATA)
        assert cfg.task == "pipeline"
        assert needed_stages(cfg, "eval")[-3:] == ["train", "eval", "base_eval"]


def test_paper_experiments_use_the_papers_models():
    cfg = compose_experiment("chiron_o1_8b", PAPER_DATA)
    assert cfg.model.name == "internvl3_8b" and cfg.trainer.strategy.stage == 1
    assert [m.name for m in cfg.mentors.models] == ["gpt-4o", "gemini-2.5-pro", "qwen2.5-vl-72b"]
    assert cfg.data_mix.name == "paper" and cfg.gpus_per_job == 8
    assert compose_experiment("chiron_o1_2b", PAPER_DATA).model.name == "internvl3_2b"
    # everything can be set back on the command line: the tiny stand-ins
    tiny = compose_experiment("chiron_o1_8b", TINY)
    assert tiny.model.name == "tiny" and tiny.mentors.models[0].name == "tiny-mentor-a"


@pytest.mark.parametrize("name", [e for e in EXPERIMENTS if e != "demo"])
def test_demo_scale_is_the_tiny_stand_ins(name):
    """+experiment/scale=demo composes every paper experiment exactly as the TINY overrides do."""
    scaled, tiny = compose_experiment(name, [DEMO_SCALE]), compose_experiment(name, TINY)
    for key in ("mentors", "interns", "judge", "writer", "corpus", "vqa_sets", "data_mix", "model", "trainer",
                "benchmarks"):
        assert scaled[key] == tiny[key], key
    assert scaled.gpus_per_job == 0
    assert task_needs(scaled) == []  # and nothing it needs is missing on this machine, offline


@pytest.mark.parametrize("name, expected", [
    ("ablation_qc", [{"qc": True}, {"qc": False}]),
    ("ablation_stages", [{"curriculum": c} for c in ("three_stage", "stage1", "stage12", "stage3_only")]),
    ("ablation_mics_vs_vanilla", [{"method": "vanilla", "vqa": False, "qc": False},
                                  {"method": "vanilla", "vqa": True, "qc": False},
                                  {"method": "mics", "vqa": True, "qc": False},
                                  {"method": "mics", "vqa": True, "qc": True}]),
    ("ablation_vqa", [{"method": "vanilla", "vqa": False}, {"method": "vanilla", "vqa": True},
                      {"method": "mics", "vqa": False, "qc": True}, {"method": "mics", "vqa": True, "qc": True}]),
    ("demo", [{"qc": q, "curriculum": c} for q in (True, False) for c in ("three_stage", "stage3_only")]),
])
def test_sweeps_expand_to_the_papers_arms(name, expected):
    settings = [pipeline_settings(cfg) for cfg in arm_configs(name, PAPER_DATA if name != "demo" else ())]
    assert len(settings) == len(expected)
    for got, want in zip(settings, expected):
        assert {k: got[k] for k in want} == want


def test_mentor_sets_sweep_every_non_empty_subset():
    paper = [pipeline_settings(cfg)["mentors"] for cfg in arm_configs("ablation_mentor_sets", PAPER_DATA)]
    assert len(paper) == 7 and len({tuple(m) for m in paper}) == 7 and ["gpt-4o"] in paper
    tiny = [pipeline_settings(cfg)["mentors"] for cfg in arm_configs("ablation_mentor_sets", [*TINY, TINY_MENTOR_SETS])]
    assert tiny == [["tiny-mentor-a"], ["tiny-mentor-b"], ["tiny-mentor-a", "tiny-mentor-b"]]


def shared_stages(name: str, overrides=()) -> dict[str, int]:
    """{stage: number of distinct results the sweep computes}."""
    keys = [stage_keys(cfg, needed_stages(cfg, "eval")) for cfg in arm_configs(name, overrides)]
    return {stage: len({k[stage] for k in keys if stage in k}) for stage in keys[0]}


@pytest.mark.parametrize("name, overrides, distinct", [
    ("ablation_qc", TINY, {"part1": 1, "part2": 1, "part3": 1, "search": 1, "qc": 2, "mix": 2, "train": 2, "eval": 2}),
    ("ablation_stages", TINY, {"part1": 1, "search": 1, "mix": 1, "train": 4, "eval": 4}),
    ("ablation_mics_vs_vanilla", TINY, {"part3": 1, "search": 2, "mix": 4, "train": 4}),
    ("ablation_vqa", TINY, {"search": 2, "mix": 4}),
    ("ablation_mentor_sets", [*TINY, TINY_MENTOR_SETS], {"part3": 1, "search": 3, "train": 3}),
    ("demo", (), {"search": 1, "qc": 2, "mix": 2, "train": 4, "eval": 4}),
])
def test_sweep_arms_share_what_they_have_in_common(name, overrides, distinct):
    found = shared_stages(name, overrides)
    assert {stage: found[stage] for stage in distinct} == distinct


def test_table3_row1_needs_no_search():
    cfg = compose_experiment("ablation_qc", [*TINY, "+experiment/arms=table3_row1"])
    assert "search" not in needed_stages(cfg, "eval") and pipeline_settings(cfg)["method"] is None


def test_submitit_sweep_asks_for_the_experiments_gpus():
    cfg = compose_experiment("ablation_qc", [*PAPER_DATA, "hydra/launcher=submitit_slurm"], hydra=True)
    assert "submitit" in cfg.hydra.launcher._target_ and cfg.hydra.launcher.gpus_per_node == 8
    tiny = compose_experiment("demo", ["hydra/launcher=submitit_slurm"], hydra=True)
    assert tiny.hydra.launcher.gpus_per_node == 0


# -- end to end, tiny, in a subprocess (slow) ----------------------------------------------------------------

SMALL = ["corpus.limit=8", "data_mix.scale=0.0001", "progress=false", "logger=csv"]


def run_sweep(tmp_path, name, *overrides):
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", WANDB_MODE="disabled")
    cmd = [sys.executable, str(ROOT / "run.py"), "-m", f"+experiment={name}", f"paths.output_dir={tmp_path}",
           "run_name=sweep", *SMALL, *overrides]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3000, env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    sweep = tmp_path / "experiments" / name / "sweep"
    summaries = [json.loads(p.read_text()) for p in sorted(sweep.glob("*/pipeline/summary.json"))]
    assert (sweep / "report.md").is_file() and "sweep report:" in proc.stdout
    return summaries


# Arms with QC on get the whole demo corpus: on a slice, QC may flag every tiny path (the mix then
# stops, as it should, with no reasoning data left). Elsewhere qc=off keeps the slice enough.
WHOLE_CORPUS = "corpus.limit=null"


@pytest.mark.slow
@pytest.mark.timeout(3000)  # a four-arm sweep on a busy 2-core machine passes the suite's 600 s
@pytest.mark.parametrize("name, overrides, n_arms", [
    ("demo", ["qc=off"], 2),          # curriculum is swept
    # the paper experiments in their demo-scale form, as the needs screen prints it
    ("ablation_qc", [DEMO_SCALE, WHOLE_CORPUS], 2),
    ("ablation_stages", [DEMO_SCALE, "qc=off"], 4),
    ("ablation_mics_vs_vanilla", [DEMO_SCALE, WHOLE_CORPUS], 4),
    ("ablation_vqa", [DEMO_SCALE, WHOLE_CORPUS], 4),
    ("ablation_mentor_sets", [DEMO_SCALE, TINY_MENTOR_SETS, "qc=off"], 3),
    # the whole corpus: on an 8-case slice the tiny Part 3 writer can give 0 pairs (its samples depend on load)
    ("chiron_o1_8b", [DEMO_SCALE, WHOLE_CORPUS, "qc=off"], 1),
])
def test_sweep_runs_end_to_end_at_tiny_scale(tmp_path, name, overrides, n_arms):
    summaries = run_sweep(tmp_path, name, *overrides)
    assert len(summaries) == n_arms
    assert all(s["metrics"]["demo"]["n"] > 0 for s in summaries)
    # every stage a later arm shares with an earlier one is read, not computed again
    computed = {}
    for s in summaries:
        for stage, info in s["stages"].items():
            assert info["reused"] == (info["key"] in computed.setdefault(stage, set()))
            computed[stage].add(info["key"])


@pytest.mark.slow
def test_sweep_through_the_submitit_launcher(tmp_path):
    """hydra-submitit-launcher, one job per arm, here its local flavour (the SLURM one takes the same
    config): two arms run at once and meet at the stage locks, so the search still runs once."""
    summaries = run_sweep(tmp_path, "demo", "qc=off", "hydra/launcher=submitit_local", "hydra.launcher.timeout_min=60")
    assert len(summaries) == 2
    search = [s["stages"]["search"] for s in summaries]
    assert search[0]["key"] == search[1]["key"] and sorted(s["reused"] for s in search) == [False, True]
    assert list((tmp_path / "experiments" / "demo" / "sweep" / ".submitit").iterdir())


@pytest.mark.parametrize("name", [e for e in EXPERIMENTS if e != "demo"])
def test_a_paper_experiment_with_nothing_set_up_prints_what_it_needs(tmp_path, name):
    """`python run.py +experiment=<name> [-m]` on a machine with nothing set up: the needs screen and
    the demo-scale command, exit 1, no traceback, no job started."""
    sweep = bool(compose_experiment(name, PAPER_DATA, hydra=True).hydra.sweeper.params)
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and not k.startswith("CHIRON_")}
    proc = subprocess.run([sys.executable, str(ROOT / "run.py"), f"+experiment={name}", *(["-m"] if sweep else [])],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env=dict(env, HF_HUB_OFFLINE="1", WANDB_MODE="disabled"))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1 and "Traceback" not in out, out[-3000:]
    assert "corpus.path is not set" in out and "CHIRON_EVAL_ROOT is not set" in out
    assert f"python run.py +experiment={name} +experiment/scale=demo" in out
    assert not (tmp_path / "outputs" / "stages").exists()
