"""Writing a drawn mix in the formats trainers read, plus a manifest of what was drawn.

Layout under `out_dir` (`write_mix`):

    <stage>.jsonl                      ours: one `Sample.to_json()` per line
    internvl/<stage>.jsonl             InternVL chat fine-tuning annotation
    internvl/<stage>_meta.json         its meta file (pass as --meta_path)
    sharegpt/<stage>.jsonl             LLaMA-Factory sharegpt (OpenAI-style messages) + images
    sharegpt/dataset_info.json         one entry per stage (pass the folder as dataset_dir)
    manifest.json                      counts per stage and source, seed, scale, files

InternVL (internvl.readthedocs.io, "Chat Data Format"; internvl_chat/internvl/train/
internvl_chat_finetune.py): a line is {"id", "image", "conversations": [{"from": "human"|"gpt",
"value"}]}; "image" is one path (string) or several (list), omitted for text-only samples; a system
turn is {"from": "system"}; "<image>" placeholders stay in the human turns, as many as images
(InternVL prepends its own to the first human turn when that turn has none, so a sample should open
with them, as every source here does). The meta file maps a dataset name to {"root", "annotation",
"data_augment", "repeat_time", "length"}.
InternVL opens `os.path.join(root, image)`, and our image paths are absolute, so root is "" (joining
anything with an absolute path gives that path). The mix already holds the repetitions, so
repeat_time is 1 and data_augment false.

LLaMA-Factory (data/README.md, "OpenAI Format" and "Multimodal Image Dataset" of the sharegpt format):
a line is {"messages": [{"role", "content"}], "images": [paths]}, registered in dataset_info.json
with formatting "sharegpt", columns {"messages", "images"} and tags mapping role/content/user/
assistant/system; file_name is relative to dataset_dir. Text-only samples carry "images": [] so every
line has the same columns.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from chiron.data.sample import Sample
from chiron.data_mix.draw import ImageScreen
from chiron.data_mix.plan import FORMATS, MixPlan
from chiron.utils.jsonl import atomic_write_json, atomic_write_jsonl

_INTERNVL_ROLES = {"system": "system", "user": "human", "assistant": "gpt"}
SHAREGPT_TAGS = {"role_tag": "role", "content_tag": "content", "user_tag": "user",
                 "assistant_tag": "assistant", "system_tag": "system"}


def internvl_row(sample: Sample) -> dict:
    row: dict[str, Any] = {"id": sample.id}
    if len(sample.images) == 1:
        row["image"] = sample.images[0]
    elif sample.images:
        row["image"] = list(sample.images)
    row["conversations"] = [{"from": _INTERNVL_ROLES[m["role"]], "value": m["content"]}
                            for m in sample.messages]
    return row


def sharegpt_row(sample: Sample) -> dict:
    return {"messages": [{"role": m["role"], "content": m["content"]} for m in sample.messages],
            "images": list(sample.images)}


def mix_manifest(plan: MixPlan, sources: Mapping[str, Sequence[Sample]],
                 stages: Mapping[str, Sequence[Sample]], screen: ImageScreen | None = None) -> dict:
    """What each stage was asked for and got, per source; `drawn` is counted from the stage itself.
    With the `screen` the draw used: per stage and source `dropped_bad_image` (samples left out of
    that draw for a bad image, replaced by others), and per source `bad_images` (every sample found
    bad, by category, a few examples, and how many samples were checked)."""
    out: dict[str, Any] = {"name": plan.name, "seed": plan.seed, "scale": plan.scale,
                           "drop_sources": sorted(plan.drop_sources), "stages": {}}
    for stage, samples in stages.items():
        drawn = Counter(s.source for s in samples)
        per_source = {}
        for src, target in plan.stages[stage].items():
            size = len(sources[src])
            per_source[src] = {"config_count": plan.table[stage][src], "target": target, "source_size": size,
                               "drawn": drawn[src], "repeats": round(target / size, 4) if size else None}
            if screen is not None:
                per_source[src]["dropped_bad_image"] = screen.dropped(src, f"{stage}/{src}")
        out["stages"][stage] = {"total": len(samples), "sources": per_source}
    if screen is not None:
        out["bad_images"] = {src: screen.summary(src) for src in plan.sources()}
    return out


def write_mix(stages: Mapping[str, Sequence[Sample]], out_dir: str, manifest: Mapping[str, Any],
              formats: Sequence[str]) -> dict:
    """Write every stage in `formats`, then `manifest` plus the files (relative to out_dir) as
    manifest.json; returns what went into manifest.json. The manifest goes last, so its presence
    means the whole mix is there."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown export format(s) {unknown}; choose from {list(FORMATS)}")
    name = str(manifest.get("name") or "chiron")
    files: dict[str, dict[str, Any]] = {stage: {} for stage in stages}
    dataset_info = {}
    for stage, samples in stages.items():
        if "ours" in formats:
            data = _write_rows(out_dir, f"{stage}.jsonl", (s.to_json() for s in samples))
            files[stage]["ours"] = {"data": data}
        dataset = f"{name}_{stage}"
        if "internvl" in formats:
            annotation = _write_rows(out_dir, f"internvl/{stage}.jsonl", map(internvl_row, samples))
            meta_file = f"internvl/{stage}_meta.json"
            atomic_write_json(os.path.join(out_dir, meta_file), {dataset: {
                "root": "", "annotation": os.path.abspath(os.path.join(out_dir, annotation)),
                "data_augment": False, "repeat_time": 1, "length": len(samples)}})
            files[stage]["internvl"] = {"annotation": annotation, "meta": meta_file, "dataset": dataset}
        if "sharegpt" in formats:
            data = _write_rows(out_dir, f"sharegpt/{stage}.jsonl", map(sharegpt_row, samples))
            dataset_info[dataset] = {"file_name": f"{stage}.jsonl", "formatting": "sharegpt",
                                     "columns": {"messages": "messages", "images": "images"},
                                     "tags": dict(SHAREGPT_TAGS)}
            files[stage]["sharegpt"] = {"data": data, "dataset_info": "sharegpt/dataset_info.json",
                                        "dataset": dataset}
    if dataset_info:
        atomic_write_json(os.path.join(out_dir, "sharegpt", "dataset_info.json"), dataset_info)
    written = {**manifest, "formats": list(formats), "files": files}
    atomic_write_json(os.path.join(out_dir, "manifest.json"), written)
    return written


def _write_rows(out_dir: str, relative: str, rows) -> str:
    atomic_write_jsonl(os.path.join(out_dir, relative), rows)
    return relative
