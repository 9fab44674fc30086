"""A tiny random-weight InternVL saved to disk, so offline tests and the demo load a real checkpoint.

The model is transformers' own `InternVLForConditionalGeneration` (vision tower + Qwen2 text model)
at toy sizes, with a byte-level BPE tokenizer trained here from a built-in word list and an
`InternVLProcessor`. It is written with `save_pretrained` and read back by the caller through
`AutoProcessor` / `AutoModelForImageTextToText`, i.e. the same code path a hub checkpoint takes.
The weights are random, so the text it generates is gibberish; only the plumbing is real.

`load_processor` also lives here because the processor workaround it carries (no video
processor) is needed both when the tiny processor is built and whenever any processor is loaded.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
from typing import Any, Iterator

KINDS = ("internvl",)

# Geometry: a 64 px tile cut into 16 px patches is a 4x4 grid; InternVL's pixel shuffle with
# downsample_ratio 0.5 folds it to 2x2, so one tile costs 4 image tokens.
IMAGE_SIZE = 64
PATCH_SIZE = 16
DOWNSAMPLE_RATIO = 0.5
IMAGE_SEQ_LENGTH = int((IMAGE_SIZE // PATCH_SIZE) ** 2 * DOWNSAMPLE_RATIO**2)
MAX_TILES = 4  # keep the real tiling code path (tiles + thumbnail) but cap its cost

PAD_TOKEN = "<|endoftext|>"
IM_START, IM_END = "<|im_start|>", "<|im_end|>"
# Named the way InternVLProcessor looks them up on the tokenizer (tokenizer.start_image_token, ...).
IMAGE_TOKENS = {
    "start_image_token": "<img>",
    "end_image_token": "</img>",
    "context_image_token": "<IMG_CONTEXT>",
    "video_token": "<video>",
}
SPECIAL_TOKENS = [PAD_TOKEN, IM_START, IM_END, *IMAGE_TOKENS.values()]

# ChatML as InternVL renders it: every image becomes one <IMG_CONTEXT> placeholder line before the
# text; the processor later expands it to <img> + image_seq_length*tiles context tokens + </img>.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}{{ '<IMG_CONTEXT>\\n' }}"
    "{% elif part['type'] == 'video' %}{{ '<video>\\n' }}"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}"
    "{{ '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

# Enough text for BPE to learn merges for the words the tests and the demo actually use.
_WORDS = """
the a an of in on at to for with without and or not no yes is are was were be this that these
what which where when why how does do show shows shown seen image images picture scan view
patient patients doctor clinical history findings finding diagnosis differential answer question
options option step steps reasoning think therefore because likely most least best final correct
left right upper lower middle anterior posterior lateral medial bilateral unilateral central
chest lung lungs heart liver kidney brain spine bone bones abdomen pelvis knee shoulder hip neck
x-ray ct mri ultrasound pet radiograph axial coronal sagittal contrast enhanced t1 t2 flair
normal abnormal lesion mass nodule tumor cyst fracture effusion edema opacity consolidation
pneumonia pneumothorax cardiomegaly atelectasis hemorrhage infarct stroke calcification
benign malignant metastasis inflammation infection sign signs size shape margin density
a b c d e 0 1 2 3 4 5 6 7 8 9 10 mm cm year old male female man woman pain fever cough
"""


def ensure_tiny_model(path: str, kind: str = "internvl", seed: int = 0) -> str:
    """Make sure `path` holds a saved tiny model of `kind`; build and save it if not. Returns `path`."""
    if kind not in KINDS:
        raise ValueError(f"unknown tiny model kind {kind!r}; known: {KINDS}")
    path = os.path.abspath(path)
    if is_saved_model(path):
        return path
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    # Build next to the destination (same filesystem) so the final rename is atomic: a racing
    # process sees either nothing or a complete model, never half-written files.
    staging = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.building-", dir=parent)
    try:
        model, processor = build_tiny_internvl(seed)
        model.save_pretrained(staging)
        save_processor(processor, staging)
        _publish(staging, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path


def is_saved_model(path: str) -> bool:
    """True when `path` holds a model config and a processor config (our rename publishes both at once)."""
    return all(os.path.isfile(os.path.join(path, f)) for f in ("config.json", "processor_config.json"))


def _publish(staging: str, path: str) -> None:
    """Rename the finished build into place; losing a race to an identical build is fine."""
    try:
        # os.replace onto a missing or *empty* directory succeeds; a non-empty one raises.
        os.replace(staging, path)
    except OSError:
        if not is_saved_model(path):
            raise


def build_tiny_internvl(seed: int = 0) -> tuple[Any, Any]:
    """Build (model, processor) in memory: deterministic for a given seed, nothing downloaded."""
    import torch
    from transformers import GenerationConfig, InternVLConfig, InternVLForConditionalGeneration

    processor = _build_processor()
    tokenizer = processor.tokenizer
    config = InternVLConfig(
        vision_config=dict(
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            image_size=IMAGE_SIZE,
            patch_size=PATCH_SIZE,
        ),
        text_config=dict(
            model_type="qwen2",
            vocab_size=len(tokenizer),
            hidden_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            intermediate_size=128,
            max_position_embeddings=8192,  # rotary, so a long prompt costs no parameters
            tie_word_embeddings=True,
        ),
        image_token_id=tokenizer.context_image_token_id,
        image_seq_length=IMAGE_SEQ_LENGTH,
        downsample_ratio=DOWNSAMPLE_RATIO,
    )
    # Seed only the weight init, and restore the global RNG after so callers' streams are untouched.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = InternVLForConditionalGeneration(config)
    model.eval()
    # A minimal generation config: stop at <|im_end|>; everything else is set per call by the backend.
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.convert_tokens_to_ids(IM_END),
        pad_token_id=tokenizer.pad_token_id,
    )
    return model, processor


def _build_tokenizer() -> Any:
    """Byte-level BPE trained on the word list; byte fallback means any text still tokenizes."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=512,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # all 256 bytes, so nothing is unknown
        show_progress=False,
    )
    words = _WORDS.split()
    bpe.train_from_iterator([" ".join(words), " ".join(w.capitalize() for w in words)], trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        eos_token=IM_END,
        pad_token=PAD_TOKEN,
        padding_side="left",  # decoder-only batched generation pads on the left
        extra_special_tokens=dict(IMAGE_TOKENS),
        chat_template=CHAT_TEMPLATE,
    )


def _build_processor() -> Any:
    from transformers import GotOcr2ImageProcessorPil, InternVLProcessor

    image_processor = GotOcr2ImageProcessorPil(
        size={"height": IMAGE_SIZE, "width": IMAGE_SIZE},
        crop_to_patches=True,
        min_patches=1,
        max_patches=MAX_TILES,
        # InternVL normalises with the ImageNet statistics.
        image_mean=[0.485, 0.456, 0.406],
        image_std=[0.229, 0.224, 0.225],
    )
    with videoless_processors():
        processor = InternVLProcessor(
            image_processor=image_processor,
            tokenizer=_build_tokenizer(),
            image_seq_length=IMAGE_SEQ_LENGTH,
            chat_template=CHAT_TEMPLATE,
        )
    return _settle_video_slot(processor)


# -- the video-processor workaround --------------------------------------------------------------

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
