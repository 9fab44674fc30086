"""The three role prompts, in this project's own words, carrying the paper's requirements."""

from __future__ import annotations

from chiron.llm.types import Message
from chiron.search.case import Case, case_information
from chiron.search.steps import FINAL_MARKER

# The judge's wording lives at the lowest layer, so that the tiny judge can be primed on it.
from chiron.utils.judge_wording import judge_prompt

CLINICIAN = (
    "You are an experienced physician who reasons carefully across clinical specialties and "
    "follows current diagnostic standards."
)

_MENTOR_TASK = """Below is a clinical case with its images, a question about it, and the answer that is known to be correct.
Write the reasoning that leads from the case to that answer.

Rules:
- Use only the information given here. Reason as though you did not know the answer: never quote it or hint that it was given.
- Describe image findings as things you observe in the images themselves, not as something you were told.
- Use as many steps as the problem needs: fewer for a simple question, more for a hard one.
- A partial reasoning may already exist. Keep it exactly as it is, do not repeat it, and write only what comes after it.
- Start every step on a new line with "### Step N:" (numbering continues from the partial reasoning) and finish with one line "{final} <answer>".

Case information:
{case_info}

Question:
{question}

Correct answer (for you only):
{answer}

Reasoning so far:
{prefix}

Now continue from "### Step {next_step}:"."""

# How interns are asked to finish a prefix (`interns.prompt`). The paper's (Fig. 14, the default)
# wants the final answer alone: the MICS-Score was defined on it, and it costs a few output tokens
# instead of a paragraph. Both keep the static text first and the varying prefix last, so provider
# and vLLM prefix caches hit for every run of a case.
INTERN_PROMPTS = {
    "final_answer": """Look at the images and read the question together with the partial reasoning below.
Work out the answer from them, precisely and in standard medical terminology.
Reply with the final answer only, on one line of the form "{final} <answer>", and nothing else.

Question:
{question}

Partial reasoning:
{prefix}""",
    "brief_reasoning": """Look at the images and read the question together with the partial reasoning below.
Carry the reasoning on to a conclusion, briefly, using standard medical terminology.
End with exactly one line of the form "{final} <answer>".

Question:
{question}

Partial reasoning:
{prefix}""",
}


def mentor_messages(case: Case, prefix: str, next_step: int) -> list[Message]:
    text = _MENTOR_TASK.format(final=FINAL_MARKER, case_info=case_information(case), question=case.question,
                               answer=case.answer, prefix=prefix, next_step=next_step)
    return [Message("system", CLINICIAN), Message("user", text, tuple(case.images))]


def intern_messages(case: Case, prefix: str, style: str = "final_answer") -> list[Message]:
    if style not in INTERN_PROMPTS:
        raise ValueError(f"interns.prompt must be one of {sorted(INTERN_PROMPTS)}, got {style!r}")
    text = INTERN_PROMPTS[style].format(final=FINAL_MARKER, question=case.question, prefix=prefix)
    return [Message("system", CLINICIAN), Message("user", text, tuple(case.images))]


def judge_messages(case: Case, model_answer: str) -> list[Message]:
    return [Message("user", judge_prompt(case.question, case.answer, model_answer))]


def judge_says_yes(reply: str) -> bool:
    """Only a reply that opens with "yes" counts; anything unclear is a No (as the prompt says)."""
    word = reply.strip().lstrip("*#>`'\" \n").lower()
    return word.startswith("yes")
