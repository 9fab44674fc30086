"""Stage keys: a digest of everything that decides a stage's result, so equal inputs mean equal keys.

A key covers the stage's resolved config slice, the contents of the input files that slice names,
and the keys of the stages it reads from. Settings that only change how fast a result arrives
(concurrency, rate limits, progress bars) are left out, so a sweep arm that differs only in them
still reuses the stored result.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any, Iterable, Mapping

from omegaconf import DictConfig, OmegaConf

from chiron.utils.hashing import file_digest

# How fast, not what: leaving these out lets e.g. a larger `max_cases_in_flight` reuse a result.
SPEED_ONLY_KEYS = frozenset({"progress", "max_cases_in_flight", "items_in_flight", "max_concurrency",
                             "rpm", "tpm", "timeout_s",
                             # a search stopped by its budget is not stored; a finished one is the same
                             # whatever budget let it finish
                             "budget_usd"})
# Bump when a stage's code changes what it writes, so older stored results are not reused.
KEY_VERSION = 2  # 2: bad images set aside, failed stages never stored
KEY_LENGTH = 16
# Input files above this size are identified by size and modification time instead of contents.
HASH_LIMIT_BYTES = 256 * 1024 * 1024


def config_slice(cfg: DictConfig, paths: Iterable[str]) -> dict[str, Any]:
    """{dotted path: resolved plain value} for the given config paths; a missing path is None."""
    out = {}
    for path in paths:
        node = OmegaConf.select(cfg, path, throw_on_missing=True)
        value = OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node
        out[path] = _without_speed_keys(value)
    return out


def _without_speed_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_speed_keys(v) for k, v in value.items() if k not in SPEED_ONLY_KEYS}
    if isinstance(value, list):
        return [_without_speed_keys(v) for v in value]
    return value


def file_digests(value: Any) -> dict[str, str]:
    """Content digests of every existing file a (nested) config value names.

    The key must change when a corpus file is edited in place; folders (image roots, model
    folders) are named, not hashed: hashing thousands of images per run would cost more than it saves.
    """
    found: dict[str, str] = {}

    def visit(v: Any) -> None:
        if isinstance(v, dict):
            for item in v.values():
                visit(item)
        elif isinstance(v, list):
            for item in v:
                visit(item)
        elif isinstance(v, str) and os.path.isfile(v):
            found[os.path.abspath(v)] = _file_digest(v)

    visit(value)
    return found


def _file_digest(path: str) -> str:
    stat = os.stat(path)
    if stat.st_size > HASH_LIMIT_BYTES:
        return f"size={stat.st_size},mtime_ns={stat.st_mtime_ns}"
    return file_digest(path)


def stage_key(stage: str, inputs: Mapping[str, Any], upstream: Mapping[str, str]) -> str:
    """The key of `stage` given its config slice and its upstream stages' keys."""
    payload = {"stage": stage, "version": KEY_VERSION, "config": inputs, "files": file_digests(inputs),
               "upstream": dict(sorted(upstream.items()))}
    text = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:KEY_LENGTH]
