"""Reading the writers' replies. Lenient about layout (colons or not, markdown bold, bullets,
option styles "A)", "A.", "(A)", "A:"), strict about content: a block that does not yield a
question, 3-5 options, a resolvable correct option and a rationale is refused with the reason.
Also the Part 1 quality checker's verdicts (`parse_quality_verdict`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A label at the start of a line, optionally bulleted or bold, with or without a colon.
_LABEL = r"^[ \t]*(?:[-*•][ \t]*)?(?:\*\*)?{name}(?!\w)(?:\*\*)?[ \t]*(?::[ \t]*(?:\*\*)?)?[ \t]*"
_BLOCK_HEADER = re.compile(r"^[ \t]*(?:#+[ \t]*)?(?:\*\*)?Question[ \t]*\d+(?:\*\*)?[ \t]*:?[ \t]*$",
                           re.IGNORECASE | re.MULTILINE)
_FIELDS = {
    "question": re.compile(_LABEL.format(name="Question"), re.IGNORECASE | re.MULTILINE),
    "options": re.compile(_LABEL.format(name="Options?"), re.IGNORECASE | re.MULTILINE),
    "answer": re.compile(_LABEL.format(name="Correct[ \t]+Answer"), re.IGNORECASE | re.MULTILINE),
    "rationale": re.compile(_LABEL.format(name="(?:Rationale|Explanation)"), re.IGNORECASE | re.MULTILINE),
}
_OPTION = re.compile(r"^[ \t]*(?:[-*•][ \t]*)?\(?([A-Za-z])[).:][ \t]+(.+?)[ \t]*$", re.MULTILINE)
_ANSWER_LETTER = re.compile(r"^\(?([A-Ea-e])(?:[).:]|\s|$)")


@dataclass(frozen=True)
class MultipleChoice:
    question: str
    options: dict[str, str]  # letter -> text, letters A.. in order
    answer: str  # letter
    rationale: str

    @property
    def answer_text(self) -> str:
        return self.options[self.answer]

    def as_dict(self) -> dict:
        return {"question": self.question, "options": dict(self.options), "answer": self.answer,
                "answer_text": self.answer_text, "rationale": self.rationale}


@dataclass(frozen=True)
class QAPair:
    question: str
    answer: str


def split_blocks(text: str) -> list[str]:
    """Blocks introduced by "Question N" header lines; the whole text is one block without them."""
    headers = list(_BLOCK_HEADER.finditer(text))
    if not headers:
        return [text] if text.strip() else []
    bounds = [h.end() for h in headers] + [len(text)]
    starts = [h.start() for h in headers[1:]] + [len(text)]
    return [text[bounds[i]:starts[i]] for i in range(len(headers))]


def _fields(block: str, labels: dict[str, re.Pattern] = _FIELDS) -> dict[str, str]:
    """Each labelled field's text, up to the next label. Labels may appear in any order."""
    found = sorted((m.start(), m.end(), name) for name, rx in labels.items() for m in rx.finditer(block))
    # A label repeated inside a block (a stray second "Question:") keeps the first one's text.
    fields: dict[str, str] = {}
    for i, (_, end, name) in enumerate(found):
        nxt = found[i + 1][0] if i + 1 < len(found) else len(block)
        if name not in fields:
            fields[name] = block[end:nxt].strip()
    return fields


def parse_multiple_choice(block: str, min_options: int = 3, max_options: int = 5) -> MultipleChoice:
    """One Part 1 block as a MultipleChoice; ValueError with the reason otherwise."""
    fields = _fields(block)
    for name in ("question", "options", "answer", "rationale"):
        if not fields.get(name):
            raise ValueError(f"no {name} field")
    options: dict[str, str] = {}
    for letter, text in _OPTION.findall(fields["options"]):
        letter = letter.upper()
        if letter in options:
            raise ValueError(f"option {letter} appears twice")
        options[letter] = text.strip()
    if not min_options <= len(options) <= max_options:
        raise ValueError(f"{len(options)} options (need {min_options}-{max_options})")
    if list(options) != list("ABCDE"[:len(options)]):
        raise ValueError(f"option letters {''.join(options)} are not A, B, C... in order")
    answer = _resolve_answer(fields["answer"], options)
    question = " ".join(fields["question"].split())
    return MultipleChoice(question=question, options=options, answer=answer,
                          rationale=" ".join(fields["rationale"].split()))


