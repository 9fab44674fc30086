"""Experiment reports (chiron/reports, experiments/<report>/report.py) on handmade sweep folders."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chiron.eval.report import comparison_markdown, paper_results
from chiron.pipeline.report import run_report_markdown
from chiron.qc.figure4 import trend_summary
from chiron.reports import arms_table, load_arms, load_local, load_wandb, newest_sweep
from chiron.reports.figures import figure4, figure5, merged_trends, trend_panels
from chiron.reports.mentors import mentor_sets
from chiron.reports.paper import demo, demo_panels, table1, table2, table5
from chiron.reports.plots import bar_figure
from chiron.reports.registry import REPORTS
from chiron.reports.table3 import match_row, table3

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("part1", "part2", "part3", "search", "qc", "mix", "train", "eval")
GROUP_TIME = "2026-11-30_05-00-00"


# ---- fixtures: summaries in the pipeline's contract ------------------------------------------


def bench(correct, n, **extra):
    acc = correct / n
    return {"n": n, "accuracy": acc, "ci_low": max(0.0, acc - 0.2), "ci_high": min(1.0, acc + 0.2),
            "unparseable": 0, "judge_failures": 0, "generation_failures": 0, **extra}


def records(spec):
    """Search records in our records.jsonl format: (scenario, path scores) pairs."""
    return [{"rid": f"r{i}", "scenario": scenario, "path_scores": scores}
            for i, (scenario, scores) in enumerate(spec)]


MICS_RECORDS = records([("patient_to_doctor", [0.2, 0.5, 1.0]), ("patient_to_doctor", [0.0, 1.0]),
                        ("doctor_to_doctor", [0.5, 0.2]), ("intern_to_senior", [1.0]),
                        ("intern_to_senior", [0.2, 0.8, 0.4])])
VANILLA_RECORDS = records([("patient_to_doctor", [0.5, 0.2]), ("patient_to_doctor", [0.5, 0.5]),
                           ("doctor_to_doctor", [0.2, 0.6]), ("intern_to_senior", [0.8, 0.2, 0.6]),
                           ("intern_to_senior", [])])  # [] = unscored vanilla


def trends_of(method, rows):
    out = trend_summary({method: rows})
    out["qc"] = {"enabled": True, "full_score": 1.0, "keep_constant_full": True,
                 "inputs": {method: {"path": "/x", "n": len(rows), "kept": 2, "flagged": len(rows) - 2,
                                     "reasons": {"increasing": 2}}}}
    return out


def summary(experiment, overrides, *, method="mics", vqa=True, qc=True, curriculum="three_stage",
            mentors=("tiny-mentor-a", "tiny-mentor-b"), model="tiny", data_mix="demo", metrics=None,
            trends=None, search=None, reused=()):
    stages = {name: {"key": f"{name}0000", "folder": f"/abs/stages/{name}", "reused": name in reused,
                     "wall_s": 1.5, "summary": {}} for name in STAGES}
    stages["search"]["summary"] = search or {"cases_ok": 9, "cases_failed": 3}
    curricula = {"three_stage": ["stage1", "stage2", "stage3"], "stage1": ["stage1"],
                 "stage12": ["stage1", "stage2"], "stage3_only": ["stage3"]}
    return {"experiment": experiment, "arm": ",".join(overrides) or "default",
            "group": f"{experiment}-{GROUP_TIME}", "overrides": list(overrides),
            "settings": {"method": method, "vqa": vqa, "qc": qc, "curriculum": curriculum,
                         "curriculum_stages": curricula[curriculum], "mentors": list(mentors), "model": model,
                         "data_mix": data_mix},
            "stages": stages, "trends": trends, "metrics": metrics, "wall_s": 42.0}


def write_sweep(folder, arms):
    """<folder>/<n>/.hydra/overrides.yaml and <n>/pipeline/summary.json; None = a crashed arm."""
    for n, arm in enumerate(arms):
        arm_dir = Path(folder) / str(n)
        (arm_dir / ".hydra").mkdir(parents=True)
        overrides = ["+experiment=x"] + (arm["overrides"] if arm else ["crashed=true"])
        (arm_dir / ".hydra" / "overrides.yaml").write_text("\n".join(f"- {o}" for o in overrides) + "\n")
        if arm is not None:
            (arm_dir / "pipeline").mkdir()
            (arm_dir / "pipeline" / "summary.json").write_text(json.dumps(arm))
    return str(folder)


def table3_metrics(vqa_rad, slake, mmmu, medx):
    return {"vqa_rad": bench(vqa_rad, 20), "slake": bench(slake, 20), "mmmu_hm": bench(mmmu, 20),
            "medxpertqa_mm": bench(medx, 20)}


def qc_sweep(tmp_path):
    return write_sweep(tmp_path / "ablation_qc" / "s1", [
        summary("ablation_qc", ["qc=on"], metrics=table3_metrics(15, 16, 11, 5)),
        summary("ablation_qc", ["qc=off"], qc=False, metrics=table3_metrics(14, 12, 10, 4),
                reused=STAGES[:4]),
    ])


def vqa_sweep(tmp_path):
    return write_sweep(tmp_path / "ablation_vqa" / "s1", [
        summary("ablation_vqa", ["data_mix=no_vqa"], vqa=False, metrics=table3_metrics(12, 11, 9, 3)),
        summary("ablation_vqa", ["mix_inputs.part3_method=vanilla"], method="vanilla", vqa=False,
                metrics=table3_metrics(10, 10, 8, 2)),
        summary("ablation_vqa", ["curriculum=stage3_only"], curriculum="stage3_only",
                metrics=table3_metrics(1, 1, 1, 1)),
    ])


def read_report(paths):
    assert paths[0].endswith("report.md")
    for png in paths[1:]:
        assert png.endswith(".png") and Path(png).read_bytes()[:4] == b"\x89PNG"
    return Path(paths[0]).read_text()


# ---- loading ---------------------------------------------------------------------------------


def test_load_local_sorts_by_arm_number_and_skips_crashed_arms(tmp_path):
    arms = [summary("ablation_qc", [f"seed={i}"]) for i in range(12)]
    arms[1] = None
    sweep = write_sweep(tmp_path / "sweep", arms)
    with pytest.warns(UserWarning, match=r"arm 1 of .* has no pipeline/summary.json"):
        loaded = load_local(sweep)
    assert [a["arm"] for a in loaded] == [f"seed={i}" for i in range(12) if i != 1]  # 2 before 10
    assert loaded[0] == arms[0]


def test_empty_or_missing_sweep_raises_naming_the_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="empty.*has the sweep finished"):
        load_local(str(tmp_path / "empty"))
    write_sweep(tmp_path / "all_crashed", [None])
    with pytest.warns(UserWarning), pytest.raises(FileNotFoundError, match="all_crashed"):
        load_local(str(tmp_path / "all_crashed"))
    with pytest.raises(FileNotFoundError, match="nowhere"):
        newest_sweep(str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="no sweep folder under"):
        newest_sweep(str(tmp_path / "empty"))


def test_a_single_run_folder_is_a_one_arm_sweep(tmp_path):
    arm = summary("chiron_o1_8b", [])
    (tmp_path / "run" / "pipeline").mkdir(parents=True)
    (tmp_path / "run" / "pipeline" / "summary.json").write_text(json.dumps(arm))
    assert load_local(str(tmp_path / "run")) == [arm] and arm["arm"] == "default"


def test_newest_sweep_picks_the_latest_modified(tmp_path):
    old = write_sweep(tmp_path / "exp" / "zzz-old", [summary("demo", ["qc=on"])])
    new = write_sweep(tmp_path / "exp" / "aaa-new", [summary("demo", ["qc=off"])])
    (tmp_path / "exp" / "not-a-sweep").mkdir()
    os.utime(old, (1_000_000, 1_000_000))
    os.utime(new, (2_000_000, 2_000_000))
    assert newest_sweep(str(tmp_path / "exp")) == new


class FakeSub:
    """Like wandb's SummarySubDict: dict-like (keys/items/[]) but not a dict."""

    def __init__(self, data):
        self._data = data

    def keys(self):
        return self._data.keys()

    def items(self):
        return ((k, self[k]) for k in self._data)

    def __getitem__(self, k):
        v = self._data[k]
        return FakeSub(v) if isinstance(v, dict) else v

    def __contains__(self, k):
        return k in self._data


