"""SLAKE 1.0 (Liu et al., ISBI 2021), bilingual English / Chinese.

Get it from https://www.med-vqa.com/slake/ (the same files are mirrored at
https://huggingface.co/datasets/BoKelvin/SLAKE, images in imgs.zip). Expected layout under the
root, the unzipped Slake1.0 folder:

    train.json  validate.json  test.json   lists of {qid, img_id, img_name, question, answer,
                                           q_lang, answer_type, content_type, modality, location, ...}
    imgs/
        xmlab0/source.jpg ...              `img_name` is relative to imgs/

Only English questions are kept by default (`languages=("en",)`); `languages=None` keeps all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from chiron.vqa_sets.base import Adapter, Item, as_object, field_text, qa_item, read_json_list

IMAGE_DIR = "imgs"


@dataclass(frozen=True)
class Slake(Adapter):
    languages: tuple[str, ...] | None = ("en",)

    name = "slake"
    title = "SLAKE 1.0"
    url = "https://www.med-vqa.com/slake/"
    layout = """\
  <root>/            (the Slake1.0 folder)
    train.json
    validate.json
    test.json
    imgs/
      xmlab0/source.jpg ...
"""
    splits = ("train", "validate", "test")

    def required_paths(self, root: str, split: str) -> list[str]:
        return [os.path.join(root, f"{split}.json"), os.path.join(root, IMAGE_DIR)]

    def read_rows(self, root: str, split: str) -> list:
        return read_json_list(self, os.path.join(root, f"{split}.json"))

    def convert(self, row: Any, index: int, root: str, split: str) -> Item | None:
        row = as_object(row)
        lang = field_text(row, "q_lang").lower()
        if self.languages is not None and lang not in self.languages:
            return None
        qid = row.get("qid")
        image = field_text(row, "img_name")
        meta = {"split": split, "index": index, "qid": qid, "q_lang": lang, "img_name": image}
        for key in ("img_id", "answer_type", "content_type", "modality", "location"):
            if row.get(key) is not None:
                meta[key] = row[key]
        return qa_item(key=str(qid) if qid is not None else str(index),
                       question=field_text(row, "question"), answer=field_text(row, "answer"),
                       images=[os.path.join(root, IMAGE_DIR, image)], meta=meta)
