"""What every benchmark loader shares: the error, the load report, the row-to-item loop, the
registry, and the helpers that turn a native row's options and answer into an `EvalItem`.

A loader knows one published layout: which files a split needs, how to read its rows, and how one
native row becomes an `EvalItem`. Everything else (split and option checks, a missing copy
failing at once, broken rows skipped and counted, duplicate ids, `limit`) lives here once.

Images are never a reason to skip an item: an item whose image is missing, unreadable or too large
stays in the benchmark (and its denominator) and the runner marks it `bad_image` without asking the
model. An image path that leaves its root (`..`, an absolute path elsewhere, a symlink out) is kept
unopened with the reason in `meta["refused_images"]` ({path: reason}, `images_in_root`), which the
runner reports the same way.

Over 300 lines: the item schema, the shared readers and the checks every loader relies on, kept
together so the loaders stay small.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, ClassVar

from chiron.eval.items import EvalItem
from chiron.llm.images import REFUSED_IMAGES
from chiron.utils.paths import PathOutsideRoot, resolve_in_root
from chiron.vqa_sets.base import BadRow, LoadReport, as_object, read_json_list  # noqa: F401  (re-exported to the loaders)
from chiron.vqa_sets.base import field_text as text_field

log = logging.getLogger(__name__)

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


class BenchmarkError(ValueError):
    """A benchmark copy that cannot be read: unknown name, missing or malformed as a whole."""


# One row that cannot become an item; the load skips and counts it (the VQA sets' BadRow, so the
# row readers below serve both).
BadItem = BadRow


# The same report as a VQA-set load: rows read, kept (`samples`), filtered, skipped by reason.
BenchmarkReport = LoadReport


class Loader(ABC):
    """One benchmark in its published layout.

    `options` maps every option the loader takes to its default. `check_images` is accepted by all
    for older configs and changes nothing: no item is skipped for its images any more, the runner
    checks them before any call (status `bad_image`).
    """

    name: ClassVar[str]
    title: ClassVar[str]
    url: ClassVar[str]  # where to get the copy
    layout: ClassVar[str]  # the expected tree under the root, shown in every BenchmarkError
    splits: ClassVar[tuple[str, ...]]
    default_split: ClassVar[str]
    options: ClassVar[dict[str, Any]] = {}
    needs_root: ClassVar[bool] = True
    root_may_be_file: ClassVar[bool] = False  # a root naming the data file itself is accepted

    # --- what a loader provides -------------------------------------------------------------

    def option_defaults(self) -> dict[str, Any]:
        return {"check_images": True, **self.options}

    def required_paths(self, root: str, split: str, options: dict) -> list[str]:
        """Files and folders `split` needs; missing ones raise BenchmarkError before any row."""
        return []

    def missing_hint(self, root: str) -> str:
        """Extra words for a missing file, e.g. naming a look-alike copy found instead."""
        return ""

    @abstractmethod
    def rows(self, root: str, split: str, options: dict) -> Iterable[Any]:
        """The native rows in file order; BenchmarkError when the file itself is unreadable."""

    @abstractmethod
    def convert(self, row: Any, index: int, root: str, split: str, options: dict) -> EvalItem | None:
        """One row as an item, None when it is left out on purpose; BadItem when it is broken."""

    # --- shared -----------------------------------------------------------------------------

    def error(self, problem: str) -> BenchmarkError:
        return BenchmarkError(f"{self.name} ({self.title}): {problem}\n"
                              f"Expected layout under the root:\n{self.layout.rstrip()}\n"
                              f"Get it from: {self.url}")

    def resolve_options(self, options: Mapping[str, Any]) -> dict:
        defaults = self.option_defaults()
        unknown = sorted(set(options) - set(defaults))
        if unknown:
            raise BenchmarkError(f"{self.name} has no option {', '.join(unknown)}; "
                                 f"its options: {', '.join(sorted(defaults))}")
        return {**defaults, **options}

    def resolve_root(self, root: str | None) -> str:
        if not self.needs_root:
            return os.path.abspath(os.path.expanduser(str(root))) if root else ""
        if root is None or str(root).strip() == "":
            raise self.error("no root given: point the loader at your local copy")
        root = os.path.abspath(os.path.expanduser(str(root)))
        if self.root_may_be_file and os.path.isfile(root):
            return root
        if not os.path.isdir(root):
            raise self.error(f"root folder not found: {root}")
        return root

    def read(self, root: str | None, split: str | None = None, limit: int | None = None,
             **options) -> tuple[list[EvalItem], BenchmarkReport]:
        """The items of one split (the first `limit` of them) and the report of the load."""
        split = self.default_split if split is None else str(split)
        if split not in self.splits:
            raise self.error(f"unknown split {split!r}; this benchmark has {', '.join(self.splits)}")
        if limit is not None and int(limit) < 0:
            raise BenchmarkError(f"{self.name}: limit must be >= 0, got {limit}")
        opts = self.resolve_options(options)
        root = self.resolve_root(root)
        for path in self.required_paths(root, split, opts):
            if not os.path.exists(path):
                shown = os.path.relpath(path, root) if root and not os.path.isfile(root) else path
                raise self.error(f"missing {shown!r} in {root}{self.missing_hint(root)}")
        report = BenchmarkReport(self.name, split)
        items: list[EvalItem] = []
        seen: set[str] = set()
        if limit is None or int(limit) > 0:
            for index, row in enumerate(self.rows(root, split, opts)):
                report.rows += 1
                try:
                    item = self.convert(row, index, root, split, opts)
                except BenchmarkError:
                    raise
                except ValueError as exc:  # BadItem, or an item EvalItem refuses
                    report.skip("bad row", f"row {index}: {exc}")
                    continue
                if item is None:
                    report.filtered += 1
                    continue
                if item.id in seen:
                    report.skip("duplicate id", f"row {index}: id {item.id} already used by an earlier row")
                    continue
                seen.add(item.id)
                items.append(item)
                report.samples += 1
                if limit is not None and len(items) >= int(limit):
                    break
        if report.n_skipped:
            log.warning("%s; first: %s", report.summary(), "; ".join(report.examples))
        return items, report

    def load(self, root: str | None, split: str | None = None, limit: int | None = None,
             **options) -> list[EvalItem]:
        return self.read(root, split, limit, **options)[0]


# --- the registry ----------------------------------------------------------------------------

BENCHMARKS: dict[str, Loader] = {}


def register(loader: Loader, *aliases: str) -> Loader:
    """Put `loader` in BENCHMARKS under its name (and each alias, as a copy named after it)."""
    BENCHMARKS[loader.name] = loader
    for alias in aliases:
        twin = copy.copy(loader)
        twin.name = alias
        BENCHMARKS[alias] = twin
    return loader


def get_loader(name: str) -> Loader:
    if name not in BENCHMARKS:
        raise BenchmarkError(f"unknown benchmark {name!r}; known benchmarks: {', '.join(sorted(BENCHMARKS))}")
    return BENCHMARKS[name]


def load_benchmark(name: str, root: str | None, split: str | None = None, limit: int | None = None,
                   **options) -> list[EvalItem]:
    """The items of benchmark `name` read from the local copy at `root`, in file order.

    `split` None takes the benchmark's default split; `limit` keeps the first N items. A missing
    root or file raises BenchmarkError at once (naming the expected layout and where to get it);
    broken rows are skipped and counted in a logged warning.
    """
    return get_loader(name).load(root, split, limit, **options)


# --- helpers the loaders share ---------------------------------------------------------------



def images_in_root(root: str, refs: Iterable[str], meta: dict | None = None) -> list[str]:
    """`refs` (relative to `root`, or absolute) resolved inside `root`. A ref that leaves it keeps its
    joined path, never opened, and its reason goes into `meta[REFUSED_IMAGES]` (the runner then marks
    the item `bad_image`)."""
    paths = []
    for ref in refs:
        try:
            paths.append(resolve_in_root(root, ref))
        except PathOutsideRoot as exc:
            paths.append(exc.path)
            if meta is not None:
                meta.setdefault(REFUSED_IMAGES, {})[exc.path] = str(exc)
    return paths


_YES_NO = re.compile(r"^\s*(yes|no)\s*[.!]?\s*$", re.IGNORECASE)
# "B", "B) text", "(B) text", "B: text", "B. text"; not "Both".
_LEADING_LETTER = re.compile(r"^\(?([A-Z])(?:\s*[).:]|\s*$)")
_IMAGE_LINE = re.compile(r"^[ \t]*<image>[ \t]*$\n?", re.MULTILINE)


def yes_no(answer: str) -> str | None:
    """'yes' / 'no' when the answer is just that word (any case, a trailing full stop allowed)."""
    match = _YES_NO.match(str(answer))
    return match.group(1).lower() if match else None


def normalize_options(options: Any) -> tuple[tuple[str, str], ...]:
    """Options as ((letter, text), ...): from a {letter: text} dict, a list of texts (lettered
    A, B, C ... in order) or a list of (letter, text) pairs. Texts are stripped; an empty text,
    a repeated letter or something else raises BadItem."""
    if options is None:
        return ()
    if isinstance(options, Mapping):
        pairs = list(options.items())
    elif isinstance(options, Sequence) and not isinstance(options, (str, bytes)):
        if all(isinstance(o, (list, tuple)) and len(o) == 2 for o in options) and options:
            pairs = [tuple(o) for o in options]
        else:
            if len(options) > len(LETTERS):
                raise BadItem(f"{len(options)} options, more than there are letters")
            pairs = list(zip(LETTERS, options))
    else:
        raise BadItem(f"options are neither a list nor a mapping: {options!r:.60}")
    out, seen = [], set()
    for letter, text in pairs:
        letter = str(letter).strip().upper()
        if isinstance(text, bool) or not isinstance(text, (str, int, float)):
            raise BadItem(f"option {letter} is not text: {text!r:.60}")
        text = str(text).strip()
        if not letter or not text:
            raise BadItem(f"option {letter or '?'} is empty")
        if letter in seen:
            raise BadItem(f"option letter {letter} repeats")
        seen.add(letter)
        out.append((letter, text))
    return tuple(out)


def make_item(*, id: str, benchmark: str, question: str, answer: Any, images: Iterable[str] = (),
              options: Any = None, answer_letter: str | None = None, subject: str | None = None,
              reference_reasoning: str | None = None, meta: dict | None = None) -> EvalItem:
    """An EvalItem whose kind follows from its answer and options.

    With options the item is `choice`: the gold letter is `answer_letter` or, failing that, the
    letter whose option text equals `answer` (or `answer` itself when it is a letter); the gold
    answer becomes that option's text. Without options a "yes"/"no" answer (any case, trailing
    full stop allowed) makes a `yes_no` item with the word lower-cased, anything else `open`.
    Options win over yes/no: an item that shows "A) Yes  B) No" is scored by letter or text.
    """
    question = str(question or "").strip()
    if not question:
        raise BadItem("empty question")
    pairs = normalize_options(options)
    answer_text = "" if answer is None else str(answer).strip()
    meta = dict(meta or {})
    if pairs:
        if len(pairs) < 2:
            raise BadItem("a choice question needs at least two options")
        by_letter = dict(pairs)
        letter = (answer_letter or "").strip().strip("()").upper() or None
        if letter is None:
            letter = _letter_for(answer_text, pairs)
        if letter not in by_letter:
            raise BadItem(f"gold answer {answer_letter or answer_text!r:.40} names none of the options "
                          f"{', '.join(by_letter)}")
        return EvalItem(id=id, benchmark=benchmark, question=question, answer=by_letter[letter],
                        kind="choice", images=tuple(images), options=pairs, answer_letter=letter,
                        subject=subject, reference_reasoning=reference_reasoning, meta=meta)
    if not answer_text:
        raise BadItem("empty answer")
    word = yes_no(answer_text)
    if word is not None:
        if word != answer_text:
            meta.setdefault("raw_answer", answer_text)
        return EvalItem(id=id, benchmark=benchmark, question=question, answer=word, kind="yes_no",
                        images=tuple(images), subject=subject, reference_reasoning=reference_reasoning,
                        meta=meta)
    return EvalItem(id=id, benchmark=benchmark, question=question, answer=answer_text, kind="open",
                    images=tuple(images), subject=subject, reference_reasoning=reference_reasoning, meta=meta)


def _letter_for(answer: str, pairs: tuple[tuple[str, str], ...]) -> str | None:
    letters = {letter for letter, _ in pairs}
    bare = answer.strip().strip("()").strip().upper()
    if bare in letters:
        return bare
    match = _LEADING_LETTER.match(answer.strip())
    if match and match.group(1) in letters:
        return match.group(1)
    hits = [letter for letter, text in pairs if text.strip().lower() == answer.strip().lower()]
    return hits[0] if len(hits) == 1 else None


def strip_placeholder_lines(text: str) -> str:
    """A user turn without its "<image>" placeholder lines (the images are shown separately)."""
    return _IMAGE_LINE.sub("", text).strip()


def number_placeholders(text: str, start: int = 1) -> str:
    """Inline "<image>" placeholders as "image 1", "image 2", ... in order (the images are shown
    before the question); a run of them becomes one list: "<image>\n<image>" -> "image 1, image 2"."""
    counter = start - 1

    def repl(match: re.Match) -> str:
        nonlocal counter
        n = match.group(0).count("<image>")
        names = [f"image {counter + i + 1}" for i in range(n)]
        counter += n
        return ", ".join(names)

    return re.sub(r"<image>(?:\s*<image>)*", repl, text)


def read_jsonl_rows(loader: Loader, path: str) -> Iterator[Any]:
    """A JSONL file's rows; a line that is not JSON comes out as a BadItem to be counted."""
    try:
        with open(path, encoding="utf-8-sig") as f:
            for line_no, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    yield BadItem(f"line {line_no} is not JSON: {exc.msg}")
    except UnicodeDecodeError as exc:
        raise loader.error(f"{path} is not UTF-8 text: {exc}") from exc
