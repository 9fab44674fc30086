"""HF backend on a tiny random-weight InternVL built offline: loading, batching, explicit sampling."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import threading
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from PIL import Image  # noqa: E402

from chiron.llm.hf_backend import TINY_RECIPE, HFBackend  # noqa: E402
from chiron.llm.spec import ModelSpec  # noqa: E402
from chiron.llm.tiny import (  # noqa: E402
    build_tiny_internvl,
    ensure_tiny_model,
    is_saved_model,
    load_processor,
)
from chiron.llm.types import BackendError, ChatRequest, Message, Sampling  # noqa: E402

GREEDY = Sampling(temperature=0.0, max_tokens=6)
HOT = Sampling(temperature=1.0, top_p=1.0, top_k=0, max_tokens=8)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> str:
    return ensure_tiny_model(str(tmp_path_factory.mktemp("models") / "tiny-internvl"), "internvl", seed=0)


@pytest.fixture(scope="module")
def image_path(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("images") / "scan.png"
    img = Image.new("RGB", (40, 30), (20, 20, 20))
    for x in range(10, 30):
        img.putpixel((x, 15), (240, 240, 240))
    img.save(path)
    return str(path)


def _spec(model_dir: str, **overrides) -> ModelSpec:
    fields = dict(
        name="tiny", backend="hf", model=model_dir, tiny="internvl", device="cpu", dtype="auto"
    )
    fields.update(overrides)
    return ModelSpec(**fields)


def _request(text: str, sampling: Sampling, images: tuple[str, ...] = (), index: int = 0) -> ChatRequest:
    messages = (Message("user", text, images),)
    return ChatRequest(model="tiny", messages=messages, sampling=sampling, sample_index=index)


def _run(backend: HFBackend, coro_factory):
    async def main():
        try:
            return await coro_factory()
        finally:
            await backend.aclose()

    return asyncio.run(main())


def test_tiny_model_reloads_through_from_pretrained_with_identical_logits(tiny_dir, image_path):
    from transformers import AutoModelForImageTextToText

    built, _ = build_tiny_internvl(seed=0)
    loaded = AutoModelForImageTextToText.from_pretrained(tiny_dir).eval()
    processor = load_processor(tiny_dir)
    assert type(processor).__name__ == "InternVLProcessor"
    assert processor.video_processor is None
    conversation = [
        {
            "role": "user",
            "content": [
                {"type": "image", "image": Image.open(image_path).convert("RGB")},
                {"type": "text", "text": "Which lung shows the opacity?"},
            ],
        }
    ]
    inputs = processor.apply_chat_template(
        conversation, add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt"
    )
    rendered = processor.tokenizer.decode(inputs["input_ids"][0])
    assert rendered.startswith("<|im_start|>user\n<img><IMG_CONTEXT>")
    assert rendered.endswith("<|im_end|>\n<|im_start|>assistant\n")
    assert "pixel_values" in inputs
    with torch.inference_mode():
        assert torch.equal(built(**inputs).logits, loaded(**inputs).logits)


def test_ensure_tiny_model_is_idempotent_and_race_safe(tmp_path):
    target = str(tmp_path / "raced")
    errors = []

    def build():
        try:
            ensure_tiny_model(target, "internvl", seed=1)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=build) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and is_saved_model(target)
    stamp = os.stat(os.path.join(target, "model.safetensors")).st_mtime_ns
    assert ensure_tiny_model(target, "internvl", seed=1) == target
    assert os.stat(os.path.join(target, "model.safetensors")).st_mtime_ns == stamp
    # No staging directories are left behind next to the model.
    assert os.listdir(tmp_path) == ["raced"]
    with pytest.raises(ValueError):
        ensure_tiny_model(str(tmp_path / "other"), "llava")


def test_backend_builds_tiny_models_for_the_specs_role(tiny_dir, monkeypatch):
    import chiron.llm.hf_backend as hf_backend

    calls = []
    monkeypatch.setattr(hf_backend, "ensure_tiny_model", lambda *args, **kwargs: calls.append((args, kwargs)))
    backend = HFBackend(_spec(tiny_dir, tiny_role="judge", seed=5))
    asyncio.run(backend.aclose())
    assert calls == [((tiny_dir, "internvl", 5), {"role": "judge"})]


def test_complete_answers_text_and_image_requests(tiny_dir, image_path):
    backend = HFBackend(_spec(tiny_dir))
    assert backend.identity == f"hf|{tiny_dir}|float32|tiny-r{TINY_RECIPE}-None"

    async def ask():
        text = await backend.complete(_request("Is the chest x-ray normal?", GREEDY))
        image = await backend.complete(_request("Is the chest x-ray normal?", GREEDY, (image_path,)))
        return text, image

    text, image = _run(backend, ask)
    for completion in (text, image):
        assert isinstance(completion.text, str)
        assert 1 <= completion.tokens_out <= GREEDY.max_tokens
        assert completion.effective["do_sample"] is False
        assert completion.effective["max_new_tokens"] == GREEDY.max_tokens
    # The image adds <img>, its context tokens and </img> to the prompt.
    assert image.tokens_in > text.tokens_in + 4


def test_concurrent_requests_share_generate_calls(tiny_dir, image_path):
    backend = HFBackend(_spec(tiny_dir, batch_size=8, batch_wait_ms=200))
    calls = []
    real_generate = backend.model.generate

    def counting_generate(*args, **kwargs):
        calls.append(kwargs["input_ids"].shape[0])
        return real_generate(*args, **kwargs)

    backend.model.generate = counting_generate
    requests = [
        _request(f"question {i} about the lesion", GREEDY, (image_path,) if i % 2 else ()) for i in range(5)
    ] + [_request("sampled question", HOT, index=i) for i in range(2)]

    async def ask_all():
        return await asyncio.gather(*(backend.complete(r) for r in requests))

    completions = _run(backend, ask_all)
    assert len(completions) == len(requests)
    # One micro-batch, split into one generate call per distinct Sampling.
    assert sorted(calls) == [2, 5]
    for request, completion in zip(requests, completions):
        assert completion.tokens_out <= request.sampling.max_tokens
        assert completion.effective["do_sample"] is (not request.sampling.greedy)


def test_explicit_sampling_overrides_checkpoint_generation_config(tiny_dir, tmp_path):
    # A checkpoint whose own defaults would make every draw greedy (as Qwen-VL's top_k=1 does).
    model_dir = str(tmp_path / "greedy-checkpoint")
    shutil.copytree(tiny_dir, model_dir)
    config_path = os.path.join(model_dir, "generation_config.json")
    with open(config_path) as f:
        config = json.load(f)
    config.update(do_sample=False, top_k=1, top_p=0.01, temperature=0.1, repetition_penalty=1.5)
    with open(config_path, "w") as f:
        json.dump(config, f)

    backend = HFBackend(_spec(model_dir, batch_size=1))
    assert backend.model.generation_config.top_k == 1
    prompt = "Describe the finding in the left lung."

    async def draws():
        hot = [await backend.complete(_request(prompt, HOT, index=i)) for i in range(4)]
        again = await backend.complete(_request(prompt, HOT, index=0))
        greedy = [await backend.complete(_request(prompt, GREEDY, index=i)) for i in range(2)]
        short = await backend.complete(_request(prompt, Sampling(temperature=1.0, max_tokens=2)))
        return hot, again, greedy, short

    hot, again, greedy, short = _run(backend, draws)
    assert hot[0].effective == {
        "do_sample": True,
        "temperature": 1.0,
        "top_p": 1.0,
        "top_k": 0,
        "max_new_tokens": HOT.max_tokens,
        "seed": hot[0].effective["seed"],
    }
    assert isinstance(hot[0].effective["seed"], int)
    assert len({c.text for c in hot}) > 1, "temperature sampling collapsed to greedy"
    assert again.text == hot[0].text, "the same sample_index must reproduce its draw"
    assert greedy[0].text == greedy[1].text
    assert greedy[0].effective["seed"] is None
    assert short.tokens_out <= 2


def test_a_sample_does_not_depend_on_the_batch_it_lands_in(tiny_dir, image_path):
    # Which requests share a generate call depends on timing (and so on the machine's load): each
    # request must draw from its own stream, or its sample changes with its neighbours.
    hot_top = Sampling(temperature=1.2, top_p=0.9, top_k=20, max_tokens=8)
    target = _request("Describe the lesion in the left lobe.", hot_top, (image_path,), index=3)
    others = [_request(f"another question number {i} about a rather longer topic", hot_top, index=i)
              for i in range(5)]

    def draw(requests: list[ChatRequest], batch_size: int) -> list:
        backend = HFBackend(_spec(tiny_dir, batch_size=batch_size, batch_wait_ms=200))

        async def ask():
            return await asyncio.gather(*(backend.complete(r) for r in requests))

        return _run(backend, ask)

    alone = draw([target], 1)[0]
    first = draw([target, *others], 8)[0]
    last = draw([*others, target], 8)[-1]
    assert alone.text == first.text == last.text
    assert alone.effective["seed"] == first.effective["seed"] == last.effective["seed"]
    # ... while different draws of the same prompt still differ
    draws = draw([_request("Describe the lesion in the left lobe.", hot_top, (image_path,), index=i)
                  for i in range(6)], 8)
    assert len({d.text for d in draws}) > 1


def test_a_requests_seed_depends_on_contents_never_on_paths(tmp_path, image_path):
    from chiron.llm.hf_backend import request_seed

    copy = tmp_path / "elsewhere" / "scan.png"
    copy.parent.mkdir()
    shutil.copy(image_path, copy)
    here = _request("Describe the lesion.", HOT, (image_path,), index=1)
    moved = ChatRequest(model="/another/clone/tiny", messages=(Message("user", "Describe the lesion.", (str(copy),)),),
                        sampling=HOT, sample_index=1)
    # a clone in another folder (model and image paths differ) draws the same sample ...
    assert request_seed(3, "tiny-intern-a", here) == request_seed(3, "tiny-intern-a", moved)
    # ... while another draw, model or prompt draws another
    seed = request_seed(3, "tiny-intern-a", here)
    assert seed != request_seed(3, "tiny-intern-a", _request("Describe the lesion.", HOT, (image_path,), index=2))
    assert seed != request_seed(3, "tiny-intern-b", here)
    assert seed != request_seed(3, "tiny-intern-a", _request("Describe it.", HOT, (image_path,), index=1))


def test_closed_backend_and_bad_image_fail_cleanly(tiny_dir, tmp_path):
    backend = HFBackend(_spec(tiny_dir))
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")

    async def ask():
        with pytest.raises(BackendError):
            await backend.complete(_request("look", GREEDY, (str(broken),)))
        await backend.aclose()
        with pytest.raises(BackendError):
            await backend.complete(_request("look", GREEDY))

    _run(backend, ask)


def test_text_only_checkpoint_falls_back_to_causal_lm(tiny_dir, tmp_path):
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    model_dir = str(tmp_path / "text-only")
    tokenizer = AutoTokenizer.from_pretrained(tiny_dir)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        intermediate_size=64,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    Qwen2ForCausalLM(config).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)

    backend = HFBackend(_spec(model_dir, tiny=None))
    assert backend.multimodal is False

    async def ask():
        answer = await backend.complete(_request("Is the heart enlarged?", GREEDY))
        with pytest.raises(BackendError):
            await backend.complete(_request("and here?", GREEDY, (os.path.join(tiny_dir, "config.json"),)))
        return answer

    answer = _run(backend, ask)
    assert answer.tokens_in > 0 and 1 <= answer.tokens_out <= GREEDY.max_tokens


def test_a_model_from_another_recipe_is_rebuilt_not_reused(tmp_path):
    from chiron.llm import tiny

    path = str(tmp_path / "m")
    tiny.ensure_tiny_model(path, seed=0)
    stamp_file = os.path.join(path, tiny.STAMP_FILE)
    assert json.load(open(stamp_file)) == tiny.recipe_stamp("internvl", 0, None)
    json.dump({"recipe": tiny.RECIPE - 1, "kind": "internvl", "seed": 0, "role": None}, open(stamp_file, "w"))
    before = os.path.getmtime(os.path.join(path, "config.json"))
    time.sleep(0.01)
    tiny.ensure_tiny_model(path, seed=0)
    assert json.load(open(stamp_file))["recipe"] == tiny.RECIPE
    assert os.path.getmtime(os.path.join(path, "config.json")) >= before
    assert not [p for p in os.listdir(tmp_path) if ".stale-" in p]
