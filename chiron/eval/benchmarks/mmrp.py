"""The paper's own test sets: MMRP pure-text multiple choice, and the multimodal reference format.

`mmrp_text`: a JSONL of this project's conversation format (`chiron/data/sample.py`), as MMRP
Part 1 writes it (`python run.py task=build_part1`, `part1/samples.jsonl`, held-out cases):

    <root>/test.jsonl   (or `root` naming the .jsonl file itself)
    user:      "<question>\\nA) ...\\nB) ...\\n...\\nChoose the correct option and explain why."
    assistant: "<rationale>\\n### The final answer is: B) <text>"

The "A) text" lines (also "(A) text", "A. text", "A: text") become the options; a row whose
options cannot be parsed becomes an `open` item. The rationale is the reference reasoning. The user
turn as written stays in meta["verbatim_question"] (`eval.prompt=reference`).

`mmrp_mm` (also registered as `reference`): the reference repository's evaluation format
(https://github.com/manglu097/Chiron-o1, eval/eval_data.json):

    <root>/eval_data.json     a JSON list of {id, img_name [paths relative to the image root],
                              question, answer, answer_type ("OPEN" / "CLOSED"), reasoning}
    <root>/images/...         (image_root option; default <root>)

The question's inline "<image>" placeholders are renumbered "image 1", "image 2", ... (the images
are shown before the question); the original text stays in meta["question_with_placeholders"]
and meta["verbatim_question"] (`eval.prompt=reference` sends it, each image at its tag).
A yes/no answer ("Yes.") makes a `yes_no` item, anything else `open`; answer_type is the subject.
Image paths stay inside the image root (a path that leaves it makes the item `bad_image`).
"""

from __future__ import annotations

import os
import re
from typing import Any, Iterator

from chiron.data.sample import IMAGE_PLACEHOLDER, Sample
from chiron.eval.benchmarks.base import (LETTERS, BadItem, Loader, as_object, images_in_root, make_item,
                                         number_placeholders, read_json_list, read_jsonl_rows, register,
                                         strip_placeholder_lines, text_field)
from chiron.eval.items import VERBATIM_QUESTION, EvalItem
from chiron.search.steps import extract_final_answer

PROJECT_URL = "https://github.com/manglu097/Chiron-o1"
_OPTION_LINE = re.compile(r"^\s*\(?([A-Z])\s*[).:]\s*(\S.*?)\s*$")


def parse_choice_question(text: str) -> tuple[str, list[tuple[str, str]], str]:
    """(question, options, trailing text) from a question with "A) text" lines; options empty when
    there is no block of consecutive lines lettered A, B, C ... (at least two)."""
    lines = text.splitlines()
    for start, line in enumerate(lines):
        match = _OPTION_LINE.match(line)
        if not match or match.group(1) != "A":
            continue
        options, end = [], start
        while end < len(lines):
            match = _OPTION_LINE.match(lines[end])
            if not match or match.group(1) != LETTERS[len(options)]:
                break
            options.append((match.group(1), match.group(2)))
            end += 1
        if len(options) >= 2:
            question = "\n".join(lines[:start]).strip()
            if question:
                return question, options, "\n".join(lines[end:]).strip()
    return text.strip(), [], ""


