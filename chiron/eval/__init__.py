"""Evaluation: the paper's VQA and reasoning benchmarks, scored honestly, cached and resumable."""
