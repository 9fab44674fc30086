"""The model spec: one shape for every role (mentor, intern, judge, data writer) and every backend."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

from chiron.llm.tiny import KINDS as TINY_KINDS, ROLES as TINY_ROLES

BACKENDS = ("openai", "hf", "vllm")


@dataclass(frozen=True)
class ModelSpec:
    name: str
    backend: str
    model: str
    # openai backend
    base_url: str | None = None
    api_key_env: str | None = None  # the *name* of the environment variable, never the key
    max_concurrency: int = 64  # calls in flight per endpoint
    rpm: float | None = None  # requests per minute (None = unlimited)
    tpm: float | None = None  # tokens per minute, estimated from the prompt (None = unlimited)
    timeout_s: float = 120.0
    max_retries: int = 6
    image_max_side: int = 512  # reference code resizes API images to at most 512 px
    extra_body: Mapping[str, Any] = field(default_factory=dict)
    # cost accounting, USD per million tokens
    price_in_per_mtok: float = 0.0
    price_out_per_mtok: float = 0.0
    # input tokens the provider reports as read from its prompt-prefix cache (OpenAI's
    # prompt_tokens_details.cached_tokens, DeepSeek's prompt_cache_hit_tokens); None = price_in_per_mtok
    price_cached_in_per_mtok: float | None = None
    # generation defaults (temperature is always set by the role)
    max_tokens: int = 1024
    top_p: float = 1.0
    top_k: int = 0
    # in-process backends (hf, vllm)
    device: str = "auto"
    dtype: str = "auto"
    batch_size: int = 8  # requests per micro-batch
    batch_wait_ms: float = 5.0  # how long a micro-batch waits to fill
    # set to "internvl" to build a tiny random-weight model at `model` (offline tests and demo)
    tiny: str | None = None
    # With `tiny`: prime the random model on this role's output format (mentor | intern | judge)
    # so the offline demo exercises every branch of the search; None keeps pure random weights.
    tiny_role: str | None = None
    seed: int = 0
    # hf backend: processor options for images (e.g. InternVL tiling: crop_to_patches, max_patches)
    processor_kwargs: Mapping[str, Any] = field(default_factory=dict)
    # hf backend: a PEFT adapter folder (e.g. a curriculum stage's `adapter/`) applied on `model`
    adapter: str | None = None

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"model '{self.name}': backend must be one of {BACKENDS}, got {self.backend!r}")
        if not self.model:
            raise ValueError(f"model '{self.name}': `model` (hub id, path or served name) is required")
        if self.max_concurrency < 1:
            raise ValueError(f"model '{self.name}': max_concurrency must be >= 1")
        if self.tiny is not None and self.tiny not in TINY_KINDS:
            raise ValueError(f"model '{self.name}': tiny must be one of {TINY_KINDS}, got {self.tiny!r}")
        if self.tiny_role is not None and (self.tiny is None or self.tiny_role not in TINY_ROLES):
            raise ValueError(f"model '{self.name}': tiny_role needs `tiny` and one of {TINY_ROLES}")
        if self.adapter is not None and self.backend != "hf":
            raise ValueError(f"model '{self.name}': `adapter` is applied by the hf backend only; for "
                             f"{self.backend}, save a merged model (train.save_merged=true) and serve that")
        for price in ("price_in_per_mtok", "price_out_per_mtok", "price_cached_in_per_mtok"):
            value = getattr(self, price)
            if value is not None and not value >= 0:  # `not >=` also refuses NaN
                raise ValueError(f"model '{self.name}': {price} must be >= 0 (USD per million tokens), "
                                 f"got {value!r}")
        if self.api_key_env is not None and not str(self.api_key_env).replace("_", "").isalnum():
            raise ValueError(
                f"model '{self.name}': api_key_env must name an environment variable "
                "(letters, digits, underscores), not hold a key"
            )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> "ModelSpec":
        """Build from a config mapping, rejecting unknown keys so typos fail loudly."""
        known = {f.name for f in dataclasses.fields(cls)}
        data = dict(data)
        data.pop("_target_", None)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"model spec {data.get('name', '?')!r}: unknown keys {unknown}; known: {sorted(known)}")
        return cls(**data)

    def cost(self, tokens_in: int, tokens_out: int, tokens_in_cached: int = 0) -> float:
        """What a call is billed: `tokens_in_cached` of the `tokens_in` at the cached-input price
        (the input price when none is set), the rest at the input price, the output at its own."""
        cached = min(max(int(tokens_in_cached), 0), tokens_in)
        cached_price = self.price_cached_in_per_mtok
        if cached_price is None:
            cached_price = self.price_in_per_mtok
        return ((tokens_in - cached) * self.price_in_per_mtok + cached * cached_price
                + tokens_out * self.price_out_per_mtok) / 1e6
