"""Cost as billed: input tokens the provider read from its own prompt-prefix cache are parsed from
each provider's usage, priced at the spec's cached-input price, counted in the ledger, and reported
by the fake server the way providers report them."""

from __future__ import annotations

import asyncio
import json
import math
import urllib.request

import pytest
from omegaconf import OmegaConf
from tenacity import wait_none

from chiron.llm.cache import CallCache
from chiron.llm.client import CachedModel
from chiron.llm.ledger import Ledger, Usage, sum_usage
from chiron.llm.openai_backend import OpenAIBackend, _to_completion
from chiron.llm.spec import ModelSpec
from chiron.llm.types import ChatRequest, Completion, Message, Sampling
from chiron.testing import running_server
from chiron.testing.fake_openai import PrefixCache

pytestmark = pytest.mark.timeout(20)


def ask(text: str = "What is shown?") -> ChatRequest:
    return ChatRequest("m", (Message("user", text),), Sampling())


def reply(usage) -> dict:
    return {"choices": [{"message": {"role": "assistant", "content": "### The final answer is: ok"}}], "usage": usage}


# -- usage as each provider reports it ---------------------------------------------------------


PROVIDER_USAGE = {
    # OpenAI chat completions (prompt caching guide: cached_tokens inside prompt_tokens_details)
    "openai": {"prompt_tokens": 2006, "completion_tokens": 300, "total_tokens": 2306,
               "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 0},
               "completion_tokens_details": {"reasoning_tokens": 0}},
    # DeepSeek: hits and misses beside prompt_tokens (hit + miss = prompt_tokens)
    "deepseek": {"prompt_tokens": 2006, "completion_tokens": 300, "total_tokens": 2306,
                 "prompt_cache_hit_tokens": 1920, "prompt_cache_miss_tokens": 86},
    # Gemini's OpenAI-compatible endpoint: the OpenAI field, other details null
    "gemini": {"prompt_tokens": 2006, "completion_tokens": 300, "total_tokens": 2306,
               "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": None},
               "completion_tokens_details": {"reasoning_tokens": 609, "audio_tokens": None}},
    # DashScope compatible mode: the OpenAI field only
    "dashscope": {"prompt_tokens": 2006, "completion_tokens": 300, "total_tokens": 2306,
                  "prompt_tokens_details": {"cached_tokens": 1920}},
    # vllm serve --enable-prompt-tokens-details
    "vllm": {"prompt_tokens": 2006, "total_tokens": 2306, "completion_tokens": 300,
             "prompt_tokens_details": {"cached_tokens": 1920}},
}


@pytest.mark.parametrize("provider", sorted(PROVIDER_USAGE))
def test_cached_prompt_tokens_are_read_from_each_providers_usage(provider):
    completion = _to_completion(reply(PROVIDER_USAGE[provider]), ask())
    assert (completion.tokens_in, completion.tokens_out, completion.tokens_in_cached) == (2006, 300, 1920)


def test_deepseek_hits_and_misses_alone_give_the_prompt_tokens():
    completion = _to_completion(reply({"completion_tokens": 5, "prompt_cache_hit_tokens": 64,
                                       "prompt_cache_miss_tokens": 36}), ask())
    assert (completion.tokens_in, completion.tokens_out, completion.tokens_in_cached) == (100, 5, 64)


@pytest.mark.parametrize("usage", [
    {"prompt_tokens": 50, "completion_tokens": 7},  # no cache fields (vLLM without the flag, old servers)
    {"prompt_tokens": 50, "completion_tokens": 7, "prompt_tokens_details": None},
    {"prompt_tokens": 50, "completion_tokens": 7, "prompt_tokens_details": {}},
    {"prompt_tokens": 50, "completion_tokens": 7, "prompt_tokens_details": {"cached_tokens": None}},
    {"prompt_tokens": 50, "completion_tokens": 7, "prompt_tokens_details": {"cached_tokens": "lots"}},
    {"prompt_tokens": 50, "completion_tokens": 7, "prompt_tokens_details": {"cached_tokens": -3}},
    {"prompt_tokens": 50, "completion_tokens": 7, "prompt_tokens_details": [1, 2]},
    {"prompt_tokens": 50, "completion_tokens": 7, "prompt_cache_hit_tokens": True},
])
def test_missing_or_malformed_cache_fields_count_as_nothing_cached(usage):
    completion = _to_completion(reply(usage), ask())
    assert (completion.tokens_in, completion.tokens_out, completion.tokens_in_cached) == (50, 7, 0)


def test_cached_tokens_never_exceed_the_prompt_tokens():
    completion = _to_completion(reply({"prompt_tokens": 50, "completion_tokens": 7,
                                       "prompt_tokens_details": {"cached_tokens": 900}}), ask())
    assert completion.tokens_in_cached == 50


