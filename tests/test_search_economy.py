"""search.economy: rule verdicts and pruning never change a decision of the search, and save calls.

The property test searches hundreds of randomized scripted trees twice, every call of the paper's
schedule against the economy, and requires the same status, selected mentors, path scores, final
path and (where the economy computed it) the same mentor score history."""

import asyncio
import hashlib
import random

import pytest
from PIL import Image

from chiron.llm.cache import CallCache
from chiron.llm.client import CachedModel
from chiron.llm.ledger import Ledger
from chiron.llm.spec import ModelSpec
from chiron.search.case import Case
from chiron.search.economy import Tally, rule_says_correct, runs_needed, sole_winner
from chiron.search.mics import SearchSettings, mics_search
from chiron.search.roles import Roles
from scripted import ScriptedBackend, last_tag, mentor_reply

# -- rule verdicts --------------------------------------------------------------------------------

MATCHES = [("Yes", "yes"), ("yes.", "Yes"), ("**No**", "no"), ("False", "No"), ("The pneumonia", "Pneumonia"),
           ("Acute  appendicitis.", "acute appendicitis"), ("Crohn’s disease", "Crohn's disease"),
           ("Ménétrier disease", "Menetrier disease"), ("B", "B) Pneumonia"), ("(b)", "B) Pneumonia"),
           ("Pneumonia", "B) Pneumonia"), ("B) pneumonia", "(B) Pneumonia"), ("C. difficile", "C. difficile")]
# Anything else goes to the judge: a rule never says wrong, only "ask the judge".
TO_THE_JUDGE = [("Yes, it is", "yes"), ("No", "yes"), ("Massive", "Mass"), ("A) Pneumonia", "B) Pneumonia"),
                ("B) Edema", "B) Pneumonia"), ("A", "B) Pneumonia"), ("C", "C. difficile"), ("", "x"),
                ("Based on the current information, this cannot be determined", "No"),
                ("left lower lobe pneumonia", "pneumonia")]


@pytest.mark.parametrize("answer,gold", MATCHES)
def test_rule_verdict_matches(answer, gold):
    assert rule_says_correct(answer, gold)


@pytest.mark.parametrize("answer,gold", TO_THE_JUDGE)
def test_rule_verdict_leaves_the_rest_to_the_judge(answer, gold):
    assert not rule_says_correct(answer, gold)


# -- the bound logic on its own -------------------------------------------------------------------------


def _tally(outcomes: list[bool], total: int) -> Tally:
    t = Tally([(None, 0.0)] * total, run=None)
    t.runs = [{"correct": o} for o in outcomes]
    return t


def test_runs_needed_follows_the_decisions():
    # a candidate that has not missed yet may still be full: only it is needed
    assert runs_needed({"A": _tally([True, True], 6), "B": _tally([False, True], 6)}) == {"A"}
    # a full-score depth needs nothing more: the others only feed the history
    assert runs_needed({"A": _tally([True] * 6, 6), "B": _tally([False], 6)}) == set()
    # nothing correct anywhere yet: all zero is undecided
    assert runs_needed({"A": _tally([False], 6), "B": _tally([False, False], 6)}) == {"A", "B"}
    # selection: B (at most 2/6) cannot reach A's floor (3/6); C (1/6 .. 5/6) can
    assert runs_needed({"A": _tally([True, True, True, False, False, False], 6),
                        "B": _tally([False, False, False, False], 6),
                        "C": _tally([True, False], 6)}) == {"C"}


def test_competitiveness_bounds_decide_only_when_they_prove_the_pick():
    history = {"A": [1.0, _tally([True, True, False], 4)], "B": [0.25]}
    assert sole_winner(["A", "B"], history, "product") == "A"  # A's product is at least 0.5 > 0.25
    history = {"A": [0.5, _tally([True, False], 4)], "B": [0.5]}  # A in [0.125, 0.375], B = 0.5
    assert sole_winner(["A", "B"], history, "product") == "B"
    history = {"A": [_tally([True, False], 4)], "B": [0.5]}  # A in [0.25, 0.75]: undecided
    assert sole_winner(["A", "B"], history, "product") is None


# -- the property test ------------------------------------------------------------------------------


def _uniform(*key) -> float:
    return int(hashlib.sha256(repr(key).encode()).hexdigest()[:12], 16) / 16 ** 12


