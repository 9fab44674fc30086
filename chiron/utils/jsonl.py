"""Crash-safe JSON Lines: whole-line appends, tolerant reads, atomic rewrites.

Each line goes out in a single write() on an O_APPEND descriptor, so a process killed at any
moment leaves whole lines behind; a torn tail (power loss) is cut off before appending again. A
write that fails part-way (a full disk, a file-size limit) is cut back to the last whole line and
raised once as `WriteFailed`.

An appender given a `unique_key` also refuses a record whose key already has a final line in the
file, whoever wrote it: the second line of defence, behind the run-folder lock, against two
writers appending the same case twice. Writers hold an flock on the file while they check and
append, so the check sees every other appender's lines.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import tempfile
from typing import Any, Callable, Iterable, Iterator

log = logging.getLogger(__name__)


class WriteFailed(OSError):
    """A line could not be written whole (disk full, quota, size limit); the file was cut back."""


def _always(_row: dict) -> bool:
    return True


class JsonlAppender:
    """Appends whole JSON lines to `path`.

    With `unique_key`, `write` returns False (and writes nothing) when a line whose `final(row)` is
    true already holds that key: e.g. a search's records (every line final), or predictions where a
    failed call's line is not final and a retry may follow it.
    """

    def __init__(self, path: str, fsync: bool = False, unique_key: str | None = None,
                 final: Callable[[dict], bool] | None = None) -> None:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        repair_tail(path)
        self.path = path
        self._fsync = fsync
        self._unique_key = unique_key
        self._final = final or _always
        self._keys: set[Any] = set()
        self._scanned = 0  # bytes of the file already read for keys
        self._fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o666)  # the umask decides the mode

    def write(self, obj: dict) -> bool:
        data = (json.dumps(obj, ensure_ascii=False) + "\n").encode("utf-8")
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            if self._unique_key is not None:
                self._scan_new_lines()
                key = obj.get(self._unique_key)
                if key in self._keys:
                    log.warning("%s: a line for %s=%r is already there (another writer?); not written again",
                                self.path, self._unique_key, key)
                    return False
            self._append(data)
            if self._unique_key is not None:
                self._scanned = os.fstat(self._fd).st_size
                if self._final(obj):
                    self._keys.add(obj.get(self._unique_key))
            return True
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def forget(self, keys: Iterable[Any]) -> None:
        """Let new lines for `keys` be written although final lines hold them (the caller decided
        those lines are out of date, e.g. an eval item whose bad image was fixed)."""
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            self._scan_new_lines()
            self._keys.difference_update(keys)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _append(self, data: bytes) -> None:
        before = os.fstat(self._fd).st_size
        try:
            written = os.write(self._fd, data)
            while written < len(data):  # a short write: the next one says why (ENOSPC, EDQUOT, EFBIG)
                more = os.write(self._fd, data[written:])
                if more == 0:
                    raise OSError(f"short write: {written} of {len(data)} bytes")
                written += more
            if self._fsync:
                os.fsync(self._fd)
        except OSError as exc:
            # Never leave half a line behind: cut back to where this line began.
            try:
                os.ftruncate(self._fd, before)
            except OSError:
                pass
            reason = exc.strerror or str(exc)
            failure = WriteFailed(f"could not write to {self.path}: {reason}; the file was cut back to its last "
                                  "whole line, nothing else was lost: free space and rerun the same command to resume")
            failure.errno = exc.errno
            raise failure from None

    def _scan_new_lines(self) -> None:
        """Read keys of lines appended since the last scan (by anyone); a partial tail is left for later."""
        size = os.fstat(self._fd).st_size
        if size <= self._scanned:
            return
        chunk = os.pread(self._fd, size - self._scanned, self._scanned)
        whole = chunk[:chunk.rfind(b"\n") + 1]
        for line in whole.splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict) and self._final(row):
                self._keys.add(row.get(self._unique_key))
        self._scanned += len(whole)

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
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)  # not while another writer is mid-line
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


def read_latest(path: str, key: str) -> list[dict]:
    """The last line per `key` value, in first-seen order: one row per case or item even in a file
    that an older version appended to twice."""
    latest: dict = {}
    for row in read_jsonl(path):
        latest[row.get(key)] = row
    return list(latest.values())


def atomic_write_bytes(path: str, data: bytes) -> None:
    """Write via a temporary file in the same folder and a rename: readers see old or new, never half."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        os.fchmod(fd, 0o666 & ~current_umask())  # mkstemp makes 0600; a shared store must be readable
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def current_umask() -> int:
    """This process's umask, read without changing it (Linux); elsewhere set and restored at once."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def apply_umask(path: str) -> None:
    """Give `path` (a file, or a folder and all it holds) the modes a plain open() would give it under
    this umask: some writers (safetensors, mkstemp, mkdtemp) make files only their owner can read,
    and a store shared by a group must be readable by it."""
    mask = current_umask()
    file_mode, dir_mode = 0o666 & ~mask, 0o777 & ~mask
    if not os.path.isdir(path):
        os.chmod(path, file_mode)
        return
    os.chmod(path, dir_mode)
    for folder, dirs, files in os.walk(path):
        for name in dirs:
            os.chmod(os.path.join(folder, name), dir_mode)
        for name in files:
            os.chmod(os.path.join(folder, name), file_mode)


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
