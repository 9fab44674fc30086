"""The evaluation's W&B run: metrics as summary values and a table of example items per benchmark."""

from __future__ import annotations

import os
import re

from chiron.utils.loggers import wandb_mode

COLUMNS = ["benchmark", "id", "subject", "question", "image", "reasoning", "answer", "gold", "verdict"]


def log_eval(settings: dict, run_name: str, config: dict, rows: dict[str, list[dict]], metrics: dict,
             examples: int, out_dir: str) -> None:
    import wandb

    save_dir = settings.get("save_dir") or out_dir
    os.makedirs(save_dir, exist_ok=True)
    run_id = re.sub(r"[^A-Za-z0-9_-]", "-", f"{run_name}-eval")[-128:]
    run = wandb.init(project=settings.get("project"), entity=settings.get("entity"), dir=save_dir,
                     mode=wandb_mode(settings.get("mode")), group=settings.get("group") or run_name,
                     job_type="eval", name=f"{run_name}-eval", id=run_id, resume="allow",
                     tags=list(settings.get("tags") or []), config=config)
    try:
        table = wandb.Table(columns=COLUMNS)
        for benchmark, benchmark_rows in rows.items():
            for row in benchmark_rows[:examples]:
                image = wandb.Image(row["images"][0]) if row.get("images") else None
                table.add_data(benchmark, row["id"], row.get("subject"), row["question"], image, row.get("reply"),
                               row.get("extracted"), row["gold"], row["status"])
        run.log({"eval/examples": table})
        for benchmark, m in metrics.items():
            run.summary[f"eval/{benchmark}/accuracy"] = m["accuracy"]
            run.summary[f"eval/{benchmark}/n"] = m["n"]
            run.summary[f"eval/{benchmark}/unparseable"] = m["unparseable"]
            for extra in ("bertscore", "mics_score"):
                if m.get(extra):
                    run.summary[f"eval/{benchmark}/{extra}"] = m[extra]["mean"]
    finally:
        run.finish()
