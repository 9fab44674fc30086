"""Table 3, the training-set ablation: each arm beside the paper row that trained on the same kind of
data (MMRP reasoning source, public VQA sets, quality control), plus the row-to-row effects the
ablation sweeps measure."""

from __future__ import annotations

import os

from chiron.eval.report import paper_results
from chiron.reports import arms as A
from chiron.reports.document import write_report
from chiron.reports.plots import grouped_bars
from chiron.reports.tables import cell, detail_table, difference, md_table, setting_text, signed

PAPER = "paper (8B)"


def match_row(arm: dict, table: dict | None = None) -> tuple[str | None, str]:
    """(Table 3 row name, "") for the row whose settings the arm has, or (None, why not)."""
    table = table or paper_results()["table3"]
    s = A.settings(arm)
    curriculum = s.get("curriculum")
    if curriculum not in (None, "three_stage"):
        # Every Table 3 row trains the full curriculum; a stage-subset arm belongs to Figure 5.
        return None, f"curriculum {curriculum} (Table 3 rows use three_stage)"
    for name, want in table["settings"].items():
        if want["method"] == A.method(arm) and want["vqa"] == s.get("vqa") and \
                (want["qc"] is None or want["qc"] == s.get("qc")):
            return name, ""
    return None, f"no row has method={A.method(arm)}, vqa={s.get('vqa')}, qc={s.get('qc')}"


def _row_number(name: str) -> str:
    return name.split(":", 1)[0]


def _main_table(table: dict, arms: list[dict], labels: list[str], rows_of: list[str | None]) -> str:
    columns = table["columns"]
    out = []
    for name, values in table["rows"].items():
        want = table["settings"][name]
        out.append([_row_number(name), want["method"], setting_text(want["vqa"]), setting_text(want["qc"]),
                    PAPER, *map(cell, values)])
        for arm, label, row in zip(arms, labels, rows_of):
            if row == name:
                s = A.settings(arm)
                out.append([_row_number(name), A.method(arm), setting_text(s.get("vqa")),
                            setting_text(s.get("qc")), f"**ours: {label}**",
                            *(cell(A.percent(arm, c)) for c in columns)])
    return md_table(["row", "MMRP", "VQA", "QC", "source", *columns], out)


def _effects_table(table: dict, arms: list[dict], rows_of: list[str | None]) -> str:
    """Paper delta per effect, then ours within each sweep that has an arm on both rows (arms of one
    sweep share their upstream stages, so the difference is the ablated setting alone)."""
    names, columns = list(table["rows"]), table["columns"]
    out = []
    for effect in table.get("effects", []):
        a, b = (names[i - 1] for i in effect["rows"])
        paper = [vb - va for va, vb in zip(table["rows"][a], table["rows"][b])]
        out.append([effect["what"], f"{_row_number(a)} → {_row_number(b)}", PAPER, *map(signed, paper)])
        for group in dict.fromkeys(arm.get("group") for arm in arms):
            first = {}
            for arm, row in zip(arms, rows_of):
                if arm.get("group") == group and row in (a, b):
                    first.setdefault(row, arm)
            if len(first) == 2:
                deltas = [difference(A.percent(first[b], c), A.percent(first[a], c)) for c in columns]
                out.append(["", "", f"ours: {group}", *map(signed, deltas)])
    return md_table(["effect", "rows", "source", *columns], out)


def _panels(table: dict, arms: list[dict], rows_of: list[str | None]) -> dict:
    """Per benchmark: paper value and our mean over the arms matched to each row."""
    panels = {}
    for k, column in enumerate(table["columns"]):
        paper, ours = {}, {}
        for name, values in table["rows"].items():
            tick = f"row {_row_number(name)}"
            paper[tick] = values[k]
            found = [A.percent(arm, column) for arm, row in zip(arms, rows_of) if row == name]
            found = [v for v in found if v is not None]
            ours[tick] = sum(found) / len(found) if found else None
        panels[column] = {PAPER: paper, "ours (mean of matched arms)": ours}
    return panels


def table3(arms: list[dict], out_dir: str) -> list[str]:
    table = paper_results()["table3"]
    labels = A.labels(arms)
    matched = [match_row(arm, table) for arm in arms]
    rows_of = [row for row, _ in matched]
    sections = [f"## {table['title']}\n",
                "Arms are matched to rows by their settings: `method` (MMRP Part 3 reasoning: none, vanilla "
                "or MICS), `vqa` (public VQA sets in the mix) and `qc`; a row whose QC the paper leaves "
                "open (rows 1-3) takes either. Only three-stage-curriculum arms match.\n",
                _main_table(table, arms, labels, rows_of)]
    unmatched = [f"- {label}: {why}" for label, (row, why) in zip(labels, matched) if row is None]
    if unmatched:
        sections += ["### Arms without a Table 3 row\n", "\n".join(unmatched)]
    kept = [k for k, row in enumerate(rows_of) if row]
    sections += ["### Effects (points, with minus without)\n", _effects_table(table, arms, rows_of),
                 "### Our measurements (n and 95 % bootstrap interval)\n",
                 detail_table([arms[k] for k in kept], [labels[k] for k in kept], table["columns"])]
    png = grouped_bars(_panels(table, arms, rows_of), os.path.join(out_dir, "table3.png"), table["title"],
                       "accuracy (%)")
    title = "Table 3: training-set ablation, ours beside the paper"
    return write_report(out_dir, title, sections, arms, [png])
