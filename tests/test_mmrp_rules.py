"""Table-driven rules of the MMRP builders: reply parsing, token levels, content filters and the
Part 3 scenario answers."""

import pytest

from chiron.mmrp.filters import has_medical_subject, referential_phrase
from chiron.mmrp.levels import Levels
from chiron.mmrp.parsing import parse_multiple_choice, parse_qa_pair, split_blocks
from chiron.mmrp.scenarios import CANNOT_DETERMINE, check_answer

PAPER_LAYOUT = """Question 1
Question: Which imaging feature best suggests a high-grade glioma?
Options: A) Central cystic component
B) Restricted diffusion of the solid component
C) Homogeneous enhancement without oedema
D) Mildly raised choline
Correct Answer: B) Restricted diffusion of the solid component
Rationale: Restricted diffusion reflects high cellularity."""


@pytest.mark.parametrize("text, answer, n_options", [
    (PAPER_LAYOUT, "B", 4),
    # no colons, as the paper's input prompt asks
    (PAPER_LAYOUT.replace(": ", " ", 1).replace("Options:", "Options").replace("Correct Answer:", "Correct Answer")
     .replace("Rationale:", "Rationale"), "B", 4),
    # markdown bold labels, bulleted "(A)" options, answer given as option text
    ("**Question:** Which vessel supplies the SA node?\n**Options:**\n- (A) Right coronary artery\n"
     "- (B) Circumflex artery\n- (C) Left anterior descending artery\n**Correct Answer:** right coronary artery\n"
     "**Rationale:** In most hearts the RCA supplies it.", "A", 3),
    # "A." style, five options, lower-case answer letter
    ("Question: Which bone is most often fractured in a fall on the outstretched hand?\nOptions:\nA. Scaphoid\n"
     "B. Lunate\nC. Trapezium\nD. Hamate\nE. Pisiform\nCorrect Answer: a\nRationale: The scaphoid is.", "A", 5),
])
def test_multiple_choice_layouts_parse(text, answer, n_options):
    blocks = split_blocks(text)
    assert len(blocks) == 1
    qa = parse_multiple_choice(blocks[0])
    assert qa.answer == answer and len(qa.options) == n_options
    assert qa.question.endswith("?") and qa.rationale


@pytest.mark.parametrize("text, reason", [
    ("Question: Why?\nOptions: A) x\nB) y\nCorrect Answer: A\nRationale: r", "2 options"),
    ("Question: Why?\nOptions: A) x\nB) y\nC) z\nD) w\nE) v\nF) u\nCorrect Answer: A\nRationale: r", "options"),
    ("Question: Why?\nOptions: A) x\nC) y\nD) z\nCorrect Answer: A\nRationale: r", "in order"),
    ("Question: Why?\nOptions: A) x\nB) y\nC) z\nCorrect Answer: D\nRationale: r", "names none"),
    ("Question: Why?\nOptions: A) x\nB) y\nC) z\nCorrect Answer: A", "no rationale"),
    ("Options: A) x\nB) y\nC) z\nCorrect Answer: A\nRationale: r", "no question"),
    ("I cannot help with that.", "no question"),
])
def test_multiple_choice_refusals(text, reason):
    with pytest.raises(ValueError, match=reason):
        parse_multiple_choice(split_blocks(text)[0])


def test_blocks_split_on_numbered_headers():
    text = PAPER_LAYOUT + "\n\n" + PAPER_LAYOUT.replace("Question 1", "**Question 2**")
    assert [parse_multiple_choice(b).answer for b in split_blocks(text)] == ["B", "B"]
    assert split_blocks("   ") == []


@pytest.mark.parametrize("text, question, answer", [
    ("- Question: Doctor, is the bleeding why he is so sleepy?\n- Correct Answer: Yes",
     "Doctor, is the bleeding why he is so sleepy?", "Yes"),
    ("Question: What sign is this?\nCorrect Answer: **Polo mint sign**", "What sign is this?", "Polo mint sign"),
])
def test_qa_pair_parse(text, question, answer):
    pair = parse_qa_pair(text)
    assert (pair.question, pair.answer) == (question, answer)


