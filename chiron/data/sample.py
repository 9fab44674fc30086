"""The one training-conversation format every source is turned into (MMRP Parts 1-3, public VQA
sets) and the mix writes per stage.

One JSON object per line:

    {"id": "part1/demo-001/0",            # unique within its source
     "source": "mmrp_part1",              # the source it came from (manifest counts use it)
     "images": ["/abs/path/0.png", ...],  # absolute paths, in the order of the placeholders
     "messages": [{"role": "user", "content": "<image>\\n<image>\\nWhat ...?"},
                  {"role": "assistant", "content": "Step 1: ...\\nThe final answer is: ..."}],
     "meta": {...}}                       # free-form provenance (case id, scenario, trend, ...)

Rules (checked by `validate_sample`): roles alternate user/assistant after an optional system
turn, the last turn is the assistant's (the supervised target), and the "<image>" placeholders
across the user turns are exactly as many as `images`; assistant turns hold no placeholder.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Iterator

IMAGE_PLACEHOLDER = "<image>"
ROLES = ("system", "user", "assistant")


@dataclass
class Sample:
    id: str
    source: str
    messages: list[dict]
    images: list[str] = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: dict) -> "Sample":
        validate_sample(obj)
        return cls(id=str(obj["id"]), source=str(obj["source"]), messages=[dict(m) for m in obj["messages"]],
                   images=list(obj.get("images") or []), meta=dict(obj.get("meta") or {}))


def single_turn(sample_id: str, source: str, user: str, assistant: str, images: Iterable[str] = (),
                meta: dict | None = None) -> Sample:
    """A question-answer sample; `user` must already hold one placeholder per image."""
    sample = Sample(id=sample_id, source=source, images=list(images), meta=dict(meta or {}),
                    messages=[{"role": "user", "content": user}, {"role": "assistant", "content": assistant}])
    validate_sample(sample.to_json())
    return sample


def with_image_placeholders(text: str, n_images: int) -> str:
    """Put one placeholder line per image in front of `text` unless it already has them all."""
    if text.count(IMAGE_PLACEHOLDER) == n_images:
        return text
    if IMAGE_PLACEHOLDER in text:
        raise ValueError(f"text has {text.count(IMAGE_PLACEHOLDER)} {IMAGE_PLACEHOLDER} placeholders "
                         f"for {n_images} images")
    return "".join(f"{IMAGE_PLACEHOLDER}\n" for _ in range(n_images)) + text


def validate_sample(obj: Any) -> None:
    """Raise ValueError naming the first rule `obj` breaks (see the module docstring)."""
    if not isinstance(obj, dict):
        raise ValueError("sample is not a JSON object")
    for key in ("id", "source", "messages"):
        if key not in obj:
            raise ValueError(f"sample lacks field {key!r}")
    messages, images = obj["messages"], obj.get("images") or []
    if not isinstance(messages, list) or not messages:
        raise ValueError(f"sample {obj['id']}: 'messages' must be a non-empty list")
    if not isinstance(images, list) or not all(isinstance(p, str) and p for p in images):
        raise ValueError(f"sample {obj['id']}: 'images' must be a list of paths")
    turns = messages[1:] if messages[0].get("role") == "system" else messages
    if not turns:
        raise ValueError(f"sample {obj['id']}: no user turn")
    placeholders = 0
    for i, message in enumerate(turns):
        want = "user" if i % 2 == 0 else "assistant"
        if not isinstance(message, dict) or message.get("role") != want:
            raise ValueError(f"sample {obj['id']}: turn {i} should be {want!r}, got {message!r:.80}")
        content = message.get("content")
        if not isinstance(content, str) or not content.strip():
            raise ValueError(f"sample {obj['id']}: turn {i} has empty content")
        if want == "assistant" and IMAGE_PLACEHOLDER in content:
            raise ValueError(f"sample {obj['id']}: assistant turn {i} holds an image placeholder")
        placeholders += content.count(IMAGE_PLACEHOLDER)
    if turns[-1]["role"] != "assistant":
        raise ValueError(f"sample {obj['id']}: the last turn must be the assistant's")
    if placeholders != len(images):
        raise ValueError(f"sample {obj['id']}: {placeholders} {IMAGE_PLACEHOLDER} placeholders for "
                         f"{len(images)} images")


def iter_samples(rows: Iterable[dict]) -> Iterator[Sample]:
    for row in rows:
        yield Sample.from_json(row)
