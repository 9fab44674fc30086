"""The command line shared by experiments/<report>/report.py:

    report.py [SWEEP_DIR_OR_WANDB_GROUP ...] [--out DIR] [--project chiron] [--entity E]

Each source is a sweep folder (read locally) or, when no such folder exists, a W&B group. Without
sources, the newest sweep of each of the report's experiments under
$CHIRON_ROOT/outputs/experiments/<experiment>/ (CHIRON_ROOT defaults to the current folder, as in
conf/paths) is read. The report goes to --out, by default <sweep_dir>/report/ for one local sweep
and experiments/<report>/out/ otherwise.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from chiron.reports.registry import COMMANDS, REPORTS
from chiron.reports.runs import load_many, newest_sweep


def experiments_root() -> str:
    return os.path.join(os.environ.get("CHIRON_ROOT", "."), "outputs", "experiments")


def default_sources(experiments: Sequence[str]) -> list[str]:
    root = experiments_root()
    found, missing = [], []
    for name in experiments:
        try:
            found.append(newest_sweep(os.path.join(root, name)))
        except FileNotFoundError:
            missing.append(name)
    if not found:
        commands = "; ".join(COMMANDS[name] for name in experiments)
        raise FileNotFoundError(f"no sweep of {', '.join(experiments)} under {root!r}: run it first "
                                f"({commands}) or name a sweep folder or W&B group")
    for name in missing:
        print(f"note: no sweep of {name} under {root}: left out", file=sys.stderr)
    return found


def default_out(sources: Sequence[str], script_dir: str) -> str:
    if len(sources) == 1 and os.path.isdir(sources[0]):
        return os.path.join(sources[0], "report")
    return os.path.join(script_dir, "out")


def parser_for(name: str) -> argparse.ArgumentParser:
    spec = REPORTS[name]
    parser = argparse.ArgumentParser(
        prog=f"experiments/{name}/report.py",
        description=f"Report {spec.what} from finished sweeps, beside the paper's numbers.")
    parser.add_argument("sources", nargs="*", metavar="SWEEP_DIR_OR_WANDB_GROUP",
                        help="sweep folders or W&B groups (default: the newest sweep of "
                             f"{', '.join(spec.experiments)} under {experiments_root()})")
    parser.add_argument("--out", help="output folder (default: <sweep_dir>/report for one local sweep, "
                                      f"experiments/{name}/out otherwise)")
    parser.add_argument("--project", default="chiron", help="W&B project (W&B groups only)")
    parser.add_argument("--entity", default=None, help="W&B entity (default: your default entity)")
    return parser


def main(name: str, script_dir: str, argv: Sequence[str] | None = None) -> list[str]:
    parser = parser_for(name)
    args = parser.parse_args(argv)
    try:
        sources = args.sources or default_sources(REPORTS[name].experiments)
        arms = load_many(sources, project=args.project, entity=args.entity)
        paths = REPORTS[name].render(arms, args.out or default_out(sources, script_dir))
    except (FileNotFoundError, RuntimeError) as e:
        parser.exit(2, f"error: {e}\n")  # a clear line, not a traceback, for a missing sweep or W&B key
    for path in paths:
        print(path)
    return paths
