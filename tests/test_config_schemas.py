"""The config schemas (chiron/schemas.py): a wrong type, a choice outside its list or an unknown key
fails when Hydra composes the config, naming the key; every shipped config still composes."""

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from chiron.schemas import Task
from conftest import CONF, ROOT, compose_config, options

# Groups with a schema: resolving them checks interpolations into typed nodes (writer.part3: ${.part1}).
TYPED_GROUPS = ("mentors", "interns", "judge", "writer", "search", "train", "model", "trainer", "curriculum",
                "eval", "logger", "pipeline")
EXPERIMENTS = sorted(p.stem for p in (ROOT / "conf" / "experiment").glob("*.yaml"))
ARMS = sorted(p.stem for p in (ROOT / "conf" / "experiment" / "arms").glob("*.yaml"))
SCALES = sorted(p.stem for p in (ROOT / "conf" / "experiment" / "scale").glob("*.yaml"))


def composition_error(overrides) -> str:
    """The text a user sees for a refused composition: Hydra's message and the OmegaConf error under it."""
    with pytest.raises(ConfigCompositionException) as info:
        compose_config(overrides)
    return f"{info.value}\n{info.value.__cause__ or ''}"


def run_py(*args, cwd=None):
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


# -- what a user sees on the command line ----------------------------------------------------------


@pytest.mark.parametrize("override, shown", [
    ("train.lora.rank=abc", ["full_key: train.lora.rank", "could not be converted to Integer"]),
    ("logger.mode=offlin", ["full_key: logger.mode", "expected one of [auto, online, offline, disabled]"]),
    ("task=nonsense", ["full_key: task", "expected one of [" + ", ".join(t.value for t in Task) + "]"]),
])
def test_a_bad_value_on_the_command_line_is_a_short_error_naming_the_key(override, shown):
    result = run_py(override, "--cfg", "job")
    assert result.returncode == 1
    assert all(text in result.stderr for text in shown), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) <= 8, result.stderr


def test_a_refused_task_makes_no_run_folder(tmp_path):
    result = run_py("task=nonsense", f"paths.output_dir={tmp_path / 'out'}", "run_name=x")
    assert result.returncode == 1 and "full_key: task" in result.stderr
    assert not (tmp_path / "out").exists()


# -- every schema refuses a wrong type and an unknown key --------------------------------------------


@pytest.mark.parametrize("overrides, shown", [
    # train / model / trainer / curriculum
    (["train.optim.lr=fast"], ["train.optim.lr", "could not be converted to Float"]),
    (["train.lora.rnak=3"], ["Key 'rnak' not in 'LoraConf'"]),
    (["train.save_merged=maybe"], ["train.save_merged"]),
    (["model.family=llama"], ["model.family", "expected one of [internvl, qwen_vl]"]),
    (["model.tiny=perhaps"], ["model.tiny"]),
    (["model.colour=red"], ["Key 'colour' not in 'ModelConf'"]),
    (["trainer.num_nodes=two"], ["trainer.num_nodes"]),
    (["trainer.device=1"], ["Key 'device' not in 'TrainerConf'"]),
    (["curriculum.stages=3"], ["curriculum.stages"]),
    (["curriculum.stage=[stage1]"], ["Key 'stage' not in 'CurriculumConf'"]),
    # search and its roles
    (["search.max_depth=deep"], ["search.max_depth"]),
    (["search.competitiveness=max"], ["search.competitiveness", "expected one of [product, sum]"]),
    (["search=vanilla", "search.name=beam"], ["search.name", "expected one of [mics, vanilla]"]),
    (["search.depth=3"], ["Key 'depth' not in 'SearchConf'"]),
    (["search.budget_usd=lots"], ["search.budget_usd"]),
    (["mentors.temperature=hot"], ["mentors.temperature"]),
    (["mentors.models.0.backend=grpc"], ["mentors.models[0].backend", "expected one of [openai, hf, vllm]"]),
    (["mentors.models.0.api_key=sk-123"], ["Key 'api_key' not in 'ModelSpecConf'"]),
    (["mentors=openai_compatible", "mentors.models=[{name: m, backend: openai, model: m, rmp: 3}]"],
     ["Key 'rmp' not in 'ModelSpecConf'"]),
    (["interns.prompt=verbose"], ["interns.prompt", "expected one of [final_answer, brief_reasoning]"]),
    (["interns.temperatures=[hot]"], ["interns.temperatures"]),
    (["interns.base_url=http://x"], ["Key 'base_url' not in 'InternsConf'"]),
    (["judge=tiny", "judge.spec.max_tokens=many"], ["judge.spec.max_tokens"]),
    (["judge=tiny", "judge.spec.tiny=llama"], ["judge.spec.tiny", "expected one of [internvl]"]),
    (["judge=tiny", "judge.spec.tiny_role=boss"], ["judge.spec.tiny_role", "qa_writer"]),
    (["judge.kind=oracle"], ["judge.kind", "rules"]),
    (["judge=openai_compatible", "judge.spec.timeout=3"], ["Key 'timeout' not in 'ModelSpecConf'"]),
    (["writer.part1.seed=x"], ["writer.part1.seed"]),
    (["writer.colour=red"], ["Key 'colour' not in 'WriterConf'"]),
    # eval
    (["eval.batch_size=big"], ["eval.batch_size"]),
    (["eval.prompt=paper"], ["eval.prompt", "expected one of [chiron, reference]"]),
    (["eval.bertscore.modle=minilm"], ["Key 'modle' not in 'BertScoreConf'"]),
    # logger
    (["logger.projekt=x"], ["Key 'projekt' not in 'WandbLoggerConf'"]),
    (["logger=csv", "logger.mode=offline"], ["Key 'mode' not in 'LoggerConf'"]),
    (["logger.kind=tensorboard"], ["logger.kind", "expected one of [wandb, csv, none]"]),
    # pipeline
    (["pipeline.last=deploy"], ["pipeline.last", "expected one of [part1, part2, part3, search, qc, mix, train, eval, base_eval]"]),
    (["pipeline.recompute=[serach]"], ["pipeline.recompute[0]"]),
    (["pipeline.stor_dir=/x"], ["Key 'stor_dir' not in 'PipelineConf'"]),
    # the top level
    (["seed=abc"], ["full_key: seed"]),
    (["images.max_pixels=huge"], ["images.max_pixels"]),
    (["run_lock.wait_s=soon"], ["run_lock.wait_s"]),
    (["sed=1"], ["Key 'sed' not in 'ChironConf'"]),
])
def test_each_schema_refuses_a_wrong_type_a_wrong_choice_and_an_unknown_key(overrides, shown):
    text = composition_error(overrides)
    assert all(part in text for part in shown), text


