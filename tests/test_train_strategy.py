"""DeepSpeed ZeRO on CPU through `chiron.train.strategy`: fit, checkpoint, resume, and no leftovers.

The first DeepSpeed run on a machine JIT-compiles a small shared-memory op (45-90 s, then cached under
~/.cache/torch_extensions, or TORCH_EXTENSIONS_DIR); after that the whole file takes a few seconds.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

pl = pytest.importorskip("pytorch_lightning")
pytest.importorskip("deepspeed")

from pytorch_lightning.callbacks import Callback, ModelCheckpoint
from pytorch_lightning.strategies import DeepSpeedStrategy
from pytorch_lightning.utilities.exceptions import MisconfigurationException

from chiron.train.strategy import CPUDeepSpeedStrategy, deepspeed_strategy

DIST_ENV = ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "RANK", "LOCAL_RANK", "WORLD_SIZE", "OMP_NUM_THREADS")
STEPS_PER_EPOCH = 8  # 64 samples, batches of 8


class FrozenBasePlusHead(pl.LightningModule):
    """A frozen "base" projection and a trainable head, on a task the head can learn exactly."""

    def __init__(self) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(0)
        self.base = torch.nn.Linear(8, 16)
        self.head = torch.nn.Linear(16, 1)
        with torch.no_grad():  # same start for every instance, whatever the global seed
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=gen) * 0.3)
        self.base.requires_grad_(False)
        # Like LoRAFineTune: checkpoints leave out the frozen weights, so a strict load would fail.
        self.strict_loading = False
        self.losses: list[float] = []
        # The data, made here in float32 (under bf16 DeepSpeed casts the module itself later on).
        x = torch.randn(64, 8, generator=gen)
        with torch.no_grad():
            y = torch.tanh(self.base(x)) @ torch.randn(16, 1, generator=gen)
        self.data = torch.utils.data.TensorDataset(x, y)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.head(torch.tanh(self.base(x))).float(), y.float())
        self.losses.append(loss.item())
        return loss

    def configure_optimizers(self):
        optimizer = torch.optim.AdamW([p for p in self.parameters() if p.requires_grad], lr=0.1)
        # A per-step schedule, so resume must restore it too.
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 / (1.0 + 0.1 * step))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def train_dataloader(self):
        # No shuffling: a resumed run must see the same batches as an uninterrupted one.
        return torch.utils.data.DataLoader(self.data, batch_size=8)


def trainer(max_steps: int, precision: str = "32-true", **kwargs) -> pl.Trainer:
    kwargs.setdefault("enable_checkpointing", False)
    return pl.Trainer(
        accelerator="cpu", devices=1, strategy=deepspeed_strategy(stage=1, accelerator="cpu"),
        max_steps=max_steps, precision=precision, logger=False, enable_progress_bar=False,
        enable_model_summary=False, **kwargs,
    )


def trainable(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: p.detach().float().clone() for k, p in module.named_parameters() if p.requires_grad}


def frozen(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: p.detach().clone() for k, p in module.named_parameters() if not p.requires_grad}


def unchanged(before: dict[str, torch.Tensor], after: dict[str, torch.Tensor]) -> bool:
    # Under bf16 DeepSpeed casts the module, frozen weights included: compare in the dtype they ended in.
    return before.keys() == after.keys() and all(torch.equal(before[k].to(v.dtype), v) for k, v in after.items())


@pytest.fixture(autouse=True)
def no_leftovers():
    """Every run must leave the process as it found it: no process group, no distributed env vars."""
    env = {k: os.environ.get(k) for k in DIST_ENV}
    assert not torch.distributed.is_initialized()
    yield
    assert not torch.distributed.is_initialized(), "the strategy left its process group behind"
    assert {k: os.environ.get(k) for k in DIST_ENV} == env, "the strategy left environment variables behind"


@pytest.mark.parametrize("precision", ["32-true", "bf16-mixed"])
def test_fit_runs_deepspeed_zero1_on_cpu(precision):
    model = FrozenBasePlusHead()
    start_trainable, start_frozen = trainable(model), frozen(model)
    run = trainer(max_steps=2 * STEPS_PER_EPOCH, precision=precision)
    run.fit(model)

    assert isinstance(run.strategy, CPUDeepSpeedStrategy)
    engine = run.strategy.deepspeed_engine
    assert type(engine).__name__ == "DeepSpeedEngine"
    assert engine.zero_optimization_stage() == 1
    assert run.global_step == 2 * STEPS_PER_EPOCH
    end_trainable = trainable(model)
    assert all(not torch.equal(start_trainable[k], end_trainable[k]) for k in start_trainable)
    assert unchanged(start_frozen, frozen(model))
    first_epoch, second_epoch = model.losses[:STEPS_PER_EPOCH], model.losses[STEPS_PER_EPOCH:]
    assert sum(second_epoch) < 0.5 * sum(first_epoch), model.losses


class SaveAt(Callback):
    """`trainer.save_checkpoint` from inside the fit, at one optimizer step."""

    def __init__(self, step: int, path: Path) -> None:
        self.step, self.path = step, path

    def on_train_batch_end(self, trainer, *args) -> None:
        if trainer.global_step == self.step:
            trainer.save_checkpoint(self.path)


def test_checkpoint_resume_matches_uninterrupted_run(tmp_path):
    total, middle = 2 * STEPS_PER_EPOCH, STEPS_PER_EPOCH  # save at the epoch boundary

    full = FrozenBasePlusHead()
    ckpt = ModelCheckpoint(dirpath=tmp_path / "ckpts", every_n_train_steps=middle, save_top_k=-1)
    trainer(total, callbacks=[ckpt, SaveAt(middle, tmp_path / "manual.ckpt")], enable_checkpointing=True).fit(full)
    expected = trainable(full)

    # DeepSpeed writes a directory; with exclude_frozen_parameters only the head is in it.
    saved = tmp_path / "ckpts" / f"epoch=0-step={middle}.ckpt"
    assert saved.is_dir(), sorted(p.name for p in (tmp_path / "ckpts").iterdir())
    states = torch.load(saved / "checkpoint" / "mp_rank_00_model_states.pt", map_location="cpu", weights_only=False)
    assert set(states["module"]) == {"head.weight", "head.bias"}
    assert states["global_step"] == middle
    assert (tmp_path / "manual.ckpt" / "checkpoint" / "mp_rank_00_model_states.pt").is_file()

    for i, path in enumerate((saved, tmp_path / "manual.ckpt")):
        resumed = FrozenBasePlusHead()
        start_frozen = frozen(resumed)
        again = ModelCheckpoint(dirpath=tmp_path / f"resumed{i}", every_n_train_steps=middle, save_top_k=-1)
        run = trainer(total, callbacks=[again], enable_checkpointing=True)
        run.fit(resumed, ckpt_path=str(path))
        assert (tmp_path / f"resumed{i}" / f"epoch=1-step={total}.ckpt").is_dir()
        assert run.global_step == total
        assert len(resumed.losses) == total - middle  # only the second half was trained again
        got = trainable(resumed)
        for k in expected:
            torch.testing.assert_close(got[k], expected[k], rtol=1e-5, atol=1e-6, msg=f"{k} from {path.name}")
        assert unchanged(start_frozen, frozen(resumed))


def test_save_after_fit_says_why_it_cannot(tmp_path):
    run = trainer(2)
    run.fit(FrozenBasePlusHead())
    with pytest.raises(RuntimeError, match="save while fitting"):
        run.save_checkpoint(tmp_path / "after.ckpt")


def test_given_master_port_is_used_and_kept(monkeypatch):
    from lightning_fabric.plugins.environments.lightning import find_free_network_port

    port = str(find_free_network_port())
    monkeypatch.setenv("MASTER_PORT", port)
    run = trainer(2)
    run.fit(FrozenBasePlusHead())
    assert run.strategy.cluster_environment.main_port == int(port)
    assert os.environ["MASTER_PORT"] == port
    assert "LOCAL_RANK" not in os.environ


def test_fp16_on_cpu_fails_clearly_and_cleans_up():
    from deepspeed.accelerator.cpu_accelerator import CPU_Accelerator

    if CPU_Accelerator().is_fp16_supported():
        pytest.skip("this CPU has fp16 kernels")
    with pytest.raises(MisconfigurationException, match="fp16"):
        trainer(2, precision="16-mixed").fit(FrozenBasePlusHead())


def test_factory_picks_the_class_by_accelerator():
    cpu = deepspeed_strategy(accelerator="cpu")
    assert isinstance(cpu, CPUDeepSpeedStrategy)
    assert cpu.exclude_frozen_parameters is True
    assert cpu.config["zero_optimization"]["stage"] == 1
    for name in ("gpu", "cuda", "GPU"):
        gpu = deepspeed_strategy(stage=2, accelerator=name)
        assert type(gpu) is DeepSpeedStrategy
        assert gpu.config["zero_optimization"]["stage"] == 2
        assert gpu.exclude_frozen_parameters is True
    assert deepspeed_strategy(accelerator="cpu", exclude_frozen_parameters=False).exclude_frozen_parameters is False
    auto = deepspeed_strategy(accelerator="auto")
    assert type(auto) is (DeepSpeedStrategy if torch.cuda.is_available() else CPUDeepSpeedStrategy)
    with pytest.raises(MisconfigurationException):
        deepspeed_strategy(accelerator="mps")
