"""A full disk or a short write leaves no partial line, exits non-zero with one clear error logged
once, and a rerun with space resumes without writing any case twice."""

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from chiron.testing.fake_openai import running_server
from chiron.utils.jsonl import JsonlAppender, WriteFailed, read_jsonl

ROOT = Path(__file__).resolve().parents[1]
RESPONDER = "chiron.testing.roleplay:respond"


def test_a_short_write_is_cut_back_to_the_last_whole_line(tmp_path, monkeypatch):
    path = tmp_path / "records.jsonl"
    appender = JsonlAppender(str(path), unique_key="rid")
    appender.write({"rid": "a"})
    real_write = os.write

    def half_then_full(fd, data):
        real_write(fd, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", half_then_full)
    with pytest.raises(WriteFailed, match="No space left on device.*cut back to its last whole line"):
        appender.write({"rid": "b", "payload": "x" * 1000})
    monkeypatch.setattr(os, "write", real_write)
    assert path.read_bytes().endswith(b"\n") and [r["rid"] for r in read_jsonl(str(path))] == ["a"]
    assert appender.write({"rid": "b"})  # a failed line did not count as written
    appender.close()


@pytest.fixture
def small_tmpfs(tmp_path):
    mount = tmp_path / "small"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True,
                          text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root and mount rights): {proc.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def _search(base_url: str, out: Path, cache: Path) -> list[str]:
    def model(name):
        return f"{{name:{name},backend:openai,model:{name},base_url:'{base_url}',max_retries:1,timeout_s:10}}"

    return [sys.executable, str(ROOT / "run.py"), "task=search", "mentors=openai_compatible",
            "interns=openai_compatible", "judge=openai_compatible",
            f"mentors.models=[{model('mentor-a')},{model('mentor-b')}]", f"interns.models=[{model('intern-a')}]",
            f"judge.spec={model('judge')}", f"paths.output_dir={out}", f"paths.cache_dir={cache}", "run_name=full",
            "progress=false", "logger=none", "search.max_cases_in_flight=4"]


def test_a_disk_filling_up_mid_search_stops_cleanly_and_resumes(small_tmpfs, tmp_path):
    env = dict(os.environ, WANDB_MODE="disabled")
    with running_server(responder=RESPONDER) as server:
        full = subprocess.run(_search(server.base_url, small_tmpfs, tmp_path / "cache"), env=env,
                              capture_output=True, text=True, timeout=300)
        output = full.stdout + full.stderr
        search = small_tmpfs / "search" / "runs" / "full" / "search"
        records = search / "records.jsonl"
        assert full.returncode != 0
        assert records.exists() and records.read_bytes().endswith(b"\n") or not records.read_bytes()
        written = [json.loads(line) for line in records.read_text().splitlines()]  # every line whole
        assert len(written) < 12, "the disk never filled up: make the tmpfs smaller"
        assert output.count("could not write to") == 1, output[-3000:]
        assert "No space left on device" in output
        assert "Traceback" not in output and "Logging error" not in output
        # the same run, moved to a disk with room: finishes, nothing written twice
        roomy = tmp_path / "roomy"
        shutil.copytree(small_tmpfs, roomy)
        resumed = subprocess.run(_search(server.base_url, roomy, tmp_path / "cache"), env=env,
                                 capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    rids = [r["rid"] for r in read_jsonl(str(roomy / "search" / "runs" / "full" / "search" / "records.jsonl"))]
    assert len(rids) == len(set(rids)) and {r["rid"] for r in written} <= set(rids)
