"""The wording of the search's judge prompt, at the lowest layer.

Two users need the exact same text: the search asks its judge with it (`chiron.search.prompts`),
and the tiny judge model is primed on it (`chiron.llm.tiny.priming_texts`) so that it answers the
real prompt the way it was trained to. Keeping the text here lets the model layer use it without
importing the search.
"""

from __future__ import annotations

_JUDGE_TASK = """Decide whether a model's answer to a medical question means the same as the correct answer.
Reply "Yes" only if the two agree in meaning. Reply "No" if they disagree or if you cannot tell.
Reply with the single word Yes or No and nothing else.

Question:
{question}

Correct answer:
{answer}

Model answer:
{model_answer}"""


def judge_prompt(question: str, answer: str, model_answer: str) -> str:
    return _JUDGE_TASK.format(question=question, answer=answer, model_answer=model_answer)
