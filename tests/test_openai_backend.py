"""The OpenAI backend against a real HTTP server (chiron.testing.fake_openai), plus MicroBatcher
and the vLLM backend's missing-extra error."""

from __future__ import annotations

import asyncio
import sys
import threading
import time

import pytest
from PIL import Image
from tenacity import wait_none

from chiron.llm.microbatch import MicroBatcher
from chiron.llm.openai_backend import OpenAIBackend, _to_completion
from chiron.llm.spec import ModelSpec
from chiron.llm.types import BackendError, ChatRequest, Completion, Message, Sampling
from chiron.testing import running_server

pytestmark = pytest.mark.timeout(15)


def make_spec(base_url: str, **overrides) -> ModelSpec:
    fields = dict(name="fake", backend="openai", model="fake-model", base_url=base_url, max_retries=6,
                  timeout_s=5.0)
    fields.update(overrides)
    return ModelSpec(**fields)


def make_backend(spec: ModelSpec) -> OpenAIBackend:
    backend = OpenAIBackend(spec)
    backend.retry_wait = wait_none()  # retries are instant in tests
    return backend


def ask(text: str = "What is shown?", images: tuple[str, ...] = (), **sampling) -> ChatRequest:
    return ChatRequest("fake-model", (Message("user", text, images),), Sampling(**sampling))


async def call_all(backend: OpenAIBackend, requests: list[ChatRequest]) -> list[Completion]:
    try:
        return await asyncio.gather(*(backend.complete(r) for r in requests))
    finally:
        await backend.aclose()


def run_one(backend: OpenAIBackend, request: ChatRequest) -> Completion:
    return asyncio.run(call_all(backend, [request]))[0]


@pytest.fixture
def image_path(tmp_path) -> str:
    path = tmp_path / "scan.png"
    Image.new("RGB", (900, 600), (120, 30, 200)).save(path)
    return str(path)


# -- basic behaviour -------------------------------------------------------------------------


@pytest.mark.timeout(10)
def test_completion_with_image_sends_data_url(image_path):
    with running_server() as server:
        backend = make_backend(make_spec(server.base_url))
        completion = run_one(backend, ask(images=(image_path,), temperature=0.7, max_tokens=64))
        stats = server.stats()
    assert "images=1" in completion.text
    assert completion.text.endswith("### The final answer is: ok")
    assert stats["images_seen"] == 1 and stats["data_url_images"] == 1
    assert completion.tokens_in > 0 and completion.tokens_out > 0
    assert completion.retries == 0
    assert completion.effective == {"model": "fake-model", "temperature": 0.7, "top_p": 1.0, "max_tokens": 64}
    assert stats["auth_missing_count"] == 0  # the placeholder key is still sent


def test_identity_names_endpoint_not_key(monkeypatch):
    monkeypatch.setenv("CHIRON_TEST_KEY", "sk-very-secret")
    backend = OpenAIBackend(make_spec("http://127.0.0.1:9/v1", api_key_env="CHIRON_TEST_KEY"))
    assert backend.identity == "openai|http://127.0.0.1:9/v1"
    assert OpenAIBackend(make_spec(None)).identity == "openai|default"


@pytest.mark.timeout(10)
def test_concurrency_cap_is_respected():
    with running_server(latency_s=0.1) as server:
        backend = make_backend(make_spec(server.base_url, max_concurrency=4))
        completions = asyncio.run(call_all(backend, [ask(f"q{i}") for i in range(20)]))
        stats = server.stats()
    assert len(completions) == 20 and stats["total"] == 20
    assert 2 <= stats["max_in_flight"] <= 4


@pytest.mark.timeout(10)
def test_top_k_seed_and_extra_body_go_in_the_request_body():
    with running_server() as server:
        backend = make_backend(make_spec(server.base_url, extra_body={"repetition_penalty": 1.05}))
        completion = run_one(backend, ask(top_k=5, seed=11, temperature=0.3))
        sent = server.stats()["last_params"]
    assert sent["top_k"] == 5 and sent["seed"] == 11 and sent["repetition_penalty"] == 1.05
    assert sent["temperature"] == 0.3 and sent["max_tokens"] == 1024 and sent["top_p"] == 1.0
    assert completion.effective["extra_body"] == {"repetition_penalty": 1.05, "top_k": 5}


@pytest.mark.timeout(10)
def test_top_k_zero_is_not_sent():
    with running_server() as server:
        run_one(make_backend(make_spec(server.base_url)), ask(top_k=0))
        sent = server.stats()["last_params"]
    assert "top_k" not in sent and "seed" not in sent


