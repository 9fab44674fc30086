"""The base of every config choice (an Enum in a config schema, e.g. `logger.mode`).

OmegaConf checks an Enum-typed config value at composition and names the allowed members. The
member is what code then reads from the config, so it must behave as the plain string it replaced:
equal to it, hashed like it, printed and formatted as it (`${task}` in a run folder's path, f-strings,
JSON). A plain Enum prints as `Task.search`; Python 3.11's StrEnum would do, but 3.10 is supported.
"""

from __future__ import annotations

from enum import Enum


class Choice(str, Enum):
    """A str Enum whose members print as their value. Name each member as its value: OmegaConf
    looks a config string up by member name."""

    def __str__(self) -> str:
        return str.__str__(self)

    def __format__(self, spec: str) -> str:
        return str.__format__(self, spec)
