"""Public medical VQA sets read from local copies in their published layouts, as `Sample`s.

    from chiron.vqa_sets import load_vqa_set
    samples = load_vqa_set("slake", "/data/vqa/Slake1.0")       # train split, English only
    for sample in samples: ...
    print(samples.report.summary())                             # rows, samples, skipped by reason

Sets (the `source` of their samples): vqa_rad, slake, path_vqa, pmc_vqa, pubmedvision_alignment,
pubmedvision_instruction. Each adapter's module docstring gives the layout it expects and where
to download it; `conf/vqa_sets/local.yaml` maps every set to its root.
"""

from chiron.vqa_sets.base import Adapter, LoadReport, VQASetError, VQASetLoad
from chiron.vqa_sets.registry import VQA_SETS, get_adapter, load_vqa_set

__all__ = ["VQA_SETS", "Adapter", "LoadReport", "VQASetError", "VQASetLoad", "get_adapter", "load_vqa_set"]