class RandomTree:
    """Mentors write tagged steps; whether an intern run on a prefix answers right is a fixed
    pseudo-random function of (last step's tag, intern, temperature, sample index), with a
    per-tag rate drawn so full scores, zeros and ties all happen."""

    RATES = (0.0, 0.0, 1 / 3, 0.5, 0.5, 2 / 3, 1.0, 1.0)

    def __init__(self, tmp_path, seed: int, economy: bool) -> None:
        rng = random.Random(seed)
        self.seed = seed
        mentors = ["A", "B", "C"][: rng.randint(2, 3)]
        interns = [f"intern{i}" for i in range(rng.randint(2, 3))]
        temperatures = [0.3, 1.2][: rng.randint(1, 2)]
        self.settings = SearchSettings(max_depth=rng.randint(2, 4), max_retries=rng.randint(0, 2),
                                       competitiveness=rng.choice(["product", "sum"]), seed=seed,
                                       economy=economy, wave=rng.randint(1, 3))
        self.rates = {}
        tmp_path.mkdir(parents=True, exist_ok=True)
        image = tmp_path / "img.png"
        Image.new("RGB", (8, 8), "gray").save(image)
        self.case = Case(rid=f"r{seed}", question="What is it?", answer="right", images=(str(image),),
                         image_refs=("img.png",))
        self.cache, self.ledger = CallCache(str(tmp_path / "cache")), Ledger()
        self.intern_backends = {n: ScriptedBackend(n, self._intern(n)) for n in interns}
        self.judge = ScriptedBackend("judge", lambda r: "Yes" if r.messages[-1].text.rstrip().endswith("right")
                                     else "No")
        self.roles = Roles(
            mentors=[self._model(m, ScriptedBackend(m, mentor_reply(m, rng.randint(2, 5))), "mentor")
                     for m in mentors],
            mentor_temperature=0.7,
            interns=[self._model(n, b, "intern") for n, b in self.intern_backends.items()],
            intern_temperatures=temperatures, judge=self._model("judge", self.judge, "judge"),
            rule_verdicts=economy)

    def _model(self, name, backend, role):
        return CachedModel(ModelSpec(name=name, backend="openai", model=name), backend, self.cache, self.ledger, role)

    def _intern(self, name: str):
        def reply(request):
            tag = last_tag(request.messages[-1].text)
            rate = self.RATES[int(_uniform(self.seed, "rate", tag) * len(self.RATES))]
            draw = _uniform(self.seed, tag, name, request.sampling.temperature, request.sample_index)
            if draw > 0.97:
                return "I cannot tell."  # unparseable: wrong, and never shown to the judge
            return f"### The final answer is: {'right' if draw < rate else 'wrong'}"
        return reply

    def search(self):
        result, attempts = asyncio.run(mics_search(self.case, self.roles, self.settings))
        self.cache.close()
        return result

    def intern_calls(self) -> int:
        return sum(b.calls for b in self.intern_backends.values())


def test_the_economy_never_changes_a_decision_and_saves_calls(tmp_path):
    calls = {"off": 0, "on": 0}
    judge = {"off": 0, "on": 0}
    saved = {"rule": 0, "pruning": 0}
    statuses = set()
    for seed in range(200):
        off, on = (RandomTree(tmp_path / f"{seed}-{mode}", seed, economy=mode == "on") for mode in ("off", "on"))
        a, b = off.search(), on.search()
        assert (b.status, b.selected, b.path_scores, b.steps, b.final_answer) == \
               (a.status, a.selected, a.path_scores, a.steps, a.final_answer), f"seed {seed}"
        for mentor, values in b.history.items():  # every score the economy computed is the exact one
            assert all(v is None or v == w for v, w in zip(values, a.history[mentor], strict=True)), f"seed {seed}"
        assert on.intern_calls() <= off.intern_calls() and on.judge.calls <= off.judge.calls
        calls["off"] += off.intern_calls()
        calls["on"] += on.intern_calls()
        judge["off"] += off.judge.calls
        judge["on"] += on.judge.calls
        total = on.ledger.total()
        saved["rule"] += total.saved_by_rule
        saved["pruning"] += total.saved_by_pruning
        statuses.add(a.status)
    assert statuses >= {"full_score", "max_depth", "all_zero"}  # the trees reach every ending
    assert calls["on"] < 0.9 * calls["off"] and judge["on"] < judge["off"]
    # the ledger counts what was not called: every skipped intern run, every judge call a rule spared
    assert saved["pruning"] >= calls["off"] - calls["on"] > 0 and saved["rule"] > 0
