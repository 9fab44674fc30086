"""The public medical VQA sets as benchmarks: VQA-RAD, SLAKE, PathVQA and PMC-VQA test splits.

Each reads its local copy through the training-data adapter of `chiron.vqa_sets` (same layouts,
same download URLs, same per-row checks) and turns every `Sample` into an `EvalItem`: the user
turn without its `<image>` lines is the question, the assistant turn the gold answer. PMC-VQA's
four options become a `choice` item; every other item is `yes_no` or `open` by its answer.
VQA-RAD and SLAKE keep their `answer_type` ("closed"/"open") in meta and as the subject. The user
turn as it is (its `<image>` line, PMC-VQA's options) stays in meta["verbatim_question"], what
`eval.prompt=reference` sends.

Options: the adapter's own (SLAKE: `languages=("en",)`). No item is skipped for its images: the
runner marks one with a bad image, or an image path outside the copy's root (kept unopened, the
reason in meta["refused_images"]), `bad_image`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Iterator

from chiron.data.sample import Sample
from chiron.eval.benchmarks.base import BadItem, Loader, make_item, register, strip_placeholder_lines
from chiron.eval.items import VERBATIM_QUESTION, EvalItem
from chiron.vqa_sets import VQA_SETS, VQASetError, load_vqa_set

_OPTIONS_HEADER = "\nOptions:\n"


class VQALoader(Loader):
    """One public VQA set's split as a benchmark, read through its `chiron.vqa_sets` adapter."""

    def __init__(self, set_name: str, default_split: str = "test") -> None:
        adapter = VQA_SETS[set_name]
        self.adapter = adapter
        self.name = set_name
        self.title = adapter.title
        self.url = adapter.url
        self.layout = adapter.layout
        self.splits = tuple(adapter.splits)
        self.default_split = default_split
        self.options = {f.name: getattr(adapter, f.name) for f in dataclasses.fields(adapter)}

    def required_paths(self, root: str, split: str, options: dict) -> list[str]:
        return self.adapter.required_paths(root, split)

    def missing_hint(self, root: str) -> str:
        return self.adapter.missing_hint(root)

    def rows(self, root: str, split: str, options: dict) -> Iterator[Sample]:
        adapter_options = {k: v for k, v in options.items() if k in self.options}
        try:
            # Images are checked by the runner before any call (status bad_image); a path outside the
            # root is kept, unopened, with its reason in meta["refused_images"].
            yield from load_vqa_set(self.adapter.name, root, split, check_images=False, keep_refused=True,
                                    **adapter_options)
        except VQASetError as exc:
            raise self.error(f"the copy cannot be read: {str(exc).splitlines()[0]}") from exc

    def convert(self, row: Sample, index: int, root: str, split: str, options: dict) -> EvalItem:
        users = [m["content"] for m in row.messages if m.get("role") == "user"]
        answers = [m["content"] for m in row.messages if m.get("role") == "assistant"]
        if len(users) != 1 or not answers:
            raise BadItem(f"sample {row.id} is not a single question and answer")
        question = strip_placeholder_lines(users[0])
        meta = {k: v for k, v in row.meta.items() if k != "options"}
        meta["source_id"] = row.id
        meta[VERBATIM_QUESTION] = users[0]  # <image> lines and, for PMC-VQA, the options block kept
        item_id = row.id.split("/", 1)[1] if row.id.startswith(f"{row.source}/") else row.id
        subject = None
        answer_type = meta.get("answer_type")
        if isinstance(answer_type, str) and answer_type.strip():
            meta["answer_type"] = answer_type.strip().lower()
            subject = meta["answer_type"]
        choices: Any = None
        letter = None
        if "options" in row.meta:  # PMC-VQA: the options are in meta and after "Options:" in the text
            choices = row.meta["options"]
            letter = row.meta.get("answer_label")
            head, found, _ = question.rpartition(_OPTIONS_HEADER)
            if not found:
                raise BadItem(f"sample {row.id}: no {_OPTIONS_HEADER.strip()!r} block in the question")
            question = head
        return make_item(id=item_id, benchmark=self.name, question=question, answer=answers[-1],
                         images=row.images, options=choices, answer_letter=letter, subject=subject, meta=meta)


VQA_RAD = register(VQALoader("vqa_rad"))
SLAKE = register(VQALoader("slake"))
PATH_VQA = register(VQALoader("path_vqa"))
PMC_VQA = register(VQALoader("pmc_vqa"))
