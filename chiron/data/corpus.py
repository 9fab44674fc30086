"""Clinical case records: the MMRP builders' input, richer than the search's input record.

One JSON object per line (the project's corpus format):

    {"id": "demo-001", "title": "Acute subdural haematoma",
     "systems": ["Central nervous system"],
     "presentation": "...", "age": "78 years", "gender": "Male",
     "image_groups": [                       # one per imaging modality (or study)
        {"modality": "CT",
         "caption": "Non-contrast axial CT shows ...",   # the imaging analysis of this group
         "images": [{"path": "demo-001/ct_group1/0.png",  # relative to the image root
                     "description": "...",             # optional: this keyframe's own annotation
                     "keywords": ["crescent-shaped ..."]}  # optional: phrases of the caption it shows
                    , ...]}],
     "discussion": "...", "certainty": "Diagnosis certain",
     "annotated": true,                       # keyframes carry explicit annotations (Part 2 input)
     "qa": {"scenario": "...", "question": "...", "answer": "..."}}   # optional, demo only

`read_corpus` also takes the reference search input format (spec §3): each "According to the
<image>..." caption becomes one image group holding as many images as it has placeholders, the
modality taken from the image folder ("ct_group1" -> "ct"); such records have no discussion.
Images are not opened here: each builder decides what an unreadable image means for it. Image
paths are resolved inside the image root (`chiron.utils.paths.resolve_in_root`); one that leaves it
(`..`, an absolute path elsewhere, a symlink out) keeps its path but carries the reason in
`CaseImage.refused`, and `CaseImage.check()` raises it like an unreadable image, so every builder
sets it aside the same way without opening it.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from typing import Any, Iterator

from chiron.llm.images import check_image
from chiron.search.case import question_and_answer
from chiron.utils.paths import PathOutsideRoot, resolve_in_root

_IMAGE_RUN = re.compile(r"^\s*According to the ((?:<image>\s*)+),?\s*", re.IGNORECASE)
_GROUP_DIR = re.compile(r"^(?P<modality>.+?)_group\d+$")


@dataclass(frozen=True)
class CaseImage:
    path: str  # absolute
    ref: str  # as written in the record
    description: str = ""
    keywords: tuple[str, ...] = ()
    refused: str = ""  # why the path was refused (outside the image root); empty when it is inside

    def check(self) -> None:
        """Raise BadImage (PathOutsideRoot for a refused path, never opened) unless the image is usable."""
        if self.refused:
            raise PathOutsideRoot(self.refused, self.path, "")
        check_image(self.path)


@dataclass(frozen=True)
class ImageGroup:
    modality: str
    caption: str  # imaging analysis of this modality
    images: tuple[CaseImage, ...] = ()


@dataclass(frozen=True)
class CaseRecord:
    id: str
    title: str = ""
    systems: tuple[str, ...] = ()
    presentation: str = ""
    age: str = ""
    gender: str = ""
    image_groups: tuple[ImageGroup, ...] = ()
    discussion: str = ""
    certainty: str = ""
    annotated: bool = False
    qa: dict | None = None
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def imaging_analysis(self) -> str:
        """All groups' analyses, one line per modality (empty when no group has a caption)."""
        return "\n".join(f"{g.modality}: {g.caption}" for g in self.image_groups if g.caption.strip())


@dataclass(frozen=True)
class BadCase:
    id: str | None
    line: int
    reason: str


def parse_case(obj: Any, image_root: str) -> CaseRecord:
    """A corpus or reference record as a CaseRecord; ValueError naming what is wrong otherwise."""
    if not isinstance(obj, dict):
        raise ValueError("record is not a JSON object")
    if "image_groups" in obj or "id" in obj:
        return _from_corpus(obj, image_root)
    if "rid" in obj:
        return _from_reference(obj, image_root)
    raise ValueError("record has neither 'id' (corpus format) nor 'rid' (reference format)")


def read_corpus(path: str, image_root: str, limit: int | None = None) -> Iterator[CaseRecord | BadCase]:
    """Yield every line of `path` as a CaseRecord, or a BadCase with the reason it was refused."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"corpus file not found: {path}")
    seen: set[str] = set()
    with open(path, encoding="utf-8") as f:
        count = 0
        for line_no, text in enumerate(f, start=1):
            if not text.strip():
                continue
            if limit is not None and count >= limit:
                return
            count += 1
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                yield BadCase(None, line_no, f"invalid JSON: {exc.msg} (column {exc.colno})")
                continue
            try:
                case = parse_case(obj, image_root)
            except ValueError as exc:
                ident = obj.get("id", obj.get("rid")) if isinstance(obj, dict) else None
                yield BadCase(None if ident is None else str(ident), line_no, str(exc))
                continue
            if case.id in seen:
                yield BadCase(case.id, line_no, "duplicate id: an earlier line has the same id")
                continue
            seen.add(case.id)
            yield case


def _text(obj: dict, *keys: str) -> str:
    for key in keys:
        value = obj.get(key)
        if value is not None:
            return str(value).strip()
    return ""


def _image(ref: str, image_root: str, **fields: Any) -> CaseImage:
    try:
        return CaseImage(path=resolve_in_root(image_root, ref), ref=ref, **fields)
    except PathOutsideRoot as exc:
        return CaseImage(path=exc.path, ref=ref, refused=str(exc), **fields)


def folder_modality(image_ref: str) -> str | None:
    """The modality named by an image's group folder ("<case>/ct_group1/0.png" -> "ct"), if any."""
    found = _GROUP_DIR.match(os.path.basename(os.path.dirname(image_ref)))
    return found.group("modality") if found else None


