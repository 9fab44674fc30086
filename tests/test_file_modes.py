"""Files chiron writes follow the umask (0644 under 022, 0664 under 002), so a stage store shared by
a group is readable (and, under 002, writable) by the group."""

import os
import stat

import pytest

from chiron.llm.cache import CallCache, state_path
from chiron.utils.jsonl import JsonlAppender, atomic_write_json, atomic_write_text, current_umask


@pytest.fixture(params=[0o022, 0o002, 0o077])
def umask(request):
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_current_umask_reads_without_changing_it(umask):
    assert current_umask() == umask
    assert current_umask() == umask


def test_atomic_writes_appenders_and_the_cache_state_follow_the_umask(tmp_path, umask):
    expected = 0o666 & ~umask
    atomic_write_json(str(tmp_path / "summary.json"), {"ok": 1})
    atomic_write_text(str(tmp_path / "report.md"), "# report\n")
    with JsonlAppender(str(tmp_path / "records.jsonl")) as appender:
        appender.write({"rid": "a"})
    cache = CallCache(str(tmp_path / "calls"))
    cache.close()
    for path in (tmp_path / "summary.json", tmp_path / "report.md", tmp_path / "records.jsonl",
                 state_path(str(tmp_path / "calls"))):
        assert _mode(path) == expected, (path, oct(_mode(path)), oct(expected))


def test_a_tiny_model_folder_follows_the_umask(tmp_path):
    from chiron.llm.tiny import ensure_tiny_model

    old = os.umask(0o022)
    try:
        path = ensure_tiny_model(str(tmp_path / "tiny"), "internvl", seed=0)
    finally:
        os.umask(old)
    assert _mode(path) == 0o755
    assert all(_mode(os.path.join(path, f)) == 0o644 for f in os.listdir(path) if os.path.isfile(os.path.join(path, f)))
