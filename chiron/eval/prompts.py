"""What the evaluated model is asked, in this project's own words.

Every item asks for step-by-step reasoning in the training data's format and one closing
final-answer line, so the same extraction (chiron/eval/extract.py) reads every benchmark.
"""

from __future__ import annotations

from chiron.eval.items import EvalItem
from chiron.llm.types import Message
from chiron.search.prompts import CLINICIAN
from chiron.search.steps import FINAL_MARKER

_TASK = """{question}
{options}
Think it through step by step, starting each step on a new line with "### Step N:".
{how_to_answer}"""

_HOW = {
    "choice": 'Finish with one line "{final} <letter>) <option text>" naming exactly one option.',
    "yes_no": 'Finish with one line "{final} Yes" or "{final} No".',
    "open": 'Finish with one line "{final} <your answer>", as short as the answer allows.',
}


def render_options(item: EvalItem) -> str:
    return "\n".join(f"{letter}) {text}" for letter, text in item.options)


def question_messages(item: EvalItem) -> list[Message]:
    options = f"Options:\n{render_options(item)}\n" if item.kind == "choice" else ""
    text = _TASK.format(question=item.question.strip(), options=options,
                        how_to_answer=_HOW[item.kind].format(final=FINAL_MARKER))
    return [Message("system", CLINICIAN), Message("user", text, tuple(item.images))]


def gold_text(item: EvalItem) -> str:
    """The gold answer as the judge sees it: an option's letter and text, or the answer itself."""
    if item.kind == "choice":
        return f"{item.answer_letter}) {item.answer}"
    return item.answer

