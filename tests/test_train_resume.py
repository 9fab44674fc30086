"""Resume: a stage killed mid-way (kill -9) and rerun, or resumed from a damaged checkpoint, ends with the
very same adapter (bit for bit, with LoRA dropout on) as an uninterrupted run."""

import logging
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from chiron.train.curriculum import run_curriculum
from chiron.train.job import stage_files
from chiron.train.rng import preserved_rng, rng_states, set_rng_states
from chiron.train.trainer import UNUSABLE_DIR, checkpoint_candidates, checkpoint_problem
from conftest import ROOT
from test_train_curriculum import Capture, CrashAt, _settings

# 32 samples, 2 per micro-batch, 2 micro-batches per optimizer step: 8 steps, a checkpoint every 2.
STAGE = ("curriculum=stage1", "train.global_batch=4", "train.micro_batch=2", "train.checkpoint_every=2",
         "train.lora.dropout=0.05", "train.optim.lr=1e-3")


def assert_same_adapter(a_dir, b_dir):
    a = load_file(os.path.join(a_dir, "adapter_model.safetensors"))
    b = load_file(os.path.join(b_dir, "adapter_model.safetensors"))
    assert a.keys() == b.keys() and a
    unequal = [k for k in a if not torch.equal(a[k], b[k])]
    assert not unequal, f"{len(unequal)} of {len(a)} tensors differ, e.g. {unequal[0]}: " \
                        f"max |diff| {float((a[unequal[0]] - b[unequal[0]]).abs().max()):.3g}"


# -- kill -9 in the middle of a stage of `python run.py task=train`, then the same command again ------------

# Loaded by the first run only (PYTHONPATH): at the start of micro-batch HOLD_AT, with a checkpoint
# written and half of the next optimizer step trained, it says so and waits to be killed.
HOLD_HOOK = '''
import os, time
from pytorch_lightning.callbacks import ModelCheckpoint

def _hold(self, trainer, pl_module, batch, batch_idx):
    if batch_idx == int(os.environ["CHIRON_TEST_HOLD_AT"]):
        with open(os.environ["CHIRON_TEST_HOLD_MARK"] + ".tmp", "w") as f:
            f.write(str(trainer.global_step))
        os.replace(os.environ["CHIRON_TEST_HOLD_MARK"] + ".tmp", os.environ["CHIRON_TEST_HOLD_MARK"])
        time.sleep(3600)

ModelCheckpoint.on_train_batch_start = _hold
'''


def _command(out, tiny_path, run_name):
    # Default workers (train.num_workers=2): their seeds are part of what must resume.
    return [sys.executable, "run.py", "task=train", "train=lora", "model=tiny", "logger=csv", "progress=false",
            f"paths.output_dir={out}", f"model.name_or_path={tiny_path}", f"run_name={run_name}", *STAGE]


def _run(command, env, log_path, timeout=600):
    with open(log_path, "w") as log:
        done = subprocess.run(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=timeout,
                              check=False)
    text = Path(log_path).read_text()
    assert done.returncode == 0, text[-3000:]
    return text


def _wait_for_mark(proc, mark, log_path):
    """Until the held run has written `mark` (it is then parked in the middle of its step)."""
    deadline = time.time() + 420
    while not mark.exists():
        assert proc.poll() is None, log_path.read_text()[-3000:]
        assert time.time() < deadline, "the first run never reached micro-batch 11"
        time.sleep(0.2)


def _stage_dir(out, run_name):
    return os.path.join(out, "train", "runs", run_name, "train", "stage1")


@pytest.fixture(scope="module")
def killed_and_resumed(tmp_path_factory, tiny_tokenizer_path):
    """A run killed (SIGKILL) during optimizer step 6 of 8, its last checkpoint at step 4, then rerun."""
    out = tmp_path_factory.mktemp("killed")
    hook = out / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(HOLD_HOOK)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    mark = out / "held"
    held_env = {**env, "PYTHONPATH": os.pathsep.join([str(hook), env.get("PYTHONPATH", "")]),
                "CHIRON_TEST_HOLD_AT": "11", "CHIRON_TEST_HOLD_MARK": str(mark)}
    command = _command(out, tiny_tokenizer_path, "k")
    with open(out / "first.log", "w") as log:
        proc = subprocess.Popen(command, cwd=ROOT, env=held_env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_for_mark(proc, mark, out / "first.log")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=60)
    stage = _stage_dir(out, "k")
    assert proc.returncode == -signal.SIGKILL and mark.read_text() == "5"
    assert not os.path.exists(os.path.join(stage, "stage.json"))
    assert sorted(os.listdir(os.path.join(stage, "checkpoints"))) == ["last.ckpt", "step2.ckpt", "step4.ckpt"]
    text = _run(command, env, out / "second.log")
    assert "resuming from" in text and "last.ckpt" in text, text[-3000:]
    return out, env


