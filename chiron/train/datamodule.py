"""The training data of one curriculum stage: a mix file in the Sample format, measured once, batched by length.

Before training every sample is encoded once to learn its length and whether it fits `max_length`
(cut at the tail: "truncated"; cannot be cut without losing an image or every assistant token:
"dropped", counted as `dropped_too_long`). A sample with an image that cannot be used (missing,
empty, not an image, truncated, too many pixels: `chiron.llm.images.check_image`) is dropped too and
counted as `dropped_bad_image`, with its reason; a stage whose every sample is dropped fails, naming
the first reasons. The result is cached beside the stage's outputs (`lengths.json`), keyed by the
file's content, the encoding settings and the image pixel limit, so a resumed or repeated stage does
not measure again. The length pass moves no random generator (`rng.preserved_rng`): a stage draws
the same dropout masks whether `lengths.json` was cached or not.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from chiron.data.sample import Sample, iter_samples
from chiron.train.batching import LengthGroupedBatchSampler, collate
from chiron.train.encoding import SampleTooLong, encode
from chiron.train.rng import preserved_rng
from chiron.utils.errors import TaskFailed
from chiron.utils.hashing import file_digest
from chiron.utils.jsonl import atomic_write_json, read_jsonl

log = logging.getLogger(__name__)

MEASURE_VERSION = 2          # part of lengths.json's key: 2 = bad images are dropped and counted
BAD_IMAGE_REASONS_KEPT = 20  # reasons kept in lengths.json / stage.json for the dropped bad-image samples


class StageDataUnusable(TaskFailed, ValueError):
    """Every sample of a stage's file was dropped: nothing to train on."""


class UnusableImage(ValueError):
    """An image of a sample could not be loaded (chiron.llm.images' BadImage, from the loader)."""


def load_image(path: str) -> Any:
    """`chiron.llm.images.load_rgb`, whose refusal (a ValueError: BadImage) becomes UnusableImage, so the
    length pass can tell an image problem from any other ValueError of the encoding."""
    from chiron.llm.images import load_rgb

    try:
        return load_rgb(path)
    except ValueError as err:
        raise UnusableImage(str(err)) from err


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
    dropped: int                     # too long (cannot be cut)
    label_tokens: int
    dropped_bad_image: int = 0       # an image of the sample cannot be used
    bad_image_by_category: dict[str, int] = field(default_factory=dict)  # BadImage.category -> samples
    bad_image_reasons: list[str] = field(default_factory=list)  # the first BAD_IMAGE_REASONS_KEPT

    def summary(self, total: int) -> dict:
        return {"samples": total, "kept": len(self.kept), "truncated": self.truncated,
                "dropped_too_long": self.dropped, "dropped_bad_image": self.dropped_bad_image,
                "dropped_bad_image_by_category": dict(self.bad_image_by_category),
                "tokens": sum(self.lengths), "label_tokens": self.label_tokens}


class _Encoding:
    """Picklable sample -> Encoded function for DataLoader workers."""

    def __init__(self, samples: list[Sample], processor: Any, max_length: int, processor_kwargs: dict) -> None:
        self.samples, self.processor = samples, processor
        self.max_length, self.processor_kwargs = max_length, processor_kwargs

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> Any:
        return encode(self.samples[index], self.processor, self.max_length, self.processor_kwargs,
                      load_image=load_image)


class _Training(_Encoding):
    def __getitem__(self, index: int) -> Any:
        try:
            return super().__getitem__(index)
        except UnusableImage as err:
            # The length pass decoded this image and kept the sample: the file changed since.
            raise UnusableImage(f"sample {self.samples[index].id}: {err}; the image changed after this stage's "
                                "length pass: restore it, or delete the stage's lengths.json so the next run "
                                "measures again and drops the sample") from err


_KEEP, _TOO_LONG, _BAD_IMAGE = "", "too_long", "bad_image"


def _category(err: BaseException) -> str:
    """BadImage's category (missing, empty, not_an_image, too_many_pixels, undecodable, ...)."""
    return str(getattr(err, "category", None) or getattr(err.__cause__, "category", None) or "unreadable")


class _Measuring(_Encoding):
    def __getitem__(self, index: int) -> tuple[int, int, bool, str, str, str]:
        """(length, label tokens, truncated, why dropped: "" | too_long | bad_image, the reason, image category)."""
        from chiron.llm.images import check_image

        sample = self.samples[index]
        for path in sample.images:
            try:
                check_image(path)
            except ValueError as err:  # BadImage: missing, empty, not an image, truncated, too many pixels
                return 0, 0, False, _BAD_IMAGE, f"sample {sample.id}: {err}", _category(err)
        try:
            e = super().__getitem__(index)
        except SampleTooLong as err:
            log.debug("%s", err)
            return 0, 0, False, _TOO_LONG, str(err), ""
        except UnusableImage as err:  # passed the check, yet the loader refused it
            return 0, 0, False, _BAD_IMAGE, f"sample {sample.id}: {err}", _category(err)
        return len(e.input_ids), int((e.labels != -100).sum()), e.truncated, _KEEP, "", ""