def test_an_unknown_key_in_an_option_file_fails_naming_the_file(tmp_path):
    conf = tmp_path / "conf"
    shutil.copytree(CONF, conf)
    with open(conf / "train" / "lora.yaml", "a") as f:
        f.write("warmup_steps: 10\n")  # the option is train.optim.warmup_ratio
    with pytest.raises(ConfigCompositionException) as info:
        with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
            compose(config_name="config")
    assert "In 'train/lora'" in str(info.value) and "Key 'warmup_steps' not in 'TrainConf'" in str(info.value)


def test_plus_still_adds_a_key_on_purpose():
    cfg = compose_config(["+trainer.log_every_n_steps=5", "+estimate.cases=3"])
    assert cfg.trainer.log_every_n_steps == 5 and cfg.estimate.cases == 3


# -- every shipped config composes -----------------------------------------------------------------


def _resolve_typed_groups(cfg):
    for group in TYPED_GROUPS:
        OmegaConf.to_container(cfg[group], resolve=True)


@pytest.mark.parametrize("group", [p.name for p in sorted((ROOT / "conf").iterdir())
                                   if p.is_dir() and p.name not in ("experiment", "hydra")])
def test_every_option_of_every_group_composes(group):
    for option in options(group):
        _resolve_typed_groups(compose_config([f"{group}={option}"]))


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_experiment_composes_at_its_scale_and_at_every_other(name):
    for scale in [None, *SCALES]:
        overrides = [f"+experiment={name}"] + ([f"+experiment/scale={scale}"] if scale else [])
        with initialize_config_dir(config_dir=CONF, version_base="1.3"):
            cfg = compose(config_name="config", overrides=overrides, return_hydra_config=True)
        _resolve_typed_groups(cfg)


@pytest.mark.parametrize("arm", ARMS)
def test_every_arm_composes(arm):
    _resolve_typed_groups(compose_config(["+experiment=demo", f"+experiment/arms={arm}"]))


