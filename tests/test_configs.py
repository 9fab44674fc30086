"""Every config option composes and every model spec in it validates."""

import pytest
from omegaconf import OmegaConf

from chiron.llm.spec import ModelSpec
from chiron.search.job import judge_spec, model_specs, search_settings
from conftest import compose_config, options

SECRET_LIKE = ("sk-", "AIza")


@pytest.mark.parametrize("group", ["mentors", "interns"])
def test_model_groups_compose_and_validate(group):
    assert {"paper", "openai_compatible", "tiny"} <= set(options(group))
    for option in options(group):
        cfg = compose_config([f"{group}={option}"])
        specs = model_specs(cfg[group])
        assert specs and all(isinstance(s, ModelSpec) for s in specs)
        assert len({s.name for s in specs}) == len(specs)
    interns = compose_config(["interns=paper"]).interns
    assert list(interns.temperatures) == [0.3, 1.2]


def test_paper_roles_match_the_paper():
    cfg = compose_config(["mentors=paper", "interns=paper", "judge=paper"])
    assert [s.model for s in model_specs(cfg.mentors)] == ["gpt-4o", "gemini-2.5-pro", "qwen2.5-vl-72b-instruct"]
    assert [s.name for s in model_specs(cfg.interns)] == ["qwen2-vl-7b", "qwen2.5-vl-7b", "internvl3-8b"]
    assert judge_spec(cfg.judge).model == "deepseek-chat"
    assert all(s.api_key_env and s.price_in_per_mtok > 0 for s in model_specs(cfg.mentors))


@pytest.mark.parametrize("option", options("judge"))
def test_judge_options(option):
    cfg = compose_config([f"judge={option}"])
    if option == "rules":  # a rule, no model: chiron/search/rule_judge.py
        assert cfg.judge.kind == "rules" and cfg.judge.spec is None
        return
    spec = judge_spec(cfg.judge)
    assert spec.name and cfg.judge.temperature == 0.0


@pytest.mark.parametrize("option", options("search"))
def test_search_options(option):
    cfg = compose_config([f"search={option}"])
    settings = search_settings(cfg.search, cfg.seed)
    assert settings.max_depth == 4 and settings.competitiveness == "product" and settings.first_depth_steps == 1
    assert cfg.search.name == option.removesuffix("_scored")
    assert bool(cfg.search.get("score_vanilla_paths")) == option.endswith("_scored")


def test_reference_options_are_reachable():
    cfg = compose_config(["search.max_depth=3", "search.first_depth_steps=2", "search.competitiveness=sum",
                          "judge.temperature=0.9"])
    settings = search_settings(cfg.search, 0)
    assert (settings.max_depth, settings.first_depth_steps, settings.competitiveness) == (3, 2, "sum")


def test_data_options():
    demo = compose_config(["data=demo"]).data
    assert demo.path.endswith("cases.jsonl") and demo.num_shards == 1
    ref = compose_config(["data=reference", "data.path=/x.jsonl", "data.image_root=/imgs"]).data
    assert ref.path == "/x.jsonl"


def test_defaults_are_the_offline_demo():
    cfg = compose_config()
    assert cfg.task == "pipeline" and cfg.search.name == "mics"
    for spec in model_specs(cfg.mentors) + model_specs(cfg.interns):
        assert spec.backend == "hf" and spec.tiny == "internvl"
    assert cfg.judge.kind == "rules" and cfg.train.name == "demo"  # verdicts that repeat; demo-scale training


def test_configs_name_key_variables_never_values():
    for group in ("mentors", "interns", "judge"):
        for option in options(group):
            text = OmegaConf.to_yaml(compose_config([f"{group}={option}"])[group], resolve=True)
            assert not any(marker in text for marker in SECRET_LIKE)


def test_unknown_spec_keys_fail_loudly():
    with pytest.raises(ValueError, match="unknown keys"):
        ModelSpec.from_mapping({"name": "x", "backend": "openai", "model": "m", "api_key": "secret"})
    with pytest.raises(ValueError, match="backend"):
        ModelSpec.from_mapping({"name": "x", "backend": "grpc", "model": "m"})


def test_submitit_launcher_option_composes():
    from hydra import compose, initialize_config_dir
    from conftest import CONF

    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose(config_name="config", overrides=["hydra/launcher=submitit_slurm"], return_hydra_config=True)
    assert "submitit" in cfg.hydra.launcher._target_
    assert cfg.hydra.launcher.timeout_min > 0
