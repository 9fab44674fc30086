"""Path-score trends, the QC keep rule, the Figure 4(a) summary and task=qc_report."""

import json
import os
from collections import Counter

import pytest
from omegaconf import OmegaConf

from chiron.qc import job
from chiron.qc.figure4 import ALL, UNKNOWN, plot_trend_summary, trend_summary
from chiron.qc.filter import qc_filter
from chiron.qc.trends import TRENDS, classify_trend, describe_path, passes_qc, path_scores_of
from chiron.utils.jsonl import atomic_write_jsonl

# name, scores, trend, all_zero, rising_then_falling, (keep, reason) under the default rule
CASES = [
    ("single", [0.4], "constant", False, False, (False, "no upward trend")),
    ("single_full", [1.0], "constant", False, False, (True, "constant at full score")),
    ("all_zero", [0.0, 0.0, 0.0], "constant", True, False, (False, "consistently zero")),
    ("single_zero", [0.0], "constant", True, False, (False, "consistently zero")),
    ("constant_nonzero", [0.5, 0.5, 0.5], "constant", False, False, (False, "no upward trend")),
    ("constant_full", [1.0, 1.0], "constant", False, False, (True, "constant at full score")),
    ("strictly_increasing", [0.2, 0.5, 1.0], "increasing", False, False, (True, "increasing")),
    ("stable_then_rising", [0.3, 0.3, 0.7], "increasing", False, False, (True, "increasing")),
    ("rising_then_stable", [0.0, 0.5, 0.5], "increasing", False, False, (True, "increasing")),
    ("falling", [0.8, 0.5, 0.2], "non_increasing", False, False, (False, "no upward trend")),
    ("stable_then_falling", [0.5, 0.5, 0.0], "non_increasing", False, False, (False, "no upward trend")),
    ("rising_then_falling", [0.2, 0.8, 0.4], "fluctuating", False, True, (False, "rising then falling")),
    ("rise_plateau_fall", [0.2, 0.8, 0.8, 0.4], "fluctuating", False, True, (False, "rising then falling")),
    ("falling_then_rising", [0.8, 0.2, 0.6], "fluctuating", False, False, (False, "fluctuating")),
    ("zigzag_ending_up", [0.2, 0.6, 0.3, 0.9], "fluctuating", False, False, (False, "fluctuating")),
    ("zigzag_ending_down", [0.2, 0.6, 0.3, 0.9, 0.5], "fluctuating", False, True,
     (False, "rising then falling")),
    ("noise_is_flat", [0.5, 0.5 + 1e-12, 0.5 - 1e-12], "constant", False, False, (False, "no upward trend")),
    ("noise_then_rise", [0.5, 0.5 - 1e-12, 0.9], "increasing", False, False, (True, "increasing")),
    ("noise_zero", [0.0, 1e-12, 0.0], "constant", True, False, (False, "consistently zero")),
    ("noise_full", [1.0 - 1e-12, 1.0], "constant", False, False, (True, "constant at full score")),
]
IDS = [c[0] for c in CASES]


@pytest.mark.parametrize("name,scores,trend,all_zero,rise_fall,verdict", CASES, ids=IDS)
def test_classify_and_describe(name, scores, trend, all_zero, rise_fall, verdict):
    assert classify_trend(scores) == trend
    info = describe_path(scores)
    assert (info["trend"], info["all_zero"], info["rising_then_falling"]) == (trend, all_zero, rise_fall)
    assert info["final"] == pytest.approx(scores[-1]) and info["peak"] == pytest.approx(max(scores))


@pytest.mark.parametrize("name,scores,trend,all_zero,rise_fall,verdict", CASES, ids=IDS)
def test_passes_qc(name, scores, trend, all_zero, rise_fall, verdict):
    assert passes_qc(scores) == verdict


def test_every_trend_is_covered():
    assert {c[2] for c in CASES} == set(TRENDS)


@pytest.mark.parametrize("bad", [[], [0.1, float("nan")], [float("inf")]])
def test_bad_paths_raise(bad):
    for fn in (classify_trend, describe_path, passes_qc):
        with pytest.raises(ValueError):
            fn(bad)


