"""The data writers' prompts, in this project's own words, carrying the paper's requirements
(App. F, Figures 8-13): Part 1 multiple-choice QA and the three Part 3 scenarios; and the prompt
of Part 1's quality check (App. A.1 removes low-quality pairs; the paper shows no prompt for it)."""

from __future__ import annotations

from chiron.data.corpus import CaseRecord
from chiron.llm.types import Message

_CASE_DESCRIPTION = (
    "You receive a clinical teaching case: its title, the body systems involved, the chief complaint "
    "(with relevant history), the patient's sex and age, the imaging analysis (possibly several "
    "modalities such as CT, MRI or radiographs), and the clinical summary and discussion."
)

_SHARED_RULES = """- Use nothing but the case information. Never invent findings, history or numbers; where a part of the case is missing, leave that topic out.
- Work only from the written imaging analysis; you never see the images. Keep findings from different modalities apart."""

PART1_SYSTEM = f"""You write multiple-choice study questions for medical students and junior doctors. {_CASE_DESCRIPTION}

Requirements:
- Level: suitable for a medical student or intern; avoid questions that need sub-specialist expertise.
- Format: every question has between 3 and 5 options labelled A), B), C) ...; exactly one is correct and the others are plausible distractors.
{_SHARED_RULES}
- The correct option must follow logically from the chief complaint, the imaging analysis or the discussion.
- Each question must stand on its own: never write "this case", "this image", "the case" or "this patient". Phrase it as a general medical question that a reader without the case could answer.
- Use precise, standard medical terminology.
- When several questions are requested, make them cover different aspects (presentation, imaging, discussion).

Write each question exactly in this layout, with nothing before, between or after the blocks:

Question 1
Question: <the question>
Options: A) <option>
B) <option>
C) <option>
Correct Answer: <letter>) <the correct option's text>
Rationale: <why the answer is right and the distractors are wrong, as general medical reasoning without mentioning any case>"""

PART1_USER = """Write {n_pairs} question(s) from the material below.

{case_sheet}"""

SCENARIO_SYSTEM = {
    "patient_to_doctor": f"""You write one question-and-answer pair for medical training. {_CASE_DESCRIPTION}

The question:
- is asked by the patient, whose diagnosis is already established, about their condition, diagnosis or treatment;
- sounds like a worried lay person: plain words, possibly doubtful, anxious or challenging, perhaps addressing the doctor;
- can be answered with yes or no.

The answer:
- is what an experienced doctor would conclude from the chief complaint, the imaging analysis and the discussion;
- is exactly one of: "Yes", "No", or "Based on the current information, this cannot be determined" (use the last when the case does not settle the question). No explanation.

{_SHARED_RULES}

Reply in exactly this layout:
- Question: <question>
- Correct Answer: <Yes | No | Based on the current information, this cannot be determined>""",
    "doctor_to_doctor": f"""You write one question-and-answer pair for medical training. {_CASE_DESCRIPTION}

The question:
- is asked by one physician of another, as in a professional discussion of the condition, diagnosis or treatment;
- draws on specific details of the chief complaint, the imaging analysis and the clinical summary;
- is open-ended (it cannot be answered with yes or no); a professional form of address is welcome.

The answer:
- is what an experienced doctor would conclude from the case information;
- is a single medical term or a short professional summary, without explanation.

{_SHARED_RULES}

Reply in exactly this layout:
- Question: <question>
- Correct Answer: <answer>""",
    "intern_to_senior": f"""You write one question-and-answer pair for medical training. {_CASE_DESCRIPTION}

The question:
- is asked by a clinical intern of a senior doctor ("Professor", "Teacher", ...) about a difficult point of the case that takes reasoning to resolve;
- reflects what the intern wants to learn and centres on interpreting the imaging findings;
- is open-ended (it cannot be answered with yes or no).

The answer:
- is what the senior doctor would conclude from the case information;
- is a single medical term or a short professional summary, without explanation.

{_SHARED_RULES}

Reply in exactly this layout:
- Question: <question>
- Correct Answer: <answer>""",
}

