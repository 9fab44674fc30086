"""`task=qc_report`: Figure 4(a) trends and QC pass/flag counts for finished searches.

    python run.py task=qc_report qc=on qc_report.inputs.mics=RUN/search/records.jsonl \
        qc_report.inputs.vanilla=RUN2/search/reference.jsonl

(prefix a key with + where conf/config.yaml does not list it). Each input is a records.jsonl (our
format) or a reference.jsonl; the key names the method.
Writes qc/trends.json and qc/figure4_trends.png into this run's folder.
"""

from __future__ import annotations

import logging
import os

from omegaconf import DictConfig, OmegaConf

from chiron.qc.figure4 import plot_trend_summary, trend_summary
from chiron.qc.filter import qc_filter
from chiron.utils.jsonl import atomic_write_json, read_latest
from chiron.utils.paths import run_dir

log = logging.getLogger(__name__)

TRENDS_JSON, FIGURE_PNG = "trends.json", "figure4_trends.png"


def qc_rules(cfg: DictConfig) -> tuple[bool, dict]:
    """(enabled, passes_qc keyword arguments) from the `qc` config group (conf/qc/on|off.yaml)."""
    if "qc" not in cfg or cfg.qc is None:
        raise ValueError("no `qc` settings: compose the config group qc=on or qc=off (conf/qc/)")
    return bool(cfg.qc.enabled), {"full_score": float(cfg.qc.get("full_score", 1.0)),
                                  "keep_constant_full": bool(cfg.qc.get("keep_constant_full", True))}


def input_paths(cfg: DictConfig) -> dict[str, str]:
    section = cfg.get("qc_report")
    inputs = section.get("inputs") if section is not None else None
    inputs = OmegaConf.to_container(inputs, resolve=True) if OmegaConf.is_config(inputs) else inputs
    # A method mapped to null is simply not compared (conf/config.yaml lists vanilla: null).
    inputs = {m: p for m, p in inputs.items() if p is not None} if isinstance(inputs, dict) else inputs
    if not isinstance(inputs, dict) or not inputs:
        raise ValueError("task=qc_report: set qc_report.inputs, a mapping method -> records.jsonl or "
                         f"reference.jsonl (got {inputs!r})")
    for method, path in inputs.items():
        if not path or not os.path.isfile(str(path)):
            raise FileNotFoundError(f"qc_report.inputs.{method}: no file at {path!r}")
    return {str(m): str(p) for m, p in inputs.items()}


def run(cfg: DictConfig) -> dict:
    paths = input_paths(cfg)
    enabled, rules = qc_rules(cfg)
    records = {method: read_latest(path, "rid") for method, path in paths.items()}
    summary = trend_summary(records)
    summary["qc"] = {"enabled": enabled, **rules, "inputs": {}}
    for method, rows in records.items():
        kept, reasons = qc_filter(rows, enabled, **rules)
        summary["qc"]["inputs"][method] = {"path": os.path.abspath(paths[method]), "n": len(rows),
                                           "kept": len(kept), "flagged": len(rows) - len(kept),
                                           "reasons": dict(reasons.most_common())}
        if not rows:
            log.warning("qc_report: %s (%s) has no records", method, paths[method])
    out_dir = os.path.join(run_dir(cfg), "qc")
    atomic_write_json(os.path.join(out_dir, TRENDS_JSON), summary)
    plot_trend_summary(summary, os.path.join(out_dir, FIGURE_PNG))
    for method, q in summary["qc"]["inputs"].items():
        log.info("qc %s: %d records, %d kept, %d flagged %s", method, q["n"], q["kept"], q["flagged"],
                 q["reasons"])
    log.info("qc report written to %s (%s, %s)", out_dir, TRENDS_JSON, FIGURE_PNG)
    return summary
