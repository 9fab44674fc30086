"""Rule scoring of a model's reply: which option, which yes/no, or "ask the judge".

The final answer is the text after the reply's last "### The final answer is:" line
(chiron.search.steps.extract_final_answer). Nothing is ever dropped: a reply with no marker, or a
closed answer that names no option / no yes-no word, is "unparseable", which counts as wrong.

Reading a letter is deliberately conservative. Models write "B) Pneumonia", "(B)", "Option B",
"The answer is B" ... but English also has the words "A" and "I" ("A mass in the ...", "I think")
and medical text has genus abbreviations ("A. fumigatus"), so a capital letter only counts as an
option letter when something marks it as one (brackets, a separator, a cue word such as
"option"/"answer is", or standing alone). When the letters and the option texts in one answer
disagree, or two different letters are named, the answer is ambiguous and gets no letter: guessing
one of them would credit hedging.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Sequence

from chiron.eval.items import EvalItem
from chiron.search.steps import extract_final_answer

# What the rules can conclude; the runner turns "needs_judge" into a judged outcome.
VERDICT_STATUSES = ("correct", "wrong", "unparseable", "needs_judge")


@dataclass(frozen=True)
class Verdict:
    status: str  # "correct" | "wrong" | "unparseable" | "needs_judge"
    extracted: str | None  # the final answer's text, None when the reply has no marker
    choice: str | None  # choice items: the letter read; yes_no items: "yes"/"no"; else None


def is_correct(verdict: Verdict) -> bool:
    """True only for "correct"; wrong and unparseable are both wrong.

    A "needs_judge" verdict is not an outcome yet, so asking raises instead of quietly
    counting it as wrong (or right)."""
    if verdict.status == "needs_judge":
        raise ValueError("verdict still needs the judge; it is neither correct nor wrong yet")
    return verdict.status == "correct"


# --- text normalisation -----------------------------------------------------------------------

def _clean(text: str) -> str:
    """Markdown emphasis/code marks and outer whitespace removed; case and punctuation kept."""
    text = unicodedata.normalize("NFKC", text)
    text = re.sub(r"[*`]+", "", text)
    return re.sub(r"\s+", " ", text).strip()


def _first_line(text: str | None) -> str:
    """The answer's first non-empty line. The marker is meant to close the reply on one line;
    whatever a model adds below it ("Explanation: option A is wrong because ...") is commentary
    and must not turn a clear answer into an ambiguous one."""
    for line in (text or "").splitlines():
        if line.strip():
            return line
    return ""


def normalize_text(text: str) -> str:
    """Case-, punctuation- and spacing-insensitive form for comparing answer texts."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = re.sub(r"[^\w]+", " ", text).replace("_", " ")
    return re.sub(r"\s+", " ", text).strip()


# --- option letters ---------------------------------------------------------------------------

# One or more capital letters joined by , / & or "and"/"or", each optionally bracketed:
# "B", "(B)", "B)", "A or C", "A, C". Several different letters make the answer ambiguous.
_LETTER = r"[\(\[]?[A-Z](?![A-Za-z0-9])[\)\]]?"
_LIST = rf"{_LETTER}(?:\s*(?:,|/|&|\bor\b|\band\b)\s*{_LETTER})*"
# Words that may follow a bare named letter in a sentence ("B because ...", "A is correct").
_CONNECTIVE = r"(?:because|since|as|which|is|was|would|should|seems|looks|fits|appears)\b"
# After a letter a lower-case word means the letter was probably an English word ("A mass").
_AFTER_NAMED = re.compile(rf"\s*$|\s*[^\w\s]|\s+{_CONNECTIVE}|\s+[A-Z0-9]")
_AFTER_LEADING = re.compile(rf"\s*$|\s*[).\]:;,!?\-–—]|\s+{_CONNECTIVE}")

_CUE_OPTION = re.compile(rf"(?<![\w])(?i:options?|choices?|letter)\s*[:：#]?\s*({_LIST})")
_CUE_ANSWER = re.compile(rf"(?<![\w])(?i:answer|choice)(?:\s+(?i:is|would be|should be|will be|must be))?"
                         rf"\s*[:：]?\s*({_LIST})")
_CUE_ANSWER_LEAD = re.compile(r"^(?i:(?:so|thus|therefore|hence)?,?\s*(?:the\s+)?(?:correct|final|best|right)?\s*"
                              r"(?:answer|option|choice)(?:\s+(?:is|would be|should be|will be|must be))?\s*[:：]?\s*)")
