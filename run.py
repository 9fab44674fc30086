"""Entry point: `python run.py [task=...] [group=option ...] [-m]`. See README.md."""

import hydra
from omegaconf import DictConfig

from chiron.utils.paths import register_resolvers

register_resolvers()


@hydra.main(config_path="conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    from chiron.main import run_task

    run_task(cfg)


if __name__ == "__main__":
    main()
