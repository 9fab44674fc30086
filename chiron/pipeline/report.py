"""One pipeline run's own report (pipeline/report.md) and the settings that place it in the
paper's ablations (read by the experiment reports under experiments/)."""

from __future__ import annotations

import os
from typing import Any

from omegaconf import DictConfig

from chiron.data_mix.plan import plan_from_config
from chiron.eval.runner import PREDICTIONS
from chiron.mmrp import part3
from chiron.pipeline.stages import STAGES
from chiron.qc.job import FIGURE_PNG, TRENDS_JSON
from chiron.reports import arms as A
from chiron.reports.tables import DASH, accuracy_text, cell, difference, interval, loss_text, md_table, signed
from chiron.search.job import judge_spec, model_specs
from chiron.search.rule_judge import is_rule_judge
from chiron.search.runner import RECORDS
from chiron.vqa_sets import VQA_SETS


def pipeline_settings(cfg: DictConfig) -> dict[str, Any]:
    """The arm's position on every ablation axis: Part 3 method (None: no reasoning data), public
    VQA sets in the mix, QC, curriculum, mentors, model."""
    sources = set(plan_from_config(cfg.data_mix).sources())
    return {"method": str(cfg.search.name) if part3.SOURCE in sources else None,
            "vqa": bool(sources & set(VQA_SETS)),
            "qc": bool(cfg.qc.enabled),
            "curriculum": str(cfg.curriculum.name),
            "curriculum_stages": [str(s) for s in cfg.curriculum.stages],
            "mentors": [spec.name for spec in model_specs(cfg.mentors)],
            "judge": "rules" if is_rule_judge(cfg.judge) else judge_spec(cfg.judge).name,
            "model": str(cfg.model.name),
            "data_mix": str(cfg.data_mix.name)}


def run_report_markdown(summary: dict) -> str:
    from chiron.eval.report import comparison_markdown, protocols_markdown

    lines = [f"# Pipeline run `{summary['arm']}`", "", *what_you_ran(summary), "", "## Details", "",
             f"Experiment: {summary['experiment'] or '(none)'}; W&B group: `{summary['group']}`; "
             f"wall time {summary['wall_s']:.0f} s.", "",
             "Settings: " + ", ".join(f"{k}={v}" for k, v in summary["settings"].items()), "",
             "| stage | key | computed or reused | wall s (when computed) | folder |", "|---|---|---|---|---|"]
    for name, stage in summary["stages"].items():
        lines.append(f"| {name} | `{stage['key']}` | {'reused' if stage['reused'] else 'computed'} | "
                     f"{stage['wall_s']:.1f} | {stage['folder']} |")
    lines += qc_markdown(summary) + loss_markdown(summary) + base_markdown(summary)
    metrics = summary.get("metrics")
    if metrics:  # the comparison opens with this run's n, accuracy and interval per benchmark
        lines += ["", comparison_markdown(metrics, f"{summary['settings']['model']} ({summary['arm']})"),
                  "", protocols_markdown(metrics)]
    return "\n".join(lines) + "\n"


# ---- the opening section: what ran, the counts that matter, where the files are, what next ---------


def what_you_ran(summary: dict) -> list[str]:
    """About a dozen lines a newcomer reads first. A run stopped early (pipeline.last) or an older
    summary lacks stages and keys: each line is left out rather than guessed."""
    stages = summary.get("stages") or {}
    done = " → ".join(f"{name} ({'reused' if s.get('reused') else 'computed'})" for name, s in stages.items())
    skipped = [name for name in STAGES if name not in stages]
    lines = ["## What you just ran", "",
             f"- Stages, in order: {done or 'none'}." + (f" Not run: {', '.join(skipped)}." if skipped else "")]
    lines += [f"- {line}" for line in _count_lines(summary) if line]
    files = _file_lines(summary)
    if files:
        lines += ["", "Where the files are:", *(f"- {line}" for line in files)]
    return lines + ["", _next_command(summary)]


def _count_lines(summary: dict) -> list[str | None]:
    part1, part2, part3 = (A.stage_summary(summary, name) for name in ("part1", "part2", "part3"))
    mmrp = [f"Part {k} {n} {what}" for k, n, what in ((1, part1.get("pairs"), "pairs"),
                                                      (2, part2.get("triplets"), "triplets"),
                                                      (3, part3.get("pairs"), "pairs")) if n is not None]
    search = A.stage_summary(summary, "search")
    found = []
    if search:
        method = (summary.get("settings") or {}).get("method") or "search"
        failed = search.get("cases_failed", "?")
        found.append(f"Search ({method}): {search.get('cases_ok', '?')} paths ok, {failed} "
                     f"case{'' if failed == 1 else 's'} failed")
    qc = (summary.get("trends") or {}).get("qc") or {}
    found += [f"QC ({'on' if qc.get('enabled') else 'off'}) kept {q.get('kept', '?')} of {q.get('n', '?')} "
              f"{method} paths" for method, q in (qc.get("inputs") or {}).items()]
    mix = A.stage_summary(summary, "mix").get("stages") or {}
    train = A.train_stages(summary)
    last = train[-1] if train else {}
    return [("MMRP data: " + ", ".join(mmrp) + ".") if mmrp else None,
            ("; ".join(found) + ".") if found else None,
            ("Mix, samples per curriculum stage: " + ", ".join(f"{name} {stage.get('total', '?')}"
                                                             for name, stage in mix.items()) + ".") if mix else None,
            (f"Training (LoRA): {' → '.join(str(s.get('stage', '?')) for s in train)}; final loss "
             f"{loss_text(last.get('final_loss'))} after {last.get('stage', '?')}.") if train else None,
            *_eval_lines(summary)]


