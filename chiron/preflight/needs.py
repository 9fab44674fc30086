"""A missing input (`Need`), the error that lists them (`NeedsMissing`) and its screen."""

from __future__ import annotations

from dataclasses import dataclass

from chiron.utils.errors import TaskFailed


@dataclass(frozen=True)
class Need:
    what: str        # what is missing, naming the config key or variable
    fix: str         # how to provide it; needs with the same fix are listed together
    who: str = ""    # which model needs it: needs that differ only here are shown as one line


class NeedsMissing(TaskFailed):
    """The run cannot start: `needs` lists every missing input. str() is the whole screen."""

    def __init__(self, needs: list[Need], footer: str = ""):
        self.needs = needs
        super().__init__(render(needs, footer))


def render(needs: list[Need], footer: str = "") -> str:
    by_fix: dict[str, dict[str, list[str]]] = {}
    for need in needs:
        who = by_fix.setdefault(need.fix, {}).setdefault(need.what, [])
        if need.who and need.who not in who:
            who.append(need.who)
    count = sum(len(whats) for whats in by_fix.values())
    heading = f"cannot start: {count} thing{'s' if count != 1 else ''} this run needs {'is' if count == 1 else 'are'} missing"
    lines = [heading]
    for fix, whats in by_fix.items():
        lines += [f"  - {what}" + (f" ({', '.join(who)})" if who else "") for what, who in whats.items()]
        lines.append(f"      fix: {fix}")
    if footer:
        lines += ["", footer]
    return "\n".join(lines)