PART3_USER = """Write one question-and-answer pair from the material below.

{case_sheet}"""


def case_sheet(case: CaseRecord) -> str:
    """The case as the writers read it; a missing field says so instead of being left blank."""
    analysis = [f"  - {g.modality}: {g.caption}" for g in case.image_groups if g.caption.strip()]
    return "\n".join([
        f"- Title: {case.title or 'not given'}",
        f"- Systems involved: {', '.join(case.systems) or 'not given'}",
        f"- Chief complaint: {case.presentation or 'not given'}",
        f"- Gender: {case.gender or 'not given'}",
        f"- Age: {case.age or 'not given'}",
        "- Imaging analysis:" + ("\n" + "\n".join(analysis) if analysis else " not given"),
        f"- Clinical summary and discussion: {case.discussion or 'not given'}",
    ])


def part1_messages(case: CaseRecord, n_pairs: int) -> list[Message]:
    return [Message("system", PART1_SYSTEM),
            Message("user", PART1_USER.format(n_pairs=n_pairs, case_sheet=case_sheet(case)))]


# The problems a checker may name when it drops a pair: code -> what the code means to the checker.
QUALITY_PROBLEMS = {
    "unanswerable": "answering it takes facts that neither the case material nor standard medical knowledge provides",
    "answer": "the option marked correct is wrong, or more than one option could be defended as correct",
    "options": "a distractor is implausible or nonsensical, or two options mean the same thing",
    "medical": "it tests nothing of medical importance (wording, trivia, layout)",
    "rationale": "the rationale disagrees with the marked option or argues from wrong medicine",
}

QUALITY_SYSTEM = """You are a medical educator reviewing multiple-choice study questions before they enter a question bank for medical students and interns. Another writer drafted each question from a clinical teaching case. You see the case material, then one question with its options, the option marked correct, and the rationale.

Keep the question only if every point below holds:
- A learner can answer it from the case material together with standard medical knowledge.
- Exactly one option is correct, and it is the one marked.
- The other options are plausible to a learner yet clearly wrong, and no two options mean the same thing.
- It asks about something that matters in medicine: presentation, findings, diagnosis, mechanism or management.
- The rationale supports the marked option with correct medical reasoning.

If any point fails, drop the question and name its main problem with one of these codes:
{problems}

Reply with exactly three lines and nothing else:
Verdict: KEEP or DROP
Problem: one code from the list, or none
Reason: one short sentence"""

QUALITY_USER = """Case material:
{case_sheet}

Question:
{question}

Options:
{options}

Option marked correct:
{answer}

Rationale:
{rationale}"""


def quality_messages(case: CaseRecord, qa: dict) -> list[Message]:
    """The checker's prompt for one parsed Part 1 pair (`MultipleChoice.as_dict()`)."""
    problems = "\n".join(f"- {code}: {meaning}" for code, meaning in QUALITY_PROBLEMS.items())
    options = "\n".join(f"{letter}) {text}" for letter, text in qa["options"].items())
    user = QUALITY_USER.format(case_sheet=case_sheet(case), question=qa["question"], options=options,
                               answer=f"{qa['answer']}) {qa['answer_text']}", rationale=qa["rationale"])
    return [Message("system", QUALITY_SYSTEM.format(problems=problems)), Message("user", user)]


def part3_messages(case: CaseRecord, scenario: str) -> list[Message]:
    if scenario not in SCENARIO_SYSTEM:
        raise ValueError(f"unknown scenario {scenario!r}; known: {sorted(SCENARIO_SYSTEM)}")
    return [Message("system", SCENARIO_SYSTEM[scenario]),
            Message("user", PART3_USER.format(case_sheet=case_sheet(case)))]