def test_killed_stage_resumes_to_the_weights_of_an_uninterrupted_run(killed_and_resumed, tiny_tokenizer_path):
    out, env = killed_and_resumed
    _run(_command(out, tiny_tokenizer_path, "straight"), env, out / "straight.log")
    assert_same_adapter(os.path.join(_stage_dir(out, "straight"), "adapter"),
                        os.path.join(_stage_dir(out, "k"), "adapter"))


def test_killed_stage_matches_an_uninterrupted_run_that_found_lengths_cached(killed_and_resumed,
                                                                              tiny_tokenizer_path):
    # The killed run measured its samples; this uninterrupted one reads them from lengths.json. The
    # length pass moves no random generator, so the dropout masks are the same all the same.
    out, env = killed_and_resumed
    stage = _stage_dir(out, "cached")
    os.makedirs(stage)
    shutil.copy(os.path.join(_stage_dir(out, "k"), "lengths.json"), stage)
    before = os.path.getmtime(os.path.join(stage, "lengths.json"))
    _run(_command(out, tiny_tokenizer_path, "cached"), env, out / "cached.log")
    assert os.path.getmtime(os.path.join(stage, "lengths.json")) == before  # read, not measured again
    assert_same_adapter(os.path.join(stage, "adapter"), os.path.join(_stage_dir(out, "k"), "adapter"))


# -- two DDP ranks on the CPU (gloo), the whole process group killed -------------------------------------

# run.py is not the entry point here: Lightning starts rank 1 by running the same command again, and
# run.py's run-folder lock (held by rank 0) refuses that second process.
DDP_DRIVER = """
import logging, os, sys
sys.path.insert(0, {root!r})
logging.basicConfig(level=logging.INFO)
from hydra import compose, initialize_config_dir
import chiron.train.job as job
from chiron.schemas import register_schemas
from chiron.utils.paths import register_resolvers

register_resolvers()
register_schemas()
out = sys.argv[1]
job.run_dir = lambda cfg: out
with initialize_config_dir(config_dir={conf!r}, version_base="1.3"):
    cfg = compose(config_name="config", overrides=sys.argv[2:])
job.run(cfg)
"""


