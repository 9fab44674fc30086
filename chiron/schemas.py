"""Config schemas, checked when Hydra composes the config: a value of the wrong type, a choice
outside its list or a key no schema knows fails before any job starts, with the key's full name
(and the allowed choices) in Hydra's short error message.

Each subpackage owns the schema of its groups (chiron/search/schema.py, chiron/train/schema.py ...);
this module adds the top level and registers them all in Hydra's ConfigStore. Each option file
lists its schema first in its defaults list (`- lora_schema`, then `_self_`), so the schema is
merged first and the file's values on top of it.

Importing this module registers the schemas; run.py imports it before @hydra.main, and anything
that composes in-process (tests/conftest.py) calls register_schemas() before it composes.

What a type cannot say (ranges, one field depending on another, files that must exist) stays
with the code that uses it: ModelSpec, SearchSettings, Levels, TrainSettings and chiron/preflight.py
check it when a task starts, before any model loads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from chiron.eval.schema import EvalConf
from chiron.mmrp.schema import WriterConf, WriterEndpointConf
from chiron.pipeline.schema import PipelineConf
from chiron.search.schema import (InternsConf, InternsEndpointConf, JudgeConf, JudgeEndpointConf, MentorsConf,
                                  MentorsEndpointConf, SearchConf)
from chiron.train.schema import CurriculumConf, ModelConf, TrainConf, TrainerConf
from chiron.utils.choices import Choice
from chiron.utils.logger_schema import LoggerConf, WandbLoggerConf


class Task(Choice):  # chiron.main.TASKS
    pipeline = "pipeline"
    search = "search"
    search_merge = "search_merge"
    build_part1 = "build_part1"
    build_part2 = "build_part2"
    build_part3 = "build_part3"
    qc_report = "qc_report"
    build_mix = "build_mix"
    train = "train"
    eval = "eval"
    estimate = "estimate"


@dataclass
class ImagesConf:
    max_pixels: Optional[int] = MISSING
    allow_outside_root: bool = MISSING


@dataclass
class RunLockConf:
    wait_s: float = MISSING


@dataclass
class ChironConf:
    """The top level of conf/config.yaml. A new top-level key needs a field here; the groups are
    Any because each brings its own schema (or none: paths, data, corpus, mmrp, qc, vqa_sets and
    data_mix stay open mappings)."""
    task: Task = MISSING
    gpus_per_job: int = MISSING
    seed: int = MISSING
    progress: bool = MISSING
    preflight: bool = True
    images: ImagesConf = field(default_factory=ImagesConf)
    run_lock: RunLockConf = field(default_factory=RunLockConf)
    run_name: str = MISSING
    qc_report: Dict[str, Any] = field(default_factory=dict)
    mix_inputs: Dict[str, Any] = field(default_factory=dict)
    train_inputs: Dict[str, Any] = field(default_factory=dict)
    benchmarks: Any = MISSING  # a name or a list of names
    merge: Dict[str, Any] = field(default_factory=dict)
    # Set by conf/experiment files only: what `+experiment/scale=demo` adds (chiron/preflight.py).
    demo_scale: Optional[Dict[str, Any]] = None
    paths: Any = MISSING
    mentors: Any = MISSING
    interns: Any = MISSING
    judge: Any = MISSING
    search: Any = MISSING
    data: Any = MISSING
    corpus: Any = MISSING
    writer: Any = MISSING
    mmrp: Any = MISSING
    qc: Any = MISSING
    vqa_sets: Any = MISSING
    data_mix: Any = MISSING
    model: Any = MISSING
    train: Any = MISSING
    trainer: Any = MISSING
    curriculum: Any = MISSING
    logger: Any = MISSING
    eval: Any = MISSING
    pipeline: Any = MISSING


# (group, name, schema): the name is what an option file's defaults list names.
SCHEMAS = (
    (None, "chiron_schema", ChironConf),
    ("train", "lora_schema", TrainConf),
    ("model", "model_schema", ModelConf),
    ("trainer", "trainer_schema", TrainerConf),
    ("curriculum", "curriculum_schema", CurriculumConf),
    ("search", "search_schema", SearchConf),
    ("mentors", "mentors_schema", MentorsConf),
    ("mentors", "endpoint_schema", MentorsEndpointConf),
    ("interns", "interns_schema", InternsConf),
    ("interns", "endpoint_schema", InternsEndpointConf),
    ("judge", "judge_schema", JudgeConf),
    ("judge", "endpoint_schema", JudgeEndpointConf),
    ("writer", "writer_schema", WriterConf),
    ("writer", "endpoint_schema", WriterEndpointConf),
    ("eval", "eval_schema", EvalConf),
    ("logger", "wandb_schema", WandbLoggerConf),
    ("logger", "logger_schema", LoggerConf),  # csv and none: the kind only
    ("pipeline", "pipeline_schema", PipelineConf),
)


def register_schemas() -> None:
    """Store every schema in Hydra's ConfigStore; storing again replaces, so calling twice is harmless."""
    store = ConfigStore.instance()
    for group, name, node in SCHEMAS:
        store.store(group=group, name=name, node=node)


register_schemas()
