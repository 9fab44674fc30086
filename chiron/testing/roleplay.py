"""A deterministic stand-in for real mentors, interns and a judge behind the fake server.

The role comes from the model name's prefix (mentor*, intern*, judge*). Mentors write steps
that often point towards the correct answer; an intern that sees such a hint
answers correctly with a chance that grows with the prefix length, decided by a hash of its
prompt and temperature, so every run gives the same verdicts. Some intern replies omit the
final-answer marker, to exercise the unparseable path. Used by integration tests and the
throughput benchmark; not a model of anything medical.
"""

from __future__ import annotations

import hashlib
import re

_STEP = re.compile(r"### Step \d+:")
_HINT = re.compile(r"pointing towards (.+?)\.(?:\n|$)")
FINAL = "### The final answer is:"


def _uniform(*parts: object) -> float:
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _text_of(messages: list[dict]) -> str:
    content = messages[-1]["content"]
    if isinstance(content, str):
        return content
    return "\n".join(part.get("text", "") for part in content if part.get("type") == "text")


def _section(text: str, head: str, stop: str) -> str:
    tail = text.split(head, 1)[-1]
    return tail.split(stop, 1)[0].strip()


def respond(model: str, messages: list[dict], temperature: float) -> str:
    text = _text_of(messages)
    if model.startswith("mentor"):
        return _mentor(model, text)
    if model.startswith("intern"):
        return _intern(model, text, temperature)
    if model.startswith("judge"):
        correct = _section(text, "Correct answer:", "Model answer:").lower()
        given = text.rsplit("Model answer:", 1)[-1].strip().lower()
        return "Yes" if given == correct else "No"
    return f"Unknown role for model {model!r}.\n{FINAL} unknown"


def _mentor(model: str, text: str) -> str:
    answer = _section(text, "Correct answer (for you only):", "Reasoning so far:")
    done = len(_STEP.findall(_section(text, "Reasoning so far:", "Now continue")))
    total = max(done + 1, 3 + int(_uniform(model, text) * 3))
    steps = []
    for n in range(done + 1, total + 1):
        hint = f" pointing towards {answer}." if _uniform(model, n, text) < (0.6 if n == 1 else 0.85) else "."
        steps.append(f"### Step {n}: Observation {n} by {model} on the findings{hint}")
    return "\n\n".join(steps + [f"{FINAL} {answer}"])


def _intern(model: str, text: str, temperature: float) -> str:
    prefix = _section(text, "Partial reasoning:", "\u0000")
    hints = _HINT.findall(prefix)
    roll = _uniform(model, temperature, prefix)
    if roll < 0.08:
        return "The findings are unclear and I cannot conclude."  # no marker: unparseable
    n_steps = len(_STEP.findall(prefix))
    if hints and roll < 0.3 + 0.2 * n_steps:
        return f"Following the reasoning above.\n{FINAL} {hints[-1]}"
    return f"Considering the images.\n{FINAL} a different diagnosis"


# -- answers in several wordings (experiments/benchmarks/search_cost.py) ----------------------------


def respond_varied(model: str, messages: list[dict], temperature: float) -> str:
    """Like `respond`, but a correct intern states the answer in one of several wordings: exactly,
    with other case and punctuation, or paraphrased; and the judge accepts any wording that contains
    the correct answer. An intern asked for the final answer only (the paper's Fig. 14 prompt)
    replies with that line alone; asked for brief reasoning, it writes a few sentences first."""
    text = _text_of(messages)
    if model.startswith("judge"):
        correct = _plain(_section(text, "Correct answer:", "Model answer:"))
        given = _plain(text.rsplit("Model answer:", 1)[-1])
        return "Yes" if correct and correct in given else "No"
    if not model.startswith("intern"):
        return respond(model, messages, temperature)
    reply = _intern(model, text, temperature)
    if FINAL not in reply:
        return reply
    answer = reply.rsplit(FINAL, 1)[-1].strip()
    if answer != "a different diagnosis":
        wordings = (answer, f"{answer.capitalize()}.", f"**{answer}**", f"most likely {answer}",
                    f"findings consistent with {answer}")
        answer = wordings[int(_uniform("wording", model, temperature, text) * len(wordings))]
    if "final answer only" in text:
        return f"{FINAL} {answer}"
    return ("The images and the partial reasoning narrow the differential. The key finding fits the "
            f"clinical picture, and the alternatives are less likely.\n{FINAL} {answer}")


def _plain(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9 ]", " ", text.lower()).split())
