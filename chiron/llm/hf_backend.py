"""In-process Hugging Face backend: one model in memory, requests micro-batched into `generate` calls.

Requests from many coroutines are gathered by `MicroBatcher`; each batch is split into groups that
share the same `Sampling` (one `generate` call can only use one set of decoding parameters), and
each group is rendered with the processor's chat template, left-padded and generated together.

A sampled row draws its tokens from its own random stream, seeded from the request itself
(`request_seed`), never from a stream the whole batch shares: which requests happen to be batched
together depends on timing, so a shared stream would make a sample depend on the machine's load.

Decoding parameters are always passed explicitly. `generate` fills every parameter we leave as
`None` from the checkpoint's own `generation_config.json` (and then from library defaults such as
top_k=50), so a checkpoint shipping e.g. `top_k=1` would otherwise silently turn temperature
sampling into greedy decoding.

Over 300 lines: loading, micro-batching, explicit decoding and per-request sampling are one backend;
splitting them would spread one generate call over several files.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass
from typing import Any

from chiron.llm.images import check_image, file_sha256, load_rgb
from chiron.llm.microbatch import MicroBatcher
from chiron.llm.spec import ModelSpec
from chiron.llm.tiny import RECIPE as TINY_RECIPE
from chiron.llm.tiny import ensure_tiny_model, load_processor
from chiron.llm.types import BackendError, ChatRequest, Completion, Sampling

log = logging.getLogger(__name__)


class HFBackend:
    """`Backend` over a transformers model held in this process (CPU or one GPU)."""

    def __init__(self, spec: ModelSpec) -> None:
        import torch

        self.spec = spec
        if spec.tiny:
            ensure_tiny_model(spec.model, spec.tiny, spec.seed, role=spec.tiny_role)
        self.device = resolve_device(spec.device)
        self.dtype = resolve_dtype(spec.dtype, self.device)
        # A hub checkpoint can take minutes to read: a line before and after, so the wait is explained.
        started = time.monotonic()
        log.info("model %s: loading %s%s on %s", spec.name, spec.model,
                 f" with adapter {spec.adapter}" if spec.adapter else "", self.device)
        self.model, self.processor, self.multimodal = _load(spec.model, self.dtype)
        if spec.adapter:
            self.model = _apply_adapter(self.model, spec.adapter)
        self.model.to(self.device)
        self.model.eval()
        log.info("model %s: loaded in %.1f s", spec.name, time.monotonic() - started)
        self.tokenizer = getattr(self.processor, "tokenizer", self.processor)
        # Decoder-only batches must be padded on the left so every row ends where generation starts.
        self.tokenizer.padding_side = "left"
        self.eos_ids = _eos_ids(self.model, self.tokenizer)
        pad = self.tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else self.eos_ids[0]
        self.identity = f"hf|{spec.model}|{str(self.dtype).removeprefix('torch.')}"
        if spec.processor_kwargs:
            # tiling changes what the model sees, so it is part of what answers
            self.identity += "|" + json.dumps(dict(spec.processor_kwargs), sort_keys=True)
        if spec.adapter:
            # the adapter's weights answer too: retraining it must not hit the old one's cache entries
            self.identity += f"|adapter-{adapter_digest(spec.adapter)[:16]}"
        if spec.tiny:
            # the recipe is part of what answers: a rebuilt tiny model must not hit old cache entries
            self.identity += f"|tiny-r{TINY_RECIPE}-{spec.tiny_role}"
        self._torch = torch
        self._batcher = MicroBatcher(self._run_batch, batch_size=spec.batch_size, wait_ms=spec.batch_wait_ms)
        self._closed = False

    # -- Backend protocol -------------------------------------------------------------------

    async def complete(self, request: ChatRequest) -> Completion:
        if self._closed:
            raise BackendError(f"{self.identity}: backend is closed")
        # Check images here, per request, so one unreadable file fails its own request only
        # instead of every request that happens to share its micro-batch.
        await asyncio.to_thread(self._check_request, request)
        try:
            return await self._batcher.submit(request)
        except BackendError:
            raise
        except Exception as exc:  # generate/processor failures reach every waiter of the batch
            raise BackendError(f"{self.identity}: generation failed: {exc!r}") from exc

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._batcher.aclose()
        # Drop the weights now rather than whenever the backend object happens to be collected.
        self.model = None
        gc.collect()
        if self._torch.cuda.is_available():
            self._torch.cuda.empty_cache()

    # -- batching ---------------------------------------------------------------------------

    def _check_request(self, request: ChatRequest) -> None:
        paths = [p for m in request.messages for p in m.images]
        if paths and not self.multimodal:
            raise BackendError(f"{self.identity}: model {self.spec.model} is text-only; the request has "
                               f"{len(paths)} image(s)", kind="rejected")
        for path in paths:
            try:
                check_image(path)
            except ValueError as exc:  # chiron.llm.images.BadImage
                raise BackendError(f"{self.identity}: {exc}", kind="bad_image") from None

    def _run_batch(self, requests: list[ChatRequest]) -> list[Completion]:
        """Runs in a worker thread: one `generate` call per distinct Sampling in the batch."""
        results: list[Completion | None] = [None] * len(requests)
        for sampling, indices in group_by_sampling(requests).items():
            group = [requests[i] for i in indices]
            for i, completion in zip(indices, self._generate_group(group, sampling)):
                results[i] = completion
        return results  # type: ignore[return-value]

    def _generate_group(self, group: list[ChatRequest], sampling: Sampling) -> list[Completion]:
        torch = self._torch
        inputs = self._encode(group)
        plan = decoding_plan(sampling)
        seeds = [request_seed(self.spec.seed, self.spec.name, r) if plan.do_sample else None for r in group]
        extra = {}
        if plan.do_sample:
            from transformers import LogitsProcessorList

            # generate() itself decodes greedily over logits in which our processor has left only
            # the token each row drew from its own stream (see RowSampler).
            extra["logits_processor"] = LogitsProcessorList([RowSampler(plan, seeds, self.device)])
        prompt_len = inputs["input_ids"].shape[1]
        with torch.inference_mode():
            output = self.model.generate(**inputs, generation_config=self._generation_config(plan), **extra)
        new_tokens = output[:, prompt_len:].tolist()
        prompt_lens = inputs["attention_mask"].sum(dim=1).tolist()
        return [self._completion(row, int(n_in), plan, seed)
                for row, n_in, seed in zip(new_tokens, prompt_lens, seeds)]

    def _encode(self, group: list[ChatRequest]) -> Any:
        conversations = [self._conversation(r) for r in group]
        # Processors take padding options under processor_kwargs, tokenizers directly; both pad left.
        templater, padding = (
            (self.processor, {"processor_kwargs": {**self.spec.processor_kwargs, "padding": True,
                                                   "padding_side": "left"}})
            if self.multimodal else (self.tokenizer, {"padding": True})
        )
        inputs = templater.apply_chat_template(conversations, add_generation_prompt=True, tokenize=True,
                                               return_dict=True, return_tensors="pt", **padding)
        inputs = {k: v.to(self.device) for k, v in inputs.items()}
        if "pixel_values" in inputs:
            inputs["pixel_values"] = inputs["pixel_values"].to(self.dtype)
        return inputs

    def _conversation(self, request: ChatRequest) -> list[dict]:
        if not self.multimodal:
            # Text-only chat templates generally expect plain-string content.
            return [{"role": m.role, "content": m.text} for m in request.messages]
        # Content parts in the message's order (Message.parts): images before the text, or at the
        # text's <image> tags for a message with inline images.
        turns = []
        for m in request.messages:
            parts: list[dict] = [{"type": "image", "image": load_rgb(value)} if kind == "image"
                                 else {"type": "text", "text": value} for kind, value in m.parts()]
            turns.append({"role": m.role, "content": parts})
        return turns

    def _generation_config(self, plan: "DecodingPlan") -> Any:
        from transformers import GenerationConfig

        return GenerationConfig(**plan.generate_kwargs(), eos_token_id=self.eos_ids, pad_token_id=self.pad_id)

    def _completion(self, row: list[int], tokens_in: int, plan: "DecodingPlan", seed: int | None) -> Completion:
        kept = _through_first_eos(row, set(self.eos_ids))
        text = self.tokenizer.decode(kept, skip_special_tokens=True)
        return Completion(text=text, tokens_in=tokens_in, tokens_out=len(kept), effective=plan.effective(seed))


# -- decoding parameters --------------------------------------------------------------------------


@dataclass(frozen=True)
class DecodingPlan:
    do_sample: bool
    temperature: float
    top_p: float
    top_k: int
    max_new_tokens: int

    def generate_kwargs(self) -> dict:
        # generate() always decodes greedily (greedy decoding applies no temperature, top-k or top-p
        # warpers): sampling happens in RowSampler, per row. Knobs that reshape the distribution
        # even when greedy are pinned to neutral so the checkpoint's values (e.g.
        # repetition_penalty=1.05) cannot leak in through generate()'s None-filling.
        return dict(do_sample=False, max_new_tokens=self.max_new_tokens, num_beams=1, repetition_penalty=1.0,
                    no_repeat_ngram_size=0)

    def effective(self, seed: int | None = None) -> dict:
        return dict(do_sample=self.do_sample, temperature=self.temperature, top_p=self.top_p, top_k=self.top_k,
                    max_new_tokens=self.max_new_tokens, seed=seed)


def decoding_plan(sampling: Sampling) -> DecodingPlan:
    """Turn a Sampling into explicit decoding parameters (greedy when temperature <= 0)."""
    if sampling.greedy:
        return DecodingPlan(False, 0.0, 1.0, 0, sampling.max_tokens)
    return DecodingPlan(do_sample=True, temperature=float(sampling.temperature), top_p=float(sampling.top_p),
                        top_k=max(0, int(sampling.top_k)), max_new_tokens=sampling.max_tokens)


def request_seed(spec_seed: int, spec_name: str, request: ChatRequest) -> int:
    """The seed of one request's own sampling stream: its messages (images by their contents),
    sample_index and sampling seed, and the spec's name and seed. The same request gives the same
    sample in any batch, at any load; a new sample_index gives a fresh draw. No file path enters it
    (the model's folder, an image's), so a clone in another folder draws the same samples."""
    turns = tuple((m.role, m.text, tuple(file_sha256(p) for p in m.images), m.inline_images)
                  for m in request.messages)
    key = repr((spec_seed, spec_name, request.sampling.seed, request.sample_index, turns))
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big") & (2**63 - 1)


class RowSampler:
    """A logits processor that samples each row from its own seeded `torch.Generator`.

    It applies temperature, top-k and top-p per row, draws the next token from the row's stream,
    and returns scores that are -inf everywhere except at the drawn token, so generate()'s greedy
    step picks exactly that token. Row i's t-th draw is always the t-th draw of its own stream,
    whatever the other rows of the batch are.
    """

    def __init__(self, plan: DecodingPlan, seeds: list[int], device: Any) -> None:
        import torch

        self.plan = plan
        self.generators = [torch.Generator(device=device).manual_seed(seed) for seed in seeds]

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        logits = scores.float() / self.plan.temperature
        if self.plan.top_k > 0:
            kth = torch.topk(logits, min(self.plan.top_k, logits.shape[-1]), dim=-1).values[:, -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        probs = torch.softmax(logits, dim=-1)
        if self.plan.top_p < 1.0:
            probs = _top_p(probs, self.plan.top_p)
        chosen = torch.stack([torch.multinomial(row, 1, generator=g) for row, g in zip(probs, self.generators)])
        out = torch.full_like(scores, float("-inf"))
        return out.scatter(1, chosen, 0.0)


def _top_p(probs: Any, top_p: float) -> Any:
    """Keep the smallest set of most likely tokens whose mass reaches top_p (always the top one)."""
    import torch

    ordered, order = torch.sort(probs, descending=True, dim=-1)
    before = torch.cumsum(ordered, dim=-1) - ordered  # mass of the tokens ranked above each one
    ordered = ordered.masked_fill(before >= top_p, 0.0)
    return torch.zeros_like(probs).scatter(1, order, ordered)


def group_by_sampling(requests: list[ChatRequest]) -> dict[Sampling, list[int]]:
    """Indices of requests per distinct Sampling, in first-seen order."""
    groups: dict[Sampling, list[int]] = {}
    for i, request in enumerate(requests):
        groups.setdefault(request.sampling, []).append(i)
    return groups


def _through_first_eos(row: list[int], eos: set[int]) -> list[int]:
    # Tokens after the first eos are padding added once other rows were still generating.
    for i, token in enumerate(row):
        if token in eos:
            return row[: i + 1]
    return row


# -- loading --------------------------------------------------------------------------------------


def resolve_device(name: str) -> Any:
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def resolve_dtype(name: str, device: Any) -> Any:
    import torch

    if name == "auto":
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    dtype = getattr(torch, name, None)
    if not isinstance(dtype, torch.dtype):
        raise ValueError(f"unknown dtype {name!r}")
    return dtype


def _load(name: str, dtype: Any) -> tuple[Any, Any, bool]:
    """(model, processor-or-tokenizer, multimodal). Vision-language first, text-only as fallback."""
    from transformers import AutoModelForCausalLM, AutoModelForImageTextToText, AutoTokenizer

    try:
        model = AutoModelForImageTextToText.from_pretrained(name, dtype=dtype)
    except ValueError as vlm_error:  # the config is not an image-text-to-text architecture
        try:
            model = AutoModelForCausalLM.from_pretrained(name, dtype=dtype)
        except ValueError as lm_error:
            raise BackendError(f"cannot load {name!r} as a VLM ({vlm_error}) or a causal LM ({lm_error})")
        return model, AutoTokenizer.from_pretrained(name), False
    return model, load_processor(name), True


def _apply_adapter(model: Any, adapter: str) -> Any:
    """Base model + PEFT adapter, merged: generation then runs at the plain model's speed."""
    from peft import PeftModel

    if not os.path.isfile(os.path.join(adapter, "adapter_config.json")):
        raise FileNotFoundError(f"no PEFT adapter at {adapter} (adapter_config.json missing); a curriculum "
                                "run writes one per stage under train/<stage>/adapter")
    return PeftModel.from_pretrained(model, adapter).merge_and_unload()


def adapter_digest(adapter: str) -> str:
    """Content hash of an adapter folder's config and weight files."""
    from chiron.utils.hashing import folder_digest

    return folder_digest(adapter, prefix="adapter_")


def _eos_ids(model: Any, tokenizer: Any) -> list[int]:
    """Every id that ends a turn: the checkpoint's generation_config eos (may be a list) + the tokenizer's."""
    ids: list[int] = []
    configured = getattr(model.generation_config, "eos_token_id", None)
    if configured is not None:
        ids.extend(configured if isinstance(configured, list) else [configured])
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in ids:
        ids.append(tokenizer.eos_token_id)
    if not ids:
        raise BackendError("model has no eos token; generation could never stop early")
    return ids