def _from_corpus(obj: dict, image_root: str) -> CaseRecord:
    case_id = _text(obj, "id")
    if not case_id:
        raise ValueError("missing field 'id'")
    systems = obj.get("systems") or []
    if isinstance(systems, str):
        systems = [systems]
    groups = []
    for k, group in enumerate(obj.get("image_groups") or []):
        if not isinstance(group, dict):
            raise ValueError(f"image_groups[{k}] is not an object")
        images = []
        for i, image in enumerate(group.get("images") or []):
            if isinstance(image, str):
                image = {"path": image}
            if not isinstance(image, dict) or not image.get("path"):
                raise ValueError(f"image_groups[{k}].images[{i}] has no 'path'")
            keywords = image.get("keywords") or []
            if isinstance(keywords, str):
                keywords = [keywords]
            images.append(_image(str(image["path"]), image_root,
                                 description=str(image.get("description") or "").strip(),
                                 keywords=tuple(str(w) for w in keywords if str(w).strip())))
        groups.append(ImageGroup(modality=_text(group, "modality") or f"modality {k + 1}",
                                 caption=_text(group, "caption", "analysis"), images=tuple(images)))
    qa = obj.get("qa")
    if qa is not None and not (isinstance(qa, dict) and qa.get("question") and qa.get("answer")):
        raise ValueError("field 'qa' must hold a question and an answer")
    known = {"id", "title", "systems", "presentation", "age", "gender", "age_label", "gender_label",
             "image_groups", "discussion", "certainty", "annotated", "qa"}
    return CaseRecord(
        id=case_id, title=_text(obj, "title"), systems=tuple(str(s) for s in systems),
        presentation=_text(obj, "presentation"), age=_text(obj, "age", "age_label"),
        gender=_text(obj, "gender", "gender_label"), image_groups=tuple(groups),
        discussion=_text(obj, "discussion"), certainty=_text(obj, "certainty"),
        annotated=bool(obj.get("annotated", False)), qa=dict(qa) if qa else None,
        extra={k: v for k, v in obj.items() if k not in known},
    )


def _sentence_case(text: str) -> str:
    # Reference captions continue "According to the <image>, ..." in lower case.
    return text[:1].upper() + text[1:]


def _from_reference(obj: dict, image_root: str) -> CaseRecord:
    refs = obj.get("images") or []
    if not isinstance(refs, list) or not all(isinstance(r, str) and r.strip() for r in refs):
        raise ValueError("field 'images' must be a list of image paths")
    captions = obj.get("caption") or []
    if isinstance(captions, str):
        captions = [captions]
    groups, cursor = [], 0
    for k, caption in enumerate(captions):
        match = _IMAGE_RUN.match(str(caption))
        n = match.group(1).lower().count("<image>") if match else 0
        text = str(caption)[match.end():] if match else str(caption)
        mine = refs[cursor:cursor + n]
        if len(mine) < n:
            raise ValueError(f"caption {k + 1} names {n} images but only {len(refs) - cursor} remain in 'images'")
        cursor += n
        modality = folder_modality(mine[0]) if mine else None
        groups.append(ImageGroup(modality=modality or f"modality {k + 1}",
                                 caption=_sentence_case(text.strip()),
                                 images=tuple(_image(r, image_root) for r in mine)))
    if cursor < len(refs):
        groups.append(ImageGroup(modality="unlabelled", caption="",
                                 images=tuple(_image(r, image_root) for r in refs[cursor:])))
    qa = None
    messages = obj.get("messages")
    if isinstance(messages, list) and len(messages) >= 2:
        question, answer = question_and_answer(messages)
        if question and answer:
            qa = {"scenario": obj.get("scenario"), "question": question, "answer": answer}
    return CaseRecord(
        id=str(obj["rid"]), title=_text(obj, "title"), presentation=_text(obj, "presentation"),
        age=_text(obj, "age_label"), gender=_text(obj, "gender_label"), image_groups=tuple(groups),
        certainty=_text(obj, "certainty"), qa=qa,
        extra={k: v for k, v in obj.items() if k not in {"rid", "messages", "images", "caption", "title",
                                                         "certainty", "presentation", "age_label", "gender_label"}},
    )
