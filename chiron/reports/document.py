"""Assemble and write report.md: title, sources, the report's own sections, the arms table and what
the numbers can and cannot say."""

from __future__ import annotations

import os
from collections import Counter

from chiron.eval.report import NOT_RECORDED
from chiron.reports import arms as A
from chiron.reports.tables import arms_table
from chiron.utils.jsonl import atomic_write_text

REPORT_MD = "report.md"

DEMO_NOTE = ("These arms ran at demo scale (tiny random-weight models, the demo data mix, a handful of "
             "items): their numbers show that the machinery runs end to end and is wired to the paper's "
             "comparisons, not medical skill. The paper's rows are 2B/8B models trained on the full MMRP "
             "mix.")
FULL_NOTE = ("Every accuracy counts unparseable answers and failed calls as wrong; compare differences "
             "with the 95 % intervals, not the point values alone.")
# With scoring protocols other than chiron, "every item counts" holds for chiron's numbers only.
PROTOCOLS_NOTE = ("Under the chiron protocol every accuracy counts unparseable answers and failed calls as "
                  "wrong; another protocol (reference: the paper's eval code) may leave items out of n (its "
                  "`skipped`). Compare differences with the 95 % intervals, not the point values alone.")


def sources_line(arms: list[dict]) -> str:
    groups = Counter(str(arm.get("group") or "(no group)") for arm in arms)
    return "Sweeps: " + ", ".join(f"`{g}` ({n} arm{'s' if n != 1 else ''})" for g, n in groups.items()) + "."


def protocols_line(arms: list[dict]) -> str | None:
    """Which scoring protocol(s) our numbers were computed under, when the metrics name any."""
    per_arm = {label: A.protocols(arm) for arm, label in zip(arms, A.labels(arms))}
    if not any(per_arm.values()):
        return None
    if len({tuple(p) for p in per_arm.values()}) == 1:
        line = f"Scoring protocol(s) of our numbers: {', '.join(next(iter(per_arm.values())))} (every arm)."
    else:
        line = "Scoring protocols of our numbers: " + "; ".join(
            f"{label}: {', '.join(p) or NOT_RECORDED}" for label, p in per_arm.items()) + "."
    if any(len(p) > 1 for p in per_arm.values()):
        line += " The arms table shows each benchmark's primary protocol (its `protocol`)."
    return line


def write_report(out_dir: str, title: str, sections: list[str], arms: list[dict],
                 pngs: list[str] = ()) -> list[str]:
    """Write <out_dir>/report.md (PNGs already written into out_dir are linked); returns its path
    followed by the PNG paths."""
    protocols = protocols_line(arms)
    parts = [f"# {title}\n", sources_line(arms) + "\n"] + ([protocols + "\n"] if protocols else [])
    parts += [s.rstrip() + "\n" for s in sections]
    parts += [f"![{os.path.basename(p)}]({os.path.basename(p)})\n" for p in pngs]
    others = {p for arm in arms for p in A.protocols(arm)} - {"chiron", NOT_RECORDED}
    note = DEMO_NOTE if A.is_demo_scale(arms) else (PROTOCOLS_NOTE if others else FULL_NOTE)
    parts += ["## Arms\n", arms_table(arms) + "\n", note + "\n"]
    path = os.path.join(out_dir, REPORT_MD)
    atomic_write_text(path, "\n".join(parts))
    return [path, *pngs]