_PAREN = re.compile(r"(?<![\w])[\(\[]([A-Z])[\)\]](?![\w])")
_LEADING = re.compile(rf"^({_LIST})")
_LONE = re.compile(r"^[\(\[]?([A-Za-z])[\)\]]?[.:)]?$")
_GENUS = re.compile(r"^\.\s+[a-z]")  # "A. fumigatus": an abbreviation, not option A
_NEGATION = re.compile(r"(?:\bnot|\bno|\bwithout|\brather than|\bexcluding|\bexcept|\brules? out|\bruled out)\s*$")


def _letters_in(span: str) -> list[str]:
    return re.findall(r"(?<![A-Za-z])[A-Z](?![A-Za-z])", span)


def _named_letters(answer: str) -> tuple[list[list[str]], str | None]:
    """The letters the answer marks as option letters, one list per place that names them ("A or
    C" is one place naming two), and the text after a leading letter ("B) Pneumonia" ->
    "Pneumonia"), if the answer starts with one."""
    named: list[list[str]] = []
    remainder = None
    # "The answer is B) ...", "Answer: (C)": strip the lead-in so the letter counts as leading.
    lead = _CUE_ANSWER_LEAD.match(answer)
    body = answer[lead.end():] if lead else answer
    match = _LEADING.match(body)
    if match:
        rest = body[match.end():]
        span = match.group(1)
        bracketed = span.endswith((")", "]"))
        if (bracketed or _AFTER_LEADING.match(rest)) and not _GENUS.match(rest):
            named.append(_letters_in(span))
            remainder = re.sub(r"^\s*[.:)\]\-–—,;]?\s*", "", rest)
    for cue, after in ((_CUE_OPTION, None), (_CUE_ANSWER, _AFTER_NAMED)):
        for m in cue.finditer(answer):
            if after is None or after.match(answer, m.end()) or m.group(1).endswith((")", "]")):
                named.append(_letters_in(m.group(1)))
    named += [[m.group(1)] for m in _PAREN.finditer(answer)]
    return named, remainder


def _text_matches(answer: str, options: Sequence[tuple[str, str]]) -> tuple[set[str], set[str]]:
    """(letters whose option text equals the whole answer, letters whose text the answer contains).

    Both compare normalised text. A containment only counts when it is not negated ("not
    pneumonia") and when the option is not just part of another contained option ("pneumonia"
    inside "bacterial pneumonia": the longer one is what the answer names)."""
    norm = normalize_text(answer)
    if not norm:
        return set(), set()
    exact = {letter for letter, text in options if normalize_text(text) == norm}
    padded = f" {norm} "
    contained: dict[str, str] = {}
    for letter, text in options:
        t = normalize_text(text)
        if not t:
            continue
        positive = False
        for m in re.finditer(re.escape(f" {t} "), padded):
            if not _NEGATION.search(padded[:m.start() + 1]):
                positive = True
                break
        if positive:
            contained[letter] = t
    texts = set(contained.values())
    contained = {letter: t for letter, t in contained.items()
                 if not any(t != other and f" {t} " in f" {other} " for other in texts)}
    return exact, set(contained)


def choice_letter(answer: str | None, options: Sequence[tuple[str, str]]) -> str | None:
    """The option letter a final answer names, or None when it names none or is ambiguous.

    Accepted: a letter alone or marked ("B", "B)", "(B)", "B.", "B:", "**B**"), with a cue
    ("Option B", "The answer is B", "Answer: (C)"), leading a text ("B) Pneumonia", "B: Pneumonia"),
    an option's full text alone (case/punctuation/spacing-insensitive), or a text that contains
    exactly one option's text. Only the item's letters count, and only the answer's first line is
    read. Two different letters, or a letter whose accompanying text is another option's, give
    None.
    """
    answer = _first_line(answer)
    if not answer:
        return None
    letters = {str(letter).strip().upper() for letter, _ in options}
    options = [(str(letter).strip().upper(), str(text)) for letter, text in options]
    text = _clean(answer).rstrip(" .。!")
    if not text:
        return None
    lone = _LONE.match(text)
    if lone and lone.group(1).upper() in letters:
        # A letter alone is a letter, even where an option's text is a letter too (blood groups).
        return lone.group(1).upper()
    # An answer that is exactly one option's text is that option, even when the text itself
    # holds letters ("Both (A) and (B)" as option C).
    exact, contained = _text_matches(text, options)
    if exact:
        return next(iter(exact)) if len(exact) == 1 else None  # two equal option texts: can't tell
    named, remainder = _named_letters(text)
    if remainder:
        rem_exact, rem_contained = _text_matches(remainder, options)
        # "C) Both (A) and (B)": the leading letter plus its own option's text settles it.
        leading = _letters_in(text[:len(text) - len(remainder)])
        if len(set(leading)) == 1 and leading[0] in letters and rem_exact == {leading[0]}:
            return leading[-1]
        exact, contained = rem_exact, contained | rem_contained
    if any(len(set(group)) > 1 for group in named):
        return None  # "A or C", "A and E": a hedge, even when one of the letters is not an option
    # Elsewhere only this item's letters count: "(I)" or "type (E)" need not be option letters.
    named_set = {letter for group in named for letter in group if letter in letters}
    if len(named_set) > 1:
        return None
    if named_set:
        (letter,) = named_set
        # The text backs the letter up, says nothing, or contradicts it (-> ambiguous).
        text_says = exact if exact else (contained if len(contained) == 1 else set())
        if text_says and letter not in text_says:
            return None
        return letter
    if len(contained) == 1:
        return next(iter(contained))
    return None


