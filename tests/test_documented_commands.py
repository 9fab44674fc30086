"""Every `python run.py ...` command the project prints (README.md, experiments/**/README.md, the
header comments of conf/**/*.yaml) parses and composes, in the order it is written. A paper-scale
sweep run as written stops at the inputs check with the needs screen, no traceback; the slow tier
runs the demo-scale commands as written."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CONF, ROOT
from hydra import compose, initialize_config_dir
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser

from chiron.preflight import task_needs

sys.path.insert(0, str(ROOT))
from run import flags_first  # noqa: E402

SOURCES = ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "experiments").rglob("README.md")),
           *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "conf").rglob("*.yaml"))]
PLACEHOLDER = "..."  # `python run.py task=train ... curriculum=stage3_only`: "the command above, plus"


def _lines(path: str) -> list[str]:
    text = (ROOT / path).read_text().splitlines()
    if path.endswith(".yaml"):  # only the comments: `#   python run.py ...`
        return [line.split("#", 1)[1] if "#" in line else "" for line in text]
    return text


def documented_commands() -> list[tuple[str, str]]:
    """(where, the command's words after `python run.py`), continuation lines joined."""
    found: list[tuple[str, str]] = []
    for source in SOURCES:
        lines = _lines(source)
        for number, line in enumerate(lines):
            for match in re.finditer(r"python run\.py\b", line):
                before, rest = line[:match.start()], line[match.end():]
                inline = before.count("`") % 2 == 1  # inside `...` in prose: the command ends at the backtick
                if inline:
                    rest = rest.split("`", 1)[0]
                else:
                    follow = number
                    while rest.rstrip().endswith("\\") and follow + 1 < len(lines):
                        follow += 1
                        rest = rest.rstrip()[:-1] + " " + lines[follow]
                found.append((f"{source}:{number + 1}", rest))
    return found


def words_of(rest: str) -> list[str]:
    return [w for w in shlex.split(rest, comments=True) if w != PLACEHOLDER]


def unique(commands: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """One entry per distinct command (the same words in several files are checked once), named by
    its first place."""
    seen: dict[tuple[str, ...], tuple[str, str]] = {}
    for where, rest in commands:
        seen.setdefault(tuple(words_of(rest)), (where, rest))
    return list(seen.values())


COMMANDS = documented_commands()
DISTINCT = unique(COMMANDS)


def test_the_commands_are_collected_from_every_source():
    where = {w.split(":")[0] for w, _ in COMMANDS}
    assert "README.md" in where and "conf/config.yaml" in where
    assert any(w.startswith("experiments/") for w in where) and any(w.startswith("conf/experiment/") for w in where)
    assert len(COMMANDS) >= 40
    # sweeps with overrides after -m are among them: the order argparse used to refuse
    assert any(words[words.index("-m") + 1:] for words in (words_of(r) for _, r in COMMANDS) if "-m" in words)


def test_flags_move_before_the_overrides():
    assert flags_first(["+experiment=ablation_qc", "-m", "corpus.path=/x"]) == ["-m", "+experiment=ablation_qc", "corpus.path=/x"]
    assert flags_first(["a=1", "--cfg", "job", "b=2", "--resolve"]) == ["--cfg", "job", "--resolve", "a=1", "b=2"]
    assert flags_first(["--info", "a=1"]) == ["--info", "a=1"] and flags_first(["a=1", "--info", "defaults"]) == [
        "--info", "defaults", "a=1"]


def _split(words: list[str]) -> tuple[bool, list[str]]:
    flags, overrides = [], []
    for w in flags_first(words):
        (flags if w.startswith("-") else overrides).append(w)
    return ("-m" in flags or "--multirun" in flags), overrides


def arms(overrides: list[str]) -> list[list[str]]:
    """The jobs a sweep launches, as Hydra's basic sweeper expands the command line over the config's
    own sweeper params."""
    parser = OverridesParser.create()
    fixed = [o for o in overrides if not parser.parse_override(o).is_sweep_override()]
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        base = compose("config", overrides=fixed, return_hydra_config=True)
    params = base.hydra.sweeper.params or {}
    parsed = parser.parse_overrides([f"{k}={v}" for k, v in params.items()] + overrides)
    return [arm for batch in BasicSweeper.split_arguments(parsed, None) for arm in batch]


def _compose(overrides: list[str]):
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose("config", overrides=overrides, return_hydra_config=True)


def _env(tmp_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and not k.startswith("CHIRON_")}
    return dict(env, CHIRON_ROOT=str(tmp_path), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", WANDB_MODE="disabled")


@pytest.mark.parametrize("where, rest", DISTINCT, ids=[w for w, _ in DISTINCT])
def test_documented_command_parses_and_composes(where, rest, tmp_path):
    words = words_of(rest)
    multirun, overrides = _split(words)
    if not multirun:
        proc = subprocess.run([sys.executable, str(ROOT / "run.py"), *words, "--cfg", "job"], cwd=tmp_path,
                              env=_env(tmp_path), capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, f"{where}: python run.py {rest}\n{proc.stderr[-3000:]}"
        return
    jobs = arms(overrides)
    assert jobs, where
    for arm in jobs:  # every job of the sweep composes
        _compose(arm)


def _is_demo_scale(overrides: list[str], tmp_path: Path) -> bool:
    """Whether the command runs here as written: nothing it needs is missing."""
    cfg = _compose([f"paths.root_dir={tmp_path}", *overrides])
    return not task_needs(cfg)


PAPER_SWEEPS = [(w, r) for w, r in DISTINCT if _split(words_of(r))[0] and "+experiment=demo" not in r
                and "+experiment/scale=demo" not in r]


@pytest.mark.parametrize("where, rest", PAPER_SWEEPS, ids=[w for w, _ in PAPER_SWEEPS])
def test_a_paper_sweep_run_as_written_prints_what_it_needs(where, rest, tmp_path):
    """Run as written, with nothing set up, it stops before any job with the needs screen."""
    words = words_of(rest)
    proc = subprocess.run([sys.executable, str(ROOT / "run.py"), *words], cwd=tmp_path, env=_env(tmp_path),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0, where
    assert "cannot start:" in proc.stderr and "Traceback" not in proc.stderr, f"{where}\n{proc.stderr[-3000:]}"
    assert not (tmp_path / "outputs" / "stages").exists()  # no job started
    if "+experiment=" in rest:
        assert "+experiment/scale=demo" in proc.stderr  # and the command that runs it now


# -- slow: the demo-scale commands, run as written, in the order the files give them ---------------

# The experiment sweeps at demo scale are run by tests/test_experiments.py (slow tier).
RUNNABLE = [(w, r) for w, r in DISTINCT if "+experiment=" not in r or "+experiment=demo" in r]


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_demo_scale_commands_run_as_written(tmp_path, shared_tiny_models):
    """Each command whose inputs are all here (after the commands before it ran) runs to rc 0, in one
    project folder (CHIRON_ROOT), file by file in order: the MMRP chain finds its upstream runs."""
    (tmp_path / "outputs" / "cache").mkdir(parents=True)
    os.symlink(shared_tiny_models, tmp_path / "outputs" / "cache" / "tiny_models")
    ran, skipped = [], []
    for where, rest in RUNNABLE:
        words = words_of(rest)
        multirun, overrides = _split(words)
        cfg_overrides = arms(overrides)[0] if multirun else overrides
        if not _is_demo_scale(cfg_overrides, tmp_path):
            skipped.append(where)
            continue
        proc = subprocess.run([sys.executable, str(ROOT / "run.py"), *words], cwd=tmp_path, env=_env(tmp_path),
                              capture_output=True, text=True, timeout=1800)
        assert proc.returncode == 0, f"{where}: python run.py {rest}\n{proc.stderr[-4000:]}"
        ran.append(where)
    assert len(ran) >= 8, (ran, skipped)
    shutil.rmtree(tmp_path / "outputs" / "stages", ignore_errors=True)
