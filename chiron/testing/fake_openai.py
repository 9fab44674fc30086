"""A small OpenAI-compatible chat server for tests and benchmarks, run in its own process.

It speaks real HTTP so the production client (SDK, retries, timeouts, connection pool) is what
gets exercised. Knobs:

- ``latency_s``: sleep before answering each request.
- ``capacity``: at most this many requests are processed at once; the rest queue.
- ``faults``: one entry per request, applied to the first requests in arrival order:
  "ok", "400" (bad request), "403" (forbidden), "404" (no such model), "429", "500",
  "timeout" (stall ~30 s), "empty" (200 with empty content), "drop" (close the connection
  without answering).
- ``responder``: "module:function" with ``respond(model, messages, temperature) -> str``.
- ``api_key``: the key clients should send; counted in /stats and enforced with a 401.
- ``prefix_cache``: report cached prompt tokens the way providers do. The server remembers the
  prompts it has answered and reports as cached the longest prefix (in its own token estimate,
  text characters / 4; images and message roles take part in the match but count no tokens) that
  the prompt shares with an earlier prompt to the same model, rounded down to
  ``prefix_cache_block`` tokens (64 by default, like DeepSeek; OpenAI counts in 128s). Prompts
  shorter than ``prefix_cache_min_tokens`` are neither cached nor matched (OpenAI: 1024; default 0).
  ``usage_style`` says how: "openai" (``prompt_tokens_details.cached_tokens``; also Gemini's and
  DashScope's OpenAI-compatible endpoints, vLLM) or "deepseek" (``prompt_cache_hit_tokens`` and
  ``prompt_cache_miss_tokens``). Off by default: usage then has no cache fields at all.

Start it from Python with :func:`running_server`, or from a shell with
``python -m chiron.testing.fake_openai --port 8000``.

Over 300 lines: a test server that mimics a provider closely enough (streaming off, usage, cached
prefixes, failures on demand) for the real client to be tested against it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import importlib
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

FAULTS = ("ok", "400", "403", "404", "429", "500", "timeout", "empty", "drop")
USAGE_STYLES = ("openai", "deepseek")  # how cached prompt tokens are reported (with prefix_cache)
ERROR_FAULTS = {  # fault -> (message, error type) of the JSON error body
    "400": ("bad request (fake)", "invalid_request_error"), "403": ("forbidden (fake)", "permission_error"),
    "404": ("the model does not exist (fake)", "not_found_error"), "429": ("rate limited (fake)", "rate_limit_error"),
    "500": ("server error (fake)", "server_error"),
}
STALL_S = 30.0  # how long a "timeout" fault stalls: far beyond any test client's timeout
KEY_ENV = "CHIRON_FAKE_OPENAI_KEY"  # the expected key travels by environment, not argv (ps shows argv)
Responder = Callable[[str, list, float], str]


# -- replies ---------------------------------------------------------------------------------


def default_respond(model: str, messages: list[dict], temperature: float) -> str:
    """Deterministic reply: a short hash of the last user text, and how many images were seen."""
    last_user = next((m for m in reversed(messages) if m.get("role") == "user"), {})
    digest = hashlib.sha256(_text_of(last_user).encode("utf-8")).hexdigest()[:8]
    images = sum(_count_images(m) for m in messages)
    return f"Echo {digest} from {model} (images={images}).\n### The final answer is: ok"


def _text_of(message: dict) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        return "\n".join(texts)
    return ""


def _image_urls(message: dict) -> list[str]:
    content = message.get("content")
    if not isinstance(content, list):
        return []
    return [
        str((p.get("image_url") or {}).get("url", ""))
        for p in content
        if isinstance(p, dict) and p.get("type") == "image_url"
    ]


def _count_images(message: dict) -> int:
    return len(_image_urls(message))


def load_responder(path: str | None) -> Responder:
    if not path:
        return default_respond
    module_name, _, func_name = path.partition(":")
    if not func_name:
        raise ValueError(f"responder must look like 'module:function', got {path!r}")
    return getattr(importlib.import_module(module_name), func_name)


# -- provider-side prefix cache --------------------------------------------------------------


class PrefixCache:
    """Which prompt prefixes this server has seen, block by block, as providers' caches do.

    A prompt is read as a stream of text characters (4 to a token, as in the server's estimate) and
    markers (message roles, image URLs) that take part in the match but count no tokens. After every
    full block of ``block`` tokens the running hash of everything so far is a key: a prompt's cached
    tokens are its leading blocks whose key an earlier prompt to the same model also reached, which
    is the longest common prefix with any earlier prompt, rounded down to a block."""

    def __init__(self, block: int = 64, min_tokens: int = 0, max_keys: int = 1_000_000) -> None:
        if block < 1:
            raise ValueError(f"prefix cache block must be >= 1 token, got {block}")
        self.block = block
        self.min_tokens = max(0, int(min_tokens))
        self.max_keys = max_keys
        self._keys: set[bytes] = set()

    def lookup_and_store(self, model: str, messages: list) -> int:
        """Cached tokens for this prompt; then remember its blocks for the prompts after it."""
        if _estimate_prompt_tokens(messages) < self.min_tokens:
            return 0
        keys = self._block_keys(model, messages)
        hits = 0
        for key in keys:
            if key not in self._keys:
                break
            hits += 1
        if len(self._keys) + len(keys) > self.max_keys:  # eviction, crudely: forget everything
            self._keys.clear()
        self._keys.update(keys)
        return hits * self.block

    def _block_keys(self, model: str, messages: list) -> list[bytes]:
        running = hashlib.sha1(b"model\0" + model.encode("utf-8"))
        keys: list[bytes] = []
        chars_per_block = 4 * self.block
        filled = 0  # text characters in the current block

        def feed_text(text: str) -> None:
            nonlocal filled
            start = 0
            while start < len(text):
                piece = text[start:start + chars_per_block - filled]
                running.update(piece.encode("utf-8", "surrogatepass"))
                start += len(piece)
                filled += len(piece)
                if filled == chars_per_block:
                    keys.append(running.digest())
                    filled = 0

        def feed_marker(kind: str, value: str) -> None:
            running.update(f"\0{kind}\0{len(value)}\0".encode() + value.encode("utf-8", "surrogatepass"))

        for message in messages:
            if not isinstance(message, dict):
                continue
            feed_marker("role", str(message.get("role", "")))
            content = message.get("content")
            if isinstance(content, str):
                feed_text(content)
                continue
            texts = 0
            for part in content if isinstance(content, list) else []:
                if not isinstance(part, dict):
                    continue
                if part.get("type") == "text":
                    # joined with newlines, as _text_of joins them for the token estimate
                    feed_text(("\n" if texts else "") + str(part.get("text", "")))
                    texts += 1
                elif part.get("type") == "image_url":
                    url = str((part.get("image_url") or {}).get("url", ""))
                    feed_marker("image", hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest())
        return keys


def _cache_usage_fields(style: str, prompt_tokens: int, cached: int) -> dict:
    cached = min(cached, prompt_tokens)
    if style == "deepseek":
        return {"prompt_cache_hit_tokens": cached, "prompt_cache_miss_tokens": prompt_tokens - cached}
    return {"prompt_tokens_details": {"cached_tokens": cached}}


# -- server state ----------------------------------------------------------------------------


@dataclass
class ServerState:
    latency_s: float = 0.0
    capacity: int | None = None
    faults: list[str] = field(default_factory=list)
    responder: Responder = default_respond
    api_key: str | None = None
    total: int = 0
    per_model: dict[str, int] = field(default_factory=dict)
    in_flight: int = 0
    max_in_flight: int = 0
    processing: int = 0
    max_processing: int = 0
    faults_served: dict[str, int] = field(default_factory=dict)
    auth_ok_count: int = 0
    auth_missing_count: int = 0
    auth_bad_count: int = 0
    images_seen: int = 0
    data_url_images: int = 0
    recent_params: list[dict] = field(default_factory=list)  # request bodies minus messages

    answered: int = 0  # successful replies written out in full (the calls a client paid for and got)
    prefix_cache: PrefixCache | None = None  # None: usage reports no cached tokens (the default)
    usage_style: str = "openai"
    prompt_tokens_total: int = 0  # over the replies sent (200s)
    cached_tokens_total: int = 0  # of those, reported as cached

    def next_fault(self) -> str:
        # Faults are consumed in arrival order, one per request.
        index = self.total - 1
        return self.faults[index] if index < len(self.faults) else "ok"

    def stats(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "per_model": dict(self.per_model),
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "max_processing": self.max_processing,
            "faults_served": dict(self.faults_served),
            "auth_ok_count": self.auth_ok_count,
            "auth_missing_count": self.auth_missing_count,
            "auth_bad_count": self.auth_bad_count,
            "images_seen": self.images_seen,
            "answered": self.answered,
            "prompt_tokens_total": self.prompt_tokens_total,
            "cached_tokens_total": self.cached_tokens_total,
            "data_url_images": self.data_url_images,
            "last_params": self.recent_params[-1] if self.recent_params else None,
            "recent_params": list(self.recent_params),
        }


def _check_auth(state: ServerState, header: str | None) -> bool:
    """Count the Authorization header against the expected key; never store the header itself."""
    if not header:
        state.auth_missing_count += 1
        return state.api_key is None
    if state.api_key is None or header == f"Bearer {state.api_key}":
        state.auth_ok_count += 1
        return True
    state.auth_bad_count += 1
    return False


def _record(state: ServerState, body: dict) -> None:
    model = str(body.get("model", ""))
    state.per_model[model] = state.per_model.get(model, 0) + 1
    for message in body.get("messages") or []:
        urls = _image_urls(message) if isinstance(message, dict) else []
        state.images_seen += len(urls)
        state.data_url_images += sum(u.startswith("data:image/") for u in urls)
    state.recent_params.append({k: v for k, v in body.items() if k != "messages"})
    del state.recent_params[:-256]  # bounded memory for long benchmarks


def _estimate_prompt_tokens(messages: list) -> int:
    chars = sum(len(_text_of(m)) for m in messages if isinstance(m, dict))
    return max(1, chars // 4)


def _completion_body(model: str, text: str, messages: list, cache_fields: dict | None = None) -> dict:
    body = {
        "id": "chatcmpl-" + hashlib.sha1(f"{time.time_ns()}{text}".encode()).hexdigest()[:16],
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {
            "prompt_tokens": _estimate_prompt_tokens(messages),
            "completion_tokens": max(1, len(text) // 4) if text else 0,
            "total_tokens": _estimate_prompt_tokens(messages) + (max(1, len(text) // 4) if text else 0),
        },
    }
    if cache_fields:
        body["usage"].update(cache_fields)
    return body


def _error(status: int, message: str, kind: str):
    from aiohttp import web

    return web.json_response({"error": {"message": message, "type": kind, "code": status}}, status=status)


# -- aiohttp app -----------------------------------------------------------------------------


def build_app(state: ServerState):
    from aiohttp import web

    gate = asyncio.Semaphore(state.capacity) if state.capacity else None

    async def chat(request: web.Request) -> web.StreamResponse:
        state.total += 1
        fault = state.next_fault()
        state.in_flight += 1
        state.max_in_flight = max(state.max_in_flight, state.in_flight)
        try:
            if not _check_auth(state, request.headers.get("Authorization")):
                return _error(401, "invalid api key", "invalid_request_error")
            body = await request.json()
            _record(state, body)
            async with gate if gate is not None else contextlib.nullcontext():
                return await _process(request, body, fault)
        finally:
            state.in_flight -= 1

    async def _process(request: web.Request, body: dict, fault: str) -> web.StreamResponse:
        state.processing += 1
        state.max_processing = max(state.max_processing, state.processing)
        try:
            if fault != "ok":
                state.faults_served[fault] = state.faults_served.get(fault, 0) + 1
            if fault in ERROR_FAULTS:
                return _error(int(fault), *ERROR_FAULTS[fault])
            if fault == "drop":
                request.transport.close()
                raise ConnectionResetError("fault: drop")
            if fault == "timeout":
                await _stall(request, STALL_S)
            if state.latency_s > 0:
                await asyncio.sleep(state.latency_s)
            model = str(body.get("model", ""))
            messages = body.get("messages") or []
            temperature = float(body.get("temperature", 1.0))
            text = "" if fault == "empty" else state.responder(model, messages, temperature)
            prompt_tokens = _estimate_prompt_tokens(messages)
            cache_fields = None
            if state.prefix_cache is not None:
                cached = state.prefix_cache.lookup_and_store(model, messages)
                cache_fields = _cache_usage_fields(state.usage_style, prompt_tokens, cached)
                state.cached_tokens_total += min(cached, prompt_tokens)
            state.prompt_tokens_total += prompt_tokens
            response = web.json_response(_completion_body(model, text, messages, cache_fields))
            # Written here rather than after returning, to count only replies that reached the
            # client: a request cut off by a killed client was never a finished call.
            await response.prepare(request)
            await response.write_eof()
            if fault == "ok":
                state.answered += 1
            return response
        finally:
            state.processing -= 1

    async def stats(_request: web.Request) -> web.Response:
        return web.json_response(state.stats())

    app = web.Application(client_max_size=64 * 1024 * 1024)  # requests carry base64 images
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_get("/stats", stats)
    return app


async def _stall(request, seconds: float) -> None:
    """Sleep, but stop early once the client has hung up so the slot is freed."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        transport = request.transport
        if transport is None or transport.is_closing():
            return
        await asyncio.sleep(0.05)


async def serve(state: ServerState, host: str, port: int, parent_pid: int | None,
                max_lifetime_s: float) -> None:
    from aiohttp import web

    runner = web.AppRunner(build_app(state), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1]
    print(f"PORT {bound}", flush=True)
    try:
        await _watch(parent_pid, max_lifetime_s)
    finally:
        await runner.cleanup()


async def _watch(parent_pid: int | None, max_lifetime_s: float) -> None:
    """Return when the parent is gone or the lifetime is over, so no server outlives its test."""
    deadline = time.monotonic() + max_lifetime_s
    while time.monotonic() < deadline:
        if parent_pid is not None and not _alive(parent_pid):
            return
        await asyncio.sleep(0.5)


def _alive(pid: int) -> bool:
    # A reparented child (parent died) sees a different ppid; kill(pid, 0) covers non-parent watchers.
    if os.getppid() != pid:
        try:
            os.kill(pid, 0)
        except OSError:
            return False
    return True


# -- command line ----------------------------------------------------------------------------


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Fake OpenAI-compatible chat server for tests.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed as 'PORT n')")
    parser.add_argument("--latency-s", type=float, default=0.0)
    parser.add_argument("--capacity", type=int, default=0, help="0 = unlimited")
    parser.add_argument("--faults", default="", help=f"comma-separated, from {FAULTS}")
    parser.add_argument("--responder", default=None, help="module:function")
    parser.add_argument("--parent-pid", type=int, default=None, help="exit when this process is gone")
    parser.add_argument("--max-lifetime-s", type=float, default=3600.0)
    parser.add_argument("--prefix-cache", action="store_true",
                        help="report cached prompt tokens (longest prefix shared with an earlier prompt)")
    parser.add_argument("--usage-style", default="openai", choices=USAGE_STYLES,
                        help="how cached tokens are reported: prompt_tokens_details.cached_tokens or "
                             "DeepSeek's prompt_cache_hit_tokens / prompt_cache_miss_tokens")
    parser.add_argument("--prefix-cache-block", type=int, default=64, help="cached tokens come in these blocks")
    parser.add_argument("--prefix-cache-min-tokens", type=int, default=0,
                        help="shorter prompts are not cached (OpenAI: 1024)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = _parse_args(argv)
    faults = [f.strip() for f in args.faults.split(",") if f.strip()]
    unknown = sorted(set(faults) - set(FAULTS))
    if unknown:
        raise SystemExit(f"unknown faults {unknown}; choose from {FAULTS}")
    state = ServerState(
        latency_s=args.latency_s,
        capacity=args.capacity or None,
        faults=faults,
        responder=load_responder(args.responder),
        api_key=os.environ.get(KEY_ENV) or None,
        prefix_cache=PrefixCache(args.prefix_cache_block, args.prefix_cache_min_tokens) if args.prefix_cache else None,
        usage_style=args.usage_style,
    )
    asyncio.run(serve(state, args.host, args.port, args.parent_pid, args.max_lifetime_s))


# -- parent side -----------------------------------------------------------------------------


@dataclass
class ServerHandle:
    base_url: str  # "http://127.0.0.1:PORT/v1"
    port: int
    process: subprocess.Popen

    def stats(self) -> dict[str, Any]:
        root = self.base_url.rsplit("/v1", 1)[0]
        with urllib.request.urlopen(f"{root}/stats", timeout=5) as response:
            return json.loads(response.read().decode("utf-8"))


@contextlib.contextmanager
def running_server(
    *,
    latency_s: float = 0.0,
    capacity: int | None = None,
    faults: list[str] | tuple[str, ...] = (),
    responder: str | None = None,
    api_key: str | None = None,
    startup_timeout_s: float = 20.0,
    max_lifetime_s: float = 3600.0,
    prefix_cache: bool = False,
    usage_style: str = "openai",
    prefix_cache_block: int = 64,
    prefix_cache_min_tokens: int = 0,
) -> Iterator[ServerHandle]:
    """Start the fake server in a subprocess; yield its handle; stop it on exit."""
    unknown = sorted(set(faults) - set(FAULTS))
    if unknown:
        raise ValueError(f"unknown faults {unknown}; choose from {FAULTS}")
    if usage_style not in USAGE_STYLES:
        raise ValueError(f"usage_style must be one of {USAGE_STYLES}, got {usage_style!r}")
    if prefix_cache_block < 1:
        raise ValueError(f"prefix_cache_block must be >= 1 token, got {prefix_cache_block}")
    cmd = [sys.executable, "-m", "chiron.testing.fake_openai", "--port", "0",
           "--latency-s", str(latency_s), "--capacity", str(capacity or 0),
           "--faults", ",".join(faults), "--parent-pid", str(os.getpid()),
           "--max-lifetime-s", str(max_lifetime_s)]
    if responder:
        cmd += ["--responder", responder]
    if prefix_cache:
        cmd += ["--prefix-cache", "--usage-style", usage_style, "--prefix-cache-block", str(prefix_cache_block),
                "--prefix-cache-min-tokens", str(prefix_cache_min_tokens)]
    env = dict(os.environ)
    env.pop(KEY_ENV, None)
    if api_key:
        env[KEY_ENV] = api_key
    # The child must import chiron from the same place the parent does (e.g. an uninstalled checkout).
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    drains: list[threading.Thread] = []
    try:
        port = _read_port(process, startup_timeout_s)
        # Drain the pipes from now on so a chatty child never blocks on a full pipe.
        pipes = (process.stdout, process.stderr)
        drains = [threading.Thread(target=_drain, args=(pipe,), daemon=True) for pipe in pipes]
        for thread in drains:
            thread.start()
        handle = ServerHandle(base_url=f"http://127.0.0.1:{port}/v1", port=port, process=process)
        _wait_until_answering(handle, startup_timeout_s)
        yield handle
    finally:
        _stop(process)
        for thread in drains:
            thread.join(timeout=2)  # the child is gone, so its pipes reach EOF promptly
        for stream in (process.stdout, process.stderr):
            with contextlib.suppress(Exception):
                stream.close()


def _read_port(process: subprocess.Popen, timeout_s: float) -> int:
    """Read the 'PORT n' line in a thread so a hung child cannot block the test forever."""
    found: list[str] = []
    reader = threading.Thread(target=lambda: found.append(process.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout_s)
    line = found[0].strip() if found else ""
    if not line.startswith("PORT "):
        _stop(process)
        err = process.stderr.read() if process.stderr else ""
        raise RuntimeError(f"fake OpenAI server did not start (got {line!r}); stderr:\n{err[-2000:]}")
    return int(line.split()[1])


def _drain(stream) -> None:
    with contextlib.suppress(Exception):
        for _ in stream:
            pass


def _wait_until_answering(handle: ServerHandle, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            handle.stats()
            return
        except OSError:
            if time.monotonic() > deadline or handle.process.poll() is not None:
                raise
            time.sleep(0.05)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


if __name__ == "__main__":
    main()
