"""Metrics per benchmark from its prediction rows, and the paper-comparison table.

Under the `chiron` protocol accuracy counts every item: unparseable answers, unjudged ones, failed
calls and items whose image could not be used (`bad_image`, never sent to the model) are wrong and
are reported by kind beside the accuracy, never left out of the denominator. Under the `reference`
protocol (the paper's eval code) a reply without a final-answer marker is `skipped`: out of the
denominator, and its count is reported as `skipped` beside the accuracy.

metrics.json holds, per benchmark, the primary protocol's metrics at the top level (with
`protocol` naming it) and every protocol's under `protocols` ({name: metrics}); `protocol_view`
gives one protocol's metrics in the shape of the top level, for any table that reads it.

Over 300 lines: the metrics tables, the protocol table and the paper comparison share their row
formats.
"""

from __future__ import annotations

import functools
from collections import Counter
from typing import Sequence

import yaml

from chiron.eval.metrics import accuracy_ci, grouped_accuracy, mean_ci
from chiron.eval.runner import SCORE_FIELDS, STATUSES, protocol_verdict
from chiron.utils.paths import package_path


def protocol_rows(rows: Sequence[dict], protocol: str) -> list[dict]:
    """The rows with their top-level verdict (status, extracted, choice, judge_reply, error) set to
    `protocol`'s, and `protocol` naming it."""
    out = []
    for row in rows:
        view = {k: v for k, v in row.items() if k not in SCORE_FIELDS}
        view.update(protocol_verdict(row, protocol))
        view["protocol"] = protocol
        out.append(view)
    return out


def benchmark_metrics(rows: Sequence[dict], bertscores: Sequence[float] = (), *, num_bootstraps: int = 1000,
                      level: float = 0.95, seed: int = 0, reasoning_bertscores: Sequence[float] = (),
                      protocol: str | None = None) -> dict:
    """`bertscores`: the final answer vs the gold answer per scored item (the paper's pairing, key
    "bertscore"); `reasoning_bertscores`: the reply vs the benchmark's reference reasoning (key
    "bertscore_reasoning"). Items with status `skipped` are left out of every count but `skipped`."""
    ci = dict(num_bootstraps=num_bootstraps, level=level, seed=seed)
    skipped = sum(1 for row in rows if row["status"] == "skipped")
    rows = [row for row in rows if row["status"] != "skipped"]
    correct = [row["status"] == "correct" for row in rows]
    counts = Counter(row["status"] for row in rows)
    counts["skipped"] = skipped
    metrics = {**accuracy_ci(correct, **ci)}
    if protocol is not None:
        metrics["protocol"] = protocol
    metrics.update({"skipped": skipped, "statuses": {s: counts.get(s, 0) for s in STATUSES},
                    "unparseable": counts.get("unparseable", 0), "judge_failures": counts.get("judge_failed", 0),
                    "generation_failures": counts.get("generation_failed", 0),
                    "bad_images": counts.get("bad_image", 0)})
    failed = next((row for row in rows if row["status"] in ("generation_failed", "judge_failed", "bad_image")), None)
    if failed is not None:  # the first cause, as the eval's closing line names it
        metrics["first_failure"] = f"item {failed['id']} ({failed['status']}): {failed.get('error', '?')}"
    bad = [row for row in rows if row["status"] == "bad_image"]
    if bad:  # which files, and why, so the user can fix them without reading predictions.jsonl
        metrics["bad_image_categories"] = dict(Counter((row.get("bad_image") or {}).get("category", "?")
                                                       for row in bad))
    if any(row.get("subject") for row in rows):
        metrics["by_subject"] = grouped_accuracy(correct, [row.get("subject") or "(none)" for row in rows], **ci)
    if bertscores:
        metrics["bertscore"] = mean_ci(list(bertscores), **ci)
    if reasoning_bertscores:
        metrics["bertscore_reasoning"] = mean_ci(list(reasoning_bertscores), **ci)
    own = [row["own_path"]["score"] for row in rows if (row.get("own_path") or {}).get("score") is not None]
    if own:
        metrics["mics_score"] = mean_ci(own, **ci)
        metrics["mics_score"]["failed"] = sum(1 for row in rows if "error" in (row.get("own_path") or {}))
    return metrics


def protocol_view(metrics: dict, protocol: str) -> dict:
    """metrics.json as if `protocol` were the primary: {benchmark: that protocol's metrics}, for
    the benchmarks scored under it (an entry written before protocols existed is chiron's)."""
    view = {}
    for benchmark, entry in metrics.items():
        if _is_benchmark(entry):
            by_name = _entry_protocols(entry)
            found = by_name.get(protocol, by_name.get(None) if protocol == "chiron" else None)
            if found is not None:
                view[benchmark] = found
    return view


