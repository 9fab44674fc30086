"""What every public-VQA adapter shares: the error, the load report, the row-to-Sample loop.

An adapter knows one published layout: which files a split needs, how to read its annotation
file, and how one native row becomes a conversation. Everything else (sample ids, duplicate ids,
image checks, skip counting, validation against `chiron.data.sample`) lives here once.

Every image path is resolved inside the copy's root (`chiron.utils.paths.resolve_in_root`): a row
whose image leaves it (`..`, an absolute path elsewhere, a symlink out) is skipped as "image outside
root", or, for a caller that sets such rows aside itself (`keep_refused`, the evaluation), kept with
the reason in `meta["refused_images"]` ({path: reason}) and the path never opened. With
`check_images` every image also goes through `chiron.llm.images.check_image`.
"""

from __future__ import annotations

import json
import logging
import os
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from chiron.data.sample import Sample, validate_sample, with_image_placeholders
from chiron.llm.images import REFUSED_IMAGES, BadImage, check_image
from chiron.utils.paths import PathOutsideRoot, resolve_in_root

log = logging.getLogger(__name__)

# Enough skipped rows kept verbatim to show what went wrong, not enough to flood a log.
_MAX_EXAMPLES = 5


class VQASetError(ValueError):
    """A local copy that cannot be read: missing, incomplete or malformed as a whole."""


class BadRow(ValueError):
    """One row that cannot become a sample; the load skips and counts it."""


@dataclass
class Item:
    """One native row as conversation parts; `key` ends the sample id (native id or row index)."""

    key: str
    messages: list[dict]
    images: list[str]
    meta: dict


@dataclass
class LoadReport:
    """What one load read, kept, left out on purpose (`filtered`) and skipped as broken."""

    name: str
    split: str
    rows: int = 0
    samples: int = 0
    filtered: int = 0  # rows of another split or language: expected, not a defect
    skipped: Counter = field(default_factory=Counter)  # reason -> rows
    examples: list[str] = field(default_factory=list)

    @property
    def n_skipped(self) -> int:
        return sum(self.skipped.values())

    def skip(self, reason: str, detail: str) -> None:
        self.skipped[reason] += 1
        if len(self.examples) < _MAX_EXAMPLES:
            self.examples.append(detail)

    def summary(self) -> str:
        reasons = ", ".join(f"{n} {reason}" for reason, n in sorted(self.skipped.items())) or "none"
        return (f"{self.name}/{self.split}: {self.rows} rows, {self.samples} samples, "
                f"{self.filtered} filtered, skipped: {reasons}")


class Adapter(ABC):
    """One public VQA set in its published layout. Subclasses are frozen dataclasses whose fields
    are the set's options (e.g. SLAKE's languages), so `dataclasses.replace` configures them."""

    name: ClassVar[str]  # the `source` of every sample
    title: ClassVar[str]
    url: ClassVar[str]
    layout: ClassVar[str]  # the expected tree under the root, shown in every VQASetError
    splits: ClassVar[tuple[str, ...]]

    @abstractmethod
    def required_paths(self, root: str, split: str) -> list[str]:
        """Files and folders `split` needs, the annotation file first."""

    @abstractmethod
    def read_rows(self, root: str, split: str) -> Iterable[Any]:
        """The annotation file's rows in file order; VQASetError when the file itself is malformed."""

    @abstractmethod
    def convert(self, row: Any, index: int, root: str, split: str) -> Item | None:
        """One row as an Item, None when the row is left out on purpose; BadRow when it is broken."""

    def missing_hint(self, root: str) -> str:
        """Extra words for a missing file, e.g. naming a look-alike copy found instead."""
        return ""

    def error(self, problem: str) -> VQASetError:
        return VQASetError(f"{self.name} ({self.title}): {problem}\n"
                           f"Expected layout under the root:\n{self.layout.rstrip()}\n"
                           f"Get it from: {self.url}")

    def load(self, root: str, split: str = "train", check_images: bool = False,
             keep_refused: bool = False) -> VQASetLoad:
        """Check the layout now (so a wrong root fails at once), read the rows while iterating."""
        if split not in self.splits:
            raise self.error(f"unknown split {split!r}; this set has {', '.join(self.splits)}")
        root = os.path.abspath(os.path.expanduser(str(root)))
        if not os.path.isdir(root):
            raise self.error(f"root folder not found: {root}")
        for path in self.required_paths(root, split):
            if not os.path.exists(path):
                missing = os.path.relpath(path, root)
                raise self.error(f"missing {missing!r} in {root}{self.missing_hint(root)}")
        return VQASetLoad(self, root, split, check_images, keep_refused)


