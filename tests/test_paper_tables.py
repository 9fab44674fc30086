"""chiron/eval/paper_results.yaml against a transcription of the paper's Tables 1, 2 and 5 kept here,
typed from the paper's text independently of the YAML; and the reports that show those tables whole.

The transcription keeps the paper's rows, order, group headers and "—" as printed, with two changes:
citation numbers ("Gemini-1.5-Pro [49]") are left out, and "GTP-4o", the paper's typo, reads GPT-4o.
"""

import copy
from pathlib import Path

import pytest

from chiron.eval.report import comparison_markdown, our_average, paper_results, protocol_views
from chiron.reports.paper import table1, table2, table5

# Table 1 (main results on medical VQA benchmarks). `| *name* |` lines are the paper's group headers;
# `| (none) |` marks where the text prints no header (the InternVL3 / Chiron-o1 block).
TABLE1 = """
| Methods | VQA-RAD | SLAKE | PathVQA | PMC-VQA | MMMU(H&M) | AVG |
| *Close-Source SOTA* |
| Gemini-1.5-Pro | 60.3 | 72.6 | 70.3 | 52.3 | 47.9 | 60.7 |
| Gemini-2.5-Pro | 71.3 | 80.5 | 73.9 | 61.1 | 57.1 | 68.8 |
| GPT-4o-mini | 55.8 | 50.4 | 48.7 | 39.6 | — | 48.6 |
| GPT-4o | 54.2 | 50.1 | 59.2 | 40.8 | — | 52.1 |
| *Open-Source SOTA* |
| LLaVA-v1.5-7B | 54.2 | 59.4 | 54.1 | 36.4 | 38.2 | 48.5 |
| LLaVA-v1.6-13B | 55.8 | 58.9 | 51.9 | 36.6 | 39.3 | 48.5 |
| LLaVA-v1.6-34B | 58.6 | 67.3 | 59.1 | 44.4 | 48.8 | 55.6 |
| Yi-VL-34B | 53.0 | 58.9 | 47.3 | 39.5 | 41.5 | 48.1 |
| Qwen-VL-Chat | 47.0 | 56.0 | 55.1 | 36.6 | 32.7 | 45.5 |
| *Medical MLLM* |
| LLaVA-Med | 51.4 | 48.6 | 56.8 | 24.7 | 36.9 | 43.7 |
| Med-Flamingo | 45.4 | 43.5 | 54.7 | 23.3 | 28.3 | 39.1 |
| RadFM | 50.6 | 34.6 | 38.7 | 25.9 | 27.0 | 35.4 |
| GMAI-VL | 66.3 | 72.9 | — | 54.3 | 51.3 | 61.2 |
| HuatuoGPT-Vision-7B | 63.8 | 74.5 | 59.9 | 52.7 | 49.1 | 60.0 |
| HuatuoGPT-Vision-34B | 68.1 | 76.9 | 63.5 | 58.2 | 54.4 | 64.2 |
| *Reasoning Medical Model* |
| Med-R1 | 55.9 | 55.1 | 53.3 | 45.8 | 32.7 | 48.6 |
| MedVLM-R1 | 61.4 | 65.9 | 55.2 | 44.8 | 35.5 | 52.6 |
| ChestX-Reasoner | 70.9 | 70.0 | 66.7 | 38.5 | 49.5 | 59.1 |
| (none) |
| InternVL3-2B | 68.3 | 65.9 | 65.2 | 49.1 | 38.4 | 57.4 |
| Chiron-o1-2B | 75.4 | 85.3 | 70.3 | 54.3 | 42.1 | 65.5 |
| InternVL3-8B | 73.1 | 71.1 | 67.9 | 53.2 | 52.1 | 63.5 |
| Chiron-o1-8B | 76.8 | 83.2 | 74.0 | 57.5 | 54.6 | 69.2 |
"""

