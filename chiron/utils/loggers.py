"""Experiment loggers from `conf/logger/`: W&B that never prompts, CSV, or none; configs scrubbed of secrets.

Over 300 lines: every W&B and Lightning logger concern (quiet start, one console line, secret
scrubbing, metric names) in one place, so no job builds a run its own way.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import netrc
import os
import re
from typing import Any

log = logging.getLogger(__name__)

# Keys whose values must never reach a logger, even if someone put a secret in a config by mistake.
_SECRET_KEY = re.compile(r"(api[_-]?key|token|secret|password|passwd|authorization)$", re.IGNORECASE)
REDACTED = "<redacted>"


# Values that look like keys wherever they sit, e.g. pulled in by `${oc.env:...}` under an innocent
# name: common key formats, and the value of any environment variable named like a secret.
_SECRET_VALUE = re.compile(r"\b(sk-[A-Za-z0-9_-]{8,}|hf_[A-Za-z0-9]{16,}|gh[pousr]_[A-Za-z0-9]{16,}"
                           r"|AKIA[0-9A-Z]{16}|xox[abpr]-[A-Za-z0-9-]{10,})|Bearer\s+\S{8,}")
_SECRET_ENV = re.compile(r"(key|token|secret|password|passwd|credentials?)$", re.IGNORECASE)


def scrub_secrets(obj: Any) -> Any:
    """A copy of a plain (nested dict/list) config with secret-looking values replaced: values under
    secret-looking keys, and any string that looks like a key or holds a secret environment value."""
    env_secrets = [v for k, v in os.environ.items() if _SECRET_ENV.search(k) and len(v) >= 8]
    return _scrub(obj, env_secrets)


def _scrub(obj: Any, env_secrets: list[str]) -> Any:
    if isinstance(obj, dict):
        return {k: (REDACTED if _SECRET_KEY.search(str(k)) and v not in (None, "") else _scrub(v, env_secrets))
                for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_scrub(v, env_secrets) for v in obj]
    if isinstance(obj, str) and (_SECRET_VALUE.search(obj) or any(s in obj for s in env_secrets)):
        return REDACTED
    return obj


# -- What every W&B run of a pipeline arm carries ----------------------------------------------------


def flat_metrics(value: Any, prefix: str = "", depth: int = 6) -> dict[str, float]:
    """Numeric leaves of a nested summary as "<prefix>/a/b/c" keys (a few levels deep: enough for the
    charts). The one flattening of every W&B run type: the eval job's run, a stage run and the arm's
    `pipeline` run all name a quantity alike, e.g. `eval/demo/accuracy`, `eval/demo/mics_score/mean`,
    `eval/demo/protocols/reference/accuracy` (eval/<benchmark>/<path in metrics.json>)."""
    out: dict[str, float] = {}
    if isinstance(value, dict) and depth:
        for k, v in value.items():
            key = re.sub(r"[^A-Za-z0-9_.-]", "_", str(k))
            out.update(flat_metrics(v, f"{prefix}/{key}" if prefix else key, depth - 1))
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        out[prefix] = value
    return out


def run_identity(settings: dict) -> dict:
    """The arm and stage a stage job's W&B runs belong to (`logger.identity`, set by task=pipeline):
    {arm, experiment, arm_overrides, stage, stage_key, upstream}; {} for a job run on its own."""
    return dict(settings.get("identity") or {})


def display_name(settings: dict, standalone: str, part: str | None = None) -> str:
    """A run's W&B name: `<arm>/<stage>[/<part>]` for a pipeline stage's job, so an arm's runs sort
    together (the stage key is in its config), else `standalone`."""
    identity = run_identity(settings)
    if not identity:
        return standalone
    return "/".join([str(identity["arm"]), str(identity["stage"])] + ([part] if part else []))


@contextlib.contextmanager
def staged_in_run_folder(run: Any):
    """Stage the files of artifacts logged meanwhile (a table's images) inside the run's own folder.

    W&B copies them to a staging folder until they are uploaded, by default the user's data folder
    (`~/.local/share/wandb`), outside the run folder that `wandb sync` is pointed at; it reads the
    folder from WANDB_DATA_DIR each time it stages a file.
    """
    import wandb

    if not isinstance(run, wandb.Run) or getattr(run, "disabled", False):
        yield
        return
    previous = os.environ.get("WANDB_DATA_DIR")
    os.environ["WANDB_DATA_DIR"] = os.path.join(os.path.dirname(run.dir), "staging")
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("WANDB_DATA_DIR", None)
        else:
            os.environ["WANDB_DATA_DIR"] = previous


def wandb_key_configured() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators("api.wandb.ai") is not None
    except (OSError, netrc.NetrcParseError):
        return False


def wandb_mode(mode: str | None) -> str:
    """`auto` -> online with a key, offline without; an explicit WANDB_MODE in the environment wins.

    Always a definite mode: with none set, wandb 0.31 asks on a terminal and fails without one.
    """
    if os.environ.get("WANDB_MODE"):
        return os.environ["WANDB_MODE"]
    if mode in (None, "auto"):
        return "online" if wandb_key_configured() else "offline"
    if mode not in ("online", "offline", "disabled"):
        raise ValueError(f"logger.mode must be auto, online, offline or disabled, got {mode!r}")
    return str(mode)  # a WandbMode member from the config prints as its value; hand wandb a plain str


def lightning_logger(settings: dict, name: str, run_id: str, save_dir: str, job_type: str,
                     group: str | None = None) -> Any:
    """A Lightning logger for one job; `run_id` makes a rerun continue the same W&B run."""
    kind = settings.get("kind", "none")
    if kind == "none":
        return False
    if kind == "csv":
        from pytorch_lightning.loggers import CSVLogger

        return CSVLogger(save_dir=save_dir, name="logs", version="")
    if kind != "wandb":
        raise ValueError(f"unknown logger kind {kind!r} (wandb | csv | none)")
    wandb_dir = settings.get("save_dir") or save_dir
    os.makedirs(wandb_dir, exist_ok=True)
    return _quiet_wandb_logger_class()(
        name=name, id=re.sub(r"[^A-Za-z0-9_-]", "-", run_id)[-128:], resume="allow", project=settings.get("project"),
        entity=settings.get("entity"), save_dir=wandb_dir, mode=wandb_mode(settings.get("mode")),
        group=settings.get("group") or group, job_type=job_type, tags=list(settings.get("tags") or []),
        settings=quiet_wandb_settings(), config=scrub_secrets(run_identity(settings)),
    )


# The x axis of every training chart: Lightning logs it with each metric. Each curriculum stage is its
# own fit and run, counting from 0, so the same stage of two arms lines up step for step.
TRAIN_STEP_METRIC = "trainer/global_step"


# -- W&B on the console: silent runs, one line per job ---------------------------------------------
# Unsilenced, W&B prints about a dozen lines per run (banner, offline notice, summary, history
# sparklines, sync hint), and a pipeline starts a dozen runs: they buried the job's own log.


def quiet_wandb_settings() -> Any:
    """Per-run settings for every run chiron starts; `quiet` skips rendering the closing summary.

    What the run would still print goes through W&B's terminal, which `silence_wandb_console`
    routes into the log. `announce_wandb_run` says where the runs go instead.
    """
    import wandb

    return wandb.Settings(quiet=True)


class _WandbConsole:
    """Where W&B's terminal writes once silenced: errors and warnings become one log line each
    (so a failure W&B only prints is not lost), notices and banners debug lines
    (hidden unless debug logging is on, e.g. `hydra.verbose=chiron.utils.loggers`)."""

    @staticmethod
    def _line(msg: str) -> str:
        # W&B prefixes every line with "wandb: " and its level; the log record carries the level.
        parts = (part.removeprefix("wandb:").strip() for part in str(msg).splitlines())
        return " ".join(p.removeprefix("ERROR ").removeprefix("WARNING ") for p in parts if p)

    def error(self, msg: str) -> None:
        log.error("W&B: %s", self._line(msg))

    def warning(self, msg: str) -> None:
        log.warning("W&B: %s", self._line(msg))

    def info(self, msg: str) -> None:
        log.debug("W&B: %s", self._line(msg))


def silence_wandb_console() -> None:
    """Route W&B's process-wide terminal into the log (see `_WandbConsole`).

    Per-run settings do not reach every message (an artifact's "Generating checksum..." is printed
    through the process-wide terminal), and W&B sets that terminal up from the environment when
    it first sets itself up, so `wandb.setup()` is called first: afterwards it leaves the terminal be.
    """
    import wandb

    wandb.setup()
    wandb.termsetup(wandb.Settings(silent=True), _WandbConsole())


def start_wandb_run(**init_kwargs: Any) -> Any:
    """`wandb.init` with W&B silenced; a failure is logged as one line with its cause, then re-raised."""
    import wandb

    try:
        if init_kwargs.get("mode") != "disabled":  # a disabled run prints nothing: start no W&B service for it
            silence_wandb_console()
        run = wandb.init(**init_kwargs, settings=quiet_wandb_settings())
    except Exception as exc:
        _log_init_failure(init_kwargs, exc)
        raise
    announce_wandb_run(run, init_kwargs.get("group"))
    return run


def _log_init_failure(init_kwargs: dict, exc: BaseException) -> None:
    cause = " ".join(str(exc).split()) or type(exc).__name__
    log.error("W&B run %s could not start (mode %s, dir %s): %s", init_kwargs.get("name"), init_kwargs.get("mode"),
              init_kwargs.get("dir"), cause)


# (job, where) pairs already announced: a job that starts many runs prints its line once.
_announced: set[tuple] = set()


def announce_wandb_run(run: Any, group: str | None = None) -> None:
    """Log, once per job, where its W&B runs go: offline, the folder and the upload command; online, the URL."""
    import wandb

    # A disabled run (mode=disabled: wandb's NoopRun passes the isinstance check) has no folder and
    # no URL; Lightning's stand-in on a non-zero rank is no Run at all.
    if not isinstance(run, wandb.Run) or getattr(run, "disabled", False):
        return
    if run.offline:
        # run.dir is <dir>/wandb/offline-run-*/files. The glob names run folders, which every
        # wandb version's `sync` accepts (and the README gives); 0.31 skips runs already synced.
        folder = _display_path(os.path.dirname(os.path.dirname(run.dir)))
        where = ("offline", folder)
        message = f"W&B is offline: runs are saved under {folder}; upload them with: wandb sync {folder}/offline-run-*"
    else:
        where = ("online", run.get_project_url())
        message = (f"W&B is online: this job's runs are in group {group!r} of {run.get_project_url()}; the first "
                   f"is {run.url}" if group else f"W&B is online: {run.url}")
    key = (_job_marker(), where)
    if key not in _announced:
        _announced.add(key)
        log.info("%s", message)


def _job_marker() -> str | None:
    """The current Hydra job's output folder: a sweep on the basic launcher runs many jobs in one process."""
    try:
        from hydra.core.hydra_config import HydraConfig

        return str(HydraConfig.get().runtime.output_dir) if HydraConfig.initialized() else None
    except Exception:  # no Hydra job (tests, scripts): the process is the job
        return None


def _display_path(path: str) -> str:
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


@functools.cache
def _quiet_wandb_logger_class() -> type:
    """Lightning's WandbLogger, announcing its run and logging a failed start like `start_wandb_run`.

    Built on first use so that importing this module does not import Lightning.
    """
    from pytorch_lightning.loggers import WandbLogger
    from pytorch_lightning.utilities.rank_zero import rank_zero_only

    class QuietWandbLogger(WandbLogger):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            # Lightning passes anonymous=None, which W&B 0.31 answers with a deprecation warning.
            if self._wandb_init.get("anonymous") is None:
                self._wandb_init.pop("anonymous", None)

        @property
        def experiment(self) -> Any:
            started = self._experiment is not None
            try:
                # other ranks get Lightning's stand-in and start no W&B service
                if not started and rank_zero_only.rank == 0 and self._wandb_init.get("mode") != "disabled":
                    silence_wandb_console()
                run = super().experiment
            except Exception as exc:
                _log_init_failure(self._wandb_init, exc)
                raise
            if not started:
                announce_wandb_run(run, self._wandb_init.get("group"))
                # Lightning defines "*" against its step already; said here so the charts do not
                # depend on that (and a run's record shows it)
                if hasattr(run, "define_metric"):
                    run.define_metric(TRAIN_STEP_METRIC)
                    run.define_metric("train/*", step_metric=TRAIN_STEP_METRIC, step_sync=True)
            return run

    QuietWandbLogger.__qualname__ = "QuietWandbLogger"  # pickled by name: see the module's __getattr__
    return QuietWandbLogger


def __getattr__(name: str) -> Any:
    # A pickled logger (e.g. sent to a spawned process) names chiron.utils.loggers.QuietWandbLogger.
    if name == "QuietWandbLogger":
        return _quiet_wandb_logger_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