# -- retries ---------------------------------------------------------------------------------


@pytest.mark.timeout(10)
@pytest.mark.parametrize("fault", ["429", "500", "timeout", "empty", "drop"])
def test_transient_fault_is_retried(fault):
    with running_server(faults=[fault]) as server:
        backend = make_backend(make_spec(server.base_url, timeout_s=0.5))
        completion = run_one(backend, ask())
        stats = server.stats()
    assert completion.retries == 1
    assert "final answer" in completion.text
    assert stats["total"] == 2 and stats["faults_served"] == {fault: 1}


@pytest.mark.timeout(10)
def test_retries_are_counted_across_mixed_faults():
    with running_server(faults=["429", "500", "empty", "drop"]) as server:
        completion = run_one(make_backend(make_spec(server.base_url)), ask())
    assert completion.retries == 4


@pytest.mark.timeout(10)
def test_gives_up_with_backend_error_naming_model_and_status():
    with running_server(faults=["500"] * 5) as server:
        backend = make_backend(make_spec(server.base_url, max_retries=2))
        with pytest.raises(BackendError) as info:
            run_one(backend, ask())
        total = server.stats()["total"]
    message = str(info.value)
    assert "fake-model" in message and "500" in message and "InternalServerError" in message
    assert "3 attempt" in message
    assert total == 3  # max_retries + 1 attempts, then stop


@pytest.mark.timeout(10)
def test_non_retryable_4xx_fails_at_once_without_leaking_the_key(monkeypatch):
    monkeypatch.setenv("CHIRON_TEST_KEY", "sk-wrong-key-123")
    with running_server(api_key="sk-right-key") as server:
        backend = make_backend(make_spec(server.base_url, api_key_env="CHIRON_TEST_KEY"))
        with pytest.raises(BackendError) as info:
            run_one(backend, ask())
        stats = server.stats()
    assert stats["total"] == 1 and stats["auth_bad_count"] == 1
    assert "401" in str(info.value)
    assert "sk-wrong-key-123" not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


# -- API key handling ------------------------------------------------------------------------


def test_missing_key_variable_raises_backend_error_naming_it(monkeypatch):
    monkeypatch.delenv("CHIRON_ABSENT_KEY", raising=False)
    backend = make_backend(make_spec("http://127.0.0.1:9/v1", api_key_env="CHIRON_ABSENT_KEY"))
    with pytest.raises(BackendError, match="CHIRON_ABSENT_KEY"):
        run_one(backend, ask())


@pytest.mark.timeout(10)
def test_key_is_read_from_the_environment_at_call_time(monkeypatch):
    monkeypatch.delenv("CHIRON_LATE_KEY", raising=False)
    with running_server(api_key="sk-late") as server:
        backend = make_backend(make_spec(server.base_url, api_key_env="CHIRON_LATE_KEY"))
        monkeypatch.setenv("CHIRON_LATE_KEY", "sk-late")  # set only after the backend exists
        completion = run_one(backend, ask())
        stats = server.stats()
    assert "final answer" in completion.text
    assert stats["auth_ok_count"] == 1 and stats["auth_bad_count"] == 0


# -- rate limits -----------------------------------------------------------------------------


@pytest.mark.timeout(10)
def test_rpm_limiter_paces_requests():
    with running_server() as server:
        backend = make_backend(make_spec(server.base_url, rpm=120))  # 2 per second
        start = time.monotonic()
        asyncio.run(call_all(backend, [ask(f"q{i}") for i in range(4)]))
        elapsed = time.monotonic() - start
    assert 0.9 <= elapsed < 3.0


@pytest.mark.timeout(10)
def test_tpm_limiter_accepts_requests_larger_than_its_bucket():
    with running_server() as server:
        backend = make_backend(make_spec(server.base_url, tpm=600))  # bucket smaller than max_tokens
        completion = run_one(backend, ask(max_tokens=4096))
    assert "final answer" in completion.text


# -- reply parsing ---------------------------------------------------------------------------


def test_missing_usage_is_estimated_from_characters():
    response = {"choices": [{"message": {"content": "x" * 40}}], "usage": None}
    completion = _to_completion(response, ask("y" * 80))
    assert (completion.tokens_in, completion.tokens_out) == (20, 10)


# -- vLLM backend ----------------------------------------------------------------------------


