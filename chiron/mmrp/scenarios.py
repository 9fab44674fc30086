"""The three Part 3 scenarios and the answer each may have (paper App. A.3, Figures 10-12)."""

from __future__ import annotations

import re

SCENARIOS = ("patient_to_doctor", "doctor_to_doctor", "intern_to_senior")
SHORT = {"patient_to_doctor": "p2d", "doctor_to_doctor": "d2d", "intern_to_senior": "i2s"}
CANNOT_DETERMINE = "Based on the current information, this cannot be determined"

_UNDETERMINED = re.compile(r"\b(?:cannot|can ?not|can't|could not|unable to)\s+be\s+(?:determined|answered|"
                           r"established)\b|\bundetermin", re.IGNORECASE)
_TRIM = " \t\"'`*.!,;:()[]"


def _closed_answer(answer: str) -> str | None:
    """"Yes", "No" or CANNOT_DETERMINE when `answer` is exactly one of them (any case, punctuation)."""
    bare = answer.strip(_TRIM).lower()
    if bare in ("yes", "no"):
        return bare.capitalize()
    if _UNDETERMINED.search(answer) and len(answer.split()) <= 12:
        return CANNOT_DETERMINE
    return None


def check_answer(scenario: str, answer: str, max_open_words: int = 25) -> str:
    """The answer as it will be stored, or ValueError with the rule it breaks.

    Patient-to-Doctor: exactly Yes, No, or that the information cannot settle it (normalised to
    the paper's wording). Doctor-to-Doctor and Intern-to-Senior: an open answer, i.e. not one of
    those three, and a medical term or short summary of at most `max_open_words` words.
    """
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; known: {SCENARIOS}")
    closed = _closed_answer(answer)
    if scenario == "patient_to_doctor":
        if closed is None:
            raise ValueError("patient-to-doctor answer is not Yes, No or 'cannot be determined'")
        return closed
    if closed is not None:
        raise ValueError(f"{scenario} question answered with {closed!r} instead of a term or summary")
    if len(answer.split()) > max_open_words:
        raise ValueError(f"{scenario} answer has {len(answer.split())} words (at most {max_open_words})")
    return answer.strip()
