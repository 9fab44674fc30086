"""Random state for resumable training: every generator saved with each checkpoint, put back on resume.

An uninterrupted stage and one killed and rerun must end with the same weights, bit for bit, and
LoRA dropout draws from torch's generator at every forward pass. So `RandomState`, a callback, puts
into every checkpoint the state of python's `random`, numpy's global generator, torch's CPU
generator and, where CUDA is in use, the generator of every CUDA device; a resumed fit puts them back
just before its first batch runs (`on_train_batch_start`), which is where the uninterrupted run was
when it wrote the checkpoint: between the save (after an optimizer step) and the next batch's
forward pass nothing draws from these generators, while a resumed fit has work of its own in
between (loading, building the dataloader iterator, ...) that may.

What needs no saved state: the sampler's order and the dataloader workers' seeds are functions of
(seed, epoch, rank) (`batching.py`, `datamodule.py`), and the restored step says where in the epoch
to continue; the checkpoint records them (`data`), and a resume under other settings is warned about.
Not restored: how far a dataloader worker's own generators had advanced within an epoch. The encoding
draws nothing today; an augmentation added there must draw from a generator seeded per sample.

Several processes (DDP, DeepSpeed): every rank's state is gathered into the checkpoint (written by
rank 0) and each rank takes its own back. A resume with another number of ranks cannot continue the
same random streams (nor the same data order), and says so.

`preserved_rng()` runs a block without moving any of these generators (the length pass uses it, so a
stage draws the same dropout masks whether its `lengths.json` was cached or not).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch

log = logging.getLogger(__name__)

VERSION = 1


def _cuda_in_use() -> bool:
    return torch.cuda.is_available() and torch.cuda.is_initialized()


def rng_states() -> dict:
    """This process's generators, in types a `weights_only` checkpoint load accepts."""
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    states = {
        "python": [version, list(internal), gauss],
        "numpy": [str(kind), [int(k) for k in keys], int(pos), int(has_gauss), float(cached)],
        "torch": torch.get_rng_state(),
    }
    if _cuda_in_use():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict) -> None:
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = states["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(states["torch"])
    cuda = states.get("cuda")
    if cuda and torch.cuda.is_available():
        count = torch.cuda.device_count()
        if len(cuda) != count:
            log.warning("the checkpoint holds the random state of %d CUDA devices, this process sees %d: "
                        "only the first %d are restored", len(cuda), count, min(len(cuda), count))
        for index, state in enumerate(cuda[:count]):
            torch.cuda.set_rng_state(state, index)
    elif cuda:
        log.warning("the checkpoint holds CUDA random states but no CUDA device is visible: not restored")


@contextmanager
def preserved_rng() -> Iterator[None]:
    """Run the block, then put every generator back as it was (CUDA's only if CUDA was in use)."""
    saved = rng_states()
    try:
        yield
    finally:
        set_rng_states(saved)


def _world() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_world_size(), torch.distributed.get_rank()
    return 1, 0


class RandomState(pl.Callback):
    """Saves every rank's random state with each checkpoint; restores it right before the resumed first batch.

    The data settings that decide the sampler's order and the workers' seeds (the datamodule's
    `random_settings()`: seed, world size, ...) are recorded too, and a resume under other ones is
    warned about.
    """

    def __init__(self) -> None:
        self._pending: dict | None = None
        self._trainer: pl.Trainer | None = None

    def state_dict(self) -> dict:
        # Lightning builds a checkpoint's contents on every rank (Trainer.save_checkpoint must be called
        # on all of them), so gathering here is a collective every rank takes part in.
        world, _ = _world()
        states = rng_states()
        if world > 1:
            gathered: list[Any] = [None] * world
            torch.distributed.all_gather_object(gathered, states)
        else:
            gathered = [states]
        return {"version": VERSION, "ranks": gathered, "data": self._data_settings()}

    def load_state_dict(self, state_dict: dict) -> None:
        self._pending = state_dict

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        # Lightning loads a checkpoint's callback states after `setup`: a fresh fit leaves nothing pending.
        self._pending, self._trainer = None, trainer

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.global_step > 0 and self._pending is None:
            log.warning("resumed at step %d from a checkpoint without random state (written by an older "
                        "version): the stage will not end with exactly the weights of an uninterrupted run",
                        trainer.global_step)

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        if self._pending is None:
            return
        state, self._pending = self._pending, None
        world, rank = _world()
        ranks = state.get("ranks") or []
        if len(ranks) != world:
            log.warning("the checkpoint was written by %d processes, this run has %d: the random streams "
                        "(and the data order) cannot continue as they were; rank %d takes rank %d's state",
                        len(ranks), world, rank, min(rank, len(ranks) - 1))
        if ranks:
            set_rng_states(ranks[min(rank, len(ranks) - 1)])
        saved, now = state.get("data"), self._data_settings()
        if saved is not None and now is not None and saved != now:
            log.warning("the checkpoint was written with data settings %s, this run has %s: the resumed stage "
                        "will not match an uninterrupted run", saved, now)

    def _data_settings(self) -> dict | None:
        settings = getattr(getattr(self._trainer, "datamodule", None), "random_settings", None)
        return settings() if callable(settings) else None
