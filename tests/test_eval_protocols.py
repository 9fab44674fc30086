"""The two scoring protocols: `chiron` (every item counts, rules first) and `reference` (the paper's
eval code: no-marker replies skipped, every answer to a lenient judge at 0.9, "yes" anywhere).

The end-to-end test runs `task=eval eval.protocol=reference` against the fake OpenAI server and
checks it against a small re-implementation, written here, of the reference code's scoring loop
over the same scripted replies and the same scripted judge.

This module is also the fake server's responder (`respond`), so it imports nothing from conftest
at the top level.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

MARKER = "### The final answer is:"


# -- the scripted world: replies per case, and a judge -------------------------------------------

# What the model under test answers, per case number in the question ("Case 3: ...").
REPLIES = {
    1: "### Step 1: The appendix is enlarged.\n### The final answer is: Acute appendicitis",
    2: "### Step 1: The lung edge is visible.\n### The final answer is: pneumothorax on the left",
    3: "The images are unclear and I will not commit.",  # no marker: skipped vs counted wrong
    4: "### Step 1: Normal.\n### The final answer is: Yes",
    5: "### Step 1: Two readings.\n### The final answer is: gout\n### The final answer is: pseudogout",
    6: "### Step 1: Thickened wall.\n### The final answer is: acute cholecystitis with gallstones",
    7: "  ### The final answer is: meningioma of the falx  ",  # only the marker line, outer spaces
    8: "No marker here either, just a long description of the scan.",
    9: "### Step 1: Ring enhancement.\n### The final answer is: a brain abscess",
}


def judge_verdict(answer: str, gold: str) -> str:
    """The scripted lenient judge: its reply for (model answer, correct answer). "" = no reply."""
    words = {w for w in re.findall(r"[a-z]+", answer.lower()) if len(w) > 3}
    gold_words = {w for w in re.findall(r"[a-z]+", gold.lower()) if len(w) > 3}
    if "abscess" in words:
        return ""  # the judge returns nothing: the reference counts it wrong, in the denominator
    if "meningioma" in words:
        return "I would not say yes without the location."  # "yes" anywhere counts as Yes
    if answer.strip().lower() == gold.strip(" .").lower():
        return "Yes"
    return "Yes." if words & gold_words else "No."


def _text(messages: list[dict]) -> str:
    out = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            out.append(content)
        else:
            out += [p.get("text", "") for p in content if p.get("type") == "text"]
    return "\n".join(out)


def respond(model: str, messages: list[dict], temperature: float) -> str:
    """The fake server's replies: the model under test by case number, the judge by its prompt."""
    text = _text(messages)
    if model == "judge":
        if "Question:" in text:  # the chiron judge (question, gold, answer) at temperature 0
            gold = text.split("Correct answer:\n", 1)[1].split("\n\nModel answer:", 1)[0]
            answer = text.split("Model answer:\n", 1)[1]
            return judge_verdict(answer, gold) or "No"
        if abs(temperature - 0.9) > 1e-9:
            return f"sampled at {temperature}"  # never a Yes: a wrong temperature shows in the accuracy
        gold = text.split("Correct answer: ", 1)[1].split("\nModel answer: ", 1)[0]
        answer = text.split("\nModel answer: ", 1)[1]
        return judge_verdict(answer, gold)
    case = int(re.search(r"Case (\d+)", text).group(1))
    return REPLIES[case]


# -- runner level: where the protocols disagree ---------------------------------------------------


def _rig(tmp_path, judge_reply):
    from scripted import ScriptedBackend

    from chiron.llm.cache import CallCache
    from chiron.llm.client import CachedModel
    from chiron.llm.ledger import Ledger
    from chiron.llm.spec import ModelSpec

    cache, ledger = CallCache(str(tmp_path / "cache")), Ledger()
    model = ScriptedBackend("model", lambda r: REPLIES[int(re.search(r"Case (\d+)", r.messages[-1].text).group(1))])
    judge = ScriptedBackend("judge", judge_reply)

    def handle(name, backend, role):
        return CachedModel(ModelSpec(name=name, backend="openai", model=name), backend, cache, ledger, role)

    return model, judge, handle("model", model, "model"), handle("judge", judge, "judge")


def _items():
    from chiron.eval.items import EvalItem

    return [
        EvalItem(id="choice", benchmark="t", question="Case 4: which organ is shown?", answer="Liver",
                 kind="choice", options=(("A", "Lung"), ("B", "Liver")), answer_letter="B"),
        EvalItem(id="nomark", benchmark="t", question="Case 3: what is it?", answer="Gout", kind="open"),
        EvalItem(id="open", benchmark="t", question="Case 1: diagnosis?", answer="Acute appendicitis", kind="open"),
        EvalItem(id="hedge", benchmark="t", question="Case 7: the mass?", answer="Falx meningioma", kind="open"),
        EvalItem(id="silent", benchmark="t", question="Case 9: the lesion?", answer="Cerebral abscess", kind="open"),
    ]


