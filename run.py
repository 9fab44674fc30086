"""Entry point: `python run.py [task=...] [group=option ...] [-m]`. See README.md."""

import logging
import sys

import hydra
from omegaconf import DictConfig

from chiron.utils.errors import TaskFailed
from chiron.utils.paths import register_resolvers

register_resolvers()
# A logging handler that fails (a full disk under the log file) must not print a traceback for
# every later line; the job's own error says what happened.
logging.raiseExceptions = False
log = logging.getLogger("chiron")


@hydra.main(config_path="conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from chiron.main import run_task

    try:
        run_task(cfg)
    except TaskFailed as exc:
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            raise  # Hydra records the arm as failed and the sweep exits non-zero
        log.error("%s", exc)  # one line, no traceback: the message says what to do
        sys.exit(1)


if __name__ == "__main__":
    main()
