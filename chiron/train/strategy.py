"""The DeepSpeed strategy, made runnable on CPU so that tests exercise the same path as GPU training.

Lightning's `DeepSpeedStrategy` refuses every accelerator but CUDA, yet DeepSpeed itself runs ZeRO on CPU
over a gloo process group. `CPUDeepSpeedStrategy` lifts Lightning's guard and mends the few
spots that assume a GPU, so the engine, the ZeRO optimizer, checkpoint directories and resume all run on
a CPU-only machine with the config used on GPUs. Hydra configs build it through `deepspeed_strategy`
(`_target_: chiron.train.strategy.deepspeed_strategy`), which picks the class from the accelerator.

Resuming from a checkpoint written with `exclude_frozen_parameters=True` needs a module with
`strict_loading = False` (as `LoRAFineTune` has): Lightning asks DeepSpeed for a strict module load, and
such a checkpoint has no frozen base weights. That holds on GPU as much as on CPU.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from pytorch_lightning.strategies import DeepSpeedStrategy
from pytorch_lightning.strategies.ddp import DDPStrategy
from pytorch_lightning.strategies.launchers import _SubprocessScriptLauncher
from pytorch_lightning.utilities.exceptions import MisconfigurationException

# What Lightning (its launcher, the strategy) writes to os.environ on the way to torch.distributed.
_LAUNCH_ENV = ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "RANK", "LOCAL_RANK", "WORLD_SIZE", "OMP_NUM_THREADS")


class _EnvRestoringLauncher(_SubprocessScriptLauncher):
    """Lightning's launcher, but a single-process run leaves os.environ as it found it.

    Lightning sets the variables above even for one device and never removes them. A leftover LOCAL_RANK
    makes the next Trainer in the process believe an external launcher started it, a leftover MASTER_PORT
    pins every later run to one port. Variables that were set before (torchrun, SLURM, the user) are
    rewritten by Lightning with the values it read from them, and put back as they were.

    When the launcher did start worker processes (devices > 1), the variables stay: Lightning relies on
    them so that a later `trainer.validate/test` in this process reuses those workers instead of
    launching new ones.
    """

    def launch(self, function: Callable, *args: Any, trainer: Any = None, **kwargs: Any) -> Any:
        saved = {key: os.environ.get(key) for key in _LAUNCH_ENV}
        try:
            return super().launch(function, *args, trainer=trainer, **kwargs)
        finally:
            if not self.procs:
                for key, value in saved.items():
                    if value is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = value


class CPUDeepSpeedStrategy(DeepSpeedStrategy):
    """DeepSpeed ZeRO on CPU: one process per device, gloo for communication (stage 1 is ours and tested).

    A single-process run (devices=1: tests, a laptop) releases what it set up when it ends (Lightning calls
    `teardown` at the end of every fit/validate/test, also on errors): its process group, DeepSpeed's
    accelerator choice, the environment. So save DeepSpeed checkpoints while fitting (`ModelCheckpoint`, or
    `trainer.save_checkpoint` from a callback); after `fit` returns there is no process group left for
    DeepSpeed's save. With several processes the group lives on, as with Lightning's own strategy.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("process_group_backend", "gloo")
        super().__init__(*args, **kwargs)
        self._release_process_group = False
        self._previous_ds_accelerator: Any = None

    @property
    def root_device(self) -> torch.device:
        # Lightning's CPU accelerator already hands out index-less CPU devices; say so explicitly, since
        # DDPStrategy.root_device would index `parallel_devices` by local rank.
        return torch.device("cpu")

    def _configure_launcher(self) -> None:
        super()._configure_launcher()
        if type(self._launcher) is _SubprocessScriptLauncher:
            self._launcher = _EnvRestoringLauncher(self.cluster_environment, self.num_processes, self.num_nodes)

    def setup_environment(self) -> None:
        # DeepSpeedStrategy.setup_environment only adds "raise unless CUDA" to DDP's; run DDP's directly.
        self._use_deepspeed_cpu_accelerator()
        from deepspeed.accelerator import get_accelerator

        # bf16 (mixed or true) works on CPU; fp16 only where oneDNN has fp16 kernels. Say so before any
        # process group exists rather than let DeepSpeed fail inside deepspeed.initialize.
        precision = self.precision_plugin.precision
        if precision in ("16-mixed", "16-true") and not get_accelerator().is_fp16_supported():
            raise MisconfigurationException(
                f"CPUDeepSpeedStrategy: precision={precision!r} needs fp16 kernels this CPU lacks (DeepSpeed:"
                " 'Type fp16 is not supported on your device'); use '32-true' or 'bf16-mixed' on CPU."
            )
        DDPStrategy.setup_environment(self)  # -> self.setup_distributed()

    def setup_distributed(self) -> None:
        # As Lightning's, minus its check that device indices equal local ranks: CPU devices have no index
        # (so [None] != [0] would always fail), and there is nothing to pin a CPU rank to anyway.
        from lightning_fabric.utilities.seed import reset_seed

        reset_seed()
        self.set_world_ranks()
        # A group that exists already (someone else's, or this process's earlier run) is reused by DeepSpeed.
        # Otherwise DeepSpeed creates one with `process_group_backend` (gloo) on MASTER_ADDR/MASTER_PORT,
        # which the launcher set to 127.0.0.1 and a free port unless they were given. Only a single-process
        # group is released at teardown: with several ranks, one rank tearing its group down while another
        # still uses it (or builds the next on the same port) hangs; those processes exist for this training
        # and Lightning reuses their group for a later validate/test, as it does on GPUs.
        self._release_process_group = not torch.distributed.is_initialized() and self.world_size == 1
        self._init_deepspeed_distributed()

    def _use_deepspeed_cpu_accelerator(self) -> None:
        # DeepSpeed picks one accelerator per process (CUDA when a GPU is visible) and takes device
        # placement, the communication backend and its op builds from it. Switch it to CPU in code, so no
        # one has to export DS_ACCELERATOR=cpu before the first `import deepspeed`; teardown switches back.
        from deepspeed.accelerator import get_accelerator, set_accelerator
        from deepspeed.accelerator.cpu_accelerator import CPU_Accelerator

        current = get_accelerator()
        if current.device_name() != "cpu":
            self._previous_ds_accelerator = current
            set_accelerator(CPU_Accelerator())

    @contextmanager
    def _device_rank(self) -> Iterator[None]:
        # Lightning calls deepspeed.initialize(args=Namespace(device_rank=root_device.index)). On CPU that is
        # None, which DeepSpeedEngine compares with 0 (TypeError). Only a rank >= 0 makes the engine take
        # world size and rank from torch.distributed (else it assumes a single process), so give it the
        # local rank; on CPU DeepSpeed uses it for nothing else.
        import deepspeed

        initialize = deepspeed.initialize

        def with_device_rank(*args: Any, **kwargs: Any) -> Any:
            ns = kwargs.get("args")
            if ns is not None and getattr(ns, "device_rank", None) is None:
                kwargs["args"] = argparse.Namespace(**{**vars(ns), "device_rank": self.local_rank})
            return initialize(*args, **kwargs)

        deepspeed.initialize = with_device_rank
        try:
            yield
        finally:
            deepspeed.initialize = initialize

    def _setup_model_and_optimizer(self, model, optimizer, lr_scheduler=None):  # type: ignore[no-untyped-def]
        with self._device_rank():
            return super()._setup_model_and_optimizer(model, optimizer, lr_scheduler)

    def _initialize_deepspeed_inference(self, model: torch.nn.Module) -> None:
        with self._device_rank():
            super()._initialize_deepspeed_inference(model)

    def save_checkpoint(self, checkpoint: dict, filepath: Any, storage_options: Any = None) -> None:
        if not torch.distributed.is_initialized():
            raise RuntimeError(
                "CPUDeepSpeedStrategy: the run is over and its process group released, so DeepSpeed cannot"
                " save; save while fitting (ModelCheckpoint, or trainer.save_checkpoint in a callback)."
            )
        super().save_checkpoint(checkpoint, filepath, storage_options)

    def teardown(self) -> None:
        super().teardown()
        # Lightning never destroys a gloo group (only NCCL ones, at exit). Left alive, the next Trainer in
        # this process (the next test, the next curriculum stage) would silently reuse it, with the old
        # world size and port. DeepSpeed's destroy also drops the groups it cached (a clone of WORLD that
        # ZeRO uses), which the next deepspeed.initialize would otherwise find pointing at a dead group.
        if self._release_process_group and torch.distributed.is_initialized():
            import deepspeed.comm

            deepspeed.comm.destroy_process_group()
        self._release_process_group = False
        if self._previous_ds_accelerator is not None:
            from deepspeed.accelerator import set_accelerator

            set_accelerator(self._previous_ds_accelerator)
            self._previous_ds_accelerator = None


_CUDA = ("gpu", "cuda")
_CPU = ("cpu",)


def deepspeed_strategy(
    stage: int = 1, accelerator: str = "auto", exclude_frozen_parameters: bool = True, **kwargs: Any
) -> DeepSpeedStrategy:
    """Lightning's `DeepSpeedStrategy` on CUDA, `CPUDeepSpeedStrategy` on CPU; `accelerator` as in Trainer.

    `exclude_frozen_parameters` defaults to True: we train adapters, and the frozen base weights come from
    the base model, so checkpoints need not carry them. Other keyword arguments go to the strategy.
    """
    name = str(accelerator).lower()
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name in _CUDA:
        cls = DeepSpeedStrategy
    elif name in _CPU:
        cls = CPUDeepSpeedStrategy
    else:
        raise MisconfigurationException(f"deepspeed_strategy: accelerator {accelerator!r} is neither CUDA nor CPU")
    return cls(stage=stage, exclude_frozen_parameters=exclude_frozen_parameters, **kwargs)
