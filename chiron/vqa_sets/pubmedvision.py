"""PubMedVision (Chen et al., HuatuoGPT-Vision, 2024): GPT-4V-reformatted PubMed figure VQA.

Get it from https://huggingface.co/datasets/FreedomIntelligence/PubMedVision. Expected layout
under the root, the dataset folder with its image zips unpacked as the dataset card says
(`unzip -j images_$i.zip -d images/` for i in 0..19):

    PubMedVision_Alignment_VQA.json           lists of {id, image: ["images/x.jpg", ...],
    PubMedVision_InstructionTuning_VQA.json   conversations: [{from: human|gpt, value}, ...],
                                              modality, body_part}
    images/x.jpg ...                          `image` entries are relative to the root

Each file is one subset with a single split, "train". Conversations may run several turns:
human -> user, gpt -> assistant. The released text holds no "<image>" placeholders; one per image
is put in front of the first user turn unless the turns already carry exactly one per image.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, ClassVar

from chiron.data.sample import IMAGE_PLACEHOLDER, with_image_placeholders
from chiron.vqa_sets.base import Adapter, BadRow, Item, as_object, field_text, read_json_list

ROLES = {"human": "user", "gpt": "assistant"}
IMAGE_DIR = "images"


@dataclass(frozen=True)
class _PubMedVision(Adapter):
    filename: ClassVar[str]  # the subset's annotation file

    title = "PubMedVision"
    url = "https://huggingface.co/datasets/FreedomIntelligence/PubMedVision"
    layout = """\
  <root>/
    PubMedVision_Alignment_VQA.json
    PubMedVision_InstructionTuning_VQA.json
    images/            (unzip -j images_0.zip ... images_19.zip -d images/)
      ...
"""
    splits = ("train",)

    def required_paths(self, root: str, split: str) -> list[str]:
        return [os.path.join(root, self.filename), os.path.join(root, IMAGE_DIR)]

    def read_rows(self, root: str, split: str) -> list:
        return read_json_list(self, os.path.join(root, self.filename))

    def convert(self, row: Any, index: int, root: str, split: str) -> Item:
        row = as_object(row)
        refs = row.get("image")
        refs = [refs] if isinstance(refs, str) else refs
        if not isinstance(refs, list) or not refs or not all(isinstance(r, str) and r.strip() for r in refs):
            raise BadRow(f"field 'image' is not a list of paths: {refs!r:.60}")
        turns = row.get("conversations")
        if not isinstance(turns, list) or not turns:
            raise BadRow("field 'conversations' is missing or empty")
        messages = []
        for k, turn in enumerate(turns):
            turn = as_object(turn)
            role = ROLES.get(turn.get("from"))
            if role is None:
                raise BadRow(f"turn {k} comes from {turn.get('from')!r}, not human or gpt")
            messages.append({"role": role, "content": field_text(turn, "value")})
        _place_images(messages, len(refs))
        native = row.get("id")
        meta = {"split": split, "index": index, "id": native, "image": list(refs)}
        for key in ("modality", "body_part"):
            if row.get(key) is not None:
                meta[key] = row[key]
        return Item(key=str(native) if native not in (None, "") else str(index), messages=messages,
                    images=[os.path.join(root, r.strip()) for r in refs], meta=meta)


def _place_images(messages: list[dict], n_images: int) -> None:
    """Keep placeholders already complete across the user turns, else add all to the first one."""
    present = sum(m["content"].count(IMAGE_PLACEHOLDER) for m in messages if m["role"] == "user")
    if present == n_images:
        return
    first = next((m for m in messages if m["role"] == "user"), None)
    if first is None or present:
        raise BadRow(f"{present} {IMAGE_PLACEHOLDER} placeholders in the user turns for {n_images} images")
    first["content"] = with_image_placeholders(first["content"], n_images)


@dataclass(frozen=True)
class PubMedVisionAlignment(_PubMedVision):
    name = "pubmedvision_alignment"
    filename = "PubMedVision_Alignment_VQA.json"


@dataclass(frozen=True)
class PubMedVisionInstruction(_PubMedVision):
    name = "pubmedvision_instruction"
    filename = "PubMedVision_InstructionTuning_VQA.json"