class FakeRun:
    def __init__(self, name, pipeline):
        self.name = name
        self.summary = FakeSub({"pipeline": pipeline} if pipeline else {"loss": 1.0})


def fake_api(monkeypatch, runs_by_group, calls):
    import wandb

    class Api:
        def runs(self, path, filters=None):
            calls.append((path, filters))
            return runs_by_group.get(filters["group"], [])

    monkeypatch.setattr(wandb, "Api", Api)


def test_wandb_loader_gives_the_same_dicts_as_the_folder(tmp_path, monkeypatch):
    sweep = qc_sweep(tmp_path)
    local = load_local(sweep)
    group = local[0]["group"]
    calls = []
    fake_api(monkeypatch, {group: [FakeRun(a["arm"], a) for a in local] + [FakeRun("crashed", None)]}, calls)
    with pytest.warns(UserWarning, match="crashed"):
        remote = load_wandb(group, project="chiron", entity="me")
    assert remote == local and type(remote[0]["settings"]) is dict and type(remote[0]["stages"]["qc"]) is dict
    assert calls == [("me/chiron", {"group": group, "jobType": "pipeline"})]
    # load_arms: a folder is read locally, anything else goes to W&B.
    assert load_arms(sweep) == local
    with pytest.warns(UserWarning, match="crashed"):
        assert load_arms(group, project="p") == local and calls[-1][0] == "p"
    with pytest.raises(FileNotFoundError, match="no pipeline run .* 'nope'"):
        load_arms("nope")


