"""`eval.prompt=reference`: the question verbatim, each image at its `<image>` tag (the rest first),
no system turn, 12 tiles per image for InternVL; rendered in order by the openai and hf backends,
and never sharing a cache entry with `eval.prompt=chiron`.

This module is also the fake server's responder (`respond`: it describes the request it got), so it
imports nothing from conftest at the top level.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from chiron.llm.types import ChatRequest, Message, Sampling


def respond(model: str, messages: list[dict], temperature: float) -> str:
    """A reply that describes the request: its roles, the user turn's part kinds in order, its texts."""
    user = messages[-1]["content"]
    parts = user if isinstance(user, list) else [{"type": "text", "text": user}]
    shape = {"roles": [m["role"] for m in messages],
             "parts": ["image" if p["type"] == "image_url" else "text" for p in parts],
             "texts": [p["text"] for p in parts if p["type"] == "text"]}
    return json.dumps(shape) + "\n### The final answer is: x"


# -- Message: where the images go ---------------------------------------------------------------


def test_message_parts_put_each_image_at_its_tag_and_the_rest_first():
    a, b, c = "/a.png", "/b.png", "/c.png"
    inline = Message("user", "See (Modality 1: <image>\n<image>) then answer.", (a, b), inline_images=True)
    assert inline.parts() == [("text", "See (Modality 1: "), ("image", a), ("image", b), ("text", ") then answer.")]
    # fewer tags than images: the untagged ones first, the order of the images kept
    assert Message("user", "Then <image> here.", (a, b, c), inline_images=True).parts() == [
        ("image", a), ("image", b), ("text", "Then "), ("image", c), ("text", " here.")]
    assert Message("user", "No tags.", (a, b), inline_images=True).parts() == [
        ("image", a), ("image", b), ("text", "No tags.")]
    # more tags than images: the extra tags stay text
    assert Message("user", "<image>\nx <image> y", (a,), inline_images=True).parts() == [
        ("image", a), ("text", "x <image> y")]
    # today's messages: images first, the text as it is (tags included), one text part
    assert Message("user", "a <image> b", (a, b)).parts() == [("image", a), ("image", b), ("text", "a <image> b")]
    assert repr(Message("user", "t", (a,))) == "Message(role='user', text='t', images=('/a.png',))"


def test_openai_messages_follow_the_parts(tmp_path):
    from PIL import Image

    from chiron.llm.openai_backend import to_openai_messages

    paths = []
    for n in range(2):
        paths.append(str(tmp_path / f"{n}.png"))
        Image.new("RGB", (8, 8), (100 * n, 0, 0)).save(paths[-1])
    inline = Message("user", "Before <image>\nbetween <image>\nafter", tuple(paths), inline_images=True)
    (payload,) = to_openai_messages((inline,), 64)
    kinds = [p["type"] for p in payload["content"]]
    assert kinds == ["text", "image_url", "text", "image_url", "text"]
    assert [p["text"] for p in payload["content"] if p["type"] == "text"] == ["Before ", "between ", "after"]
    (plain,) = to_openai_messages((Message("user", "Q", tuple(paths)),), 64)
    assert [p["type"] for p in plain["content"]] == ["image_url", "image_url", "text"]
    assert to_openai_messages((Message("system", "S"),), 64) == [{"role": "system", "content": "S"}]


# -- the prompt itself ----------------------------------------------------------------------------


def _reference_copy(root: Path) -> list[dict]:
    from PIL import Image

    (root / "images").mkdir(parents=True)
    for n in range(3):
        Image.new("RGB", (32, 24), (60 * n, 90, 30)).save(root / "images" / f"{n}.png")
    rows = [
        {"id": 1, "img_name": ["images/0.png", "images/1.png"], "answer": "Gout", "answer_type": "OPEN",
         "question": "Case 1: what is it? (Modality 1: <image>\n<image>) and reason step by step."},
        {"id": 2, "img_name": ["images/1.png", "images/2.png"], "answer": "Yes.", "answer_type": "CLOSED",
         "question": "Case 2: is there a fracture?"},
        {"id": 3, "img_name": "images/2.png", "answer": "Meningioma", "answer_type": "OPEN",
         "question": "<image>\nCase 3: the mass?"},
    ]
    (root / "eval_data.json").write_text(json.dumps(rows))
    return rows


