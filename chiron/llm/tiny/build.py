"""Building the tiny model: the random-weight InternVL and its processor, and `ensure_tiny_model`,
which keeps one saved on disk under a recipe stamp.

A build happens in a staging folder next to the destination and is renamed into place, so a racing
process sees either nothing or a complete model; a saved model whose stamp differs from the current
recipe (or role, or seed) is retired and built again.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import threading
import time
from typing import Any

# Used as `priming.NAME`: its settings are read when a build runs, so patching them there takes effect.
from chiron.llm.tiny import priming
from chiron.llm.tiny.processor import _settle_video_slot, save_processor, videoless_processors
from chiron.llm.tiny.tokenizer import CHAT_TEMPLATE, IM_END, _build_tokenizer
from chiron.utils.jsonl import apply_umask, read_json_if_complete

# The package's name, as before the split into modules: logging settings and tests pick the
# build's start and end lines by this logger name.
log = logging.getLogger("chiron.llm.tiny")

KINDS = ("internvl",)

# Geometry: a 64 px tile cut into 16 px patches is a 4x4 grid; InternVL's pixel shuffle with
# downsample_ratio 0.5 folds it to 2x2, so one tile costs 4 image tokens.
IMAGE_SIZE = 64
PATCH_SIZE = 16
DOWNSAMPLE_RATIO = 0.5
IMAGE_SEQ_LENGTH = int((IMAGE_SIZE // PATCH_SIZE) ** 2 * DOWNSAMPLE_RATIO**2)
MAX_TILES = 4  # keep the real tiling code path (tiles + thumbnail) but cap its cost


def ensure_tiny_model(path: str, kind: str = "internvl", seed: int = 0, role: str | None = None,
                      progress: bool = True) -> str:
    """Make sure `path` holds a saved tiny model of `kind`; build and save it if not. Returns `path`.

    With `role` ("mentor" | "intern" | "judge") the random model is primed on that role's output
    format before it is saved (see `priming.prime`); None keeps the pure random weights. A model already
    at `path` is reused when its recipe stamp matches; one built by an older recipe (or for another
    role or seed) is replaced, so editing the priming code never serves stale weights.

    A build logs a line when it starts (and why it is needed) and one when it ends (with its wall
    time); `progress` shows a tqdm bar of priming's updates in between.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown tiny model kind {kind!r}; known: {KINDS}")
    if role is not None and role not in priming.ROLES:
        raise ValueError(f"unknown tiny model role {role!r}; known: {priming.ROLES}")
    path = os.path.abspath(path)
    stamp = recipe_stamp(kind, seed, role)
    reason = "no saved model there"
    if is_saved_model(path):
        found = _read_stamp(path)
        if found == stamp:
            return path
        reason = _stamp_change(found, stamp)
        _retire(path)
    # Priming takes seconds on an idle CPU but minutes on a busy one: say what is happening.
    started = time.monotonic()
    label = _label(kind, role)
    log.info("%s: building at %s (%s)%s", label, path, reason,
             f"; priming {priming.PRIME_STEPS[role]} steps on CPU" if role is not None else "")
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    # Build next to the destination (same filesystem) so the final rename is atomic: a racing
    # process sees either nothing or a complete model, never half-written files.
    staging = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.building-", dir=parent)
    try:
        model, processor = build_tiny_internvl(seed)
        if role is not None:
            priming.prime(model, processor, role, seed, progress=progress)
        model.save_pretrained(staging)
        save_processor(processor, staging)
        with open(os.path.join(staging, STAMP_FILE), "w") as f:
            json.dump(stamp, f)
        apply_umask(staging)  # mkdtemp and safetensors make 0700/0600; the model folder is shared
        _publish(staging, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("%s: built and saved in %.1f s", label, time.monotonic() - started)
    return path


def _label(kind: str, role: str | None) -> str:
    return f"tiny {kind} model ({role or 'plain, random weights'})"


def _stamp_change(found: dict | None, wanted: dict) -> str:
    """Why a saved tiny model is rebuilt, in a few words: which stamp fields differ."""
    if not isinstance(found, dict):
        return "the saved one has no readable recipe stamp"
    changed = [f"{key} {found.get(key)!r} -> {value!r}" for key, value in wanted.items() if found.get(key) != value]
    return "recipe changed: " + (", ".join(changed) or "stamp differs")


# Bump whenever building or priming changes what a tiny model generates: saved models and (through
# the hf backend's identity) cached calls of the old recipe are then not reused.
RECIPE = 4
STAMP_FILE = "chiron_tiny.json"


def recipe_stamp(kind: str, seed: int, role: str | None) -> dict:
    return {"recipe": RECIPE, "kind": kind, "seed": int(seed), "role": role}


def _read_stamp(path: str) -> dict | None:
    return read_json_if_complete(os.path.join(path, STAMP_FILE))


def _retire(path: str) -> None:
    """Move a stale model out of the way (atomically), then delete it."""
    aside = f"{path}.stale-{os.getpid()}-{threading.get_ident()}"
    try:
        os.replace(path, aside)
    except OSError:
        return  # another process retired it first
    shutil.rmtree(aside, ignore_errors=True)


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
