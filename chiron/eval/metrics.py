"""Accuracy and means with percentile-bootstrap confidence intervals, via torchmetrics.

Every number is a fraction (0.5, not 50). Benchmarks here are small (a few hundred items), so a
point accuracy alone overstates what a one- or two-point difference from the paper means; each
figure carries its 95 % interval.

The resampling is torchmetrics' BootStrapper with the "multinomial" strategy: one update with the
whole benchmark makes every copy of the metric see n items drawn with replacement, which is the
textbook bootstrap (the default "poisson" strategy only approximates it, and can hand a copy an
empty sample on a small benchmark). BootStrapper draws from torch's global RNG; we fork that RNG
and seed the fork, so a given seed always gives the same interval and the caller's RNG state is
left exactly as it was. The interval's ends are the (1 - level) / 2 and (1 + level) / 2 quantiles
of the bootstrapped values (raw values, quantiles taken here in float64).
"""

from __future__ import annotations

import functools
import threading
from typing import Sequence

import torch

# torchmetrics is imported inside the functions: its package import pulls in transformers and scipy
# (seconds), which modules that merely import this one (the report, the CLI) should not pay for.


def _check(num_bootstraps: int, level: float) -> None:
    if int(num_bootstraps) < 1:
        raise ValueError(f"num_bootstraps must be >= 1, got {num_bootstraps}")
    if not 0.0 < float(level) < 1.0:
        raise ValueError(f"level must be strictly between 0 and 1, got {level}")


# BootStrapper deep-copies its base metric once per resample, which costs far more than the
# resampling itself (about a second for 1000 copies here). One wrapper per resample count is kept
# and reset before each use; the lock keeps two threads from sharing it mid-computation.
_LOCK = threading.Lock()


@functools.lru_cache(maxsize=4)
def _bootstrapper(num_bootstraps: int):
    from torchmetrics.aggregation import MeanMetric
    from torchmetrics.wrappers import BootStrapper

    # MeanMetric serves accuracies too (the mean of 0/1 outcomes is the fraction right) and is the
    # lightest metric to copy. float64 so a mean of many items is not rounded to float32.
    return BootStrapper(MeanMetric(nan_strategy="error").set_dtype(torch.float64), num_bootstraps=num_bootstraps,
                        mean=False, std=False, raw=True, sampling_strategy="multinomial")


def _interval(values: torch.Tensor, num_bootstraps: int, level: float, seed: int) -> tuple[float, float]:
    """Percentile-bootstrap interval of the mean of `values` (float64, 1-D, non-empty)."""
    tail = (1.0 - float(level)) / 2.0
    with _LOCK, torch.random.fork_rng(devices=[]):  # CPU generator only: the sampler draws on the CPU
        torch.manual_seed(int(seed))
        boot = _bootstrapper(int(num_bootstraps))
        boot.reset()
        try:
            boot.update(values)
            raw = boot.compute()["raw"].to(torch.float64)
        finally:
            boot.reset()  # leave no item data behind in the cached copies
    q = torch.tensor([tail, 1.0 - tail], dtype=torch.float64)
    low, high = torch.quantile(raw, q).tolist()
    # Resampled means cannot leave [min, max]; rounding in the running sums can nudge an end a
    # hair outside (a constant score's interval would not quite equal the constant).
    return max(low, float(values.min())), min(high, float(values.max()))


def accuracy_ci(correct: Sequence[bool], *, num_bootstraps: int = 1000, level: float = 0.95,
                seed: int = 0) -> dict:
    """{"n", "accuracy", "ci_low", "ci_high"}; accuracy and interval are None when n is 0."""
    _check(num_bootstraps, level)
    flags = torch.tensor([bool(c) for c in correct], dtype=torch.long)
    n = int(flags.numel())
    if n == 0:
        return {"n": 0, "accuracy": None, "ci_low": None, "ci_high": None}
    from torchmetrics.classification import BinaryAccuracy

    # Accuracy of "was it right" against an all-ones target is the fraction right.
    target = torch.ones_like(flags)
    metric = BinaryAccuracy(validate_args=False).set_dtype(torch.float64)
    metric.update(flags, target)
    accuracy = float(metric.compute())
    low, high = _interval(flags.to(torch.float64), num_bootstraps, level, seed)
    return {"n": n, "accuracy": accuracy, "ci_low": low, "ci_high": high}


def mean_ci(values: Sequence[float], *, num_bootstraps: int = 1000, level: float = 0.95, seed: int = 0) -> dict:
    """{"n", "mean", "ci_low", "ci_high"} of a per-item score (BERTScore, MICS-Score); None when n is 0.

    A NaN or infinite score is a bug upstream, so it raises rather than being averaged or skipped."""
    _check(num_bootstraps, level)
    data = torch.tensor([float(v) for v in values], dtype=torch.float64)
    n = int(data.numel())
    if n == 0:
        return {"n": 0, "mean": None, "ci_low": None, "ci_high": None}
    if not bool(torch.isfinite(data).all()):
        bad = [float(v) for v in data[~torch.isfinite(data)][:3]]
        raise ValueError(f"mean_ci: non-finite values {bad} among {n}")
    from torchmetrics.aggregation import MeanMetric

    metric = MeanMetric(nan_strategy="error").set_dtype(torch.float64)
    metric.update(data)
    mean = float(metric.compute())
    low, high = _interval(data, num_bootstraps, level, seed)
    return {"n": n, "mean": mean, "ci_low": low, "ci_high": high}


def grouped_accuracy(correct: Sequence[bool], groups: Sequence[str], *, num_bootstraps: int = 1000,
                     level: float = 0.95, seed: int = 0) -> dict[str, dict]:
    """accuracy_ci per group (e.g. MMMU subject), groups in sorted order; every item in exactly one."""
    correct, groups = list(correct), list(groups)
    if len(correct) != len(groups):
        raise ValueError(f"grouped_accuracy: {len(correct)} outcomes but {len(groups)} group labels")
    members: dict[str, list[bool]] = {}
    for flag, group in zip(correct, groups):
        members.setdefault(str(group), []).append(bool(flag))
    return {group: accuracy_ci(members[group], num_bootstraps=num_bootstraps, level=level, seed=seed)
            for group in sorted(members)}
