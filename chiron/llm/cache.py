"""Content-addressed call cache shared by every run and sweep arm (`paths.cache_dir`).

diskcache gives a process-safe SQLite store, so shards and sweep jobs on one file system can
share it. Every successful call is stored, sampled calls included: the key holds the sample
index, so asking for a *new* sample means asking with a new index, never bypassing the cache.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict

import diskcache

from chiron.llm.images import file_sha256
from chiron.llm.types import ChatRequest, Completion

KEY_VERSION = 1


def request_key(backend_identity: str, request: ChatRequest) -> str:
    payload = {
        "v": KEY_VERSION,
        "model": request.model,
        "backend": backend_identity,
        "sampling": asdict(request.sampling),
        "sample_index": request.sample_index,
        "messages": [
            {"role": m.role, "text": m.text, "images": [file_sha256(p) for p in m.images]}
            for m in request.messages
        ],
    }
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class CallCache:
    def __init__(self, directory: str) -> None:
        self.directory = directory
        self._store = diskcache.Cache(directory, size_limit=2**40, eviction_policy="none")

    def get(self, key: str) -> Completion | None:
        hit = self._store.get(key)
        if hit is None:
            return None
        return Completion(text=hit["text"], tokens_in=hit["tokens_in"], tokens_out=hit["tokens_out"],
                          cached=True, effective=hit.get("effective", {}))

    def put(self, key: str, completion: Completion) -> None:
        self._store.set(key, {
            "text": completion.text,
            "tokens_in": completion.tokens_in,
            "tokens_out": completion.tokens_out,
            "effective": completion.effective,
        })

    def __len__(self) -> int:
        return len(self._store)

    def close(self) -> None:
        self._store.close()