def test_wandb_without_a_key_is_a_clear_error(monkeypatch):
    import wandb

    def no_key():
        raise wandb.errors.UsageError("No API key configured.")

    monkeypatch.setattr(wandb, "Api", no_key)
    with pytest.raises(RuntimeError, match="WANDB_API_KEY.*wandb login"):
        load_wandb("some-group")


# ---- reports ---------------------------------------------------------------------------------


def test_table3_matches_arms_to_paper_rows(tmp_path):
    arms = load_local(qc_sweep(tmp_path)) + load_local(vqa_sweep(tmp_path))
    rows = [match_row(a)[0] for a in arms]
    assert rows == ["6: MICS, VQA, QC (Chiron-o1-8B)", "5: MICS, VQA, no QC", "4: MICS, no VQA, QC",
                    "2: vanilla, no VQA", None]
    assert "stage3_only" in match_row(arms[4])[1]
    none_arm = summary("x", ["a"], method=None, qc=False)
    assert match_row(none_arm)[0] == "1: none, VQA"  # QC open in row 1: any value matches

    text = read_report(table3(arms, str(tmp_path / "out")))
    # Row 6: paper's values, then our qc=on arm in percent (15/20 = 75.0, 16/20 = 80.0, ...).
    assert "| 6 | mics | ✓ | ✓ | paper (8B) | 76.8 | 83.2 | 54.6 | 24.2 |" in text
    assert "| 6 | mics | ✓ | ✓ | **ours: ablation_qc: qc=on** | 75.0 | 80.0 | 55.0 | 25.0 |" in text
    assert "| 5 | mics | ✓ | ✗ | **ours: ablation_qc: qc=off** | 70.0 | 60.0 | 50.0 | 20.0 |" in text
    assert "| 2 | vanilla | ✗ | ✓ | **ours: ablation_vqa: mix_inputs.part3_method=vanilla** | 50.0 |" in text
    assert "- ablation_vqa: curriculum=stage3_only: curriculum stage3_only" in text
    # Effect of QC (rows 5 -> 6): paper +2.5 on VQA-RAD; ours +5.0 within the QC sweep.
    assert "| quality control on MICS paths | 5 → 6 | paper (8B) | +2.5 | +0.6 | +5.3 | +1.6 |" in text
    assert f"|  |  | ours: ablation_qc-{GROUP_TIME} | +5.0 | +20.0 | +5.0 | +5.0 |" in text
    assert "| ablation_qc: qc=on | vqa_rad | 20 | 75.0 | 55.0–95.0 |" in text
    assert "demo scale" in text and (tmp_path / "out" / "table3.png").exists()


def test_figure4_trend_shares_mics_vs_vanilla(tmp_path):
    sweep = write_sweep(tmp_path / "s", [
        summary("ablation_mics_vs_vanilla", ["search=mics"], trends=trends_of("mics", MICS_RECORDS)),
        summary("ablation_mics_vs_vanilla", ["search=vanilla"], method="vanilla",
                trends=trends_of("vanilla", VANILLA_RECORDS)),
        summary("ablation_mics_vs_vanilla", ["qc=off"], qc=False, trends=trends_of("mics", MICS_RECORDS)),
    ])
    arms = load_local(sweep)
    merged = merged_trends(arms)
    assert list(merged["methods"]) == ["mics", "vanilla"]  # the shared MICS QC stage is counted once
    other = summary("ablation_mics_vs_vanilla", ["mentors=one"], trends=trends_of("mics", MICS_RECORDS[:2]))
    assert list(merged_trends(arms + [other])["methods"]) == ["mics", "vanilla", "mics (mentors=one)"]
    assert merged["unscored"] == {"mics": 0, "vanilla": 1}
    text = read_report(figure4(arms, str(tmp_path / "out")))
    # MICS: 2 of 5 increasing overall; patient_to_doctor: both increasing. Vanilla: 1 of 4 increasing.
    assert "| all | mics | 5 | 40.0 | 20.0 | 20.0 | 20.0 |" in text
    assert "| patient_to_doctor | mics | 2 | 100.0 | 0.0 | 0.0 | 0.0 |" in text
    assert "| all | vanilla | 4 | 25.0 | 25.0 | 25.0 | 25.0 |" in text
    assert "mics 40.0 % (n=5) vs vanilla 25.0 % (n=4); this agrees with" in text
    assert "prints no shares" in text and "vanilla: 1" in text
    assert "| vanilla | on | 5 | 2 | 3 | increasing: 2 |" in text
    assert (tmp_path / "out" / "figure4_trends.png").read_bytes()[:4] == b"\x89PNG"