class MMRPText(Loader):
    name = "mmrp_text"
    title = "MMRP pure-text test split"
    url = (f"this project's MMRP Part 1 job (`python run.py task=build_part1`, part1/samples.jsonl of "
           f"held-out cases); the paper's data: {PROJECT_URL}")
    layout = """\
  <root>/
    test.jsonl       one conversation per line (chiron/data/sample.py); or give the .jsonl itself as root
"""
    splits = ("test", "val")
    default_split = "test"
    root_may_be_file = True

    def path(self, root: str, split: str) -> str:
        return root if os.path.isfile(root) else os.path.join(root, f"{split}.jsonl")

    def required_paths(self, root: str, split: str, options: dict) -> list[str]:
        return [self.path(root, split)]

    def rows(self, root: str, split: str, options: dict) -> Iterator[Any]:
        return read_jsonl_rows(self, self.path(root, split))

    def convert(self, row: Any, index: int, root: str, split: str, options: dict) -> EvalItem:
        if isinstance(row, BadItem):
            raise row
        sample = Sample.from_json(as_object(row))  # ValueError naming the broken rule
        users = [m["content"] for m in sample.messages if m["role"] == "user"]
        if len(users) != 1:
            raise BadItem(f"sample {sample.id}: {len(users)} user turns, expected one question")
        reply = sample.messages[-1]["content"]
        final = extract_final_answer(reply)
        if final is None:
            raise BadItem(f"sample {sample.id}: the assistant turn has no final answer line")
        marker = reply.lower().rfind("the final answer is")
        reasoning = reply[:marker].rstrip().rstrip("#").strip() if marker >= 0 else ""
        text = strip_placeholder_lines(users[0]) if IMAGE_PLACEHOLDER in users[0] else users[0].strip()
        question, choices, trailing = parse_choice_question(text)
        meta = {"split": split, "source": sample.source, **sample.meta, VERBATIM_QUESTION: users[0]}
        if trailing:
            meta["instruction"] = trailing
        if choices:
            try:
                return make_item(id=sample.id, benchmark=self.name, question=question, answer=final,
                                 images=sample.images, options=choices, reference_reasoning=reasoning or None,
                                 meta=meta)
            except BadItem as exc:  # options parsed but the answer names none of them: keep it open
                meta["unresolved_options"] = f"{exc}"
        return make_item(id=sample.id, benchmark=self.name, question=text, answer=final, images=sample.images,
                         reference_reasoning=reasoning or None, meta=meta)


class MMRPMultimodal(Loader):
    name = "mmrp_mm"
    title = "MMRP multimodal test set (reference eval format)"
    url = f"{PROJECT_URL} (eval/eval_data.json and eval/images/)"
    layout = """\
  <root>/
    eval_data.json   a JSON list of {id, img_name: [paths relative to the image root], question,
                     answer, answer_type, reasoning}
    images/...       the img_name paths (image_root option; default <root>)
"""
    splits = ("test",)
    default_split = "test"
    options = {"image_root": None}
    root_may_be_file = True

    def path(self, root: str) -> str:
        return root if os.path.isfile(root) else os.path.join(root, "eval_data.json")

    def image_root(self, root: str, options: dict) -> str:
        if options.get("image_root"):
            return os.path.abspath(os.path.expanduser(str(options["image_root"])))
        return os.path.dirname(root) if os.path.isfile(root) else root

    def required_paths(self, root: str, split: str, options: dict) -> list[str]:
        return [self.path(root), self.image_root(root, options)]

    def rows(self, root: str, split: str, options: dict) -> list:
        return read_json_list(self, self.path(root))

    def convert(self, row: Any, index: int, root: str, split: str, options: dict) -> EvalItem:
        row = as_object(row)
        item_id = text_field(row, "id")
        names = row.get("img_name")
        if isinstance(names, str):
            names = [names]
        if not isinstance(names, list) or not all(isinstance(n, str) and n.strip() for n in names):
            raise BadItem(f"{item_id}: 'img_name' should be a list of image paths")
        meta: dict = {"img_name": list(names)}
        images = images_in_root(self.image_root(root, options), names, meta)  # refused ones noted in meta
        raw = text_field(row, "question")
        if raw.count(IMAGE_PLACEHOLDER) not in (0, len(images)):
            raise BadItem(f"{item_id}: {raw.count(IMAGE_PLACEHOLDER)} {IMAGE_PLACEHOLDER} placeholders for "
                          f"{len(images)} images")
        meta["question_with_placeholders"] = meta[VERBATIM_QUESTION] = raw  # what eval.prompt=reference sends
        subject = None
        if isinstance(row.get("answer_type"), str) and row["answer_type"].strip():
            meta["answer_type"] = subject = row["answer_type"].strip().lower()
        reasoning = row.get("reasoning")
        reasoning = reasoning.strip() if isinstance(reasoning, str) and reasoning.strip() else None
        return make_item(id=item_id, benchmark=self.name, question=number_placeholders(raw),
                         answer=text_field(row, "answer"), images=images, subject=subject,
                         reference_reasoning=reasoning, meta=meta)


MMRP_TEXT = register(MMRPText())
MMRP_MM = register(MMRPMultimodal(), "reference")
