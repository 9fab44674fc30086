"""Experiment reports (chiron/reports, experiments/<report>/report.py) on handmade sweep folders."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chiron.eval.report import comparison_markdown, paper_results
from chiron.qc.figure4 import trend_summary
from chiron.reports import arms_table, load_arms, load_local, load_wandb, newest_sweep
from chiron.reports.figures import figure4, figure5, merged_trends
from chiron.reports.mentors import mentor_sets
from chiron.reports.paper import table1, table2, table5
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