def test_figure4_without_trends_says_so(tmp_path):
    text = read_report(figure4([summary("x", ["a"])], str(tmp_path / "out")))
    assert "No arm has QC trends" in text


def test_figure5_stage_subsets_beside_the_paper(tmp_path):
    accs = {"stage1": 8, "stage12": 9, "stage3_only": 10, "three_stage": 12}
    sweep = write_sweep(tmp_path / "s", [
        summary("ablation_stages", [f"curriculum={c}"], curriculum=c,
                metrics={"mmmu_hm": bench(k, 20), "demo": bench(k, 22)}) for c, k in accs.items()])
    text = read_report(figure5(load_local(sweep), str(tmp_path / "out")))
    assert "| stage 1 | paper (8B) | 47.7 | – | – | – | – |" in text
    assert "| stage 1 | **ours: curriculum=stage1** | 40.0 | – | – | – | 36.4 |" in text
    assert "| stages 1+2+3 | paper (8B) | 54.6 |" in text
    # Points below the full curriculum: the paper's -6.9 / -6.2 / -3.5, ours from the arms.
    assert "| stage 1 | paper (8B) | -6.9 |" in text and "| stage 1 | ours | -20.0 |" in text
    assert "| stage 3 only | paper (8B) | -3.5 |" in text and "| stage 3 only | ours | -10.0 |" in text
    assert (tmp_path / "out" / "figure5.png").exists()


def _table_metrics():
    subjects = {s: bench(k, 10) for s, k in [("Basic_Medical_Science", 6), ("Clinical_Medicine", 5),
                                              ("Diagnostics_and_Laboratory_Medicine", 4), ("Pharmacy", 7),
                                              ("Public_Health", 5)]}
    return {"vqa_rad": bench(15, 20), "slake": bench(16, 20), "path_vqa": bench(14, 20),
            "pmc_vqa": bench(10, 20),
            "mmmu_hm": bench(27, 50, by_subject=subjects),
            "medxpertqa_mm": bench(5, 20, by_subject={"Reasoning": bench(2, 10),
                                                      "Understanding": bench(3, 10)}),
            "mmrp_text": bench(18, 20),
            "mmrp_mm": bench(9, 20, bertscore={"n": 20, "mean": 0.881}, mics_score={"n": 20, "mean": 0.3})}


def test_tables_1_2_5_put_our_rows_under_the_papers(tmp_path):
    arms = load_local(write_sweep(tmp_path / "s", [summary("chiron_o1_8b", [], model="internvl3_8b",
                                                           data_mix="paper", metrics=_table_metrics())]))
    t1 = read_report(table1(arms, str(tmp_path / "t1")))
    assert "| Chiron-o1-8B (paper) | 76.8 | 83.2 | 74.0 | 57.5 | 54.6 | 69.2 |" in t1
    assert "| **chiron_o1_8b (ours)** | 75.0 | 80.0 | 70.0 | 50.0 | 54.0 | 65.8 |" in t1
    assert "| chiron_o1_8b | mmmu_hm | 50 | 54.0 | 34.0–74.0 |" in t1
    assert "demo scale" not in t1  # an 8B arm on the paper mix is not a demo run
    t2 = read_report(table2(arms, str(tmp_path / "t2")))
    assert "| **chiron_o1_8b (ours)** | 90.0 | 20.0 | 30.0 | 45.0 | 88.1 | 30.0 |" in t2
    assert "roberta-large" in t2
    t5 = read_report(table5(arms, str(tmp_path / "t5")))
    assert "| Chiron-o1-8B (paper) | 55.7 | 54.9 | 48.1 | 56.2 | 54.5 |" in t5
    assert "| **chiron_o1_8b (ours)** | 60.0 | 50.0 | 40.0 | 70.0 | 50.0 |" in t5


def test_table1_on_demo_arms_says_nothing_was_measured(tmp_path):
    arms = [summary("demo", ["qc=on"], metrics={"demo": bench(11, 22)})]
    text = read_report(table1(arms, str(tmp_path / "out")))
    assert "| **qc=on (ours)** | – | – | – | – | – | –ᶜ |" in text  # ᶜ: no AVG of ours, footnoted
    assert "ᶜ No AVG of ours: we did not measure every column it averages (missing: qc=on (ours): vqa_rad," in text
    assert "None of these arms measured this table's columns (they measured: demo)" in text


