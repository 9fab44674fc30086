"""The training data of one curriculum stage: a mix file in the Sample format, measured once, batched by length.

Before training every sample is encoded once to learn its length and whether it fits `max_length`
(cut at the tail: "truncated"; cannot be cut without losing an image or every assistant token:
"dropped"). The result is cached beside the stage's outputs, keyed by the file's content and the
encoding settings, so a resumed or repeated stage does not measure again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytorch_lightning as pl

from chiron.data.sample import Sample, iter_samples
from chiron.train.batching import LengthGroupedBatchSampler, collate
from chiron.train.encoding import SampleTooLong, encode
from chiron.utils.jsonl import atomic_write_json, read_jsonl

log = logging.getLogger(__name__)


def read_stage_file(path: str) -> list[Sample]:
    """Samples of a mix file; relative image paths are taken relative to the file's folder."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"training file {path} does not exist (build it with task=build_mix)")
    folder = os.path.dirname(os.path.abspath(path))
    samples = list(iter_samples(read_jsonl(path)))
    for sample in samples:
        sample.images = [p if os.path.isabs(p) else os.path.normpath(os.path.join(folder, p)) for p in sample.images]
    if not samples:
        raise ValueError(f"training file {path} holds no samples")
    return samples


@dataclass
class Measured:
    lengths: list[int]               # per kept sample
    kept: list[int]                  # indices into the file's samples
    truncated: int
    dropped: int
    label_tokens: int

    def summary(self, total: int) -> dict:
        return {"samples": total, "kept": len(self.kept), "truncated": self.truncated,
                "dropped_too_long": self.dropped, "tokens": sum(self.lengths), "label_tokens": self.label_tokens}


class _Encoding:
    """Picklable sample -> Encoded function for DataLoader workers."""

    def __init__(self, samples: list[Sample], processor: Any, max_length: int, processor_kwargs: dict) -> None:
        self.samples, self.processor = samples, processor
        self.max_length, self.processor_kwargs = max_length, processor_kwargs

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> Any:
        return encode(self.samples[index], self.processor, self.max_length, self.processor_kwargs)


class _Measuring(_Encoding):
    def __getitem__(self, index: int) -> tuple[int, int, bool, bool]:
        try:
            e = super().__getitem__(index)
        except SampleTooLong as err:
            log.debug("%s", err)
            return 0, 0, False, True
        return len(e.input_ids), int((e.labels != -100).sum()), e.truncated, False


def measure(samples: list[Sample], processor: Any, max_length: int, processor_kwargs: dict, num_workers: int,
            progress: bool) -> Measured:
    from torch.utils.data import DataLoader
    from tqdm import tqdm

    loader = DataLoader(_Measuring(samples, processor, max_length, processor_kwargs), batch_size=None,
                        num_workers=num_workers)
    rows = list(tqdm(loader, total=len(samples), desc="measuring samples", disable=not progress, leave=False))
    kept = [i for i, row in enumerate(rows) if not row[3]]
    return Measured(lengths=[rows[i][0] for i in kept], kept=kept, truncated=sum(r[2] for r in rows),
                    dropped=sum(r[3] for r in rows), label_tokens=sum(r[1] for r in rows))


def measure_cached(path: str, samples: list[Sample], processor: Any, max_length: int, processor_kwargs: dict,
                   cache_file: str, num_workers: int = 0, progress: bool = True) -> Measured:
    key = _measure_key(path, processor, max_length, processor_kwargs)
    try:
        with open(cache_file) as f:
            cached = json.load(f)
        if cached.get("key") == key:
            return Measured(**cached["measured"])
    except (OSError, ValueError, TypeError):
        pass
    measured = measure(samples, processor, max_length, processor_kwargs, num_workers, progress)
    atomic_write_json(cache_file, {"key": key, "measured": measured.__dict__})
    return measured


def _measure_key(path: str, processor: Any, max_length: int, processor_kwargs: dict) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    settings = json.dumps({"max_length": max_length, "kwargs": processor_kwargs,
                           "tokenizer": getattr(processor.tokenizer, "name_or_path", ""),
                           "vocab": len(processor.tokenizer)}, sort_keys=True)
    return f"{digest.hexdigest()}:{hashlib.sha256(settings.encode()).hexdigest()[:16]}"


class StageData(pl.LightningDataModule):
    """Batches for one stage; `skip` is set from the restored step so a resumed epoch continues."""

    def __init__(self, path: str, processor: Any, max_length: int, micro_batch: int, accumulate: int,
                 out_dir: str, processor_kwargs: dict | None = None, seed: int = 0, num_workers: int = 0,
                 group_factor: int | None = None, progress: bool = True) -> None:
        super().__init__()
        self.path, self.processor, self.max_length = path, processor, max_length
        self.micro_batch, self.accumulate, self.seed = micro_batch, accumulate, seed
        self.processor_kwargs = dict(processor_kwargs or {})
        self.num_workers, self.group_factor, self.progress = num_workers, group_factor, progress
        self.samples = read_stage_file(path)
        self.measured = measure_cached(path, self.samples, processor, max_length, self.processor_kwargs,
                                       os.path.join(out_dir, "lengths.json"), num_workers, progress)
        if not self.measured.kept:
            raise ValueError(f"{path}: every sample is longer than max_length={max_length}")

    def optimizer_steps(self, world_size: int) -> int:
        """Optimizer steps of one full epoch (the last accumulation may be partial, Lightning still steps)."""
        return math.ceil(self._sampler(world_size, 0, 0).batches_per_epoch / self.accumulate)

    def sources(self) -> dict:
        return dict(Counter(self.samples[i].source for i in self.measured.kept))

    def _sampler(self, world_size: int, rank: int, skip: int) -> LengthGroupedBatchSampler:
        return LengthGroupedBatchSampler(self.measured.lengths, self.micro_batch, world_size, rank, self.seed,
                                         skip=skip, group_factor=self.group_factor)

    def train_dataloader(self) -> Any:
        from torch.utils.data import DataLoader, Subset

        trainer = self.trainer
        world, rank = (trainer.world_size, trainer.global_rank) if trainer is not None else (1, 0)
        steps_per_epoch = self.optimizer_steps(world)

        def skip() -> int:
            # Checkpoints are written after optimizer steps, so a restored run has consumed exactly
            # this many micro-batches of the current epoch (read when iteration starts).
            if trainer is None:
                return 0
            return max(trainer.global_step - trainer.current_epoch * steps_per_epoch, 0) * self.accumulate

        dataset = Subset(_Encoding(self.samples, self.processor, self.max_length, self.processor_kwargs),
                         self.measured.kept)
        pad_id = self.processor.tokenizer.pad_token_id
        if pad_id is None:
            raise ValueError("the tokenizer has no pad token")
        return DataLoader(dataset, batch_sampler=self._sampler(world, rank, skip), num_workers=self.num_workers,
                          collate_fn=_Collate(pad_id), persistent_workers=False)


class _Collate:
    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, encoded: list[Any]) -> dict:
        return collate(encoded, self.pad_id)