# Table 2 (medical reasoning benchmarks): no AVG column; * = pure text reasoning models.
TABLE2 = """
| Model | MMRP (Pure Text) ACC | MedXpertQA_MM (Reasoning) ACC | MedXpertQA_MM (Understanding) ACC | MMRP ACC | MMRP Bert-Score | MMRP MICS-Score |
| MedReason* | 79.2 | — | — | — | — | — |
| HuatuoGPT-o1* | 85.1 | — | — | — | — | — |
| Med-R1 | 72.7 | 20.1 | 20.8 | 28.1 | 83.4 | 22.5 |
| MedVLM-R1 | 77.5 | 21.7 | 20.0 | 31.2 | 83.5 | 23.5 |
| Chiron-o1-2B | 90.6 | 19.8 | 23.1 | 43.8 | 88.2 | 32.2 |
| Chiron-o1-8B | 92.1 | 23.3 | 25.1 | 58.4 | 90.4 | 49.4 |
"""

# Table 5 (the test set of MMMU(H&M) by category).
TABLE5 = """
| Model | BMS | CM | DLM | P | PH | AVG |
| Med-R1 | 38.1 | 32.7 | 27.8 | 29.1 | 33.7 | 32.7 |
| MedVLM-R1 | 39.6 | 36.4 | 29.0 | 33.9 | 35.6 | 35.5 |
| Chiron-o1-2B | 42.9 | 42.5 | 42.0 | 44.1 | 39.1 | 42.1 |
| Chiron-o1-8B | 55.7 | 54.9 | 48.1 | 56.2 | 54.5 | 54.6 |
"""

TRANSCRIBED = {"table1": TABLE1, "table2": TABLE2, "table5": TABLE5}
ROW_COUNTS = {"table1": 22, "table2": 6, "table5": 4}


def parse(text: str) -> dict:
    """{headers, rows: {name: [values]}, avg: {name: value} or None, groups: [(header or None, names)]}."""
    lines = [[c.strip() for c in line.strip().strip("|").split("|")] for line in text.strip().splitlines()]
    headers, has_avg = lines[0][1:], lines[0][-1] == "AVG"
    rows, avg, groups = {}, {}, []
    for cells in lines[1:]:
        if len(cells) == 1:  # a group header line
            groups.append((None if cells[0] == "(none)" else cells[0].strip("*"), []))
            continue
        values = [None if c == "—" else float(c) for c in cells[1:]]
        assert len(values) == len(headers), cells
        rows[cells[0]] = values[:-1] if has_avg else values
        if has_avg:
            avg[cells[0]] = values[-1]
        if groups:
            groups[-1][1].append(cells[0])
    return {"headers": headers[:-1] if has_avg else headers, "rows": rows, "avg": avg if has_avg else None,
            "groups": groups}


def _mean(values) -> float:
    reported = [v for v in values if v is not None]
    return sum(reported) / len(reported)


def _mean_is(avg: float, values) -> bool:
    """The printed AVG is the mean of the row's printed values, to one decimal."""
    return abs(_mean(values) - avg) <= 0.05 + 1e-9


@pytest.mark.parametrize("key", sorted(TRANSCRIBED))
def test_yaml_holds_every_row_and_value_of_the_paper_table(key):
    paper, ours = parse(TRANSCRIBED[key]), paper_results()[key]
    assert len(paper["rows"]) == ROW_COUNTS[key]
    assert list(ours["rows"]) == list(paper["rows"])  # every row, the paper's order, nothing added
    assert ours["rows"] == paper["rows"]  # every value, "—" as null
    assert list(ours["headers"]) == paper["headers"] and len(ours["columns"]) == len(paper["headers"])
    if paper["avg"] is None:
        assert "avg" not in ours
    else:
        assert ours["avg"]["header"] == "AVG" and ours["avg"]["values"] == paper["avg"]
        assert list(ours["avg"]["of"]) == list(ours["columns"])


def test_table1_groups_are_the_papers_headers():
    paper, ours = parse(TABLE1), paper_results()["table1"]
    assert [(g["name"] if g.get("printed", True) else None, g["rows"]) for g in ours["groups"]] == \
        [(name, rows) for name, rows in paper["groups"]]


def test_table2_marks_the_pure_text_models():
    table = paper_results()["table2"]
    assert table["markers"] == {"*": "pure text reasoning model"}
    starred = [name for name in table["rows"] if name.endswith("*")]
    assert starred == ["MedReason*", "HuatuoGPT-o1*"]
    # Pure text models report the pure-text column only.
    assert all(table["rows"][name][1:] == [None] * 5 for name in starred)


