"""The evaluation's W&B run: metrics as summary values and a table of example items per benchmark."""

from __future__ import annotations

import os
import re

from chiron.utils.loggers import start_wandb_run, wandb_mode

COLUMNS = ["benchmark", "id", "subject", "question", "image", "reasoning", "answer", "gold", "verdict"]


def log_eval(settings: dict, run_name: str, config: dict, rows: dict[str, list[dict]], metrics: dict,
             examples: int, out_dir: str) -> None:
    import wandb

    save_dir = settings.get("save_dir") or out_dir
    os.makedirs(save_dir, exist_ok=True)
    run_id = re.sub(r"[^A-Za-z0-9_-]", "-", f"{run_name}-eval")[-128:]
    run = start_wandb_run(project=settings.get("project"), entity=settings.get("entity"), dir=save_dir,
                          mode=wandb_mode(settings.get("mode")), group=settings.get("group") or run_name,
                          job_type="eval", name=f"{run_name}-eval", id=run_id, resume="allow",
                          tags=list(settings.get("tags") or []), config=config)
    try:
        table = wandb.Table(columns=COLUMNS)
        for benchmark, benchmark_rows in rows.items():
            for row in benchmark_rows[:examples]:
                image = wandb.Image(row["images"][0]) if row.get("images") else None
                table.add_data(benchmark, row["id"], row.get("subject"), row["question"], image, row.get("reply"),
                               row.get("extracted"), row["gold"], _verdict(row))
        run.log({"eval/examples": table})
        for benchmark, m in metrics.items():
            # eval/<benchmark>/... is the primary protocol's; eval/<benchmark>/<protocol>/... each protocol's
            _summarize(run, f"eval/{benchmark}", m)
            run.summary[f"eval/{benchmark}/protocol"] = m.get("protocol", "chiron")
            for protocol, per in (m.get("protocols") or {}).items():
                _summarize(run, f"eval/{benchmark}/{protocol}", per)
    finally:
        run.finish()


def _summarize(run, prefix: str, m: dict) -> None:
    run.summary[f"{prefix}/accuracy"] = m["accuracy"]
    run.summary[f"{prefix}/n"] = m["n"]
    run.summary[f"{prefix}/unparseable"] = m["unparseable"]
    run.summary[f"{prefix}/skipped"] = m.get("skipped", 0)
    for extra in ("bertscore", "bertscore_reasoning", "mics_score"):
        if m.get(extra):
            run.summary[f"{prefix}/{extra}"] = m[extra]["mean"]


def _verdict(row: dict) -> str:
    """The primary protocol's status; with several protocols, each one's ("chiron: wrong; reference: skipped")."""
    scores = row.get("scores") or {}
    if len(scores) < 2:
        return row["status"]
    return "; ".join(f"{protocol}: {verdict.get('status')}" for protocol, verdict in scores.items())