def test_vllm_backend_without_the_extra_names_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # makes `import vllm` raise ImportError
    from chiron.llm.vllm_backend import VLLMBackend

    spec = ModelSpec(name="v", backend="vllm", model="some/model")
    with pytest.raises(ImportError, match=r"chiron\[vllm\]"):
        VLLMBackend(spec)


def test_vllm_sampling_kwargs_disable_top_k_with_minus_one():
    from chiron.llm.vllm_backend import sampling_kwargs

    assert sampling_kwargs(Sampling(top_k=0))["top_k"] == -1
    assert sampling_kwargs(Sampling(top_k=7, seed=3)) == {
        "temperature": 0.0, "top_p": 1.0, "top_k": 7, "max_tokens": 1024, "seed": 3}


# -- MicroBatcher ----------------------------------------------------------------------------


def echo_batches(sizes: list[int]):
    def run_batch(requests: list[ChatRequest]) -> list[Completion]:
        sizes.append(len(requests))
        return [Completion(text=r.messages[0].text) for r in requests]

    return run_batch


@pytest.mark.timeout(5)
def test_microbatcher_forms_batches_and_keeps_order():
    sizes: list[int] = []

    async def main():
        batcher = MicroBatcher(echo_batches(sizes), batch_size=4, wait_ms=50)
        try:
            return await asyncio.gather(*(batcher.submit(ask(f"q{i}")) for i in range(10)))
        finally:
            await batcher.aclose()

    results = asyncio.run(main())
    assert [c.text for c in results] == [f"q{i}" for i in range(10)]
    assert sizes == [4, 4, 2]


@pytest.mark.timeout(5)
def test_microbatcher_waits_at_most_wait_ms_for_a_partial_batch():
    sizes: list[int] = []

    async def main():
        batcher = MicroBatcher(echo_batches(sizes), batch_size=64, wait_ms=20)
        start = time.monotonic()
        try:
            await batcher.submit(ask("alone"))
        finally:
            await batcher.aclose()
        return time.monotonic() - start

    assert asyncio.run(main()) < 1.0
    assert sizes == [1]


@pytest.mark.timeout(5)
def test_microbatcher_propagates_a_batch_failure_to_every_waiter_and_recovers():
    calls: list[int] = []

    def run_batch(requests):
        calls.append(len(requests))
        if len(calls) == 1:
            raise RuntimeError("out of memory (fake)")
        return [Completion(text="fine") for _ in requests]

    async def main():
        batcher = MicroBatcher(run_batch, batch_size=3, wait_ms=50)
        try:
            first = await asyncio.gather(*(batcher.submit(ask(f"q{i}")) for i in range(3)),
                                         return_exceptions=True)
            second = await batcher.submit(ask("again"))
        finally:
            await batcher.aclose()
        return first, second

    first, second = asyncio.run(main())
    assert all(isinstance(e, RuntimeError) and "out of memory" in str(e) for e in first)
    assert second.text == "fine"


@pytest.mark.timeout(5)
def test_microbatcher_runs_batches_off_the_event_loop():
    loop_threads: list[int] = []

    def run_batch(requests):
        loop_threads.append(threading.get_ident())
        return [Completion(text="ok") for _ in requests]

    async def main():
        batcher = MicroBatcher(run_batch, batch_size=2, wait_ms=1)
        try:
            await batcher.submit(ask())
        finally:
            await batcher.aclose()

    asyncio.run(main())
    assert loop_threads and loop_threads[0] != threading.get_ident()


@pytest.mark.timeout(5)
def test_microbatcher_rejects_after_close():
    async def main():
        batcher = MicroBatcher(echo_batches([]), batch_size=2, wait_ms=1)
        await batcher.aclose()
        await batcher.submit(ask())

    with pytest.raises(RuntimeError, match="closed"):
        asyncio.run(main())


@pytest.mark.timeout(5)
def test_microbatcher_survives_a_second_event_loop():
    sizes: list[int] = []
    batcher = MicroBatcher(echo_batches(sizes), batch_size=2, wait_ms=1)

    async def one(text):
        return (await batcher.submit(ask(text))).text

    assert asyncio.run(one("first")) == "first"
    assert asyncio.run(one("second")) == "second"
    asyncio.run(batcher.aclose())


@pytest.mark.timeout(10)
def test_backend_can_be_reused_from_a_second_event_loop():
    with running_server() as server:
        backend = make_backend(make_spec(server.base_url, max_concurrency=2))
        asyncio.run(call_all(backend, [ask("one")]))
        asyncio.run(call_all(backend, [ask("two"), ask("three")]))
        assert server.stats()["total"] == 3