@pytest.mark.parametrize("key", ["table1", "table5"])
def test_avg_is_the_row_mean_except_where_the_yaml_says_it_is_not(key):
    """Each AVG is the mean of its row's printed values (to one decimal) unless `not_mean` lists the
    row, and every listed row really differs: the list is exact."""
    paper, avg = parse(TRANSCRIBED[key]), paper_results()[key]["avg"]
    not_mean = set(avg.get("not_mean") or {})
    assert not_mean <= set(paper["rows"])
    for name, values in paper["rows"].items():
        assert _mean_is(paper["avg"][name], values) == (name not in not_mean), (name, _mean(values))
    expected = {"table1": {"GPT-4o", "Yi-VL-34B", "Med-Flamingo"},
                "table5": {"Med-R1", "MedVLM-R1", "Chiron-o1-8B"}}
    assert not_mean == expected[key]


def test_table5_avg_is_the_table1_mmmu_accuracy():
    """Table 5's AVG is each model's overall MMMU(H&M) accuracy, as in Table 1, hence `how: overall`."""
    t1, t5 = parse(TABLE1), parse(TABLE5)
    assert all(t5["avg"][name] == t1["rows"][name][4] for name in t5["rows"])
    avg = paper_results()["table5"]["avg"]
    assert avg["how"] == "overall" and avg["equals"] == "mmmu_hm"
    assert paper_results()["table1"]["avg"]["how"] == "mean"


def test_the_papers_prose_agrees_with_the_transcription():
    """Differences the paper's text states, computed from the transcribed tables."""
    t1, t2 = parse(TABLE1), parse(TABLE2)
    a = t1["avg"]
    # "+8.1" and "+5.7" beside Chiron-o1's AVG; the same gains in section 4.2.
    assert round(a["Chiron-o1-2B"] - a["InternVL3-2B"], 1) == 8.1
    assert round(a["Chiron-o1-8B"] - a["InternVL3-8B"], 1) == 5.7
    gains = paper_results()["table1"]["gains"]
    assert gains == {"Chiron-o1-2B": {"over": "InternVL3-2B", "avg": 8.1},
                     "Chiron-o1-8B": {"over": "InternVL3-8B", "avg": 5.7}}
    # "outperforms them [Med-R1, MedVLM-R1] ... by an average of 20.6% and 16.6%"; "+5%" over Huatuo-34B.
    assert round(a["Chiron-o1-8B"] - a["Med-R1"], 1) == 20.6
    assert round(a["Chiron-o1-8B"] - a["MedVLM-R1"], 1) == 16.6
    assert round(a["Chiron-o1-8B"] - a["HuatuoGPT-Vision-34B"], 1) == 5.0
    r = t2["rows"]
    # "surpasses MedReason and HuatuoGPT-o1 by 12.9% and 7%" (pure text)
    assert round(r["Chiron-o1-8B"][0] - r["MedReason*"][0], 1) == 12.9
    assert round(r["Chiron-o1-8B"][0] - r["HuatuoGPT-o1*"][0], 1) == 7.0
    # "outperforms MedVLM-R1 ... by 27.2% in accuracy and 6.9% in semantic similarity"; "49.4%" MICS
    assert round(r["Chiron-o1-8B"][3] - r["MedVLM-R1"][3], 1) == 27.2
    assert round(r["Chiron-o1-8B"][4] - r["MedVLM-R1"][4], 1) == 6.9
    assert r["Chiron-o1-8B"][5] == 49.4
    # "outperforms Med-R1 and MedVLM-R1 on MedXpertQA_MM by an average of 3.75% and 3.35%"
    for other, gap in [("Med-R1", 3.75), ("MedVLM-R1", 3.35)]:
        assert round(sum(r["Chiron-o1-8B"][k] - r[other][k] for k in (1, 2)) / 2, 2) == gap


# ---- the reports show the whole tables -------------------------------------------------------------


def bench(correct, n, **extra):
    acc = correct / n
    return {"n": n, "accuracy": acc, "ci_low": max(0.0, acc - 0.2), "ci_high": min(1.0, acc + 0.2),
            "unparseable": 0, "judge_failures": 0, "generation_failures": 0, **extra}