def test_mentor_sets_table_has_search_stats_and_no_paper_numbers(tmp_path):
    sweep = write_sweep(tmp_path / "s", [
        summary("ablation_mentor_sets", ["mentors=tiny"], metrics={"demo": bench(11, 22)},
                search={"cases_ok": 9, "cases_failed": 3, "mean_path_score_final": 0.75}),
        summary("ablation_mentor_sets", ["mentors=tiny_one"], mentors=("tiny-mentor-a",),
                metrics={"demo": bench(8, 22)}, search={"cases_ok": 6, "cases_failed": 6}),
    ])
    text = read_report(mentor_sets(load_local(sweep), str(tmp_path / "out")))
    assert "| mentors=tiny | tiny-mentor-a+tiny-mentor-b | 9 | 3 | 75.0 | 0.75 | 50.0 (n=22) |" in text
    assert "| mentors=tiny_one | tiny-mentor-a | 6 | 6 | 50.0 | – | 36.4 (n=22) |" in text
    assert "reports no numbers for mentor sets" in text


def test_arms_table_lists_varying_settings_accuracy_and_stage_reuse():
    arms = [summary("demo", ["qc=on", "curriculum=three_stage"], metrics={"demo": bench(11, 22)}),
            summary("demo", ["qc=off", "curriculum=stage3_only"], qc=False, curriculum="stage3_only",
                    metrics={"demo": bench(9, 22)}, reused=("part1", "part2", "part3", "search", "mix"))]
    text = arms_table(arms)
    assert "Shared by every arm: method=mics, vqa=✓, mentors=tiny-mentor-a+tiny-mentor-b, model=tiny" in text
    assert "| arm | qc | curriculum | demo % (n) | stages computed/reused | wall s |" in text
    assert "| qc=on,curriculum=three_stage | ✓ | three_stage | 50.0 (n=22) | 8/0 | 42 |" in text
    assert "| qc=off,curriculum=stage3_only | ✗ | stage3_only | 40.9 (n=22) | 3/5 | 42 |" in text
    assert "| x | 8/0 | 42 |" in arms_table([summary("x", [], metrics=None)])  # all settings shared


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_every_report_renders_with_the_arms_table(name, tmp_path):
    arms = [summary("demo", ["qc=on"], metrics=_table_metrics(), trends=trends_of("mics", MICS_RECORDS)),
            summary("demo", ["qc=off"], qc=False, curriculum="stage3_only", metrics={"demo": bench(9, 22)}),
            summary("demo", ["crash=late"], metrics=None, trends=None)]
    text = read_report(REPORTS[name].render(arms, str(tmp_path / name)))
    assert "## Arms" in text and "| crash=late |" in text and "demo scale" in text


def test_comparison_markdown_skips_entries_that_are_not_tables():
    papers = paper_results()
    assert "columns" not in papers["figure4"] and "rows" not in papers["figure5"]
    assert papers["figure5"]["values"]["mmmu_hm"] == {"stage1": 47.7, "stage12": 48.4, "stage3_only": 51.1,
                                                      "three_stage": 54.6}
    text = comparison_markdown({"mmmu_hm": bench(5, 10)}, "tiny")
    assert "Table 3" in text and "Figure" not in text