def test_the_reference_prompt_is_the_question_verbatim(tmp_path):
    from chiron.eval.benchmarks import load_benchmark
    from chiron.eval.items import EvalItem
    from chiron.eval.prompts import eval_messages, reference_text

    rows = _reference_copy(tmp_path / "ref")
    items = load_benchmark("reference", str(tmp_path / "ref"))
    for row, item in zip(rows, items):
        (message,) = eval_messages(item, "reference")
        assert message.role == "user" and message.inline_images and message.text == row["question"]
        assert len(message.images) == (1 if isinstance(row["img_name"], str) else 2)
        system, user = eval_messages(item, "chiron")  # today's prompt is unchanged
        assert system.role == "system" and not user.inline_images and "<image>" not in user.text
    # benchmarks that keep options in the question text keep them; MMMU's are added as "A. text" lines
    demo = {i.id: i for i in load_benchmark("demo", None)}
    pmc = next(i for i in demo.values() if i.kind == "choice")
    assert reference_text(pmc).startswith("<image>\n") and "\nOptions:\nA: " in reference_text(pmc)
    mmmu_like = EvalItem(id="m", benchmark="mmmu_hm", question="Which drug? <image 1>", answer="B", kind="choice",
                         options=(("A", "x"), ("B", "y")), answer_letter="B")
    assert reference_text(mmmu_like) == "Which drug? <image 1>\nA. x\nB. y"
    with pytest.raises(ValueError, match="eval.prompt"):
        eval_messages(pmc, "paper")


def test_the_openai_backend_sends_images_at_their_tags_and_the_prompts_never_share_a_cache_entry(tmp_path):
    from conftest import compose_config

    from chiron.main import run_task
    from chiron.testing.fake_openai import running_server

    rows = _reference_copy(tmp_path / "ref")
    with running_server(responder="tests.test_eval_prompt_reference:respond") as server:
        def run(name: str, prompt: str) -> dict:
            generator = (f"eval.generator={{name:fake-vlm,backend:openai,model:fake-vlm,base_url:'{server.base_url}',"
                         f"max_retries:0,timeout_s:10,image_max_side:64}}")
            cfg = compose_config(["task=eval", "benchmarks=[reference]", f"eval.roots.reference={tmp_path / 'ref'}",
                                  generator, f"eval.prompt={prompt}", "eval.judge_open=false", "logger=none",
                                  "progress=false", "eval.bertscore.answer_benchmarks=[]",
                                  f"paths.output_dir={tmp_path / 'out'}", f"+paths.run_dir={tmp_path / name}"])
            run_task(cfg)
            lines = (tmp_path / name / "eval" / "reference" / "predictions.jsonl").read_text().splitlines()
            return {r["id"]: r for r in map(json.loads, lines)}

        got = run("reference", "reference")
        assert server.stats()["total"] == 3
        shapes = {i: json.loads(r["reply"].split("\n### The final answer")[0]) for i, r in got.items()}
        assert all(r["prompt"] == "reference" for r in got.values())
        assert all(s["roles"] == ["user"] for s in shapes.values())  # no system turn
        assert shapes["1"]["parts"] == ["text", "image", "image", "text"]
        assert shapes["1"]["texts"] == ["Case 1: what is it? (Modality 1: ", ") and reason step by step."]
        assert shapes["2"]["parts"] == ["image", "image", "text"]  # no tag: images first, as InternVL's chat
        assert shapes["2"]["texts"] == [rows[1]["question"]]
        assert shapes["3"]["parts"] == ["image", "text"] and shapes["3"]["texts"] == ["Case 3: the mass?"]

        chiron = run("chiron", "chiron")
        assert server.stats()["total"] == 6  # the other prompt: asked again, never served from the cache
        assert all(json.loads(r["reply"].split("\n###")[0])["roles"] == ["system", "user"] for r in chiron.values())
        assert all(json.loads(r["reply"].split("\n###")[0])["parts"][-1] == "text" for r in chiron.values())
        run("reference-again", "reference")
        assert server.stats()["total"] == 6  # the same prompt again: all from the cache


