"""Content-addressed call cache shared by every run and sweep arm (`paths.cache_dir`).

diskcache gives a process-safe SQLite store, so shards and sweep jobs on one file system can
share it. Every successful call is stored, sampled calls included: the key holds the sample
index, so asking for a *new* sample means asking with a new index, never bypassing the cache.

Beside the folder, `<cache_dir>.state.json` keeps how many entries it held when last closed, so a
cache that was emptied or deleted is reported instead of silently paid for again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sqlite3
import time
from dataclasses import asdict

import diskcache
from filelock import FileLock

from chiron.llm.images import file_sha256
from chiron.llm.types import ChatRequest, Completion
from chiron.utils.jsonl import atomic_write_json, read_json_if_complete

log = logging.getLogger(__name__)

KEY_VERSION = 1


def request_key(backend_identity: str, request: ChatRequest) -> str:
    payload = {
        "v": KEY_VERSION,
        "model": request.model,
        "backend": backend_identity,
        "sampling": asdict(request.sampling),
        "sample_index": request.sample_index,
        "messages": [_message_key(m) for m in request.messages],
    }
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _message_key(message) -> dict:
    key = {"role": message.role, "text": message.text, "images": [file_sha256(p) for p in message.images]}
    if message.inline_images:
        # images at the text's <image> tags are a different prompt from images before the text; the
        # flag is only added when set, so every key of a message without it stays what it was
        key["inline_images"] = True
    return key


class CallCache:
    """The store of finished calls. Opening it never blocks a run: a damaged database is moved
    aside and a fresh one started; a cache found empty where one held entries before is reported.
    A database error in the middle of a run turns the cache off for this run, with one warning,
    instead of failing calls."""

    def __init__(self, directory: str) -> None:
        self.directory = os.path.abspath(directory)
        self._broken = False
        self._store = open_checked(self.directory)

    def get(self, key: str) -> Completion | None:
        if self._broken:
            return None
        try:
            hit = self._store.get(key)
        except sqlite3.Error as exc:
            self._break(exc)
            return None
        if hit is None:
            return None
        return Completion(text=hit["text"], tokens_in=hit["tokens_in"], tokens_out=hit["tokens_out"],
                          cached=True, effective=hit.get("effective", {}),
                          tokens_in_cached=hit.get("tokens_in_cached", 0))

    def put(self, key: str, completion: Completion) -> None:
        if self._broken:
            return
        try:
            self._store.set(key, {
                "text": completion.text,
                "tokens_in": completion.tokens_in,
                "tokens_in_cached": completion.tokens_in_cached,  # provenance: what the provider cached
                "tokens_out": completion.tokens_out,
                "effective": completion.effective,
            })
        except sqlite3.Error as exc:
            self._break(exc)

    def _break(self, exc: Exception) -> None:
        self._broken = True
        log.warning("call cache %s failed (%s): caching is off for the rest of this run; calls go to the "
                    "models. The next run checks the cache and moves it aside if it is damaged", self.directory, exc)

    def __len__(self) -> int:
        return len(self._store)

    def close(self) -> None:
        if not self._broken:
            with contextlib.suppress(sqlite3.Error, OSError):
                write_state(self.directory, len(self._store))
        self._store.close()


# -- opening with a check -------------------------------------------------------------------------


def state_path(directory: str) -> str:
    """Beside the cache folder, not in it: it must survive the folder being emptied or deleted."""
    return os.path.abspath(directory).rstrip(os.sep) + ".state.json"


def write_state(directory: str, entries: int) -> None:
    atomic_write_json(state_path(directory), {"directory": os.path.abspath(directory), "entries": int(entries),
                                              "updated": time.strftime("%Y-%m-%d %H:%M:%S")})


def open_checked(directory: str) -> diskcache.Cache:
    """diskcache over `directory`, after an integrity check; damage moves it aside (never deleted)."""
    os.makedirs(os.path.dirname(directory) or ".", exist_ok=True)
    with FileLock(directory.rstrip(os.sep) + ".lock"):  # one process checks and repairs at a time
        try:
            store = _open(directory)
        except sqlite3.DatabaseError as exc:
            aside = _move_aside(directory, exc)
            store = _open(directory)
            write_state(directory, 0)
            return _report(store, aside=aside)
        return _report(store)


def _open(directory: str) -> diskcache.Cache:
    store = diskcache.Cache(directory, size_limit=2**40, eviction_policy="none")
    try:
        # quick_check reads every page once: seconds for a multi-GB cache, and it finds a file cut
        # short, which opening alone does not.
        verdict = [row[0] for row in store._sql("PRAGMA quick_check").fetchall()]
        if verdict != ["ok"]:
            raise sqlite3.DatabaseError("; ".join(str(v) for v in verdict[:3]))
    except BaseException:
        store.close()
        raise
    return store


def _move_aside(directory: str, exc: Exception) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside, n = f"{directory}.damaged-{stamp}", 1
    while os.path.exists(aside):
        n += 1
        aside = f"{directory}.damaged-{stamp}-{n}"
    os.rename(directory, aside)
    lost = _count_entries(os.path.join(aside, "cache.db"))
    log.warning("call cache %s is damaged (%s): moved it to %s and started a fresh cache; %s entries "
                "are not available to this run (calls that were cached will be paid again)",
                directory, exc, aside, "an unknown number of" if lost is None else lost)
    return aside


def _count_entries(db_path: str) -> int | None:
    """How many entries a damaged database held: counted if it can be, else diskcache's own count."""
    for query in ("SELECT COUNT(*) FROM Cache", "SELECT value FROM Settings WHERE key = 'count'"):
        try:
            with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as db:
                row = db.execute(query).fetchone()
            if row is not None:
                return int(row[0])
        except (sqlite3.Error, ValueError, TypeError):
            continue
    return None


def _report(store: diskcache.Cache, aside: str | None = None) -> diskcache.Cache:
    """Warn when the cache is empty although its state file says it held entries at its last close."""
    directory = store.directory
    previous = read_json_if_complete(state_path(directory))
    entries = len(store)
    if aside is None and entries == 0 and isinstance(previous, dict) and int(previous.get("entries") or 0) > 0:
        log.warning("call cache %s is empty, but held %d cached calls when last closed (%s): every call will be "
                    "paid again. If the cache was moved, point paths.cache_dir at it", directory,
                    previous["entries"], previous.get("updated", "?"))
    if not isinstance(previous, dict) or entries != previous.get("entries"):
        write_state(directory, entries)
    return store
