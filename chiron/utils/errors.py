"""The one exception a job raises to end with a non-zero exit and a single line for the user."""

from __future__ import annotations


class TaskFailed(RuntimeError):
    """A job produced nothing usable, or hit a failure no retry can fix (a refused key, an unknown
    model, a full disk). Its message is the job's closing line: what went wrong first, in a user's
    words, and what to do. `run.py` prints it without a traceback and exits non-zero; a pipeline
    stage that raises it is never stored as finished."""