def test_the_protocols_score_the_same_replies_differently(tmp_path):
    from chiron.eval.report import benchmark_metrics, protocol_rows
    from chiron.eval.runner import EvalRunner
    from chiron.llm.types import BackendError

    judged = []

    def judge_reply(request):
        text = request.messages[-1].text
        judged.append((request.sampling.temperature, text))
        if request.sampling.temperature == 0.9:
            answer = text.split("\nModel answer: ", 1)[1]
            if answer == "Yes":  # the choice item's "Yes" is not option B: the lenient judge is asked anyway
                return "No, that is not an organ."
            verdict = judge_verdict(answer, text.split("Correct answer: ", 1)[1].split("\n", 1)[0])
            if not verdict:
                raise BackendError("the judge returned nothing")
            return verdict
        return "Yes" if "appendicitis" in text.split("Model answer:")[-1] else "No, not really; yes-ish"

    model, _, model_handle, judge_handle = _rig(tmp_path, judge_reply)
    items = _items()
    runner = EvalRunner(model=model_handle, judge=judge_handle, progress=False, protocols=("chiron", "reference"))
    rows = {r["id"]: r for r in asyncio.run(runner.run("t", items, str(tmp_path / "out")))}
    assert model.calls == len(items)  # one generation per item, scored twice

    chiron = {i: r["scores"]["chiron"]["status"] for i, r in rows.items()}
    reference = {i: r["scores"]["reference"]["status"] for i, r in rows.items()}
    # "Yes" names no option: unparseable under the rules, sent to the lenient judge by the reference
    assert chiron["choice"] == "unparseable" and reference["choice"] == "wrong"
    assert chiron["nomark"] == "unparseable" and reference["nomark"] == "skipped"
    assert chiron["open"] == reference["open"] == "correct"
    # "I would not say yes ...": the reference's "yes anywhere" says Yes; ours reads the opening word
    assert chiron["hedge"] == "wrong" and reference["hedge"] == "correct"
    assert reference["silent"] == "judge_failed"
    assert all(r["protocol"] == "chiron" and r["status"] == r["scores"]["chiron"]["status"] for r in rows.values())

    # the reference's judge: temperature 0.9, the answer and the gold only, never the question
    lenient = [text for t, text in judged if t == 0.9]
    assert len(lenient) == 4  # every item with a marker, none for the skipped one
    assert not any("Case" in text or "Question" in text for text in lenient)
    assert all(t == 0.0 for t, text in judged if "Question:" in text)

    ours = benchmark_metrics(protocol_rows(list(rows.values()), "chiron"), num_bootstraps=50, protocol="chiron")
    theirs = benchmark_metrics(protocol_rows(list(rows.values()), "reference"), num_bootstraps=50,
                               protocol="reference")
    assert ours["n"] == 5 and ours["skipped"] == 0 and ours["accuracy"] == pytest.approx(1 / 5)
    assert ours["unparseable"] == 2
    # skipped: out of the denominator; the failed judge call: wrong, in it
    assert theirs["n"] == 4 and theirs["skipped"] == 1 and theirs["accuracy"] == pytest.approx(2 / 4)
    assert theirs["judge_failures"] == 1 and theirs["protocol"] == "reference"
    assert theirs["statuses"]["skipped"] == 1


def test_a_rerun_with_another_protocol_rescores_the_stored_replies(tmp_path):
    from chiron.eval.runner import PREDICTIONS, EvalRunner

    model, judge, model_handle, judge_handle = _rig(tmp_path, lambda r: "Yes")
    items = _items()
    asyncio.run(EvalRunner(model=model_handle, judge=judge_handle, progress=False).run("t", items, str(tmp_path / "o")))
    assert model.calls == len(items)
    lines = (tmp_path / "o" / PREDICTIONS).read_text().splitlines()
    calls = judge.calls
    both = EvalRunner(model=model_handle, judge=judge_handle, progress=False, protocols=("reference", "chiron"))
    rows = asyncio.run(both.run("t", items, str(tmp_path / "o")))
    assert model.calls == len(items)  # no new generation: the replies are scored again
    assert judge.calls == calls + 4  # only the reference's judge calls are new
    assert all(r["protocol"] == "reference" and set(r["scores"]) == {"chiron", "reference"} for r in rows)
    assert {r["id"]: r["status"] for r in rows}["nomark"] == "skipped"
    assert len((tmp_path / "o" / PREDICTIONS).read_text().splitlines()) == len(lines) + len(items)
    asyncio.run(both.run("t", items, str(tmp_path / "o")))  # nothing left to do
    assert model.calls == len(items) and judge.calls == calls + 4