def metrics_protocols(metrics: dict) -> list[str]:
    """The protocols a metrics.json was scored under, the primary first (unnamed = chiron, the only
    protocol before there were several)."""
    names = (name or "chiron" for entry in metrics.values() if _is_benchmark(entry) for name in _entry_protocols(entry))
    return list(dict.fromkeys(names))


def protocols_markdown(metrics: dict, prompt: str | None = None) -> str:
    """Each benchmark's numbers under each protocol side by side: n, skipped, accuracy, interval,
    and both BERTScores (answer vs gold, the paper's pairing; reply vs reference reasoning)."""
    parts = ["## By protocol\n"]
    if prompt is not None:
        parts.append(f"Prompt: `eval.prompt={prompt}`.\n")
    parts.append("| benchmark | protocol | n | skipped | accuracy % | 95 % CI | BERTScore (answer) "
                 "| BERTScore (reasoning) |")
    parts.append("|---" * 8 + "|")
    for protocol in metrics_protocols(metrics):
        for benchmark, m in protocol_view(metrics, protocol).items():
            ci = "–" if m.get("ci_low") is None else f"{100 * m['ci_low']:.1f}–{100 * m['ci_high']:.1f}"
            parts.append(f"| {benchmark} | {protocol} | {m['n']} | {m.get('skipped', 0)} "
                         f"| {_cell(_pct(m.get('accuracy')))} | {ci} "
                         f"| {_cell(_pct((m.get('bertscore') or {}).get('mean')))} "
                         f"| {_cell(_pct((m.get('bertscore_reasoning') or {}).get('mean')))} |")
    parts.append("\nchiron: rules for choice and yes/no, the judge at temperature 0 for open answers, a reply "
                 "without a final answer counted wrong. reference: the paper's eval code, every answer to a "
                 "lenient judge sampled at 0.9, a reply without the final-answer marker skipped (left out of "
                 "n). BERTScore (answer) pairs the final answer with the gold answer, as the paper does.\n")
    return "\n".join(parts)


@functools.lru_cache(maxsize=1)
def paper_results() -> dict:
    with open(package_path("eval/paper_results.yaml"), encoding="utf-8") as f:
        return yaml.safe_load(f)


def metric_entry(metrics: dict, column: str) -> dict | None:
    """The metrics.json entry behind a paper column: `bench` (the benchmark's entry), `bench/subject`
    (its by_subject entry) or `bench:metric` (e.g. its bertscore entry); None when not measured."""
    name, _, metric = column.partition(":")
    benchmark, _, subject = name.partition("/")
    found = metrics.get(benchmark)
    if found is not None and subject:
        found = (found.get("by_subject") or {}).get(subject)
    if found is not None and metric:
        found = found.get(metric)
    return found


def metric_percent(metrics: dict, column: str) -> float | None:
    """A paper column's value from our metrics.json, in percent; None when we did not measure it."""
    found = metric_entry(metrics, column)
    if found is None:
        return None
    value = found.get("mean") if ":" in column else found.get("accuracy")
    return None if value is None else 100.0 * value


def _paper_tables() -> list[dict]:
    """The paper's tables; entries without columns and rows are a figure's values or a note
    (figure4, figure5)."""
    return [table for table in paper_results().values() if "columns" in table and "rows" in table]


def paper_benchmarks() -> list[str]:
    """The benchmarks some paper table reports a number for, in the tables' order."""
    names = (column.partition(":")[0].partition("/")[0] for table in _paper_tables() for column in table["columns"])
    return list(dict.fromkeys(names))


def comparison_markdown(metrics: dict, model_label: str) -> str:
    """Every paper table that shares a measured column with this run, whole (all its rows and its AVG
    column), our row under the paper's (one per scoring protocol the metrics carry), then a
    per-benchmark table with sizes, confidence intervals and failure counts."""
    ours = our_rows(model_label, metrics)
    tables = []
    for table in _paper_tables():
        if all(metric_percent(view, column) is None for _, view in ours for column in table["columns"]):
            continue
        tables += [f"## {table['title']}\n", paper_table_markdown(table, ours) + "\n"]
    # The heading promises the paper's rows only when some are shown.
    parts = [f"# Evaluation of {model_label}" + (" beside the paper\n" if tables else "\n"), *tables]
    reported = paper_benchmarks()
    unreported = [b for b, entry in metrics.items() if _is_benchmark(entry) and b not in reported]
    if unreported and tables:
        parts.append(f"The paper reports no number for {', '.join(unreported)}: only the table below has it.\n")
    elif unreported:
        parts.append(f"Nothing to show beside the paper: it reports no number for {', '.join(unreported)}; "
                     f"the benchmarks it reports are {', '.join(reported)}.\n")
    scoring = ("\nUnder the chiron protocol every item counts: unparseable answers, failed calls and items with an "
               "unusable image (bad images: never sent to the model) are wrong, never dropped.")
    if any(p not in (None, "chiron") for p, _ in protocol_views(metrics)):  # ours holds labels, not protocols
        scoring += (" The reference protocol (the paper's eval code) leaves replies without a final answer out of "
                    "n: its `skipped` counts them.")
    parts += ["## This run\n", _run_table(metrics), scoring + "\n"]
    return "\n".join(parts)


