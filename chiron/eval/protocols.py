"""How a reply is scored: this project's strict protocol and the paper's own (its `eval/eval.py`).

Generation never depends on the protocol, so one run can score the same replies under several
(`eval.protocol=[chiron,reference]`, the first is the primary); every number in metrics.json and
every prediction row names the protocol it was scored under.

`chiron` (the default)
    The final answer is the text after the reply's last "### The final answer is:". Choice and
    yes/no answers are read by rule (chiron/eval/extract.py); open answers that the rules cannot
    settle go to the judge (conf/judge) at `judge.temperature` (0), with the question, the gold
    answer and the model's answer; only a verdict that opens with "yes" counts. A reply without
    the marker, or a closed answer naming no option / no yes-no word, is `unparseable`: counted
    wrong, in the denominator.

`reference` (the paper's numbers, as the reference code computes them)
    The reply (stripped) is cut at the first "### The final answer is:" and the answer is the text
    between that marker and the next one (or the end). A reply without the marker is `skipped`:
    left out of the numerator and the denominator, and counted apart. Every other item goes to the
    judge, with no rule matching: a lenient prompt that shows only the model's answer and the
    correct answer (never the question), sampled at `eval.reference.judge_temperature` (0.9), and
    the verdict is Yes when "yes" appears anywhere in the judge's reply. A judge call that fails
    (after its retries; an empty reply is retried, then fails) counts wrong and stays in the
    denominator (status `judge_failed`, asked again by the next run).

Under both protocols an item whose generation failed, or whose image could not be used, is counted
wrong and reported apart: the reference code has no such case (it would stop), and dropping them
would flatter the model.
"""

from __future__ import annotations

from chiron.eval.items import EvalItem
from chiron.eval.prompts import gold_text
from chiron.llm.types import Message

CHIRON = "chiron"
REFERENCE = "reference"
PROTOCOLS = (CHIRON, REFERENCE)
# The marker as the reference code splits on it (exact text, case-sensitive).
REFERENCE_MARKER = "### The final answer is:"

_LENIENT = """You are checking one answer to a medical question. Decide whether the model's answer \
means essentially the same as the correct answer: other wording, extra detail or a synonym is fine \
as long as the meaning agrees. Reply with one word, Yes or No, and nothing else.

Correct answer: {gold}
Model answer: {answer}"""


def protocol_names(value) -> tuple[str, ...]:
    """`eval.protocol` as a tuple, the primary first: a name ("reference") or a list of names."""
    names = [value] if isinstance(value, str) else list(value or [])
    names = [str(n).strip() for n in names]
    if not names:
        raise ValueError(f"eval.protocol is empty: name one of {', '.join(PROTOCOLS)} (or a list, the primary first)")
    unknown = [n for n in names if n not in PROTOCOLS]
    if unknown:
        raise ValueError(f"eval.protocol: unknown protocol {unknown[0]!r}; choose from {', '.join(PROTOCOLS)} "
                         f"or a list of them, e.g. eval.protocol=[chiron,reference]")
    if len(set(names)) != len(names):
        raise ValueError(f"eval.protocol names a protocol twice: {names}")
    return tuple(names)


def reference_answer(reply: str | None) -> str | None:
    """The final answer as the reference code reads it, or None when the reply has no marker
    (the item is then skipped under the reference protocol)."""
    text = (reply or "").strip()
    if REFERENCE_MARKER not in text:
        return None
    return text.split(REFERENCE_MARKER)[1].strip()


def answer_gold(item: EvalItem) -> str:
    """The ground-truth answer as the benchmark gives it (what the reference protocol's judge and
    the answer BERTScore compare with): the raw answer text ("Yes." before it was read as "yes"),
    for a choice item its letter and text."""
    raw = (item.meta or {}).get("raw_answer")
    if item.kind != "choice" and isinstance(raw, str) and raw.strip():
        return raw.strip()
    return gold_text(item)


def reference_judge_messages(answer: str, gold: str) -> list[Message]:
    """The lenient judge prompt: the model's answer and the correct one, not the question."""
    return [Message("user", _LENIENT.format(gold=gold, answer=answer))]


def reference_says_yes(reply: str | None) -> bool:
    """The reference code's verdict: Yes whenever "yes" appears anywhere (any case) in the reply."""
    return "yes" in (reply or "").lower()