def test_estimated_usage_has_nothing_cached():
    completion = _to_completion(reply(None), ask("y" * 80))
    assert (completion.tokens_in, completion.tokens_in_cached) == (20, 0)


# -- the price of cached input -----------------------------------------------------------------


def spec(**prices) -> ModelSpec:
    return ModelSpec(name="priced", backend="openai", model="m", **prices)


def test_cost_prices_cached_input_at_the_cached_price():
    s = spec(price_in_per_mtok=2.5, price_out_per_mtok=10.0, price_cached_in_per_mtok=1.25)
    assert math.isclose(s.cost(1_000_000, 0), 2.5)
    assert math.isclose(s.cost(1_000_000, 100_000, 800_000), 0.2 * 2.5 + 0.8 * 1.25 + 0.1 * 10.0)
    assert math.isclose(s.cost(100, 0, 10_000), 100 * 1.25 / 1e6)  # cached is part of tokens_in


def test_without_a_cached_price_cached_input_costs_the_input_price():
    s = spec(price_in_per_mtok=0.27, price_out_per_mtok=1.10)
    assert s.price_cached_in_per_mtok is None
    assert math.isclose(s.cost(1000, 10, 900), s.cost(1000, 10))


@pytest.mark.parametrize("field", ["price_in_per_mtok", "price_out_per_mtok", "price_cached_in_per_mtok"])
def test_negative_or_nan_prices_are_refused(field):
    with pytest.raises(ValueError, match=field):
        spec(**{field: -0.1})
    with pytest.raises(ValueError, match=field):
        spec(**{field: float("nan")})


def test_the_paper_configs_carry_cached_input_prices(compose_cfg):
    cfg = compose_cfg(["mentors=paper", "judge=paper", "writer=deepseek_v3"])

    def load(node):
        return ModelSpec.from_mapping(OmegaConf.to_container(node, resolve=True))

    mentors = {m.name: m for m in map(load, cfg.mentors.models)}
    assert mentors["gpt-4o"].price_cached_in_per_mtok == 1.25
    assert mentors["gemini-2.5-pro"].price_cached_in_per_mtok == 0.125
    assert mentors["qwen2.5-vl-72b"].price_cached_in_per_mtok is None  # not confirmed: priced as input
    judge, writer = load(cfg.judge.spec), load(cfg.writer.part1)
    assert judge.price_cached_in_per_mtok == writer.price_cached_in_per_mtok == 0.07
    for s in [*mentors.values(), judge, writer]:
        cached = s.price_cached_in_per_mtok
        assert cached is None or 0 < cached < s.price_in_per_mtok, s.name


# -- the ledger ---------------------------------------------------------------------------------


def test_usage_counts_cached_tokens_and_old_records_still_load():
    old = {"calls": 3, "cache_hits": 1, "retries": 0, "failures": 0, "tokens_in": 300, "tokens_out": 30,
           "cost_usd": 0.001, "wall_s": 1.5}  # written before tokens_in_cached (and the economy counters)
    assert Usage(**old).tokens_in_cached == 0
    new = Usage(calls=2, tokens_in=200, tokens_out=20, tokens_in_cached=128, cost_usd=0.0005).as_dict()
    assert new["tokens_in_cached"] == 128
    total = sum_usage([{"judge/ds": old}, {"judge/ds": new}, {"judge/ds": {**new, "from_the_future": 1}}])
    row = total["judge/ds"]
    assert (row["calls"], row["tokens_in"], row["tokens_in_cached"]) == (7, 700, 256)
    assert math.isclose(row["cost_usd"], 0.002)


def test_cost_is_kept_to_the_nano_dollar():
    # one DeepSeek judge call on 100 cached tokens: 7e-9 USD, which micro-dollars would round to 0
    assert Usage(cost_usd=7e-9).as_dict()["cost_usd"] == 7e-9


# -- the fake server's prefix cache -------------------------------------------------------------


def post(server, model: str, messages: list) -> dict:
    request = urllib.request.Request(
        f"{server.base_url}/chat/completions", method="POST", headers={"Content-Type": "application/json"},
        data=json.dumps({"model": model, "messages": messages, "temperature": 0.0}).encode())
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())["usage"]


STATIC = "S" * 1200  # 300 tokens in the server's estimate (characters / 4)


def user(text: str, image: str | None = None) -> list[dict]:
    parts = [{"type": "image_url", "image_url": {"url": image}}] if image else []
    return [{"role": "system", "content": STATIC},
            {"role": "user", "content": parts + [{"type": "text", "text": text}]}]


def test_fake_server_reports_no_cache_fields_by_default():
    with running_server() as server:
        first, second = post(server, "m", user("q")), post(server, "m", user("q"))
    assert set(first) == set(second) == {"prompt_tokens", "completion_tokens", "total_tokens"}


