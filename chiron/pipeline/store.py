"""Where stage results live: `<store_dir>/<stage>/<key>/`, finished when `stage_done.json` is there.

Every pipeline run and sweep arm shares one store, so a result is computed once. A lock per
stage key lets parallel arms (a SLURM sweep) wait for the one arm computing it instead of
computing it twice; an unfinished folder (a crash) is picked up again by the next run, and the
stage's own job resumes inside it.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from typing import Iterator

from filelock import FileLock

from chiron.utils.jsonl import atomic_write_json, read_json_if_complete

DONE = "stage_done.json"


class StageStore:
    def __init__(self, root: str):
        self.root = os.path.abspath(root)

    def folder(self, stage: str, key: str) -> str:
        return os.path.join(self.root, stage, key)

    def finished(self, stage: str, key: str) -> dict | None:
        """The stored record of a finished stage, or None (never run, or cut off before the end)."""
        return read_json_if_complete(os.path.join(self.folder(stage, key), DONE))

    def mark_finished(self, stage: str, key: str, record: dict) -> None:
        # Written last and atomically: its presence is what "finished" means.
        atomic_write_json(os.path.join(self.folder(stage, key), DONE), record)

    def set_aside(self, stage: str, key: str) -> str | None:
        """Move a stored result out of the way (pipeline.recompute) instead of deleting it; returns
        where it went, or None when there was nothing."""
        folder = self.folder(stage, key)
        if not os.path.exists(folder):
            return None
        with FileLock(folder + ".lock"):
            aside = f"{folder}.old-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
            os.rename(folder, aside)
        return aside

    @contextmanager
    def claim(self, stage: str, key: str) -> Iterator[str]:
        """Hold the stage key's lock; yields its folder (created)."""
        folder = self.folder(stage, key)
        os.makedirs(folder, exist_ok=True)
        with FileLock(folder + ".lock"):
            yield folder
