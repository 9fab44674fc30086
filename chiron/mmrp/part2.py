"""MMRP Part 2 (paper App. A.2): image-text alignment triplets (keyframes, a question about them,
the case's real imaging analysis) from annotated cases. No LLM: every answer is authentic text.

Per case, each image group (one modality) goes through these filters, in this order:
  1. unreadable image files (`chiron.llm.images.check_image`: missing, empty, not an image, too
     many pixels, undecodable) and paths outside the image root are dropped and reported, with
     their category (never fatal);
  2. an image whose file MD5 equals one already kept in this case is dropped (the same keyframe
     referenced by several findings would otherwise appear twice);
  3. images smaller than `min_side` (196 px) in either dimension are dropped;
  4. a group with no caption, no image left, or more than `max_keyframes` (10) images left is
     dropped (too many keyframes misalign text and images and exhaust memory).
A surviving group yields one triplet per format:
  coarse  - the images in order and the whole imaging analysis as the answer;
  precise - the analysis with "(image i)" after the first mention of each keyword of image i;
            an image whose keywords the caption does not contain adds its own description,
            tagged the same way. A group where no image can be tied to the text has no precise
            triplet (counted).
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass, field

from PIL import Image

from chiron.data.corpus import CaseImage, CaseRecord, ImageGroup
from chiron.data.sample import Sample, single_turn, with_image_placeholders
from chiron.llm.images import BadImage
from chiron.utils.hashing import file_digest

SOURCE = "mmrp_part2"
FORMATS = ("coarse", "precise")

COARSE_QUESTIONS = (
    "These are keyframes of a {modality} study, in order. Describe the imaging findings, following the "
    "order of the images.",
    "Give the imaging analysis of these {modality} keyframes, describing them in the order shown.",
    "Report the findings on the {modality} images above, image by image in the order given.",
)
PRECISE_QUESTIONS = (
    "Describe the findings on these {modality} keyframes and mark which image shows each finding, "
    "written as (image x).",
    "Write the imaging analysis of these {modality} images, tagging every finding with the image it is "
    "seen on, as (image x).",
    "What do these {modality} keyframes show? Tie each finding to its image with (image x).",
)


@dataclass(frozen=True)
class Part2Settings:
    min_side: int = 196
    max_keyframes: int = 10
    formats: tuple[str, ...] = FORMATS
    annotated_only: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        unknown = set(self.formats) - set(FORMATS)
        if unknown or not self.formats:
            raise ValueError(f"mmrp.part2.formats must be a non-empty subset of {FORMATS}, got {list(self.formats)}")


@dataclass
class CaseAlignment:
    items: list[dict]
    drops: Counter  # images and groups refused, by reason
    unreadable: list[str]  # image refs that could not be used
    # ref -> BadImage category (missing | empty | not_an_image | too_many_pixels | undecodable | outside_root)
    unreadable_why: dict = field(default_factory=dict)


def file_md5(path: str) -> str:
    return file_digest(path, "md5")


def image_size(path: str) -> tuple[int, int]:
    """(width, height) from the header; the caller has checked the image (check_image)."""
    with Image.open(path) as img:
        return img.size


def align_case(case: CaseRecord, settings: Part2Settings) -> CaseAlignment:
    result = CaseAlignment(items=[], drops=Counter(), unreadable=[])
    seen_md5: set[str] = set()
    for k, group in enumerate(case.image_groups):
        kept = _usable_images(group, settings, seen_md5, result)
        if not group.caption.strip():
            result.drops["group without imaging analysis"] += 1
        elif not kept:
            result.drops["group without usable images"] += 1
        elif len(kept) > settings.max_keyframes:
            result.drops[f"group with more than {settings.max_keyframes} keyframes"] += 1
        else:
            for fmt in settings.formats:
                item = _triplet(case, k, group, kept, fmt, settings.seed)
                if item is None:
                    result.drops["precise: no image tied to the text"] += 1
                else:
                    result.items.append(item)
    return result


def _usable_images(group: ImageGroup, settings: Part2Settings, seen_md5: set[str],
                   result: CaseAlignment) -> list[CaseImage]:
    kept = []
    for image in group.images:
        try:
            image.check()  # BadImage: the one image check of every job (a refused path too)
            width, height = image_size(image.path)
            md5 = file_md5(image.path)
        except (BadImage, OSError, ValueError, Image.DecompressionBombError) as exc:
            result.unreadable.append(image.ref)
            result.unreadable_why[image.ref] = exc.category if isinstance(exc, BadImage) else "undecodable"
            result.drops["unreadable image"] += 1
            continue
        if md5 in seen_md5:
            result.drops["duplicate image (same MD5)"] += 1
        elif min(width, height) < settings.min_side:
            result.drops[f"image under {settings.min_side}x{settings.min_side}"] += 1
        else:
            seen_md5.add(md5)
            kept.append(image)
    return kept


def _triplet(case: CaseRecord, k: int, group: ImageGroup, images: list[CaseImage], fmt: str,
             seed: int) -> dict | None:
    if fmt == "coarse":
        answer = group.caption.strip()
    else:
        answer = tag_images(group.caption, images)
        if answer is None:
            return None
    pool = COARSE_QUESTIONS if fmt == "coarse" else PRECISE_QUESTIONS
    question = random.Random(f"{seed}:{case.id}:{k}:{fmt}").choice(pool).format(modality=group.modality)
    return {"id": f"{case.id}/g{k + 1}/{fmt}", "case_id": case.id, "modality": group.modality, "format": fmt,
            "images": [image.path for image in images], "image_refs": [image.ref for image in images],
            "question": question, "answer": answer}


def tag_images(caption: str, images: list[CaseImage]) -> str | None:
    """The caption with "(image i)" after the first mention of each of image i's keywords.

    Several images sharing a mention become "(image 1, image 3)". Images with no keyword found
    but with a description append "<description> (image i)." sentences. None when no image is tied.
    """
    tags: dict[int, list[int]] = {}  # end offset in caption -> image numbers
    extra = []
    for number, image in enumerate(images, start=1):
        ends = [m.end() for kw in image.keywords
                if (m := re.search(re.escape(kw.strip()), caption, re.IGNORECASE)) and kw.strip()]
        if ends:
            tags.setdefault(min(ends), []).append(number)
        elif image.description:
            extra.append(f"{image.description.rstrip('. ')} (image {number}).")
    if not tags and not extra:
        return None
    text, last = [], 0
    for end in sorted(tags):
        text.append(caption[last:end] + " (" + ", ".join(f"image {n}" for n in tags[end]) + ")")
        last = end
    text.append(caption[last:])
    return " ".join(["".join(text).strip(), *extra]).strip()


def alignment_sample(item: dict) -> Sample:
    user = with_image_placeholders(item["question"], len(item["images"]))
    return single_turn(f"part2/{item['id']}", SOURCE, user, item["answer"], images=item["images"],
                       meta={"case_id": item["case_id"], "modality": item["modality"], "format": item["format"]})
