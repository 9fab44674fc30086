"""Reading one arm summary (pipeline/summary.json): labels, settings and measured values.

Missing pieces are normal (an arm without eval, a QC stage skipped), so every accessor returns None
or an empty dict rather than raising.
"""

from __future__ import annotations

from chiron.eval.report import metric_entry, metric_percent, protocol_views


def metrics(arm: dict) -> dict:
    return arm.get("metrics") or {}


def base_metrics(arm: dict) -> dict:
    """The untrained base model's metrics on the same benchmarks ({} when the arm has none)."""
    return arm.get("base_metrics") or {}


def stage_summary(arm: dict, name: str) -> dict:
    """A stage's result as the pipeline stored it (`stages.<name>.summary`), {} when the stage did not
    run or its result is not a dict (train's is a list: `train_stages`)."""
    found = ((arm.get("stages") or {}).get(name) or {}).get("summary")
    return found if isinstance(found, dict) else {}


def train_stages(arm: dict) -> list[dict]:
    """The train stage's result: one dict per curriculum stage (stage, samples, optimizer_steps,
    first_loss, final_loss, adapter, ...); [] when the arm did not train."""
    found = ((arm.get("stages") or {}).get("train") or {}).get("summary")
    return [s for s in found if isinstance(s, dict)] if isinstance(found, list) else []


def final_loss(arm: dict) -> float | None:
    """The final training loss of the last curriculum stage."""
    stages = train_stages(arm)
    return stages[-1].get("final_loss") if stages else None


def views(arm: dict) -> list[tuple[str | None, dict]]:
    """The arm's metrics per scoring protocol: [(protocol or None when none is named, metrics)]."""
    return protocol_views(metrics(arm))


def protocols(arm: dict) -> list[str]:
    """The scoring protocols the arm's metrics name (empty when they name none)."""
    return [p for p, _ in views(arm) if p is not None]


def settings(arm: dict) -> dict:
    return arm.get("settings") or {}


def percent(arm: dict, column: str) -> float | None:
    """A paper column (`bench`, `bench/subject`, `bench:metric`) of this arm, in percent."""
    return metric_percent(metrics(arm), column)


def entry(arm: dict, column: str) -> dict | None:
    """The metrics.json entry behind a column (for its n and interval)."""
    return metric_entry(metrics(arm), column) or None


def method(arm: dict) -> str:
    """Where MMRP Part 3 reasoning came from; a null method means the mix has none (Table 3 row 1)."""
    return settings(arm).get("method") or "none"


def benchmarks(arms: list[dict]) -> list[str]:
    """Every benchmark measured by some arm, in first-seen order."""
    seen: dict[str, None] = {}
    for arm in arms:
        seen.update(dict.fromkeys(metrics(arm)))
    return list(seen)


def labels(arms: list[dict]) -> list[str]:
    """One readable, unique label per arm: the arm name, prefixed by its experiment (or group)
    when the arms come from more than one sweep; a run without overrides ("default") is called
    by its experiment (chiron_o1_8b)."""
    base = [_own_name(arm) for arm in arms]
    groups = {arm.get("group") for arm in arms}
    if len(groups) > 1:
        by_group = {arm.get("group"): arm.get("experiment") for arm in arms}
        # The experiment name is shorter; it only works when each sweep ran a different experiment.
        names_unique = len(set(by_group.values())) == len(by_group) and None not in by_group.values()
        prefix = [(arm.get("experiment") if names_unique else arm.get("group")) or "run" for arm in arms]
        base = [b if b == p else f"{p}: {b}" for p, b in zip(prefix, base)]
    counts: dict[str, int] = {}
    out = []
    for label in base:
        counts[label] = counts.get(label, 0) + 1
        out.append(label if counts[label] == 1 else f"{label} #{counts[label]}")
    return out


def _own_name(arm: dict) -> str:
    name = str(arm.get("arm") or "default")
    return str(arm.get("experiment") or name) if name == "default" else name


def is_demo_scale(arms: list[dict]) -> bool:
    return any(settings(a).get("model") == "tiny" or settings(a).get("data_mix") == "demo" for a in arms)
