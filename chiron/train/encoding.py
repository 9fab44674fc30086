"""One training Sample -> token ids, labels on the assistant's tokens only, and image tensors.

The conversation is rendered with the model's own chat template, then cut into pieces at the
assistant turns: prompt pieces go through the processor (which expands each image into its
tokens), assistant pieces through the tokenizer, and labels are set on the assistant pieces only
(their text and the end-of-turn token that follows, so the model learns to stop). Cutting at the
template's turn markers keeps the ids identical to tokenizing the whole text at once, because the
markers are special tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chiron.data.sample import IMAGE_PLACEHOLDER, Sample

IGNORE_INDEX = -100


@dataclass
class Encoded:
    input_ids: Any                   # LongTensor [length]
    labels: Any                      # LongTensor [length]; IGNORE_INDEX outside assistant tokens
    images: dict                     # processor image outputs (pixel_values, image_grid_thw, ...)
    truncated: bool = False


class SampleTooLong(ValueError):
    """The sample cannot be cut to max_length without cutting an image or every assistant token."""


def structured_messages(sample: Sample) -> list[dict]:
    """Messages with "<image>" placeholders turned into the content parts chat templates expect."""
    messages = []
    for message in sample.messages:
        text = message["content"]
        if IMAGE_PLACEHOLDER not in text:
            messages.append({"role": message["role"], "content": [{"type": "text", "text": text}]})
            continue
        parts: list[dict] = []
        for i, chunk in enumerate(text.split(IMAGE_PLACEHOLDER)):
            if i > 0:
                parts.append({"type": "image"})
                chunk = chunk.removeprefix("\n")  # templates put their own line break after an image
            if chunk:
                parts.append({"type": "text", "text": chunk})
        messages.append({"role": message["role"], "content": parts})
    return messages


def split_turns(processor: Any, messages: list[dict]) -> list[tuple[str, bool]]:
    """The rendered conversation as (text, is_assistant) pieces that concatenate to the whole."""
    full = _render(processor, messages, generation_prompt=False)
    pieces: list[tuple[str, bool]] = []
    at = 0
    end_token = processor.tokenizer.eos_token or ""
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        prompt = _render(processor, messages[:i], generation_prompt=True)
        reply = "".join(p["text"] for p in message["content"] if p["type"] == "text")
        if not full.startswith(prompt) or not full.startswith(reply, len(prompt)):
            raise ValueError("the chat template does not render the assistant turn after its own "
                             "generation prompt; cannot place the labels")
        stop = len(prompt) + len(reply)
        if end_token and full.startswith(end_token, stop):
            stop += len(end_token)
        pieces += [(full[at:len(prompt)], False), (full[len(prompt):stop], True)]
        at = stop
    if at < len(full):
        pieces.append((full[at:], False))
    return [(text, label) for text, label in pieces if text]


def _render(processor: Any, messages: list[dict], generation_prompt: bool) -> str:
    if not messages:
        return ""
    return processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)


def encode(sample: Sample, processor: Any, max_length: int, processor_kwargs: dict | None = None,
           load_image: Any = None) -> Encoded:
    """Encode `sample`; raises SampleTooLong when it cannot fit `max_length` (see `fit_length`)."""
    import torch

    from chiron.llm.images import load_rgb as default_loader

    load_image = load_image or default_loader
    images = [load_image(path) for path in sample.images]
    image_token = _image_token(processor)
    ids: list[Any] = []
    labels: list[Any] = []
    image_outputs: list[dict] = []
    image_ends = 0  # token index after the last piece that carries an image
    for text, is_assistant in split_turns(processor, structured_messages(sample)):
        count = text.count(image_token) if image_token else 0
        if count:
            taken, images = images[:count], images[count:]
            out = processor(text=[text], images=taken, return_tensors="pt", add_special_tokens=False,
                            **(processor_kwargs or {}))
            piece = out.pop("input_ids")[0]
            out.pop("attention_mask", None)
            image_outputs.append(dict(out))
        else:
            piece = processor.tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"][0]
        ids.append(piece)
        labels.append(piece.clone() if is_assistant else torch.full_like(piece, IGNORE_INDEX))
        if count:
            image_ends = sum(len(p) for p in ids)
    if images:
        raise ValueError(f"sample {sample.id}: {len(images)} images left after the template placed its image "
                         "tokens; placeholders and images disagree")
    input_ids, label_ids = torch.cat(ids), torch.cat(labels)
    input_ids, label_ids, truncated = fit_length(input_ids, label_ids, max_length, image_ends, sample.id)
    return Encoded(input_ids, label_ids, _concat_images(image_outputs), truncated)


def fit_length(input_ids: Any, labels: Any, max_length: int, image_ends: int, sample_id: str) -> tuple[Any, Any, bool]:
    """Cut the tail to `max_length` when that keeps every image token and some assistant token."""
    if len(input_ids) <= max_length:
        return input_ids, labels, False
    if image_ends > max_length:
        raise SampleTooLong(f"sample {sample_id}: its images end at token {image_ends} > max_length {max_length}")
    if not (labels[:max_length] != IGNORE_INDEX).any():
        raise SampleTooLong(f"sample {sample_id}: no assistant token within max_length {max_length}")
    return input_ids[:max_length], labels[:max_length], True


def _image_token(processor: Any) -> str | None:
    """The text the chat template writes for one image, which the processor then expands."""
    for attribute in ("image_token", "context_image_token"):
        token = getattr(processor, attribute, None) or getattr(processor.tokenizer, attribute, None)
        if isinstance(token, str):
            return token
    return None


def _concat_images(outputs: list[dict]) -> dict:
    import torch

    if not outputs:
        return {}
    return {key: torch.cat([o[key] for o in outputs], dim=0) for key in outputs[0]}
