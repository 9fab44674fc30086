"""LoRA curriculum training on the tiny model: learning, freezing, adapters, stages and resume."""

import json
import os
import subprocess
import sys

import pytest
import pytorch_lightning as pl
import torch
from safetensors.torch import load_file

from chiron.train.curriculum import StageIncomplete, run_curriculum
from chiron.train.job import settings_from_config, stage_files
from chiron.train.model import load_base
from conftest import ROOT, compose_config


def _settings(tmp_path, tiny_path, *overrides):
    cfg = compose_config(["task=train", "train=lora", "logger=csv", "progress=false", f"paths.output_dir={tmp_path}",
                          f"model.name_or_path={tiny_path}", "train.num_workers=0", *overrides])
    return cfg, settings_from_config(cfg)


class Capture(pl.Callback):
    """Keeps the LoRA weights each stage starts and ends with, the module, and its logits on `probe`.

    Read at train end because saving a merged model folds the adapter into the in-memory model.
    """

    def __init__(self, probe=None):
        self.modules, self.starts, self.ends, self.logits, self.probe = [], [], [], [], probe

    def on_train_start(self, trainer, pl_module):
        self.starts.append(_lora_state(pl_module.model))

    def on_train_end(self, trainer, pl_module):
        self.modules.append(pl_module)
        self.ends.append({k: v.detach().clone() for k, v in pl_module.model.named_parameters()})
        if self.probe is not None:
            with torch.no_grad():
                self.logits.append(pl_module.model.eval()(**self.probe).logits)


class CrashAt(pl.Callback):
    def __init__(self, step):
        self.step = step

    def on_train_batch_end(self, trainer, *args):
        if trainer.global_step == self.step:
            raise RuntimeError("simulated crash")


class FailIfTrained(pl.Callback):
    def on_fit_start(self, *args):
        raise AssertionError("a finished stage was trained again")


def _lora_state(model):
    return {k: v.detach().clone() for k, v in model.named_parameters() if "lora_" in k}


def _batch(processor):
    ids = processor.tokenizer("Step 1: lung and heart", return_tensors="pt")["input_ids"]
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}


def test_stage_learns_lora_only_and_adapter_reloads_to_same_logits(tmp_path, tiny_tokenizer_path):
    import peft

    cfg, settings = _settings(tmp_path, tiny_tokenizer_path, "curriculum=stage1", "train.global_batch=4",
                              "train.micro_batch=2", "train.save_merged=true", "train.optim.lr=1e-3")
    fresh, processor = load_base(settings.model)
    batch = _batch(processor)
    capture = Capture(probe=batch)
    [record] = run_curriculum(settings, stage_files(cfg), str(tmp_path / "out"), "t", extra_callbacks=(capture,))
    assert record["optimizer_steps"] == 8 and record["kept"] == 32
    base = dict(fresh.named_parameters())
    lora_names = [k for k in capture.ends[0] if "lora_" in k]
    assert lora_names and all(".language_model." in k for k in lora_names)  # none in the vision tower
    for name, param in capture.ends[0].items():
        if "lora_" in name:
            assert not torch.equal(param, capture.starts[0][name]), f"{name} did not change"
        else:
            original = name.replace("base_model.model.", "").replace(".base_layer", "")
            assert torch.equal(param, base[original]), f"frozen {original} changed"
    with torch.no_grad():
        expected = capture.logits[0]
        reloaded = peft.PeftModel.from_pretrained(load_base(settings.model)[0], record["adapter"]).eval()
        assert torch.allclose(reloaded(**batch).logits, expected, atol=1e-5)
        merged = type(fresh).from_pretrained(record["merged"]).eval()
        assert torch.allclose(merged(**batch).logits, expected, atol=1e-4)
        assert not torch.allclose(fresh.eval()(**batch).logits, expected, atol=1e-4)


def test_unfrozen_projector_is_trained_and_saved_in_the_adapter(tmp_path, tiny_tokenizer_path):
    cfg, settings = _settings(tmp_path, tiny_tokenizer_path, "curriculum=stage1", "train.lora.freeze_projector=false")
    [record] = run_curriculum(settings, stage_files(cfg), str(tmp_path / "out"), "t")
    saved = load_file(os.path.join(record["adapter"], "adapter_model.safetensors"))
    assert any("multi_modal_projector" in k for k in saved)
    assert not any("vision_tower" in k for k in saved)


