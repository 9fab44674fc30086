"""How many calls one case's search makes, per role, counted from the search's own rules
(chiron/search/mics.py, vanilla.py, economy.py) without calling any model.

Three scenarios per case:

- **low**: the cheapest successful search. MICS: the case ends at depth 1 with a full score in its
  first attempt; every mentor writes a step (one candidate each); with the economy, the other
  candidates stop after their first wave and the rule settles every correct answer (no judge call),
  without it every run is made and only the winner's answers reach the judge (the others'
  answers are taken as unparseable). Vanilla: one call, a one-step path whose intern answers
  need no judge (unparseable ones, which a vanilla path may have).
- **expected**: one attempt; each depth ends the case with a full score with chance
  `full_score_rate`; the mentor selected at the last depth reuses its continuation; with the
  economy, `economy_run_share` of a candidate's runs after its first wave are made and
  `rule_share` of the answers are settled by the rule.
- **high**: the most calls the rules allow: every attempt (1 + max_retries) runs every depth
  (re-searched after an all-zero last depth), every mentor is called at every depth (its reused
  continuation had no step left), every intern run is made and every answer goes to the judge.
  Vanilla: every attempt's call, and (with score_paths) every prefix scored in full.

A case that fails (no mentor writes a step) can cost less than low; a case set aside as a bad
record or image costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

SCENARIOS = ("low", "expected", "high")


@dataclass(frozen=True)
class Shape:
    """What the call count depends on: the search's settings and how many models each role has."""

    method: str  # mics | vanilla
    mentors: int
    interns: int
    temperatures: int
    max_depth: int = 4
    max_retries: int = 2
    first_depth_steps: int = 1
    economy: bool = True
    wave: int = 2
    score_paths: bool = False  # vanilla: interns score every prefix

    @property
    def runs(self) -> int:
        """Intern runs that score one prefix: every intern at every temperature."""
        return self.interns * self.temperatures


@dataclass(frozen=True)
class Guesses:
    """The expected scenario's assumptions (none of them bounds low or high)."""

    full_score_rate: float = 0.3  # chance that a depth ends the case with a full score
    economy_run_share: float = 0.5  # share of a candidate's runs after its first wave that are made
    rule_share: float = 0.5  # share of intern answers the rule settles without the judge
    vanilla_steps: int | None = None  # steps of a vanilla path; None: first_depth_steps + max_depth - 1

    def __post_init__(self) -> None:
        for name in ("full_score_rate", "economy_run_share", "rule_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"estimate.{name} must lie in [0, 1], got {getattr(self, name)!r}")
        if self.vanilla_steps is not None and self.vanilla_steps < 1:
            raise ValueError(f"estimate.vanilla_steps must be >= 1, got {self.vanilla_steps!r}")


@dataclass(frozen=True)
class Group:
    """`calls` calls of one role (all its models together) whose prompts carry `prefix_steps`
    reasoning steps taken from `prefix_replies` mentor replies (the prefix size in high)."""

    role: str  # mentor | intern | judge
    calls: float
    prefix_steps: int = 0
    prefix_replies: int = 0


def path_steps(shape: Shape, guesses: Guesses) -> int:
    """Steps of a finished path: what a mentor's continuation is sized by."""
    if shape.method == "vanilla" and guesses.vanilla_steps is not None:
        return guesses.vanilla_steps
    return shape.first_depth_steps + shape.max_depth - 1


def case_calls(shape: Shape, scenario: str, guesses: Guesses = Guesses()) -> list[Group]:
    if scenario not in SCENARIOS:
        raise ValueError(f"scenario must be one of {SCENARIOS}, got {scenario!r}")
    if shape.method == "vanilla":
        return _vanilla(shape, scenario, guesses)
    if shape.method != "mics":
        raise ValueError(f"search.name must be 'mics' or 'vanilla', got {shape.method!r}")
    return _mics(shape, scenario, guesses)


def totals(groups: list[Group]) -> dict[str, float]:
    out = {"mentor": 0.0, "intern": 0.0, "judge": 0.0}
    for g in groups:
        out[g.role] += g.calls
    return out


def _depth(shape: Shape, depth: int, mentor_calls: float, runs_per_candidate: float, judged: float,
           weight: float = 1.0) -> list[Group]:
    """One depth: the mentors' calls on the prefix so far, then each candidate's intern runs on
    it plus the candidate's step(s), and the judge calls on those runs' answers."""
    before = 0 if depth == 1 else shape.first_depth_steps + depth - 2
    take = shape.first_depth_steps if depth == 1 else 1
    runs = shape.mentors * runs_per_candidate
    return [Group("mentor", weight * mentor_calls, before, depth - 1),
            Group("intern", weight * runs, before + take, depth),
            Group("judge", weight * judged, before + take, depth)]


def _first_wave(shape: Shape) -> int:
    return min(shape.wave, shape.runs) if shape.economy else shape.runs


def _mics(shape: Shape, scenario: str, guesses: Guesses) -> list[Group]:
    m, s = shape.mentors, shape.runs
    if scenario == "low":
        # the winner's runs are all made (a full score needs them); the others' first wave only
        runs = s + (m - 1) * _first_wave(shape)
        return _depth(shape, 1, m, runs / m, 0 if shape.economy else s)
    if scenario == "high":
        attempt = [g for d in range(1, shape.max_depth + 1) for g in _depth(shape, d, m, s, m * s)]
        attempts = shape.max_retries + 1
        return [Group(g.role, g.calls * attempts, g.prefix_steps, g.prefix_replies) for g in attempt]
    first = _first_wave(shape)
    per_candidate = first + guesses.economy_run_share * (s - first) if shape.economy else s
    judged_share = 1.0 - guesses.rule_share if shape.economy else 1.0
    groups = []
    for d in range(1, shape.max_depth + 1):
        reach = (1.0 - guesses.full_score_rate) ** (d - 1)  # chance the case is still open at depth d
        mentor_calls = m if d == 1 else m - 1  # the selected mentor reuses its continuation
        groups += _depth(shape, d, mentor_calls, per_candidate, m * per_candidate * judged_share, reach)
    return groups


def _vanilla(shape: Shape, scenario: str, guesses: Guesses) -> list[Group]:
    s = shape.runs
    steps = 1 if scenario == "low" else path_steps(shape, guesses)
    # A vanilla attempt is retried only when its path has no step, and then nothing is scored; high
    # takes each role's most calls: every attempt's mentor call, and a full path scored.
    mentor = [Group("mentor", shape.max_retries + 1 if scenario == "high" else 1, 0, 0)]
    if not shape.score_paths:
        return mentor
    if scenario == "high":
        judged = 1.0
    elif scenario == "low":
        judged = 0.0  # a vanilla path needs no correct answer: its runs may all be unparseable
    else:
        judged = 1.0 - guesses.rule_share if shape.economy else 1.0
    return mentor + [g for k in range(1, steps + 1)
                     for g in (Group("intern", s, k, 1), Group("judge", s * judged, k, 1))]
