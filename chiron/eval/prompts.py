"""What the evaluated model is asked: `eval.prompt=chiron` (default) or `eval.prompt=reference`.

`chiron`: in this project's own words. A system turn, then the item's images before a text that
asks for step-by-step reasoning in the training data's format and one closing final-answer line,
so the same extraction (chiron/eval/extract.py) reads every benchmark.

`reference`: as the reference code asks (its eval/eval.py passes the question text as the whole
prompt to InternVL's `chat`): one user turn, the question verbatim as the benchmark gives it
(meta["verbatim_question"]; MMMU keeps its options apart, so they follow its question as "A. text"
lines), each image at its `<image>` tag; images beyond the tags come first, as InternVL's chat puts
them. No system turn and no instruction of ours. (The job also allows 12 tiles per image for
InternVL models, chiron/eval/job.py.)
"""

from __future__ import annotations

from chiron.eval.items import VERBATIM_QUESTION, EvalItem
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


PROMPTS = ("chiron", "reference")


def reference_text(item: EvalItem) -> str:
    """The question as the benchmark gives it, `<image>` tags and option lines included."""
    given = (item.meta or {}).get(VERBATIM_QUESTION)
    if isinstance(given, str) and given.strip():
        return given
    if item.kind == "choice":
        return item.question + "\n" + "\n".join(f"{letter}. {text}" for letter, text in item.options)
    return item.question


def reference_messages(item: EvalItem) -> list[Message]:
    return [Message("user", reference_text(item), tuple(item.images), inline_images=True)]


def eval_messages(item: EvalItem, prompt: str = "chiron") -> list[Message]:
    """What the model under test is sent for `item` under `eval.prompt`."""
    if prompt == "chiron":
        return question_messages(item)
    if prompt == "reference":
        return reference_messages(item)
    raise ValueError(f"eval.prompt must be one of {', '.join(PROMPTS)}, got {prompt!r}")


def gold_text(item: EvalItem) -> str:
    """The gold answer as the judge sees it: an option's letter and text, or the answer itself."""
    if item.kind == "choice":
        return f"{item.answer_letter}) {item.answer}"
    return item.answer

