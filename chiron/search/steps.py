"""The reasoning text format (facts from the paper) and its parsing.

A path reads:  OPENING, then "### Step 1: ...", "### Step 2: ...", ..., then
"### The final answer is: ...". Models drift from the format, so parsing is lenient about
spacing and case but strict about what counts as an answer: no marker, no answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

OPENING = "Let's think about how to solve this problem clearly and reasonably step by step."
FINAL_MARKER = "### The final answer is:"

_STEP_HEAD = re.compile(r"^[ \t]*#{2,4}[ \t]*Step[ \t]*(\d+)[ \t]*[:.：]", re.IGNORECASE | re.MULTILINE)
_FINAL_HEAD = re.compile(r"#{2,4}[ \t]*The final answer is[ \t]*[:：]", re.IGNORECASE)


@dataclass(frozen=True)
class Continuation:
    """A mentor's continuation split into step bodies (headers removed) and its final answer."""

    steps: tuple[str, ...]
    final_answer: str | None


def parse_continuation(text: str) -> Continuation:
    final_answer = extract_final_answer(text)
    final_at = _last_final_marker(text)
    body = text if final_at is None else text[:final_at.start()]
    heads = list(_STEP_HEAD.finditer(body))
    steps = []
    for i, head in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(body)
        content = body[head.end():end].strip()
        if content:
            steps.append(content)
    return Continuation(tuple(steps), final_answer)


def _last_final_marker(text: str) -> re.Match | None:
    last = None
    for last in _FINAL_HEAD.finditer(text):
        pass
    return last


def extract_final_answer(text: str | None) -> str | None:
    """The text after the last final-answer marker, or None when there is none (unparseable)."""
    if not text:
        return None
    marker = _last_final_marker(text)
    if marker is None:
        return None
    answer = text[marker.end():].strip().strip("*").strip()
    return answer or None


def format_step(number: int, body: str) -> str:
    return f"### Step {number}: {body}"


def render_path(steps: list[str] | tuple[str, ...], final_answer: str | None = None) -> str:
    """Opening, numbered steps and (optionally) the final-answer line, as one text."""
    parts = [OPENING] + [format_step(i + 1, s) for i, s in enumerate(steps)]
    if final_answer is not None:
        parts.append(f"{FINAL_MARKER} {final_answer}")
    return "\n\n".join(parts)
