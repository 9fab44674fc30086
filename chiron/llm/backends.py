"""Backend factory. In-process models are loaded once and shared by every role that names them."""

from __future__ import annotations

from chiron.llm.spec import ModelSpec
from chiron.llm.types import Backend


class BackendPool:
    def __init__(self) -> None:
        self._backends: dict[tuple, Backend] = {}

    def get(self, spec: ModelSpec) -> Backend:
        key = _share_key(spec)
        if key not in self._backends:
            self._backends[key] = _build(spec)
        return self._backends[key]

    async def aclose(self) -> None:
        for backend in self._backends.values():
            await backend.aclose()
        self._backends.clear()


def _share_key(spec: ModelSpec) -> tuple:
    if spec.backend == "openai":
        # One client (and one concurrency limit) per endpoint and key variable.
        return ("openai", spec.base_url, spec.api_key_env)
    return (spec.backend, spec.model, spec.device, spec.dtype)


def _build(spec: ModelSpec) -> Backend:
    if spec.backend == "openai":
        from chiron.llm.openai_backend import OpenAIBackend

        return OpenAIBackend(spec)
    if spec.backend == "hf":
        from chiron.llm.hf_backend import HFBackend

        return HFBackend(spec)
    if spec.backend == "vllm":
        from chiron.llm.vllm_backend import VLLMBackend

        return VLLMBackend(spec)
    raise ValueError(f"unknown backend {spec.backend!r}")
