"""Load the base vision-language model and its processor, then wrap it with PEFT LoRA.

Hub checkpoints and the tiny model take the same path: `from_pretrained` on a folder or hub id.
The tiny model is first built and saved to its folder (random weights, offline), so tests exercise
the real loading code.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any

from chiron.llm.hf_backend import resolve_dtype
from chiron.llm.tiny import ensure_tiny_model, load_processor

log = logging.getLogger(__name__)


@dataclass
class ModelConfig:
    """Plain arguments from `conf/model/*.yaml` (see there for what each knob is for)."""

    name: str
    name_or_path: str
    family: str = "internvl"          # internvl | qwen_vl: only used in messages and MFU geometry
    tiny: bool = False                # build a random-weight tiny InternVL at name_or_path if missing
    seed: int = 0                     # tiny model's weight seed
    dtype: str = "auto"               # auto: bf16 on a bf16-capable GPU, else float32
    attn_implementation: str | None = "sdpa"
    # Regex (PEFT full-match) naming the language model's projections: LoRA must not reach the
    # vision tower, whose attention layers use the same q_proj/k_proj/v_proj names.
    lora_target: str = r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)"
    vision_modules: list[str] = field(default_factory=list)
    projector_modules: list[str] = field(default_factory=list)
    processor_kwargs: dict = field(default_factory=dict)


@dataclass
class LoraConfig:
    rank: int = 16
    alpha: int = 32
    dropout: float = 0.05
    freeze_vision: bool = True
    freeze_projector: bool = True
    target: str | None = None         # overrides the model's lora_target


def load_base(config: ModelConfig, device: str = "cpu") -> tuple[Any, Any]:
    """(model, processor) from `config.name_or_path`; the tiny model is built there first if needed."""
    from transformers import AutoModelForImageTextToText

    if config.tiny:
        ensure_tiny_model(config.name_or_path, kind="internvl", seed=config.seed)
    import torch

    dtype = resolve_dtype(config.dtype, torch.device(device))
    # A hub checkpoint can take minutes to read; the lines around it explain the wait.
    started = time.monotonic()
    log.info("model %s: loading %s", config.name, config.name_or_path)
    kwargs: dict[str, Any] = {"dtype": dtype}
    if config.attn_implementation:
        kwargs["attn_implementation"] = config.attn_implementation
    try:
        model = AutoModelForImageTextToText.from_pretrained(config.name_or_path, **kwargs)
    except OSError as err:
        raise OSError(
            f"model '{config.name}': cannot load {config.name_or_path!r} ({err}). Give a local folder "
            "with model.name_or_path=..., or run where the hub is reachable (or its cache is filled)."
        ) from err
    processor = load_processor(config.name_or_path)
    if getattr(processor, "tokenizer", None) is None:
        raise ValueError(f"model '{config.name}': {config.name_or_path!r} has no multimodal processor")
    log.info("model %s: loaded in %.1f s", config.name, time.monotonic() - started)
    return model, processor


def add_lora(model: Any, model_config: ModelConfig, lora: LoraConfig, gradient_checkpointing: bool) -> Any:
    """Wrap `model` with a new LoRA adapter; every base weight is frozen except the modules unfrozen by `lora`.

    An unfrozen vision tower or projector is trained in full and saved inside the adapter
    (PEFT's `modules_to_save`), so the adapter folder alone restores the trained model.
    """
    import peft

    target = lora.target or model_config.lora_target
    _require_matches(model, target, "LoRA target")
    modules_to_save = []
    if not lora.freeze_vision:
        modules_to_save += _leaf_names(model, model_config.vision_modules, "vision")
    if not lora.freeze_projector:
        modules_to_save += _leaf_names(model, model_config.projector_modules, "projector")
    _prepare(model, gradient_checkpointing)
    config = peft.LoraConfig(
        r=lora.rank, lora_alpha=lora.alpha, lora_dropout=lora.dropout, target_modules=target,
        modules_to_save=modules_to_save or None, bias="none",
    )
    return peft.get_peft_model(model, config)


def continue_lora(model: Any, adapter_dir: str, gradient_checkpointing: bool) -> Any:
    """Wrap `model` with a saved adapter (a previous stage's) whose weights go on training."""
    import peft

    _prepare(model, gradient_checkpointing)
    return peft.PeftModel.from_pretrained(model, adapter_dir, is_trainable=True)


def _prepare(model: Any, gradient_checkpointing: bool) -> None:
    if gradient_checkpointing:
        # Reentrant checkpointing needs an input that requires grad; with a frozen embedding
        # nothing would, so the non-reentrant variant is used instead. (transformers 5.2x renamed
        # gradient_checkpointing_enable to activation_checkpointing_enable.)
        kwargs = {"use_reentrant": False}
        if hasattr(model, "activation_checkpointing_enable"):
            model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
        model.config.use_cache = False


def _require_matches(model: Any, pattern: str, what: str) -> None:
    regex = re.compile(pattern)
    if not any(regex.fullmatch(name) for name, _ in model.named_modules()):
        raise ValueError(f"{what} {pattern!r} matches no module of {type(model).__name__}")


def _leaf_names(model: Any, prefixes: list[str], what: str) -> list[str]:
    """The module names under which a component lives, checked to exist (PEFT matches by suffix)."""
    names = dict(model.named_modules())
    if not prefixes:
        raise ValueError(f"this model config names no {what} modules, so they cannot be unfrozen")
    missing = [p for p in prefixes if p not in names]
    if missing:
        raise ValueError(f"{what} modules {missing} not found in {type(model).__name__}")
    return list(prefixes)


def trainable_summary(model: Any) -> dict:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return {"trainable_params": trainable, "total_params": total}
