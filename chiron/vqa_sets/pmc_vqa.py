"""PMC-VQA (Zhang et al., 2023), four-option multiple choice on PubMed Central figures.

Get it from https://huggingface.co/datasets/xmcmic/PMC-VQA. Expected layout under the root, the
dataset folder with its zips unpacked in place (`unzip images.zip`, `unzip images_2.zip`):

    train.csv  test.csv  test_clean.csv    version 1: Figure_path, Question, Answer,
                                           Choice A..D ("A:Diffuse uptake pattern"), Answer_label
    images/PMC1064097_F1.jpg ...           version 1 figures (images.zip)
    train_2.csv  test_2.csv                version 2 (non-compound figures): index, Figure_path,
                                           Caption, Question, Choice A..D, Answer (the letter)
    figures/PMC8253867_Fig1_41.jpg ...     version 2 figures (images_2.zip)

Splits are named after the metafiles: train, test, test_clean, train_2, test_2. The user turn
holds the question and the four options; the assistant answers with the correct option, letter
and text ("B: Focal uptake pattern").
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from chiron.vqa_sets.base import Adapter, BadRow, Item, field_text, qa_item

# split -> (metafile, folder its zip unpacks to)
SPLITS = {
    "train": ("train.csv", "images"),
    "test": ("test.csv", "images"),
    "test_clean": ("test_clean.csv", "images"),
    "train_2": ("train_2.csv", "figures"),
    "test_2": ("test_2.csv", "figures"),
}
LETTERS = ("A", "B", "C", "D")
REQUIRED_COLUMNS = ("Figure_path", "Question", *(f"Choice {letter}" for letter in LETTERS))
# Version 1 keeps the letter in Answer_label and the text in Answer; version 2 keeps the letter
# in Answer. The dataset card also spells the column "Anwser", so that is read too.
ANSWER_COLUMNS = ("Answer_label", "Answer", "Anwser")


@dataclass(frozen=True)
class PMCVQA(Adapter):
    name = "pmc_vqa"
    title = "PMC-VQA"
    url = "https://huggingface.co/datasets/xmcmic/PMC-VQA"
    layout = """\
  <root>/
    train.csv  test.csv  test_clean.csv
    images/            (unzip images.zip)
      PMC1064097_F1.jpg ...
    train_2.csv  test_2.csv
    figures/           (unzip images_2.zip)
      ...
"""
    splits = tuple(SPLITS)

    def required_paths(self, root: str, split: str) -> list[str]:
        metafile, image_dir = SPLITS[split]
        return [os.path.join(root, metafile), os.path.join(root, image_dir)]

    def read_rows(self, root: str, split: str) -> Iterator[dict]:
        path = os.path.join(root, SPLITS[split][0])
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            try:
                columns = reader.fieldnames or []
                missing = [c for c in REQUIRED_COLUMNS if c not in columns]
                if missing or not any(c in columns for c in ANSWER_COLUMNS):
                    raise self.error(f"{path} lacks columns {missing or ' or '.join(ANSWER_COLUMNS)}; "
                                     f"it has {columns}")
                yield from reader
            except (csv.Error, UnicodeDecodeError) as exc:
                raise self.error(f"{path} is not a readable CSV (line {reader.line_num}): {exc}") from exc

    def convert(self, row: Any, index: int, root: str, split: str) -> Item:
        if None in row:  # csv puts surplus fields under None: the quoting of this line is broken
            raise BadRow(f"{len(row[None])} fields more than the header")
        options = {letter: _option_text(field_text(row, f"Choice {letter}"), letter) for letter in LETTERS}
        letter = _correct_letter(row, options)
        question = field_text(row, "Question")
        figure = field_text(row, "Figure_path")
        user = "\n".join([question, "Options:", *(f"{k}: {v}" for k, v in options.items())])
        native = (row.get("index") or "").strip()
        meta = {"split": split, "index": index, "figure_path": figure, "answer_label": letter,
                "options": options}
        if native:
            meta["native_index"] = native
        if (row.get("Caption") or "").strip():
            meta["caption"] = row["Caption"].strip()
        return qa_item(key=native or str(index), question=user, answer=f"{letter}: {options[letter]}",
                       images=[os.path.join(root, SPLITS[split][1], figure)], meta=meta)


def _option_text(choice: str, letter: str) -> str:
    """'A:Diffuse uptake pattern' -> 'Diffuse uptake pattern' (the files carry the letter inline)."""
    text = re.sub(rf"^{letter}\s*[:.)]\s*", "", choice.strip())
    if not text:
        raise BadRow(f"option {letter} is empty")
    return text


def _correct_letter(row: dict, options: dict[str, str]) -> str:
    for column in ANSWER_COLUMNS:
        value = (row.get(column) or "").strip().upper()
        if value in options:
            return value
    # No letter anywhere: accept an answer text that names exactly one option.
    text = (row.get("Answer") or row.get("Anwser") or "").strip()
    text = re.sub(r"^[A-D]\s*[:.)]\s*", "", text).lower()
    matches = [letter for letter, option in options.items() if option.lower() == text]
    if len(matches) != 1:
        raise BadRow(f"no answer letter, and the answer text matches {len(matches)} options")
    return matches[0]