@pytest.mark.slow
def test_killed_ddp_stage_resumes_every_rank_to_the_weights_of_an_uninterrupted_run(tmp_path, tiny_tokenizer_path):
    # Each rank draws its own dropout masks, so each must get its own random state back: restoring
    # rank 0's on both (all that rank 0's checkpoint file would hold otherwise) ends elsewhere.
    driver = tmp_path / "driver.py"
    driver.write_text(DDP_DRIVER.format(root=str(ROOT), conf=str(ROOT / "conf")))
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(HOLD_HOOK)
    overrides = ["task=train", "train=lora", "model=tiny", "logger=csv", "progress=false", f"model.name_or_path={tiny_tokenizer_path}",
                 *STAGE, "train.micro_batch=1", "trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2",
                 "trainer.precision=32-true"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}

    def command(name):
        return [sys.executable, str(driver), str(tmp_path / name), *overrides]

    _run(command("straight"), env, tmp_path / "straight.log")
    mark = tmp_path / "held"
    held_env = {**env, "PYTHONPATH": os.pathsep.join([str(hook), env.get("PYTHONPATH", "")]),
                "CHIRON_TEST_HOLD_AT": "11", "CHIRON_TEST_HOLD_MARK": str(mark)}
    with open(tmp_path / "first.log", "w") as log:
        proc = subprocess.Popen(command("k"), cwd=ROOT, env=held_env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        _wait_for_mark(proc, mark, tmp_path / "first.log")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # both ranks and their dataloader workers
        proc.wait(timeout=60)
    stage = tmp_path / "k" / "train" / "stage1"
    assert not (stage / "stage.json").exists() and (stage / "checkpoints" / "step4.ckpt").exists()
    saved = torch.load(stage / "checkpoints" / "last.ckpt", weights_only=True)["callbacks"]["RandomState"]
    assert len(saved["ranks"]) == 2 and not torch.equal(saved["ranks"][0]["torch"], saved["ranks"][1]["torch"])
    assert saved["data"]["world_size"] == 2
    text = _run(command("k"), env, tmp_path / "second.log")
    assert "resuming from" in text, text[-3000:]
    assert_same_adapter(tmp_path / "straight" / "train" / "stage1" / "adapter", stage / "adapter")


# -- in process: damaged checkpoints, a second epoch -------------------------------------------------------

@pytest.fixture(scope="module")
def straight(tmp_path_factory, tiny_tokenizer_path):
    tmp = tmp_path_factory.mktemp("straight")
    cfg, settings = _settings(tmp, tiny_tokenizer_path, *STAGE)
    return run_curriculum(settings, stage_files(cfg), str(tmp / "out"), "t")[0]


def _crashed(tmp_path, tiny_path, *extra, crash_at=5):
    cfg, settings = _settings(tmp_path, tiny_path, *STAGE, *extra)
    out = str(tmp_path / "out")
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_curriculum(settings, stage_files(cfg), out, "t", extra_callbacks=(CrashAt(crash_at),))
    return cfg, settings, out, os.path.join(out, "stage1", "checkpoints")


def _truncate(path):
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.truncate(size // 2)


def test_truncated_last_checkpoint_falls_back_to_the_previous_one(tmp_path, tiny_tokenizer_path, straight, caplog):
    cfg, settings, out, folder = _crashed(tmp_path, tiny_tokenizer_path)
    assert sorted(os.listdir(folder)) == ["last.ckpt", "step2.ckpt", "step4.ckpt"]  # the two latest are kept
    _truncate(os.path.join(folder, "last.ckpt"))
    _truncate(os.path.join(folder, "step4.ckpt"))  # so that the fallback really goes back in time
    capture = Capture()
    with caplog.at_level(logging.WARNING, logger="chiron.train.trainer"):
        resumed = run_curriculum(settings, stage_files(cfg), out, "t", extra_callbacks=(capture,))[0]
    warnings = caplog.text
    assert "last.ckpt is unusable" in warnings and "step4.ckpt is unusable" in warnings
    assert "resuming from" in warnings and "step2.ckpt" in warnings
    assert capture.starts  # it trained: from step 2, the fit went on to the stage's end
    assert capture.modules[0].trainer.global_step == 8
    moved = sorted(os.listdir(os.path.join(out, "stage1", UNUSABLE_DIR)))
    assert [name.split("-")[-1] for name in moved] == ["last.ckpt", "step4.ckpt"]  # renamed, not deleted
    assert_same_adapter(straight["adapter"], resumed["adapter"])


def test_all_checkpoints_unusable_restart_the_stage_from_its_start(tmp_path, tiny_tokenizer_path, straight, caplog):
    cfg, settings, out, folder = _crashed(tmp_path, tiny_tokenizer_path)
    for name in os.listdir(folder):
        _truncate(os.path.join(folder, name))
    with caplog.at_level(logging.WARNING, logger="chiron.train.trainer"):
        resumed = run_curriculum(settings, stage_files(cfg), out, "t")[0]
    assert "none of its 3 checkpoints is usable" in caplog.text and "restarts from its start" in caplog.text
    assert len(os.listdir(os.path.join(out, "stage1", UNUSABLE_DIR))) == 3
    assert_same_adapter(straight["adapter"], resumed["adapter"])


def test_a_second_epoch_gets_its_own_order_and_resumes_to_the_same_weights(tmp_path, tiny_tokenizer_path):
    class Orders(Capture):
        def __init__(self):
            super().__init__()
            self.seen = {}

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            sampler = trainer.train_dataloader.batch_sampler
            self.seen.setdefault(sampler.current_epoch(), []).append(batch["input_ids"].shape[1])

    two = ("train.epochs_per_stage=2",)
    cfg, settings = _settings(tmp_path / "a", tiny_tokenizer_path, *STAGE, *two)
    orders = Orders()
    whole = run_curriculum(settings, stage_files(cfg), str(tmp_path / "whole"), "t", extra_callbacks=(orders,))[0]
    assert whole["optimizer_steps"] == 16 and sorted(orders.seen) == [0, 1]
    assert orders.seen[0] != orders.seen[1]  # epoch 1 is not a replay of epoch 0's order
    cfg, settings, out, _ = _crashed(tmp_path / "b", tiny_tokenizer_path, *two, crash_at=11)
    resumed = run_curriculum(settings, stage_files(cfg), out, "t")[0]
    assert_same_adapter(whole["adapter"], resumed["adapter"])


# -- the pieces -----------------------------------------------------------------------------------------

def test_checkpoint_check_refuses_truncated_damaged_and_incomplete_checkpoints(tmp_path):
    good = tmp_path / "good.ckpt"
    torch.save({"state_dict": {"w": torch.arange(4096.0)}, "step": 3}, good)
    assert checkpoint_problem(str(good)) is None
    cut = tmp_path / "cut.ckpt"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    assert "not a complete checkpoint archive" in checkpoint_problem(str(cut))
    flipped = bytearray(good.read_bytes())
    with zipfile.ZipFile(good) as archive:
        member = next(i for i in archive.infolist() if i.file_size > 1000)
    flipped[member.header_offset + 200] ^= 0xFF  # inside the member's data: its CRC no longer matches
    (tmp_path / "flipped.ckpt").write_bytes(bytes(flipped))
    assert "CRC" in checkpoint_problem(str(tmp_path / "flipped.ckpt"))
    (tmp_path / "empty.ckpt").write_bytes(b"")
    assert checkpoint_problem(str(tmp_path / "empty.ckpt")) == "empty file"
    # A DeepSpeed checkpoint is a folder: its 'latest' tag, model states and optimizer states.
    ds = tmp_path / "last.ckpt"
    (ds / "checkpoint").mkdir(parents=True)
    assert "'latest'" in checkpoint_problem(str(ds))
    (ds / "latest").write_text("checkpoint")
    shutil.copy(good, ds / "checkpoint" / "mp_rank_00_model_states.pt")
    assert "no optimizer states" in checkpoint_problem(str(ds))
    shutil.copy(cut, ds / "checkpoint" / "zero_pp_rank_0_mp_rank_00_optim_states.pt")
    assert "optim_states.pt: not a complete" in checkpoint_problem(str(ds))
    shutil.copy(good, ds / "checkpoint" / "zero_pp_rank_0_mp_rank_00_optim_states.pt")
    assert checkpoint_problem(str(ds)) is None


def test_checkpoint_candidates_are_newest_first(tmp_path):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    for name in ("step2.ckpt", "step10.ckpt", "last.ckpt", "step10-v1.ckpt", "notes.txt"):
        (folder / name).write_bytes(b"x")
    assert [os.path.basename(p) for p in checkpoint_candidates(str(tmp_path))] == [
        "last.ckpt", "step10-v1.ckpt", "step10.ckpt", "step2.ckpt"]
    assert checkpoint_candidates(str(tmp_path / "none")) == []


def test_random_states_round_trip_and_preserved_rng_leaves_them_as_they_were(tmp_path):
    saved = rng_states()
    draws = (random.random(), float(np.random.rand()), torch.rand(3))
    set_rng_states(saved)
    again = (random.random(), float(np.random.rand()), torch.rand(3))
    assert draws[:2] == again[:2] and torch.equal(draws[2], again[2])
    before = rng_states()
    with preserved_rng():
        random.random(), np.random.rand(), torch.rand(5)
    after = rng_states()
    assert before["python"] == after["python"] and before["numpy"] == after["numpy"]
    assert torch.equal(before["torch"], after["torch"])
    # What goes into a checkpoint loads under torch's weights_only unpickler.
    torch.save(before, tmp_path / "rng.pt")
    assert torch.load(tmp_path / "rng.pt", weights_only=True)["python"] == before["python"]


def test_length_pass_draws_no_random_number(tiny_tokenizer_path):
    from chiron.llm.tiny import load_processor
    from chiron.train.datamodule import measure, read_stage_file
    from chiron.utils.paths import package_path

    samples = read_stage_file(package_path("data/demo/train_mix/stage1.jsonl"))[:4]
    torch.manual_seed(7)
    expected = torch.rand(4)
    torch.manual_seed(7)
    measure(samples, load_processor(tiny_tokenizer_path), 8192, {}, num_workers=0, progress=False)
    assert torch.equal(torch.rand(4), expected)