@pytest.mark.parametrize("scores,kwargs,expected", [
    ([1.0], {"keep_constant_full": False}, (False, "no upward trend")),
    ([0.75, 0.75], {"full_score": 0.75}, (True, "constant at full score")),
    ([1.0, 1.0], {"full_score": 0.75}, (False, "no upward trend")),
    ([0.5, 0.5 + 1e-6], {"tol": 1e-9}, (True, "increasing")),
    ([0.5, 0.5 + 1e-6], {"tol": 1e-3}, (False, "no upward trend")),
])
def test_passes_qc_options(scores, kwargs, expected):
    assert passes_qc(scores, **kwargs) == expected


def test_classify_tolerance_argument():
    assert classify_trend([0.1, 0.2], tol=0.2) == "constant"
    assert classify_trend([0.1, 0.2]) == "increasing"


# --- record formats -------------------------------------------------------------------------

def ours(rid, scores, method="mics", scenario="patient_to_doctor"):
    return {"rid": rid, "method": method, "status": "max_depth", "scenario": scenario, "path_scores": scores,
            "steps": ["s"] * max(len(scores), 1), "reasoning": "r", "final_answer": "a", "gt_answer": "a",
            "images": []}


def reference(rid, scores, generated_by):
    return {"rid": rid, "images": [], "question": "q", "gt_answer": "a", "reasoning": "r", "scores": scores,
            "final_depth": str(len(generated_by)), "generated_by": generated_by, "search_id": "0"}


@pytest.mark.parametrize("record,expected", [
    (ours("a", [0.2, 0.6, 1.0]), [0.2, 0.6, 1.0]),
    (ours("b", [], method="vanilla"), []),
    # the selected mentor's score at each depth, not the best one
    (reference("c", {"m1": [0.2, 0.9, 1.0], "m2": [0.4, 0.5, 0.0]}, ["m2", "m1", "m1"]), [0.4, 0.9, 1.0]),
    # the selected mentor has no score at depth 2: the best score there stands in
    (reference("d", {"m1": [0.2], "m2": [0.4, 0.5]}, ["m1", "m1"]), [0.2, 0.5]),
    # a depth nobody scored ends the path
    (reference("e", {"m1": [0.2], "m2": [0.4]}, ["m1", "m1"]), [0.2]),
    # unscored vanilla in the reference export
    (reference("f", {"m1": []}, ["m1", "m1", "m1"]), []),
    (reference("g", {"m1": [0.0, None], "m2": [0.1, 0.3]}, ["m1", "m1"]), [0.0, 0.3]),
])
def test_path_scores_of(record, expected):
    assert path_scores_of(record) == pytest.approx(expected)


def test_path_scores_of_rejects_other_records():
    with pytest.raises(ValueError, match="path_scores.*scores.*generated_by"):
        path_scores_of({"rid": "x", "question": "q"})


def test_reference_export_round_trip():
    # The real export of one of our records gives back its path scores.
    from chiron.search.records import reference_record

    record = ours("a", [0.5, 1.0])
    record.update(question="q", selected_mentors=["m1", "m2"],
                  mentor_scores={"m1": [0.5, 0.3], "m2": [0.4, 1.0]})
    assert path_scores_of(reference_record(record)) == [0.5, 1.0]


# --- filter -------------------------------------------------------------------------------------

FILTER_RECORDS = [
    ours("inc", [0.2, 0.6]),
    ours("full", [1.0]),
    ours("zero", [0.0, 0.0]),
    ours("flat", [0.5, 0.5]),
    ours("down", [0.6, 0.3]),
    ours("rf", [0.3, 0.6, 0.3]),
    ours("fr", [0.6, 0.3, 0.6]),
    ours("unscored", [], method="vanilla"),
    reference("ref", {"m1": [0.1, 0.7]}, ["m1", "m1"]),
]
EXPECTED_REASONS = Counter({"increasing": 2, "constant at full score": 1, "consistently zero": 1,
                            "no upward trend": 2, "rising then falling": 1, "fluctuating": 1,
                            "no path scores": 1})


