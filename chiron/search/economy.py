"""The search's economy mode (`search.economy`): the same decisions for fewer calls.

Two savings, both exact:

1. **Rule verdicts.** An intern's final answer that equals the correct answer once both are
   normalized (case, punctuation, articles, yes/no variants, an option's letter against its text)
   is correct without asking the judge. Anything else still goes to the judge, so a rule can only
   say "correct", never "wrong". (That an exact match is correct is the one assumption here: a
   judge that rejects an answer equal to the gold one is not a judge worth imitating.)

2. **Pruning.** A candidate's intern runs are made in waves, and a run is skipped once no
   outcome of it can change a decision of the search. Which runs can, per depth (`runs_needed`):

   - *Full score* ends the search and picks among the full-score mentors, so while a candidate has
     not yet missed (every run so far correct) its remaining runs are needed.
   - Once no candidate can be full: *all zero* (a re-search) is undecided while every candidate
     has no correct run yet, so every open candidate's runs are needed.
   - Otherwise the depth *selects* the best candidate: its exact score is a path score, and the
     tie rule (a fresh mentor first, then a seeded draw) needs the exact set of candidates sharing
     the best score. Let floor = the highest lower bound (correct / total) of any candidate. A
     candidate whose upper bound ((correct + remaining) / total) is below floor cannot be best or
     tie the best; every other open candidate's runs are needed.

   Proof that decisions are unchanged: when no run is needed, (a) every candidate is either exact
   or has missed a run, so the full-score set is exactly the exact candidates at 1.0; (b) the
   all-zero test runs only when every candidate is exact (step 2 keeps going until one has a
   correct run or none is open); (c) for selection, a candidate c* with the best true score s*
   has an upper bound >= s* >= floor, so it is exact; any open candidate has an upper bound below
   floor <= s*, so its true score is below s*. The best candidates, their score and the tie set
   are therefore the same as with every run made, and select_candidate, given only the exact
   candidates, draws from the same sorted tie set with the same generator state.

   A pruned score leaves an interval in its mentor's history. History is read later only when
   several mentors reach full score at once (competitiveness, `pick_full_score`): if the
   intervals already single out one mentor (its lowest competitiveness above every other's
   highest, so the exact rule would pick it without a draw), that is the decision; otherwise
   the pending runs are made then, and the exact rule decides. Every run's outcome depends only
   on its own request (prefix, intern, temperature, sample index), so a run made later answers as
   it would have then (the call cache stores it under the same key).
"""

from __future__ import annotations

import asyncio
import re
import string
import unicodedata
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Mapping, Sequence

from chiron.search.selection import competitiveness

# -- rule verdicts --------------------------------------------------------------------------------

_ARTICLES = re.compile(r"\b(a|an|the)\b")
# Option forms are read only with a closing parenthesis ("B) text", "(b) text"): "C. difficile" is
# an organism, not option C.
_OPTION = re.compile(r"^\(?([a-h])\)\s*(.*)$")
_LETTER = re.compile(r"^\(?([a-h])\)?\.?$")  # "B", "(B)", "B)", "B."
_YES_NO = {"yes": "yes", "yeah": "yes", "yep": "yes", "true": "yes", "no": "no", "nope": "no", "false": "no"}
_PUNCT = str.maketrans({c: " " for c in string.punctuation + "\u201c\u201d\u2018\u2019\u2013\u2014"})


def normalize_answer(text: str) -> str:
    """Lower case, no accents, punctuation, markdown or articles, single spaces; a yes/no word
    becomes yes or no."""
    text = unicodedata.normalize("NFKD", text.translate(_PUNCT)).encode("ascii", "ignore").decode("ascii").lower()
    words = " ".join(_ARTICLES.sub(" ", text).split())
    return _YES_NO.get(words, words)


def _parts(answer: str) -> tuple[str | None, str]:
    """(option letter or None, normalized text) of an answer: "B) Pneumonia" -> ("b", "pneumonia"),
    "B" -> ("b", ""), "Pneumonia." -> (None, "pneumonia")."""
    raw = answer.strip().strip("*`_ ").strip().lower()
    letter = _LETTER.match(raw)
    if letter:
        return letter.group(1), ""
    option = _OPTION.match(raw)
    if option:
        return option.group(1), normalize_answer(option.group(2))
    return None, normalize_answer(raw)


