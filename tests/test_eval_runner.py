"""The evaluation runner and report with scripted models: honest counting, judge use, resume."""

from __future__ import annotations

import asyncio
import json

import pytest

from chiron.eval.items import EvalItem
from chiron.eval.report import benchmark_metrics, comparison_markdown, metric_percent
from chiron.eval.runner import PREDICTIONS, EvalRunner
from chiron.llm.cache import CallCache
from chiron.llm.client import CachedModel
from chiron.llm.ledger import Ledger
from chiron.llm.spec import ModelSpec
from chiron.llm.types import BackendError, ChatRequest
from chiron.search.roles import Scorers
from scripted import ScriptedBackend

ITEMS = [
    EvalItem(id="c1", benchmark="t", question="Which organ?", answer="Liver", kind="choice",
             options=(("A", "Lung"), ("B", "Liver")), answer_letter="B"),
    EvalItem(id="y1", benchmark="t", question="Is it normal?", answer="yes", kind="yes_no"),
    EvalItem(id="o1", benchmark="t", question="Diagnosis?", answer="Acute appendicitis", kind="open",
             reference_reasoning="The appendix is enlarged."),
    EvalItem(id="o2", benchmark="t", question="Sign?", answer="Silhouette sign", kind="open"),
    EvalItem(id="n1", benchmark="t", question="Anything?", answer="yes", kind="yes_no"),
]

# What the scripted model under test answers, per question.
REPLIES = {
    "Which organ?": "### Step 1: The organ is in the right upper quadrant.\n### The final answer is: B) Liver",
    "Is it normal?": "### Step 1: Nothing abnormal.\n### The final answer is: No",
    "Diagnosis?": "### Step 1: Right lower quadrant pain.\n### Step 2: Enlarged appendix.\n"
                  "### The final answer is: appendicitis, acute",
    "Sign?": "### Step 1: Border lost.\n### The final answer is: loss of the heart border",
    "Anything?": "I cannot tell without more information.",
}


def _question(request: ChatRequest) -> str:
    return request.messages[-1].text.split("\n")[0]


class Rig:
    def __init__(self, tmp_path, fail: set[str] = frozenset(), judge_fails: bool = False):
        self.cache = CallCache(str(tmp_path / "cache"))
        self.ledger = Ledger()
        self.fail = set(fail)

        def model_reply(request):
            question = _question(request)
            if question in self.fail:
                raise BackendError("server kept failing")
            return REPLIES[question]

        def judge_reply(request):
            if judge_fails:
                raise BackendError("judge down")
            # lenient on "appendicitis", strict otherwise
            return "Yes" if "appendicitis" in request.messages[-1].text.split("Model answer:")[-1] else "No"

        self.model_backend = ScriptedBackend("model", model_reply)
        self.judge_backend = ScriptedBackend("judge", judge_reply)

    def handle(self, name, backend, role):
        return CachedModel(ModelSpec(name=name, backend="openai", model=name), backend, self.cache, self.ledger, role)

    def runner(self, **kwargs) -> EvalRunner:
        return EvalRunner(model=self.handle("model", self.model_backend, "model"),
                          judge=self.handle("judge", self.judge_backend, "judge"), progress=False, **kwargs)


def _run(runner, out_dir, items=ITEMS):
    return asyncio.run(runner.run("t", items, str(out_dir)))


def test_rules_score_closed_items_judge_scores_open_ones_and_unparseable_counts_wrong(tmp_path):
    rig = Rig(tmp_path)
    rows = {r["id"]: r for r in _run(rig.runner(), tmp_path / "out")}
    assert rows["c1"]["status"] == "correct" and rows["c1"]["choice"] == "B"
    assert rows["y1"]["status"] == "wrong"
    assert rows["o1"]["status"] == "correct" and rows["o1"]["judge_reply"] == "Yes"
    assert rows["o2"]["status"] == "wrong" and rows["o2"]["judge_reply"] == "No"
    assert rows["n1"]["status"] == "unparseable" and rows["n1"]["judge_reply"] is None
    assert rig.judge_backend.calls == 2  # only the open items went to the judge
    metrics = benchmark_metrics(list(rows.values()), num_bootstraps=200)
    assert metrics["n"] == 5 and metrics["accuracy"] == pytest.approx(2 / 5)  # unparseable stays in the denominator
    assert metrics["unparseable"] == 1 and metrics["judge_failures"] == 0
    assert metrics["ci_low"] <= 0.4 <= metrics["ci_high"]


def test_rerun_reads_results_and_calls_nothing(tmp_path):
    rig = Rig(tmp_path)
    _run(rig.runner(), tmp_path / "out")
    calls = (rig.model_backend.calls, rig.judge_backend.calls)
    rows = _run(rig.runner(), tmp_path / "out")
    assert (rig.model_backend.calls, rig.judge_backend.calls) == calls
    lines = (tmp_path / "out" / PREDICTIONS).read_text().splitlines()
    assert len(lines) == len(ITEMS) and [r["id"] for r in rows] == [i.id for i in ITEMS]


