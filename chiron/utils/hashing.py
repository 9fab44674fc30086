"""Content digests of files and folders, read in 1 MiB blocks so a large file never sits in memory.

These digests are persisted: in pipeline stage keys, in the training data's length-cache key, in
response-cache and model identities, and as Part 2's duplicate-image check. So what each function
feeds the hash (which bytes, in which order, with which names) must never change; a new recipe
needs a new function.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Iterable
from typing import Any

BLOCK_BYTES = 1 << 20


def _new(algorithm: str) -> Any:
    # Identities of content, not security: allowed on FIPS builds that refuse md5 otherwise.
    return hashlib.new(algorithm, usedforsecurity=False)


def update_with_file(digest: Any, path: str) -> Any:
    """Feed the bytes of the file at `path` to the hashlib object `digest`; returns `digest`."""
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(BLOCK_BYTES), b""):
            digest.update(block)
    return digest


def file_digest(path: str, algorithm: str = "sha256") -> str:
    """Hex digest of one file's bytes."""
    return update_with_file(_new(algorithm), path).hexdigest()


def file_sha256(path: str) -> str:
    """SHA-256 hex of one file, remembered per (path, modification time, size).

    For files hashed again and again in one process (the images of every cached model call): an
    edited file has a new mtime or size and is read again.
    """
    st = os.stat(path)
    return _sha256_cached(path, st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=65536)
def _sha256_cached(path: str, _mtime_ns: int, _size: int) -> str:
    return file_digest(path)


def folder_digest(folder: str, prefix: str = "", algorithm: str = "sha256") -> str:
    """Hex digest of the files in `folder` whose names start with `prefix`, in name order.

    Each file contributes its name, then its bytes. Names without the prefix are skipped, so files
    written beside the ones that matter (a README, training logs) leave the digest unchanged.
    """
    digest = _new(algorithm)
    for name in sorted(os.listdir(folder)):
        if name.startswith(prefix):
            digest.update(name.encode())
            update_with_file(digest, os.path.join(folder, name))
    return digest.hexdigest()


def files_digest(folder: str, names: Iterable[str]) -> str:
    """SHA-256 hex over `names` (paths relative to `folder`) in the order given.

    Each name contributes itself, then the SHA-256 hex of its file, or "-" when it is not a file
    (missing, or a folder), so a file that appears, disappears or changes changes the digest.
    """
    digest = hashlib.sha256()
    for name in names:
        path = os.path.join(folder, name)
        digest.update(name.encode() + (file_sha256(path).encode() if os.path.isfile(path) else b"-"))
    return digest.hexdigest()
