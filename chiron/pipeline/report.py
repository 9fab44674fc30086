"""One pipeline run's own report (pipeline/report.md) and the settings that place it in the
paper's ablations (read by the experiment reports under experiments/)."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig

from chiron.data_mix.plan import plan_from_config
from chiron.mmrp import part3
from chiron.search.job import model_specs
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
            "model": str(cfg.model.name),
            "data_mix": str(cfg.data_mix.name)}


def run_report_markdown(summary: dict) -> str:
    from chiron.eval.report import comparison_markdown, protocols_markdown

    lines = [f"# Pipeline run `{summary['arm']}`", "",
             f"Experiment: {summary['experiment'] or '(none)'}; W&B group: `{summary['group']}`; "
             f"wall time {summary['wall_s']:.0f} s.", "",
             "Settings: " + ", ".join(f"{k}={v}" for k, v in summary["settings"].items()), "",
             "| stage | key | computed or reused | wall s (when computed) | folder |", "|---|---|---|---|---|"]
    for name, stage in summary["stages"].items():
        lines.append(f"| {name} | `{stage['key']}` | {'reused' if stage['reused'] else 'computed'} | "
                     f"{stage['wall_s']:.1f} | {stage['folder']} |")
    search = (summary["stages"].get("search") or {}).get("summary") or {}
    if search:
        lines += ["", f"Search: {search.get('cases_ok')} paths, {search.get('cases_failed')} failed cases."]
    qc = ((summary.get("trends") or {}).get("qc") or {})
    for method, counts in (qc.get("inputs") or {}).items():
        lines.append(f"QC ({'on' if qc.get('enabled') else 'off'}) on {method} paths: {counts['kept']} of "
                     f"{counts['n']} pass ({counts['reasons']}).")
    metrics = summary.get("metrics")
    if metrics:  # the comparison opens with this run's n, accuracy and interval per benchmark
        lines += ["", comparison_markdown(metrics, f"{summary['settings']['model']} ({summary['arm']})"),
                  "", protocols_markdown(metrics)]
    return "\n".join(lines) + "\n"
