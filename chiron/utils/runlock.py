"""One run folder, one writer: an exclusive lock every task holds on its run folder while it runs.

Two identical commands started into the same folder (a double-click in a SLURM script, a rerun
while the first is still going) would otherwise both search, pay and append every case. The lock
is an OS file lock (fcntl through `filelock`), so the kernel drops it when its process dies:
a lock left by a killed run never blocks the rerun. Who holds it (host, PID, start time, command)
is written beside it, for the refusal message.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from contextlib import contextmanager
from typing import Iterator

from filelock import FileLock, Timeout

from chiron.utils.errors import TaskFailed
from chiron.utils.jsonl import atomic_write_json, read_json_if_complete

LOCK_FILE = ".chiron-run.lock"
HOLDER_FILE = ".chiron-run.holder.json"


class RunFolderBusy(TaskFailed):
    """Another process is running a task in this folder."""


# Set by torchrun, Lightning's process launcher and srun for each process of one multi-process job.
RANK_VARIABLES = ("RANK", "LOCAL_RANK", "NODE_RANK", "GROUP_RANK")


def is_secondary_rank(environ: dict | None = None) -> bool:
    """A process of a multi-process job other than its global rank 0 (Lightning starts rank 1 by
    running the same command again): the job's rank 0 holds the lock for all of them."""
    env = os.environ if environ is None else environ
    if any(env.get(name, "0").strip() not in ("", "0") for name in RANK_VARIABLES):
        return True
    return int(env.get("SLURM_NTASKS", "1") or 1) > 1 and env.get("SLURM_PROCID", "0") != "0"


@contextmanager
def run_folder_lock(folder: str, wait_s: float = 0.0) -> Iterator[None]:
    """Hold `folder`'s run lock for the block; waits up to `wait_s` seconds (0: refuse at once).
    A secondary rank of a multi-process job takes no lock: its rank 0 holds it."""
    if is_secondary_rank():
        yield
        return
    folder = os.path.abspath(folder)
    os.makedirs(folder, exist_ok=True)
    lock = FileLock(os.path.join(folder, LOCK_FILE), timeout=max(0.0, float(wait_s)))
    try:
        lock.acquire()
    except Timeout:
        raise RunFolderBusy(busy_message(folder, wait_s)) from None
    try:
        atomic_write_json(os.path.join(folder, HOLDER_FILE), holder_record())
        yield
    finally:
        lock.release()


def holder_record() -> dict:
    return {"host": socket.gethostname(), "pid": os.getpid(),
            "started": time.strftime("%Y-%m-%d %H:%M:%S"), "command": " ".join(sys.argv)}


def busy_message(folder: str, wait_s: float) -> str:
    holder = read_json_if_complete(os.path.join(folder, HOLDER_FILE))
    if isinstance(holder, dict):
        who = f"PID {holder.get('pid')} on {holder.get('host')}, started {holder.get('started')}"
    else:
        who = "another process (its holder record is unreadable)"
    waited = f" (waited {wait_s:g} s)" if wait_s else ""
    return (f"run folder {folder} is in use by {who}{waited}: wait for it to finish, pick another "
            "run_name, or set run_lock.wait_s=SECONDS to wait for it")