def test_the_overrides_the_readme_and_the_tests_use_still_compose():
    cfg = compose_config(["search=vanilla", "search.vanilla_mentor=tiny-mentor-a", "search.economy=false",
                          "mentors.subset=[tiny-mentor-a]", "eval.protocol=[chiron,reference]",
                          "eval.generator={name: g, backend: hf, model: m}", "benchmarks=demo", "trainer=ddp",
                          "trainer.devices=2", "trainer.precision=32-true", "pipeline.recompute=[search]",
                          "logger=csv", "train.lora.target=null", "eval.roots.slake=/data/Slake1.0"])
    assert cfg.eval.generator.name == "g" and cfg.trainer.devices == 2
    assert compose_config(["eval.generator=${interns.models.0}"]).eval.generator.name == "tiny-intern-a"
    assert list(cfg.pipeline.recompute) == ["search"] and cfg.search.vanilla_mentor == "tiny-mentor-a"


# -- a choice read from the config behaves as the string it was --------------------------------------


def test_choices_read_as_plain_strings():
    cfg = compose_config(["task=search"])
    task, mode = cfg.task, cfg.logger.mode
    assert task == "search" and str(task) == "search" and f"{task}/runs" == "search/runs"
    assert {"search": 1}[task] == 1 and isinstance(task, str)
    assert json.dumps({"task": task, "mode": mode}) == '{"task": "search", "mode": "auto"}'
    assert OmegaConf.to_yaml(cfg).startswith("task: search\n")
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        hydra_cfg = compose(config_name="config", overrides=["task=eval"], return_hydra_config=True)
    assert "/eval/runs/" in str(hydra_cfg.hydra.run.dir)


def test_a_spec_from_the_config_equals_the_one_written_in_code():
    from chiron.llm.spec import ModelSpec
    from chiron.search.job import judge_spec

    spec = judge_spec(compose_config(["judge=tiny"]).judge)
    assert spec == ModelSpec(name="tiny-judge", backend="hf", model=spec.model, tiny="internvl", tiny_role="judge",
                             seed=5, max_tokens=4, batch_size=16)


# -- the schemas say what the code accepts -----------------------------------------------------------


def _fields(cls) -> dict:
    out = {}
    for f in dataclasses.fields(cls):
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        out[f.name] = default
    return out


def test_the_model_spec_schema_mirrors_model_spec():
    from chiron.llm.spec import ModelSpec
    from chiron.llm.spec_schema import ModelSpecConf

    ours, theirs = _fields(ModelSpecConf), _fields(ModelSpec)
    assert list(ours) == list(theirs)
    assert {k: v for k, v in ours.items() if k not in ("name", "backend", "model")} == \
        {k: v for k, v in theirs.items() if k not in ("name", "backend", "model")}


def test_the_training_schemas_mirror_the_training_settings():
    from chiron.train.curriculum import TrainSettings
    from chiron.train.model import LoraConfig, ModelConfig
    from chiron.train.module import OptimConfig
    from chiron.train.schema import LoraConf, ModelConf, OptimConf, TrainConf

    assert set(_fields(LoraConf)) == set(_fields(LoraConfig))
    assert set(_fields(OptimConf)) == set(_fields(OptimConfig))
    assert set(_fields(ModelConf)) == set(_fields(ModelConfig))
    # chiron.train.job fills model, trainer, logger, seed and progress from elsewhere
    # (`name` says which conf/train option it is; chiron.train.job records it, it sets nothing)
    assert set(_fields(TrainConf)) - {"name"} == set(_fields(TrainSettings)) - {"model", "trainer", "logger", "seed",
                                                                               "progress"}


def test_the_choices_are_the_codes_own():
    from chiron.eval.prompts import PROMPTS
    from chiron.eval.protocols import PROTOCOLS  # noqa: F401  (eval.protocol stays Any: a name or a list)
    from chiron.llm.spec import BACKENDS
    from chiron.llm.spec_schema import Backend, TinyKind, TinyRole
    from chiron.llm.tiny import KINDS, ROLES
    from chiron.main import TASKS
    from chiron.pipeline.schema import StageName
    from chiron.pipeline.stages import STAGES
    from chiron.search.prompts import INTERN_PROMPTS
    from chiron.search.schema import InternPrompt
    from chiron.eval.schema import EvalPrompt

    def values(enum):
        return [m.value for m in enum]

    assert values(Backend) == list(BACKENDS) and values(TinyKind) == list(KINDS) and values(TinyRole) == list(ROLES)
    assert set(values(InternPrompt)) == set(INTERN_PROMPTS) and set(values(EvalPrompt)) == set(PROMPTS)
    assert values(StageName) == list(STAGES)
    assert set(values(Task)) == set(TASKS)
    for enum in (Backend, TinyKind, TinyRole, InternPrompt, EvalPrompt, StageName, Task):
        assert all(m.name == m.value for m in enum)  # OmegaConf looks a string up by member name
