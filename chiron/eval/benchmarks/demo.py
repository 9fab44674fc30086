"""`demo`: a small offline benchmark from the data bundled with the package (no root needed).

The 12 fictional demo cases (chiron/data/demo/cases.jsonl, images under chiron/data/demo/images)
as `open` / `yes_no` items, ids "case/<rid>", subject "cases"; then the fictional PMC-VQA rows of
the demo copy (chiron/data/demo/vqa_sets/PMC-VQA, train split) as `choice` items, ids
"pmc_vqa/<key>", subject "pmc_vqa". Every kind appears; the order is the files' order.
"""

from __future__ import annotations

from typing import Any, Iterator

from chiron.eval.benchmarks.base import REFUSED_IMAGES, BadItem, Loader, make_item, register
from chiron.eval.benchmarks.vqa import PMC_VQA
from chiron.eval.items import EvalItem
from chiron.search.case import BadRecord, Case, read_cases
from chiron.utils.paths import package_path
from chiron.vqa_sets import VQASetError, load_vqa_set

CASES = "data/demo/cases.jsonl"
CASE_IMAGES = "data/demo/images"
PMC_ROOT = "data/demo/vqa_sets/PMC-VQA"
PMC_SPLIT = "train"


class DemoBenchmark(Loader):
    name = "demo"
    title = "bundled demo benchmark"
    url = "the chiron package itself (chiron/data/demo); reinstall the package if it is missing"
    layout = f"""\
  chiron/{CASES}
  chiron/{CASE_IMAGES}/demo-001/...
  chiron/{PMC_ROOT}/train.csv, images/
"""
    splits = ("test",)
    default_split = "test"
    needs_root = False

    def required_paths(self, root: str, split: str, options: dict) -> list[str]:
        return [package_path(CASES), package_path(CASE_IMAGES), package_path(f"{PMC_ROOT}/train.csv"),
                package_path(f"{PMC_ROOT}/images")]

    def rows(self, root: str, split: str, options: dict) -> Iterator[tuple[str, Any]]:
        # Images are checked by the runner (status bad_image); a path outside the image root is kept,
        # unopened, with its reason in meta["refused_images"].
        cases = read_cases(package_path(CASES), package_path(CASE_IMAGES), check_images=False)
        for case in cases:
            yield "case", case
        try:
            for sample in load_vqa_set("pmc_vqa", package_path(PMC_ROOT), PMC_SPLIT, keep_refused=True):
                yield "pmc_vqa", sample
        except VQASetError as exc:
            raise self.error(f"the demo PMC-VQA copy cannot be read: {str(exc).splitlines()[0]}") from exc

    def convert(self, row: Any, index: int, root: str, split: str, options: dict) -> EvalItem:
        source, record = row
        if source == "case":
            if isinstance(record, BadRecord):
                raise BadItem(f"case {record.rid} (line {record.line}): {record.reason}")
            assert isinstance(record, Case)
            meta = {"source": "cases", "rid": record.rid, "title": record.title, "scenario": record.scenario,
                    "presentation": record.presentation, "age": record.age, "gender": record.gender}
            if record.refused_images:
                meta[REFUSED_IMAGES] = dict(record.refused_images)
            return make_item(id=f"case/{record.rid}", benchmark=self.name, question=record.question,
                             answer=record.answer, images=record.images, subject="cases", meta=meta)
        item = PMC_VQA.convert(record, index, package_path(PMC_ROOT), PMC_SPLIT, options)
        key = record.id.rsplit("/", 1)[-1]
        return EvalItem.from_json({**item.to_json(), "id": f"pmc_vqa/{key}", "benchmark": self.name,
                                   "subject": "pmc_vqa", "meta": {**item.meta, "source": "pmc_vqa"}})


DEMO = register(DemoBenchmark())