def test_failed_calls_are_counted_wrong_then_retried_without_repaying_the_rest(tmp_path):
    rig = Rig(tmp_path, fail={"Which organ?"}, judge_fails=True)
    rows = {r["id"]: r for r in _run(rig.runner(), tmp_path / "out")}
    assert rows["c1"]["status"] == "generation_failed"
    assert rows["o1"]["status"] == rows["o2"]["status"] == "judge_failed"
    metrics = benchmark_metrics(list(rows.values()), num_bootstraps=100)
    assert metrics["generation_failures"] == 1 and metrics["judge_failures"] == 2 and metrics["n"] == 5
    assert metrics["accuracy"] == 0.0

    healed = Rig(tmp_path)  # same cache folder: the model's finished replies replay from it
    rows = {r["id"]: r for r in _run(healed.runner(), tmp_path / "out")}
    assert [rows[i]["status"] for i in ("c1", "o1", "o2")] == ["correct", "correct", "wrong"]
    assert healed.model_backend.calls == 1  # only the failed generation is paid again
    assert healed.judge_backend.calls == 2


def test_a_crash_loses_nothing_finished(tmp_path):
    rig = Rig(tmp_path)
    out = tmp_path / "out"
    _run(rig.runner(items_in_flight=1), out, ITEMS[:3])  # "crashed" after three items
    rig2 = Rig(tmp_path)
    rows = _run(rig2.runner(), out)
    assert rig2.model_backend.calls == 2 and len(rows) == 5
    assert len((out / PREDICTIONS).read_text().splitlines()) == 5


def test_duplicate_ids_are_refused(tmp_path):
    with pytest.raises(ValueError, match="duplicate item ids"):
        _run(Rig(tmp_path).runner(), tmp_path / "out", [ITEMS[0], ITEMS[0]])


def test_own_path_mics_score_scores_every_step_prefix(tmp_path):
    rig = Rig(tmp_path)

    def intern_reply(request):
        # right only once the prefix mentions the appendix
        text = request.messages[-1].text
        return "### The final answer is: " + ("appendicitis" if "appendix" in text else "gallstones")

    intern = rig.handle("intern", ScriptedBackend("intern", intern_reply), "intern")
    scorers = Scorers(interns=[intern], intern_temperatures=[0.3, 1.2],
                      judge=rig.handle("judge", rig.judge_backend, "judge"))
    rows = {r["id"]: r for r in _run(rig.runner(scorers=scorers, own_path_benchmarks=("t",)), tmp_path / "out")}
    own = rows["o1"]["own_path"]
    assert own["prefix_scores"] == [0.0, 1.0] and own["score"] == 0.5 and own["steps"] == 2
    assert rows["n1"]["own_path"] == {"score": 0.0, "prefix_scores": [], "steps": 0}  # no steps at all
    metrics = benchmark_metrics(list(rows.values()), num_bootstraps=100)
    assert metrics["mics_score"]["mean"] == pytest.approx(sum(r["own_path"]["score"] for r in rows.values()) / 5)


def test_paper_comparison_puts_our_row_under_the_papers():
    metrics = {"vqa_rad": {"n": 10, "accuracy": 0.7, "ci_low": 0.4, "ci_high": 0.9, "unparseable": 1,
                           "judge_failures": 0, "generation_failures": 0},
               "mmmu_hm": {"n": 5, "accuracy": 0.4, "ci_low": 0.0, "ci_high": 0.8, "unparseable": 0,
                           "judge_failures": 0, "generation_failures": 0,
                           "by_subject": {"Pharmacy": {"n": 5, "accuracy": 0.4}}}}
    assert metric_percent(metrics, "vqa_rad") == pytest.approx(70.0)
    assert metric_percent(metrics, "mmmu_hm/Pharmacy") == pytest.approx(40.0)
    assert metric_percent(metrics, "slake") is None and metric_percent(metrics, "mmrp_mm:bertscore") is None
    text = comparison_markdown(metrics, "tiny")
    assert "| Chiron-o1-8B (paper) | 76.8 | 83.2 | 74.0 | 57.5 | 54.6 |" in text
    assert "| **tiny (ours)** | 70.0 | – | – | – | 40.0 |" in text
    assert "Table 5" in text and "Table 2" not in text  # only tables sharing a measured column
    assert "| vqa_rad | 10 | 70.0 | 40.0–90.0 | 1 |" in text


def test_predictions_are_json_lines(tmp_path):
    _run(Rig(tmp_path).runner(), tmp_path / "out")
    for line in (tmp_path / "out" / PREDICTIONS).read_text().splitlines():
        row = json.loads(line)
        assert {"id", "status", "reply", "gold", "extracted"} <= set(row)
