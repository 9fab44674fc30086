"""Micro-batches of similar length, split across ranks, that can resume mid-epoch; and their collation.

Why our own batch sampler instead of Lightning's distributed wrapping: the wrapper reshuffles a
custom sampler's output sample by sample (undoing the length grouping) and restarts an epoch from
its first batch after a resume. Here one seeded order is drawn for all ranks, each optimizer-step
group of `micro_batch * world_size` samples has similar lengths, rank r takes its slice of every
group, and `skip` drops the micro-batches a resumed run has already trained on.

`skip` may be a callable read when iteration starts: Lightning restores a checkpoint's step count
after the dataloader is built but before it is iterated. `len()` stays the whole epoch's count
either way, because Lightning's batch counter also resumes from the checkpoint and ends the epoch
when it reaches `len()`. `epoch` may be a callable too (the trainer's current epoch): Lightning
calls `set_epoch` on a dataloader's sampler and on its batch sampler's `.sampler`, never on the
batch sampler itself, so without it every epoch would repeat the first one's order.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterator

from chiron.train.encoding import IGNORE_INDEX


class LengthGroupedBatchSampler:
    def __init__(self, lengths: list[int], micro_batch: int, world_size: int = 1, rank: int = 0,
                 seed: int = 0, epoch: int | Callable[[], int] = 0, skip: int | Callable[[], int] = 0,
                 group_factor: int | None = None) -> None:
        if micro_batch < 1 or world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"bad batching: micro_batch={micro_batch} world_size={world_size} rank={rank}")
        if not lengths:
            raise ValueError("no samples to batch")
        self.lengths = list(lengths)
        self.micro_batch, self.world_size, self.rank = micro_batch, world_size, rank
        self.seed, self.epoch, self.skip = seed, epoch, skip
        self.group_factor = group_factor

    def set_epoch(self, epoch: int) -> None:
        """Every epoch gets its own order (for callers that set it; see `epoch` above)."""
        self.epoch = epoch

    def current_epoch(self) -> int:
        return int(self.epoch()) if callable(self.epoch) else int(self.epoch)

    @property
    def batches_per_epoch(self) -> int:
        """Micro-batches each rank yields in a whole epoch (the last group is padded, see `_order`)."""
        return math.ceil(len(self.lengths) / (self.micro_batch * self.world_size))

    def __len__(self) -> int:
        return self.batches_per_epoch

    def __iter__(self) -> Iterator[list[int]]:
        order = self._order()
        group = self.micro_batch * self.world_size
        skip = self.skip() if callable(self.skip) else self.skip
        for b in range(skip, self.batches_per_epoch):
            start = b * group + self.rank * self.micro_batch
            yield order[start:start + self.micro_batch]

    def _order(self) -> list[int]:
        import torch
        from transformers.trainer_pt_utils import get_length_grouped_indices

        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.current_epoch())
        group = self.micro_batch * self.world_size
        order = get_length_grouped_indices(self.lengths, group, self.group_factor, generator)
        # Every rank must take the same number of steps, so a short last group is filled with the
        # first samples again (as torch's DistributedSampler does); with one rank and a partial last
        # micro-batch there is nothing to fill.
        if self.world_size > 1:
            order += order[: (-len(order)) % group]
        return order


def collate(encoded: list[Any], pad_id: int) -> dict:
    """Right-pad ids/labels into a batch; image tensors of all samples are concatenated (as the models expect)."""
    import torch

    width = max(len(e.input_ids) for e in encoded)
    batch = {
        "input_ids": torch.full((len(encoded), width), pad_id, dtype=torch.long),
        "labels": torch.full((len(encoded), width), IGNORE_INDEX, dtype=torch.long),
        "attention_mask": torch.zeros((len(encoded), width), dtype=torch.long),
    }
    for i, e in enumerate(encoded):
        n = len(e.input_ids)
        batch["input_ids"][i, :n] = e.input_ids
        batch["labels"][i, :n] = e.labels
        batch["attention_mask"][i, :n] = 1
    keys = sorted({k for e in encoded for k in e.images})
    for key in keys:
        batch[key] = torch.cat([e.images[key] for e in encoded if key in e.images], dim=0)
    return batch
