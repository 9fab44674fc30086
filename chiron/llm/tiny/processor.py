"""`load_processor` and `save_processor`: processors loaded and saved without a video processor.

This workaround is not specific to the tiny model: it is needed whenever any multimodal processor
is loaded (see `videoless_processors`), which is why callers import it from here for hub
checkpoints too. It depends on nothing else in the package.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Iterator

_PATCH_LOCK = threading.RLock()


@contextlib.contextmanager
def videoless_processors() -> Iterator[None]:
    """While active, multimodal processors are built, saved and loaded without a video processor.

    Why: in transformers 5 every video processor needs torchvision, and PyPI's torchvision does not
    work with the torch this project pins. Without it, `AutoVideoProcessor.from_pretrained` raises,
    and even a `None` video processor trips the constructor's type check (which looks the class up in
    a dummy `VIDEO_PROCESSOR_MAPPING`) and `save_pretrained` (which reads `None._auto_class`). chiron
    never sends video, so we hide the `video_processor` slot from `ProcessorMixin.get_attributes`,
    the one list that drives all three. Processors pass the slot positionally to the base
    constructor, whose zip over the attribute names then simply drops it. The patch is process-wide
    while active, hence the lock; it is undone on exit.
    """
    from transformers.processing_utils import ProcessorMixin

    with _PATCH_LOCK:
        original = ProcessorMixin.__dict__["get_attributes"]

        def without_video(cls) -> list[str]:
            return [name for name in original.__func__(cls) if name != "video_processor"]

        ProcessorMixin.get_attributes = classmethod(without_video)
        try:
            yield
        finally:
            ProcessorMixin.get_attributes = original


def _settle_video_slot(processor: Any) -> Any:
    # The base constructor skipped the hidden slot; give it an explicit None so repr() and the
    # `hasattr(self, "video_processor")` checks behave after the patch is gone.
    from transformers.processing_utils import ProcessorMixin

    if isinstance(processor, ProcessorMixin) and "video_processor" not in vars(processor):
        processor.video_processor = None
    return processor


def load_processor(name_or_path: str, **kwargs: Any) -> Any:
    """`AutoProcessor.from_pretrained` with the video-processor workaround (text-only models too)."""
    from transformers import AutoProcessor

    with videoless_processors():
        processor = AutoProcessor.from_pretrained(name_or_path, **kwargs)
    return _settle_video_slot(processor)


def save_processor(processor: Any, directory: str) -> None:
    """`save_pretrained` for a processor whose video slot is empty."""
    with videoless_processors():
        processor.save_pretrained(directory)