# ---- scoring protocols: which one our numbers were computed under ---------------------------------

NOT_RECORDED = "not recorded"


def protocol_views(metrics: dict) -> list[tuple[str | None, dict]]:
    """Our metrics.json split by scoring protocol: [(protocol, metrics of that protocol)], the
    primary first; metrics naming no protocol at all give [(None, metrics)] (a plain "ours" row).
    A shape this code does not know gives the plain row, never a crash."""
    named = any(name is not None for entry in metrics.values() if _is_benchmark(entry)
                for name in _entry_protocols(entry))
    if not named:
        return [(None, metrics)]
    return [(name, protocol_view(metrics, name)) for name in metrics_protocols(metrics)]


def ours_label(protocol: str | None) -> str:
    """"ours" or "ours, protocol: chiron", for a row label."""
    return "ours" if protocol is None else f"ours, protocol: {protocol}"


def our_rows(label: str, metrics: dict) -> list[tuple[str, dict]]:
    """(row label, metrics) of our rows in a paper table: one per scoring protocol."""
    return [(f"**{label} ({ours_label(p)})**", view) for p, view in protocol_views(metrics)]


def _is_benchmark(entry: object) -> bool:
    return isinstance(entry, dict) and any(k in entry for k in ("n", "accuracy", "protocols", "protocol"))


def _protocol_name(value: object) -> str | None:
    if isinstance(value, dict):
        value = value.get("name")
    return None if value is None or value == "" else str(value)


def _entry_protocols(entry: dict) -> dict[str | None, dict]:
    """{protocol (None: not named): that protocol's entry} for one benchmark entry."""
    own, others = _protocol_name(entry.get("protocol")), entry.get("protocols")
    others = {str(k): v for k, v in others.items() if isinstance(v, dict)} if isinstance(others, dict) else {}
    # With `protocols` and no `protocol` of its own, the top-level entry is a copy of one of them.
    found: dict[str | None, dict] = {own: entry} if own is not None or not others else {}
    for name, sub in others.items():
        found.setdefault(name, sub)
    return found


# ---- a paper table, whole, with our rows under it ---------------------------------------------------

# Marks in a table's AVG cells, explained under the table.
NOT_MEAN, FEWER, NO_AVG = "ᵃ", "ᵇ", "ᶜ"


def our_average(table: dict, metrics: dict) -> tuple[float | None, list[str]]:
    """Our value of the table's AVG column and the columns it lacks. Like the paper's AVG: the mean of
    the averaged columns (`how: mean`) or the benchmark's overall accuracy (`how: overall`, column
    `equals`); None unless we measured every averaged column."""
    avg = table.get("avg") or {}
    of = list(avg.get("of") or table["columns"])
    values = [metric_percent(metrics, column) for column in of]
    missing = [column for column, value in zip(of, values) if value is None]
    if missing:
        return None, missing
    if avg.get("how") == "overall":
        overall = metric_percent(metrics, avg["equals"])
        return overall, [] if overall is not None else [avg["equals"]]
    return sum(values) / len(values), []