def test_fake_server_reports_the_longest_shared_prefix_in_blocks_openai_style():
    with running_server(prefix_cache=True) as server:
        first = post(server, "m", user("A" * 400))
        second = post(server, "m", user("B" * 400))   # shares the 300-token system text
        third = post(server, "m", user("B" * 400))    # the same prompt again
        other = post(server, "other", user("B" * 400))  # another model has its own cache
        stats = server.stats()
    assert first["prompt_tokens_details"] == {"cached_tokens": 0}
    assert second["prompt_tokens"] == 400 and second["prompt_tokens_details"]["cached_tokens"] == 256  # 300 -> 4 x 64
    assert third["prompt_tokens_details"]["cached_tokens"] == 384  # all 400, rounded down to 6 x 64
    assert other["prompt_tokens_details"]["cached_tokens"] == 0
    assert stats["cached_tokens_total"] == 256 + 384 and stats["prompt_tokens_total"] == 1600


def test_fake_server_reports_deepseek_style_and_honours_block_and_minimum():
    with running_server(prefix_cache=True, usage_style="deepseek", prefix_cache_block=128,
                        prefix_cache_min_tokens=350) as server:
        short = [{"role": "user", "content": STATIC}]  # 300 tokens: under the minimum
        post(server, "m", short)
        again = post(server, "m", short)
        first = post(server, "m", user("A" * 400))
        second = post(server, "m", user("A" * 200 + "B" * 200))
    assert again["prompt_cache_hit_tokens"] == 0 and again["prompt_cache_miss_tokens"] == 300
    assert "prompt_tokens_details" not in first and first["prompt_cache_hit_tokens"] == 0
    # shared: the 300-token system text + 50 tokens of "A" = 350 -> 2 blocks of 128
    assert second["prompt_cache_hit_tokens"] == 256 and second["prompt_cache_miss_tokens"] == 400 - 256


def test_a_different_image_ends_the_shared_prefix():
    cache = PrefixCache(block=16)
    a = user("A" * 400, image="data:image/png;base64,AAAA")
    b = user("A" * 400, image="data:image/png;base64,BBBB")
    assert cache.lookup_and_store("m", a) == 0
    assert cache.lookup_and_store("m", b) == 288  # the 300-token system text only, in 16s
    assert cache.lookup_and_store("m", a) == 400  # a itself is remembered whole


# -- end to end: the fake server's cache, the backend, CachedModel and the ledger --------------


@pytest.mark.parametrize("style", ["openai", "deepseek"])
def test_cached_tokens_reach_the_ledger_and_lower_the_cost(tmp_path, style):
    prices = {"price_in_per_mtok": 2.0, "price_out_per_mtok": 8.0, "price_cached_in_per_mtok": 0.5}
    static = "You are a careful physician. " * 80  # ~580 tokens shared by every call of the case
    questions = [f"{static}\nQuestion {i}: what is shown?" for i in range(4)]

    def messages(text):
        return [Message("system", "Answer briefly."), Message("user", text)]

    async def run(server) -> tuple[Ledger, list[Completion]]:
        s = ModelSpec(name="priced", backend="openai", model="priced-model", base_url=server.base_url,
                      timeout_s=5.0, **prices)
        backend = OpenAIBackend(s)
        backend.retry_wait = wait_none()
        ledger, cache = Ledger(), CallCache(str(tmp_path / f"calls-{style}"))
        model = CachedModel(s, backend, cache, ledger, "mentor")
        try:
            done = [await model.chat(messages(q), temperature=0.0, case_id="c1") for q in questions]
            done.append(await model.chat(messages(questions[0]), temperature=0.0, case_id="c1"))  # our cache
        finally:
            await backend.aclose()
            cache.close()
        return ledger, done

    with running_server(prefix_cache=True, usage_style=style) as server:
        ledger, done = asyncio.run(run(server))
        stats = server.stats()
    assert stats["total"] == 4  # the repeated call was answered by our own cache
    assert done[0].tokens_in_cached == 0 and all(c.tokens_in_cached >= 512 for c in done[1:4])
    row = ledger.pop_case("c1")["mentor/priced"]
    assert row["calls"] == 5 and row["cache_hits"] == 1
    paid_in = sum(c.tokens_in for c in done[:4])
    paid_out = sum(c.tokens_out for c in done[:4])
    cached = sum(c.tokens_in_cached for c in done[:4])
    assert row["tokens_in_cached"] == cached == stats["cached_tokens_total"]
    billed = ((paid_in - cached) * 2.0 + cached * 0.5 + paid_out * 8.0) / 1e6
    list_price = (paid_in * 2.0 + paid_out * 8.0) / 1e6
    assert math.isclose(row["cost_usd"], billed, abs_tol=1e-9)
    assert row["cost_usd"] < 0.7 * list_price
    assert ledger.by_role_model()["mentor/priced"]["tokens_in_cached"] == cached
