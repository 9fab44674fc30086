"""Backend for any OpenAI-compatible chat endpoint (OpenAI, Gemini/Claude gateways, `vllm serve`).

One instance serves one (base_url, api_key_env) pair; every role using that endpoint shares its
concurrency limit and rate limiters. Retries are ours (tenacity), not the SDK's, so that an empty
reply is retried like a 429 and the retry count reaches the ledger.

The API key is read from the environment on each call and never stored in `identity`, logs or
exception messages.

A refusal (401/403: the key; 404: the model) is final for that key or model: the first one is
remembered and every later call fails at once without a request. Until the endpoint has answered
once, calls go out one at a time, so a bad key costs one request, not one per call in flight.

Over 300 lines: request building, retries, rate limits, failure kinds and usage accounting of one
endpoint client, each small and read together.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import openai
from aiolimiter import AsyncLimiter
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from chiron.llm.images import image_data_url
from chiron.llm.spec import ModelSpec
from chiron.llm.types import BackendError, ChatRequest, Completion, Message

# Local servers (vllm serve, the fake test server) accept any key; the SDK insists on one.
PLACEHOLDER_KEY = "EMPTY"
TOKENS_PER_IMAGE = 256  # rough prompt cost of one resized image, for the tpm estimate
RETRYABLE_4XX = (408, 409, 429)
REFUSED_KEY = (401, 403)  # the endpoint will not take this key: no call to it can succeed
UNKNOWN_MODEL = (404,)  # the endpoint does not serve this model
REJECTED = (400, 413, 422)  # this request will never be accepted as it stands


class EmptyReplyError(Exception):
    """The server answered 200 but with nothing usable; worth asking again."""


class OpenAIBackend:
    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.identity = f"openai|{spec.base_url or 'default'}"
        # Tests replace this with tenacity's wait_none() to keep retries instant.
        self.retry_wait = wait_random_exponential(multiplier=0.5, max=30)
        self._client: openai.AsyncOpenAI | None = None
        self._client_key: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._semaphore: asyncio.Semaphore | None = None
        self._rpm: AsyncLimiter | None = None
        self._tpm: AsyncLimiter | None = None
        # Remembered refusals: (key it was for, error) for the endpoint, and per refused model.
        self._refused_key: tuple[str, BackendError] | None = None
        self._refused_models: dict[str, BackendError] = {}
        self._answered_once = False
        self._probe: asyncio.Lock | None = None

    # -- public ----------------------------------------------------------------------------

    async def complete(self, request: ChatRequest) -> Completion:
        self._bind_loop()
        key = self._read_key()
        self._raise_if_refused(key, request.model)
        try:
            messages = await _render_messages(request.messages, self.spec.image_max_side)
        except (ValueError, OSError) as exc:  # chiron.llm.images.BadImage: unreadable, empty, too large
            raise BackendError(f"model {request.model!r}: {exc}", kind="bad_image") from None
        client = self._client_for(key)
        params, effective = self._build_params(request, messages)
        estimate = _estimate_tokens(request)
        attempts = 0
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.spec.max_retries + 1),
            wait=self.retry_wait,
            retry=retry_if_exception(_is_transient),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    attempts += 1
                    completion = await self._attempt(client, params, estimate, request, key)
        except (openai.APIError, EmptyReplyError) as exc:
            # `from None`: the SDK error holds the HTTP request, whose headers carry the key.
            raise self._failure(request.model, exc, attempts, key) from None
        completion.retries = attempts - 1
        completion.effective = effective
        return completion

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client, self._client_key = self._client, None, None
            await client.close()

    # -- one attempt -----------------------------------------------------------------------

    async def _attempt(self, client: openai.AsyncOpenAI, params: dict, estimate: int,
                       request: ChatRequest, key: str) -> Completion:
        # The slot is held per attempt, so a call backing off between attempts frees it.
        async with self._semaphore:
            if self._rpm is not None:
                await self._rpm.acquire()
            if self._tpm is not None:
                await self._tpm.acquire(min(estimate, self._tpm.max_rate))
            response = None
            if not self._answered_once:
                async with self._probe:  # until the endpoint has answered once, one request at a time
                    self._raise_if_refused(key, request.model)
                    if not self._answered_once:  # the one before may have opened the gate meanwhile
                        response = await self._probe_post(client, params, key, request.model)
            if response is None:
                response = await self._post(client, params)
        return _to_completion(response, request)

    async def _post(self, client: openai.AsyncOpenAI, params: dict) -> Any:
        # client.post skips the SDK's per-field transformation of `messages` (~5 ms of CPU per call
        # on prompts with base64 images, measured) and cast_to=dict its pydantic parse (~0.6 ms);
        # the body is already in wire format, and auth, base URL, timeout and error types stay the SDK's.
        return await client.post("/chat/completions", cast_to=dict, body=params,
                                 options={"timeout": self.spec.timeout_s})

    async def _probe_post(self, client: openai.AsyncOpenAI, params: dict, key: str, model: str) -> Any:
        """A request sent while the endpoint has not answered yet. A key refusal is remembered before
        the next caller gets the probe lock; any other answer (or no answer) opens the gate."""
        try:
            response = await self._post(client, params)
        except openai.APIStatusError as exc:
            if exc.status_code in REFUSED_KEY + UNKNOWN_MODEL:
                self._failure(model, exc, 1, key)  # remembers the refusal
            if exc.status_code not in REFUSED_KEY:
                self._answered_once = True
            raise
        except openai.APIConnectionError:
            self._answered_once = True  # a server that is down must not serialize every retry
            raise
        self._answered_once = True
        return response

    # -- setup helpers ---------------------------------------------------------------------

    def _bind_loop(self) -> None:
        """(Re)create loop-bound primitives when first used, or when used from a new event loop."""
        loop = asyncio.get_running_loop()
        if loop is self._loop:
            return
        self._loop = loop
        self._semaphore = asyncio.Semaphore(self.spec.max_concurrency)
        self._rpm = _rpm_limiter(self.spec.rpm)
        self._tpm = AsyncLimiter(self.spec.tpm, 60) if self.spec.tpm else None
        self._probe = asyncio.Lock()
        # The old client's connections belong to the old loop; drop it rather than reuse it.
        self._client, self._client_key = None, None

    def _read_key(self) -> str:
        name = self.spec.api_key_env
        if name is None:
            return PLACEHOLDER_KEY
        key = os.environ.get(name)
        if not key:
            raise BackendError(
                f"model {self.spec.name!r}: environment variable {name} is not set; export it with the "
                f"API key for {self.spec.base_url or 'the default OpenAI endpoint'} and rerun", kind="setup")
        return key

    def _raise_if_refused(self, key: str, model: str) -> None:
        if self._refused_key is not None and self._refused_key[0] == key:
            raise self._refused_key[1]
        if model in self._refused_models:
            raise self._refused_models[model]

    def _client_for(self, key: str) -> openai.AsyncOpenAI:
        """The shared client, built on first use; a rotated key gets a copy sharing its connections."""
        if self._client is None:
            self._client = openai.AsyncOpenAI(
                api_key=key, base_url=self.spec.base_url, max_retries=0, timeout=self.spec.timeout_s,
                http_client=_http_client(),
            )
            self._client_key = key
        if key != self._client_key:
            return self._client.with_options(api_key=key)
        return self._client

    def _build_params(self, request: ChatRequest, messages: list[dict]) -> tuple[dict, dict]:
        """The request body (extra_body keys merged in), plus the provenance record of what was sent."""
        s = request.sampling
        sampling: dict[str, Any] = {
            "temperature": s.temperature, "top_p": s.top_p, "max_tokens": s.max_tokens,
        }
        if s.seed is not None:
            sampling["seed"] = s.seed
        extra = dict(self.spec.extra_body)
        if s.top_k > 0:
            # Not an OpenAI parameter; vLLM and most gateways read it from the body.
            extra["top_k"] = s.top_k
        params = {"model": request.model, "messages": messages, **sampling, **extra}
        effective = {"model": request.model, **sampling}
        if extra:
            effective["extra_body"] = extra
        return params, effective

    def _failure(self, model: str, exc: BaseException, attempts: int, key: str) -> BackendError:
        """The BackendError for a failed call, with its kind; refusals are remembered."""
        status = getattr(exc, "status_code", None)
        what = type(exc).__name__ + (f" (HTTP {status})" if status is not None else "")
        detail = _scrub(str(exc), key)[:300]
        where = f"model {model!r} at {self.spec.base_url or 'the default OpenAI endpoint'}"
        variable = self.spec.api_key_env
        if status in REFUSED_KEY and self._refused_key is not None and self._refused_key[0] == key:
            return self._refused_key[1]
        if status in UNKNOWN_MODEL and model in self._refused_models:
            return self._refused_models[model]
        if status in REFUSED_KEY:
            check = (f"check the key in {variable}" if variable else
                     "the endpoint wants a key: set api_key_env to the variable that holds it")
            error = BackendError(f"{where}: the endpoint refused the key, {what}: {detail}; {check} and rerun",
                                 kind="setup")
            self._refused_key = (key, error)
            return error
        if status in UNKNOWN_MODEL:
            error = BackendError(f"{where}: no such model, {what}: {detail}; check the model name "
                                 "(`model:` in its spec) and base_url", kind="setup")
            self._refused_models[model] = error
            return error
        if status in REJECTED:
            return BackendError(f"{where}: the request was rejected, {what}: {detail}", kind="rejected")
        return BackendError(f"{where}: gave up after {attempts} attempt(s); last error {what}: {detail}")


# -- pure helpers ----------------------------------------------------------------------------


def _http_client():
    """The SDK's aiohttp transport when available: at 64 calls in flight the default httpx pool
    spends over 1 ms of CPU per request scanning its connections (measured)."""
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        return None
    return openai.DefaultAioHttpClient()


def _is_transient(exc: BaseException) -> bool:
    """Worth another attempt: rate limits, server errors, timeouts, dropped connections, empty replies."""
    if isinstance(exc, (EmptyReplyError, openai.APIConnectionError)):  # includes APITimeoutError
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code >= 500 or exc.status_code in RETRYABLE_4XX
    return False


def _rpm_limiter(rpm: float | None) -> AsyncLimiter | None:
    """A bucket holding about one second of requests: smooth pacing instead of a minute-sized burst."""
    if not rpm:
        return None
    burst = max(1.0, rpm / 60.0)
    return AsyncLimiter(burst, burst * 60.0 / rpm)


def to_openai_messages(messages: tuple[Message, ...], max_side: int) -> list[dict]:
    """OpenAI chat format: plain string content, or content parts in the message's order
    (`Message.parts`: images, as PNG data URLs, before the text, or at the text's `<image>` tags)."""
    return [_message_payload(m, max_side) for m in messages]


def _message_payload(message: Message, max_side: int) -> dict:
    if not message.images:
        return {"role": message.role, "content": message.text}
    parts: list[dict] = [
        {"type": "image_url", "image_url": {"url": image_data_url(value, max_side)}} if kind == "image"
        else {"type": "text", "text": value}
        for kind, value in message.parts()
    ]
    return {"role": message.role, "content": parts}


_ENCODED: set[tuple[str, int]] = set()  # images whose data URL is already memoized


async def _render_messages(messages: tuple[Message, ...], max_side: int) -> list[dict]:
    # Encoding a new image is CPU work: do it off the event loop. Later calls hit the memo, and a
    # thread hop per call would cost more than it saves.
    fresh = {(path, max_side) for m in messages for path in m.images} - _ENCODED
    if fresh:
        rendered = await asyncio.to_thread(to_openai_messages, messages, max_side)
        _ENCODED.update(fresh)
        return rendered
    return to_openai_messages(messages, max_side)


def _estimate_tokens(request: ChatRequest) -> int:
    chars = sum(len(m.text) for m in request.messages)
    images = sum(len(m.images) for m in request.messages)
    return chars // 4 + TOKENS_PER_IMAGE * images + request.sampling.max_tokens


def _to_completion(response: Any, request: ChatRequest) -> Completion:
    """Read the reply from the JSON body of a chat completion."""
    body = response if isinstance(response, dict) else {}
    choices = body.get("choices") or []
    message = choices[0].get("message") if choices and isinstance(choices[0], dict) else None
    text = message.get("content") if isinstance(message, dict) else None
    if not isinstance(text, str) or not text.strip():
        raise EmptyReplyError("the server returned no usable text")
    usage = body.get("usage")
    usage = usage if isinstance(usage, dict) else {}
    tokens_in = _count(usage.get("prompt_tokens"))
    if tokens_in is None:  # DeepSeek splits the prompt into cache hits and misses
        hit, miss = _count(usage.get("prompt_cache_hit_tokens")), _count(usage.get("prompt_cache_miss_tokens"))
        tokens_in = hit + miss if hit is not None and miss is not None else None
    if tokens_in is not None:
        tokens_out = _count(usage.get("completion_tokens")) or 0
        cached = min(_cached_prompt_tokens(usage), tokens_in)
    else:
        tokens_in = sum(len(m.text) for m in request.messages) // 4
        tokens_out = len(text) // 4
        cached = 0
    return Completion(text=text, tokens_in=tokens_in, tokens_out=tokens_out, tokens_in_cached=cached)


def _cached_prompt_tokens(usage: dict) -> int:
    """Prompt tokens the provider read from its prefix cache, as it reports them:
    - OpenAI, Gemini's and DashScope's OpenAI-compatible endpoints, vLLM (`vllm serve
      --enable-prompt-tokens-details`): `usage.prompt_tokens_details.cached_tokens`
    - DeepSeek: `usage.prompt_cache_hit_tokens` (beside `prompt_cache_miss_tokens`)
    Both are part of `prompt_tokens`. Absent, null or malformed fields count as 0 cached."""
    details = usage.get("prompt_tokens_details")
    openai_style = _count(details.get("cached_tokens")) if isinstance(details, dict) else None
    deepseek_style = _count(usage.get("prompt_cache_hit_tokens"))
    return max(openai_style or 0, deepseek_style or 0)


def _count(value: Any) -> int | None:
    """A token count from a usage field: a non-negative int, or None when absent or malformed."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if number >= 0 else None


def _scrub(text: str, key: str | None) -> str:
    """Remove the key from an error text, in case a server echoes it back."""
    if key and key != PLACEHOLDER_KEY and key in text:
        text = text.replace(key, "***")
    return text
