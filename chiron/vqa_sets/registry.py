"""The public VQA sets by name, and the one call that loads any of them."""

from __future__ import annotations

import dataclasses

from chiron.vqa_sets.base import Adapter, VQASetError, VQASetLoad
from chiron.vqa_sets.path_vqa import PathVQA
from chiron.vqa_sets.pmc_vqa import PMCVQA
from chiron.vqa_sets.pubmedvision import PubMedVisionAlignment, PubMedVisionInstruction
from chiron.vqa_sets.slake import Slake
from chiron.vqa_sets.vqa_rad import VQARad

VQA_SETS: dict[str, Adapter] = {adapter.name: adapter for adapter in (
    VQARad(), Slake(), PathVQA(), PMCVQA(), PubMedVisionAlignment(), PubMedVisionInstruction())}


def get_adapter(name: str, **options) -> Adapter:
    """The adapter called `name`, with its options (e.g. slake: languages=None) replaced."""
    if name not in VQA_SETS:
        raise VQASetError(f"unknown VQA set {name!r}; known sets: {', '.join(VQA_SETS)}")
    adapter = VQA_SETS[name]
    known = [f.name for f in dataclasses.fields(adapter)]
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise VQASetError(f"{name} has no option {', '.join(unknown)}; "
                          f"its options: {', '.join(known) or 'none'}")
    return dataclasses.replace(adapter, **options)


def load_vqa_set(name: str, root: str, split: str = "train", check_images: bool = False,
                 keep_refused: bool = False, **options) -> VQASetLoad:
    """The samples of one split of the local copy at `root`, in file order.

    A missing root, file or folder of the layout raises VQASetError at once; a malformed
    annotation file raises it while iterating. Broken rows, rows whose image path leaves `root`
    (unless `keep_refused`: then kept, the reason in meta["refused_images"]) and, with
    `check_images`, rows whose image fails `chiron.llm.images.check_image` ("missing image",
    "bad image") are skipped and counted in the returned iterator's `report`.
    """
    return get_adapter(name, **options).load(root, split, check_images, keep_refused)
