"""A damaged call cache never blocks a run: moved aside with a warning naming both paths; an emptied
or deleted cache is reported; a database error mid-run turns caching off instead of failing calls."""

import logging
import os
import shutil
import sqlite3

from chiron.llm.cache import CallCache, state_path
from chiron.llm.types import Completion


def _filled(directory: str, n: int = 300) -> None:
    cache = CallCache(directory)
    for i in range(n):
        cache.put(f"key-{i}", Completion(text="reply " * 80, tokens_in=10, tokens_out=20))
    cache.close()


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_cache_cut_in_half_is_moved_aside_and_the_run_goes_on(tmp_path, caplog):
    directory = str(tmp_path / "calls")
    _filled(directory)
    db = os.path.join(directory, "cache.db")
    with open(db, "r+b") as f:
        f.truncate(os.path.getsize(db) // 2)
    with caplog.at_level(logging.WARNING):
        cache = CallCache(directory)
    assert len(cache) == 0 and cache.get("key-1") is None
    cache.put("fresh", Completion(text="ok"))
    assert cache.get("fresh").text == "ok"
    cache.close()
    aside = [p for p in os.listdir(tmp_path) if p.startswith("calls.damaged-")]
    assert len(aside) == 1 and os.path.exists(tmp_path / aside[0] / "cache.db")  # kept, never deleted
    message = " ".join(_warnings(caplog))
    assert directory in message and str(tmp_path / aside[0]) in message and "damaged" in message


def test_a_cache_full_of_garbage_is_moved_aside(tmp_path, caplog):
    directory = str(tmp_path / "calls")
    _filled(directory, n=5)
    with open(os.path.join(directory, "cache.db"), "wb") as f:
        f.write(os.urandom(64 * 1024))
    with caplog.at_level(logging.WARNING):
        cache = CallCache(directory)
    assert len(cache) == 0
    cache.close()
    assert "file is not a database" in " ".join(_warnings(caplog))
    # the next run opens the fresh cache quietly
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        CallCache(directory).close()
    assert not _warnings(caplog)


def test_an_emptied_or_deleted_cache_is_reported(tmp_path, caplog):
    directory = str(tmp_path / "calls")
    _filled(directory, n=7)
    shutil.rmtree(directory)
    with caplog.at_level(logging.WARNING):
        CallCache(directory).close()
    assert any("is empty, but held 7 cached calls" in m for m in _warnings(caplog))
    assert os.path.exists(state_path(directory))
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        CallCache(directory).close()  # reported once: the state now says 0
    assert not _warnings(caplog)


def test_a_database_error_mid_run_turns_caching_off_with_one_warning(tmp_path, caplog):
    cache = CallCache(str(tmp_path / "calls"))
    cache.put("a", Completion(text="x"))

    def broken(*_args, **_kwargs):
        raise sqlite3.OperationalError("disk I/O error")

    cache._store.get = broken
    cache._store.set = broken
    with caplog.at_level(logging.WARNING):
        assert cache.get("a") is None
        cache.put("b", Completion(text="y"))
        assert cache.get("b") is None
    assert len(_warnings(caplog)) == 1 and "caching is off" in _warnings(caplog)[0]
    cache.close()
