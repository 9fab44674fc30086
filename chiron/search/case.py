"""Search inputs: the reference record format (spec §3), read leniently, validated strictly.

A bad record never stops a run: it becomes a `BadRecord` with a readable reason and goes to
the failures file while every good case is searched. A record whose image is unusable (missing,
empty, not an image, too large, undecodable: `chiron.llm.images.check_image`) or whose image path
leaves the image root (`..`, an absolute path, a symlink: `chiron.utils.paths.resolve_in_root`) is a
BadRecord of kind "bad_image"; every other problem is kind "bad_record".
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from typing import Iterator

from chiron.llm.images import BadImage, check_image
from chiron.utils.paths import PathOutsideRoot, resolve_in_root

_QUESTION_TAG = re.compile(r"^\s*\*\*Question:\*\*\s*", re.IGNORECASE)
_ANSWER_TAG = re.compile(r"^\s*\*\*Correct Answer:\*\*\s*", re.IGNORECASE)
_IMAGE_RUN = re.compile(r"According to the ((?:<image>\s*)+),?", re.IGNORECASE)


@dataclass(frozen=True)
class Case:
    rid: str
    question: str
    answer: str
    images: tuple[str, ...]  # absolute paths
    image_refs: tuple[str, ...]  # as written in the record (relative to the image root)
    presentation: str = ""
    age: str = ""
    gender: str = ""
    captions: tuple[str, ...] = ()
    title: str = ""
    certainty: str = ""
    scenario: str | None = None
    extra: dict = field(default_factory=dict, compare=False)
    # Only with check_images=False: image path -> why it was refused (outside the image root). Such
    # a path is never opened; whoever uses the case sets it aside as a bad image.
    refused_images: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class BadRecord:
    rid: str | None
    line: int
    reason: str
    kind: str = "bad_record"  # "bad_image": an image is unusable or outside the image root


def question_and_answer(messages: list) -> tuple[str, str]:
    """A reference record's question and answer (messages[0] and [1]) without their bold labels."""
    return (_QUESTION_TAG.sub("", str(messages[0].get("content", ""))).strip(),
            _ANSWER_TAG.sub("", str(messages[1].get("content", ""))).strip())


def parse_record(obj: object, image_root: str, check_images: bool = True) -> Case:
    """Turn one reference record into a Case; raise ValueError naming what is wrong."""
    if not isinstance(obj, dict):
        raise ValueError("record is not a JSON object")
    rid = obj.get("rid")
    if rid is None or str(rid).strip() == "":
        raise ValueError("missing field 'rid'")
    messages = obj.get("messages")
    if not isinstance(messages, list) or len(messages) < 2:
        raise ValueError("field 'messages' must hold the user question and the assistant answer")
    question, answer = question_and_answer(messages)
    if not question:
        raise ValueError("empty question in messages[0]")
    if not answer:
        raise ValueError("empty answer in messages[1]")
    refs = obj.get("images") or []
    if not isinstance(refs, list) or not refs:
        raise ValueError("field 'images' must be a non-empty list")
    if not all(isinstance(ref, str) and ref.strip() for ref in refs):
        raise ValueError("field 'images' must list image paths (non-empty strings)")
    paths, refused = image_paths(refs, image_root, strict=check_images)
    if check_images:
        for path in paths:
            check_image(path)  # BadImage
    captions = obj.get("caption") or []
    if isinstance(captions, str):
        captions = [captions]
    known = {"rid", "messages", "images", "caption", "presentation", "age_label", "gender_label",
             "title", "certainty", "scenario"}
    return Case(
        rid=str(rid), question=question, answer=answer, images=paths, image_refs=tuple(refs),
        presentation=str(obj.get("presentation") or ""), age=str(obj.get("age_label") or ""),
        gender=str(obj.get("gender_label") or ""), captions=tuple(str(c) for c in captions),
        title=str(obj.get("title") or ""), certainty=str(obj.get("certainty") or ""),
        scenario=obj.get("scenario"), extra={k: v for k, v in obj.items() if k not in known},
        refused_images=refused,
    )


def image_paths(refs: list[str], image_root: str, strict: bool = True) -> tuple[tuple[str, ...], dict]:
    """The refs resolved inside the image root, and {path: reason} of those refused; with `strict`
    the first refused one raises PathOutsideRoot instead."""
    paths, refused = [], {}
    for ref in refs:
        try:
            paths.append(resolve_in_root(image_root, ref))
        except PathOutsideRoot as exc:
            if strict:
                raise
            paths.append(exc.path)
            refused[exc.path] = str(exc)
    return tuple(paths), refused


def read_cases(path: str, image_root: str, shard: int = 0, num_shards: int = 1,
               limit: int | None = None, check_images: bool = True) -> Iterator[Case | BadRecord]:
    """Yield this shard's cases (contiguous chunks, as the reference's --chunk_idx) in file order."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"data.path: no such file {path}")
    if not 0 <= shard < num_shards:
        raise ValueError(f"data.shard must be in [0, {num_shards}), got {shard}")
    with open(path, encoding="utf-8") as f:
        lines = [(i + 1, ln) for i, ln in enumerate(f) if ln.strip()]
    chunk = -(-len(lines) // num_shards) if lines else 0
    mine = lines[shard * chunk:(shard + 1) * chunk]
    if limit is not None:
        mine = mine[:limit]
    for line_no, text in mine:
        yield _parse_line(line_no, text, image_root, check_images)


def _parse_line(line_no: int, text: str, image_root: str, check_images: bool) -> Case | BadRecord:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        return BadRecord(None, line_no, f"invalid JSON: {exc.msg} (column {exc.colno})")
    rid = obj.get("rid") if isinstance(obj, dict) else None
    rid = None if rid is None else str(rid)
    try:
        return parse_record(obj, image_root, check_images)
    except BadImage as exc:  # PathOutsideRoot too
        return BadRecord(rid, line_no, str(exc), kind="bad_image")
    except ValueError as exc:
        return BadRecord(rid, line_no, str(exc))


def case_information(case: Case) -> str:
    """Patient information and image analysis as the mentor sees them.

    The captions' "<image>" placeholders become "image 1", "image 2", ... numbered across all
    groups, matching the order in which the images are attached to the message.
    """
    counter = 0

    def number(match: re.Match) -> str:
        nonlocal counter
        n = match.group(1).lower().count("<image>")
        names = ", ".join(f"image {counter + i + 1}" for i in range(n))
        counter += n
        return f"According to {names},"

    lines = [f"Chief complaint: {case.presentation or 'not given'}",
             f"Age: {case.age or 'not given'}", f"Gender: {case.gender or 'not given'}"]
    if case.captions:
        lines.append("Image analysis:")
        lines += [f"- Modality {i + 1}: {_IMAGE_RUN.sub(number, c).strip()}" for i, c in enumerate(case.captions)]
    return "\n".join(lines)
