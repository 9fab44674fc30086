"""Answer extraction: option letters, yes/no words, and rule verdicts (nothing is ever dropped)."""

import pytest

from chiron.eval.extract import Verdict, choice_letter, is_correct, normalize_text, rule_verdict, yes_no
from chiron.eval.items import EvalItem
from chiron.search.steps import FINAL_MARKER

OPTIONS = (("A", "Acute appendicitis"), ("B", "Pneumonia"), ("C", "Bacterial pneumonia"), ("D", "None of the above"))


@pytest.mark.parametrize("answer, letter", [
    # a letter alone or marked
    ("B", "B"), ("b", "B"), ("B)", "B"), ("(B)", "B"), ("B.", "B"), ("B:", "B"), ("**B**", "B"), ("[B]", "B"),
    ("  B  ", "B"), ("**(B)**.", "B"),
    # a letter with a cue
    ("Option B", "B"), ("option (B)", "B"), ("The answer is B", "B"), ("The answer is B.", "B"),
    ("Answer: (B)", "B"), ("The correct option is (D)", "D"), ("I think the answer is B", "B"),
    ("So the answer is C) Bacterial pneumonia", "C"), ("Option B: Pneumonia", "B"),
    # a letter leading its option's text (the format the prompt asks for)
    ("B) Pneumonia", "B"), ("B: Pneumonia", "B"), ("B. Pneumonia", "B"), ("(B) Pneumonia", "B"),
    ("B - Pneumonia", "B"), ("**B) Pneumonia**", "B"), ("B, because the opacity is lobar", "B"),
    # an option's full text, case/punctuation/spacing-insensitive
    ("Pneumonia", "B"), ("pneumonia.", "B"), ("PNEUMONIA!", "B"), ("Acute  appendicitis", "A"),
    ("acute-appendicitis", "A"), ("none of the above", "D"),
    # text containing exactly one option's text (the longer of two nested texts wins)
    ("Acute appendicitis is the most likely diagnosis", "A"),
    ("It is most likely bacterial pneumonia in the lower lobe", "C"),
    ("Not pneumonia; rather acute appendicitis", "A"),  # the negated option does not count
])
def test_choice_letter_variants(answer, letter):
    assert choice_letter(answer, OPTIONS) == letter


@pytest.mark.parametrize("answer", [
    "A or C", "A and C", "A, C", "A/C", "Options A and C", "(A) or (C)", "The answer is A or C",
    "A or E",  # a hedge, even though E is not an option here
    "A or C) Bacterial pneumonia",
    "A) Pneumonia",  # the letter says A, the text says B
    "Unlike option B, this is acute appendicitis",  # letter and text disagree
])
def test_choice_letter_ambiguous_is_none(answer):
    assert choice_letter(answer, OPTIONS) is None


@pytest.mark.parametrize("answer", [
    "", None, "E", "(F)", "Option E",  # letters outside the item's options
    "A mass in the right lower quadrant",  # the article "A" is not option A
    "The answer is A mass",
    "A. fumigatus infection",  # a genus abbreviation, not option A
    "I cannot tell from the image",  # the pronoun "I"
    "Something else entirely",
])
def test_choice_letter_names_nothing(answer):
    assert choice_letter(answer, OPTIONS) is None


@pytest.mark.parametrize("answer", ["Acute", "Acute inflammation", "Acutely ill", "Abscess", "Appendix"])
def test_letter_inside_a_word_is_never_option_a(answer):
    assert choice_letter(answer, OPTIONS) is None


def test_acute_appendicitis_is_option_a_by_text_only():
    # "Acute appendicitis" names option A through its text, never through the "A" of "Acute":
    # with A's text changed the same answer names no option.
    assert choice_letter("Acute appendicitis", OPTIONS) == "A"
    other = (("A", "Cholecystitis"), ("B", "Pneumonia"))
    assert choice_letter("Acute appendicitis", other) is None
    assert choice_letter("Acute appendicitis", (("B", "Acute appendicitis"), ("A", "Pneumonia"))) == "B"


def test_option_text_holding_letters_and_letter_valued_options():
    options = (("A", "Liver"), ("B", "Spleen"), ("C", "Both (A) and (B)"))
    assert choice_letter("Both (A) and (B)", options) == "C"
    assert choice_letter("C) Both (A) and (B)", options) == "C"
    blood = (("A", "A"), ("B", "B"), ("C", "AB"), ("D", "O"))
    assert choice_letter("B", blood) == "B"  # a lone letter is read as the letter
    assert choice_letter("AB", blood) == "C"
    assert choice_letter("O", blood) == "D"  # not a letter of this item, but option D's text
    assert choice_letter("A) B", blood) is None  # letter and text disagree