def _eval_lines(summary: dict) -> list[str]:
    metrics, base = A.metrics(summary), A.base_metrics(summary)
    lines = []
    for benchmark, entry in metrics.items():
        if isinstance(entry, dict) and "accuracy" in entry:
            line = f"Eval, {benchmark}: {accuracy_text(entry)}"
            if isinstance(base.get(benchmark), dict):
                line += f"; untrained base model: {accuracy_text(base[benchmark])}"
            lines.append(line + ".")
    if _rule_judged(summary) and (metrics or base):
        # judge=rules (conf/judge/rules.yaml): an accuracy of 0 on open answers is the rule, not a bug.
        lines.append("Judge: the verdicts come from the rule-based exact-match judge the demo uses, not a model: "
                     "an open answer that is not an exact match of the gold answer counts as wrong (unless "
                     "`judge.lenience_seed`'s fixed stand-in rule accepts it).")
    return lines


def _rule_judged(summary: dict) -> bool:
    """settings.judge names the rule: "rules", or the rule's own description ("rule-based ...")."""
    judge = str((summary.get("settings") or {}).get("judge") or "")
    return judge == "rules" or judge.startswith("rule-based")


def _file_lines(summary: dict) -> list[str]:
    stages = summary.get("stages") or {}

    def at(name: str, *parts: str) -> str | None:
        folder = (stages.get(name) or {}).get("folder")
        return os.path.join(folder, *parts) if folder else None

    lines = []
    if at("search"):
        lines.append(f"search records: `{at('search', 'search', RECORDS)}`")
    if at("qc"):
        plot = at("qc", "qc", FIGURE_PNG)
        lines.append(f"QC trends: `{at('qc', 'qc', TRENDS_JSON)}`, plotted in [{FIGURE_PNG}]({plot})")
    if at("mix"):
        files = A.stage_summary(summary, "mix").get("files") or {}
        names = [((f.get("ours") or {}).get("data") or f"{stage}.jsonl") for stage, f in files.items()
                 if isinstance(f, dict)]
        lines.append(f"mix files: `{at('mix', 'mix')}`" + (f" ({', '.join(names)}, manifest.json)" if names else ""))
    adapters = [s["adapter"] for s in A.train_stages(summary) if s.get("adapter")]
    if adapters:
        lines.append(f"adapters (one per curriculum stage; the last is the trained model): `{adapters[-1]}`")
    if at("eval"):
        benches = [b for b, entry in A.metrics(summary).items() if isinstance(entry, dict)]
        bench = benches[0] if len(benches) == 1 else "<benchmark>"
        lines.append(f"eval predictions: `{at('eval', 'eval', bench, PREDICTIONS)}`; metrics: "
                     f"`{at('eval', 'eval', 'metrics.json')}`")
    if at("base_eval"):
        lines.append(f"untrained base model's predictions and metrics: `{at('base_eval', 'eval')}`")
    return lines


def _next_command(summary: dict) -> str:
    from chiron.reports.registry import REPORTS

    experiment = summary.get("experiment")
    reports = [name for name, spec in REPORTS.items() if experiment and experiment in spec.experiments]
    if reports:
        return (f"Next: when every arm of the sweep has finished, `python experiments/{reports[0]}/report.py` "
                "puts them side by side.")
    return ("Next: `python run.py +experiment=demo -m` (QC on/off x two curricula), then "
            "`python experiments/demo/report.py` to compare the arms.")


# ---- the sections after the stage table ------------------------------------------------------------


def qc_markdown(summary: dict) -> list[str]:
    """Per method: why each path passed or failed QC (one reason per path, kept ones included), most
    frequent first, under kept/total."""
    qc = (summary.get("trends") or {}).get("qc") or {}
    lines = []
    for method, q in (qc.get("inputs") or {}).items():
        reasons = sorted((q.get("reasons") or {}).items(), key=lambda kv: (-kv[1], kv[0]))
        lines += ["", (f"QC ({'on' if qc.get('enabled') else 'off'}) on {method} paths: {q.get('kept', '?')} "
                       f"of {q.get('n', '?')} kept. One reason per path, kept ones included:"), ""]
        lines.append(md_table(["reason", "n"], reasons) if reasons else "(no reasons recorded)")
    return lines


def loss_markdown(summary: dict) -> list[str]:
    """Training loss per curriculum stage: mean over its first optimizer steps, and its last."""
    train = A.train_stages(summary)
    if not train:
        return []
    rows = [[s.get("stage", DASH), s.get("samples", DASH), s.get("optimizer_steps", DASH),
             loss_text(s.get("first_loss")), loss_text(s.get("final_loss"))] for s in train]
    return ["", "## Training loss per stage", "",
            md_table(["stage", "samples", "optimizer steps", "first loss", "final loss"], rows)]


def base_markdown(summary: dict) -> list[str]:
    """The trained adapter beside the untrained base model on each benchmark both evaluated; nothing
    when the run did not evaluate the base model."""
    trained, base = A.metrics(summary), A.base_metrics(summary)
    rows = []
    for benchmark, entry in trained.items():
        other = base.get(benchmark)
        if not (isinstance(entry, dict) and isinstance(other, dict)):
            continue
        a, b = (None if m.get("accuracy") is None else 100 * m["accuracy"] for m in (entry, other))
        rows.append([benchmark, entry.get("n", DASH), cell(a), interval(entry), other.get("n", DASH), cell(b),
                     interval(other), signed(difference(a, b))])
    if not rows:
        return []
    header = ["benchmark", "n", "trained accuracy %", "95 % CI", "base n", "base accuracy %", "95 % CI",
              "trained − base (points)"]
    return ["", "## Trained adapter vs untrained base", "", md_table(header, rows), "",
            "Same benchmarks, same scoring; a difference inside both intervals is not evidence the training helped."]