def test_three_stages_chain_adapters_and_a_rerun_skips_them(tmp_path, tiny_tokenizer_path):
    cfg, settings = _settings(tmp_path, tiny_tokenizer_path)
    capture = Capture()
    out = str(tmp_path / "out")
    records = run_curriculum(settings, stage_files(cfg), out, "t", extra_callbacks=(capture,))
    assert [r["stage"] for r in records] == ["stage1", "stage2", "stage3"]
    assert [r["optimizer_steps"] for r in records] == [2, 2, 3]  # 32/32/48 samples, global batch 16
    assert records[1]["continued_from"] == records[0]["adapter"]
    # Stage 2 starts from exactly the weights stage 1 saved.
    saved = load_file(os.path.join(records[0]["adapter"], "adapter_model.safetensors"))
    start = capture.starts[1]
    for key, value in saved.items():
        [match] = [k for k in start if k.replace(".default", "") == key]
        assert torch.equal(start[match], value)
    again = run_curriculum(settings, stage_files(cfg), out, "t", extra_callbacks=(FailIfTrained(),))
    assert again == records
    other = [(name, str(tmp_path / f"{name}.jsonl")) for name, _ in stage_files(cfg)]
    with pytest.raises(ValueError, match="another run_name"):
        run_curriculum(settings, other, out, "t")


def test_interrupted_stage_resumes_to_the_same_weights(tmp_path, tiny_tokenizer_path):
    # LoRA dropout on (the paper's 0.05): the same weights need the random state restored too.
    overrides = ("curriculum=stage1", "train.global_batch=4", "train.micro_batch=2", "train.checkpoint_every=1",
                 "train.lora.dropout=0.05", "train.optim.lr=1e-3")
    cfg, settings = _settings(tmp_path, tiny_tokenizer_path, *overrides)
    straight = run_curriculum(settings, stage_files(cfg), str(tmp_path / "straight"), "t")[0]
    out = str(tmp_path / "resumed")
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_curriculum(settings, stage_files(cfg), out, "t", extra_callbacks=(CrashAt(5),))
    assert not os.path.exists(os.path.join(out, "stage1", "stage.json"))
    capture = Capture()
    resumed = run_curriculum(settings, stage_files(cfg), out, "t", extra_callbacks=(capture,))[0]
    assert resumed["optimizer_steps"] == straight["optimizer_steps"] == 8
    a = load_file(os.path.join(straight["adapter"], "adapter_model.safetensors"))
    b = load_file(os.path.join(resumed["adapter"], "adapter_model.safetensors"))
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key  # bit for bit
    # It really resumed (from step 4: the crash came before step 5's checkpoint), not restarted.
    assert capture.modules[0].trainer.global_step == 8
    lr_log = (tmp_path / "resumed" / "stage1" / "logs" / "metrics.csv").read_text()
    assert lr_log


def test_incomplete_fit_is_reported_not_marked_done(tmp_path, tiny_tokenizer_path):
    cfg, settings = _settings(tmp_path, tiny_tokenizer_path, "curriculum=stage1", "+trainer.max_steps=1")
    with pytest.raises(StageIncomplete, match="rerun the same command"):
        run_curriculum(settings, stage_files(cfg), str(tmp_path / "out"), "t")
    assert not (tmp_path / "out" / "stage1" / "stage.json").exists()


def test_global_batch_must_divide(tmp_path, tiny_tokenizer_path):
    cfg, settings = _settings(tmp_path, tiny_tokenizer_path, "curriculum=stage1", "train.micro_batch=3")
    with pytest.raises(ValueError, match="not a multiple"):
        run_curriculum(settings, stage_files(cfg), str(tmp_path / "out"), "t")


def test_every_model_config_composes_into_settings():
    for name in ("tiny", "internvl3_1b", "internvl3_2b", "internvl3_8b", "qwen2_5_vl_7b", "qwen2_vl_7b"):
        settings = settings_from_config(compose_config(["task=train", "train=lora", f"model={name}"]))
        assert settings.lora.rank == 16 and settings.optim.lr == 4e-5 and settings.global_batch == 16
        assert settings.max_length == 8192 and settings.epochs_per_stage == 1
    for curriculum, stages in {"three_stage": ["stage1", "stage2", "stage3"], "stage1": ["stage1"],
                               "stage12": ["stage1", "stage2"], "stage3_only": ["stage3"]}.items():
        assert list(compose_config([f"curriculum={curriculum}"]).curriculum.stages) == stages


def test_missing_mix_folder_names_the_fix(tmp_path):
    cfg = compose_config(["task=train", f"train_inputs.mix_dir={tmp_path}/nope"])
    with pytest.raises(FileNotFoundError, match="build_mix"):
        stage_files(cfg)


