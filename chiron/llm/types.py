"""Plain value types shared by every backend.

Messages carry image *paths*; each backend turns them into what its model needs (data URLs,
PIL images). The cache key uses the images' content hashes, so moving a dataset does not
invalidate cached calls and editing an image does.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Message:
    role: str  # "system" | "user" | "assistant"
    text: str
    images: tuple[str, ...] = ()  # absolute paths, shown before the text


@dataclass(frozen=True)
class Sampling:
    """Sampling is always explicit so a checkpoint's generation_config cannot override it."""

    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0  # 0 = disabled
    max_tokens: int = 1024
    seed: int | None = None

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0.0

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ChatRequest:
    model: str  # the served model name / hub id / path, as the backend knows it
    messages: tuple[Message, ...]
    sampling: Sampling
    # Which independent draw this is. Part of the cache key: a re-search after an all-zero
    # depth asks again with a new index and so gets fresh samples instead of cached ones.
    sample_index: int = 0


@dataclass
class Completion:
    text: str
    tokens_in: int = 0
    tokens_out: int = 0
    retries: int = 0
    cached: bool = False
    # What the backend actually used (after its own defaults), recorded for provenance.
    effective: dict = field(default_factory=dict)


# Why a call failed, as BackendError.kind:
#   transient  retries exhausted on rate limits, server errors, timeouts: worth trying again later
#   setup      refused: a missing or rejected key (401/403), an unknown model (404), a request the
#              server will never accept (400); retrying as is cannot help, fixing the setup can
#   rejected   this one request was refused (400, 413, 422: too long, malformed); others may pass
#   bad_image  an input image cannot be read or is too large; the case or item is set aside
FAILURE_KINDS = ("transient", "setup", "rejected", "bad_image")


class BackendError(RuntimeError):
    """A call failed after every retry; the caller decides whether the case survives it."""

    def __init__(self, message: str, kind: str = "transient") -> None:
        if kind not in FAILURE_KINDS:
            raise ValueError(f"BackendError kind must be one of {FAILURE_KINDS}, got {kind!r}")
        super().__init__(message)
        self.kind = kind

    @property
    def retryable(self) -> bool:
        """Whether asking again, unchanged, may succeed."""
        return self.kind == "transient"


class Backend(Protocol):
    """What every backend provides. `identity` goes into the cache key."""

    identity: str

    async def complete(self, request: ChatRequest) -> Completion: ...

    async def aclose(self) -> None: ...