# -- the hf backend: the chat template's content list in order, 12 tiles --------------------------


def test_the_hf_backend_renders_images_at_their_tags_with_twelve_tiles(tmp_path, tiny_tokenizer_path):
    import dataclasses

    from conftest import compose_config
    from PIL import Image

    from chiron.eval.job import generator_spec
    from chiron.llm.hf_backend import HFBackend

    wide, square = str(tmp_path / "wide.png"), str(tmp_path / "square.png")
    Image.new("RGB", (768, 64), (200, 10, 10)).save(wide)  # 12:1: twelve 64 px tiles when 12 are allowed
    Image.new("RGB", (64, 64), (10, 10, 200)).save(square)
    message = Message("user", "Look (Modality 1: <image>\n<image>) now.", (wide, square), inline_images=True)
    request = ChatRequest("tiny", (message,), Sampling(max_tokens=2))

    def backend(prompt: str) -> HFBackend:
        spec = generator_spec(compose_config(["task=eval", "model=tiny", f"eval.prompt={prompt}", "eval.device=cpu"]))
        return HFBackend(dataclasses.replace(spec, model=tiny_tokenizer_path))

    reference = backend("reference")
    assert reference.spec.processor_kwargs["max_patches"] == 12
    (turn,) = reference._conversation(request)
    assert [part["type"] for part in turn["content"]] == ["text", "image", "image", "text"]
    rendered = reference.processor.apply_chat_template([turn], add_generation_prompt=True, tokenize=False)
    assert "Look (Modality 1: <IMG_CONTEXT>\n<IMG_CONTEXT>\n) now." in rendered
    tiles = reference._encode([request])["pixel_values"].shape[0]
    ours = backend("chiron")
    assert ours.spec.processor_kwargs["max_patches"] == 6
    assert (tiles, ours._encode([request])["pixel_values"].shape[0]) == (12 + 1 + 1, 6 + 1 + 1)  # + thumbnails
    assert reference.identity != ours.identity  # tiling answers too: its own cache entries
    text = asyncio.run(reference.complete(request)).text  # it generates
    asyncio.run(reference.aclose())
    asyncio.run(ours.aclose())
    assert isinstance(text, str)


# -- cache keys ----------------------------------------------------------------------------------


def test_cache_keys_tell_the_prompts_apart_and_keep_todays_keys(tmp_path):
    from chiron.eval.items import EvalItem
    from chiron.eval.prompts import eval_messages
    from chiron.llm.cache import request_key

    image = tmp_path / "b.png"
    image.write_bytes(b"fixed bytes standing in for an image")
    today = ChatRequest("m", (Message("system", "sys"), Message("user", "What is <image> this?", (str(image),))),
                        Sampling())
    # the key of a message without inline images is exactly the one computed before they existed
    assert request_key("openai|x", today) == "f4e588fa127f803f14d0ddfed3ba9c3b7447c58163f3e63053cadc3b49e478bc"
    inline = ChatRequest("m", (today.messages[0], Message("user", "What is <image> this?", (str(image),),
                                                          inline_images=True)), Sampling())
    assert request_key("openai|x", inline) != request_key("openai|x", today)
    item = EvalItem(id="1", benchmark="reference", question="What is image 1?", answer="Gout", kind="open",
                    images=(str(image),), meta={"verbatim_question": "What is <image>?"})
    keys = {prompt: request_key("openai|x", ChatRequest("m", tuple(eval_messages(item, prompt)), Sampling()))
            for prompt in ("chiron", "reference")}
    assert keys["chiron"] != keys["reference"]
