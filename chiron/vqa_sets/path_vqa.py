"""PathVQA (He et al., 2020), the original release.

Get it from https://github.com/UCSD-AI4H/PathVQA (its data/README.md links the Google Drive folder
holding pvqa). Expected layout under the root, the pvqa folder:

    qas/train/train_qa.pkl    a pickled list of {image, question, answer}; `image` is a file stem
    qas/val/val_qa.pkl
    qas/test/test_qa.pkl
    images/train/train_0000.jpg ...   (images/val/, images/test/ alike)

The Hugging Face parquet copy (flaviagiammarino/path-vqa) stores images as bytes and needs
pyarrow; it is not read here, the error says so when a root holds it.
Unpickling runs code from the file: only point this adapter at a copy you trust.
"""

from __future__ import annotations

import glob
import os
import pickle
from dataclasses import dataclass
from typing import Any

from chiron.vqa_sets.base import Adapter, Item, as_object, field_text, qa_item


@dataclass(frozen=True)
class PathVQA(Adapter):
    name = "path_vqa"
    title = "PathVQA"
    url = "https://github.com/UCSD-AI4H/PathVQA"
    layout = """\
  <root>/            (the pvqa folder)
    qas/
      train/train_qa.pkl
      val/val_qa.pkl
      test/test_qa.pkl
    images/
      train/train_0000.jpg ...
      val/ ...
      test/ ...
"""
    splits = ("train", "val", "test")

    def required_paths(self, root: str, split: str) -> list[str]:
        return [_annotations(root, split), os.path.join(root, "images", split)]

    def missing_hint(self, root: str) -> str:
        # The parquet copy is the one most often downloaded instead: name it rather than leave
        # the user with a bare "missing qas/...".
        if glob.glob(os.path.join(root, "*.parquet")) + glob.glob(os.path.join(root, "data", "*.parquet")):
            return ("; this root holds the Hugging Face parquet copy (flaviagiammarino/path-vqa), which is "
                    "not read here (it needs pyarrow and stores images as bytes): use the original release")
        return ""

    def read_rows(self, root: str, split: str) -> list:
        path = _annotations(root, split)
        try:
            with open(path, "rb") as f:
                data = pickle.load(f)
        except Exception as exc:  # unpickling fails in many ways (truncated file, foreign classes)
            raise self.error(f"{path} could not be unpickled: {type(exc).__name__}: {exc}") from exc
        if not isinstance(data, list):
            raise self.error(f"{path} should hold a list of records, not a {type(data).__name__}")
        return data

    def convert(self, row: Any, index: int, root: str, split: str) -> Item:
        row = as_object(row)
        image = field_text(row, "image")
        filename = image if image.lower().endswith(".jpg") else f"{image}.jpg"
        return qa_item(key=str(index), question=field_text(row, "question"), answer=field_text(row, "answer"),
                       images=[os.path.join(root, "images", split, filename)],
                       meta={"split": split, "index": index, "image": image})


def _annotations(root: str, split: str) -> str:
    return os.path.join(root, "qas", split, f"{split}_qa.pkl")
