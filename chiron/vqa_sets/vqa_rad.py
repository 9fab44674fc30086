"""VQA-RAD (Lau et al., Scientific Data 2018), the OSF release.

Get it from https://osf.io/89kps/ (download the whole project). Expected layout under the root:

    VQA_RAD Dataset Public.json      list of {qid, phrase_type, image_name, question, answer,
                                     answer_type, question_type, image_organ, ...}
    VQA_RAD Image Folder/
        synpic100132.jpg ...

The release has no split files: `phrase_type` "test_freeform" / "test_para" marks the 451 test
questions, every other value ("freeform", "para", ...) the training ones.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from chiron.vqa_sets.base import Adapter, Item, as_object, field_text, qa_item, read_json_list

ANNOTATIONS = "VQA_RAD Dataset Public.json"
IMAGE_DIR = "VQA_RAD Image Folder"


@dataclass(frozen=True)
class VQARad(Adapter):
    name = "vqa_rad"
    title = "VQA-RAD"
    url = "https://osf.io/89kps/"
    layout = f"""\
  <root>/
    {ANNOTATIONS}
    {IMAGE_DIR}/
      synpic100132.jpg ...
"""
    splits = ("train", "test")

    def required_paths(self, root: str, split: str) -> list[str]:
        return [os.path.join(root, ANNOTATIONS), os.path.join(root, IMAGE_DIR)]

    def read_rows(self, root: str, split: str) -> list:
        return read_json_list(self, os.path.join(root, ANNOTATIONS))

    def convert(self, row: Any, index: int, root: str, split: str) -> Item | None:
        row = as_object(row)
        phrase_type = field_text(row, "phrase_type").lower()
        if ("test" if phrase_type.startswith("test") else "train") != split:
            return None
        image = field_text(row, "image_name")
        qid = row.get("qid")
        meta = {"split": split, "index": index, "qid": qid, "phrase_type": phrase_type, "image_name": image}
        for key in ("answer_type", "question_type", "image_organ"):  # later stages split OPEN / CLOSED
            if row.get(key) is not None:
                meta[key] = str(row[key]).strip()
        return qa_item(key=str(qid) if qid is not None else str(index),
                       question=field_text(row, "question"), answer=field_text(row, "answer"),
                       images=[os.path.join(root, IMAGE_DIR, image)], meta=meta)
