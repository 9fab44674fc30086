"""MMMU Health & Medicine (Yue et al., CVPR 2024): its five subjects, the validation split by default.

Get it from https://huggingface.co/datasets/MMMU/MMMU (only the five subject folders are needed).
Expected layout under the root, the dataset repository as published:

    Basic_Medical_Science/{dev,validation,test}-00000-of-00001.parquet
    Clinical_Medicine/...  Diagnostics_and_Laboratory_Medicine/...  Pharmacy/...  Public_Health/...

Columns: id, question, options (a Python list literal as a string), explanation, image_1..image_7
(null or {bytes, path}), img_type, answer (the letter for multiple choice), topic_difficulty,
question_type ("multiple-choice" | "open"), subfield. The test split's answers are withheld, so
its rows have no gold answer and are skipped as broken.

Images are inline bytes: each is written once to the image cache (`image_cache`, default
`<root>/.chiron_images/<split>/`) as `<id>_<n>.<ext>`; an existing file is never rewritten. The
question keeps its `<image 1>` tags; `images` lists the tagged images in order of first mention
(question, then options), then any untagged ones. The subject is the folder name. Under
`eval.prompt=reference` the question goes out as is, its options after it as "A. text" lines (MMMU
keeps them in their own column) and, having no `<image>` tags, its images first.

Options: `subjects` (a subset of the five; default all), `image_cache`.
"""

from __future__ import annotations

import ast
import glob
import os
import re
from typing import Any, Iterator

from chiron.eval.benchmarks.base import BadItem, Loader, as_object, make_item, register, text_field
from chiron.eval.items import EvalItem
from chiron.utils.jsonl import atomic_write_bytes

SUBJECTS = ("Basic_Medical_Science", "Clinical_Medicine", "Diagnostics_and_Laboratory_Medicine", "Pharmacy",
            "Public_Health")
MAX_IMAGES = 7
_TAG = re.compile(r"<image\s*(\d+)>", re.IGNORECASE)
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_EXTENSIONS = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff"}


