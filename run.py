"""Entry point: `python run.py [task=...] [group=option ...] [-m]`. See README.md."""

import logging
import sys

import hydra
from omegaconf import DictConfig

from chiron.schemas import register_schemas
from chiron.utils.errors import TaskFailed
from chiron.utils.paths import register_resolvers

register_resolvers()
register_schemas()  # conf/ names the schemas in its defaults lists: they must be stored before @hydra.main
# A logging handler that fails (a full disk under the log file) must not print a traceback for
# every later line; the job's own error says what happened.
logging.raiseExceptions = False
log = logging.getLogger("chiron")

# Hydra's flags that take a value, and --info's optional one. Hydra parses its command line with
# argparse, which stops taking overrides after the first flag (`-m a=b` works, `a=b -m c=d` fails
# with "unrecognized arguments"); every flag moves in front of the overrides, so both orders work.
_FLAG_VALUE = {"-c", "--cfg", "-p", "--package", "-cp", "--config-path", "-cn", "--config-name",
               "-cd", "--config-dir", "-sc", "--shell-completion", "--experimental-rerun"}
_INFO_VALUES = {"all", "config", "defaults", "defaults-tree", "plugins", "searchpath"}


def flags_first(argv: list[str]) -> list[str]:
    """argv with Hydra's flags (and their values) before the overrides, each group in its order."""
    flags: list[str] = []
    overrides: list[str] = []
    words = iter(argv)
    for word in words:
        if not word.startswith("-"):
            overrides.append(word)
            continue
        flags.append(word)
        if word in _FLAG_VALUE:
            flags.append(next(words, ""))
        elif word == "--info":
            nxt = next(words, None)
            if nxt is not None:
                (flags if nxt in _INFO_VALUES else overrides).append(nxt)
    return flags + overrides


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
    sys.argv[1:] = flags_first(sys.argv[1:])
    main()