# --- yes / no ---------------------------------------------------------------------------------

_YES_NO_WORDS = ("yes", "no")
# "True"/"False" count only alone or as a first word set off by punctuation ("True.", "False, the
# ..."): there they answer a yes/no question plainly, but in running text ("false positive",
# "a true cyst") they are medical vocabulary, not the answer. A lone "Y"/"N" is clearly shorthand;
# inside a sentence a single letter means nothing.
_TRUE_FALSE = re.compile(r"^(true|false)\s*(?:$|[^\w\s])", re.IGNORECASE)
_LONE_ONLY = {"y": "yes", "n": "no"}
_HEDGE = re.compile(r"^(yes|no) (?:(?:or|and) )?(yes|no)\b")
_ANSWER_LEAD = re.compile(r"^(?:(?:so|thus|therefore|hence)\s+)?(?:the\s+)?(?:final\s+|correct\s+)?answer"
                          r"(?:\s+is)?\s*[:：]?\s*")


def yes_no(answer: str | None) -> str | None:
    """"yes" or "no" from a final answer, or None when it says neither or both.

    The first word decides when it is yes or no ("Yes, the lesion ...", "No - there is ...",
    "The answer is no"), unless the other word follows at once ("yes/no", "Yes or no" -> None);
    otherwise the answer must contain exactly one of the two words ("There is no fracture" ->
    no; "... yes ... no ..." -> None). "True"/"False" count alone or set off by punctuation
    ("True.", "False, ..."), mapped to yes/no; a lone "Y"/"N" counts too.
    """
    answer = _first_line(answer)
    if not answer:
        return None
    norm = normalize_text(answer)
    if not norm:
        return None
    true_false = _TRUE_FALSE.match(_clean(answer))
    if true_false:
        return "yes" if true_false.group(1).lower() == "true" else "no"
    if norm in _LONE_ONLY:
        return _LONE_ONLY[norm]
    norm = _ANSWER_LEAD.sub("", norm)
    words = norm.split()
    if not words:
        return None
    first = words[0]
    hedge = _HEDGE.match(norm)
    if hedge and hedge.group(1) != hedge.group(2):
        return None  # "yes/no", "Yes or no", "no, yes": both words up front is a hedge
    if first in _YES_NO_WORDS:
        return first
    found = {w for w in words if w in _YES_NO_WORDS}
    return found.pop() if len(found) == 1 else None


# --- verdicts ---------------------------------------------------------------------------------

_ARTICLE = re.compile(r"^(?:the|a|an) ")


def _open_form(text: str) -> str:
    return _ARTICLE.sub("", normalize_text(text))


def rule_verdict(item: EvalItem, reply: str | None) -> Verdict:
    """What the rules can say about a reply to `item` without asking a judge."""
    extracted = extract_final_answer(reply)
    if extracted is None:
        return Verdict("unparseable", None, None)
    if item.kind == "choice":
        letter = choice_letter(extracted, item.options)
        if letter is None:
            return Verdict("unparseable", extracted, None)
        gold = str(item.answer_letter).strip().upper()
        return Verdict("correct" if letter == gold else "wrong", extracted, letter)
    if item.kind == "yes_no":
        word = yes_no(extracted)
        if word is None:
            return Verdict("unparseable", extracted, None)
        gold = yes_no(item.answer) or item.answer.strip().lower()
        return Verdict("correct" if word == gold else "wrong", extracted, word)
    # open: only an exact (normalised) match of the answer line is decided here; anything else is
    # the judge's call (given the whole extracted text), because a rule cannot tell a paraphrase
    # from a wrong answer.
    line = _open_form(_first_line(extracted))
    if line and line == _open_form(item.answer):
        return Verdict("correct", extracted, None)
    return Verdict("needs_judge", extracted, None)