class VQASetLoad(Iterator[Sample]):
    """The samples of one load; `report` fills in as they are drawn and is final once exhausted."""

    def __init__(self, adapter: Adapter, root: str, split: str, check_images: bool, keep_refused: bool = False):
        self.report = LoadReport(adapter.name, split)
        self._samples = _samples(adapter, root, split, check_images, self.report, keep_refused)

    def __iter__(self) -> VQASetLoad:
        return self

    def __next__(self) -> Sample:
        return next(self._samples)


def _samples(adapter: Adapter, root: str, split: str, check_images: bool,
             report: LoadReport, keep_refused: bool = False) -> Iterator[Sample]:
    seen: set[str] = set()
    for index, row in enumerate(adapter.read_rows(root, split)):
        report.rows += 1
        try:
            item = adapter.convert(row, index, root, split)
            if item is None:
                report.filtered += 1
                continue
            images, refused = _in_root(root, item.images)
            meta = {**item.meta, REFUSED_IMAGES: refused} if refused else item.meta
            sample = Sample(id=f"{adapter.name}/{split}/{item.key}", source=adapter.name,
                            messages=item.messages, images=images, meta=meta)
            validate_sample(sample.to_json())
        except VQASetError:
            raise
        except ValueError as exc:  # BadRow, or a conversation the format refuses
            report.skip("bad row", f"row {index}: {exc}")
            continue
        if sample.id in seen:
            report.skip("duplicate id", f"row {index}: id {sample.id} already used by an earlier row")
            continue
        if refused and not keep_refused:
            report.skip("image outside root", f"row {index}: {next(iter(refused.values()))}")
            continue
        if check_images:
            bad = _first_bad_image(p for p in sample.images if p not in refused)
            if bad is not None:
                report.skip("missing image" if bad.category == "missing" else "bad image", f"row {index}: {bad}")
                continue
        seen.add(sample.id)
        report.samples += 1
        yield sample
    if report.n_skipped:
        log.warning("%s; first: %s", report.summary(), "; ".join(report.examples))


def _in_root(root: str, paths: Iterable[str]) -> tuple[list[str], dict[str, str]]:
    """The image paths resolved inside `root`, and {path: reason} of those outside it (kept as given)."""
    resolved, refused = [], {}
    for path in paths:
        try:
            resolved.append(resolve_in_root(root, path))
        except PathOutsideRoot as exc:
            resolved.append(exc.path)
            refused[exc.path] = str(exc)
    return resolved, refused


def _first_bad_image(paths: Iterable[str]) -> BadImage | None:
    for path in paths:
        try:
            check_image(path)
        except BadImage as exc:
            return exc
    return None


# --- helpers the adapters share --------------------------------------------------------------


def field_text(row: dict, key: str) -> str:
    """A required text field; numbers count as text (VQA-RAD stores some answers as numbers)."""
    value = row.get(key)
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise BadRow(f"field {key!r} is missing or not text: {value!r:.60}")
    text = str(value).strip()
    if not text:
        raise BadRow(f"field {key!r} is empty")
    return text


def as_object(row: Any) -> dict:
    if not isinstance(row, dict):
        raise BadRow(f"row is not an object: {row!r:.60}")
    return row


def qa_item(key: str, question: str, answer: str, images: list[str], meta: dict) -> Item:
    """A single-turn question with one placeholder per image in front of it."""
    messages = [{"role": "user", "content": with_image_placeholders(question, len(images))},
                {"role": "assistant", "content": answer}]
    return Item(key=key, messages=messages, images=images, meta=meta)


def read_json_list(adapter: Any, path: str) -> list:
    """A JSON file holding a list of records; `adapter` is anything whose `error(problem)` makes the
    exception to raise (a VQA-set adapter, an evaluation benchmark loader). The whole file is parsed
    at once: the largest one (PubMedVision, ~0.7 GB) then takes a few GB of memory, which training
    machines have."""
    try:
        # utf-8-sig: some copies of these files were re-saved with a byte-order mark.
        with open(path, encoding="utf-8-sig") as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise adapter.error(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, list):
        raise adapter.error(f"{path} should hold a JSON list of records, not a {type(data).__name__}")
    return data