SUBJECTS = {s: bench(k, 10) for s, k in [("Basic_Medical_Science", 6), ("Clinical_Medicine", 5),
                                         ("Diagnostics_and_Laboratory_Medicine", 4), ("Pharmacy", 7),
                                         ("Public_Health", 5)]}


def full_metrics():
    """Every column of Tables 1, 2 and 5 measured."""
    return {"vqa_rad": bench(15, 20), "slake": bench(16, 20), "path_vqa": bench(14, 20), "pmc_vqa": bench(10, 20),
            "mmmu_hm": bench(27, 50, by_subject=copy.deepcopy(SUBJECTS)),
            "medxpertqa_mm": bench(5, 20, by_subject={"Reasoning": bench(2, 10), "Understanding": bench(3, 10)}),
            "mmrp_text": bench(18, 20),
            "mmrp_mm": bench(9, 20, bertscore={"n": 20, "mean": 0.881}, mics_score={"n": 20, "mean": 0.3})}


def section(text: str, title: str) -> str:
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start:] if end < 0 else text[start:end]


def paper_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if " (paper) |" in line]


def test_comparison_shows_every_row_and_our_avg():
    text = comparison_markdown(full_metrics(), "tiny")
    for key, title in [("table1", "Table 1"), ("table2", "Table 2"), ("table5", "Table 5")]:
        part = section(text, title)
        assert [line.split(" (paper)")[0].lstrip("| ") for line in paper_lines(part)] == \
            list(paper_results()[key]["rows"])
    t1 = section(text, "Table 1")
    assert "| *Close-Source SOTA* | | | | | | |" in t1
    assert "| GPT-4o (paper) | 54.2 | 50.1 | 59.2 | 40.8 | – | 52.1ᵃᵇ |" in t1  # not the mean; 4 columns
    assert "| GMAI-VL (paper) | 66.3 | 72.9 | – | 54.3 | 51.3 | 61.2ᵇ |" in t1
    assert "| Chiron-o1-8B (paper) | 76.8 | 83.2 | 74.0 | 57.5 | 54.6 | 69.2 |" in t1
    assert "| **tiny (ours)** | 75.0 | 80.0 | 70.0 | 50.0 | 54.0 | 65.8 |" in t1  # mean of five
    assert "GTP-4o" in t1 and "ᶜ" not in t1
    t2 = section(text, "Table 2")
    assert "| MedReason* (paper) | 79.2 | – | – | – | – | – |" in t2 and "| avg |" not in t2
    assert "*: pure text reasoning model." in t2
    t5 = section(text, "Table 5")
    assert "| Chiron-o1-8B (paper) | 55.7 | 54.9 | 48.1 | 56.2 | 54.5 | 54.6ᵃ |" in t5
    # Our Table 5 AVG is the overall mmmu_hm accuracy, as the paper's is, not the subjects' mean (54.0).
    metrics = full_metrics()
    metrics["mmmu_hm"]["accuracy"] = 0.56
    t5 = section(comparison_markdown(metrics, "tiny"), "Table 5")
    assert "| **tiny (ours)** | 60.0 | 50.0 | 40.0 | 70.0 | 50.0 | 56.0 |" in t5


def test_our_avg_is_blank_with_a_footnote_unless_every_column_is_measured():
    metrics = full_metrics()
    del metrics["path_vqa"]
    del metrics["mmmu_hm"]["by_subject"]["Pharmacy"]
    assert our_average(paper_results()["table1"], metrics) == (None, ["path_vqa"])
    text = comparison_markdown(metrics, "tiny")
    assert "| **tiny (ours)** | 75.0 | 80.0 | – | 50.0 | 54.0 | –ᶜ |" in text
    assert "(missing: tiny (ours): path_vqa)" in text
    assert "| **tiny (ours)** | 60.0 | 50.0 | 40.0 | – | 50.0 | –ᶜ |" in text
    assert "(missing: tiny (ours): mmmu_hm/Pharmacy)" in text


def test_our_rows_name_the_scoring_protocol():
    metrics = full_metrics()
    for entry in metrics.values():
        entry["protocol"] = "chiron"
    text = comparison_markdown(metrics, "tiny")
    assert "| **tiny (ours, protocol: chiron)** | 75.0 | 80.0 | 70.0 | 50.0 | 54.0 | 65.8 |" in text
    assert "(ours)" not in text
    assert "| vqa_rad | 20 | 75.0 | 55.0–95.0 | 0 | 0 | 0 | 0 | – | – | chiron |" in text


