"""Accuracy / mean with bootstrap confidence intervals, and per-group accuracy."""

import math

import pytest
import torch

from chiron.eval.metrics import accuracy_ci, grouped_accuracy, mean_ci

# Checks that do not measure the interval's size use fewer resamples (the suite stays fast); one
# count for all of them, since each count builds its own set of metric copies once.
FEW = 200


def test_half_right_matches_the_normal_approximation():
    out = accuracy_ci([True] * 50 + [False] * 50)
    assert out["n"] == 100
    assert out["accuracy"] == pytest.approx(0.5)
    half = 1.96 * math.sqrt(0.5 * 0.5 / 100)  # ~0.098
    assert out["ci_low"] == pytest.approx(0.5 - half, abs=0.03)
    assert out["ci_high"] == pytest.approx(0.5 + half, abs=0.03)
    assert out["ci_low"] < out["accuracy"] < out["ci_high"]


def test_skewed_accuracy_interval():
    out = accuracy_ci([True] * 160 + [False] * 40)  # 0.8 of 200
    assert out["accuracy"] == pytest.approx(0.8)
    half = 1.96 * math.sqrt(0.8 * 0.2 / 200)
    assert out["ci_low"] == pytest.approx(0.8 - half, abs=0.03)
    assert out["ci_high"] == pytest.approx(0.8 + half, abs=0.03)


def test_accuracy_is_exact_fraction_and_fractions_not_percent():
    out = accuracy_ci([True, False, False], num_bootstraps=FEW)
    assert out["accuracy"] == pytest.approx(1 / 3)
    assert 0.0 <= out["ci_low"] <= out["ci_high"] <= 1.0


def test_same_seed_same_interval_and_callers_rng_untouched():
    data = [i % 3 == 0 for i in range(90)]
    torch.manual_seed(123)
    before = torch.get_rng_state()
    first = accuracy_ci(data, seed=7, num_bootstraps=FEW)
    assert torch.equal(before, torch.get_rng_state())
    assert accuracy_ci(data, seed=7, num_bootstraps=FEW) == first
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    accuracy_ci(data, seed=7, num_bootstraps=FEW)
    assert torch.equal(torch.rand(3), expected_next)  # the caller's stream continues unchanged


def test_different_seeds_can_differ_but_stay_close():
    data = [i % 2 == 0 for i in range(100)]
    runs = [accuracy_ci(data, seed=s, num_bootstraps=FEW) for s in range(4)]
    assert len({(r["ci_low"], r["ci_high"]) for r in runs}) > 1
    for r in runs:
        assert abs(r["ci_low"] - 0.4) <= 0.04 and abs(r["ci_high"] - 0.6) <= 0.04


def test_level_changes_width():
    data = [i % 2 == 0 for i in range(100)]
    runs = [accuracy_ci(data, level=level, num_bootstraps=FEW) for level in (0.5, 0.8, 0.95, 0.99)]
    widths = [r["ci_high"] - r["ci_low"] for r in runs]
    assert widths == sorted(widths)
    assert widths[0] < widths[-1]


def test_empty_gives_none_without_crashing():
    assert accuracy_ci([]) == {"n": 0, "accuracy": None, "ci_low": None, "ci_high": None}
    assert mean_ci([]) == {"n": 0, "mean": None, "ci_low": None, "ci_high": None}
    assert grouped_accuracy([], []) == {}


def test_all_right_and_all_wrong_are_degenerate_intervals():
    assert accuracy_ci([True] * 12) == {"n": 12, "accuracy": 1.0, "ci_low": 1.0, "ci_high": 1.0}
    assert accuracy_ci([False] * 12, num_bootstraps=FEW) == {"n": 12, "accuracy": 0.0, "ci_low": 0.0,
                                                            "ci_high": 0.0}
    assert accuracy_ci([True], num_bootstraps=FEW) == {"n": 1, "accuracy": 1.0, "ci_low": 1.0, "ci_high": 1.0}


def test_bad_arguments():
    with pytest.raises(ValueError):
        accuracy_ci([True], level=1.0)
    with pytest.raises(ValueError):
        accuracy_ci([True], level=0.0)
    with pytest.raises(ValueError):
        accuracy_ci([True], num_bootstraps=0)
    with pytest.raises(ValueError):
        mean_ci([0.5, float("nan")])
    with pytest.raises(ValueError):
        grouped_accuracy([True, False], ["a"])


def test_mean_ci():
    values = [0.1 * (i % 10) for i in range(200)]  # mean 0.45, sd ~0.287
    out = mean_ci(values)
    assert out["n"] == 200
    assert out["mean"] == pytest.approx(0.45)
    half = 1.96 * torch.tensor(values, dtype=torch.float64).std(unbiased=False).item() / math.sqrt(200)
    assert out["ci_low"] == pytest.approx(0.45 - half, abs=0.01)
    assert out["ci_high"] == pytest.approx(0.45 + half, abs=0.01)
    assert mean_ci(values, seed=3, num_bootstraps=FEW) == mean_ci(values, seed=3, num_bootstraps=FEW)


def test_mean_ci_constant_values():
    assert mean_ci([0.3] * 5, num_bootstraps=FEW) == {"n": 5, "mean": pytest.approx(0.3), "ci_low": 0.3,
                                                     "ci_high": 0.3}
    assert mean_ci([0.87], num_bootstraps=FEW) == {"n": 1, "mean": pytest.approx(0.87), "ci_low": 0.87, "ci_high": 0.87}


def test_grouped_accuracy_per_group():
    correct = [True, False, True, True, False, False, True]
    groups = ["Pharmacy", "Clinical_Medicine", "Pharmacy", "Public_Health", "Pharmacy", "Clinical_Medicine",
              "Clinical_Medicine"]
    out = grouped_accuracy(correct, groups, num_bootstraps=FEW)
    assert list(out) == ["Clinical_Medicine", "Pharmacy", "Public_Health"]
    assert out["Pharmacy"]["n"] == 3 and out["Pharmacy"]["accuracy"] == pytest.approx(2 / 3)
    assert out["Clinical_Medicine"]["n"] == 3 and out["Clinical_Medicine"]["accuracy"] == pytest.approx(1 / 3)
    assert out["Public_Health"] == {"n": 1, "accuracy": 1.0, "ci_low": 1.0, "ci_high": 1.0}
    # each group's figures are exactly what accuracy_ci gives for that group alone
    assert out["Pharmacy"] == accuracy_ci([True, True, False], num_bootstraps=FEW)
    assert sum(g["n"] for g in out.values()) == len(correct)