def rule_says_correct(answer: str, gold: str) -> bool:
    """True when the answer is the gold answer once both are normalized, so no judge is needed.
    False means "ask the judge", never "wrong". An option gold ("B) text") is matched by its
    letter alone, its text alone, or both; a letter with another text is left to the judge."""
    letter, text = _parts(answer)
    gold_letter, gold_text = _parts(gold)
    if gold_letter is not None:
        if letter is not None:
            return letter == gold_letter and text in ("", gold_text)
        return bool(text) and text == gold_text
    if not gold_text:
        return False
    return text == gold_text and (letter is None or bool(text))


# -- intern runs in waves ---------------------------------------------------------------------------

RunFn = Callable[[object, float], Awaitable[dict]]  # (intern, temperature) -> trace entry with "correct"


@dataclass
class Tally:
    """One candidate's intern runs: the schedule, the runs made so far, what its score can still be."""

    schedule: list[tuple[object, float]]  # (intern model, temperature), in the order runs are made
    run: RunFn
    runs: list[dict] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.schedule)

    @property
    def done(self) -> int:
        return len(self.runs)

    @property
    def correct(self) -> int:
        return sum(1 for r in self.runs if r["correct"])

    @property
    def exact(self) -> bool:
        return self.done == self.total

    @property
    def low(self) -> float:
        return self.correct / self.total

    @property
    def high(self) -> float:
        return (self.correct + self.total - self.done) / self.total

    @property
    def value(self) -> float | None:
        """The MICS-Score, once every run is made."""
        return self.low if self.exact else None

    @property
    def may_be_full(self) -> bool:
        return not self.exact and self.correct == self.done

    async def make(self, n: int | None = None) -> None:
        """Make the next `n` runs of the schedule (all the rest when None), concurrently."""
        todo = self.schedule[self.done:] if n is None else self.schedule[self.done:self.done + n]
        self.runs += await asyncio.gather(*(self.run(intern, t) for intern, t in todo))

    def pending(self) -> list[tuple[object, float]]:
        return self.schedule[self.done:]


def runs_needed(tallies: Mapping[str, Tally]) -> set[str]:
    """The candidates whose next runs may change a decision of this depth (see the module docstring)."""
    open_ = {m for m, t in tallies.items() if not t.exact}
    maybe_full = {m for m in open_ if tallies[m].may_be_full}
    if maybe_full:
        return maybe_full
    if any(t.exact and t.correct == t.total for t in tallies.values()):
        return set()  # a full-score depth: the other scores only go to the history
    if all(t.correct == 0 for t in tallies.values()):
        return open_  # all zero is undecided until one is correct or none is open
    floor = max(t.low for t in tallies.values())
    return {m for m in open_ if tallies[m].high >= floor}


async def settle(tallies: Mapping[str, Tally], economy: bool, wave: int) -> None:
    """Make the runs this depth's decisions need: all of them without economy, else in waves of
    `wave` runs per candidate until `runs_needed` is empty."""
    if not economy:
        await asyncio.gather(*(t.make() for t in tallies.values()))
        return
    while need := runs_needed(tallies):
        await asyncio.gather(*(tallies[m].make(wave) for m in sorted(need)))


# -- history with pruned scores ------------------------------------------------------------------------


def bounds(history: Sequence[Tally | float], mode: str) -> tuple[float, float]:
    """Lowest and highest competitiveness a history of scores (exact or still open) can have."""
    lows = [h if isinstance(h, float) else h.low for h in history]
    highs = [h if isinstance(h, float) else h.high for h in history]
    return competitiveness(lows, mode), competitiveness(highs, mode)


def sole_winner(full: Sequence[str], history: Mapping[str, Sequence[Tally | float]], mode: str) -> str | None:
    """The one mentor the exact rule must pick without a draw, if the bounds already prove it."""
    ranges = {m: bounds(history.get(m, ()), mode) for m in full}
    for m, (low, _) in ranges.items():
        if all(low > high for other, (_, high) in ranges.items() if other != m):
            return m
    return None


def exact_history(history: Sequence[Tally | float]) -> list[float]:
    return [h if isinstance(h, float) else h.value for h in history]


def open_scores(history: Mapping[str, Sequence[Tally | float]], mentors: Sequence[str]) -> list[Tally]:
    return [h for m in mentors for h in history.get(m, ()) if isinstance(h, Tally) and not h.exact]


def interleaved(interns: Sequence[object], temperatures: Sequence[float]) -> list[tuple[object, float]]:
    """Every intern at the first temperature, then at the next, ...: early waves see every intern."""
    return [(intern, t) for t in temperatures for intern in interns]