def _resolve_answer(text: str, options: dict[str, str]) -> str:
    text = text.strip().strip("*").strip()
    match = _ANSWER_LETTER.match(text)
    if match and match.group(1).upper() in options:
        return match.group(1).upper()
    by_text = [letter for letter, option in options.items() if option.lower() == text.lower().rstrip(".")]
    if len(by_text) == 1:
        return by_text[0]
    raise ValueError(f"correct answer {text[:60]!r} names none of the options")


def parse_qa_pair(text: str) -> QAPair:
    """A Part 3 reply ("Question: ... / Correct Answer: ...") as a QAPair; ValueError otherwise."""
    fields = _fields(text)
    question, answer = fields.get("question", ""), fields.get("answer", "")
    if not question:
        raise ValueError("no question field")
    if not answer:
        raise ValueError("no correct answer field")
    # Markdown emphasis around a value is layout, not content.
    return QAPair(question=" ".join(question.strip("*").split()), answer=" ".join(answer.strip("*").split()))


# -- the Part 1 quality checker's verdicts --------------------------------------------------------

_VERDICT_FIELDS = {
    name: re.compile(_LABEL.format(name=label), re.IGNORECASE | re.MULTILINE)
    for name, label in (("verdict", "Verdict"), ("problem", "Problem"), ("reason", "Reason"))
}
# Yes/No are read as keep/drop too: the question put to the checker is "is this pair sound?", and a
# checker that answers it in those words (the offline demo's tiny judge, primed on Yes/No) means that.
_KEEP_WORDS = frozenset({"keep", "yes", "accept", "sound"})
_DROP_WORDS = frozenset({"drop", "no", "reject", "remove"})
_FIRST_WORD = re.compile(r"[A-Za-z]+")
MAX_REASON_CHARS = 300


@dataclass(frozen=True)
class QualityVerdict:
    keep: bool | None  # None: no verdict could be read from the reply
    problem: str | None  # one of the problem codes offered to the checker, else None
    reason: str


def parse_quality_verdict(text: str, problems: tuple[str, ...] = ()) -> QualityVerdict:
    """A checker reply ("Verdict: KEEP|DROP / Problem: <code|none> / Reason: ...") as a verdict.

    The verdict is the first word after a "Verdict" label, or the reply's first word when it has
    no such label; a word that is neither keep nor drop (nor yes/no) leaves `keep` None. The
    problem is the code of `problems` that the Problem field names first (None for "none" or no
    code). The reason is the Reason field, else whatever follows the verdict word, shortened.
    """
    fields = _fields(text, _VERDICT_FIELDS)
    verdict_text = fields.get("verdict", text)
    word = _FIRST_WORD.search(verdict_text)
    word_text = word.group(0).lower() if word else ""
    keep = True if word_text in _KEEP_WORDS else False if word_text in _DROP_WORDS else None
    named = fields.get("problem", "").lower()
    found = [(m.start(), code) for code in problems
             for m in [re.search(rf"(?<![\w-]){re.escape(code)}(?![\w-])", named)] if m]
    problem = min(found)[1] if found else None  # the one named first
    if "reason" in fields:
        reason = fields["reason"]
    elif "verdict" not in fields and word:
        reason = text[word.end():]
    else:
        reason = ""
    reason = " ".join(reason.lstrip(" \t\n*:.-").rstrip(" \t\n*").split())[:MAX_REASON_CHARS]
    return QualityVerdict(keep=keep, problem=problem, reason=reason)
