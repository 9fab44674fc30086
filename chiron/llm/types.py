"""Plain value types shared by every backend.

Messages carry image *paths*; each backend turns them into what its model needs (data URLs,
PIL images). The cache key uses the images' content hashes, so moving a dataset does not
invalidate cached calls and editing an image does.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Protocol


# Where an image goes in a message whose images are placed inside its text (`inline_images`).
IMAGE_TAG = "<image>"


@dataclass(frozen=True, repr=False)
class Message:
    """One chat turn. By default its images are shown before its text. With `inline_images` the
    text carries one `<image>` tag per image and each image is shown at its tag, in order; when
    the text has fewer tags than images, the images without a tag are shown first (as InternVL's
    own `chat` puts `<image>` in front of a question that has none). Tags beyond the images stay
    literal text. `parts()` is the order every backend renders."""

    role: str  # "system" | "user" | "assistant"
    text: str
    images: tuple[str, ...] = ()  # absolute paths, shown before the text (or at its tags, see above)
    inline_images: bool = False

    def __repr__(self) -> str:
        # Today's repr for today's messages: the hf backend seeds sampled groups from it.
        extra = ", inline_images=True" if self.inline_images else ""
        return f"Message(role={self.role!r}, text={self.text!r}, images={self.images!r}{extra})"

    def parts(self) -> list[tuple[str, str]]:
        """("image", path) and ("text", text) in the order the model sees them.

        Not inline: every image, then the text (always one text part). Inline: the text split at
        its tags, one image per tag; the line break right after a tag belongs to the tag (chat
        templates write their own after an image, and content parts need none), and empty text
        pieces are dropped."""
        if not self.inline_images:
            return [("image", path) for path in self.images] + [("text", self.text)]
        pieces = self.text.split(IMAGE_TAG)
        tags = len(pieces) - 1
        placed = min(tags, len(self.images))
        first = len(self.images) - placed  # images without a tag of their own
        out: list[tuple[str, str]] = [("image", path) for path in self.images[:first]]
        text = pieces[0]
        for n, piece in enumerate(pieces[1:]):
            if n >= placed:  # more tags than images: the rest of the tags are plain text
                text += IMAGE_TAG + piece
                continue
            if text:
                out.append(("text", text))
            out.append(("image", self.images[first + n]))
            text = piece.removeprefix("\n")
        if text:
            out.append(("text", text))
        return out


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
    # Of tokens_in, how many the provider read from its own prompt-prefix cache (billed at the
    # spec's price_cached_in_per_mtok); 0 when it reports none. Last, so positional use stays valid.
    tokens_in_cached: int = 0


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
