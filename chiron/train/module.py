"""The LightningModule: next-token loss on the assistant tokens, AdamW with warmup + cosine decay."""

from __future__ import annotations

import collections
import math
from dataclasses import dataclass
from typing import Any

import pytorch_lightning as pl

from chiron.train.flops import flops_model


@dataclass
class OptimConfig:
    lr: float = 4e-5
    weight_decay: float = 0.05
    warmup_ratio: float = 0.03
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8


class LoRAFineTune(pl.LightningModule):
    def __init__(self, model: Any, optim: OptimConfig, total_steps: int, loss_window: int = 1) -> None:
        super().__init__()
        if total_steps < 1:
            raise ValueError("a stage needs at least one optimizer step")
        self.model = model
        # from_pretrained leaves the model in eval mode, and Lightning keeps each submodule's mode:
        # without this, LoRA dropout would silently never apply.
        self.model.train()
        self.optim = optim
        self.total_steps = total_steps
        # Checkpoints keep only the trainable weights (see on_save_checkpoint), so loading one must
        # not ask for the frozen base weights.
        self.strict_loading = False
        self._flops = flops_model(model)
        self.flops_per_batch: float = 0.0  # read by Lightning's ThroughputMonitor after each batch
        # The losses of the first and of the latest `loss_window` micro-batches (one optimizer step's
        # worth) seen by this process: the stage record reports the mean of each (one micro-batch's
        # loss is too noisy to compare). Kept as tensors, read once at the stage's end: turning each
        # into a float would wait for the GPU at every micro-batch.
        self.loss_window = max(1, int(loss_window))
        self.first_losses: list[Any] = []
        self.last_losses: collections.deque = collections.deque(maxlen=self.loss_window)

    def training_step(self, batch: dict, batch_idx: int) -> Any:
        self.flops_per_batch = self._flops.batch(batch["input_ids"], batch["attention_mask"],
                                                 batch.get("pixel_values"))
        loss = self.model(**batch).loss
        kept = loss.detach()
        if len(self.first_losses) < self.loss_window:
            self.first_losses.append(kept)
        self.last_losses.append(kept)
        size = batch["input_ids"].shape[0]
        self.log("train/loss", loss, prog_bar=True, batch_size=size)
        self.log("train/lr", self.optimizers().param_groups[0]["lr"], prog_bar=True, batch_size=size)
        self.log("train/label_tokens", (batch["labels"] != -100).sum().float(), reduce_fx="sum", batch_size=size)
        return loss

    def configure_optimizers(self) -> Any:
        import torch
        from transformers import get_cosine_schedule_with_warmup

        trainable = [p for p in self.model.parameters() if p.requires_grad]
        if not trainable:
            raise ValueError("the model has no trainable parameters")
        # The usual exemption: no decay on biases and norm weights (1-D), decay on matrices.
        groups = [
            {"params": [p for p in trainable if p.dim() >= 2], "weight_decay": self.optim.weight_decay},
            {"params": [p for p in trainable if p.dim() < 2], "weight_decay": 0.0},
        ]
        optimizer = torch.optim.AdamW([g for g in groups if g["params"]], lr=self.optim.lr,
                                      betas=tuple(self.optim.betas), eps=self.optim.eps)
        warmup = math.ceil(self.optim.warmup_ratio * self.total_steps)
        scheduler = get_cosine_schedule_with_warmup(optimizer, warmup, self.total_steps)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # Without this every checkpoint would carry the whole frozen base model (16 GB for 8B).
        if "state_dict" in checkpoint:
            keep = {f"model.{name}" for name, p in self.model.named_parameters() if p.requires_grad}
            checkpoint["state_dict"] = {k: v for k, v in checkpoint["state_dict"].items() if k in keep}
