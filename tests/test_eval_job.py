"""task=eval end to end on real tiny backends, and trained adapters as the model under test."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chiron.llm.spec import ModelSpec
from chiron.llm.types import ChatRequest, Message, Sampling

ROOT = Path(__file__).resolve().parents[1]


def _eval(out: Path, *overrides: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", WANDB_MODE="offline")
    env.pop("WANDB_API_KEY", None)
    cmd = [sys.executable, str(ROOT / "run.py"), "task=eval", "model=tiny", "benchmarks=demo",
           f"paths.output_dir={out}", "run_name=e2e", "progress=false", *overrides]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc


def test_demo_eval_writes_metrics_tables_and_resumes_without_calls(tmp_path):
    # The demo's tiny intern ends its replies with a final-answer line: extraction and the judge
    # get exercised, not only the unparseable path a random model would take. judge=tiny: a model
    # judge, so its replies are recorded (the default judge=rules asks no model).
    _eval(tmp_path, "eval.generator=${interns.models.0}", "judge=tiny")
    run = tmp_path / "eval" / "runs" / "e2e" / "eval"
    metrics = json.loads((run / "metrics.json").read_text())["demo"]
    rows = [json.loads(line) for line in (run / "demo" / "predictions.jsonl").read_text().splitlines()]
    assert metrics["n"] == len(rows) == 22
    statuses = {r["status"] for r in rows}
    assert statuses <= {"correct", "wrong", "unparseable"}
    assert sum(r["status"] == "correct" for r in rows) == round(metrics["accuracy"] * 22)
    assert metrics["unparseable"] == sum(r["status"] == "unparseable" for r in rows)
    assert any(r["judge_reply"] for r in rows), "no open answer reached the judge"
    assert "mics_score" in metrics and all(r["own_path"] is not None for r in rows)
    assert set(metrics["by_subject"]) == {"cases", "pmc_vqa"}
    assert metrics["ci_low"] <= metrics["accuracy"] <= metrics["ci_high"]
    report = (run / "paper_comparison.md").read_text()
    assert "| demo | 22 |" in report
    wandb_files = list((tmp_path / "wandb").rglob("*.wandb"))
    assert wandb_files and any(b"eval/examples" in f.read_bytes() for f in wandb_files)

    _eval(tmp_path, "eval.generator=${interns.models.0}")
    assert len((run / "demo" / "predictions.jsonl").read_text().splitlines()) == 22
    usage = json.loads((run / "usage.json").read_text())
    assert usage["total"]["calls"] == 0  # everything was read back, nothing asked again


def _lora_adapter(base_path: str, out: str) -> str:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForImageTextToText

    model = AutoModelForImageTextToText.from_pretrained(base_path)
    model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=r".*language_model.*\.(q_proj|v_proj)"))
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:  # B starts at zero (a no-op adapter): make it change the model
                param.normal_(0.0, 2.0, generator=torch.Generator().manual_seed(0))
    model.save_pretrained(out)
    return out


def _greedy(spec: ModelSpec) -> tuple[str, str]:
    from chiron.llm.hf_backend import HFBackend

    backend = HFBackend(spec)
    request = ChatRequest(spec.model, (Message("user", "Name one organ of the chest."),), Sampling(max_tokens=12))

    async def go():
        try:
            return (await backend.complete(request)).text
        finally:
            await backend.aclose()

    return asyncio.run(go()), backend.identity


def test_an_adapter_changes_the_answers_and_the_cache_identity(tmp_path, tiny_tokenizer_path):
    adapter = _lora_adapter(tiny_tokenizer_path, str(tmp_path / "adapter"))
    base = ModelSpec(name="t", backend="hf", model=tiny_tokenizer_path, device="cpu")
    base_text, base_id = _greedy(base)
    tuned_text, tuned_id = _greedy(dataclasses.replace(base, adapter=adapter))
    assert tuned_id != base_id and "adapter-" in tuned_id
    assert tuned_text != base_text


def test_adapter_errors_name_the_fix(tmp_path, tiny_tokenizer_path):
    with pytest.raises(ValueError, match="hf backend only"):
        ModelSpec(name="x", backend="openai", model="m", adapter=str(tmp_path))
    with pytest.raises(FileNotFoundError, match="adapter_config.json"):
        _greedy(ModelSpec(name="t", backend="hf", model=tiny_tokenizer_path, device="cpu", adapter=str(tmp_path)))


def test_benchmarks_accept_one_name_or_a_list():
    from chiron.eval.job import benchmark_names

    assert benchmark_names("demo") == ["demo"] and benchmark_names(["a", "b"]) == ["a", "b"]
    with pytest.raises(ValueError, match="benchmarks is empty"):
        benchmark_names([])


def test_bertscore_is_computed_for_items_with_a_reference_reasoning():
    from omegaconf import OmegaConf

    from chiron.eval.job import _bertscores

    ev = OmegaConf.create({"bertscore": {"model": "minilm", "num_layers": None, "batch_size": 4,
                                         "answer_benchmarks": [], "reasoning": True}})
    same = "The appendix is enlarged with periappendiceal fat stranding."
    rows = {"mmrp_mm": [{"reply": same, "reference_reasoning": same, "status": "wrong"},
                        {"reply": None, "reference_reasoning": "A gallstone obstructs the cystic duct.",
                         "status": "generation_failed"},
                        {"reply": "x", "reference_reasoning": None, "status": "wrong"}],
            "vqa_rad": [{"reply": "yes", "reference_reasoning": None, "status": "correct"}]}
    answers, scores = _bertscores(ev, rows)
    assert answers == {"chiron": {}}  # no benchmark asked for answer pairs
    assert list(scores) == ["mmrp_mm"] and len(scores["mmrp_mm"]) == 2  # only items with a reference
    assert scores["mmrp_mm"][0] == pytest.approx(1.0, abs=1e-4) and scores["mmrp_mm"][1] == 0.0  # no reply scores 0