def test_qc_filter_enabled():
    kept, reasons = qc_filter(FILTER_RECORDS, enabled=True)
    assert [r["rid"] for r in kept] == ["inc", "full", "ref"]
    assert reasons == EXPECTED_REASONS and sum(reasons.values()) == len(FILTER_RECORDS)


def test_qc_filter_disabled_keeps_all_and_still_counts():
    kept, reasons = qc_filter(iter(FILTER_RECORDS), enabled=False)
    assert kept == FILTER_RECORDS and reasons == EXPECTED_REASONS


def test_qc_filter_rule_kwargs():
    kept, reasons = qc_filter(FILTER_RECORDS, enabled=True, keep_constant_full=False)
    assert [r["rid"] for r in kept] == ["inc", "ref"] and reasons["no upward trend"] == 3


# --- Figure 4(a) ---------------------------------------------------------------------------------

def figure_records():
    mics = [ours("m1", [0.2, 0.6], scenario="patient_to_doctor"),
            ours("m2", [1.0], scenario="patient_to_doctor"),
            ours("m3", [0.2, 0.5, 1.0], scenario="doctor_to_doctor"),
            ours("m4", [0.6, 0.3], scenario="intern_to_senior"),
            ours("m5", [0.3, 0.6], scenario="intern_to_senior")]
    vanilla = [ours("v1", [0.6, 0.3], method="vanilla", scenario="patient_to_doctor"),
               ours("v2", [0.3, 0.6, 0.3], method="vanilla", scenario="patient_to_doctor"),
               ours("v3", [0.5, 0.5], method="vanilla", scenario="doctor_to_doctor"),
               ours("v4", [], method="vanilla", scenario="doctor_to_doctor"),
               reference("v5", {"m1": [0.2, 0.4]}, ["m1", "m1"])]
    return {"mics": mics, "vanilla": vanilla}


def test_trend_summary():
    summary = trend_summary(figure_records())
    assert summary["trends"] == list(TRENDS)
    assert summary["scenarios"] == ["patient_to_doctor", "doctor_to_doctor", "intern_to_senior", UNKNOWN]
    mics, vanilla = summary["methods"]["mics"], summary["methods"]["vanilla"]
    assert list(mics) == ["patient_to_doctor", "doctor_to_doctor", "intern_to_senior", ALL]
    assert mics["patient_to_doctor"]["counts"] == {"increasing": 1, "non_increasing": 0, "constant": 1,
                                                   "fluctuating": 0}
    assert mics["intern_to_senior"]["shares"] == {"increasing": 0.5, "non_increasing": 0.5, "constant": 0.0,
                                                  "fluctuating": 0.0}
    assert mics[ALL]["n"] == 5 and mics[ALL]["shares"]["increasing"] == pytest.approx(0.6)
    assert vanilla[ALL]["n"] == 4 and summary["unscored"] == {"mics": 0, "vanilla": 1}
    assert vanilla["doctor_to_doctor"]["n"] == 1 and vanilla[UNKNOWN]["counts"]["increasing"] == 1
    assert vanilla["patient_to_doctor"]["shares"]["fluctuating"] == 0.5
    for groups in summary["methods"].values():
        for group in groups.values():
            assert sum(group["counts"].values()) == group["n"]
            assert sum(group["shares"].values()) == pytest.approx(1.0)


def test_trend_summary_of_unscored_method():
    summary = trend_summary({"vanilla": [ours("v", [], method="vanilla")]})
    assert summary["methods"]["vanilla"] == {ALL: {"n": 0, "counts": dict.fromkeys(TRENDS, 0),
                                                   "shares": dict.fromkeys(TRENDS, 0.0)}}


def test_plot_trend_summary(tmp_path):
    path = tmp_path / "figs" / "figure4.png"
    assert plot_trend_summary(trend_summary(figure_records()), str(path)) == str(path)
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 10_000
    assert os.listdir(path.parent) == ["figure4.png"]  # no temporary file left behind


# --- task=qc_report -------------------------------------------------------------------------------

def qc_cfg(tmp_path, inputs, qc=None):
    return OmegaConf.create({
        "task": "qc_report",
        "paths": {"run_dir": str(tmp_path / "run")},
        "qc": qc or {"enabled": True, "full_score": 1.0, "keep_constant_full": True},
        "qc_report": {"inputs": inputs},
    })


