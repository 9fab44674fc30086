"""A role's handle on one model: cache first, then the backend; every call lands in the ledger."""

from __future__ import annotations

import asyncio
import time
from typing import Sequence

from chiron.llm.cache import CallCache, request_key
from chiron.llm.ledger import Ledger, Usage
from chiron.llm.spec import ModelSpec
from chiron.llm.types import Backend, BackendError, ChatRequest, Completion, Message, Sampling


class CachedModel:
    def __init__(self, spec: ModelSpec, backend: Backend, cache: CallCache, ledger: Ledger, role: str) -> None:
        self.spec = spec
        self.backend = backend
        self.cache = cache
        self.ledger = ledger
        self.role = role
        # Identical requests in flight at once (two mentors proposing the same step) share one call.
        self._inflight: dict[str, asyncio.Future] = {}

    @property
    def name(self) -> str:
        return self.spec.name

    def sampling(self, temperature: float, max_tokens: int | None = None) -> Sampling:
        return Sampling(temperature=float(temperature), top_p=self.spec.top_p, top_k=self.spec.top_k,
                        max_tokens=max_tokens or self.spec.max_tokens)

    async def chat(self, messages: Sequence[Message], *, temperature: float, sample_index: int = 0,
                   case_id: str = "", max_tokens: int | None = None) -> Completion:
        request = ChatRequest(self.spec.model, tuple(messages), self.sampling(temperature, max_tokens), sample_index)
        key = request_key(self.backend.identity, request)
        hit = self.cache.get(key)
        if hit is not None:
            self._account(case_id, Usage(calls=1, cache_hits=1, tokens_in=hit.tokens_in, tokens_out=hit.tokens_out))
            return hit
        shared = self._inflight.get(key)
        if shared is not None:
            done = await asyncio.shield(shared)
            self._account(case_id, Usage(calls=1, cache_hits=1, tokens_in=done.tokens_in, tokens_out=done.tokens_out))
            return Completion(done.text, done.tokens_in, done.tokens_out, cached=True, effective=done.effective,
                              tokens_in_cached=done.tokens_in_cached)
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        start = time.monotonic()
        try:
            completion = await self.backend.complete(request)
        except BackendError as exc:
            # Say which role's model failed: "mentor: model 'gpt-4o' ..." is what a user can act on.
            exc = BackendError(f"{self.role}: {exc}", kind=exc.kind)
            future.set_exception(exc)
            future.exception()
            self._account(case_id, Usage(failures=1, wall_s=time.monotonic() - start))
            raise exc from None
        except BaseException as exc:
            future.set_exception(exc if isinstance(exc, Exception) else BackendError("cancelled"))
            future.exception()  # mark retrieved: waiters get it, nobody else is warned about it
            raise
        finally:
            self._inflight.pop(key, None)
        self.cache.put(key, completion)
        future.set_result(completion)
        # Billed as the provider billed it: input it read from its own prefix cache at the cached price.
        cached_in = min(max(completion.tokens_in_cached, 0), completion.tokens_in)
        self._account(case_id, Usage(
            calls=1, retries=completion.retries, tokens_in=completion.tokens_in, tokens_out=completion.tokens_out,
            tokens_in_cached=cached_in, cost_usd=self.spec.cost(completion.tokens_in, completion.tokens_out, cached_in),
            wall_s=time.monotonic() - start,
        ))
        return completion

    def note_saved(self, case_id: str, by_rule: int = 0, by_pruning: int = 0) -> None:
        """Count calls this model was spared (chiron/search/economy.py): they cost nothing, and the
        ledger shows what the economy saved."""
        self._account(case_id, Usage(saved_by_rule=by_rule, saved_by_pruning=by_pruning))

    def _account(self, case_id: str, usage: Usage) -> None:
        self.ledger.record(self.role, self.spec.name, case_id, usage)
