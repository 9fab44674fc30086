"""What the tiny models are primed on: random-word prompts, replies in each role's format, and the
primed judge's verdict rule (`_judge_lenience`).

The primed models still know no medicine: their prompts are random words, their sentences are
random words, their answers are drawn from a small fixed list whatever the case, and the judge's
verdict follows a fixed arbitrary rule on the last words of the two answers it compares. The judge
is also trained on the search's real judge prompt, whose wording comes from the lowest layer
(`chiron.utils.judge_wording`) so that building a tiny model never imports the search.
"""

from __future__ import annotations

import functools
import random

from chiron.llm.tiny.tokenizer import _STEP_WORDS, _WORDS, PRIMING_ANSWERS
from chiron.utils.judge_wording import judge_prompt

# Share of the judge's batches written in the search's real judge prompt (see _judge_prompt_texts).
JUDGE_PROMPT_SHARE = 0.5

# Words in a prompt's shared opening, drawn log-uniformly up to a bit past the role's longest real
# prompt (judge ~300 tokens, intern ~520, mentor ~1,230 with images): a model primed on short
# prompts only loses the format on long ones, and the longest openings cost the most.
OPENING_WORDS = {"mentor": (2, 1400), "intern": (2, 600), "judge": (2, 350), "qa_writer": (2, 1400),
                 "vqa_writer": (2, 1400)}
ENDING_WORDS = (1, 12)  # words that end each example's own user turn


def _priming_texts(role: str, rng: random.Random, n: int, seed: int = 0) -> list[tuple[list[dict], str]]:
    """`n` (chat messages, assistant reply) pairs: random-word prompts, replies in `role`'s format.

    The prompts share their opening (system turn and most of the user turn; see `priming._assistant_loss`)
    and differ in the last few words of the user turn, where a judge's prompt has the two answers.
    """
    if role == "judge" and rng.random() < JUDGE_PROMPT_SHARE:
        return _judge_prompt_texts(rng, n, seed)
    words = _WORDS.split()
    opening = []
    # Mentor and intern prompts open with a system turn, the judge's does not: train on both shapes.
    if rng.random() < 0.5:
        opening.append({"role": "system", "content": _random_text(rng, rng.randint(3, 40))})
    low, high = OPENING_WORDS[role]
    shared = _random_text(rng, round(low * (high / low) ** rng.random()))
    examples = []
    for _ in range(n):
        ending = " ".join(rng.choices(words, k=rng.randint(*ENDING_WORDS)))
        if role == "judge":
            tail, reply = _judge_example(rng, seed)
            ending += tail
        else:
            reply = _REPLIES[role](rng)
        examples.append(([*opening, {"role": "user", "content": f"{shared} {ending}"}], reply))
    return examples


def _random_text(rng: random.Random, n_words: int) -> str:
    """Random words with some punctuation and line breaks, as real prompts have.

    A model that never saw a line break in its prompts is thrown by the many in a real one.
    """
    words = rng.choices(_WORDS.split(), k=n_words)
    # No whitespace before a space, so the text splits into the same tokens wherever
    # `_priming_batch` cuts it before a space.
    separators = rng.choices(_SEPARATORS, weights=_SEPARATOR_WEIGHTS, k=n_words - 1)
    return "".join(w + sep for w, sep in zip(words, [*separators, ""]))


_SEPARATORS = (" ", ". ", ", ", "? ", ":\n", ".\n\n", "\n- ")
_SEPARATOR_WEIGHTS = (30, 2, 2, 1, 1, 1, 1)


def _sentence(rng: random.Random, low: int, high: int) -> str:
    words = rng.choices(_STEP_WORDS.split(), k=rng.randint(low, high))
    return " ".join([words[0].capitalize(), *words[1:]]) + "."


def _mentor_reply(rng: random.Random) -> str:
    # Mostly "### Step 1:", sometimes a later number, as when continuing a partial reasoning.
    first = rng.choices((1, 2, 3), weights=(6, 2, 2))[0]
    lines = [f"### Step {first + i}: {_sentence(rng, 6, 12)}" for i in range(rng.randint(2, 4))]
    lines.append(f"### The final answer is: {rng.choice(PRIMING_ANSWERS)}")
    return "\n".join(lines)


def _intern_reply(rng: random.Random) -> str:
    return f"{_sentence(rng, 4, 10)}\n### The final answer is: {rng.choice(PRIMING_ANSWERS)}"


def _qa_writer_reply(rng: random.Random) -> str:
    """One Part 1 block in a fixed layout with short random texts: a model this small learns a
    fixed layout in seconds, not the writer's freedom (the parser's leniency is tested on its own)."""
    options = [f"{letter}) {_sentence(rng, 1, 2)[:-1]}" for letter in "ABC"]
    return "\n".join(["Question 1", f"Question: {_sentence(rng, 3, 6)[:-1]}?", f"Options: {options[0]}",
                      *options[1:], f"Correct Answer: {rng.choice('ABC')}", f"Rationale: {_sentence(rng, 3, 6)}"])


