"""The evaluation benchmarks, each read from a local copy in its published layout, as `EvalItem`s.

    from chiron.eval.benchmarks import load_benchmark
    items = load_benchmark("mmmu_hm", "/data/MMMU")              # validation split, 5 subjects
    items = load_benchmark("medxpertqa_mm", "/data/MedXpertQA", subset="reasoning", limit=100)
    items = load_benchmark("demo", None)                         # bundled, offline

Benchmarks: vqa_rad, slake, path_vqa, pmc_vqa (test splits, through chiron.vqa_sets), mmmu_hm,
medxpertqa_mm, mmrp_text, mmrp_mm (alias reference), demo. A missing copy raises BenchmarkError
naming the expected file tree and where to get it; broken rows are skipped and counted.
"""

from chiron.eval.benchmarks.base import (BENCHMARKS, BadItem, BenchmarkError, BenchmarkReport, Loader,
                                         get_loader, load_benchmark, make_item, normalize_options)
from chiron.eval.benchmarks import vqa, mmmu, medxpertqa, mmrp, demo  # noqa: E402,F401  (register loaders)

__all__ = ["BENCHMARKS", "BadItem", "BenchmarkError", "BenchmarkReport", "Loader", "get_loader",
           "load_benchmark", "make_item", "normalize_options"]