def _run_script(name, *args, cwd, env):
    script = ROOT / "experiments" / name / "report.py"
    return subprocess.run([sys.executable, str(script), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def test_report_script_runs_on_the_newest_sweep_by_default(tmp_path):
    qc_sweep(tmp_path / "outputs" / "experiments")  # outputs/experiments/ablation_qc/s1
    # PYTHONPATH: the scripts import the installed package; this finds it whether or not it is installed.
    env = {**os.environ, "CHIRON_ROOT": str(tmp_path), "PYTHONPATH": str(ROOT)}
    done = _run_script("table3", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    out = tmp_path / "outputs" / "experiments" / "ablation_qc" / "s1" / "report"
    assert done.stdout.split() == [str(out / "report.md"), str(out / "table3.png")]
    assert "no sweep of ablation_mics_vs_vanilla" in done.stderr
    assert "| 6 | mics | ✓ | ✓ | paper (8B) | 76.8 |" in (out / "report.md").read_text()
    # No sweep anywhere: a one-line error naming the command to run, exit status 2.
    missing = _run_script("table3", "--out", str(tmp_path / "o"), cwd=tmp_path,
                          env={**env, "CHIRON_ROOT": str(tmp_path / "none")})
    assert missing.returncode == 2 and "python run.py +experiment=ablation_qc -m" in missing.stderr


# ---- the pipeline run's own report (chiron/pipeline/report.py) ---------------------------------

def _stage(name, summary, reused=False):
    return {"key": f"{name}-key", "folder": f"/o/stages/{name}/{name}-key", "reused": reused, "wall_s": 1.0,
            "summary": summary}


def _train_stage(stage, samples, steps, final_loss, **extra):
    return {"stage": stage, "samples": samples, "optimizer_steps": steps, "final_loss": final_loss,
            "adapter": f"/o/stages/train/train-key/train/{stage}/adapter", **extra}


DEMO_METRICS = {"demo": {"n": 22, "accuracy": 0.0, "ci_low": 0.0, "ci_high": 0.0, "protocol": "chiron",
                         "skipped": 0, "unparseable": 22, "judge_failures": 0, "generation_failures": 0,
                         "bad_images": 0}}
QC_INPUTS = {"enabled": True, "full_score": 1.0, "keep_constant_full": True,
             "inputs": {"mics": {"path": "/o/stages/search/search-key/search/records.jsonl", "n": 14, "kept": 6,
                                 "flagged": 8, "reasons": {"no upward trend": 3, "constant at full score": 5,
                                                           "increasing": 1, "fluctuating": 5}}}}


def sample_run(**changes):
    """A trimmed copy of a real `python run.py` summary.json (the default demo run): the keys the run
    report reads, with their real values."""
    mix_files = {s: {"ours": {"data": f"{s}.jsonl"}} for s in ("stage1", "stage2", "stage3")}
    run = {"experiment": None, "arm": "default", "group": "pipeline-2026-12-02_02-35-28", "overrides": [],
           "settings": {"method": "mics", "vqa": True, "qc": True, "curriculum": "three_stage",
                        "curriculum_stages": ["stage1", "stage2", "stage3"],
                        "mentors": ["tiny-mentor-a", "tiny-mentor-b"], "judge": "tiny-judge", "model": "tiny",
                        "data_mix": "demo"},
           "stages": {"part1": _stage("part1", {"cases": {"ok": 31, "skipped": 3}, "items": 18, "pairs": 18}),
                      "part2": _stage("part2", {"cases": 34, "triplets": 80}),
                      "part3": _stage("part3", {"cases": {"ok": 33, "skipped": 1}, "items": 17, "pairs": 17}),
                      "search": _stage("search", {"cases_ok": 14, "cases_failed": 3,
                                                  "by_status": {"full_score": 5, "max_depth": 9}}),
                      "qc": _stage("qc", {"qc": QC_INPUTS}),
                      "mix": _stage("mix", {"name": "demo", "stages": {"stage1": {"total": 123},
                                                                       "stage2": {"total": 125},
                                                                       "stage3": {"total": 527}},
                                            "files": mix_files}),
                      "train": _stage("train", [_train_stage("stage1", 123, 8, 7.401589),
                                                _train_stage("stage2", 125, 8, 7.372376),
                                                _train_stage("stage3", 527, 33, 7.412871)]),
                      "eval": _stage("eval", DEMO_METRICS)},
           "trends": {"methods": {}, "qc": QC_INPUTS}, "metrics": DEMO_METRICS, "wall_s": 125.09}
    run.update(changes)
    return run


def opening(text):
    return text[text.index("## What you just ran"):text.index("## Details")]


def test_run_report_opens_with_what_you_ran():
    text = run_report_markdown(sample_run())
    head = opening(text)
    assert text.index("## What you just ran") < text.index("| stage | key |")
    assert ("- Stages, in order: part1 (computed) → part2 (computed) → part3 (computed) → search (computed) → "
            "qc (computed) → mix (computed) → train (computed) → eval (computed).") in head
    assert "- MMRP data: Part 1 18 pairs, Part 2 80 triplets, Part 3 17 pairs." in head
    assert "- Search (mics): 14 paths ok, 3 cases failed; QC (on) kept 6 of 14 mics paths." in head
    assert "- Mix, samples per curriculum stage: stage1 123, stage2 125, stage3 527." in head
    assert "final loss 7.413 after stage3" in head
    assert "- Eval, demo: 0.0 % (95 % CI 0.0–0.0, n=22)." in head
    assert "search records: `/o/stages/search/search-key/search/records.jsonl`" in head
    assert "[figure4_trends.png](/o/stages/qc/qc-key/qc/figure4_trends.png)" in head
    assert "(stage1.jsonl, stage2.jsonl, stage3.jsonl, manifest.json)" in head
    assert "`/o/stages/train/train-key/train/stage3/adapter`" in head
    assert "`/o/stages/eval/eval-key/eval/demo/predictions.jsonl`" in head
    assert "Next: `python run.py +experiment=demo -m`" in head and "python experiments/demo/report.py" in head
    assert len([line for line in head.splitlines() if line.strip()]) <= 16
    assert "untrained base" not in text and "Judge:" not in head  # no base eval; a model judge
    # An arm of a sweep points at its experiment's report instead.
    arm = run_report_markdown(sample_run(experiment="ablation_qc"))
    assert "`python experiments/table3/report.py`" in opening(arm)


def test_run_report_qc_reasons_are_a_table_sorted_by_n():
    text = run_report_markdown(sample_run())
    assert "{'" not in text  # no Python dict
    assert "QC (on) on mics paths: 6 of 14 kept." in text
    table = text[text.index("| reason | n |"):].split("\n\n")[0].splitlines()
    assert table[2:] == ["| constant at full score | 5 |", "| fluctuating | 5 |", "| no upward trend | 3 |",
                         "| increasing | 1 |"]


def test_run_report_training_loss_per_stage():
    text = run_report_markdown(sample_run())
    assert "| stage | samples | optimizer steps | first loss | final loss |" in text
    assert "| stage1 | 123 | 8 | – | 7.402 |" in text  # first_loss not recorded yet: –
    run = sample_run()
    run["stages"]["train"]["summary"][2]["first_loss"] = 9.1
    assert "| stage3 | 527 | 33 | 9.100 | 7.413 |" in run_report_markdown(run)


def test_run_report_base_model_table_only_with_base_metrics():
    assert "Trained adapter vs untrained base" not in run_report_markdown(sample_run())
    trained = {"demo": {**DEMO_METRICS["demo"], "accuracy": 0.5, "ci_low": 0.3, "ci_high": 0.7}}
    base = {"demo": {**DEMO_METRICS["demo"], "accuracy": 0.25, "ci_low": 0.1, "ci_high": 0.4}}
    run = sample_run(metrics=trained, base_metrics=base)
    run["stages"]["base_eval"] = _stage("base_eval", base)
    text = run_report_markdown(run)
    assert "## Trained adapter vs untrained base" in text
    assert "| demo | 22 | 50.0 | 30.0–70.0 | 22 | 25.0 | 10.0–40.0 | +25.0 |" in text
    assert ("- Eval, demo: 50.0 % (95 % CI 30.0–70.0, n=22); untrained base model: 25.0 % (95 % CI "
            "10.0–40.0, n=22).") in opening(text)
    assert "| base_eval | `base_eval-key` |" in text and "eval (computed) → base_eval (computed)" in text
    assert "untrained base model's predictions and metrics: `/o/stages/base_eval/base_eval-key/eval`" in text


@pytest.mark.parametrize("judge", ["rules", "rule-based demo judge: an exact match is correct; ..."])
def test_run_report_says_when_a_rule_judged(judge):
    run = sample_run()
    run["settings"]["judge"] = judge
    assert "rule-based exact-match judge the demo uses, not a model" in opening(run_report_markdown(run))


def test_run_report_of_a_run_stopped_early_or_reused():
    """pipeline.last=search, every stage reused, no trends or metrics: no missing key may crash it."""
    full = sample_run()
    run = sample_run(trends=None, metrics=None)
    run["stages"] = {name: {**full["stages"][name], "reused": True} for name in ("part3", "search", "qc")}
    head = opening(run_report_markdown(run))
    assert "part3 (reused) → search (reused) → qc (reused). Not run: part1, part2, mix, train, eval" in head
    assert "- MMRP data: Part 3 17 pairs." in head and "Eval" not in head and "adapters" not in head
    run["stages"]["search"]["summary"] = {}  # a stage whose result lacks every key
    run["stages"]["qc"] = {"key": "k", "folder": "/f", "reused": True, "wall_s": 0.0, "summary": None}
    assert "## What you just ran" in run_report_markdown(run)


# ---- the paper beside ours only where the paper has numbers ------------------------------------


def test_comparison_for_a_benchmark_the_paper_does_not_report():
    text = comparison_markdown(DEMO_METRICS, "tiny (default)")
    assert text.startswith("# Evaluation of tiny (default)\n")  # no promise of the paper's rows
    assert " (paper) |" not in text
    assert "The reference protocol" not in text  # chiron's numbers only: no note on another protocol's n
    assert ("Nothing to show beside the paper: it reports no number for demo; the benchmarks it reports are "
            "vqa_rad, slake, path_vqa, pmc_vqa, mmmu_hm, mmrp_text, medxpertqa_mm, mmrp_mm.") in text
    both = comparison_markdown({**DEMO_METRICS, "vqa_rad": bench(15, 20)}, "tiny")
    assert both.startswith("# Evaluation of tiny beside the paper\n")
    assert "| Chiron-o1-8B (paper) | 76.8 |" in both
    assert "The paper reports no number for demo: only the table below has it." in both
    assert "reports no number" not in comparison_markdown({"vqa_rad": bench(15, 20)}, "tiny")


# ---- figures: n on the bars, percent in percent -------------------------------------------------


def _bar_texts(ax):
    return [t.get_text() for t in ax.texts]


def test_figure4_links_its_png_and_labels_every_bar_with_n(tmp_path):
    arms = [summary("x", ["search=mics"], trends=trends_of("mics", MICS_RECORDS)),
            summary("x", ["search=vanilla"], method="vanilla", trends=trends_of("vanilla", VANILLA_RECORDS))]
    text = read_report(figure4(arms, str(tmp_path / "out")))
    assert "[figure4_trends.png](figure4_trends.png)" in text and "![figure4_trends.png](figure4_trends.png)" in text
    panels, counts = trend_panels(merged_trends(arms))
    fig = bar_figure(panels, "t", "share of paths (%)", counts)
    increasing = fig.axes[0]
    assert increasing.get_title() == "monotonically increasing"
    # patient_to_doctor: both MICS paths increasing (100 %, n=2); all: 2 of 5 (40 %, n=5).
    assert "100.0\nn=2" in _bar_texts(increasing) and "40.0\nn=5" in _bar_texts(increasing)
    assert "25.0\nn=4" in _bar_texts(increasing)  # vanilla overall: 1 of 4 scored paths
    heights = sorted(p.get_height() for p in increasing.patches)
    assert len(increasing.texts) == len(increasing.patches) and max(heights) == 100.0


def test_demo_plot_is_in_percent_with_n_on_each_bar():
    arms = [summary("demo", ["qc=on"], metrics={"demo": bench(11, 22)}),
            summary("demo", ["qc=off"], metrics={"demo": bench(0, 22)})]
    panels, counts = demo_panels(arms)
    ax = bar_figure(panels, "Accuracy by arm", "accuracy (%)", counts).axes[0]
    assert "%" in ax.get_ylabel()
    assert [p.get_height() for p in ax.patches] == [50.0, 0.0]  # 0.5 accuracy is drawn at 50
    assert ax.get_ylim()[0] == 0.0 and ax.get_ylim()[1] >= 100  # a 0–100 axis, not 0–1
    assert _bar_texts(ax) == ["50.0\nn=22", "0.0\nn=22"]


def test_every_percent_plot_gets_a_0_to_100_axis():
    for ylabel in ("%", "accuracy (%)"):
        ax = bar_figure({"": {"ours": {"a": 0.0}}}, "t", ylabel).axes[0]
        assert ax.get_ylim()[1] >= 100 and _bar_texts(ax) == ["0.0"]


# ---- the demo sweep: trained vs base accuracy and the final loss per arm ------------------------


def _demo_arm(overrides, correct, loss, base=None, **kwargs):
    arm = summary("demo", overrides, metrics={"demo": bench(correct, 22)}, **kwargs)
    arm["stages"]["train"]["summary"] = [{"stage": "stage1", "final_loss": loss + 1},
                                         {"stage": "stage3", "final_loss": loss}]
    if base is not None:
        arm["base_metrics"] = {"demo": bench(base, 22)}
    return arm


def test_demo_report_per_arm_accuracy_base_and_loss(tmp_path):
    arms = [_demo_arm(["qc=on"], 11, 7.4), _demo_arm(["qc=off"], 9, 7.3, qc=False)]
    text = read_report(demo(arms, str(tmp_path / "a")))
    assert "| arm | benchmark | trained: accuracy (95 % CI, n) | final loss (last stage) |" in text
    assert "| qc=on | demo | 50.0 % (95 % CI 30.0–70.0, n=22) | 7.400 |" in text
    assert "do not differ" not in text
    same = [_demo_arm(["qc=on"], 0, 7.4, base=0), _demo_arm(["qc=off"], 0, 7.4, base=0, qc=False)]
    text = read_report(demo(same, str(tmp_path / "b")))
    assert "| untrained base |" in text
    assert "| qc=off | demo | 0.0 % (95 % CI 0.0–20.0, n=22) | 0.0 % (95 % CI 0.0–20.0, n=22) | 7.400 |" in text
    assert "At demo scale the arms do not differ on demo accuracy (0.0 % in every arm)." in text
    assert "At demo scale the arms do not differ on final training loss (7.400 in every arm)." in text