def _vqa_writer_reply(rng: random.Random) -> str:
    return (f"- Question: {_sentence(rng, 6, 14)[:-1]}?\n"
            f"- Correct Answer: {rng.choice(PRIMING_ANSWERS + (CANNOT_DETERMINE,))}")


# The paper's third allowed Patient-to-Doctor answer (mirrors chiron.mmrp.scenarios; not imported so
# building a tiny model never imports the data builders).
CANNOT_DETERMINE = "Based on the current information, this cannot be determined"

_REPLIES = {"mentor": _mentor_reply, "intern": _intern_reply, "qa_writer": _qa_writer_reply,
            "vqa_writer": _vqa_writer_reply}


def _judge_example(rng: random.Random, seed: int) -> tuple[str, str]:
    """The end of a judge's user turn and the verdict on it.

    Shaped like the end of the real judge prompt ("...:\n<correct answer>\n\n<label>:\n<given
    answer>", the label being random words here), so the model learns where the two answers are.
    """
    correct, given, verdict = _judge_case(rng, seed)
    label = " ".join(rng.choices(_WORDS.split(), k=rng.randint(1, 3)))
    return f":\n{correct}\n\n{label}:\n{given}", verdict


def _judge_case(rng: random.Random, seed: int) -> tuple[str, str, str]:
    """(correct answer, given answer, verdict under the seed's lenience rule)."""
    correct = rng.choice(PRIMING_ANSWERS)
    if rng.random() < 0.8:
        given = rng.choice(PRIMING_ANSWERS)
    else:  # interns sampled hot also end with stray words
        given = " ".join(rng.choices(_STEP_WORDS.split(), k=rng.randint(1, 4)))
    return correct, given, "Yes" if stand_in_verdict(correct, given, seed) else "No"


def stand_in_verdict(correct: str, given: str, seed: int) -> bool:
    """The primed judge's rule as a function (`_judge_lenience`): True when the scores of the two
    answers' last words add up to more than 0. The rule-based demo judge (judge=rules) applies it
    without a model. A word outside the table (a real gold answer, punctuation left on) gets a score
    drawn from its own seeded stream, so any text has a fixed verdict."""
    lenience = _judge_lenience(seed)

    def score(text: str) -> float:
        words = text.split()
        word = words[-1] if words else ""
        if word not in lenience:
            return random.Random(f"lenience:{seed}:{word}").uniform(-1.0, 1.0)
        return lenience[word]

    return score(correct) + score(given) > 0


def _judge_prompt_texts(rng: random.Random, n: int, seed: int) -> list[tuple[list[dict], str]]:
    """Judge examples in the search's real judge prompt, around a random question.

    Trained on random-word prompts only, the judge learned its rule there, but what it said on the
    real prompt (never seen) was arbitrary: the same seed gave a mix of verdicts on one machine and
    only No on another (other library versions and CPU). Batches in the real wording keep both
    verdicts in use on real prompts; the question stays random, so the judge still knows no medicine.
    """
    question = _random_text(rng, rng.randint(4, 60))
    examples = []
    for _ in range(n):
        correct, given, verdict = _judge_case(rng, seed)
        examples.append(([{"role": "user", "content": judge_prompt(question, correct, given)}], verdict))
    return examples


@functools.lru_cache(maxsize=None)
def _judge_lenience(seed: int) -> dict[str, float]:
    """The primed judge's rule: a score per word, and Yes when the scores of the correct and the
    given answer's last words add up to more than 0.

    Why not a fresh coin per example: the judge decodes greedily, and a model trained to say Yes or
    No at random, whatever the prompt, says the same word to every prompt. Why the correct answer
    counts: with a verdict that depends on the given answer alone, every case has the same odds,
    and a search then either tends to fail or tends to hit a full score, never both in one demo.
    With this rule the verdicts are about half Yes and consistent, some cases get a lenient judge
    and some a strict one, and the judge still knows no medicine.
    """
    coin = random.Random(f"lenience:{seed}")
    # Stray words (from interns sampled hot) get any score; the answers' last words get evenly
    # spaced ones in a seeded order, so that across cases the judge runs from lenient to strict.
    scores = {word: coin.uniform(-1.0, 1.0) for word in sorted(set(_STEP_WORDS.split()))}
    endings = sorted({a.split()[-1] for a in PRIMING_ANSWERS})
    coin.shuffle(endings)
    scores.update({word: (2 * i + 1) / len(endings) - 1 for i, word in enumerate(endings)})
    return scores