def test_wandb_offline_gets_metrics_and_config_without_secrets(tmp_path, tiny_tokenizer_path, monkeypatch):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    secret = "sk-test-DO-NOT-LOG-123"
    cfg, settings = _settings(tmp_path, tiny_tokenizer_path, "curriculum=stage1", "logger=wandb",
                              f"logger.save_dir={tmp_path}/wandb", f"+train_inputs.api_key={secret}")
    from chiron.train.job import run

    monkeypatch.setattr("chiron.train.job.run_dir", lambda _cfg: str(tmp_path / "run"))
    run(cfg)
    runs = list((tmp_path / "wandb" / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    files = [p for p in runs[0].rglob("*") if p.is_file()]
    assert not any(secret.encode() in p.read_bytes() for p in files)
    # Offline, W&B keeps config and history in its binary run file until `wandb sync`.
    [record] = runs[0].glob("*.wandb")
    data = record.read_bytes()
    assert b"<redacted>" in data and b"stage_data" in data and b"train/loss" in data


def test_train_task_runs_and_a_rerun_resumes(tmp_path, tiny_tokenizer_path):
    command = [sys.executable, "run.py", "task=train", "train=lora", "model=tiny", "curriculum=three_stage", "logger=csv",
               f"paths.output_dir={tmp_path}", f"model.name_or_path={tiny_tokenizer_path}", "run_name=r",
               "progress=false"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    first = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr[-3000:]
    summary = json.loads((tmp_path / "train" / "runs" / "r" / "train" / "summary.json").read_text())
    assert [s["stage"] for s in summary["stages"]] == ["stage1", "stage2", "stage3"]
    assert os.path.isfile(os.path.join(summary["final_adapter"], "adapter_config.json"))
    second = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-3000:]
    assert second.stderr.count("already trained") + second.stdout.count("already trained") == 3


def test_scrub_secrets_redacts_secret_keys_at_any_depth():
    from chiron.utils.loggers import REDACTED, scrub_secrets

    cleaned = scrub_secrets({"judge": {"api_key": "sk-1", "api_key_env": "OPENAI_API_KEY", "models": [
        {"token": "t", "name": "m"}]}, "password": None, "lr": 1})
    assert cleaned == {"judge": {"api_key": REDACTED, "api_key_env": "OPENAI_API_KEY", "models": [
        {"token": REDACTED, "name": "m"}]}, "password": None, "lr": 1}


def test_wandb_mode_never_leaves_it_to_a_prompt(monkeypatch, tmp_path):
    from chiron.utils.loggers import wandb_mode

    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "none"))
    assert wandb_mode("auto") == "offline"
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    assert wandb_mode("auto") == "online" and wandb_mode("offline") == "offline"
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert wandb_mode("online") == "disabled"
    with pytest.raises(ValueError):
        monkeypatch.delenv("WANDB_MODE")
        wandb_mode("sometimes")


def test_deepspeed_zero1_stage_resumes_on_cpu_to_the_same_weights(tmp_path, tiny_tokenizer_path):
    """The paper's strategy through the whole stage loop: ZeRO-1 on CPU, a crash, a resume.

    Compared with an uninterrupted ZeRO-1 run, not with the plain strategy: LoRA's A matrices get
    exactly zero gradient on the first step (B starts at zero) in one and rounding noise in the
    other, which Adam's normalisation turns into visibly different updates.
    """
    overrides = ("curriculum=stage1", "train.global_batch=4", "train.micro_batch=2", "train.checkpoint_every=1",
                 "train.lora.dropout=0.05", "train.optim.lr=1e-3", "trainer=deepspeed_zero1")
    cfg, zero1 = _settings(tmp_path, tiny_tokenizer_path, *overrides)
    straight = run_curriculum(zero1, stage_files(cfg), str(tmp_path / "straight"), "t")[0]
    out = str(tmp_path / "zero1")
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_curriculum(zero1, stage_files(cfg), out, "t", extra_callbacks=(CrashAt(5),))
    last = os.path.join(out, "stage1", "checkpoints", "last.ckpt")
    assert os.path.isdir(last)  # a DeepSpeed checkpoint folder
    # A damaged file inside it: the resume falls back to the previous checkpoint folder (step 4, the same state).
    [optim] = [os.path.join(last, "checkpoint", n) for n in os.listdir(os.path.join(last, "checkpoint"))
               if n.endswith("optim_states.pt")]
    with open(optim, "r+b") as f:
        f.truncate(os.path.getsize(optim) // 2)
    capture = Capture()
    resumed = run_curriculum(zero1, stage_files(cfg), out, "t", extra_callbacks=(capture,))[0]
    engine = capture.modules[0].trainer.strategy.deepspeed_engine
    assert engine.zero_optimization_stage() == 1
    assert os.listdir(os.path.join(out, "stage1", "checkpoints-unusable"))[0].endswith("last.ckpt")
    a = load_file(os.path.join(straight["adapter"], "adapter_model.safetensors"))
    b = load_file(os.path.join(resumed["adapter"], "adapter_model.safetensors"))
    for key in a:
        assert torch.equal(a[key], b[key]), key