def test_the_reference_answer_is_cut_as_the_reference_code_cuts_it():
    from chiron.eval.protocols import protocol_names, reference_answer, reference_says_yes

    assert reference_answer("x\n### The final answer is: a\n### The final answer is: b") == "a"
    assert reference_answer("  ### The final answer is:  gout  ") == "gout"
    assert reference_answer("### the final answer is: gout") is None  # the reference's marker is case-sensitive
    assert reference_answer(None) is None
    assert reference_says_yes("Well... YES") and reference_says_yes("eyes") and not reference_says_yes("No")
    assert protocol_names("reference") == ("reference",)
    assert protocol_names(["reference", "chiron"]) == ("reference", "chiron")
    with pytest.raises(ValueError, match="unknown protocol"):
        protocol_names("paper")


# -- BERTScore: the final answer vs the gold answer, as bert_score.score pairs them --------------


def test_answer_bertscore_pairs_the_final_answer_with_the_gold_answer():
    import bert_score
    from omegaconf import OmegaConf

    from chiron.eval.bertscore import MINILM_LAYERS, minilm_path
    from chiron.eval.job import _bertscores

    ev = OmegaConf.create({"bertscore": {"model": "minilm", "num_layers": None, "batch_size": 2,
                                         "answer_benchmarks": ["mmrp_mm"], "reasoning": True}})
    replies = ["### Step 1: enlarged appendix.\n### The final answer is: acute appendicitis",
               "### Step 1: air.\n### The final answer is: a left pneumothorax\n### The final answer is: none",
               "no marker at all"]
    golds = ["Acute appendicitis.", "Left-sided pneumothorax", "Gout"]
    rows = [{"reply": r, "gold_answer": g, "gold": g.lower(), "reference_reasoning": "The appendix is big.",
             "status": "wrong", "scores": {}} for r, g in zip(replies, golds)]
    # what each protocol extracted from the replies
    for row, ours, theirs in zip(rows, ["acute appendicitis", "none", None], ["acute appendicitis",
                                                                               "a left pneumothorax", None]):
        row["scores"] = {"chiron": {"status": "wrong" if ours else "unparseable", "extracted": ours},
                         "reference": {"status": "wrong" if theirs else "skipped", "extracted": theirs}}
    answers, reasoning = _bertscores(ev, {"mmrp_mm": rows, "vqa_rad": rows}, ("chiron", "reference"))
    assert set(answers["chiron"]) == {"mmrp_mm"}  # vqa_rad is not an answer benchmark

    def f1(cands, refs):
        _, _, f = bert_score.score(cands, refs, model_type=minilm_path(), num_layers=MINILM_LAYERS)
        return f.tolist()

    # chiron: every item, an item without a final answer scores 0
    assert answers["chiron"]["mmrp_mm"][:2] == pytest.approx(f1(["acute appendicitis", "none"], golds[:2]), abs=1e-4)
    assert answers["chiron"]["mmrp_mm"][2] == 0.0
    # reference: the skipped item is not scored; the answer is the text after the first marker
    assert answers["reference"]["mmrp_mm"] == pytest.approx(
        f1(["acute appendicitis", "a left pneumothorax"], golds[:2]), abs=1e-4)
    # the reasoning pairing is kept beside it, under its own name
    assert reasoning["mmrp_mm"] == pytest.approx(f1(replies, ["The appendix is big."] * 3), abs=1e-4)


# -- end to end: task=eval eval.protocol=reference against the reference's own loop ---------------


def _eval_data(root: Path) -> list[dict]:
    from PIL import Image

    (root / "images").mkdir(parents=True)
    for n in range(1, 4):
        Image.new("RGB", (24, 16), (40 * n, 20, 200 - 40 * n)).save(root / "images" / f"{n}.png")
    golds = {1: "Acute appendicitis", 2: "Left pneumothorax", 3: "Gout", 4: "Yes.", 5: "Pseudogout",
             6: "Acute calculous cholecystitis", 7: "Falx meningioma", 8: "Normal study", 9: "Brain abscess"}
    rows = []
    for case, gold in golds.items():
        images = ["images/1.png", "images/2.png"] if case % 2 else ["images/3.png"]
        tags = "(Modality 1: " + "\n".join("<image>" for _ in images) + ")" if case % 3 else ""
        rows.append({"id": case, "img_name": images if case != 8 else images[0],
                     "question": f"Case {case}: what is the most likely diagnosis? {tags}\nReason step by step.",
                     "answer": gold, "answer_type": "OPEN", "reasoning": f"### Step 1: findings of case {case}."})
    (root / "eval_data.json").write_text(json.dumps(rows))
    return rows


