"""MedXpertQA MM (Zuo et al., 2025), the multimodal subset: test split by default.

Get it from https://huggingface.co/datasets/TsinghuaC3I/MedXpertQA (images.zip unzipped in place).
Expected layout under the root, the dataset repository as published:

    MM/test.jsonl  MM/dev.jsonl    one row per line: {id, question, options {letter: text}, label,
                                   images [file names], medical_task, body_system, question_type}
    images/MM-0-a.jpeg ...         (unzip images.zip)

The question text ends with an "Answer Choices: (A) ... (B) ..." block; it is cut off (the options
are rendered separately; the whole text stays in meta["verbatim_question"], what
`eval.prompt=reference` sends). `question_type` ("Reasoning" / "Understanding") is the subject.

Options: `subset` ("reasoning" | "understanding" | None for both).
"""

from __future__ import annotations

import os
import re
from typing import Any, Iterator

from chiron.eval.benchmarks.base import (BadItem, Loader, as_object, images_in_root, make_item, read_jsonl_rows,
                                         register, text_field)
from chiron.eval.items import VERBATIM_QUESTION, EvalItem

SUBSETS = ("reasoning", "understanding")
_ANSWER_CHOICES = re.compile(r"Answer Choices\s*:\s*\(?A\)", re.IGNORECASE)


def strip_answer_choices(question: str) -> str:
    """The question without its trailing "Answer Choices: (A) ... (B) ..." block."""
    last = None
    for last in _ANSWER_CHOICES.finditer(question):
        pass
    return (question[:last.start()] if last else question).strip()


class MedXpertQAMM(Loader):
    name = "medxpertqa_mm"
    title = "MedXpertQA MM"
    url = "https://huggingface.co/datasets/TsinghuaC3I/MedXpertQA"
    layout = """\
  <root>/            (the TsinghuaC3I/MedXpertQA dataset repository)
    MM/
      test.jsonl
      dev.jsonl
    images/          (unzip images.zip)
      MM-0-a.jpeg ...
"""
    splits = ("test", "dev")
    default_split = "test"
    options = {"subset": None}

    def subset(self, options: dict) -> str | None:
        subset = options.get("subset")
        if subset is None or str(subset).strip().lower() in ("", "all", "both"):
            return None
        subset = str(subset).strip().lower()
        if subset not in SUBSETS:
            raise self.error(f"unknown subset {options['subset']!r}; choose {', '.join(SUBSETS)} "
                             f"or None for both")
        return subset

    def required_paths(self, root: str, split: str, options: dict) -> list[str]:
        self.subset(options)  # an unknown subset fails before any row
        return [os.path.join(root, "MM", f"{split}.jsonl"), os.path.join(root, "images")]

    def rows(self, root: str, split: str, options: dict) -> Iterator[Any]:
        return read_jsonl_rows(self, os.path.join(root, "MM", f"{split}.jsonl"))

    def convert(self, row: Any, index: int, root: str, split: str, options: dict) -> EvalItem | None:
        if isinstance(row, BadItem):
            raise row
        row = as_object(row)
        item_id = text_field(row, "id")
        question_type = text_field(row, "question_type")
        wanted = self.subset(options)
        if wanted is not None and question_type.lower() != wanted:
            return None
        choices = row.get("options")
        if not isinstance(choices, dict) or len(choices) < 2:
            raise BadItem(f"{item_id}: 'options' should map letters to texts, got {choices!r:.60}")
        question = strip_answer_choices(text_field(row, "question"))
        names = row.get("images")
        if isinstance(names, str):
            names = [names]
        if (not isinstance(names, list) or not names
                or not all(isinstance(n, str) and n.strip() for n in names)):
            raise BadItem(f"{item_id}: 'images' should be a non-empty list of file names")
        meta = {"split": split, "question_type": question_type,
                VERBATIM_QUESTION: text_field(row, "question")}  # with its "Answer Choices" block
        # inside <root>/images/; a name that leaves it makes the item bad_image (meta["refused_images"])
        images = images_in_root(os.path.join(root, "images"), [n.strip() for n in names], meta)
        for key in ("medical_task", "body_system"):
            if row.get(key) is not None:
                meta[key] = row[key]
        return make_item(id=item_id, benchmark=self.name, question=question, answer=text_field(row, "label"),
                         images=images, options=choices, answer_letter=text_field(row, "label"),
                         subject=question_type.capitalize(), meta=meta)


MEDXPERTQA_MM = register(MedXpertQAMM())
