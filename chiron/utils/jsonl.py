"""Crash-safe JSON Lines: whole-line appends, tolerant reads, atomic rewrites.

Each line goes out in a single write() on an O_APPEND descriptor, so a process killed at any
moment leaves whole lines behind; a torn tail (power loss) is cut off before appending again.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Iterable, Iterator


class JsonlAppender:
    def __init__(self, path: str, fsync: bool = False) -> None:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        repair_tail(path)
        self.path = path
        self._fsync = fsync
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write(self, obj: dict) -> None:
        data = (json.dumps(obj, ensure_ascii=False) + "\n").encode("utf-8")
        written = os.write(self._fd, data)
        if written != len(data):  # only on a full disk or similar; never leave half a line behind
            raise OSError(f"short write to {self.path}: {written} of {len(data)} bytes")
        if self._fsync:
            os.fsync(self._fd)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> "JsonlAppender":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def repair_tail(path: str) -> None:
    """Cut a partial last line (no trailing newline) so the next append starts a fresh line."""
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        return
    with open(path, "rb+") as f:
        f.seek(-1, os.SEEK_END)
        if f.read(1) == b"\n":
            return
        f.seek(0)
        data = f.read()
        f.truncate(data.rfind(b"\n") + 1)


def read_jsonl(path: str) -> Iterator[dict]:
    """Yield parseable lines; a torn or corrupt line is skipped, never fatal."""
    if not os.path.exists(path):
        return
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.endswith("\n"):
                return  # torn tail
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(obj, dict):
                yield obj


def atomic_write_bytes(path: str, data: bytes) -> None:
    """Write via a temporary file in the same folder and a rename: readers see old or new, never half."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str, obj: object) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def atomic_write_jsonl(path: str, rows: Iterable[dict]) -> None:
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def read_json_file(path: str) -> object:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def read_json_if_complete(path: str) -> object | None:
    """The JSON in `path`, or None when it is missing or unreadable (a marker not written yet)."""
    try:
        return read_json_file(path)
    except (OSError, ValueError):
        return None