def reference_loop(entries: list[dict]) -> dict:
    """The reference code's scoring, re-written here: cut at the marker, skip replies without it,
    ask the lenient judge about every other one, "yes" anywhere is right, an empty verdict is wrong
    but counted; BERTScore of the answer against the ground truth, one bert_score.score per item."""
    import bert_score

    from chiron.eval.bertscore import MINILM_LAYERS, minilm_path

    right = counted = 0
    f1_sum = 0.0
    for entry in entries:
        reply = respond("fake-vlm", [{"role": "user", "content": entry["question"]}], 0.0).strip()
        if MARKER not in reply:
            continue
        answer = reply.split(MARKER)[1].strip()
        counted += 1
        verdict = judge_verdict(answer, entry["answer"])
        if verdict and "yes" in verdict.lower():
            right += 1
        _, _, f1 = bert_score.score([answer], [entry["answer"]], model_type=minilm_path(), num_layers=MINILM_LAYERS)
        f1_sum += float(f1[0])
    return {"accuracy": right / counted, "n": counted, "skipped": len(entries) - counted,
            "bertscore": f1_sum / counted}


def test_task_eval_reference_protocol_reproduces_the_reference_scoring(tmp_path):
    from conftest import compose_config

    from chiron.main import run_task
    from chiron.testing.fake_openai import running_server

    root = tmp_path / "reference"
    entries = _eval_data(root)
    expected = reference_loop(entries)
    assert 0 < expected["accuracy"] < 1 and expected["skipped"] == 2  # a fixture where skipping matters

    with running_server(responder="tests.test_eval_protocols:respond") as server:
        def run(name: str, *overrides: str) -> tuple[dict, dict]:
            generator = (f"eval.generator={{name:fake-vlm,backend:openai,model:fake-vlm,base_url:'{server.base_url}',"
                         f"max_retries:0,timeout_s:10,image_max_side:64}}")
            cfg = compose_config(["task=eval", "benchmarks=[reference]", f"eval.roots.reference={root}", generator,
                                  "judge=openai_compatible", f"judge.base_url={server.base_url}",
                                  "judge.spec.max_retries=0", "logger=none", "progress=false",
                                  "eval.bertscore.model=minilm", "eval.bootstrap.num_bootstraps=50",
                                  f"paths.output_dir={tmp_path / 'out'}", f"paths.cache_dir={tmp_path / 'cache'}",
                                  f"+paths.run_dir={tmp_path / name}", *overrides])
            run_task(cfg)
            out = tmp_path / name / "eval"
            rows = [json.loads(line) for line in (out / "reference" / "predictions.jsonl").read_text().splitlines()]
            return json.loads((out / "metrics.json").read_text())["reference"], {r["id"]: r for r in rows}

        metrics, rows = run("ref", "eval.protocol=reference")
        assert metrics["protocol"] == "reference" and set(metrics["protocols"]) == {"reference"}
        assert metrics["n"] == expected["n"] and metrics["skipped"] == expected["skipped"]
        assert metrics["accuracy"] == pytest.approx(expected["accuracy"])
        assert metrics["bertscore"]["mean"] == pytest.approx(expected["bertscore"], abs=1e-4)
        assert metrics["bertscore"]["n"] == expected["n"]
        assert metrics["judge_failures"] == 1  # the empty verdict: wrong, in the denominator
        assert "bertscore_reasoning" in metrics  # the other pairing, under its own name
        assert all(r["protocol"] == "reference" and r["prompt"] == "chiron" for r in rows.values())
        stats = server.stats()
        assert stats["per_model"]["fake-vlm"] == len(entries)
        judge_calls = stats["per_model"]["judge"]

        # both protocols from the same generations (cached), the primary first
        both, rows = run("both", "eval.protocol=[chiron,reference]")
        assert both["protocol"] == "chiron" and list(both["protocols"]) == ["chiron", "reference"]
        assert both["protocols"]["reference"]["accuracy"] == pytest.approx(expected["accuracy"])
        assert both["protocols"]["reference"]["skipped"] == expected["skipped"]
        assert both["n"] == len(entries) and both["skipped"] == 0 and both["unparseable"] == 2
        stats = server.stats()
        assert stats["per_model"]["fake-vlm"] == len(entries)  # no new generation
        chiron_judged = sum(1 for r in rows.values() if r["scores"]["chiron"]["judge_reply"] is not None)
        # new judge calls: chiron's; of the reference's only the failed one (failures are not cached)
        assert stats["per_model"]["judge"] - judge_calls == chiron_judged + 1
        report = (tmp_path / "both" / "eval" / "paper_comparison.md").read_text()
        assert "## By protocol" in report and "| reference | reference | 7 | 2 |" in report
        assert "| reference | chiron | 9 | 0 |" in report