class MMMUHealthMedicine(Loader):
    name = "mmmu_hm"
    title = "MMMU Health & Medicine"
    url = "https://huggingface.co/datasets/MMMU/MMMU"
    layout = """\
  <root>/            (the MMMU/MMMU dataset repository)
    Basic_Medical_Science/
      dev-00000-of-00001.parquet
      validation-00000-of-00001.parquet
      test-00000-of-00001.parquet
    Clinical_Medicine/ ...
    Diagnostics_and_Laboratory_Medicine/ ...
    Pharmacy/ ...
    Public_Health/ ...
"""
    splits = ("dev", "validation", "test")
    default_split = "validation"
    options = {"subjects": None, "image_cache": None}

    def selected_subjects(self, options: dict) -> tuple[str, ...]:
        chosen = options.get("subjects")
        if chosen is None:
            return SUBJECTS
        if isinstance(chosen, str):
            chosen = [s for s in re.split(r"[,\s]+", chosen) if s]
        chosen = tuple(str(s) for s in chosen)
        unknown = [s for s in chosen if s not in SUBJECTS]
        if unknown or not chosen:
            raise self.error(f"unknown subjects {unknown or '(none given)'}; the Health & Medicine "
                             f"subjects are {', '.join(SUBJECTS)}")
        return tuple(s for s in SUBJECTS if s in chosen)  # the published order, whatever the order given

    def parquet_files(self, root: str, subject: str, split: str) -> list[str]:
        found = sorted(glob.glob(os.path.join(root, subject, f"{split}-*.parquet")))
        return found or [os.path.join(root, subject, f"{split}-00000-of-00001.parquet")]

    def required_paths(self, root: str, split: str, options: dict) -> list[str]:
        paths = []
        for subject in self.selected_subjects(options):
            paths.append(os.path.join(root, subject))
            paths += self.parquet_files(root, subject, split)
        return paths

    def rows(self, root: str, split: str, options: dict) -> Iterator[tuple[str, Any]]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        for subject in self.selected_subjects(options):
            for path in self.parquet_files(root, subject, split):
                try:
                    parquet = pq.ParquetFile(path)
                    missing = [c for c in ("id", "question", "answer") if c not in parquet.schema_arrow.names]
                    if missing:
                        raise self.error(f"{path} lacks columns {missing}; "
                                         f"it has {parquet.schema_arrow.names}")
                    for batch in parquet.iter_batches(batch_size=32):
                        for row in batch.to_pylist():
                            yield subject, row
                except (pa.ArrowException, OSError) as exc:
                    raise self.error(f"{path} is not a readable parquet file: {exc}") from exc

    def image_cache(self, root: str, split: str, options: dict) -> str:
        cache = options.get("image_cache")
        if cache:
            return os.path.abspath(os.path.expanduser(str(cache)))
        return os.path.join(root, ".chiron_images", split)

    def convert(self, row: Any, index: int, root: str, split: str, options: dict) -> EvalItem:
        subject, row = row
        row = as_object(row)
        item_id = text_field(row, "id")
        question = text_field(row, "question")
        question_type = str(row.get("question_type") or "multiple-choice").strip().lower()
        choices = _parse_options(row.get("options"))
        answer = text_field(row, "answer")
        meta = {"subject": subject, "split": split, "question_type": question_type}
        for key in ("subfield", "topic_difficulty", "img_type", "explanation"):
            value = row.get(key)
            if value not in (None, "", "[]"):
                meta[key] = value
        images = self.write_images(row, item_id, question, choices, self.image_cache(root, split, options))
        if question_type == "open":
            alternatives = _literal_list(answer)
            if alternatives:
                meta["answer_alternatives"] = [str(a) for a in alternatives]
            return make_item(id=item_id, benchmark=self.name, question=question, answer=answer, images=images,
                             subject=subject, meta=meta)
        if len(choices) < 2:
            raise BadItem(f"{item_id}: a multiple-choice question with {len(choices)} options")
        return make_item(id=item_id, benchmark=self.name, question=question, answer=answer, images=images,
                         options=choices, answer_letter=answer if len(answer) == 1 else None, subject=subject,
                         meta=meta)

    def write_images(self, row: dict, item_id: str, question: str, choices: list[str],
                     cache: str) -> list[str]:
        available = {}
        for n in range(1, MAX_IMAGES + 1):
            value = row.get(f"image_{n}")
            if value is None:
                continue
            data = value.get("bytes") if isinstance(value, dict) else value
            if not isinstance(data, (bytes, bytearray)) or not data:
                raise BadItem(f"{item_id}: image_{n} holds no bytes")
            available[n] = (bytes(data), value.get("path") if isinstance(value, dict) else None)
        order = []
        for text in (question, *choices):
            for match in _TAG.finditer(text):
                n = int(match.group(1))
                if n not in available:
                    raise BadItem(f"{item_id}: the text refers to <image {n}> but image_{n} is empty")
                if n not in order:
                    order.append(n)
        order += [n for n in sorted(available) if n not in order]
        paths = []
        for n in order:
            data, name = available[n]
            path = os.path.join(cache, f"{_SAFE.sub('_', item_id)}_{n}{_extension(data, name)}")
            if not os.path.isfile(path):
                try:
                    atomic_write_bytes(path, data)
                except OSError as exc:
                    raise self.error(f"cannot write images to {cache}: {exc}; pass image_cache=<a writable "
                                     f"folder>") from exc
            paths.append(path)
        return paths


def _parse_options(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple)):
        parsed = list(value)
    else:
        parsed = _literal_list(str(value))
        if parsed is None:
            raise BadItem(f"options are not a list literal: {str(value):.60}")
    if any(isinstance(o, (list, dict, tuple)) for o in parsed):
        raise BadItem(f"options hold something other than text: {str(value):.60}")
    return [str(o) for o in parsed]


def _literal_list(text: str) -> list | None:
    text = text.strip()
    if not text.startswith("["):
        return None
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    return list(value) if isinstance(value, (list, tuple)) else None


def _extension(data: bytes, name: Any) -> str:
    if isinstance(name, str):
        ext = os.path.splitext(name)[1].lower()
        if ext in _EXTENSIONS:
            return ext
    if data.startswith(b"\x89PNG"):
        return ".png"
    if data.startswith(b"\xff\xd8"):
        return ".jpg"
    if data[:4] in (b"GIF8",):
        return ".gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp"
    if data[:2] == b"BM":
        return ".bmp"
    return ".png"


MMMU_HM = register(MMMUHealthMedicine())