def test_only_the_first_line_is_read():
    # Commentary under the final answer must not make a clear answer ambiguous.
    assert choice_letter("B) Pneumonia\n\nOption A is unlikely because ...", OPTIONS) == "B"
    assert choice_letter("\n  (C)\nnot A", OPTIONS) == "C"
    assert yes_no("No.\nYes, I am sure the image shows no effusion.") == "no"


def test_lower_case_letters_in_options_are_accepted():
    assert choice_letter("b", (("a", "x-ray"), ("b", "CT"))) == "B"


@pytest.mark.parametrize("answer, word", [
    ("Yes", "yes"), ("yes.", "yes"), ("**No**", "no"), ("NO", "no"), ("Yes, the lesion is malignant", "yes"),
    ("No - there is no fracture", "no"), ("No, there is no fracture", "no"), ("The answer is no", "no"),
    ("Answer: Yes", "yes"), ("There is no fracture", "no"), ("Yes, there is no fracture", "yes"),
    ("Y", "yes"), ("n", "no"), ("True", "yes"), ("False.", "no"), ("True, it is enlarged", "yes"),
])
def test_yes_no_variants(answer, word):
    assert yes_no(answer) == word


@pytest.mark.parametrize("answer", [
    "", None, "maybe", "Uncertain", "yes/no", "Yes or no", "no, yes", "It could be yes, or it could be no",
    "False positive finding",  # medical vocabulary, not an answer
    "A true cyst", "Nope", "None", "Not sure",
])
def test_yes_no_neither_or_both_is_none(answer):
    assert yes_no(answer) is None


def test_normalize_text():
    assert normalize_text("  Acute-Appendicitis!! ") == "acute appendicitis"
    assert normalize_text("Ｂ") == "b"  # full-width letters fold (NFKC)


# --- rule verdicts ---------------------------------------------------------------------------

def _item(kind, **kw):
    base = dict(id="1", benchmark="demo", question="q?", answer="yes", kind=kind)
    base.update(kw)
    return EvalItem(**base)


CHOICE = _item("choice", answer="Pneumonia", options=OPTIONS, answer_letter="B")
YES_NO = _item("yes_no", answer="yes")
OPEN = _item("open", answer="Right lower lobe")


def _reply(final):
    return f"### Step 1: look at the image.\n### Step 2: decide.\n{FINAL_MARKER} {final}"


@pytest.mark.parametrize("item, reply, status, choice", [
    (CHOICE, _reply("B) Pneumonia"), "correct", "B"),
    (CHOICE, _reply("Pneumonia"), "correct", "B"),
    (CHOICE, _reply("A) Acute appendicitis"), "wrong", "A"),
    (CHOICE, _reply("Acute appendicitis"), "wrong", "A"),
    (CHOICE, _reply("A or B"), "unparseable", None),
    (CHOICE, _reply("Something else"), "unparseable", None),
    (YES_NO, _reply("Yes, there is an effusion"), "correct", "yes"),
    (YES_NO, _reply("No"), "wrong", "no"),
    (YES_NO, _reply("Possibly"), "unparseable", None),
    (OPEN, _reply("right lower lobe."), "correct", None),  # exact after normalisation: no judge needed
    (OPEN, _reply("The right lower lobe"), "correct", None),
    (OPEN, _reply("Right lower lobe of the lung"), "needs_judge", None),
    (OPEN, _reply("Left upper lobe"), "needs_judge", None),
])
def test_rule_verdict(item, reply, status, choice):
    verdict = rule_verdict(item, reply)
    assert verdict.status == status
    assert verdict.choice == choice
    assert verdict.extracted is not None


@pytest.mark.parametrize("item", [CHOICE, YES_NO, OPEN])
@pytest.mark.parametrize("reply", ["B) Pneumonia", "Yes", "The answer is B.\nYes.", "", None])
def test_no_marker_is_unparseable_and_wrong(item, reply):
    verdict = rule_verdict(item, reply)
    assert verdict == Verdict("unparseable", None, None)
    assert is_correct(verdict) is False


def test_last_marker_counts():
    reply = f"{FINAL_MARKER} A\nWait, let me reconsider.\n### the final answer is： B) Pneumonia"
    assert rule_verdict(CHOICE, reply) == Verdict("correct", "B) Pneumonia", "B")


def test_is_correct():
    assert is_correct(Verdict("correct", "B", "B")) is True
    assert is_correct(Verdict("wrong", "A", "A")) is False
    assert is_correct(Verdict("unparseable", "?", None)) is False
    with pytest.raises(ValueError):
        is_correct(Verdict("needs_judge", "something", None))
