"""In-process vLLM engine behind the async chat interface.

Concurrent calls are gathered into micro-batches and handed to `LLM.chat` in one go, which is
where vLLM's continuous batching and prefix caching pay off (many MICS calls share a long
prefix: the case, the images and the reasoning so far).

vLLM pins its own torch, so it lives in its own environment: `pip install 'chiron[vllm]'`.
"""

from __future__ import annotations

from typing import Any

from chiron.llm.microbatch import MicroBatcher
from chiron.llm.openai_backend import to_openai_messages
from chiron.llm.spec import ModelSpec
from chiron.llm.types import ChatRequest, Completion, Sampling

MAX_IMAGES_PER_PROMPT = 16  # a case plus its MMRP context rarely carries more

MISSING_EXTRA = (
    "the vllm backend needs the optional extra: pip install 'chiron[vllm]' "
    "(in its own environment: vllm pins its own torch). "
    "Alternatively serve the model with `vllm serve` and use backend=openai with its base_url."
)


class VLLMBackend:
    def __init__(self, spec: ModelSpec) -> None:
        try:
            import vllm
        except ImportError as exc:
            raise ImportError(MISSING_EXTRA) from exc
        if spec.tiny is not None:
            raise ValueError(f"model '{spec.name}': tiny random models are built by the hf backend, not vllm")
        self.spec = spec
        self.identity = f"vllm|{spec.model}"
        self._sampling_params_cls = vllm.SamplingParams
        self.llm = vllm.LLM(
            model=spec.model,
            dtype=spec.dtype,
            seed=spec.seed,
            enable_prefix_caching=True,
            limit_mm_per_prompt={"image": MAX_IMAGES_PER_PROMPT},
            # Medical VLM checkpoints (InternVL, HuatuoGPT-Vision) ship custom model code.
            trust_remote_code=True,
        )
        self._batcher = MicroBatcher(self._run_batch, spec.batch_size, spec.batch_wait_ms)

    async def complete(self, request: ChatRequest) -> Completion:
        return await self._batcher.submit(request)

    async def aclose(self) -> None:
        await self._batcher.aclose()

    # -- runs in a worker thread -----------------------------------------------------------

    def _run_batch(self, requests: list[ChatRequest]) -> list[Completion]:
        # LLM.chat takes OpenAI-style messages, images included as data URLs.
        conversations = [to_openai_messages(r.messages, self.spec.image_max_side) for r in requests]
        params = [self._sampling_params(r.sampling) for r in requests]
        # One SamplingParams per conversation: LLM.chat pairs the two lists by position.
        outputs = self.llm.chat(conversations, sampling_params=params, use_tqdm=False)
        return [self._to_completion(r, out) for r, out in zip(requests, outputs)]

    def _sampling_params(self, sampling: Sampling) -> Any:
        return self._sampling_params_cls(**sampling_kwargs(sampling))

    def _to_completion(self, request: ChatRequest, output: Any) -> Completion:
        best = output.outputs[0]
        return Completion(
            text=best.text,
            tokens_in=len(output.prompt_token_ids or ()),
            tokens_out=len(best.token_ids or ()),
            effective={"model": request.model, "engine": "vllm", **sampling_kwargs(request.sampling)},
        )


def sampling_kwargs(sampling: Sampling) -> dict[str, Any]:
    """vLLM's SamplingParams arguments; vLLM spells 'top_k disabled' as -1."""
    kwargs: dict[str, Any] = {
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "top_k": sampling.top_k if sampling.top_k > 0 else -1,
        "max_tokens": sampling.max_tokens,
    }
    if sampling.seed is not None:
        kwargs["seed"] = sampling.seed
    return kwargs
