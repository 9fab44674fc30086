import os
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from chiron.schemas import register_schemas
from chiron.utils.paths import register_resolvers

ROOT = Path(__file__).resolve().parents[1]
CONF = str(ROOT / "conf")

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "disabled")
register_resolvers()
register_schemas()  # conf/ names them in its defaults lists: composing needs them stored


def compose_config(overrides=()):
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


@pytest.fixture
def compose_cfg():
    return compose_config


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (ROOT / "conf" / group).glob("*.yaml"))


@pytest.fixture(scope="session")
def tiny_tokenizer_path(tmp_path_factory):
    """A saved tiny random model (built offline); its tokenizer is a real byte-level BPE."""
    from chiron.llm.tiny import ensure_tiny_model

    return ensure_tiny_model(str(tmp_path_factory.mktemp("tiny") / "internvl-plain"), "internvl", seed=0)


@pytest.fixture(scope="session")
def shared_tiny_models(tmp_path_factory):
    """One folder of tiny role models for the whole session (`paths.tiny_model_dir=...`): each is built
    and primed on first use, then only loaded."""
    return tmp_path_factory.mktemp("tiny_models")