def paper_table_markdown(table: dict, ours: Sequence[tuple[str, dict]]) -> str:
    """A paper_results.yaml table, whole: every paper row under its group's header, the AVG column
    where the paper has one, then our rows ((label, metrics) pairs), then what the marks mean."""
    columns, avg = list(table["columns"]), table.get("avg")
    header = ["model", *columns] + (["avg"] if avg else [])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for group, names in _row_groups(table):
        if group is not None:
            lines.append(f"| *{group}* |" + " |" * (len(header) - 1))
        for name in names:
            cells = [_cell(v) for v in table["rows"][name]] + ([_paper_avg(table, name)] if avg else [])
            lines.append(f"| {name} (paper) | " + " | ".join(cells) + " |")
    lacking = []
    for label, metrics in ours:
        cells = [_cell(metric_percent(metrics, column)) for column in columns]
        if avg:
            value, missing = our_average(table, metrics)
            cells.append(_cell(value) + (NO_AVG if missing else ""))
            if missing:
                lacking.append(f"{label.strip('*')}: {', '.join(missing)}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    notes = _table_notes(table, lacking)
    return "\n".join(lines + ([""] + notes if notes else []))


def _row_groups(table: dict) -> list[tuple[str | None, list[str]]]:
    """(group header or None, row names) in the paper's order; rows no group names come last."""
    groups = []
    for group in table.get("groups") or []:
        name = group["name"] if group.get("printed", True) else f"{group['name']} (no header in the paper)"
        groups.append((name, [row for row in group["rows"] if row in table["rows"]]))
    grouped = {row for _, rows in groups for row in rows}
    rest = [row for row in table["rows"] if row not in grouped]
    return groups + ([(None, rest)] if rest else [])


def _paper_avg(table: dict, name: str) -> str:
    avg = table["avg"]
    value = (avg.get("values") or {}).get(name)
    marks = NOT_MEAN if name in (avg.get("not_mean") or {}) else ""
    if value is not None and _averaged_fewer(table, name):
        marks += FEWER
    return _cell(value) + marks


def _averaged_fewer(table: dict, name: str) -> bool:
    """The paper's row lacks (—) some of the columns its AVG averages."""
    of = table["avg"].get("of") or table["columns"]
    values = dict(zip(table["columns"], table["rows"][name]))
    return any(values.get(column) is None for column in of)


def _table_notes(table: dict, lacking: list[str]) -> list[str]:
    """The lines under a table: the paper's headers and caption, then what each mark means."""
    notes = []
    headers = list(table.get("headers") or [])
    avg = table.get("avg") or {}
    if headers:
        pairs = [*zip(table["columns"], headers)] + ([("avg", avg.get("header", "AVG"))] if avg else [])
        notes.append("Columns (the paper's headers): " + ", ".join(f"`{c}` = {h}" for c, h in pairs) + ".")
    if table.get("note"):
        notes.append(" ".join(str(table["note"]).split()))
    for marker, meaning in (table.get("markers") or {}).items():
        notes.append(f"{marker}: {meaning}.")
    for row, note in (table.get("row_notes") or {}).items():
        notes.append(f"{row}: {note}.")
    for row, gain in (table.get("gains") or {}).items():
        notes.append(f"The paper prints {row}'s AVG with its gain over {gain['over']}: {gain['avg']:+.1f}.")
    if avg:
        if avg.get("how") == "overall":
            notes.append(f"avg: the paper's AVG is the accuracy over all items (ours: `{avg['equals']}`), "
                         "not the mean of the columns.")
        else:
            notes.append("avg: the mean of the columns (the paper's AVG; ours only when we measured every one).")
    not_mean = avg.get("not_mean") or {}
    if not_mean:
        notes.append(f"{NOT_MEAN} The paper's AVG, not the plain mean of the row's printed values: "
                     + "; ".join(f"{row}: {why}" for row, why in not_mean.items()) + ".")
    fewer = [row for row in table["rows"] if avg and _averaged_fewer(table, row)]
    if fewer:
        notes.append(f"{FEWER} Averages only the columns the paper reports for the row (— left out): "
                     + ", ".join(fewer) + ".")
    if lacking:
        notes.append(f"{NO_AVG} No AVG of ours: we did not measure every column it averages (missing: "
                     + "; ".join(lacking) + ").")
    return notes


def _run_table(metrics: dict) -> str:
    """One line per benchmark (and per scoring protocol, when the metrics name any)."""
    views = protocol_views(metrics)
    named = views[0][0] is not None
    lines = ["| benchmark | n | accuracy % | 95 % CI | unparseable | judge failures | generation failures "
             "| bad images | BERTScore | MICS-Score |" + (" protocol |" if named else ""),
             "|---" * (10 + named) + "|"]
    for benchmark in metrics:
        for protocol, view in views:
            m = view.get(benchmark)
            if not _is_benchmark(m):
                continue
            ci = "–" if m.get("ci_low") is None else f"{100 * m['ci_low']:.1f}–{100 * m['ci_high']:.1f}"
            lines.append(f"| {benchmark} | {m.get('n', '–')} | {_cell(_pct(m.get('accuracy')))} | {ci} "
                         f"| {m.get('unparseable', '–')} | {m.get('judge_failures', '–')} "
                         f"| {m.get('generation_failures', '–')} | {m.get('bad_images', 0)} "
                         f"| {_cell(_pct((m.get('bertscore') or {}).get('mean')))} "
                         f"| {_cell(_pct((m.get('mics_score') or {}).get('mean')))} |"
                         + (f" {protocol} |" if named else ""))
    return "\n".join(lines)


def _pct(value: float | None) -> float | None:
    return None if value is None else 100.0 * value


def _cell(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"