@pytest.mark.parametrize("text, reason", [("- Question: Why?", "no correct answer"), ("Yes", "no question")])
def test_qa_pair_refusals(text, reason):
    with pytest.raises(ValueError, match=reason):
        parse_qa_pair(text)


LEVELS = Levels(bounds=(120, 240, 400), pairs=(1, 1, 2, 3))


@pytest.mark.parametrize("tokens, level, pairs", [
    (0, 0, 1), (119, 0, 1), (120, 1, 1), (239, 1, 1), (240, 2, 2), (399, 2, 2), (400, 3, 3), (10_000, 3, 3),
])
def test_token_levels(tokens, level, pairs):
    assert LEVELS.pairs_for(tokens) == (level, pairs)


@pytest.mark.parametrize("bounds, pairs, reason", [
    ((120, 240), (1, 1, 2, 3), "need 3 pair counts"),
    ((240, 120, 400), (1, 1, 2, 3), "ascending"),
    ((120, 120, 400), (1, 1, 2, 3), "ascending"),
    ((120, 240, 400), (1, -1, 2, 3), ">= 0"),
])
def test_bad_levels_refused(bounds, pairs, reason):
    with pytest.raises(ValueError, match=reason):
        Levels(bounds=bounds, pairs=pairs)


def test_token_counter_uses_a_real_tokenizer(tiny_tokenizer_path):
    from chiron.mmrp.levels import information_tokens, token_counter

    count = token_counter(tiny_tokenizer_path)
    assert count("") == 0
    assert 0 < count("lung") < count("lung opacity with effusion and a rounded mass")
    assert information_tokens(count, "lung", "mass") == count("lung") + count("mass")


@pytest.mark.parametrize("text, phrase", [
    ("What does this case suggest?", "this case"),
    ("Which finding on This Image is typical?", "this image"),
    ("In the case described, which drug?", "the case"),
    ("Which sign is typical of acute appendicitis?", None),
    ("What is a showcase lesion?", None),  # whole words only
])
def test_referential_phrases(text, phrase):
    assert referential_phrase(text) == phrase


@pytest.mark.parametrize("text, title, medical", [
    ("Which finding suggests pneumonia?", "", True),
    ("Which structure is affected in cholangitis?", "", True),  # a medical word ending
    ("What is the best recipe for bread?", "", False),
    ("What is the typical age of onset of Kawasaki?", "Kawasaki disease", True),  # the case's diagnosis
])
def test_medical_subject(text, title, medical):
    assert has_medical_subject(text, title) is medical


@pytest.mark.parametrize("scenario, answer, stored", [
    ("patient_to_doctor", "Yes", "Yes"),
    ("patient_to_doctor", "no.", "No"),
    ("patient_to_doctor", "**Yes**", "Yes"),
    ("patient_to_doctor", "Based on the current information, this cannot be determined", CANNOT_DETERMINE),
    ("patient_to_doctor", "It cannot be determined.", CANNOT_DETERMINE),
    ("doctor_to_doctor", "Acute appendicitis", "Acute appendicitis"),
    ("intern_to_senior", "Polo mint sign", "Polo mint sign"),
])
def test_scenario_answers_kept(scenario, answer, stored):
    assert check_answer(scenario, answer) == stored


@pytest.mark.parametrize("scenario, answer, reason", [
    ("patient_to_doctor", "Yes, because the scan shows blood", "not Yes, No"),
    ("patient_to_doctor", "Subdural haematoma", "not Yes, No"),
    ("doctor_to_doctor", "Yes", "instead of a term"),
    ("intern_to_senior", "Cannot be determined", "instead of a term"),
    ("doctor_to_doctor", " ".join(["word"] * 26), "26 words"),
    ("unknown", "Yes", "unknown scenario"),
])
def test_scenario_answers_refused(scenario, answer, reason):
    with pytest.raises(ValueError, match=reason):
        check_answer(scenario, answer)
