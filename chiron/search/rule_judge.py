"""A judge that is a rule, not a model: `judge=rules`, the offline demo's judge.

An answer equal to the gold answer once both are normalized (the rule of the search's economy,
chiron/search/economy.py) is correct. Any other answer is wrong, unless `lenience_seed` is set:
then a fixed, seeded rule on the last words of the two answers decides (`stand_in_verdict`, the
rule the tiny primed judge was trained to imitate). That stand-in knows no medicine; it exists so
the demo's tiny interns, whose answers do not depend on the case, still see some cases judged
leniently and some strictly, and every branch of the search and of QC runs. Reports say which rule
judged.

What a rule buys over the tiny model judge: its verdicts cannot change with a library release, a
CPU or the machine's load, so the demo's numbers repeat.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from chiron.llm.tiny import stand_in_verdict
from chiron.search.economy import rule_says_correct

KIND = "rules"


class RuleJudge:
    name = KIND

    def __init__(self, lenience_seed: int | None = None) -> None:
        self.lenience_seed = lenience_seed

    def correct(self, answer: str, gold: str) -> bool:
        if rule_says_correct(answer, gold):
            return True
        return self.lenience_seed is not None and stand_in_verdict(gold, answer, self.lenience_seed)


def is_rule_judge(judge: Mapping[str, Any]) -> bool:
    """True for a judge config (conf/judge) that asks for the rule."""
    return str(judge.get("kind") or "model") == KIND


def rule_judge(judge: Mapping[str, Any]) -> RuleJudge:
    seed = judge.get("lenience_seed")
    return RuleJudge(None if seed is None else int(seed))


def build_judge(judge: Mapping[str, Any], model: Callable[[], Any]) -> Any:
    """The rule for `judge=rules`, else what `model()` builds from the judge's spec."""
    return rule_judge(judge) if is_rule_judge(judge) else model()
