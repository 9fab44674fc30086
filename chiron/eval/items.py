"""One benchmark question, whatever benchmark it came from.

Every loader (chiron/eval/benchmarks) turns its published layout into these; generation, answer
extraction, scoring and metrics only ever see this shape.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

# meta key: the question exactly as the benchmark gives it (its `<image>` tags and option lines
# included), which `eval.prompt=reference` sends as is; loaders set it where their question differs.
VERBATIM_QUESTION = "verbatim_question"

# How an answer is checked: `choice` by option letter or option text, `yes_no` by the word,
# `open` by the LLM judge (free text; BERTScore where a reference reasoning exists).
KINDS = ("choice", "yes_no", "open")


@dataclass(frozen=True)
class EvalItem:
    id: str  # unique within its benchmark
    benchmark: str  # e.g. "vqa_rad", "mmmu_hm", "demo"
    question: str  # the question as the model sees it, options not included
    answer: str  # the gold answer: the option's text for `choice`, "yes"/"no", or free text
    kind: str  # one of KINDS
    images: tuple[str, ...] = ()  # absolute paths, shown before the question
    options: tuple[tuple[str, str], ...] = ()  # (letter, text) pairs in order, for `choice`
    answer_letter: str | None = None  # the gold option's letter, for `choice`
    subject: str | None = None  # a breakdown key: MMMU subject, MedXpertQA subset, ...
    reference_reasoning: str | None = None  # a reference reasoning path (BERTScore), if the set has one
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"item {self.id}: kind must be one of {KINDS}, got {self.kind!r}")
        if self.kind == "choice":
            letters = [letter for letter, _ in self.options]
            if len(letters) < 2 or self.answer_letter not in letters:
                raise ValueError(f"item {self.id}: a choice item needs >= 2 options and its answer's letter "
                                 f"among them (options {letters}, answer {self.answer_letter!r})")

    def to_json(self) -> dict:
        row = asdict(self)
        row["images"] = list(self.images)
        row["options"] = [list(o) for o in self.options]
        return row

    @classmethod
    def from_json(cls, row: dict) -> "EvalItem":
        row = dict(row)
        row["images"] = tuple(row.get("images") or ())
        row["options"] = tuple(tuple(o) for o in row.get("options") or ())
        return cls(**row)