def write_inputs(tmp_path):
    from chiron.search.records import reference_record

    records = figure_records()
    mics_path = tmp_path / "mics" / "records.jsonl"
    os.makedirs(mics_path.parent)
    atomic_write_jsonl(str(mics_path), records["mics"])
    # The vanilla run as its reference export, as the reference code would have written it.
    vanilla = []
    for r in records["vanilla"]:
        if "path_scores" in r:
            r = dict(r, question="q", selected_mentors=["m1"] * len(r["steps"]),
                     mentor_scores={"m1": list(r["path_scores"])})
            r = reference_record(r)
        vanilla.append(r)
    ref_path = tmp_path / "vanilla" / "reference.jsonl"
    os.makedirs(ref_path.parent)
    with open(ref_path, "w") as f:
        f.write("".join(json.dumps(r) + "\n" for r in vanilla) + '{"torn": ')  # a torn tail is skipped
    return {"mics": str(mics_path), "vanilla": str(ref_path)}


def test_job_end_to_end(tmp_path):
    inputs = write_inputs(tmp_path)
    summary = job.run(qc_cfg(tmp_path, inputs))
    out = tmp_path / "run" / "qc"
    written = json.loads((out / "trends.json").read_text())
    assert written == json.loads(json.dumps(summary))
    assert (out / "figure4_trends.png").stat().st_size > 10_000
    mics_qc, vanilla_qc = written["qc"]["inputs"]["mics"], written["qc"]["inputs"]["vanilla"]
    assert (mics_qc["n"], mics_qc["kept"], mics_qc["flagged"]) == (5, 4, 1)
    assert mics_qc["reasons"] == {"increasing": 3, "constant at full score": 1, "no upward trend": 1}
    # reference records carry no scenario: the vanilla paths are all "unknown"
    assert list(written["methods"]["vanilla"]) == [UNKNOWN, ALL]
    assert (vanilla_qc["n"], vanilla_qc["kept"], vanilla_qc["flagged"]) == (5, 1, 4)
    assert vanilla_qc["reasons"]["no path scores"] == 1 and vanilla_qc["reasons"]["rising then falling"] == 1
    assert written["qc"]["enabled"] is True and written["unscored"] == {"mics": 0, "vanilla": 1}


def test_job_qc_off_keeps_everything(tmp_path):
    qc_off = OmegaConf.load(os.path.join(os.path.dirname(__file__), "..", "conf", "qc", "off.yaml"))
    written = job.run(qc_cfg(tmp_path, write_inputs(tmp_path), qc=OmegaConf.to_container(qc_off)))
    assert written["qc"]["enabled"] is False
    assert all(q["kept"] == q["n"] and q["flagged"] == 0 for q in written["qc"]["inputs"].values())


def test_qc_config_group():
    root = os.path.join(os.path.dirname(__file__), "..", "conf", "qc")
    for name, enabled in [("on", True), ("off", False)]:
        path = os.path.join(root, f"{name}.yaml")
        assert open(path).readline().startswith("#")
        assert OmegaConf.to_container(OmegaConf.load(path)) == {"enabled": enabled, "full_score": 1.0,
                                                               "keep_constant_full": True}


def test_job_missing_input_names_the_key(tmp_path):
    inputs = write_inputs(tmp_path)
    inputs["vanilla"] = str(tmp_path / "nope.jsonl")
    with pytest.raises(FileNotFoundError, match=r"qc_report\.inputs\.vanilla"):
        job.run(qc_cfg(tmp_path, inputs))


def test_job_needs_inputs_and_qc(tmp_path):
    with pytest.raises(ValueError, match="qc_report.inputs"):
        job.run(qc_cfg(tmp_path, {}))
    cfg = qc_cfg(tmp_path, write_inputs(tmp_path))
    del cfg["qc"]
    with pytest.raises(ValueError, match="qc=on"):
        job.run(cfg)


def test_job_skips_methods_mapped_to_null(tmp_path):
    inputs = write_inputs(tmp_path)
    inputs["vanilla"] = None
    written = job.run(qc_cfg(tmp_path, inputs))
    assert list(written["qc"]["inputs"]) == ["mics"]