def test_several_protocols_give_one_row_each():
    """The shape the eval writes with protocols: the primary's numbers at the top level (`protocol`
    naming it) and every protocol's under `protocols`."""
    metrics = full_metrics()
    for entry in metrics.values():
        reference = {**copy.deepcopy(entry), "accuracy": entry["accuracy"] / 2, "protocol": "reference"}
        entry["protocol"] = "chiron"
        entry["protocols"] = {"chiron": copy.deepcopy(entry), "reference": reference}
    assert [p for p, _ in protocol_views(metrics)] == ["chiron", "reference"]
    text = comparison_markdown(metrics, "tiny")
    t1 = section(text, "Table 1")
    assert "| **tiny (ours, protocol: chiron)** | 75.0 | 80.0 | 70.0 | 50.0 | 54.0 | 65.8 |" in t1
    assert "| **tiny (ours, protocol: reference)** | 37.5 | 40.0 | 35.0 | 25.0 | 27.0 | 32.9 |" in t1
    run = section(text, "This run")
    assert "| vqa_rad | 20 | 75.0 |" in run and "| vqa_rad | 20 | 37.5 |" in run and run.count("| reference |") == 8


@pytest.mark.parametrize("odd", [
    {"protocols": ["chiron", "reference"]},  # a list, not {name: entry}
    {"protocols": {"chiron": 0.5}},  # numbers, not entries: ignored
    {"protocol": {"name": "chiron"}},  # a protocol described, not named
    {"protocol": None, "protocols": None},
])
def test_unknown_protocol_shapes_do_not_crash(odd):
    metrics = full_metrics()
    metrics["vqa_rad"].update(odd)
    metrics["note"] = "a top-level string"  # not a benchmark entry
    text = comparison_markdown(metrics, "tiny")
    assert "| Chiron-o1-8B (paper) | 76.8 |" in text and "| vqa_rad | 20 | 75.0 |" in text


def test_a_benchmark_without_a_protocol_beside_named_ones_counts_as_chiron():
    """Before there were protocols, every number was chiron's."""
    metrics = full_metrics()
    metrics["slake"]["protocol"] = "chiron"
    assert [p for p, _ in protocol_views(metrics)] == ["chiron"]
    text = comparison_markdown(metrics, "tiny")
    assert "| **tiny (ours, protocol: chiron)** | 75.0 | 80.0 | 70.0 | 50.0 | 54.0 | 65.8 |" in text


def _arm(metrics):
    return {"experiment": "chiron_o1_8b", "arm": "default", "group": "chiron_o1_8b-2026", "overrides": [],
            "settings": {"model": "internvl3_8b", "data_mix": "paper"}, "stages": {}, "metrics": metrics,
            "trends": None, "wall_s": 1.0}


@pytest.mark.parametrize("render,key", [(table1, "table1"), (table2, "table2"), (table5, "table5")])
def test_experiment_reports_show_the_whole_table(render, key, tmp_path):
    metrics = full_metrics()
    for entry in metrics.values():
        entry["protocol"] = "chiron"
        entry["protocols"] = {"chiron": copy.deepcopy(entry),
                              "reference": {**copy.deepcopy(entry), "protocol": "reference"}}
    paths = render([_arm(metrics)], str(tmp_path))
    text = Path(paths[0]).read_text()
    table = paper_results()[key]
    assert len(paper_lines(text)) == len(table["rows"]) == ROW_COUNTS[key]
    assert "| **chiron_o1_8b (ours, protocol: chiron)** |" in text
    assert "| **chiron_o1_8b (ours, protocol: reference)** |" in text
    assert "Scoring protocol(s) of our numbers: chiron, reference (every arm)." in text
    assert "| 95 % CI | protocol |" in text  # the measurement details name the protocol too
    assert "may leave items out of n" in text  # "every item counts" is said of chiron's numbers only
    header = next(line for line in text.splitlines() if line.startswith("| model |"))
    assert header.endswith("| avg |") == ("avg" in table)