def measure(samples: list[Sample], processor: Any, max_length: int, processor_kwargs: dict, num_workers: int,
            progress: bool) -> Measured:
    """Every sample's length, or why it is dropped; moves no random generator of this process."""
    from tqdm import tqdm

    # Every sample is rendered and tokenized once (images included): minutes on a large stage file.
    started = time.monotonic()
    log.info("measuring the token length of %d samples", len(samples))
    with preserved_rng():
        # Its own generator: making the iterator would otherwise draw the workers' base seed from
        # torch's global generator (preserved_rng puts that back anyway).
        loader = DataLoader(_Measuring(samples, processor, max_length, processor_kwargs), batch_size=None,
                            num_workers=num_workers, generator=torch.Generator().manual_seed(0))
        rows = list(tqdm(loader, total=len(samples), desc="measuring samples", disable=not progress,
                         leave=False))
    log.info("measured %d samples in %.1f s", len(samples), time.monotonic() - started)
    kept = [i for i, row in enumerate(rows) if row[3] == _KEEP]
    bad = [row for row in rows if row[3] == _BAD_IMAGE]
    return Measured(lengths=[rows[i][0] for i in kept], kept=kept, truncated=sum(bool(r[2]) for r in rows),
                    dropped=sum(r[3] == _TOO_LONG for r in rows), label_tokens=sum(r[1] for r in rows),
                    dropped_bad_image=len(bad), bad_image_by_category=dict(Counter(r[5] for r in bad)),
                    bad_image_reasons=[r[4] for r in bad[:BAD_IMAGE_REASONS_KEPT]])


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
    from chiron.llm.images import pixel_limit

    settings = json.dumps({"max_length": max_length, "kwargs": processor_kwargs,
                           "tokenizer": getattr(processor.tokenizer, "name_or_path", ""),
                           "vocab": len(processor.tokenizer), "measure": MEASURE_VERSION,
                           "max_pixels": pixel_limit()}, sort_keys=True)
    return f"{file_digest(path)}:{hashlib.sha256(settings.encode()).hexdigest()[:16]}"


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
        m = self.measured
        if m.dropped_bad_image:
            log.warning("%s: %d of %d samples dropped for an unusable image (%s), first: %s", path,
                        m.dropped_bad_image, len(self.samples),
                        ", ".join(f"{n} {c}" for c, n in m.bad_image_by_category.items()),
                        "; ".join(m.bad_image_reasons[:3]))
        if not m.kept:
            reasons = "; ".join(m.bad_image_reasons[:3])
            raise StageDataUnusable(
                f"{path}: every one of its {len(self.samples)} samples was dropped ({m.dropped} too long for "
                f"max_length={max_length} without cutting an image or every answer token, {m.dropped_bad_image} "
                f"with an unusable image{': ' + reasons if reasons else ''}); nothing to train on")

    def optimizer_steps(self, world_size: int) -> int:
        """Optimizer steps of one full epoch (the last accumulation may be partial, Lightning still steps)."""
        return math.ceil(self._sampler(world_size, 0, 0).batches_per_epoch / self.accumulate)

    def sources(self) -> dict:
        return dict(Counter(self.samples[i].source for i in self.measured.kept))

    def _sampler(self, world_size: int, rank: int, skip: Any, epoch: Any = 0) -> LengthGroupedBatchSampler:
        return LengthGroupedBatchSampler(self.measured.lengths, self.micro_batch, world_size, rank, self.seed,
                                         epoch=epoch, skip=skip, group_factor=self.group_factor)

    def random_settings(self) -> dict:
        """What decides the data order and the workers' seeds; recorded in checkpoints (rng.RandomState)."""
        world = self.trainer.world_size if self.trainer is not None else 1
        return {"seed": self.seed, "world_size": world, "micro_batch": self.micro_batch,
                "accumulate": self.accumulate, "samples": len(self.measured.kept), "group_factor": self.group_factor}

    def train_dataloader(self) -> Any:
        from torch.utils.data import Subset

        trainer = self.trainer
        world, rank = (trainer.world_size, trainer.global_rank) if trainer is not None else (1, 0)
        steps_per_epoch = self.optimizer_steps(world)

        def epoch() -> int:
            return trainer.current_epoch if trainer is not None else 0

        def skip() -> int:
            # Checkpoints are written after optimizer steps, so a restored run has consumed exactly
            # this many micro-batches of the current epoch (read when iteration starts).
            if trainer is None:
                return 0
            return max(trainer.global_step - trainer.current_epoch * steps_per_epoch, 0) * self.accumulate

        def loader_seed() -> int:
            # The workers' base seed comes from the loader's own generator, seeded per (seed, epoch, rank):
            # the same in a resumed epoch as in the uninterrupted one, whatever drew from torch's global
            # generator before (Lightning adds rank-aware seeding in the workers on top).
            return ((self.seed * 1_000_003 + epoch()) * 1_009 + rank) % (1 << 63)

        dataset = Subset(_Training(self.samples, self.processor, self.max_length, self.processor_kwargs),
                         self.measured.kept)
        pad_id = self.processor.tokenizer.pad_token_id
        if pad_id is None:
            raise ValueError("the tokenizer has no pad token")
        return EpochSeededLoader(dataset, loader_seed, batch_sampler=self._sampler(world, rank, skip, epoch),
                                 num_workers=self.num_workers, collate_fn=_Collate(pad_id), persistent_workers=False)


class EpochSeededLoader(DataLoader):
    """A DataLoader with its own generator, seeded from `seed_fn()` each time an epoch's iterator is made.

    Making an iterator draws the workers' base seed from the loader's generator, or from torch's global
    one when it has none: a resumed epoch would then give its workers other seeds than the
    uninterrupted one did, and move the global stream the training's dropout draws from.
    """

    def __init__(self, dataset: Any, seed_fn: Callable[[], int], **kwargs: Any) -> None:
        super().__init__(dataset, generator=torch.Generator(), **kwargs)
        self.seed_fn = seed_fn

    def __iter__(self) -> Any:
        self.generator.manual_seed(int(self.seed_fn()))
        return super().__iter__()


class _Collate:
    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, encoded: list[Any]) -> dict:
        return collate(encoded, self.pad_id)
